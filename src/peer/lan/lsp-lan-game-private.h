/* lsp-lan-game-private.h: how LspLanLibrary fills its games */
#pragma once

#include "lsp-lan-game.h"

G_BEGIN_DECLS

typedef struct
{
  const char      *name;
  LspLanGameState  state;
  const char      *local_version;
  const char      *newest_version;
  guint64          size;
  gboolean         update_available;
  GStrv            sources;   /* peer_ids that can serve newest_version now */
} LspLanGameFacts;

LspLanGame *_lsp_lan_game_new   (const char            *id);
void        _lsp_lan_game_apply (LspLanGame            *self,
                                 const LspLanGameFacts *facts);

G_END_DECLS
