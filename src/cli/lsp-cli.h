/* lsp-cli.h: the subcommands of the headless peer */
#pragma once

#include <gio/gio.h>

#include "lsp-catalog.h"

G_BEGIN_DECLS

int lsp_cli_resolve_games (const char  *command,
                           const char  *games_path,
                           const char  *catalog_path,
                           GFile      **out_games_dir,
                           GFile      **out_catalog_file);
int lsp_cli_open_games (const char  *command,
                        const char  *games_path,
                        const char  *catalog_path,
                        GFile      **out_games_dir,
                        LspCatalog **out_catalog);
int lsp_cli_scan       (int          argc,
                        char       **argv);

int lsp_cli_serve (int    argc,
                   char **argv);

G_END_DECLS
