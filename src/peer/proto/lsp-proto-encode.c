#define G_LOG_DOMAIN "lsp-proto"

#include "config.h"

#include "lsp-proto.h"

#include "lsp-error.h"
#include "lsp-frame-decoder.h"
#include "lsp-proto-private.h"

static void
add_string (JsonBuilder *builder,
            const char  *name,
            const char  *value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, value);
}

static void
add_int (JsonBuilder *builder,
         const char  *name,
         gint64       value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

static void
add_summaries (JsonBuilder *builder,
               const char  *name,
               GPtrArray   *games)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_array (builder);
  for (guint i = 0; i < games->len; i++)
    _lsp_game_summary_build (builder, g_ptr_array_index (games, i));
  json_builder_end_array (builder);
}

static void
add_strv (JsonBuilder *builder,
          const char  *name,
          char       **values)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_array (builder);
  for (guint i = 0; values != NULL && values[i] != NULL; i++)
    json_builder_add_string_value (builder, values[i]);
  json_builder_end_array (builder);
}

static void
add_have_chunks (JsonBuilder       *builder,
                 const LspHaveBody *have)
{
  if (have->bitmap != NULL)
    {
      gsize size;
      const guint8 *bits = g_bytes_get_data (have->bitmap, &size);
      g_autofree char *text = g_base64_encode (bits, size);

      add_string (builder, "bitmap", text);
      return;
    }
  json_builder_set_member_name (builder, "added");
  json_builder_begin_array (builder);
  for (guint i = 0; i < have->added->len; i++)
    json_builder_add_int_value (builder, g_array_index (have->added, guint32, i));
  json_builder_end_array (builder);
}

JsonNode *
lsp_message_to_json (LspMessage *self)
{
  g_autoptr(JsonBuilder) builder = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (self->type != LSP_MESSAGE_UNKNOWN, NULL);

  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  add_string (builder, "type", lsp_message_type_to_string (self->type));

  switch (self->type)
    {
    case LSP_MESSAGE_HELLO:
    case LSP_MESSAGE_HELLO_ACK:
      add_string (builder, "peer_id", self->hello.peer_id);
      add_int (builder, "proto_ver", self->hello.proto_ver);
      add_int (builder, "min_proto_ver", self->hello.min_proto_ver);
      add_string (builder, "listen_addr", self->hello.listen_addr);
      add_int (builder, "library_rev", (gint64) self->hello.library_rev);
      add_string (builder, "library_digest", self->hello.library_digest);
      add_strv (builder, "features", self->hello.features);
      add_string (builder, "hostname", self->hello.hostname);
      break;
    case LSP_MESSAGE_GET_LIBRARY:
      if (self->get_library.has_since_rev)
        add_int (builder, "since_rev", (gint64) self->get_library.since_rev);
      break;
    case LSP_MESSAGE_LIBRARY_SUMMARY:
      add_string (builder, "peer_id", self->summary.peer_id);
      add_int (builder, "library_rev", (gint64) self->summary.library_rev);
      add_string (builder, "library_digest", self->summary.library_digest);
      add_int (builder, "game_count", self->summary.game_count);
      break;
    case LSP_MESSAGE_LIBRARY_SNAPSHOT:
      add_string (builder, "peer_id", self->snapshot.peer_id);
      add_int (builder, "library_rev", (gint64) self->snapshot.library_rev);
      add_string (builder, "library_digest", self->snapshot.library_digest);
      add_summaries (builder, "games", self->snapshot.games);
      break;
    case LSP_MESSAGE_LIBRARY_DELTA:
      add_string (builder, "peer_id", self->delta.peer_id);
      add_int (builder, "from_rev", (gint64) self->delta.from_rev);
      add_int (builder, "to_rev", (gint64) self->delta.to_rev);
      add_string (builder, "library_digest", self->delta.library_digest);
      add_int (builder, "game_count", self->delta.game_count);
      add_summaries (builder, "added", self->delta.added);
      add_summaries (builder, "updated", self->delta.updated);
      add_strv (builder, "removed", self->delta.removed);
      break;
    case LSP_MESSAGE_GET_MANIFEST:
      add_string (builder, "game_id", self->manifest.game_id);
      add_string (builder, "manifest_hash", self->manifest.manifest_hash);
      break;
    case LSP_MESSAGE_MANIFEST:
      add_string (builder, "game_id", self->manifest.game_id);
      add_string (builder, "manifest_hash", self->manifest.manifest_hash);
      json_builder_set_member_name (builder, "manifest");
      json_builder_add_value (builder, lsp_manifest_to_json (self->manifest.manifest));
      break;
    case LSP_MESSAGE_PING:
    case LSP_MESSAGE_PONG:
      add_int (builder, "nonce", (gint64) self->ping.nonce);
      break;
    case LSP_MESSAGE_GOODBYE:
      add_string (builder, "peer_id", self->goodbye.peer_id);
      if (self->goodbye.reason != NULL)
        add_string (builder, "reason", self->goodbye.reason);
      break;
    case LSP_MESSAGE_ERROR:
      add_string (builder, "code", self->error.code);
      add_string (builder, "message", self->error.message);
      json_builder_set_member_name (builder, "fatal");
      json_builder_add_boolean_value (builder, self->error.fatal);
      break;
    case LSP_MESSAGE_GET_CHUNK:
      add_string (builder, "game_id", self->chunk.game_id);
      add_string (builder, "manifest_hash", self->chunk.manifest_hash);
      add_string (builder, "path", self->chunk.path);
      add_int (builder, "offset", (gint64) self->chunk.offset);
      add_int (builder, "length", self->chunk.length);
      break;
    case LSP_MESSAGE_CHUNK:
      add_int (builder, "offset", (gint64) self->chunk.offset);
      add_int (builder, "length", self->chunk.length);
      break;
    case LSP_MESSAGE_AUTH:
      add_string (builder, "proof", self->auth.proof);
      break;
    case LSP_MESSAGE_HAVE:
      add_string (builder, "game_id", self->have.game_id);
      add_string (builder, "manifest_hash", self->have.manifest_hash);
      add_int (builder, "chunk_count", self->have.chunk_count);
      add_have_chunks (builder, &self->have);
      break;
    case LSP_MESSAGE_UNKNOWN:
    default:
      g_assert_not_reached ();
    }

  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

/* A whole frame: the 4-byte length, then the JSON. The message goes
 * through the same checks as a received one, and must fit in max_frame,
 * so a peer never sends what the other side must reject. */
GBytes *
lsp_message_encode (LspMessage  *self,
                    gsize        max_frame,
                    GError     **error)
{
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonGenerator) generator = NULL;
  g_autoptr(LspMessage) check = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *json = NULL;
  gsize length;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (max_frame <= G_MAXUINT32, NULL);

  node = lsp_message_to_json (self);
  check = lsp_message_new_from_json (node, &local_error);
  if (check == NULL)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT,
                   "Refusing to send an invalid message: %s", local_error->message);
      return NULL;
    }
  generator = json_generator_new ();
  json_generator_set_root (generator, node);
  json = json_generator_to_data (generator, &length);

  if (length > max_frame)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "%s message of %" G_GSIZE_FORMAT " bytes does not fit in a frame of at most %" G_GSIZE_FORMAT " bytes",
                   lsp_message_type_to_string (self->type), length, max_frame);
      return NULL;
    }

  return lsp_frame_encode (json, length);
}
