#define G_LOG_DOMAIN "lsp-proto"

#include "config.h"

#include "lsp-proto.h"

#include "lsp-game-root.h"
#include "lsp-proto-private.h"

#include <stdarg.h>

static const char * const message_names[] = {
  [LSP_MESSAGE_UNKNOWN] = NULL,
  [LSP_MESSAGE_HELLO] = "Hello",
  [LSP_MESSAGE_HELLO_ACK] = "HelloAck",
  [LSP_MESSAGE_GET_LIBRARY] = "GetLibrary",
  [LSP_MESSAGE_LIBRARY_SUMMARY] = "LibrarySummary",
  [LSP_MESSAGE_LIBRARY_SNAPSHOT] = "LibrarySnapshot",
  [LSP_MESSAGE_LIBRARY_DELTA] = "LibraryDelta",
  [LSP_MESSAGE_GET_MANIFEST] = "GetManifest",
  [LSP_MESSAGE_MANIFEST] = "Manifest",
  [LSP_MESSAGE_PING] = "Ping",
  [LSP_MESSAGE_PONG] = "Pong",
  [LSP_MESSAGE_GOODBYE] = "Goodbye",
  [LSP_MESSAGE_ERROR] = "Error",
  [LSP_MESSAGE_GET_CHUNK] = "GetChunk",
  [LSP_MESSAGE_CHUNK] = "Chunk",
  [LSP_MESSAGE_AUTH] = "Auth",
  [LSP_MESSAGE_HAVE] = "Have",
};

static void
message_clear (LspMessage *self)
{
  g_free (self->type_name);

  switch (self->type)
    {
    case LSP_MESSAGE_HELLO:
    case LSP_MESSAGE_HELLO_ACK:
      g_free (self->hello.peer_id);
      g_free (self->hello.listen_addr);
      g_free (self->hello.library_digest);
      g_strfreev (self->hello.features);
      g_free (self->hello.hostname);
      break;
    case LSP_MESSAGE_LIBRARY_SUMMARY:
      g_free (self->summary.peer_id);
      g_free (self->summary.library_digest);
      break;
    case LSP_MESSAGE_LIBRARY_SNAPSHOT:
      g_free (self->snapshot.peer_id);
      g_free (self->snapshot.library_digest);
      g_clear_pointer (&self->snapshot.games, g_ptr_array_unref);
      break;
    case LSP_MESSAGE_LIBRARY_DELTA:
      g_free (self->delta.peer_id);
      g_free (self->delta.library_digest);
      g_clear_pointer (&self->delta.added, g_ptr_array_unref);
      g_clear_pointer (&self->delta.updated, g_ptr_array_unref);
      g_strfreev (self->delta.removed);
      break;
    case LSP_MESSAGE_GET_MANIFEST:
    case LSP_MESSAGE_MANIFEST:
      g_free (self->manifest.game_id);
      g_free (self->manifest.manifest_hash);
      g_clear_pointer (&self->manifest.manifest, lsp_manifest_unref);
      break;
    case LSP_MESSAGE_GOODBYE:
      g_free (self->goodbye.peer_id);
      g_free (self->goodbye.reason);
      break;
    case LSP_MESSAGE_ERROR:
      g_free (self->error.code);
      g_free (self->error.message);
      break;
    case LSP_MESSAGE_GET_CHUNK:
    case LSP_MESSAGE_CHUNK:
      g_free (self->chunk.game_id);
      g_free (self->chunk.manifest_hash);
      g_free (self->chunk.path);
      break;
    case LSP_MESSAGE_AUTH:
      g_free (self->auth.proof);
      break;
    case LSP_MESSAGE_HAVE:
      g_free (self->have.game_id);
      g_free (self->have.manifest_hash);
      g_clear_pointer (&self->have.bitmap, g_bytes_unref);
      g_clear_pointer (&self->have.added, g_array_unref);
      break;
    case LSP_MESSAGE_UNKNOWN:
    case LSP_MESSAGE_GET_LIBRARY:
    case LSP_MESSAGE_PING:
    case LSP_MESSAGE_PONG:
    default:
      break;
    }
}

G_DEFINE_BOXED_TYPE (LspMessage, lsp_message, lsp_message_ref, lsp_message_unref)

LspMessage *
_lsp_message_new (LspMessageType type)
{
  LspMessage *self = g_atomic_rc_box_new0 (LspMessage);

  self->type = type;
  self->type_name = g_strdup (message_names[type]);
  return self;
}

LspMessage *
lsp_message_ref (LspMessage *self)
{
  return g_atomic_rc_box_acquire (self);
}

void
lsp_message_unref (LspMessage *self)
{
  g_atomic_rc_box_release_full (self, (GDestroyNotify) message_clear);
}

const char *
lsp_message_type_to_string (LspMessageType type)
{
  g_return_val_if_fail (type <= LSP_MESSAGE_HAVE, NULL);

  return message_names[type];
}

LspMessageType
_lsp_message_type_from_string (const char *name)
{
  for (guint i = 1; i < G_N_ELEMENTS (message_names); i++)
    {
      if (g_str_equal (name, message_names[i]))
        return (LspMessageType) i;
    }
  return LSP_MESSAGE_UNKNOWN;
}

static GPtrArray *
summaries_ref_or_new (GPtrArray *games)
{
  return games != NULL ? g_ptr_array_ref (games) : _lsp_game_summaries_new ();
}

LspMessage *
lsp_message_new_hello (LspMessageType      type,
                       const char         *peer_id,
                       const char         *listen_addr,
                       guint64             library_rev,
                       const char         *library_digest,
                       const char * const *features,
                       const char         *hostname)
{
  LspMessage *self;

  g_return_val_if_fail (type == LSP_MESSAGE_HELLO || type == LSP_MESSAGE_HELLO_ACK, NULL);
  g_return_val_if_fail (lsp_peer_id_is_valid (peer_id), NULL);
  g_return_val_if_fail (lsp_proto_parse_listen_addr (listen_addr, NULL, NULL), NULL);
  g_return_val_if_fail (library_rev <= LSP_PROTO_MAX_INT, NULL);
  g_return_val_if_fail (lsp_proto_hex_digest_is_valid (library_digest), NULL);
  g_return_val_if_fail (lsp_proto_hostname_is_valid (hostname), NULL);

  self = _lsp_message_new (type);
  self->hello.peer_id = g_strdup (peer_id);
  self->hello.proto_ver = LSP_PROTO_VERSION;
  self->hello.min_proto_ver = LSP_PROTO_MIN_VERSION;
  self->hello.listen_addr = g_strdup (listen_addr);
  self->hello.library_rev = library_rev;
  self->hello.library_digest = g_strdup (library_digest);
  self->hello.features = features != NULL ? g_strdupv ((char **) features) : g_new0 (char *, 1);
  self->hello.hostname = g_strdup (hostname);
  return self;
}

LspMessage *
lsp_message_new_get_library (gboolean has_since_rev,
                             guint64  since_rev)
{
  LspMessage *self;

  g_return_val_if_fail (since_rev <= LSP_PROTO_MAX_INT, NULL);

  self = _lsp_message_new (LSP_MESSAGE_GET_LIBRARY);
  self->get_library.has_since_rev = has_since_rev;
  self->get_library.since_rev = has_since_rev ? since_rev : 0;
  return self;
}

LspMessage *
lsp_message_new_library_summary (const char *peer_id,
                                 guint64     library_rev,
                                 const char *library_digest,
                                 guint       game_count)
{
  LspMessage *self;

  g_return_val_if_fail (lsp_peer_id_is_valid (peer_id), NULL);
  g_return_val_if_fail (library_rev <= LSP_PROTO_MAX_INT, NULL);
  g_return_val_if_fail (lsp_proto_hex_digest_is_valid (library_digest), NULL);
  g_return_val_if_fail (game_count <= LSP_PROTO_MAX_GAMES, NULL);

  self = _lsp_message_new (LSP_MESSAGE_LIBRARY_SUMMARY);
  self->summary.peer_id = g_strdup (peer_id);
  self->summary.library_rev = library_rev;
  self->summary.library_digest = g_strdup (library_digest);
  self->summary.game_count = game_count;
  return self;
}

LspMessage *
lsp_message_new_library_snapshot (const char *peer_id,
                                  guint64     library_rev,
                                  const char *library_digest,
                                  GPtrArray  *games)
{
  LspMessage *self;

  g_return_val_if_fail (lsp_peer_id_is_valid (peer_id), NULL);
  g_return_val_if_fail (library_rev <= LSP_PROTO_MAX_INT, NULL);
  g_return_val_if_fail (lsp_proto_hex_digest_is_valid (library_digest), NULL);

  self = _lsp_message_new (LSP_MESSAGE_LIBRARY_SNAPSHOT);
  self->snapshot.peer_id = g_strdup (peer_id);
  self->snapshot.library_rev = library_rev;
  self->snapshot.library_digest = g_strdup (library_digest);
  self->snapshot.games = summaries_ref_or_new (games);
  return self;
}

LspMessage *
lsp_message_new_library_delta (const char         *peer_id,
                               guint64             from_rev,
                               guint64             to_rev,
                               const char         *library_digest,
                               guint               game_count,
                               GPtrArray          *added,
                               GPtrArray          *updated,
                               const char * const *removed)
{
  LspMessage *self;

  g_return_val_if_fail (lsp_peer_id_is_valid (peer_id), NULL);
  g_return_val_if_fail (from_rev <= to_rev && to_rev <= LSP_PROTO_MAX_INT, NULL);
  g_return_val_if_fail (lsp_proto_hex_digest_is_valid (library_digest), NULL);
  g_return_val_if_fail (game_count <= LSP_PROTO_MAX_GAMES, NULL);

  self = _lsp_message_new (LSP_MESSAGE_LIBRARY_DELTA);
  self->delta.peer_id = g_strdup (peer_id);
  self->delta.from_rev = from_rev;
  self->delta.to_rev = to_rev;
  self->delta.library_digest = g_strdup (library_digest);
  self->delta.game_count = game_count;
  self->delta.added = summaries_ref_or_new (added);
  self->delta.updated = summaries_ref_or_new (updated);
  self->delta.removed = removed != NULL ? g_strdupv ((char **) removed) : g_new0 (char *, 1);
  return self;
}

LspMessage *
lsp_message_new_get_manifest (const char *game_id,
                              const char *manifest_hash)
{
  LspMessage *self;

  g_return_val_if_fail (lsp_game_id_is_valid (game_id), NULL);
  g_return_val_if_fail (lsp_proto_hex_digest_is_valid (manifest_hash), NULL);

  self = _lsp_message_new (LSP_MESSAGE_GET_MANIFEST);
  self->manifest.game_id = g_strdup (game_id);
  self->manifest.manifest_hash = g_strdup (manifest_hash);
  return self;
}

LspMessage *
lsp_message_new_manifest (LspManifest *manifest)
{
  LspMessage *self;

  g_return_val_if_fail (manifest != NULL, NULL);

  self = _lsp_message_new (LSP_MESSAGE_MANIFEST);
  self->manifest.game_id = g_strdup (lsp_manifest_get_game_id (manifest));
  self->manifest.manifest_hash = g_strdup (lsp_manifest_get_hash (manifest));
  self->manifest.manifest = lsp_manifest_ref (manifest);
  return self;
}

LspMessage *
lsp_message_new_ping (LspMessageType type,
                      guint64        nonce)
{
  LspMessage *self;

  g_return_val_if_fail (type == LSP_MESSAGE_PING || type == LSP_MESSAGE_PONG, NULL);
  g_return_val_if_fail (nonce <= LSP_PROTO_MAX_INT, NULL);

  self = _lsp_message_new (type);
  self->ping.nonce = nonce;
  return self;
}

LspMessage *
lsp_message_new_goodbye (const char *peer_id,
                         const char *reason)
{
  LspMessage *self;

  g_return_val_if_fail (lsp_peer_id_is_valid (peer_id), NULL);

  self = _lsp_message_new (LSP_MESSAGE_GOODBYE);
  self->goodbye.peer_id = g_strdup (peer_id);
  if (reason != NULL && reason[0] != '\0')
    self->goodbye.reason = _lsp_proto_sanitize_display_text (reason, LSP_PROTO_MAX_REASON_LEN);
  return self;
}

LspMessage *
lsp_message_new_error (const char *code,
                       gboolean    fatal,
                       const char *format,
                       ...)
{
  g_autofree char *text = NULL;
  LspMessage *self;
  va_list args;

  g_return_val_if_fail (_lsp_proto_error_code_is_valid (code), NULL);

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  self = _lsp_message_new (LSP_MESSAGE_ERROR);
  self->error.code = g_strdup (code);
  self->error.message = _lsp_proto_utf8_truncate (text, LSP_PROTO_MAX_MESSAGE_LEN);
  self->error.fatal = fatal;
  return self;
}

LspMessage *
lsp_message_new_get_chunk (const char *game_id,
                           const char *manifest_hash,
                           const char *path,
                           guint64     offset,
                           guint32     length)
{
  LspMessage *self;

  g_return_val_if_fail (lsp_game_id_is_valid (game_id), NULL);
  g_return_val_if_fail (lsp_proto_hex_digest_is_valid (manifest_hash), NULL);
  g_return_val_if_fail (_lsp_proto_payload_path_is_valid (path), NULL);
  g_return_val_if_fail (offset <= LSP_MANIFEST_MAX_FILE_SIZE, NULL);
  g_return_val_if_fail (length >= 1 && length <= LSP_MANIFEST_CHUNK_SIZE, NULL);

  self = _lsp_message_new (LSP_MESSAGE_GET_CHUNK);
  self->chunk.game_id = g_strdup (game_id);
  self->chunk.manifest_hash = g_strdup (manifest_hash);
  self->chunk.path = g_strdup (path);
  self->chunk.offset = offset;
  self->chunk.length = length;
  return self;
}

LspMessage *
lsp_message_new_chunk (guint64 offset,
                       guint32 length)
{
  LspMessage *self;

  g_return_val_if_fail (offset <= LSP_MANIFEST_MAX_FILE_SIZE, NULL);
  g_return_val_if_fail (length >= 1 && length <= LSP_MANIFEST_CHUNK_SIZE, NULL);

  self = _lsp_message_new (LSP_MESSAGE_CHUNK);
  self->chunk.offset = offset;
  self->chunk.length = length;
  return self;
}

LspMessage *
lsp_message_new_auth (const char *proof)
{
  LspMessage *self;

  g_return_val_if_fail (lsp_proto_hex_digest_is_valid (proof), NULL);

  self = _lsp_message_new (LSP_MESSAGE_AUTH);
  self->auth.proof = g_strdup (proof);
  return self;
}

static LspMessage *
have_new (const char *game_id,
          const char *manifest_hash,
          guint       chunk_count)
{
  LspMessage *self = _lsp_message_new (LSP_MESSAGE_HAVE);

  self->have.game_id = g_strdup (game_id);
  self->have.manifest_hash = g_strdup (manifest_hash);
  self->have.chunk_count = chunk_count;
  return self;
}

/* bitmap may be NULL when chunk_count is 0: the sender serves none. */
LspMessage *
lsp_message_new_have_bitmap (const char   *game_id,
                             const char   *manifest_hash,
                             guint         chunk_count,
                             const guint8 *bitmap)
{
  LspMessage *self;

  g_return_val_if_fail (lsp_game_id_is_valid (game_id), NULL);
  g_return_val_if_fail (lsp_proto_hex_digest_is_valid (manifest_hash), NULL);
  g_return_val_if_fail (chunk_count <= LSP_PROTO_MAX_HAVE_CHUNKS, NULL);
  g_return_val_if_fail (bitmap != NULL || chunk_count == 0, NULL);

  self = have_new (game_id, manifest_hash, chunk_count);
  self->have.bitmap = g_bytes_new (bitmap, (chunk_count + 7) / 8);
  return self;
}

LspMessage *
lsp_message_new_have_added (const char    *game_id,
                            const char    *manifest_hash,
                            guint          chunk_count,
                            const guint32 *added,
                            guint          n_added)
{
  LspMessage *self;

  g_return_val_if_fail (lsp_game_id_is_valid (game_id), NULL);
  g_return_val_if_fail (lsp_proto_hex_digest_is_valid (manifest_hash), NULL);
  g_return_val_if_fail (chunk_count >= 1 && chunk_count <= LSP_PROTO_MAX_HAVE_CHUNKS, NULL);
  g_return_val_if_fail (n_added >= 1 && n_added <= LSP_PROTO_MAX_HAVE_ADDED, NULL);

  self = have_new (game_id, manifest_hash, chunk_count);
  self->have.added = g_array_sized_new (FALSE, FALSE, sizeof (guint32), n_added);
  g_array_append_vals (self->have.added, added, n_added);
  return self;
}
