/* lsp-launcher.h: play installed games and follow their processes */
#pragma once

#include <gio/gio.h>

#include "lsp-library.h"
#include "lsp-types.h"

G_BEGIN_DECLS

#define LSP_TYPE_LAUNCHER (lsp_launcher_get_type ())
G_DECLARE_FINAL_TYPE (LspLauncher, lsp_launcher, LSP, LAUNCHER, GObject)

LspLauncher *lsp_launcher_new         (LspLibrary   *library);
gboolean     lsp_launcher_play        (LspLauncher  *self,
                                       const char   *game_id,
                                       GError      **error);
gboolean     lsp_launcher_stop        (LspLauncher  *self,
                                       const char   *game_id,
                                       GError      **error);
gboolean     lsp_launcher_is_running  (LspLauncher  *self,
                                       const char   *game_id);
guint        lsp_launcher_get_n_running (LspLauncher *self);

G_END_DECLS
