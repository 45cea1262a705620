#define G_LOG_DOMAIN "lsp-download"

#include "config.h"

#include "lsp-download-private.h"

#include "lsp-error.h"
#include "lsp-fs.h"
#include "lsp-game-root.h"
#include "lsp-sha256.h"
#include "lsp-verify.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The end of a download: the commit (files synced, extras removed, the
 * sentinel last), or the rollback and sweep, or keeping the state for a
 * resume; then the library refresh, before the download reports. */

typedef struct
{
  char        *games_path;
  char        *game_id;
  LspManifest *manifest;
  char        *version;
  gboolean     commit;      /* else roll back and discard, */
  gboolean     repair;      /* or, for a repair, leave the game as it is */
  gboolean     staged;      /* an update: move the staged files in, or remove them */
  gboolean     keep_staged; /* unless suspended: then they are claims for the next try */
  LspDownloadState *keep;   /* unless suspended: then save this state */
} EndJob;

static void
end_job_free (EndJob *job)
{
  g_free (job->games_path);
  g_free (job->game_id);
  g_clear_pointer (&job->manifest, lsp_manifest_unref);
  g_free (job->version);
  lsp_download_state_free (job->keep);
  g_free (job);
}

static gboolean
sync_file (int          root_fd,
           const char  *path,
           GError     **error)
{
  int fd = lsp_download_storage_open_file (root_fd, path, O_RDONLY, error);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = fsync (fd) == 0 || lsp_error_set_errno (error, errno, _("Cannot write %s to disk"), path);
  close (fd);
  return ok;
}

/* Removes what the new version does not have (an update's old files),
 * below dir_fd at prefix; reserved names at the top are not payload. */
static gboolean
remove_extras (int          dir_fd,
               const char  *prefix,
               GHashTable  *keep,
               GError     **error)
{
  struct dirent *entry;
  gboolean ok = TRUE;
  DIR *dir;
  int fd = dup (dir_fd);

  if (fd < 0 || (dir = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      /* Translators: “the game folder” takes the place of the %s in “Cannot list %s”. */
      return lsp_error_set_errno (error, errno, _("Cannot list %s"), prefix[0] ? prefix : _("the game folder"));
    }
  while (ok && (entry = readdir (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      struct stat st;

      if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0 ||
          (prefix[0] == '\0' && lsp_game_child_is_reserved (entry->d_name)))
        continue;
      path = prefix[0] ? g_strconcat (prefix, "/", entry->d_name, NULL) : g_strdup (entry->d_name);
      if (g_hash_table_contains (keep, path) &&
          fstatat (dirfd (dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        {
          if (S_ISDIR (st.st_mode))
            {
              int sub = openat (dirfd (dir), entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

              ok = sub >= 0 ? remove_extras (sub, path, keep, error)
                            : lsp_error_set_errno (error, errno, _("Cannot open %s"), path);
              if (sub >= 0)
                close (sub);
            }
          continue;
        }
      ok = lsp_fs_remove_tree_at (dirfd (dir), entry->d_name, error);
    }
  closedir (dir);
  return ok;
}

static gboolean
commit (int           root_fd,
        EndJob       *job,
        GCancellable *cancellable,
        GError      **error)
{
  g_autoptr(GHashTable) keep = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < lsp_manifest_get_n_files (job->manifest); i++)
    {
      const LspManifestFile *file = lsp_manifest_get_file (job->manifest, i);
      g_autofree char *dir = g_strdup (file->path);
      char *slash;

      if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
          !sync_file (root_fd, file->path, error))
        return FALSE;
      g_hash_table_add (keep, g_strdup (file->path));
      while ((slash = strrchr (dir, '/')) != NULL)
        {
          *slash = '\0';
          g_hash_table_add (keep, g_strdup (dir));
        }
    }
  if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
      !remove_extras (root_fd, "", keep, error))
    return FALSE;
  fsync (root_fd);
  /* The last moment a cancel still wins: after this, the game is here. */
  if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
      !lsp_download_storage_commit_version (root_fd, job->version, error))
    return FALSE;
  lsp_download_storage_remove_state (root_fd);
  return TRUE;
}

/* The staged files are synced while the old version is still whole (a
 * cancel up to here leaves it so); then the sentinel is set aside, since
 * from the first move on the payload is neither version, and the new
 * files move in. A crash from here leaves no sentinel: the next download
 * keeps every file that verifies in place. */
static gboolean
commit_staged (int           root_fd,
               EndJob       *job,
               GCancellable *cancellable,
               GError      **error)
{
  int staging_fd = openat (root_fd, LSP_UPDATE_STAGING_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  g_autofree gboolean *staged = g_new0 (gboolean, lsp_manifest_get_n_files (job->manifest) + 1);
  gboolean ok = TRUE;

  if (staging_fd < 0)
    return lsp_error_set_errno (error, errno, _("Cannot open the update of %s"), job->game_id);
  for (guint i = 0; ok && i < lsp_manifest_get_n_files (job->manifest); i++)
    {
      const LspManifestFile *file = lsp_manifest_get_file (job->manifest, i);
      struct stat st;

      staged[i] = fstatat (staging_fd, file->path, &st, AT_SYMLINK_NOFOLLOW) == 0;
      ok = !g_cancellable_set_error_if_cancelled (cancellable, error) &&
           (!staged[i] || sync_file (staging_fd, file->path, error));
    }
  ok = ok && !g_cancellable_set_error_if_cancelled (cancellable, error) &&
       lsp_download_storage_begin_version (root_fd, error);
  for (guint i = 0; ok && i < lsp_manifest_get_n_files (job->manifest); i++)
    {
      if (staged[i])
        ok = lsp_download_storage_move_staged (staging_fd, root_fd, lsp_manifest_get_file (job->manifest, i)->path,
                                               error);
    }
  close (staging_fd);
  /* Once a file moved, the commit goes on: a cancel can no longer bring
   * the old version back. */
  return ok && lsp_fs_remove_tree_at (root_fd, LSP_UPDATE_STAGING_DIR, error) && commit (root_fd, job, NULL, error);
}

static void
end_worker (GTask        *task,
            gpointer      source_object,
            gpointer      task_data,
            GCancellable *cancellable)
{
  EndJob *job = task_data;
  g_autofree char *kept = lsp_download_manifest_path (job->games_path, lsp_manifest_get_hash (job->manifest));
  GError *error = NULL;
  int root_fd;

  if (job->keep == NULL)
    unlink (kept);
  if (job->repair && !job->commit)
    {
      /* Every chunk it wrote verified; the rest is as damaged as before. */
      g_task_return_boolean (task, FALSE);
      return;
    }
  if (job->staged)
    {
      root_fd = lsp_download_storage_open_root (job->games_path, job->game_id, FALSE, &error);
      if (root_fd >= 0 && job->commit && commit_staged (root_fd, job, cancellable, &error))
        {
          close (root_fd);
          g_task_return_boolean (task, TRUE);
          return;
        }
      /* The old version is as it was, unless the commit had begun to move
       * files in: then it is not claimed, and the next download reuses
       * what is there. */
      if (root_fd >= 0 && !job->keep_staged)
        {
          g_autoptr(GError) remove_error = NULL;

          if (!lsp_fs_remove_tree_at (root_fd, LSP_UPDATE_STAGING_DIR, &remove_error))
            g_warning ("Could not remove the update of %s: %s", job->game_id, remove_error->message);
        }
      if (root_fd >= 0)
        close (root_fd);
      if (error != NULL)
        g_task_return_error (task, error);
      else
        g_task_return_boolean (task, FALSE);
      return;
    }
  if (job->keep != NULL)
    {
      root_fd = lsp_download_storage_open_root (job->games_path, job->game_id, FALSE, &error);
      if (root_fd >= 0 && lsp_download_storage_write_state (root_fd, job->keep, &error))
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                 _("The download of %s stopped with the peer; it resumes at the next start"),
                                 job->game_id);
      else
        g_task_return_error (task, error);
      if (root_fd >= 0)
        close (root_fd);
      return;
    }
  if (job->commit)
    {
      root_fd = lsp_download_storage_open_root (job->games_path, job->game_id, FALSE, &error);
      if (root_fd >= 0 && commit (root_fd, job, cancellable, &error))
        {
          close (root_fd);
          if (job->repair)
            lsp_verify_clear_damaged (job->games_path, job->game_id);
          g_task_return_boolean (task, TRUE);
          return;
        }
      if (root_fd >= 0)
        close (root_fd);
      /* A commit that failed is a failed download: it is swept too,
       * unless it repaired a game that was there before. */
      if (job->repair)
        {
          g_task_return_error (task, error);
          return;
        }
    }

  root_fd = lsp_download_storage_open_root (job->games_path, job->game_id, FALSE, NULL);
  if (root_fd >= 0)
    {
      lsp_download_storage_rollback_version (root_fd);
      close (root_fd);
    }
  if (!lsp_download_storage_discard (job->games_path, job->game_id, error != NULL ? NULL : &error))
    g_warning ("Could not remove the partial download of %s", job->game_id);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, FALSE);
}

static void
on_refreshed (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(LspDownload) self = user_data;
  g_autoptr(GTask) task = g_steal_pointer (&self->task);

  lsp_library_refresh_finish (self->library, result, NULL);
  if (self->failure == NULL)
    {
      _lsp_download_set_phase (self, LSP_DOWNLOAD_DONE);
      g_task_return_boolean (task, TRUE);
      return;
    }
  _lsp_download_set_phase (self, g_error_matches (self->failure, G_IO_ERROR, G_IO_ERROR_CANCELLED)
                                   ? LSP_DOWNLOAD_CANCELLED : LSP_DOWNLOAD_FAILED);
  g_task_return_error (task, g_steal_pointer (&self->failure));
}

static void
end_operation (LspDownload *self)
{
  if (self->lock_held)
    {
      self->lock_held = FALSE;
      lsp_library_end_operation (self->library, self->game_id);
    }
  /* The library shows the game as it now is before anyone hears the end. */
  lsp_library_refresh_async (self->library, NULL, on_refreshed, g_object_ref (self));
}

static void
on_ended (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(LspDownload) self = user_data;
  g_autoptr(GError) error = NULL;

  self->workers--;
  if (g_task_propagate_boolean (G_TASK (result), &error))
    lsp_library_add_verified_manifest (self->library, self->manifest);
  else if (self->failure == NULL)
    self->failure = error != NULL ? g_steal_pointer (&error)
                                  : g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, _("The download of %s failed"),
                                                 self->game_id);
  else if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_warning ("%s: %s", self->game_id, error->message);
  end_operation (self);
}

/* Runs once nothing of ours is in flight: the last verified chunk, or the
 * first failure or cancel after every worker returned. */
void
_lsp_download_finish (LspDownload *self)
{
  g_autoptr(GTask) task = NULL;
  EndJob *job;

  self->finishing = TRUE;
  _lsp_download_withdraw (self);
  g_clear_handle_id (&self->wait_id, g_source_remove);
  g_clear_handle_id (&self->state_timer_id, g_source_remove);
  g_clear_handle_id (&self->rate_timer_id, g_source_remove);
  if (self->manifest_retry_id != 0)
    {
      g_clear_handle_id (&self->manifest_retry_id, g_source_remove);
      self->manifest_fetching = FALSE;
    }
  _lsp_download_stop_fetches (self);
  if (self->workers > 0 || self->ending)
    return;
  self->ending = TRUE;
  if (self->notify_timer_id != 0)
    _lsp_download_notify_progress (self);

  /* Suspended before the _lsp_download_prepare step finished: the disk is as it was. */
  if (!self->storage_begun || (self->suspended && self->failure != NULL && self->state == NULL))
    {
      end_operation (self);
      return;
    }

  if (self->failure == NULL)
    _lsp_download_set_phase (self, LSP_DOWNLOAD_VERIFYING);
  job = g_new0 (EndJob, 1);
  job->games_path = g_strdup (self->games_path);
  job->game_id = g_strdup (self->game_id);
  job->manifest = lsp_manifest_ref (self->manifest);
  job->version = g_strdup (self->version);
  job->commit = self->failure == NULL;
  job->repair = self->repair;
  job->staged = self->staged;
  /* A download that completed while the suspend was on its way commits;
   * an update keeps its staging folder, without a state: started again,
   * it hashes what is there. */
  if (self->suspended && self->failure != NULL && !self->repair && !self->staged)
    job->keep = lsp_download_state_copy (self->state);
  job->keep_staged = self->suspended && self->failure != NULL && self->staged;
  self->storage_begun = FALSE;
  self->workers++;
  if (job->commit)
    self->commit_cancellable = g_cancellable_new ();
  task = g_task_new (NULL, self->commit_cancellable, on_ended, g_object_ref (self));
  /* The worker's answer is the truth: a cancel that came too late does
   * not turn a committed game into a cancelled one. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_source_tag (task, _lsp_download_finish);
  g_task_set_task_data (task, job, (GDestroyNotify) end_job_free);
  g_task_run_in_thread (task, end_worker);
}

/* Takes error. The first failure wins; later ones are logged. */
void
_lsp_download_fail (LspDownload *self,
                    GError      *error)
{
  if (self->commit_cancellable != NULL && self->failure == NULL &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* Verifying: the commit stops before the sentinel and sweeps. */
      g_cancellable_cancel (self->commit_cancellable);
      g_error_free (error);
      return;
    }
  if (self->failure != NULL || self->task == NULL || self->ending)
    {
      g_debug ("%s: also: %s", self->game_id, error->message);
      g_error_free (error);
      return;
    }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_message ("%s: download failed: %s", self->game_id, error->message);
  self->failure = error;
  _lsp_download_withdraw (self);
  g_cancellable_cancel (self->stop);
  _lsp_download_finish (self);
}

static gboolean
on_cancelled_idle (gpointer user_data)
{
  LspDownload *self = user_data;

  _lsp_download_fail (self, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, _("The download of %s was cancelled"),
                                         self->game_id));
  return G_SOURCE_REMOVE;
}

void
_lsp_download_on_cancelled (GCancellable *cancellable,
              LspDownload  *self)
{
  /* The cancellable may fire inside anyone's callback, even our own;
   * the cancel takes effect from the main loop, at once. */
  self->cancel_requested = TRUE;
  g_idle_add_full (G_PRIORITY_HIGH, on_cancelled_idle, g_object_ref (self), g_object_unref);
}

static gboolean
on_suspend_idle (gpointer user_data)
{
  LspDownload *self = user_data;

  _lsp_download_fail (self, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                         _("The download of %s stopped with the peer; it resumes at the next start"),
                                         self->game_id));
  return G_SOURCE_REMOVE;
}

/* Stops like a cancel, but keeps the verified chunks and the resume state
 * for the next start: for quitting, not for the player's Cancel. */
void
lsp_download_suspend (LspDownload *self)
{
  g_return_if_fail (LSP_IS_DOWNLOAD (self));

  if (self->task == NULL || self->failure != NULL || self->ending || self->cancel_requested)
    return;
  self->suspended = TRUE;
  g_idle_add_full (G_PRIORITY_HIGH, on_suspend_idle, g_object_ref (self), g_object_unref);
}

void
lsp_download_cancel (LspDownload *self)
{
  g_return_if_fail (LSP_IS_DOWNLOAD (self));

  if (self->task != NULL && self->failure == NULL)
    {
      _lsp_download_withdraw (self);
      _lsp_download_on_cancelled (NULL, self);
    }
}
