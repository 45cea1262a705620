/* lsp-local-game.h: one game in the local games folder, as the UI sees it */
#pragma once

#include <glib-object.h>

#include "lsp-types.h"

G_BEGIN_DECLS

#define LSP_TYPE_LOCAL_GAME (lsp_local_game_get_type ())
G_DECLARE_FINAL_TYPE (LspLocalGame, lsp_local_game, LSP, LOCAL_GAME, GObject)

const char *lsp_local_game_get_id            (LspLocalGame *self);
const char *lsp_local_game_get_name          (LspLocalGame *self);
const char *lsp_local_game_get_description   (LspLocalGame *self);
const char *lsp_local_game_get_genre         (LspLocalGame *self);
guint       lsp_local_game_get_max_players   (LspLocalGame *self);
const char *lsp_local_game_get_version       (LspLocalGame *self);
const char *lsp_local_game_get_installed_version (LspLocalGame *self);
guint64     lsp_local_game_get_size          (LspLocalGame *self);
gboolean    lsp_local_game_get_downloaded    (LspLocalGame *self);
gboolean    lsp_local_game_get_installed     (LspLocalGame *self);
const char *lsp_local_game_get_manifest_hash (LspLocalGame *self);
const char *lsp_local_game_get_error         (LspLocalGame *self);
gboolean    lsp_local_game_get_busy          (LspLocalGame *self);
gboolean    lsp_local_game_get_damaged       (LspLocalGame *self);
const char *lsp_local_game_get_reference_hash (LspLocalGame *self);

G_END_DECLS
