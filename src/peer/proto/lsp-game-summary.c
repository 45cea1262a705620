#define G_LOG_DOMAIN "lsp-game-summary"

#include "config.h"

#include "lsp-game-summary.h"

#include "lsp-error.h"
#include "lsp-game-root.h"
#include "lsp-proto-private.h"

#include <string.h>

static const char * const availability_names[] = {
  [LSP_AVAILABILITY_READY] = "ready",
  [LSP_AVAILABILITY_DOWNLOADING] = "downloading",
  [LSP_AVAILABILITY_LOCAL_ONLY] = "local_only",
};

G_DEFINE_BOXED_TYPE (LspGameSummary, lsp_game_summary, lsp_game_summary_copy, lsp_game_summary_free)

LspGameSummary *
lsp_game_summary_new (const char *id,
                      const char *name)
{
  LspGameSummary *summary;

  g_return_val_if_fail (lsp_game_id_is_valid (id), NULL);

  summary = g_new0 (LspGameSummary, 1);
  summary->id = g_strdup (id);
  summary->name = g_strdup (name != NULL ? name : id);
  summary->availability = LSP_AVAILABILITY_LOCAL_ONLY;
  return summary;
}

/* A game of ours as peers see it; name and sizes are made safe for the
 * wire. A game under an operation is not ready: its files may change
 * under a reader. */
LspGameSummary *
lsp_game_summary_new_for_game (const char *id,
                               const char *name,
                               guint64     size,
                               gboolean    downloaded,
                               gboolean    installed,
                               const char *version,
                               const char *manifest_hash)
{
  LspGameSummary *summary;

  g_return_val_if_fail (lsp_game_id_is_valid (id), NULL);

  summary = g_new0 (LspGameSummary, 1);
  summary->id = g_strdup (id);
  summary->name = _lsp_proto_sanitize_display_text (name != NULL && name[0] ? name : summary->id,
                                                    LSP_PROTO_MAX_NAME_LEN);
  if (summary->name[0] == '\0' || g_str_equal (g_strstrip (summary->name), ""))
    {
      g_free (summary->name);
      summary->name = g_strdup (summary->id);
    }
  summary->size = MIN (size, (guint64) LSP_PROTO_MAX_INT);
  summary->downloaded = downloaded;
  summary->installed = installed;

  if (summary->downloaded && lsp_version_is_valid (version))
    summary->version = g_strdup (version);
  else
    summary->downloaded = FALSE;
  if (summary->downloaded && lsp_proto_hex_digest_is_valid (manifest_hash))
    summary->manifest_hash = g_strdup (manifest_hash);

  /* Only what the library revision covers goes into a summary, so equal
   * digests really mean equal libraries: an operation in flight does not
   * change it, and chunk requests meanwhile are answered “busy”. */
  if (summary->downloaded && summary->manifest_hash != NULL)
    summary->availability = LSP_AVAILABILITY_READY;
  else
    summary->availability = LSP_AVAILABILITY_LOCAL_ONLY;

  return summary;
}

LspGameSummary *
lsp_game_summary_copy (const LspGameSummary *summary)
{
  LspGameSummary *copy;

  g_return_val_if_fail (summary != NULL, NULL);

  copy = g_new0 (LspGameSummary, 1);
  *copy = *summary;
  copy->id = g_strdup (summary->id);
  copy->name = g_strdup (summary->name);
  copy->version = g_strdup (summary->version);
  copy->manifest_hash = g_strdup (summary->manifest_hash);
  return copy;
}

void
lsp_game_summary_free (LspGameSummary *summary)
{
  if (summary == NULL)
    return;
  g_free (summary->id);
  g_free (summary->name);
  g_free (summary->version);
  g_free (summary->manifest_hash);
  g_free (summary);
}

GPtrArray *
_lsp_game_summaries_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) lsp_game_summary_free);
}

gboolean
lsp_game_summary_equal (const LspGameSummary *a,
                        const LspGameSummary *b)
{
  return g_strcmp0 (a->id, b->id) == 0 &&
         g_strcmp0 (a->name, b->name) == 0 &&
         g_strcmp0 (a->version, b->version) == 0 &&
         a->size == b->size &&
         !a->downloaded == !b->downloaded &&
         !a->installed == !b->installed &&
         g_strcmp0 (a->manifest_hash, b->manifest_hash) == 0 &&
         a->availability == b->availability;
}

const char *
lsp_availability_to_string (LspAvailability availability)
{
  g_return_val_if_fail (availability <= LSP_AVAILABILITY_LOCAL_ONLY, NULL);

  return availability_names[availability];
}

static void
add_string_or_null (JsonBuilder *builder,
                    const char  *name,
                    const char  *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

void
_lsp_game_summary_build (JsonBuilder          *builder,
                         const LspGameSummary *summary)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, summary->id);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, summary->name);
  add_string_or_null (builder, "version", summary->version);
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, (gint64) summary->size);
  json_builder_set_member_name (builder, "downloaded");
  json_builder_add_boolean_value (builder, summary->downloaded);
  json_builder_set_member_name (builder, "installed");
  json_builder_add_boolean_value (builder, summary->installed);
  add_string_or_null (builder, "manifest_hash", summary->manifest_hash);
  json_builder_set_member_name (builder, "availability");
  json_builder_add_string_value (builder, lsp_availability_to_string (summary->availability));
  json_builder_end_object (builder);
}

JsonNode *
lsp_game_summary_to_json (const LspGameSummary *summary)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();

  g_return_val_if_fail (summary != NULL, NULL);

  _lsp_game_summary_build (builder, summary);
  return json_builder_get_root (builder);
}

LspGameSummary *
_lsp_game_summary_read (const char  *message,
                        const char  *prefix,
                        JsonNode    *node,
                        GError     **error)
{
  g_autoptr(LspGameSummary) summary = g_new0 (LspGameSummary, 1);
  LspProtoReader r = { message, prefix, NULL, error };
  JsonNode *avail_node;
  guint i;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autofree char *where = g_strndup (prefix, MAX (strlen (prefix), 1) - 1);

      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, "%s: %s%s must be an object",
                   message, where[0] ? "entry " : "summary", where);
      return NULL;
    }
  r.object = json_node_get_object (node);

  if (!_lsp_proto_read_string (&r, "id", TRUE, lsp_game_id_is_valid, "a valid game id", &summary->id) ||
      !_lsp_proto_read_text (&r, "name", TRUE, _lsp_proto_game_name_is_valid,
                               "1–256 bytes of text without control characters", &summary->name) ||
      !_lsp_proto_read_string (&r, "version", FALSE, lsp_version_is_valid,
                               "1–64 printable ASCII characters", &summary->version) ||
      !_lsp_proto_read_int (&r, "size", TRUE, 0, LSP_PROTO_MAX_INT, NULL, &summary->size) ||
      !_lsp_proto_read_bool (&r, "downloaded", TRUE, &summary->downloaded) ||
      !_lsp_proto_read_bool (&r, "installed", TRUE, &summary->installed) ||
      !_lsp_proto_read_string (&r, "manifest_hash", FALSE, lsp_proto_hex_digest_is_valid,
                               "a SHA-256 in lowercase hex", &summary->manifest_hash))
    return NULL;

  avail_node = _lsp_proto_get_member (&r, "availability");
  if (avail_node == NULL)
    return _lsp_proto_field_error (&r, "availability", "is missing"), NULL;
  if (!_lsp_proto_node_is_type (avail_node, G_TYPE_STRING))
    return _lsp_proto_field_error (&r, "availability", "must be a string"), NULL;
  for (i = 0; i < G_N_ELEMENTS (availability_names); i++)
    {
      if (g_str_equal (json_node_get_string (avail_node), availability_names[i]))
        break;
    }
  if (i == G_N_ELEMENTS (availability_names))
    return _lsp_proto_field_error (&r, "availability", "must be “ready”, “downloading” or “local_only”"), NULL;
  summary->availability = (LspAvailability) i;

  if (summary->downloaded != (summary->version != NULL))
    return _lsp_proto_field_error (&r, "version", "must be set exactly when “downloaded” is true"), NULL;
  if (summary->manifest_hash != NULL && !summary->downloaded)
    return _lsp_proto_field_error (&r, "manifest_hash", "must not be set when “downloaded” is false"), NULL;
  if (summary->availability == LSP_AVAILABILITY_READY && summary->manifest_hash == NULL)
    return _lsp_proto_field_error (&r, "availability", "is “ready” without a downloaded game and manifest_hash"), NULL;
  if (!_lsp_proto_check_unknown (&r, 0))
    return NULL;

  return g_steal_pointer (&summary);
}

LspGameSummary *
lsp_game_summary_new_from_json (JsonNode  *node,
                                GError   **error)
{
  return _lsp_game_summary_read ("GameSummary", "", node, error);
}
