/* lsp-window.h: the main window */
#pragma once

#include <adwaita.h>

#include "lsp-application.h"
#include "lsp-chunk-server.h"
#include "lsp-library.h"
#include "lsp-node.h"

G_BEGIN_DECLS

#define LSP_TYPE_WINDOW (lsp_window_get_type ())
G_DECLARE_FINAL_TYPE (LspWindow, lsp_window, LSP, WINDOW, AdwApplicationWindow)

LspWindow      *lsp_window_new              (LspApplication *application,
                                            GFile          *games_dir,
                                            GFile          *catalog_file);
LspLibrary     *lsp_window_get_library      (LspWindow      *self);
LspNode        *lsp_window_get_node         (LspWindow      *self);
LspChunkServer *lsp_window_get_chunk_server (LspWindow      *self);

G_END_DECLS
