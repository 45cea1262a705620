#define G_LOG_DOMAIN "lsp-proto"

#include "config.h"

#include "lsp-proto.h"

#include "lsp-error.h"
#include "lsp-game-root.h"
#include "lsp-proto-private.h"
#include "lsp-util.h"

#include <string.h>

/* Only the messages that carry a library or a manifest may be large; the
 * others are a few fields, and an unknown type is ignored, so it has no
 * reason to be large either. */
gsize
lsp_proto_max_frame_for_type (LspMessageType type)
{
  switch (type)
    {
    case LSP_MESSAGE_LIBRARY_SNAPSHOT:
    case LSP_MESSAGE_LIBRARY_DELTA:
    case LSP_MESSAGE_MANIFEST:
      return LSP_PROTO_MAX_FRAME;
    case LSP_MESSAGE_HAVE:
      return LSP_PROTO_MAX_HAVE_FRAME;
    case LSP_MESSAGE_UNKNOWN:
    case LSP_MESSAGE_HELLO:
    case LSP_MESSAGE_HELLO_ACK:
    case LSP_MESSAGE_GET_LIBRARY:
    case LSP_MESSAGE_LIBRARY_SUMMARY:
    case LSP_MESSAGE_GET_MANIFEST:
    case LSP_MESSAGE_PING:
    case LSP_MESSAGE_PONG:
    case LSP_MESSAGE_GOODBYE:
    case LSP_MESSAGE_ERROR:
    case LSP_MESSAGE_GET_CHUNK:
    case LSP_MESSAGE_CHUNK:
    case LSP_MESSAGE_AUTH:
    default:
      return LSP_PROTO_MAX_SMALL_FRAME;
    }
}

/* Checks one frame's payload up to "a JSON object with a string type";
 * failures here are bad_frame errors, not bad_message ones, except a frame
 * over its type's limit (G_IO_ERROR_MESSAGE_TOO_LARGE: frame_too_large). */
JsonNode *
lsp_proto_parse_payload (const guint8  *payload,
                         gsize          length,
                         GError       **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  LspProtoScan scan;
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
  if (!_lsp_proto_scan (payload, length, &scan, error))
    return NULL;
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
      !_lsp_proto_read_text (r, "hostname", TRUE, lsp_proto_hostname_is_valid,
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
  /* Parse errors go back to the sender, in English; the manifest's own
   * reason is in the user's language, so only the log has it. */
  if (body->manifest == NULL)
    {
      g_debug ("A received manifest is not valid: %s", local_error->message);
      return _lsp_proto_field_error (r, "manifest", "is not a valid manifest");
    }
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

static gboolean
read_have_bitmap (LspProtoReader *r,
                  LspHaveBody    *have)
{
  g_autofree char *text = NULL;
  g_autofree guint8 *bits = NULL;
  gsize size = 0;
  gsize expected = (have->chunk_count + 7) / 8;

  if (!_lsp_proto_read_string (r, "bitmap", TRUE, _lsp_proto_base64_is_valid, "base64", &text))
    return FALSE;
  bits = text[0] != '\0' ? g_base64_decode (text, &size) : NULL;
  if (size != expected)
    return _lsp_proto_field_error (r, "bitmap", "holds %" G_GSIZE_FORMAT " bytes; %u chunks take %" G_GSIZE_FORMAT,
                                   size, have->chunk_count, expected);
  /* The bits past the last chunk are zero, so two encodings of one set
   * are the same bytes. */
  if (have->chunk_count % 8 != 0 && (bits[expected - 1] >> (have->chunk_count % 8)) != 0)
    return _lsp_proto_field_error (r, "bitmap", "has bits set past chunk %u", have->chunk_count - 1);
  have->bitmap = g_bytes_new_take (g_steal_pointer (&bits), size);
  return TRUE;
}

static gboolean
read_have (LspProtoReader *r,
           LspHaveBody    *have)
{
  JsonArray *added;
  guint64 count;

  if (!_lsp_proto_read_string (r, "game_id", TRUE, lsp_game_id_is_valid, "a valid game id", &have->game_id) ||
      !_lsp_proto_read_string (r, "manifest_hash", TRUE, lsp_proto_hex_digest_is_valid, "a SHA-256 in lowercase hex",
                               &have->manifest_hash) ||
      !_lsp_proto_read_int (r, "chunk_count", TRUE, 0, LSP_PROTO_MAX_HAVE_CHUNKS, NULL, &count))
    return FALSE;
  have->chunk_count = (guint) count;

  if (!json_object_has_member (r->object, "added"))
    return read_have_bitmap (r, have);
  if (json_object_has_member (r->object, "bitmap"))
    return _lsp_proto_field_error (r, "added", "cannot come with “bitmap”");
  added = _lsp_proto_read_array (r, "added", LSP_PROTO_MAX_HAVE_ADDED);
  if (added == NULL)
    return FALSE;
  if (json_array_get_length (added) == 0)
    return _lsp_proto_field_error (r, "added", "is empty");
  have->added = g_array_sized_new (FALSE, FALSE, sizeof (guint32), json_array_get_length (added));
  for (guint i = 0; i < json_array_get_length (added); i++)
    {
      JsonNode *entry = json_array_get_element (added, i);
      gint64 value = _lsp_proto_node_is_type (entry, G_TYPE_INT64) ? json_node_get_int (entry) : -1;
      guint32 index;

      if (value < 0 || value >= (gint64) have->chunk_count)
        return _lsp_proto_field_error (r, "added", "entry %u is not a chunk index below %u", i, have->chunk_count);
      index = (guint32) value;
      g_array_append_val (have->added, index);
    }
  return TRUE;
}

LspMessage *
lsp_message_new_from_json (JsonNode  *node,
                           GError   **error)
{
  g_autoptr(LspMessage) self = NULL;
  LspMessageType type;
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
  type = _lsp_message_type_from_string (type_name);

  self = _lsp_message_new (type);
  if (type == LSP_MESSAGE_UNKNOWN)
    {
      /* Kept for the Error answer and the log; bounded so a hostile name
       * cannot grow them. */
      g_autofree char *cut = _lsp_proto_utf8_truncate (type_name, 64);

      self->type_name = lsp_escape_untrusted (cut, -1);
      return g_steal_pointer (&self);
    }

  r.message = lsp_message_type_to_string (type);
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
           _lsp_proto_read_text (&r, "reason", FALSE, _lsp_proto_reason_is_valid,
                                   "1–256 bytes of text without control characters", &self->goodbye.reason);
      break;
    case LSP_MESSAGE_ERROR:
      ok = _lsp_proto_read_string (&r, "code", TRUE, _lsp_proto_error_code_is_valid, "1–32 characters of a–z or “_”", &self->error.code) &&
           _lsp_proto_read_text (&r, "message", TRUE, _lsp_proto_message_text_is_valid, "at most 1,024 bytes", &self->error.message) &&
           _lsp_proto_read_bool (&r, "fatal", FALSE, &self->error.fatal);
      break;
    case LSP_MESSAGE_GET_CHUNK:
      ok = read_chunk (&r, TRUE, &self->chunk);
      break;
    case LSP_MESSAGE_CHUNK:
      ok = read_chunk (&r, FALSE, &self->chunk);
      break;
    case LSP_MESSAGE_AUTH:
      ok = _lsp_proto_read_string (&r, "proof", TRUE, lsp_proto_hex_digest_is_valid,
                                   "64 lowercase hex characters", &self->auth.proof);
      break;
    case LSP_MESSAGE_HAVE:
      ok = read_have (&r, &self->have);
      break;
    case LSP_MESSAGE_UNKNOWN:
    default:
      g_assert_not_reached ();
    }

  if (!ok || !_lsp_proto_check_unknown (&r, 1))
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
