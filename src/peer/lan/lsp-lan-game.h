/* lsp-lan-game.h: one game as the whole LAN has it */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
  LSP_LAN_GAME_REMOTE,      /* only other peers have it */
  LSP_LAN_GAME_DOWNLOADED,  /* its archives are here */
  LSP_LAN_GAME_INSTALLED,   /* local/ is here */
} LspLanGameState;

#define LSP_TYPE_LAN_GAME_STATE (lsp_lan_game_state_get_type ())
GType lsp_lan_game_state_get_type (void) G_GNUC_CONST;

#define LSP_TYPE_LAN_GAME (lsp_lan_game_get_type ())
G_DECLARE_FINAL_TYPE (LspLanGame, lsp_lan_game, LSP, LAN_GAME, GObject)

const char         *lsp_lan_game_get_id               (LspLanGame *self);
const char         *lsp_lan_game_get_name             (LspLanGame *self);
LspLanGameState     lsp_lan_game_get_state            (LspLanGame *self);
const char         *lsp_lan_game_get_local_version    (LspLanGame *self);
const char         *lsp_lan_game_get_newest_version   (LspLanGame *self);
guint64             lsp_lan_game_get_size             (LspLanGame *self);
gboolean            lsp_lan_game_get_update_available (LspLanGame *self);
const char * const *lsp_lan_game_get_sources          (LspLanGame *self);
guint               lsp_lan_game_get_n_sources        (LspLanGame *self);

G_END_DECLS
