#define G_LOG_DOMAIN "lsp-engine"

#include "config.h"

#include "lsp-engine.h"

#include "lsp-error.h"

/* A repair in the order that makes sense: the downloaded payload first (a
 * download of only the chunks that do not verify), since the installed
 * game is restored from its archives; then the installed game. */

typedef struct
{
  LspEngine    *engine;
  char         *game_id;
  LspDownload  *download;
  GCancellable *cancellable;
  gulong        cancel_handler;
  guint         chunks;
  guint64       bytes_received;
} RepairJob;

static void
repair_job_free (RepairJob *job)
{
  if (job->cancel_handler != 0)
    g_cancellable_disconnect (job->cancellable, job->cancel_handler);
  g_clear_object (&job->cancellable);
  g_clear_object (&job->download);
  g_clear_object (&job->engine);
  g_free (job->game_id);
  g_free (job);
}

static void
on_installed_repaired (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  LspVerifyReport *report = lsp_installer_repair_finish (LSP_INSTALLER (object), result, &error);

  if (report == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, report, (GDestroyNotify) lsp_verify_report_unref);
}

static void
repair_installed (GTask *task)
{
  RepairJob *job = g_task_get_task_data (task);
  LspLocalGame *game = lsp_library_lookup (lsp_engine_get_library (job->engine), job->game_id);

  if (game == NULL || !lsp_local_game_get_installed (game))
    {
      g_task_return_pointer (task, lsp_verify_report_new (job->game_id), (GDestroyNotify) lsp_verify_report_unref);
      g_object_unref (task);
      return;
    }
  lsp_installer_repair_async (lsp_engine_get_installer (job->engine), job->game_id, job->cancellable,
                              on_installed_repaired, task);
}

static void
on_payload_repaired (LspDownloadManager *downloads,
                     LspDownload        *download,
                     const GError       *error,
                     GTask              *task)
{
  RepairJob *job = g_task_get_task_data (task);

  if (download != job->download)
    return;
  g_signal_handlers_disconnect_by_func (downloads, on_payload_repaired, task);
  if (error != NULL)
    {
      g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
      return;
    }
  job->chunks = lsp_download_get_chunks_repaired (download);
  job->bytes_received = lsp_download_get_bytes_received (download);
  repair_installed (task);
}

static void
on_cancelled (GCancellable *cancellable,
              RepairJob    *job)
{
  lsp_download_manager_cancel (lsp_engine_get_downloads (job->engine), job->game_id, NULL);
}

/**
 * lsp_engine_repair_async:
 *
 * Repairs a downloaded game's payload from the peers that serve the same
 * manifest (lsp_download_manager_repair()), then its installed files from
 * the archives (lsp_installer_repair_async()). Without a network only the
 * installed part runs.
 */
void
lsp_engine_repair_async (LspEngine           *self,
                         const char          *game_id,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  GTask *task;
  RepairJob *job;
  LspLocalGame *game;
  LspDownloadManager *downloads;
  GError *error = NULL;

  g_return_if_fail (LSP_IS_ENGINE (self));
  g_return_if_fail (game_id != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lsp_engine_repair_async);
  job = g_new0 (RepairJob, 1);
  job->engine = g_object_ref (self);
  job->game_id = g_strdup (game_id);
  job->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  g_task_set_task_data (task, job, (GDestroyNotify) repair_job_free);

  game = lsp_engine_get_library (self) != NULL ? lsp_library_lookup (lsp_engine_get_library (self), game_id) : NULL;
  downloads = lsp_engine_get_downloads (self);
  if (game == NULL || !lsp_local_game_get_downloaded (game) || downloads == NULL)
    {
      repair_installed (task);
      return;
    }
  job->download = lsp_download_manager_repair (downloads, game_id, &error);
  if (job->download == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  g_object_ref (job->download);
  g_signal_connect (downloads, "download-finished", G_CALLBACK (on_payload_repaired), task);
  if (cancellable != NULL)
    job->cancel_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), job, NULL);
}

/**
 * lsp_engine_repair_finish:
 * @out_chunks: (out) (optional): payload chunks that did not verify and were fetched again
 * @out_bytes_received: (out) (optional): what fetching them cost
 *
 * Returns: (transfer full): what the installed part found, all of it now
 *   fixed (%LSP_VERIFY_NOT_CHECKED when the game is not installed), or
 *   %NULL with @error
 */
LspVerifyReport *
lsp_engine_repair_finish (LspEngine     *self,
                          GAsyncResult  *result,
                          guint         *out_chunks,
                          guint64       *out_bytes_received,
                          GError       **error)
{
  RepairJob *job;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  job = g_task_get_task_data (G_TASK (result));
  if (out_chunks != NULL)
    *out_chunks = job->chunks;
  if (out_bytes_received != NULL)
    *out_bytes_received = job->bytes_received;
  return g_task_propagate_pointer (G_TASK (result), error);
}
