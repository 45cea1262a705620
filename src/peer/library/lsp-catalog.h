/* lsp-catalog.h: the list of games the library knows about */
#pragma once

#include <gio/gio.h>

#include "lsp-types.h"

G_BEGIN_DECLS

#define LSP_CATALOG_MAX_BYTES (16 * 1024 * 1024)
#define LSP_CATALOG_MAX_GAMES 100000

struct _LspCatalogEntry
{
  char *id;
  char *name;
  char *description;
  char *genre;
  guint max_players;
  char *launch;   /* command line, relative to the game's local/ */
  char *cover;    /* optional path to an image, relative to the catalog */
};

#define LSP_TYPE_CATALOG (lsp_catalog_get_type ())
G_DECLARE_FINAL_TYPE (LspCatalog, lsp_catalog, LSP, CATALOG, GObject)

LspCatalog            *lsp_catalog_new_from_file (GFile        *file,
                                                  GCancellable *cancellable,
                                                  GError      **error);
LspCatalog            *lsp_catalog_new_from_data (const char   *data,
                                                  gsize         length,
                                                  const char   *source_name,
                                                  GError      **error);
guint                  lsp_catalog_get_n_games   (LspCatalog   *self);
const LspCatalogEntry *lsp_catalog_get_game      (LspCatalog   *self,
                                                  guint         position);
const LspCatalogEntry *lsp_catalog_lookup        (LspCatalog   *self,
                                                  const char   *game_id);
GFile                 *lsp_catalog_get_file      (LspCatalog   *self);

G_END_DECLS
