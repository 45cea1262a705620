/* lsp-lan-library.h: every game anyone on the LAN has, with our state of it */
#pragma once

#include <gio/gio.h>

#include "lsp-lan-game.h"
#include "lsp-library.h"
#include "lsp-node.h"

G_BEGIN_DECLS

#define LSP_TYPE_LAN_LIBRARY (lsp_lan_library_get_type ())
G_DECLARE_FINAL_TYPE (LspLanLibrary, lsp_lan_library, LSP, LAN_LIBRARY, GObject)

LspLanLibrary *lsp_lan_library_new    (LspLibrary    *library,
                                       LspNode       *node);
LspLanGame    *lsp_lan_library_lookup (LspLanLibrary *self,
                                       const char    *game_id);

G_END_DECLS
