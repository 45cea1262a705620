/* lsp-local-game-private.h: how LspLibrary keeps its games up to date */
#pragma once

#include "lsp-catalog.h"
#include "lsp-local-game.h"
#include "lsp-scan.h"

G_BEGIN_DECLS

LspLocalGame *_lsp_local_game_new        (const LspCatalogEntry *entry,
                                          LspGameRecord         *record);
void          _lsp_local_game_set_record (LspLocalGame          *self,
                                          LspGameRecord         *record);
void          _lsp_local_game_set_busy   (LspLocalGame          *self,
                                          gboolean               busy);

G_END_DECLS
