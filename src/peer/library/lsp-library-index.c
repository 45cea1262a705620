#define G_LOG_DOMAIN "lsp-library-index"

#include "config.h"

#include "lsp-library-index.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "lsp-error.h"
#include "lsp-fs.h"
#include "lsp-game-root.h"
#include "lsp-sha256.h"

/* Games are rows rather than objects: a 2,000-game index parses in about
 * half the time, and a warm start waits for it. */
static const char * const columns[] = {
  "id", "fingerprint", "downloaded", "installed", "size", "version", "manifest_hash", "error",
  "install_stamp", "installed_version",
};
enum { COL_ID, COL_FINGERPRINT, COL_DOWNLOADED, COL_INSTALLED, COL_SIZE, COL_VERSION, COL_MANIFEST_HASH, COL_ERROR,
       COL_INSTALL_STAMP, COL_INSTALLED_VERSION };

static gboolean
member_is (JsonObject *object,
           const char *member,
           GType       type)
{
  JsonNode *node = json_object_get_member (object, member);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

static gboolean
cell_is (JsonArray *row,
         guint      column,
         GType      type)
{
  JsonNode *node = json_array_get_element (row, column);

  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

static gboolean
optional_string_cell (JsonArray   *row,
                      guint        column,
                      const char **out)
{
  JsonNode *node = json_array_get_element (row, column);

  *out = NULL;
  if (JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!cell_is (row, column, G_TYPE_STRING))
    return FALSE;
  *out = json_node_get_string (node);
  return TRUE;
}

static gboolean
columns_match (JsonObject *object)
{
  JsonNode *node = json_object_get_member (object, "columns");
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return FALSE;
  array = json_node_get_array (node);
  if (json_array_get_length (array) != G_N_ELEMENTS (columns))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (columns); i++)
    {
      if (!cell_is (array, i, G_TYPE_STRING) ||
          g_strcmp0 (json_array_get_string_element (array, i), columns[i]) != 0)
        return FALSE;
    }
  return TRUE;
}

static LspGameRecord *
record_from_json (JsonNode *node)
{
  g_autoptr(LspGameRecord) record = NULL;
  guint8 digest[LSP_SHA256_LEN];
  const char *version, *manifest_hash, *error_text, *install_stamp, *installed_version;
  JsonArray *row;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  row = json_node_get_array (node);
  if (json_array_get_length (row) != G_N_ELEMENTS (columns))
    return NULL;

  if (!cell_is (row, COL_ID, G_TYPE_STRING) ||
      !lsp_game_id_is_valid (json_array_get_string_element (row, COL_ID)) ||
      !cell_is (row, COL_FINGERPRINT, G_TYPE_STRING) ||
      !lsp_sha256_from_hex (json_array_get_string_element (row, COL_FINGERPRINT), digest) ||
      !cell_is (row, COL_DOWNLOADED, G_TYPE_BOOLEAN) ||
      !cell_is (row, COL_INSTALLED, G_TYPE_BOOLEAN) ||
      !cell_is (row, COL_SIZE, G_TYPE_INT64) ||
      json_array_get_int_element (row, COL_SIZE) < 0 ||
      !optional_string_cell (row, COL_VERSION, &version) ||
      !optional_string_cell (row, COL_MANIFEST_HASH, &manifest_hash) ||
      !optional_string_cell (row, COL_ERROR, &error_text) ||
      !optional_string_cell (row, COL_INSTALL_STAMP, &install_stamp) ||
      !optional_string_cell (row, COL_INSTALLED_VERSION, &installed_version))
    return NULL;
  if (installed_version != NULL && !lsp_version_is_valid (installed_version))
    return NULL;

  if (version != NULL && !lsp_version_is_valid (version))
    return NULL;
  if (manifest_hash != NULL && !lsp_sha256_from_hex (manifest_hash, digest))
    return NULL;

  record = lsp_game_record_new (json_array_get_string_element (row, COL_ID));
  record->fingerprint = g_strdup (json_array_get_string_element (row, COL_FINGERPRINT));
  record->downloaded = json_array_get_boolean_element (row, COL_DOWNLOADED);
  record->installed = json_array_get_boolean_element (row, COL_INSTALLED);
  record->size = (guint64) json_array_get_int_element (row, COL_SIZE);
  record->version = g_strdup (version);
  record->manifest_hash = g_strdup (manifest_hash);
  record->error = g_strdup (error_text);
  record->install_stamp = g_strdup (install_stamp);
  record->installed_version = g_strdup (installed_version);

  /* A downloaded game always has both; anything else is not our writing. */
  if (record->downloaded != (record->version != NULL && record->manifest_hash != NULL))
    return NULL;

  return g_steal_pointer (&record);
}

GHashTable *
lsp_library_index_load (const char  *path,
                        guint64     *out_library_rev,
                        GError     **error)
{
  g_autoptr(GHashTable) records = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *contents = NULL;
  JsonObject *object;
  JsonArray *games;
  JsonNode *root;
  gsize length;
  gint64 rev;

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  if (length > LSP_LIBRARY_INDEX_MAX_BYTES)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, _("%s is too large to be an index"), path);
      return NULL;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, contents, (gssize) length, &local_error))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, _("%s is not valid JSON: %s"),
                   path, local_error->message);
      return NULL;
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, _("%s is not an index object"), path);
      return NULL;
    }
  object = json_node_get_object (root);

  if (!member_is (object, "format", G_TYPE_INT64) ||
      json_object_get_int_member (object, "format") != LSP_LIBRARY_INDEX_FORMAT)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                   _("%s has an unknown format (expected %d)"), path, LSP_LIBRARY_INDEX_FORMAT);
      return NULL;
    }

  if (!member_is (object, "library_rev", G_TYPE_INT64) ||
      (rev = json_object_get_int_member (object, "library_rev")) < 0)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, _("%s: library_rev is missing or negative"), path);
      return NULL;
    }

  if (!columns_match (object))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, _("%s: unexpected columns"), path);
      return NULL;
    }

  if (!json_object_has_member (object, "games") ||
      !JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "games")))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, _("%s: games is not an array"), path);
      return NULL;
    }
  games = json_object_get_array_member (object, "games");

  records = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) lsp_game_record_unref);
  for (guint i = 0; i < json_array_get_length (games); i++)
    {
      LspGameRecord *record = record_from_json (json_array_get_element (games, i));

      if (record == NULL || g_hash_table_contains (records, record->id))
        {
          g_clear_pointer (&record, lsp_game_record_unref);
          g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, _("%s: games[%u] is malformed"), path, i);
          return NULL;
        }
      g_hash_table_insert (records, record->id, record);
    }

  *out_library_rev = (guint64) rev;
  return g_steal_pointer (&records);
}

static int
compare_records_by_id (gconstpointer a,
                       gconstpointer b)
{
  const LspGameRecord *ra = *(const LspGameRecord * const *) a;
  const LspGameRecord *rb = *(const LspGameRecord * const *) b;

  return strcmp (ra->id, rb->id);
}

static void
add_nullable_string (JsonBuilder *builder,
                     const char  *value)
{
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

gboolean
lsp_library_index_save (const char  *path,
                        guint64      library_rev,
                        GHashTable  *records,
                        GError     **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *data = NULL;
  g_autofree char *dir = NULL;

  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, records);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (sorted, value);
  g_ptr_array_sort (sorted, compare_records_by_id);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "format");
  json_builder_add_int_value (builder, LSP_LIBRARY_INDEX_FORMAT);
  json_builder_set_member_name (builder, "library_rev");
  json_builder_add_int_value (builder, (gint64) library_rev);
  json_builder_set_member_name (builder, "columns");
  json_builder_begin_array (builder);
  for (guint i = 0; i < G_N_ELEMENTS (columns); i++)
    json_builder_add_string_value (builder, columns[i]);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "games");
  json_builder_begin_array (builder);
  for (guint i = 0; i < sorted->len; i++)
    {
      const LspGameRecord *record = g_ptr_array_index (sorted, i);

      /* An unreadable game has no fingerprint; it is rescanned next time. */
      if (record->fingerprint == NULL)
        continue;

      json_builder_begin_array (builder);
      json_builder_add_string_value (builder, record->id);
      json_builder_add_string_value (builder, record->fingerprint);
      json_builder_add_boolean_value (builder, record->downloaded);
      json_builder_add_boolean_value (builder, record->installed);
      json_builder_add_int_value (builder, (gint64) record->size);
      add_nullable_string (builder, record->version);
      add_nullable_string (builder, record->manifest_hash);
      add_nullable_string (builder, record->error);
      add_nullable_string (builder, record->install_stamp);
      add_nullable_string (builder, record->installed_version);
      json_builder_end_array (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  data = json_to_string (root, FALSE);

  dir = g_path_get_dirname (path);
  if (!lsp_fs_mkdir_p (dir, error))
    return FALSE;
  return lsp_fs_write_atomic (path, data, strlen (data), error);
}
