/* lsp-game-summary.h: one game of a peer's library, as the protocol carries it */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  LSP_AVAILABILITY_READY,
  LSP_AVAILABILITY_DOWNLOADING,
  LSP_AVAILABILITY_LOCAL_ONLY,
} LspAvailability;

typedef struct
{
  char            *id;
  char            *name;
  char            *version;        /* NULL unless downloaded */
  guint64          size;
  gboolean         downloaded;
  gboolean         installed;
  char            *manifest_hash;  /* NULL unless downloaded */
  LspAvailability  availability;
} LspGameSummary;

#define LSP_TYPE_GAME_SUMMARY (lsp_game_summary_get_type ())
GType            lsp_game_summary_get_type            (void) G_GNUC_CONST;
LspGameSummary  *lsp_game_summary_new                 (const char      *id,
                                                       const char      *name);
LspGameSummary  *lsp_game_summary_new_for_game        (const char      *id,
                                                       const char      *name,
                                                       guint64          size,
                                                       gboolean         downloaded,
                                                       gboolean         installed,
                                                       const char      *version,
                                                       const char      *manifest_hash);
LspGameSummary  *lsp_game_summary_copy                (const LspGameSummary *summary);
void             lsp_game_summary_free                (LspGameSummary  *summary);
JsonNode        *lsp_game_summary_to_json             (const LspGameSummary *summary);
LspGameSummary  *lsp_game_summary_new_from_json       (JsonNode        *node,
                                                       GError         **error);
gboolean         lsp_game_summary_equal               (const LspGameSummary *a,
                                                       const LspGameSummary *b);
const char      *lsp_availability_to_string           (LspAvailability  availability);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LspGameSummary, lsp_game_summary_free)

G_END_DECLS
