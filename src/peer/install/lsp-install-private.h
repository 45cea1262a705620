/* lsp-install-private.h: the transactions behind LspInstaller and recovery
 * (worker-thread code), and how their progress reaches the main context */
#pragma once

#include <gio/gio.h>

#include "lsp-operation.h"
#include "lsp-verify.h"

G_BEGIN_DECLS

/* A player's copy of a file the new version also ships is kept under this suffix. */
#define LSP_PLAYER_COPY_SUFFIX ".lanspread-old"

typedef enum {
  LSP_INTENT_NONE,
  LSP_INTENT_INSTALLING,
  LSP_INTENT_UPDATING,
  LSP_INTENT_UNINSTALLING,
  LSP_INTENT_REPAIRING,       /* staging being filled with the files to restore */
  LSP_INTENT_REPAIR_SWAPPING, /* staging complete, its files moving into local/ */
} LspIntent;

/* The worker's progress, delivered to an LspOperation's properties on the
 * main context that made it (lsp-install-progress.c). The worker sets it;
 * the main context flushes it once the worker is done. */
typedef struct _LspInstallProgress LspInstallProgress;

LspInstallProgress *_lsp_install_progress_new       (LspOperation        *operation);
LspInstallProgress *_lsp_install_progress_ref       (LspInstallProgress  *progress);
void                _lsp_install_progress_unref     (LspInstallProgress  *progress);
void                _lsp_install_progress_set_total (LspInstallProgress  *progress,
                                                     guint64              bytes_total);
void                _lsp_install_progress_set_done  (LspInstallProgress  *progress,
                                                     guint64              bytes_done,
                                                     guint64              entries_done);
void                _lsp_install_progress_flush     (LspInstallProgress  *progress);

void                _lsp_install_crash_point    (const char          *step);

const char         *_lsp_intent_to_string       (LspIntent            intent);
gboolean            _lsp_intent_read            (int                  root_fd,
                                                 LspIntent           *out_intent,
                                                 GError             **error);
gboolean            _lsp_intent_write           (int                  root_fd,
                                                 const char          *game_id,
                                                 LspIntent            intent,
                                                 GError             **error);

gboolean            _lsp_remove_owned_dir       (int                  root_fd,
                                                 const char          *dir_name,
                                                 GError             **error);

/* Every failed system call of a transaction reads "Could not <what> of
 * <game_id>: <strerror>"; returns FALSE. */
gboolean            _lsp_install_set_errno      (GError             **error,
                                                 int                  saved_errno,
                                                 const char          *game_id,
                                                 const char          *what);

/* The update's player-file policy: from .local.backup/ into
 * .local.installing/ (lsp-install-carry.c). */
gboolean            _lsp_install_carry_over     (int                  root_fd,
                                                 const char          *game_id,
                                                 GError             **error);

gboolean            _lsp_install_run            (const char          *games_path,
                                                 const char          *game_id,
                                                 LspOperationKind     kind,
                                                 LspInstallProgress  *progress,
                                                 GCancellable        *cancellable,
                                                 GError             **error);

/* Verify: the payload against its manifest, local/ against its install
 * record (lsp-install-verify.c). */
LspVerifyReport    *_lsp_install_verify         (const char          *games_path,
                                                 const char          *game_id,
                                                 const char          *manifest_hash,
                                                 LspInstallProgress  *progress,
                                                 GCancellable        *cancellable,
                                                 GError             **error);

GHashTable         *_lsp_install_verify_local   (int                  root_fd,
                                                 LspVerifyReport     *report,
                                                 LspInstallProgress  *progress,
                                                 guint64              progress_base,
                                                 GCancellable        *cancellable,
                                                 GError             **error);

GPtrArray          *_lsp_install_list_archives  (int                  root_fd,
                                                 const char          *game_id,
                                                 GError             **error);

/* Repair: the missing and changed shipped files extracted again
 * (lsp-install-repair.c). */
LspVerifyReport    *_lsp_install_repair         (const char          *games_path,
                                                 const char          *game_id,
                                                 LspInstallProgress  *progress,
                                                 GCancellable        *cancellable,
                                                 GError             **error);
gboolean            _lsp_install_repair_swap    (int                  root_fd,
                                                 const char          *game_id,
                                                 GError             **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LspInstallProgress, _lsp_install_progress_unref)

G_END_DECLS
