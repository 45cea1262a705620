/* lsp-game-details.h: everything about one game, with its actions */
#pragma once

#include <adwaita.h>

#include "lsp-engine.h"

G_BEGIN_DECLS

#define LSP_TYPE_GAME_DETAILS (lsp_game_details_get_type ())
G_DECLARE_FINAL_TYPE (LspGameDetails, lsp_game_details, LSP, GAME_DETAILS, GtkWidget)

GtkWidget  *lsp_game_details_new      (void);
void        lsp_game_details_show     (LspGameDetails *self,
                                       LspEngine      *engine,
                                       LspLanGame     *game);
void        lsp_game_details_clear    (LspGameDetails *self);
LspLanGame *lsp_game_details_get_game (LspGameDetails *self);
const char *lsp_game_details_get_files_status (LspGameDetails *self);

G_END_DECLS
