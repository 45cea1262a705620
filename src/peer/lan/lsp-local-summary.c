#define G_LOG_DOMAIN "lsp-local-summary"

#include "config.h"

#include "lsp-local-summary.h"

LspGameSummary *
lsp_game_summary_new_from_local_game (LspLocalGame *game)
{
  g_return_val_if_fail (LSP_IS_LOCAL_GAME (game), NULL);

  return lsp_game_summary_new_for_game (lsp_local_game_get_id (game),
                                        lsp_local_game_get_name (game),
                                        lsp_local_game_get_size (game),
                                        /* A damaged game is no source: peers look elsewhere. */
                                        lsp_local_game_get_downloaded (game) && !lsp_local_game_get_damaged (game),
                                        lsp_local_game_get_installed (game),
                                        lsp_local_game_get_version (game),
                                        lsp_local_game_get_manifest_hash (game));
}
