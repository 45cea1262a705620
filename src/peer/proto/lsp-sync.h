/* lsp-sync.h: the library sync decisions of PROTOCOL.md, as pure functions */
#pragma once

#include <glib.h>

#include "lsp-proto.h"

G_BEGIN_DECLS

typedef enum {
  LSP_SYNC_NOTHING,       /* up to date, or an old or duplicate delta */
  LSP_SYNC_APPLY,         /* apply this delta */
  LSP_SYNC_ASK_DELTA,     /* send GetLibrary { since_rev: known rev } */
  LSP_SYNC_ASK_SNAPSHOT,  /* send GetLibrary {} */
} LspSyncAction;

/* What we hold of one remote peer's library. */
typedef struct
{
  gboolean    has_rev;
  guint64     rev;
  const char *digest;     /* NULL when we never synced */
} LspSyncState;

LspSyncAction lsp_sync_plan_summary      (const LspSyncState        *known,
                                          guint64                    their_rev,
                                          const char                *their_digest);
LspSyncAction lsp_sync_plan_delta        (const LspSyncState        *known,
                                          const LspLibraryDeltaBody *delta);
gboolean      lsp_sync_delta_count_ok    (const LspLibraryDeltaBody *delta,
                                          guint                      game_count_after);
const char   *lsp_sync_action_to_string  (LspSyncAction              action);

G_END_DECLS
