/* lsp-local-summary.h: our own games as the protocol describes them */
#pragma once

#include "lsp-local-game.h"
#include "lsp-proto.h"

G_BEGIN_DECLS

LspGameSummary *lsp_game_summary_new_from_local_game (LspLocalGame *game);

G_END_DECLS
