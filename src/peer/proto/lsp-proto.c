#define G_LOG_DOMAIN "lsp-proto"

#include "config.h"

#include "lsp-proto.h"

#include <stdarg.h>
#include <string.h>

#include "lsp-error.h"
#include "lsp-game-root.h"
#include "lsp-proto-private.h"

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
};

/* ---- messages ---- */

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
    case LSP_MESSAGE_UNKNOWN:
    case LSP_MESSAGE_GET_LIBRARY:
    case LSP_MESSAGE_PING:
    case LSP_MESSAGE_PONG:
    default:
      break;
    }
}

G_DEFINE_BOXED_TYPE (LspMessage, lsp_message, lsp_message_ref, lsp_message_unref)

static LspMessage *
message_new (LspMessageType type)
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
  g_return_val_if_fail (type <= LSP_MESSAGE_CHUNK, NULL);

  return message_names[type];
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

  self = message_new (type);
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

  self = message_new (LSP_MESSAGE_GET_LIBRARY);
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

  self = message_new (LSP_MESSAGE_LIBRARY_SUMMARY);
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

  self = message_new (LSP_MESSAGE_LIBRARY_SNAPSHOT);
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

  self = message_new (LSP_MESSAGE_LIBRARY_DELTA);
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

  self = message_new (LSP_MESSAGE_GET_MANIFEST);
  self->manifest.game_id = g_strdup (game_id);
  self->manifest.manifest_hash = g_strdup (manifest_hash);
  return self;
}

LspMessage *
lsp_message_new_manifest (LspManifest *manifest)
{
  LspMessage *self;

  g_return_val_if_fail (manifest != NULL, NULL);

  self = message_new (LSP_MESSAGE_MANIFEST);
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

  self = message_new (type);
  self->ping.nonce = nonce;
  return self;
}

LspMessage *
lsp_message_new_goodbye (const char *peer_id,
                         const char *reason)
{
  LspMessage *self;

  g_return_val_if_fail (lsp_peer_id_is_valid (peer_id), NULL);

  self = message_new (LSP_MESSAGE_GOODBYE);
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

  self = message_new (LSP_MESSAGE_ERROR);
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

  self = message_new (LSP_MESSAGE_GET_CHUNK);
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

  self = message_new (LSP_MESSAGE_CHUNK);
  self->chunk.offset = offset;
  self->chunk.length = length;
  return self;
}

/* ---- parsing ---- */

typedef enum {
  SHAPE_OK,
  SHAPE_TOO_DEEP,
  SHAPE_TRAILING,
  SHAPE_ESCAPED_NUL,
} Shape;

/* json-glib's parser recurses once per nesting level, so a frame of
 * brackets would exhaust the stack: depth is checked before parsing. It
 * also accepts text after the top-level value, which PROTOCOL.md forbids,
 * and turns "\u0000" into a NUL that would silently cut a C string short
 * after validation saw only its first part. */
static Shape
check_shape (const guint8 *payload,
             gsize         length,
             guint         max_depth)
{
  gboolean in_string = FALSE, escaped = FALSE, opened = FALSE;
  guint depth = 0;

  for (gsize i = 0; i < length; i++)
    {
      guint8 c = payload[i];

      if (in_string)
        {
          if (escaped)
            {
              escaped = FALSE;
              if (c == 'u' && length - i > 4 && memcmp (payload + i + 1, "0000", 4) == 0)
                return SHAPE_ESCAPED_NUL;
            }
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (opened && depth == 0)
        {
          if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return SHAPE_TRAILING;
          continue;
        }
      if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        {
          opened = TRUE;
          if (++depth > max_depth)
            return SHAPE_TOO_DEEP;
        }
      else if ((c == '}' || c == ']') && depth > 0)
        depth--;
    }
  return SHAPE_OK;
}

/* Checks one frame's payload up to "a JSON object with a string type";
 * failures here are bad_frame errors, not bad_message ones. */
JsonNode *
lsp_proto_parse_payload (const guint8  *payload,
                         gsize          length,
                         GError       **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *root, *type;

  g_return_val_if_fail (payload != NULL || length == 0, NULL);

  if (length < LSP_PROTO_MIN_FRAME)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                   "Frame of %" G_GSIZE_FORMAT " bytes is too short to hold a JSON object", length);
      return NULL;
    }
  if (memchr (payload, '\0', length) != NULL)
    {
      g_set_error_literal (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, "Frame contains a NUL byte");
      return NULL;
    }
  if (!g_utf8_validate ((const char *) payload, (gssize) length, NULL))
    {
      g_set_error_literal (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, "Frame is not valid UTF-8");
      return NULL;
    }
  switch (check_shape (payload, length, LSP_PROTO_MAX_DEPTH))
    {
    case SHAPE_TOO_DEEP:
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                   "Frame nests JSON deeper than %d levels", LSP_PROTO_MAX_DEPTH);
      return NULL;
    case SHAPE_TRAILING:
      g_set_error_literal (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                           "Frame is not valid JSON: text follows the top-level value");
      return NULL;
    case SHAPE_ESCAPED_NUL:
      g_set_error_literal (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                           "Frame contains an escaped NUL character (\\u0000)");
      return NULL;
    case SHAPE_OK:
    default:
      break;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, (const char *) payload, (gssize) length, &local_error))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                   "Frame is not valid JSON: %s", local_error->message);
      return NULL;
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, "Frame is not a JSON object");
      return NULL;
    }
  type = json_object_get_member (json_node_get_object (root), "type");
  if (type == NULL || !_lsp_proto_node_is_type (type, G_TYPE_STRING))
    {
      g_set_error_literal (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                           "Frame has no string member “type”");
      return NULL;
    }

  return json_node_ref (root);
}

static gboolean
read_rev (LspProtoReader *r,
          const char     *field,
          guint64        *out)
{
  return _lsp_proto_read_int (r, field, TRUE, 0, LSP_PROTO_MAX_INT, NULL, out);
}

static gboolean
read_proto_ver (LspProtoReader *r,
                const char     *field,
                gboolean        required,
                gboolean       *present,
                guint          *out)
{
  guint64 value = 0;

  if (!_lsp_proto_read_int (r, field, required, 1, LSP_PROTO_MAX_VERSION_VALUE, present, &value))
    return FALSE;
  *out = (guint) value;
  return TRUE;
}

static gboolean
read_features (LspProtoReader   *r,
               char           ***out)
{
  JsonArray *array = _lsp_proto_read_array (r, "features", LSP_PROTO_MAX_FEATURES);
  g_autoptr(GStrvBuilder) builder = NULL;

  if (array == NULL)
    return FALSE;
  builder = g_strv_builder_new ();
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      g_autofree char *field = g_strdup_printf ("features[%u]", i);

      if (!_lsp_proto_node_is_type (node, G_TYPE_STRING))
        return _lsp_proto_field_error (r, field, "must be a string");
      if (!_lsp_proto_feature_is_valid (json_node_get_string (node)))
        return _lsp_proto_field_error (r, field, "is not 1–32 characters of a–z, 0–9, “_” or “-”");
      g_strv_builder_add (builder, json_node_get_string (node));
    }
  *out = g_strv_builder_end (builder);
  return TRUE;
}

static gboolean
read_hello (LspProtoReader *r,
            LspHelloBody   *hello)
{
  gboolean has_min;

  if (!_lsp_proto_read_string (r, "peer_id", TRUE, lsp_peer_id_is_valid, "a peer id (64 lowercase hex characters)", &hello->peer_id) ||
      !read_proto_ver (r, "proto_ver", TRUE, NULL, &hello->proto_ver) ||
      !read_proto_ver (r, "min_proto_ver", FALSE, &has_min, &hello->min_proto_ver) ||
      !_lsp_proto_read_string (r, "listen_addr", TRUE, _lsp_proto_listen_addr_is_valid,
                               "an IP address and port such as 192.0.2.7:41000 or [::1]:41000", &hello->listen_addr) ||
      !read_rev (r, "library_rev", &hello->library_rev) ||
      !_lsp_proto_read_string (r, "library_digest", TRUE, lsp_proto_hex_digest_is_valid, "a SHA-256 in lowercase hex",
                               &hello->library_digest) ||
      !read_features (r, &hello->features) ||
      !_lsp_proto_read_string (r, "hostname", TRUE, lsp_proto_hostname_is_valid,
                               "1–63 bytes of text without control characters", &hello->hostname))
    return FALSE;

  if (!has_min)
    hello->min_proto_ver = hello->proto_ver;
  if (hello->min_proto_ver > hello->proto_ver)
    return _lsp_proto_field_error (r, "min_proto_ver", "is above “proto_ver”");
  return TRUE;
}

static GPtrArray *
read_summaries (LspProtoReader *r,
                const char     *field,
                guint           max_len,
                GHashTable     *seen)
{
  g_autoptr(GPtrArray) games = NULL;
  JsonArray *array = _lsp_proto_read_array (r, field, max_len);

  if (array == NULL)
    return NULL;
  games = _lsp_game_summaries_new ();
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      g_autofree char *prefix = g_strdup_printf ("%s[%u].", field, i);
      LspGameSummary *summary = _lsp_game_summary_read (r->message, prefix, json_array_get_element (array, i), r->error);

      if (summary == NULL)
        return NULL;
      g_ptr_array_add (games, summary);
      if (!g_hash_table_add (seen, summary->id))
        {
          g_autofree char *id_field = g_strdup_printf ("%s[%u].id", field, i);
          _lsp_proto_field_error (r, id_field, "“%s” appears more than once", summary->id);
          return NULL;
        }
    }
  return g_steal_pointer (&games);
}

static gboolean
read_snapshot (LspProtoReader         *r,
               LspLibrarySnapshotBody *snapshot)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  return _lsp_proto_read_string (r, "peer_id", TRUE, lsp_peer_id_is_valid, "a peer id (64 lowercase hex characters)", &snapshot->peer_id) &&
         read_rev (r, "library_rev", &snapshot->library_rev) &&
         _lsp_proto_read_string (r, "library_digest", TRUE, lsp_proto_hex_digest_is_valid, "a SHA-256 in lowercase hex",
                                 &snapshot->library_digest) &&
         (snapshot->games = read_summaries (r, "games", LSP_PROTO_MAX_GAMES, seen)) != NULL;
}

static gboolean
read_delta (LspProtoReader      *r,
            LspLibraryDeltaBody *delta)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GStrvBuilder) removed = g_strv_builder_new ();
  guint64 game_count;
  JsonArray *array;
  guint total;

  if (!_lsp_proto_read_string (r, "peer_id", TRUE, lsp_peer_id_is_valid, "a peer id (64 lowercase hex characters)", &delta->peer_id) ||
      !read_rev (r, "from_rev", &delta->from_rev) ||
      !read_rev (r, "to_rev", &delta->to_rev) ||
      !_lsp_proto_read_string (r, "library_digest", TRUE, lsp_proto_hex_digest_is_valid, "a SHA-256 in lowercase hex",
                               &delta->library_digest) ||
      !_lsp_proto_read_int (r, "game_count", TRUE, 0, LSP_PROTO_MAX_GAMES, NULL, &game_count))
    return FALSE;
  delta->game_count = (guint) game_count;
  if (delta->to_rev < delta->from_rev)
    return _lsp_proto_field_error (r, "to_rev", "must not be below “from_rev”");

  if ((delta->added = read_summaries (r, "added", LSP_PROTO_MAX_GAMES, seen)) == NULL ||
      (delta->updated = read_summaries (r, "updated", LSP_PROTO_MAX_GAMES - delta->added->len, seen)) == NULL ||
      (array = _lsp_proto_read_array (r, "removed", LSP_PROTO_MAX_GAMES - delta->added->len - delta->updated->len)) == NULL)
    return FALSE;

  total = json_array_get_length (array);
  for (guint i = 0; i < total; i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      g_autofree char *field = g_strdup_printf ("removed[%u]", i);
      const char *id;

      if (!_lsp_proto_node_is_type (node, G_TYPE_STRING))
        return _lsp_proto_field_error (r, field, "must be a string");
      id = json_node_get_string (node);
      if (!lsp_game_id_is_valid (id))
        return _lsp_proto_field_error (r, field, "is not a valid game id");
      if (!g_hash_table_add (seen, (gpointer) id))
        return _lsp_proto_field_error (r, field, "“%s” appears more than once", id);
      g_strv_builder_add (removed, id);
    }
  delta->removed = g_strv_builder_end (removed);
  return TRUE;
}

static gboolean
read_manifest (LspProtoReader  *r,
               gboolean         with_body,
               LspManifestBody *body)
{
  g_autoptr(GError) local_error = NULL;
  JsonNode *node;

  if (!_lsp_proto_read_string (r, "game_id", TRUE, lsp_game_id_is_valid, "a valid game id", &body->game_id) ||
      !_lsp_proto_read_string (r, "manifest_hash", TRUE, lsp_proto_hex_digest_is_valid, "a SHA-256 in lowercase hex",
                               &body->manifest_hash))
    return FALSE;
  if (!with_body)
    return TRUE;

  node = _lsp_proto_get_member (r, "manifest");
  if (node == NULL)
    return _lsp_proto_field_error (r, "manifest", "is missing");
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return _lsp_proto_field_error (r, "manifest", "must be an object");
  body->manifest = lsp_manifest_new_from_json (node, &local_error);
  if (body->manifest == NULL)
    return _lsp_proto_field_error (r, "manifest", "is not valid: %s", local_error->message);
  if (!g_str_equal (lsp_manifest_get_hash (body->manifest), body->manifest_hash))
    return _lsp_proto_field_error (r, "manifest", "hashes to %s, not to manifest_hash %s",
                                   lsp_manifest_get_hash (body->manifest), body->manifest_hash);
  if (!g_str_equal (lsp_manifest_get_game_id (body->manifest), body->game_id))
    return _lsp_proto_field_error (r, "manifest", "is for game “%s”, not “%s”",
                                   lsp_manifest_get_game_id (body->manifest), body->game_id);
  return TRUE;
}

static gboolean
read_chunk (LspProtoReader *r,
            gboolean        request,
            LspChunkBody   *chunk)
{
  guint64 length;

  if (request &&
      (!_lsp_proto_read_string (r, "game_id", TRUE, lsp_game_id_is_valid, "a valid game id", &chunk->game_id) ||
       !_lsp_proto_read_string (r, "manifest_hash", TRUE, lsp_proto_hex_digest_is_valid, "a SHA-256 in lowercase hex",
                                &chunk->manifest_hash) ||
       !_lsp_proto_read_string (r, "path", TRUE, _lsp_proto_payload_path_is_valid,
                                "a safe relative path outside the reserved names", &chunk->path)))
    return FALSE;

  if (!_lsp_proto_read_int (r, "offset", TRUE, 0, (gint64) LSP_MANIFEST_MAX_FILE_SIZE, NULL, &chunk->offset) ||
      !_lsp_proto_read_int (r, "length", TRUE, 1, LSP_MANIFEST_CHUNK_SIZE, NULL, &length))
    return FALSE;
  chunk->length = (guint32) length;
  return TRUE;
}

LspMessage *
lsp_message_new_from_json (JsonNode  *node,
                           GError   **error)
{
  g_autoptr(LspMessage) self = NULL;
  LspMessageType type = LSP_MESSAGE_UNKNOWN;
  JsonObject *object;
  JsonNode *type_node;
  const char *type_name;
  LspProtoReader r = { NULL, "", NULL, error };
  gboolean ok = FALSE;
  guint64 value = 0;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, "Message is not a JSON object");
      return NULL;
    }
  object = json_node_get_object (node);
  type_node = json_object_get_member (object, "type");
  if (type_node == NULL || !_lsp_proto_node_is_type (type_node, G_TYPE_STRING))
    {
      g_set_error_literal (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, "Message has no string member “type”");
      return NULL;
    }
  type_name = json_node_get_string (type_node);

  for (guint i = 1; i < G_N_ELEMENTS (message_names); i++)
    {
      if (g_str_equal (type_name, message_names[i]))
        type = (LspMessageType) i;
    }

  self = message_new (type);
  if (type == LSP_MESSAGE_UNKNOWN)
    {
      /* Kept for the Error answer and the log; bounded so a hostile name
       * cannot grow them. */
      self->type_name = _lsp_proto_utf8_truncate (type_name, 64);
      return g_steal_pointer (&self);
    }

  r.message = message_names[type];
  r.object = object;

  switch (type)
    {
    case LSP_MESSAGE_HELLO:
    case LSP_MESSAGE_HELLO_ACK:
      ok = read_hello (&r, &self->hello);
      break;
    case LSP_MESSAGE_GET_LIBRARY:
      ok = _lsp_proto_read_int (&r, "since_rev", FALSE, 0, LSP_PROTO_MAX_INT,
                                &self->get_library.has_since_rev, &self->get_library.since_rev);
      break;
    case LSP_MESSAGE_LIBRARY_SUMMARY:
      ok = _lsp_proto_read_string (&r, "peer_id", TRUE, lsp_peer_id_is_valid, "a peer id (64 lowercase hex characters)",
                                   &self->summary.peer_id) &&
           read_rev (&r, "library_rev", &self->summary.library_rev) &&
           _lsp_proto_read_string (&r, "library_digest", TRUE, lsp_proto_hex_digest_is_valid, "a SHA-256 in lowercase hex",
                                   &self->summary.library_digest) &&
           _lsp_proto_read_int (&r, "game_count", TRUE, 0, LSP_PROTO_MAX_GAMES, NULL, &value);
      self->summary.game_count = (guint) value;
      break;
    case LSP_MESSAGE_LIBRARY_SNAPSHOT:
      ok = read_snapshot (&r, &self->snapshot);
      break;
    case LSP_MESSAGE_LIBRARY_DELTA:
      ok = read_delta (&r, &self->delta);
      break;
    case LSP_MESSAGE_GET_MANIFEST:
      ok = read_manifest (&r, FALSE, &self->manifest);
      break;
    case LSP_MESSAGE_MANIFEST:
      ok = read_manifest (&r, TRUE, &self->manifest);
      break;
    case LSP_MESSAGE_PING:
    case LSP_MESSAGE_PONG:
      ok = _lsp_proto_read_int (&r, "nonce", TRUE, 0, LSP_PROTO_MAX_INT, NULL, &self->ping.nonce);
      break;
    case LSP_MESSAGE_GOODBYE:
      ok = _lsp_proto_read_string (&r, "peer_id", TRUE, lsp_peer_id_is_valid, "a peer id (64 lowercase hex characters)",
                                   &self->goodbye.peer_id) &&
           _lsp_proto_read_string (&r, "reason", FALSE, _lsp_proto_reason_is_valid,
                                   "1–256 bytes of text without control characters", &self->goodbye.reason);
      break;
    case LSP_MESSAGE_ERROR:
      ok = _lsp_proto_read_string (&r, "code", TRUE, _lsp_proto_error_code_is_valid, "1–32 characters of a–z or “_”", &self->error.code) &&
           _lsp_proto_read_string (&r, "message", TRUE, _lsp_proto_message_text_is_valid, "at most 1,024 bytes", &self->error.message) &&
           _lsp_proto_read_bool (&r, "fatal", FALSE, &self->error.fatal);
      break;
    case LSP_MESSAGE_GET_CHUNK:
      ok = read_chunk (&r, TRUE, &self->chunk);
      break;
    case LSP_MESSAGE_CHUNK:
      ok = read_chunk (&r, FALSE, &self->chunk);
      break;
    case LSP_MESSAGE_UNKNOWN:
    default:
      g_assert_not_reached ();
    }

  if (!ok)
    return NULL;
  return g_steal_pointer (&self);
}

/* One frame's payload to a message: lsp_proto_parse_payload, then
 * lsp_message_new_from_json. An unknown type is not an error: it comes back
 * as LSP_MESSAGE_UNKNOWN for the caller to answer. */
LspMessage *
lsp_message_parse (const guint8  *payload,
                   gsize          length,
                   GError       **error)
{
  g_autoptr(JsonNode) node = lsp_proto_parse_payload (payload, length, error);

  if (node == NULL)
    return NULL;
  return lsp_message_new_from_json (node, error);
}
