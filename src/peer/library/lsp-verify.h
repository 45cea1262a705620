/* lsp-verify.h: what a verify found wrong with a game's files, and the
 * payload check against its manifest (worker-thread code) */
#pragma once

#include <gio/gio.h>

#include "lsp-manifest.h"

G_BEGIN_DECLS

/* Where the verdict of the last verify of a damaged game is kept, below
 * the games folder's state directory: <id>.json, the manifest its payload
 * no longer matches. */
#define LSP_DAMAGED_DIR ".lanspread/damaged"

typedef enum {
  LSP_VERIFY_MISSING,   /* the file is not there */
  LSP_VERIFY_RESIZED,   /* its size is not the manifest's */
  LSP_VERIFY_CORRUPT,   /* some chunks do not hash to the manifest's */
  LSP_VERIFY_CHANGED,   /* an installed file is not what the install wrote */
  LSP_VERIFY_UNRECORDED, /* a file the archives ship, in local/, that the install record does not list */
} LspVerifyProblemKind;

typedef struct
{
  char                 *path;    /* relative to the game root, or to local/ */
  LspVerifyProblemKind  kind;
  GArray               *chunks;  /* guint: the file's chunks that do not verify (payload only) */
} LspVerifyProblem;

typedef enum {
  LSP_VERIFY_NOT_CHECKED,   /* not downloaded, or not installed */
  LSP_VERIFY_SOUND,
  LSP_VERIFY_DAMAGED,
  LSP_VERIFY_CANNOT_JUDGE,  /* an install without a record of what it wrote */
} LspVerifyVerdict;

/* Immutable once the worker hands it over. */
typedef struct
{
  char             *game_id;
  char             *manifest_hash;        /* what the payload was checked against, or NULL */
  LspVerifyVerdict  payload;
  GPtrArray        *payload_problems;     /* LspVerifyProblem */
  LspVerifyVerdict  installed;
  GPtrArray        *installed_problems;   /* LspVerifyProblem */
  gboolean          repaired;             /* a repair's: every installed problem is fixed */
  guint64           bytes_checked;
} LspVerifyReport;

#define LSP_TYPE_VERIFY_REPORT (lsp_verify_report_get_type ())
GType             lsp_verify_report_get_type        (void) G_GNUC_CONST;

const char       *lsp_verify_problem_kind_to_string (LspVerifyProblemKind kind);
const char       *lsp_verify_verdict_to_string      (LspVerifyVerdict     verdict);

LspVerifyReport  *lsp_verify_report_new             (const char          *game_id);
LspVerifyReport  *lsp_verify_report_ref             (LspVerifyReport     *report);
void              lsp_verify_report_unref           (LspVerifyReport     *report);
LspVerifyProblem *lsp_verify_problem_new            (const char          *path,
                                                     LspVerifyProblemKind kind);
void              lsp_verify_problem_free           (LspVerifyProblem    *problem);
guint             lsp_verify_report_count_bad_chunks (const LspVerifyReport *report);

typedef void (*LspVerifyProgressFunc) (guint64  bytes_done,
                                       gpointer user_data);

int               lsp_verify_open_below             (int                   root_fd,
                                                     const char           *path,
                                                     GError              **error);
gboolean          lsp_verify_payload                (int                   root_fd,
                                                     LspManifest          *manifest,
                                                     LspVerifyReport      *report,
                                                     LspVerifyProgressFunc progress,
                                                     gpointer              user_data,
                                                     GCancellable         *cancellable,
                                                     GError              **error);

gboolean          lsp_verify_mark_damaged           (const char          *games_path,
                                                     const char          *game_id,
                                                     LspManifest         *manifest,
                                                     GError             **error);
void              lsp_verify_clear_damaged          (const char          *games_path,
                                                     const char          *game_id);
LspManifest      *lsp_verify_read_damaged_at        (int                  games_fd,
                                                     const char          *game_id);
LspManifest      *lsp_verify_load_damaged           (const char          *games_path,
                                                     const char          *game_id,
                                                     GError             **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LspVerifyReport, lsp_verify_report_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LspVerifyProblem, lsp_verify_problem_free)

G_END_DECLS
