#define G_LOG_DOMAIN "lsp-sync"

#include "config.h"

#include "lsp-sync.h"

/* Used for Hello, HelloAck and LibrarySummary alike: each carries the
 * sender's current revision and digest. */
LspSyncAction
lsp_sync_plan_summary (const LspSyncState *known,
                       guint64             their_rev,
                       const char         *their_digest)
{
  g_return_val_if_fail (known != NULL, LSP_SYNC_ASK_SNAPSHOT);
  g_return_val_if_fail (their_digest != NULL, LSP_SYNC_ASK_SNAPSHOT);

  if (known->digest != NULL && g_str_equal (known->digest, their_digest))
    return LSP_SYNC_NOTHING;
  if (!known->has_rev)
    return LSP_SYNC_ASK_SNAPSHOT;
  /* Same revision with another digest, or a revision that went backwards
   * (its index was lost): what we hold cannot be patched. */
  if (their_rev <= known->rev)
    return LSP_SYNC_ASK_SNAPSHOT;
  return LSP_SYNC_ASK_DELTA;
}

/* Deltas carry full summaries, so one applies to any state between
 * from_rev and to_rev; older ones are ignored, and a gap needs a snapshot. */
LspSyncAction
lsp_sync_plan_delta (const LspSyncState        *known,
                     const LspLibraryDeltaBody *delta)
{
  g_return_val_if_fail (known != NULL, LSP_SYNC_ASK_SNAPSHOT);
  g_return_val_if_fail (delta != NULL, LSP_SYNC_ASK_SNAPSHOT);

  if (!known->has_rev)
    return LSP_SYNC_ASK_SNAPSHOT;
  if (delta->to_rev <= known->rev)
    return LSP_SYNC_NOTHING;
  if (delta->from_rev > known->rev)
    return LSP_SYNC_ASK_SNAPSHOT;
  return LSP_SYNC_APPLY;
}

/* After applying, the count we hold must be the sender's; otherwise we
 * missed something and ask for a snapshot. */
gboolean
lsp_sync_delta_count_ok (const LspLibraryDeltaBody *delta,
                         guint                      game_count_after)
{
  g_return_val_if_fail (delta != NULL, FALSE);

  return delta->game_count == game_count_after;
}

const char *
lsp_sync_action_to_string (LspSyncAction action)
{
  switch (action)
    {
    case LSP_SYNC_NOTHING:
      return "nothing";
    case LSP_SYNC_APPLY:
      return "apply";
    case LSP_SYNC_ASK_DELTA:
      return "ask-delta";
    case LSP_SYNC_ASK_SNAPSHOT:
      return "ask-snapshot";
    default:
      g_return_val_if_reached (NULL);
    }
}
