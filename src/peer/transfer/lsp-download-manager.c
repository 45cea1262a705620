#define G_LOG_DOMAIN "lsp-download"

#include "config.h"

#include "lsp-download-manager.h"

#include "lsp-chunk-buffer.h"
#include "lsp-download-private.h"
#include "lsp-download-storage.h"
#include "lsp-error.h"
#include "lsp-game-root.h"

#include <dirent.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <unistd.h>

struct _LspDownloadManager
{
  GObject       parent_instance;

  LspNode      *node;
  LspLibrary   *library;
  char         *games_path;
  GPtrArray    *downloads;    /* LspDownload, queued and running, in order */
  GHashTable   *cancellables; /* LspDownload → GCancellable */
  guint         max_running;
  guint         n_running;
  guint         wait_seconds;
  GPtrArray    *stop_tasks;   /* GTask of lsp_download_manager_stop_async */
  LspRateLimit  rate_limit;   /* of all downloads together */
  gboolean      stopping;
};

enum {
  DOWNLOAD_STARTED,
  DOWNLOAD_FINISHED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (LspDownloadManager, lsp_download_manager, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static GType
list_model_get_item_type (GListModel *model)
{
  return LSP_TYPE_DOWNLOAD;
}

static guint
list_model_get_n_items (GListModel *model)
{
  return LSP_DOWNLOAD_MANAGER (model)->downloads->len;
}

static gpointer
list_model_get_item (GListModel *model,
                     guint       position)
{
  LspDownloadManager *self = LSP_DOWNLOAD_MANAGER (model);

  if (position >= self->downloads->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->downloads, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = list_model_get_item_type;
  iface->get_n_items = list_model_get_n_items;
  iface->get_item = list_model_get_item;
}

static void start_queued (LspDownloadManager *self);

static void
on_download_done (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(LspDownloadManager) self = user_data;
  g_autoptr(LspDownload) download = g_object_ref (LSP_DOWNLOAD (object));
  g_autoptr(GError) error = NULL;
  guint position;

  lsp_download_run_finish (download, result, &error);
  self->n_running--;
  g_hash_table_remove (self->cancellables, download);
  if (g_ptr_array_find (self->downloads, download, &position))
    {
      g_ptr_array_remove_index (self->downloads, position);
      g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
    }
  g_signal_emit (self, signals[DOWNLOAD_FINISHED], 0, download, error);
  start_queued (self);
  /* An idle app should not hold the chunk buffers of its last download. */
  if (self->n_running == 0)
    lsp_chunk_buffer_trim ();
  if (self->n_running == 0 && self->stop_tasks != NULL)
    {
      g_autoptr(GPtrArray) tasks = g_steal_pointer (&self->stop_tasks);

      for (guint i = 0; i < tasks->len; i++)
        g_task_return_boolean (g_ptr_array_index (tasks, i), TRUE);
    }
}

static void
start_queued (LspDownloadManager *self)
{
  for (guint i = 0; !self->stopping && i < self->downloads->len && self->n_running < self->max_running; i++)
    {
      LspDownload *download = g_ptr_array_index (self->downloads, i);

      if (lsp_download_get_phase (download) != LSP_DOWNLOAD_QUEUED)
        continue;
      self->n_running++;
      lsp_download_set_wait_timeout (download, self->wait_seconds);
      download->rate_limit = &self->rate_limit;
      lsp_download_run_async (download, g_hash_table_lookup (self->cancellables, download),
                              on_download_done, g_object_ref (self));
      g_signal_emit (self, signals[DOWNLOAD_STARTED], 0, download);
    }
}

LspDownload *
lsp_download_manager_lookup (LspDownloadManager *self,
                             const char         *game_id)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD_MANAGER (self), NULL);

  for (guint i = 0; i < self->downloads->len; i++)
    {
      LspDownload *download = g_ptr_array_index (self->downloads, i);

      if (g_strcmp0 (lsp_download_get_game_id (download), game_id) == 0)
        return download;
    }
  return NULL;
}

static LspDownload *
queue_download (LspDownloadManager  *self,
                const char          *game_id,
                gboolean             repair,
                GError             **error)
{
  LspDownload *download;

  if (!lsp_game_id_is_valid (game_id) || lsp_catalog_lookup (lsp_library_get_catalog (self->library), game_id) == NULL)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND,
                   _("%s is not in this peer's game catalog; add it to the catalog to download it"), game_id);
      return NULL;
    }
  if (lsp_download_manager_lookup (self, game_id) != NULL)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_BUSY, _("%s is already being downloaded"), game_id);
      return NULL;
    }
  if (lsp_library_is_operation_active (self->library, game_id))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_BUSY,
                   _("Another operation is running on %s; wait for it to finish or cancel it."), game_id);
      return NULL;
    }

  if (repair)
    {
      LspLocalGame *game = lsp_library_lookup (self->library, game_id);

      if (game == NULL || !lsp_local_game_get_downloaded (game))
        {
          g_set_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND,
                       _("%s is not downloaded here, so there is nothing to repair; download it instead."), game_id);
          return NULL;
        }
    }

  download = repair ? lsp_download_new_repair (self->node, self->library, game_id)
                    : lsp_download_new (self->node, self->library, game_id);
  g_ptr_array_add (self->downloads, download);
  g_hash_table_insert (self->cancellables, download, g_cancellable_new ());
  g_list_model_items_changed (G_LIST_MODEL (self), self->downloads->len - 1, 0, 1);
  start_queued (self);
  return download;
}

/**
 * lsp_download_manager_start:
 *
 * Queues a download of @game_id; it starts at once unless as many are
 * running as allowed.
 *
 * Returns: (transfer none): the download
 */
LspDownload *
lsp_download_manager_start (LspDownloadManager  *self,
                            const char          *game_id,
                            GError             **error)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD_MANAGER (self), NULL);

  return queue_download (self, game_id, FALSE, error);
}

/**
 * lsp_download_manager_repair:
 *
 * Queues a repair of the downloaded @game_id: every chunk is hashed again
 * and those that do not match the manifest we have are fetched from the
 * peers that serve the same one (lsp_download_new_repair()).
 *
 * Returns: (transfer none): the download doing it
 */
LspDownload *
lsp_download_manager_repair (LspDownloadManager  *self,
                             const char          *game_id,
                             GError             **error)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD_MANAGER (self), NULL);

  return queue_download (self, game_id, TRUE, error);
}

gboolean
lsp_download_manager_cancel (LspDownloadManager  *self,
                             const char          *game_id,
                             GError             **error)
{
  LspDownload *download;
  guint position;

  g_return_val_if_fail (LSP_IS_DOWNLOAD_MANAGER (self), FALSE);

  download = lsp_download_manager_lookup (self, game_id);
  if (download == NULL)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND, _("%s is not being downloaded"), game_id);
      return FALSE;
    }
  if (lsp_download_get_phase (download) != LSP_DOWNLOAD_QUEUED)
    {
      g_cancellable_cancel (g_hash_table_lookup (self->cancellables, download));
      return TRUE;
    }

  /* Never started: nothing to clean up. */
  g_object_ref (download);
  g_ptr_array_find (self->downloads, download, &position);
  g_ptr_array_remove_index (self->downloads, position);
  g_hash_table_remove (self->cancellables, download);
  g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
  {
    g_autoptr(GError) cancelled = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                               _("The download of %s was cancelled"), game_id);
    g_signal_emit (self, signals[DOWNLOAD_FINISHED], 0, download, cancelled);
  }
  g_object_unref (download);
  return TRUE;
}

/**
 * lsp_download_manager_stop_async:
 *
 * Stops every download for shutdown, keeping what each verified so it
 * resumes at the next start; completes when none runs any more.
 */
void
lsp_download_manager_stop_async (LspDownloadManager  *self,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (LSP_IS_DOWNLOAD_MANAGER (self));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, lsp_download_manager_stop_async);
  self->stopping = TRUE;
  if (self->n_running == 0)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  for (guint i = 0; i < self->downloads->len; i++)
    lsp_download_suspend (g_ptr_array_index (self->downloads, i));
  if (self->stop_tasks == NULL)
    self->stop_tasks = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_add (self->stop_tasks, g_steal_pointer (&task));
}

gboolean
lsp_download_manager_stop_finish (LspDownloadManager  *self,
                                  GAsyncResult        *result,
                                  GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Removals a crash interrupted are finished; game roots with a download
 * state are resumable when their manifest is in the cache, otherwise an
 * orphan payload, swept. */
static void
resume_worker (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  const char *games_path = task_data;
  g_autoptr(GPtrArray) resumable = g_ptr_array_new_with_free_func (g_free);
  struct dirent *entry;
  DIR *dir;

  lsp_download_storage_sweep_trash (games_path);
  dir = opendir (games_path);

  if (dir == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, _("Cannot list %s"), games_path);
      return;
    }
  while ((entry = readdir (dir)) != NULL)
    {
      g_autoptr(LspDownloadState) state = NULL;
      g_autofree char *manifest_path = NULL;
      int root_fd;

      if (!lsp_game_id_is_valid (entry->d_name))
        continue;
      root_fd = lsp_download_storage_open_root (games_path, entry->d_name, FALSE, NULL);
      if (root_fd < 0)
        continue;
      state = lsp_download_storage_read_state (root_fd, NULL);
      close (root_fd);
      if (state == NULL)
        continue;
      manifest_path = lsp_download_manifest_path (games_path, state->manifest_hash);
      if (g_file_test (manifest_path, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (resumable, g_strdup (entry->d_name));
      else if (!lsp_download_storage_discard (games_path, entry->d_name, NULL))
        g_warning ("Could not remove the orphan download in %s", entry->d_name);
    }
  closedir (dir);
  g_ptr_array_add (resumable, NULL);
  g_task_return_pointer (task, g_ptr_array_free (g_steal_pointer (&resumable), FALSE), (GDestroyNotify) g_strfreev);
}

static void
on_resume_listed (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LspDownloadManager *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) ids = g_task_propagate_pointer (G_TASK (result), &error);

  if (ids == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  for (guint i = 0; ids[i] != NULL; i++)
    {
      g_autoptr(GError) start_error = NULL;

      if (lsp_download_manager_start (self, ids[i], &start_error) == NULL)
        g_message ("Not resuming the download of %s: %s", ids[i], start_error->message);
    }
  g_task_return_boolean (task, TRUE);
}

/**
 * lsp_download_manager_resume_async:
 *
 * Restarts every download that a crash or a kill interrupted, keeping the
 * chunks it verified, and removes partial payloads that cannot be resumed.
 */
void
lsp_download_manager_resume_async (LspDownloadManager  *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) list = NULL;

  g_return_if_fail (LSP_IS_DOWNLOAD_MANAGER (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lsp_download_manager_resume_async);
  list = g_task_new (NULL, cancellable, on_resume_listed, g_object_ref (task));
  g_task_set_source_tag (list, resume_worker);
  g_task_set_task_data (list, g_strdup (self->games_path), g_free);
  g_task_run_in_thread (list, resume_worker);
}

gboolean
lsp_download_manager_resume_finish (LspDownloadManager  *self,
                                    GAsyncResult        *result,
                                    GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
remove_worker (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  LspDownloadManager *self = source_object;
  GError *error = NULL;

  /* games_path is set at construction and never changes. */
  if (lsp_download_storage_remove_game (self->games_path, task_data, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
on_remove_refreshed (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = g_task_get_task_data (task);

  lsp_library_refresh_finish (LSP_LIBRARY (object), result, NULL);
  if (error != NULL)
    g_task_return_error (task, g_error_copy (error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_removed (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LspDownloadManager *self = g_task_get_source_object (task);
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_task_set_task_data (task, error, (GDestroyNotify) g_error_free);
  lsp_library_end_operation (self->library, g_object_get_data (G_OBJECT (task), "game-id"));
  lsp_library_refresh_async (self->library, NULL, on_remove_refreshed, g_object_ref (task));
}

/**
 * lsp_download_manager_remove_async:
 *
 * "Remove files": deletes a downloaded game that is not installed.
 */
void
lsp_download_manager_remove_async (LspDownloadManager  *self,
                                   const char          *game_id,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) work = NULL;
  GError *error = NULL;

  g_return_if_fail (LSP_IS_DOWNLOAD_MANAGER (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lsp_download_manager_remove_async);
  if (!lsp_game_id_is_valid (game_id) || lsp_catalog_lookup (lsp_library_get_catalog (self->library), game_id) == NULL)
    {
      g_task_return_new_error (task, LSP_ERROR, LSP_ERROR_NOT_FOUND, _("%s is not in this peer's game catalog"), game_id);
      return;
    }
  if (!lsp_library_begin_operation (self->library, game_id, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_object_set_data_full (G_OBJECT (task), "game-id", g_strdup (game_id), g_free);
  work = g_task_new (self, NULL, on_removed, g_object_ref (task));
  g_task_set_source_tag (work, remove_worker);
  g_task_set_task_data (work, g_strdup (game_id), g_free);
  g_task_run_in_thread (work, remove_worker);
}

gboolean
lsp_download_manager_remove_finish (LspDownloadManager  *self,
                                    GAsyncResult        *result,
                                    GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
lsp_download_manager_set_max_running (LspDownloadManager *self,
                                      guint               max_running)
{
  g_return_if_fail (LSP_IS_DOWNLOAD_MANAGER (self));
  g_return_if_fail (max_running > 0);

  self->max_running = max_running;
  start_queued (self);
}

/* 0 removes the limit. */
void
lsp_download_manager_set_rate_limit (LspDownloadManager *self,
                                     guint64             bytes_per_second)
{
  g_return_if_fail (LSP_IS_DOWNLOAD_MANAGER (self));

  lsp_rate_limit_init (&self->rate_limit, bytes_per_second);
  /* Downloads waiting for the old limit ask again under the new one. */
  for (guint i = 0; i < self->downloads->len; i++)
    {
      LspDownload *download = g_ptr_array_index (self->downloads, i);

      if (download->rate_timer_id != 0)
        {
          g_clear_handle_id (&download->rate_timer_id, g_source_remove);
          _lsp_download_pump (download);
        }
    }
}

void
lsp_download_manager_set_wait_timeout (LspDownloadManager *self,
                                       guint               seconds)
{
  g_return_if_fail (LSP_IS_DOWNLOAD_MANAGER (self));
  g_return_if_fail (seconds > 0);

  self->wait_seconds = seconds;
}

static void
lsp_download_manager_dispose (GObject *object)
{
  LspDownloadManager *self = LSP_DOWNLOAD_MANAGER (object);
  /* Running downloads hold a reference to us until they end: by now
   * none runs. */
  g_clear_object (&self->node);
  g_clear_object (&self->library);

  G_OBJECT_CLASS (lsp_download_manager_parent_class)->dispose (object);
}

static void
lsp_download_manager_finalize (GObject *object)
{
  LspDownloadManager *self = LSP_DOWNLOAD_MANAGER (object);

  g_clear_pointer (&self->downloads, g_ptr_array_unref);
  g_clear_pointer (&self->cancellables, g_hash_table_unref);
  g_clear_pointer (&self->stop_tasks, g_ptr_array_unref);
  g_clear_pointer (&self->games_path, g_free);

  G_OBJECT_CLASS (lsp_download_manager_parent_class)->finalize (object);
}

static void
lsp_download_manager_class_init (LspDownloadManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lsp_download_manager_dispose;
  object_class->finalize = lsp_download_manager_finalize;

  /**
   * LspDownloadManager::download-started:
   * @download: a queued download that begins to run
   */
  signals[DOWNLOAD_STARTED] =
    g_signal_new ("download-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, LSP_TYPE_DOWNLOAD);

  /**
   * LspDownloadManager::download-finished:
   * @download: the download, already out of the list
   * @error: (nullable): why it stopped; %G_IO_ERROR_CANCELLED after a cancel
   */
  signals[DOWNLOAD_FINISHED] =
    g_signal_new ("download-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, LSP_TYPE_DOWNLOAD, G_TYPE_ERROR);
}

static void
lsp_download_manager_init (LspDownloadManager *self)
{
  self->downloads = g_ptr_array_new_with_free_func (g_object_unref);
  self->cancellables = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_object_unref);
  self->max_running = LSP_DOWNLOAD_MANAGER_DEFAULT_MAX_RUNNING;
  self->wait_seconds = LSP_DOWNLOAD_DEFAULT_WAIT_SECONDS;
  lsp_rate_limit_init (&self->rate_limit, 0);
}

LspDownloadManager *
lsp_download_manager_new (LspNode    *node,
                          LspLibrary *library)
{
  LspDownloadManager *self;

  g_return_val_if_fail (LSP_IS_NODE (node), NULL);
  g_return_val_if_fail (LSP_IS_LIBRARY (library), NULL);

  self = g_object_new (LSP_TYPE_DOWNLOAD_MANAGER, NULL);
  self->node = g_object_ref (node);
  self->library = g_object_ref (library);
  self->games_path = g_file_get_path (lsp_library_get_games_dir (library));
  return self;
}
