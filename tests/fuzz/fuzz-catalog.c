/* The catalog file: what loads has valid, unique, findable game IDs. */
#include "config.h"

#include "lsp-fuzz.h"

#include "lsp-catalog.h"
#include "lsp-game-root.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(LspCatalog) catalog = NULL;
  g_autoptr(GError) error = NULL;

  catalog = lsp_catalog_new_from_data ((const char *) data, size, "catalog.json", &error);
  if (catalog == NULL)
    {
      g_assert_nonnull (error);
      return 0;
    }
  for (guint i = 0; i < lsp_catalog_get_n_games (catalog); i++)
    {
      const LspCatalogEntry *entry = lsp_catalog_get_game (catalog, i);

      g_assert_true (lsp_game_id_is_valid (entry->id));
      g_assert_true (lsp_catalog_lookup (catalog, entry->id) == entry);
    }
  return 0;
}
