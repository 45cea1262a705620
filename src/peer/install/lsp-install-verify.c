#define G_LOG_DOMAIN "lsp-install-verify"

#include "config.h"

#include "lsp-install-private.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "lsp-error.h"
#include "lsp-game-root.h"
#include "lsp-manifest.h"

/* Verify (worker-thread code): nothing of the game is written, only the
 * verdict on its payload, which decides whether it may be served. */

typedef struct
{
  LspInstallProgress *progress;
  guint64             base;     /* bytes of earlier parts */
} VerifyProgress;

static void
on_payload_progress (guint64  bytes_done,
                     gpointer user_data)
{
  VerifyProgress *state = user_data;

  _lsp_install_progress_set_done (state->progress, state->base + bytes_done, 0);
}

static gboolean
verify_payload (const char      *games_path,
                const char      *game_id,
                const char      *manifest_hash,
                LspVerifyReport *report,
                VerifyProgress  *progress,
                GCancellable    *cancellable,
                GError         **error)
{
  g_autofree char *manifest_path = lsp_manifest_cache_path (games_path, manifest_hash);
  g_autofree char *root_path = g_build_filename (games_path, game_id, NULL);
  g_autoptr(LspManifest) manifest = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean ok;
  int root_fd;

  manifest = lsp_manifest_load_file (manifest_path, manifest_hash, &local_error);
  if (manifest == NULL)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND,
                   "The manifest of %s is not available to check it against (%s); "
                   "restart the peer so the library hashes the game again.", game_id, local_error->message);
      return FALSE;
    }
  root_fd = open (root_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root_fd < 0)
    return _lsp_install_set_errno (error, errno, game_id, "open the game folder");

  _lsp_install_progress_set_total (progress->progress, lsp_manifest_get_total_size (manifest));
  ok = lsp_verify_payload (root_fd, manifest, report, on_payload_progress, progress, cancellable, error);
  close (root_fd);
  if (!ok)
    return FALSE;
  progress->base += lsp_manifest_get_total_size (manifest);

  if (report->payload == LSP_VERIFY_DAMAGED)
    return lsp_verify_mark_damaged (games_path, game_id, manifest_hash, error);
  lsp_verify_clear_damaged (games_path, game_id);
  return TRUE;
}

LspVerifyReport *
_lsp_install_verify (const char          *games_path,
                     const char          *game_id,
                     const char          *manifest_hash,
                     LspInstallProgress  *progress,
                     GCancellable        *cancellable,
                     GError             **error)
{
  g_autoptr(LspVerifyReport) report = lsp_verify_report_new (game_id);
  VerifyProgress state = { progress, 0 };

  if (manifest_hash != NULL &&
      !verify_payload (games_path, game_id, manifest_hash, report, &state, cancellable, error))
    return NULL;
  return g_steal_pointer (&report);
}
