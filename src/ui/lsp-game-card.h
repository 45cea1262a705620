/* lsp-game-card.h: one game of the LAN library, with the action for its state */
#pragma once

#include <adwaita.h>

#include "lsp-engine.h"

G_BEGIN_DECLS

#define LSP_TYPE_GAME_CARD (lsp_game_card_get_type ())
G_DECLARE_FINAL_TYPE (LspGameCard, lsp_game_card, LSP, GAME_CARD, GtkWidget)

GtkWidget  *lsp_game_card_new         (void);
void        lsp_game_card_bind        (LspGameCard *self,
                                       LspEngine   *engine,
                                       LspLanGame  *game);
void        lsp_game_card_unbind      (LspGameCard *self);
LspLanGame *lsp_game_card_get_game    (LspGameCard *self);
const char *lsp_game_card_get_status  (LspGameCard *self);
const char *lsp_game_card_get_action_label (LspGameCard *self);

G_END_DECLS
