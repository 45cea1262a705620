#define G_LOG_DOMAIN "lsp-catalog"

#include "config.h"

#include "lsp-catalog.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "lsp-error.h"
#include "lsp-game-root.h"

#define MAX_TEXT_FIELD_BYTES 4096
#define MAX_PLAYERS_LIMIT 1024

struct _LspCatalog
{
  GObject     parent_instance;

  GFile      *file;
  GPtrArray  *games;  /* LspCatalogEntry */
  GHashTable *by_id;  /* borrowed id → LspCatalogEntry */
};

G_DEFINE_FINAL_TYPE (LspCatalog, lsp_catalog, G_TYPE_OBJECT)

static void
catalog_entry_free (LspCatalogEntry *entry)
{
  g_free (entry->id);
  g_free (entry->name);
  g_free (entry->description);
  g_free (entry->genre);
  g_free (entry->launch);
  g_free (entry->cover);
  g_free (entry);
}

static void
lsp_catalog_finalize (GObject *object)
{
  LspCatalog *self = LSP_CATALOG (object);

  g_clear_object (&self->file);
  g_clear_pointer (&self->by_id, g_hash_table_unref);
  g_clear_pointer (&self->games, g_ptr_array_unref);

  G_OBJECT_CLASS (lsp_catalog_parent_class)->finalize (object);
}

static void
lsp_catalog_class_init (LspCatalogClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = lsp_catalog_finalize;
}

static void
lsp_catalog_init (LspCatalog *self)
{
  self->games = g_ptr_array_new_with_free_func ((GDestroyNotify) catalog_entry_free);
  self->by_id = g_hash_table_new (g_str_hash, g_str_equal);
}

G_GNUC_PRINTF (4, 5)
static gboolean
set_field_error (GError    **error,
                 const char *source_name,
                 guint       index,
                 const char *format,
                 ...)
{
  /* Translators: the first %s is the catalog file; “games[%u]” names the
   * entry in the file, do not translate it. */
  g_autofree char *where = g_strdup_printf (_("Catalog %s: games[%u]: "), source_name, index);
  va_list args;

  va_start (args, format);
  lsp_error_set_invalid_valist (error, where, _(". Fix the catalog file and try again."), format, args);
  va_end (args);
  return FALSE;
}

/* Reads an optional or required string member, rejecting other JSON types. */
static gboolean
read_string_member (JsonObject  *object,
                    const char  *member,
                    gboolean     required,
                    const char  *source_name,
                    guint        index,
                    char       **out,
                    GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);
  const char *value;

  *out = NULL;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (required)
        return set_field_error (error, source_name, index, _("field “%s” is missing"), member);
      return TRUE;
    }

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return set_field_error (error, source_name, index, _("field “%s” must be a string"), member);

  value = json_node_get_string (node);
  if (strlen (value) > MAX_TEXT_FIELD_BYTES)
    return set_field_error (error, source_name, index, _("field “%s” is longer than %d bytes"),
                            member, MAX_TEXT_FIELD_BYTES);
  if (required && value[0] == '\0')
    return set_field_error (error, source_name, index, _("field “%s” is empty"), member);

  *out = g_strdup (value);
  return TRUE;
}

static LspCatalogEntry *
parse_entry (JsonNode         *node,
             const char       *source_name,
             guint             index,
             GError          **error)
{
  g_autoptr(GError) local_error = NULL;
  LspCatalogEntry *entry;
  JsonObject *object;
  JsonNode *players;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      set_field_error (error, source_name, index, _("entry must be an object"));
      return NULL;
    }
  object = json_node_get_object (node);

  entry = g_new0 (LspCatalogEntry, 1);
  if (!read_string_member (object, "id", TRUE, source_name, index, &entry->id, error) ||
      !read_string_member (object, "name", TRUE, source_name, index, &entry->name, error) ||
      !read_string_member (object, "description", FALSE, source_name, index, &entry->description, error) ||
      !read_string_member (object, "genre", FALSE, source_name, index, &entry->genre, error) ||
      !read_string_member (object, "launch", FALSE, source_name, index, &entry->launch, error) ||
      !read_string_member (object, "cover", FALSE, source_name, index, &entry->cover, error))
    goto fail;

  if (!lsp_game_id_is_valid (entry->id))
    {
      set_field_error (error, source_name, index,
                       _("id “%s” is not valid (use 1–64 letters, digits, “-”, “_” or “.”, not starting with “.”)"),
                       entry->id);
      goto fail;
    }

  players = json_object_get_member (object, "max_players");
  if (players != NULL && !JSON_NODE_HOLDS_NULL (players))
    {
      gint64 value;

      if (!JSON_NODE_HOLDS_VALUE (players) || json_node_get_value_type (players) != G_TYPE_INT64)
        {
          set_field_error (error, source_name, index, _("field “max_players” must be an integer"));
          goto fail;
        }
      value = json_node_get_int (players);
      if (value < 1 || value > MAX_PLAYERS_LIMIT)
        {
          set_field_error (error, source_name, index,
                           _("field “max_players” must be between 1 and %d"), MAX_PLAYERS_LIMIT);
          goto fail;
        }
      entry->max_players = (guint) value;
    }

  if (entry->cover != NULL && !lsp_relative_path_is_safe (entry->cover))
    {
      set_field_error (error, source_name, index, _("field “cover” must be a relative path inside the catalog folder"));
      goto fail;
    }

  if (entry->launch != NULL)
    {
      g_auto(GStrv) argv = NULL;

      if (!g_shell_parse_argv (entry->launch, NULL, &argv, &local_error))
        {
          set_field_error (error, source_name, index, _("field “launch” cannot be parsed: %s"),
                           local_error->message);
          goto fail;
        }
    }

  return entry;

fail:
  catalog_entry_free (entry);
  return NULL;
}

LspCatalog *
lsp_catalog_new_from_data (const char  *data,
                           gsize        length,
                           const char  *source_name,
                           GError     **error)
{
  g_autoptr(LspCatalog) self = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonObject *root_object;
  JsonNode *root;
  JsonNode *games_node;
  JsonArray *games;
  guint n_games;

  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (source_name != NULL, NULL);

  if (length > LSP_CATALOG_MAX_BYTES)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                   _("Catalog %s is larger than %d MiB; it is probably not a catalog."),
                   source_name, LSP_CATALOG_MAX_BYTES / (1024 * 1024));
      return NULL;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) length, &local_error))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                   _("Catalog %s is not valid JSON: %s"), source_name, local_error->message);
      return NULL;
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                   _("Catalog %s: the top level must be an object with a “games” array."), source_name);
      return NULL;
    }
  root_object = json_node_get_object (root);

  games_node = json_object_get_member (root_object, "games");
  if (games_node == NULL || !JSON_NODE_HOLDS_ARRAY (games_node))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                   _("Catalog %s: field “games” is missing or is not an array."), source_name);
      return NULL;
    }
  games = json_node_get_array (games_node);
  n_games = json_array_get_length (games);
  if (n_games > LSP_CATALOG_MAX_GAMES)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                   _("Catalog %s lists %u games; at most %d are supported."),
                   source_name, n_games, LSP_CATALOG_MAX_GAMES);
      return NULL;
    }

  self = g_object_new (LSP_TYPE_CATALOG, NULL);

  for (guint i = 0; i < n_games; i++)
    {
      LspCatalogEntry *entry = parse_entry (json_array_get_element (games, i), source_name, i, error);

      if (entry == NULL)
        return NULL;

      if (g_hash_table_contains (self->by_id, entry->id))
        {
          set_field_error (error, source_name, i, _("id “%s” appears more than once"), entry->id);
          catalog_entry_free (entry);
          return NULL;
        }

      g_ptr_array_add (self->games, entry);
      g_hash_table_insert (self->by_id, entry->id, entry);
    }

  return g_steal_pointer (&self);
}

LspCatalog *
lsp_catalog_new_from_file (GFile         *file,
                           GCancellable  *cancellable,
                           GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *name = NULL;
  LspCatalog *self;
  gsize length = 0;

  g_return_val_if_fail (G_IS_FILE (file), NULL);

  name = g_file_get_parse_name (file);
  if (!g_file_load_contents (file, cancellable, &contents, &length, NULL, &local_error))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_IO,
                   _("Could not read the catalog %s: %s"), name, local_error->message);
      return NULL;
    }

  self = lsp_catalog_new_from_data (contents, length, name, error);
  if (self != NULL)
    self->file = g_object_ref (file);

  return self;
}

guint
lsp_catalog_get_n_games (LspCatalog *self)
{
  g_return_val_if_fail (LSP_IS_CATALOG (self), 0);

  return self->games->len;
}

const LspCatalogEntry *
lsp_catalog_get_game (LspCatalog *self,
                      guint       position)
{
  g_return_val_if_fail (LSP_IS_CATALOG (self), NULL);
  g_return_val_if_fail (position < self->games->len, NULL);

  return g_ptr_array_index (self->games, position);
}

const LspCatalogEntry *
lsp_catalog_lookup (LspCatalog *self,
                    const char *game_id)
{
  g_return_val_if_fail (LSP_IS_CATALOG (self), NULL);
  g_return_val_if_fail (game_id != NULL, NULL);

  return g_hash_table_lookup (self->by_id, game_id);
}

GFile *
lsp_catalog_get_file (LspCatalog *self)
{
  g_return_val_if_fail (LSP_IS_CATALOG (self), NULL);

  return self->file;
}
