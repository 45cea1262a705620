#define G_LOG_DOMAIN "lsp-download"

#include "config.h"

#include "lsp-download-private.h"

#include "lsp-error.h"
#include "lsp-fs.h"
#include "lsp-game-root.h"
#include "lsp-sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A download runs: plan (pick the newest version on the LAN and its
 * manifest), prepare (free space, the version.ini transaction, the resume
 * state, the files at their sizes), transfer (lsp-download-fetch.c), and
 * commit (the files synced, anything not in the manifest removed, the
 * sentinel written last). Cancel and failure roll the transaction back and
 * sweep the payload, keeping local/ and the install state. Every terminal
 * branch refreshes the library before the operation ends. */

/* Progress notifications are at most this often. */
#define NOTIFY_INTERVAL_MS 250
/* The resume state is written at most this often. */
#define STATE_INTERVAL_MS  1000
/* Peers busy with other manifests are asked again after this long. */
#define MANIFEST_RETRY_MS  1000

enum {
  PROP_0,
  PROP_GAME_ID,
  PROP_VERSION,
  PROP_PHASE,
  PROP_BYTES_DONE,
  PROP_BYTES_TOTAL,
  PROP_RATE,
  PROP_ETA,
  PROP_RESUMED,
  PROP_N_SOURCES,
  N_PROPS
};

enum {
  SOURCE_DROPPED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (LspDownload, lsp_download, G_TYPE_OBJECT)

static void choose_target (LspDownload *self);

const char *
lsp_download_phase_to_string (LspDownloadPhase phase)
{
  static const char * const names[] = {
    [LSP_DOWNLOAD_QUEUED] = "queued",
    [LSP_DOWNLOAD_PLANNING] = "planning",
    [LSP_DOWNLOAD_CONNECTING] = "connecting",
    [LSP_DOWNLOAD_TRANSFERRING] = "transferring",
    [LSP_DOWNLOAD_VERIFYING] = "verifying",
    [LSP_DOWNLOAD_WAITING] = "waiting",
    [LSP_DOWNLOAD_DONE] = "done",
    [LSP_DOWNLOAD_FAILED] = "failed",
    [LSP_DOWNLOAD_CANCELLED] = "cancelled",
  };

  g_return_val_if_fail (phase <= LSP_DOWNLOAD_CANCELLED, NULL);
  return names[phase];
}

void
_lsp_download_set_phase (LspDownload      *self,
                         LspDownloadPhase  phase)
{
  if (self->phase == phase)
    return;
  self->phase = phase;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PHASE]);
}

void
_lsp_download_source_dropped (LspDownload *self,
                              const char  *peer_id,
                              const char  *reason)
{
  g_message ("%s: dropping %.12s as a source: %s", self->game_id, peer_id, reason);
  g_signal_emit (self, signals[SOURCE_DROPPED], 0, peer_id, reason);
}

/* ---- progress ---- */

static void
update_rate (LspDownload *self)
{
  gint64 now = g_get_monotonic_time ();
  double elapsed = (now - self->rate_time) / (double) G_USEC_PER_SEC;

  if (elapsed < 0.2)
    return;
  self->rate = self->rate > 0 ? 0.6 * self->rate + 0.4 * (self->rate_bytes / elapsed)
                              : self->rate_bytes / elapsed;
  self->rate_bytes = 0;
  self->rate_time = now;
}

static void
notify_progress (LspDownload *self)
{
  g_clear_handle_id (&self->notify_timer_id, g_source_remove);
  self->notified_at = g_get_monotonic_time ();
  update_rate (self);
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_DONE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RATE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ETA]);
  g_object_thaw_notify (G_OBJECT (self));
}

static gboolean
on_notify_timer (gpointer user_data)
{
  LspDownload *self = user_data;

  self->notify_timer_id = 0;
  notify_progress (self);
  return G_SOURCE_REMOVE;
}

/* Progress goes out at once when the last notification is old enough, or
 * when the interval has passed; never more often. */
void
_lsp_download_progress_changed (LspDownload *self)
{
  gint64 since = (g_get_monotonic_time () - self->notified_at) / 1000;

  if (since >= NOTIFY_INTERVAL_MS)
    notify_progress (self);
  else if (self->notify_timer_id == 0)
    self->notify_timer_id = g_timeout_add (NOTIFY_INTERVAL_MS - since, on_notify_timer, self);
}

/* ---- the resume state ---- */

typedef struct
{
  char             *games_path;
  char             *game_id;
  LspDownloadState *state;
} StateJob;

static void
state_job_free (StateJob *job)
{
  g_free (job->games_path);
  g_free (job->game_id);
  lsp_download_state_free (job->state);
  g_free (job);
}

static void
save_state_worker (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  StateJob *job = task_data;
  GError *error = NULL;
  int root_fd = lsp_download_storage_open_root (job->games_path, job->game_id, FALSE, &error);

  if (root_fd >= 0 && lsp_download_storage_write_state (root_fd, job->state, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
  if (root_fd >= 0)
    close (root_fd);
}

static void save_state (LspDownload *self);

static void
on_state_saved (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(LspDownload) self = user_data;
  g_autoptr(GError) error = NULL;

  self->state_saving = FALSE;
  self->workers--;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_warning ("%s: could not save the download state: %s", self->game_id, error->message);
  if (self->finishing)
    {
      _lsp_download_finish (self);
      return;
    }
  if (self->state_dirty)
    save_state (self);
}

static gboolean
on_state_timer (gpointer user_data)
{
  LspDownload *self = user_data;

  self->state_timer_id = 0;
  save_state (self);
  return G_SOURCE_REMOVE;
}

/* Written when verified chunks changed, at most once a second, and one
 * write at a time; a crash loses at most that second's chunks. */
static void
save_state (LspDownload *self)
{
  gint64 since = (g_get_monotonic_time () - self->state_saved_at) / 1000;
  g_autoptr(GTask) task = NULL;
  StateJob *job;

  if (!self->state_dirty || self->state_saving || self->finishing)
    return;
  if (since < STATE_INTERVAL_MS)
    {
      if (self->state_timer_id == 0)
        self->state_timer_id = g_timeout_add (STATE_INTERVAL_MS - since, on_state_timer, self);
      return;
    }

  job = g_new0 (StateJob, 1);
  job->games_path = g_strdup (self->games_path);
  job->game_id = g_strdup (self->game_id);
  job->state = lsp_download_state_copy (self->state);
  self->state_dirty = FALSE;
  self->state_saving = TRUE;
  self->state_saved_at = g_get_monotonic_time ();
  self->workers++;
  task = g_task_new (NULL, NULL, on_state_saved, g_object_ref (self));
  g_task_set_source_tag (task, save_state);
  g_task_set_task_data (task, job, (GDestroyNotify) state_job_free);
  g_task_run_in_thread (task, save_state_worker);
}

void
_lsp_download_chunk_done (LspDownload *self,
                          Chunk       *chunk,
                          Source      *source)
{
  chunk->state = CHUNK_DONE;
  self->n_done++;
  self->bytes_done += chunk->length;
  self->rate_bytes += chunk->length;
  lsp_download_state_set (self->state, chunk->index);
  self->state_dirty = TRUE;
  save_state (self);
  _lsp_download_progress_changed (self);
  if (self->n_done == self->chunks->len)
    _lsp_download_finish (self);
}

/* ---- waiting for sources ---- */

static gboolean
on_wait_timeout (gpointer user_data)
{
  LspDownload *self = user_data;
  g_autofree char *minutes = g_strdup_printf ("%u", MAX (self->wait_seconds / 60, 1));

  self->wait_id = 0;
  _lsp_download_fail (self, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                         "No player on the network has had %s%s%s for %s minute(s); "
                                         "the download stopped. Try again when a player who has it is back.",
                                         self->game_id, self->version ? " " : "",
                                         self->version ? self->version : "", minutes));
  return G_SOURCE_REMOVE;
}

/* With no source, the download waits (visibly) and resumes by itself when
 * one comes back; it fails only after the wait timeout. */
void
_lsp_download_check_waiting (LspDownload *self)
{
  gboolean starved;

  if (self->finishing || self->phase == LSP_DOWNLOAD_VERIFYING)
    return;
  starved = self->manifest_hash == NULL || self->sources->len == 0;
  if (starved)
    {
      _lsp_download_set_phase (self, LSP_DOWNLOAD_WAITING);
      if (self->wait_id == 0)
        self->wait_id = g_timeout_add_seconds (self->wait_seconds, on_wait_timeout, self);
      return;
    }
  g_clear_handle_id (&self->wait_id, g_source_remove);
  if (self->phase == LSP_DOWNLOAD_WAITING)
    _lsp_download_set_phase (self, self->bytes_received > 0 ? LSP_DOWNLOAD_TRANSFERRING : LSP_DOWNLOAD_CONNECTING);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_SOURCES]);
}

static void
on_peer_games_changed (LspPeer            *peer,
                       const char * const *changed,
                       const char * const *removed,
                       LspDownload        *self)
{
  if (self->manifest_hash == NULL)
    choose_target (self);
  else
    {
      _lsp_download_refresh_sources (self);
      _lsp_download_pump (self);
    }
}

static void
watch_peers (LspDownload *self)
{
  GListModel *peers = G_LIST_MODEL (self->node);

  for (guint i = 0; i < g_list_model_get_n_items (peers); i++)
    {
      g_autoptr(LspPeer) peer = g_list_model_get_item (peers, i);

      if (g_ptr_array_find (self->watched_peers, peer, NULL))
        continue;
      g_signal_connect_object (peer, "games-changed", G_CALLBACK (on_peer_games_changed), self, 0);
      g_ptr_array_add (self->watched_peers, g_object_ref (peer));
    }
}

static void
on_peers_changed (GListModel  *model,
                  guint        position,
                  guint        removed,
                  guint        added,
                  LspDownload *self)
{
  if (self->finishing)
    return;
  watch_peers (self);
  on_peer_games_changed (NULL, NULL, NULL, self);
}

/* ---- ending ---- */

typedef struct
{
  char        *games_path;
  char        *game_id;
  LspManifest *manifest;
  char        *version;
  gboolean     commit;      /* else roll back and discard, */
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
  ok = fsync (fd) == 0 || lsp_error_set_errno (error, errno, "Cannot write %s to disk", path);
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
      return lsp_error_set_errno (error, errno, "Cannot list %s", prefix[0] ? prefix : "the game folder");
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
                            : lsp_error_set_errno (error, errno, "Cannot open %s", path);
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
  if (job->keep != NULL)
    {
      root_fd = lsp_download_storage_open_root (job->games_path, job->game_id, FALSE, &error);
      if (root_fd >= 0 && lsp_download_storage_write_state (root_fd, job->keep, &error))
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                 "The download of %s stopped with the peer; it resumes at the next start",
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
          g_task_return_boolean (task, TRUE);
          return;
        }
      if (root_fd >= 0)
        close (root_fd);
      /* A commit that failed is a failed download: it is swept too. */
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
                                  : g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "The download of %s failed",
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
    notify_progress (self);

  /* Suspended before the prepare step finished: the disk is as it was. */
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
  /* A download that completed while the suspend was on its way commits. */
  if (self->suspended && self->failure != NULL)
    job->keep = lsp_download_state_copy (self->state);
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
  g_cancellable_cancel (self->stop);
  _lsp_download_finish (self);
}

static gboolean
on_cancelled_idle (gpointer user_data)
{
  LspDownload *self = user_data;

  _lsp_download_fail (self, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The download of %s was cancelled",
                                         self->game_id));
  return G_SOURCE_REMOVE;
}

static void
on_cancelled (GCancellable *cancellable,
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
                                         "The download of %s stopped with the peer; it resumes at the next start",
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
    on_cancelled (NULL, self);
}

/* ---- preparing the files ---- */

typedef struct
{
  char             *games_path;
  char             *game_id;
  LspManifest      *manifest;
  LspDownloadState *state;      /* out: what is verified already */
  gboolean          touched;    /* out: the game root was changed */
} PrepareJob;

static void
prepare_job_free (PrepareJob *job)
{
  g_free (job->games_path);
  g_free (job->game_id);
  g_clear_pointer (&job->manifest, lsp_manifest_unref);
  lsp_download_state_free (job->state);
  g_free (job);
}

static guint64
bytes_needed (const char  *games_path,
              const char  *game_id,
              LspManifest *manifest)
{
  int root_fd = lsp_download_storage_open_root (games_path, game_id, FALSE, NULL);
  guint64 needed = 0;

  for (guint i = 0; i < lsp_manifest_get_n_files (manifest); i++)
    {
      const LspManifestFile *file = lsp_manifest_get_file (manifest, i);
      struct stat st;
      guint64 have = 0;

      if (root_fd >= 0 && fstatat (root_fd, file->path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode))
        have = MIN ((guint64) st.st_blocks * 512, (guint64) st.st_size);
      needed += file->size > have ? file->size - have : 0;
    }
  if (root_fd >= 0)
    close (root_fd);
  return needed;
}

/* A state file claims verified chunks; each is hashed again before it is
 * believed, since the files may have changed since it was written. */
static void
verify_claims (int               root_fd,
               LspManifest      *manifest,
               LspDownloadState *claimed,
               LspDownloadState *state,
               GCancellable     *cancellable)
{
  g_autofree guint8 *buffer = g_malloc (LSP_MANIFEST_CHUNK_SIZE);
  guint first = 0;

  for (guint i = 0; i < lsp_manifest_get_n_files (manifest); first += lsp_manifest_get_file (manifest, i)->n_chunks, i++)
    {
      const LspManifestFile *file = lsp_manifest_get_file (manifest, i);
      int fd = -1;

      for (guint c = 0; c < file->n_chunks; c++)
        {
          guint index = first + c;
          guint64 offset = (guint64) c * LSP_MANIFEST_CHUNK_SIZE;
          gsize length = (gsize) MIN ((guint64) LSP_MANIFEST_CHUNK_SIZE, file->size - offset);
          guint8 digest[LSP_SHA256_LEN];

          if (!lsp_download_state_get (claimed, index) || g_cancellable_is_cancelled (cancellable))
            continue;
          if (fd < 0 && (fd = lsp_download_storage_open_file (root_fd, file->path, O_RDONLY, NULL)) < 0)
            break;
          if (pread (fd, buffer, length, (off_t) offset) != (ssize_t) length)
            continue;
          lsp_sha256_buffer (buffer, length, digest);
          if (memcmp (digest, file->chunk_hashes + (gsize) c * LSP_SHA256_LEN, LSP_SHA256_LEN) == 0)
            lsp_download_state_set (state, index);
        }
      if (fd >= 0)
        close (fd);
    }
}

static guint
count_chunks (LspManifest *manifest)
{
  guint n = 0;

  for (guint i = 0; i < lsp_manifest_get_n_files (manifest); i++)
    n += lsp_manifest_get_file (manifest, i)->n_chunks;
  return n;
}

static void
prepare_worker (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  PrepareJob *job = task_data;
  g_autoptr(LspDownloadState) claimed = NULL;
  g_autoptr(GError) state_error = NULL;
  GError *error = NULL;
  int root_fd;

  /* Nothing is written before the space check. */
  if (!lsp_download_storage_check_space (job->games_path, bytes_needed (job->games_path, job->game_id, job->manifest),
                                         &error))
    {
      g_task_return_error (task, error);
      return;
    }
  root_fd = lsp_download_storage_open_root (job->games_path, job->game_id, TRUE, &error);
  if (root_fd < 0)
    {
      g_task_return_error (task, error);
      return;
    }
  job->touched = TRUE;
  job->state = lsp_download_state_new (lsp_manifest_get_hash (job->manifest), count_chunks (job->manifest));
  claimed = lsp_download_storage_read_state (root_fd, &state_error);
  if (claimed != NULL && g_str_equal (claimed->manifest_hash, job->state->manifest_hash) &&
      claimed->n_chunks == job->state->n_chunks)
    verify_claims (root_fd, job->manifest, claimed, job->state, cancellable);
  /* Stopped while checking: what is on disk, state file included, stays
   * as it was for the next start. */
  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      close (root_fd);
      g_clear_pointer (&job->state, lsp_download_state_free);
      g_task_return_error (task, error);
      return;
    }

  /* The state file goes first: from here on the payload is a download's,
   * and recovery knows it. */
  if (!lsp_download_storage_begin_version (root_fd, &error) ||
      !lsp_download_storage_write_state (root_fd, job->state, &error) ||
      !lsp_download_storage_prepare (root_fd, job->manifest, cancellable, &error))
    {
      close (root_fd);
      g_task_return_error (task, error);
      return;
    }
  close (root_fd);
  g_task_return_boolean (task, TRUE);
}

static void
build_chunks (LspDownload *self)
{
  guint index = 0;

  for (guint i = 0; i < lsp_manifest_get_n_files (self->manifest); i++)
    {
      const LspManifestFile *file = lsp_manifest_get_file (self->manifest, i);

      for (guint c = 0; c < file->n_chunks; c++, index++)
        {
          Chunk chunk = { 0 };

          chunk.index = index;
          chunk.file = i;
          chunk.offset = (guint64) c * LSP_MANIFEST_CHUNK_SIZE;
          chunk.length = (guint32) MIN ((guint64) LSP_MANIFEST_CHUNK_SIZE, file->size - chunk.offset);
          chunk.hash = file->chunk_hashes + (gsize) c * LSP_SHA256_LEN;
          chunk.state = lsp_download_state_get (self->state, index) ? CHUNK_DONE : CHUNK_MISSING;
          if (chunk.state == CHUNK_DONE)
            {
              self->n_done++;
              self->bytes_resumed += chunk.length;
            }
          g_array_append_val (self->chunks, chunk);
        }
    }
  self->bytes_done = self->bytes_resumed;
  self->resumed = self->bytes_resumed > 0;
}

static void
on_prepared (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(LspDownload) self = user_data;
  PrepareJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  self->workers--;
  self->storage_begun = job->touched;
  if (job->state != NULL)
    self->state = g_steal_pointer (&job->state);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (!self->finishing)
        _lsp_download_fail (self, g_steal_pointer (&error));
      else
        _lsp_download_finish (self);
      return;
    }
  if (self->finishing)
    {
      _lsp_download_finish (self);
      return;
    }

  build_chunks (self);
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RESUMED]);
  notify_progress (self);
  g_object_thaw_notify (G_OBJECT (self));
  if (self->n_done == self->chunks->len)
    {
      _lsp_download_finish (self);
      return;
    }
  _lsp_download_set_phase (self, LSP_DOWNLOAD_CONNECTING);
  _lsp_download_refresh_sources (self);
  _lsp_download_pump (self);
}

static void
prepare (LspDownload *self)
{
  g_autoptr(GTask) task = NULL;
  PrepareJob *job = g_new0 (PrepareJob, 1);

  self->bytes_total = lsp_manifest_get_total_size (self->manifest);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_TOTAL]);
  job->games_path = g_strdup (self->games_path);
  job->game_id = g_strdup (self->game_id);
  job->manifest = lsp_manifest_ref (self->manifest);
  self->workers++;
  task = g_task_new (NULL, self->stop, on_prepared, g_object_ref (self));
  g_task_set_source_tag (task, prepare);
  g_task_set_task_data (task, job, (GDestroyNotify) prepare_job_free);
  g_task_run_in_thread (task, prepare_worker);
}

/* ---- the manifest ---- */

static void fetch_manifest_from (LspDownload *self, guint next);
static gboolean on_manifest_retry (gpointer user_data);

typedef struct
{
  LspDownload *download;
  guint        next;       /* the next peer to ask, in the node's order */
} ManifestCall;

static gboolean
offers_target (LspDownload *self,
               LspPeer     *peer)
{
  const LspGameSummary *game = lsp_peer_lookup_game (peer, self->game_id);

  return game != NULL && game->availability == LSP_AVAILABILITY_READY &&
         g_strcmp0 (game->manifest_hash, self->manifest_hash) == 0 &&
         lsp_node_get_connection (self->node, lsp_peer_get_id (peer)) != NULL;
}

static void
store_manifest_worker (GTask        *task,
                       gpointer      source_object,
                       gpointer      task_data,
                       GCancellable *cancellable)
{
  LspDownload *self = source_object;
  g_autoptr(GError) error = NULL;

  /* The games path is set at construction and never changes. */
  if (!lsp_download_manifest_store (self->games_path, task_data, &error))
    g_warning ("Could not cache the manifest of %s: %s", self->game_id, error->message);
  g_task_return_boolean (task, TRUE);
}

static void
on_manifest_stored (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  LspDownload *self = LSP_DOWNLOAD (object);

  self->workers--;
  if (self->finishing)
    _lsp_download_finish (self);
  else
    prepare (self);
}

static void
use_manifest (LspDownload *self,
              LspManifest *manifest,
              gboolean     store)
{
  g_autoptr(GTask) task = NULL;

  self->manifest = lsp_manifest_ref (manifest);
  if (!store)
    {
      prepare (self);
      return;
    }
  self->workers++;
  task = g_task_new (self, NULL, on_manifest_stored, NULL);
  g_task_set_source_tag (task, use_manifest);
  g_task_set_task_data (task, lsp_manifest_ref (manifest), (GDestroyNotify) lsp_manifest_unref);
  g_task_run_in_thread (task, store_manifest_worker);
}

static void
on_manifest_fetched (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  ManifestCall *call = user_data;
  g_autoptr(LspDownload) self = call->download;
  guint next = call->next;
  g_autoptr(GError) error = NULL;
  g_autoptr(LspManifest) manifest = lsp_node_fetch_manifest_finish (self->node, result, &error);

  g_free (call);
  self->manifest_fetching = FALSE;
  if (self->finishing)
    {
      _lsp_download_finish (self);
      return;
    }
  if (manifest == NULL)
    {
      g_debug ("%s: manifest fetch failed: %s", self->game_id, error->message);
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BUSY))
        self->manifest_busy = TRUE;
      fetch_manifest_from (self, next);
      return;
    }
  use_manifest (self, manifest, TRUE);
}

static gboolean
on_manifest_retry (gpointer user_data)
{
  LspDownload *self = user_data;

  self->manifest_retry_id = 0;
  self->manifest_fetching = FALSE;
  fetch_manifest_from (self, 0);
  return G_SOURCE_REMOVE;
}

/* Asks the sources for the manifest, one after the other; with none left,
 * the download waits for one. */
static void
fetch_manifest_from (LspDownload *self,
                     guint        next)
{
  GListModel *peers = G_LIST_MODEL (self->node);

  for (guint i = next; i < g_list_model_get_n_items (peers); i++)
    {
      g_autoptr(LspPeer) peer = g_list_model_get_item (peers, i);
      ManifestCall *call;

      if (!offers_target (self, peer))
        continue;
      call = g_new0 (ManifestCall, 1);
      call->download = g_object_ref (self);
      call->next = i + 1;
      self->manifest_fetching = TRUE;
      lsp_node_fetch_manifest_async (self->node, lsp_peer_get_id (peer), self->game_id, self->manifest_hash,
                                     self->stop, on_manifest_fetched, call);
      return;
    }
  if (self->manifest_busy)
    {
      /* Peers that have it are reading other manifests: ask again soon. */
      self->manifest_busy = FALSE;
      self->manifest_fetching = TRUE;
      self->manifest_retry_id = g_timeout_add (MANIFEST_RETRY_MS, on_manifest_retry, self);
      return;
    }
  g_clear_pointer (&self->manifest_hash, g_free);
  g_clear_pointer (&self->version, g_free);
  _lsp_download_check_waiting (self);
}

static void
load_cached_worker (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  const char * const *args = task_data;
  LspManifest *manifest = lsp_manifest_cache_load (args[0], args[1], NULL);

  g_task_return_pointer (task, manifest, manifest != NULL ? (GDestroyNotify) lsp_manifest_unref : NULL);
}

static void
on_cached_loaded (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(LspDownload) self = user_data;
  g_autoptr(LspManifest) manifest = g_task_propagate_pointer (G_TASK (result), NULL);

  self->workers--;
  self->manifest_fetching = FALSE;
  if (self->finishing)
    _lsp_download_finish (self);
  else if (manifest != NULL)
    use_manifest (self, manifest, FALSE);
  else
    fetch_manifest_from (self, 0);
}

/* The newest version on the LAN wins; of the manifests offered for it,
 * the one most peers have (they are all sources). */
static void
choose_target (LspDownload *self)
{
  GListModel *peers = G_LIST_MODEL (self->node);
  g_autoptr(GHashTable) votes = g_hash_table_new (g_str_hash, g_str_equal);
  const char *best_version = NULL, *best_hash = NULL;
  guint best_votes = 0;
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  LspLocalGame *local;
  g_autoptr(GTask) task = NULL;
  char **args;

  if (self->finishing || self->manifest_hash != NULL || self->manifest_fetching)
    return;

  for (guint i = 0; i < g_list_model_get_n_items (peers); i++)
    {
      LspPeer *peer = g_list_model_get_item (peers, i);
      const LspGameSummary *game = lsp_peer_lookup_game (peer, self->game_id);

      g_ptr_array_add (held, peer);
      if (game == NULL || game->availability != LSP_AVAILABILITY_READY || game->version == NULL ||
          game->manifest_hash == NULL || lsp_node_get_connection (self->node, lsp_peer_get_id (peer)) == NULL)
        continue;
      if (best_version == NULL || lsp_version_compare (game->version, best_version) > 0)
        {
          best_version = game->version;
          g_hash_table_remove_all (votes);
          best_votes = 0;
        }
      if (lsp_version_compare (game->version, best_version) == 0)
        {
          guint n = GPOINTER_TO_UINT (g_hash_table_lookup (votes, game->manifest_hash)) + 1;

          g_hash_table_insert (votes, game->manifest_hash, GUINT_TO_POINTER (n));
          if (n > best_votes)
            {
              best_votes = n;
              best_hash = game->manifest_hash;
            }
        }
    }
  if (best_hash == NULL)
    {
      _lsp_download_check_waiting (self);
      return;
    }

  local = lsp_library_lookup (self->library, self->game_id);
  if (local != NULL && lsp_local_game_get_downloaded (local) &&
      g_strcmp0 (lsp_local_game_get_manifest_hash (local), best_hash) == 0)
    {
      /* Nothing to fetch: the newest version on the LAN is the one here. */
      self->version = g_strdup (best_version);
      _lsp_download_finish (self);
      return;
    }

  self->version = g_strdup (best_version);
  self->manifest_hash = g_strdup (best_hash);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VERSION]);
  g_clear_handle_id (&self->wait_id, g_source_remove);
  _lsp_download_set_phase (self, LSP_DOWNLOAD_PLANNING);

  self->workers++;
  self->manifest_fetching = TRUE;
  task = g_task_new (NULL, NULL, on_cached_loaded, g_object_ref (self));
  args = g_new0 (char *, 3);
  args[0] = g_strdup (self->games_path);
  args[1] = g_strdup (self->manifest_hash);
  g_task_set_source_tag (task, choose_target);
  g_task_set_task_data (task, args, (GDestroyNotify) g_strfreev);
  g_task_run_in_thread (task, load_cached_worker);
}

/* ---- public API ---- */

/**
 * lsp_download_run_async:
 *
 * Downloads the game from every connected peer that offers its newest
 * version. Completes when the sentinel is written and the library shows
 * the game, or with the reason it stopped (%G_IO_ERROR_CANCELLED after a
 * cancel), once the partial payload is gone and the library refreshed.
 */
void
lsp_download_run_async (LspDownload         *self,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (LSP_IS_DOWNLOAD (self));
  g_return_if_fail (self->task == NULL && self->phase == LSP_DOWNLOAD_QUEUED);

  self->task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (self->task, lsp_download_run_async);
  _lsp_download_set_phase (self, LSP_DOWNLOAD_PLANNING);

  if (lsp_catalog_lookup (lsp_library_get_catalog (self->library), self->game_id) == NULL)
    {
      _lsp_download_fail (self, g_error_new (LSP_ERROR, LSP_ERROR_NOT_FOUND,
                                             "%s is not in this peer's game catalog; add it to the catalog "
                                             "to download it", self->game_id));
      return;
    }
  if (!lsp_library_begin_operation (self->library, self->game_id, &error))
    {
      _lsp_download_fail (self, g_steal_pointer (&error));
      return;
    }
  self->lock_held = TRUE;
  if (cancellable != NULL)
    {
      self->external = g_object_ref (cancellable);
      self->cancel_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), self, NULL);
    }

  g_signal_connect_object (self->node, "items-changed", G_CALLBACK (on_peers_changed), self, 0);
  watch_peers (self);
  choose_target (self);
}

gboolean
lsp_download_run_finish (LspDownload   *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
lsp_download_set_wait_timeout (LspDownload *self,
                               guint        seconds)
{
  g_return_if_fail (LSP_IS_DOWNLOAD (self));
  g_return_if_fail (seconds > 0);

  self->wait_seconds = seconds;
}

const char *
lsp_download_get_game_id (LspDownload *self)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), NULL);
  return self->game_id;
}

const char *
lsp_download_get_version (LspDownload *self)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), NULL);
  return self->version;
}

LspDownloadPhase
lsp_download_get_phase (LspDownload *self)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), LSP_DOWNLOAD_FAILED);
  return self->phase;
}

guint64
lsp_download_get_bytes_done (LspDownload *self)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), 0);
  return self->bytes_done;
}

guint64
lsp_download_get_bytes_total (LspDownload *self)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), 0);
  return self->bytes_total;
}

/* Bytes that were verified on disk when the download started. */
guint64
lsp_download_get_bytes_resumed (LspDownload *self)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), 0);
  return self->bytes_resumed;
}

/* Bytes received from peers, counting chunks that failed verification. */
guint64
lsp_download_get_bytes_received (LspDownload *self)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), 0);
  return self->bytes_received;
}

guint64
lsp_download_get_rate (LspDownload *self)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), 0);
  return (guint64) self->rate;
}

/* Seconds left at the current rate, or -1 when unknown. */
gint64
lsp_download_get_eta (LspDownload *self)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), -1);

  if (self->rate < 1.0 || self->bytes_total == 0)
    return -1;
  return (gint64) ((self->bytes_total - self->bytes_done) / self->rate);
}

gboolean
lsp_download_get_resumed (LspDownload *self)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), FALSE);
  return self->resumed;
}

guint
lsp_download_get_n_sources (LspDownload *self)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), 0);
  return self->sources->len;
}

/**
 * lsp_download_dup_peer_bytes:
 *
 * Returns: (transfer full): peer_id → guint64 * of verified bytes each
 *   source contributed, for every source this download had
 */
GHashTable *
lsp_download_dup_peer_bytes (LspDownload *self)
{
  GHashTable *copy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter iter;
  gpointer key, value;

  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), copy);

  g_hash_table_iter_init (&iter, self->peer_bytes);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (copy, g_strdup (key), g_memdup2 (value, sizeof (guint64)));
  return copy;
}

static void
lsp_download_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  LspDownload *self = LSP_DOWNLOAD (object);

  switch (prop_id)
    {
    case PROP_GAME_ID:
      g_value_set_string (value, self->game_id);
      break;
    case PROP_VERSION:
      g_value_set_string (value, self->version);
      break;
    case PROP_PHASE:
      g_value_set_uint (value, self->phase);
      break;
    case PROP_BYTES_DONE:
      g_value_set_uint64 (value, self->bytes_done);
      break;
    case PROP_BYTES_TOTAL:
      g_value_set_uint64 (value, self->bytes_total);
      break;
    case PROP_RATE:
      g_value_set_uint64 (value, lsp_download_get_rate (self));
      break;
    case PROP_ETA:
      g_value_set_int64 (value, lsp_download_get_eta (self));
      break;
    case PROP_RESUMED:
      g_value_set_boolean (value, self->resumed);
      break;
    case PROP_N_SOURCES:
      g_value_set_uint (value, self->sources->len);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lsp_download_dispose (GObject *object)
{
  LspDownload *self = LSP_DOWNLOAD (object);

  /* Running work holds a reference: a download is only disposed when it
   * has ended or never started. */
  g_assert (self->workers == 0);
  if (self->external != NULL)
    g_cancellable_disconnect (self->external, self->cancel_handler);
  self->cancel_handler = 0;
  g_clear_object (&self->external);
  g_clear_handle_id (&self->wait_id, g_source_remove);
  g_clear_handle_id (&self->notify_timer_id, g_source_remove);
  g_clear_handle_id (&self->state_timer_id, g_source_remove);
  g_clear_handle_id (&self->rate_timer_id, g_source_remove);
  g_clear_handle_id (&self->manifest_retry_id, g_source_remove);
  if (self->fetches != NULL)
    _lsp_download_stop_fetches (self);
  if (self->sources != NULL)
    g_ptr_array_set_size (self->sources, 0);
  if (self->watched_peers != NULL)
    {
      for (guint i = 0; i < self->watched_peers->len; i++)
        g_signal_handlers_disconnect_by_data (g_ptr_array_index (self->watched_peers, i), self);
      g_ptr_array_set_size (self->watched_peers, 0);
    }
  if (self->node != NULL)
    g_signal_handlers_disconnect_by_data (self->node, self);
  g_clear_object (&self->node);
  g_clear_object (&self->library);

  G_OBJECT_CLASS (lsp_download_parent_class)->dispose (object);
}

static void
lsp_download_finalize (GObject *object)
{
  LspDownload *self = LSP_DOWNLOAD (object);

  g_clear_object (&self->task);
  g_clear_object (&self->stop);
  g_clear_object (&self->commit_cancellable);
  g_clear_error (&self->failure);
  g_clear_pointer (&self->game_id, g_free);
  g_clear_pointer (&self->games_path, g_free);
  g_clear_pointer (&self->version, g_free);
  g_clear_pointer (&self->manifest_hash, g_free);
  g_clear_pointer (&self->manifest, lsp_manifest_unref);
  g_clear_pointer (&self->chunks, g_array_unref);
  g_clear_pointer (&self->sources, g_ptr_array_unref);
  g_clear_pointer (&self->fetches, g_ptr_array_unref);
  g_clear_pointer (&self->peer_bytes, g_hash_table_unref);
  g_clear_pointer (&self->watched_peers, g_ptr_array_unref);
  g_clear_pointer (&self->banned, g_hash_table_unref);
  g_clear_pointer (&self->state, lsp_download_state_free);

  G_OBJECT_CLASS (lsp_download_parent_class)->finalize (object);
}

static void
lsp_download_class_init (LspDownloadClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->get_property = lsp_download_get_property;
  object_class->dispose = lsp_download_dispose;
  object_class->finalize = lsp_download_finalize;

  properties[PROP_GAME_ID] = g_param_spec_string ("game-id", NULL, NULL, NULL, flags);
  properties[PROP_VERSION] = g_param_spec_string ("version", NULL, NULL, NULL, flags);
  properties[PROP_PHASE] = g_param_spec_uint ("phase", NULL, NULL, 0, LSP_DOWNLOAD_CANCELLED,
                                              LSP_DOWNLOAD_QUEUED, flags);
  properties[PROP_BYTES_DONE] = g_param_spec_uint64 ("bytes-done", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_BYTES_TOTAL] = g_param_spec_uint64 ("bytes-total", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_RATE] = g_param_spec_uint64 ("rate", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_ETA] = g_param_spec_int64 ("eta", NULL, NULL, -1, G_MAXINT64, -1, flags);
  properties[PROP_RESUMED] = g_param_spec_boolean ("resumed", NULL, NULL, FALSE, flags);
  properties[PROP_N_SOURCES] = g_param_spec_uint ("n-sources", NULL, NULL, 0, G_MAXUINT, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * LspDownload::source-dropped:
   * @peer_id: the peer
   * @reason: why it is no longer asked
   */
  signals[SOURCE_DROPPED] =
    g_signal_new ("source-dropped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
lsp_download_init (LspDownload *self)
{
  self->stop = g_cancellable_new ();
  self->chunks = g_array_new (FALSE, TRUE, sizeof (Chunk));
  self->sources = g_ptr_array_new_with_free_func ((GDestroyNotify) _lsp_download_source_free);
  self->fetches = g_ptr_array_new ();
  self->peer_bytes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->watched_peers = g_ptr_array_new_with_free_func (g_object_unref);
  self->banned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->wait_seconds = LSP_DOWNLOAD_DEFAULT_WAIT_SECONDS;
  self->rate_time = g_get_monotonic_time ();
}

LspDownload *
lsp_download_new (LspNode    *node,
                  LspLibrary *library,
                  const char *game_id)
{
  LspDownload *self;

  g_return_val_if_fail (LSP_IS_NODE (node), NULL);
  g_return_val_if_fail (LSP_IS_LIBRARY (library), NULL);
  g_return_val_if_fail (game_id != NULL, NULL);

  self = g_object_new (LSP_TYPE_DOWNLOAD, NULL);
  self->node = g_object_ref (node);
  self->library = g_object_ref (library);
  self->game_id = g_strdup (game_id);
  self->games_path = g_file_get_path (lsp_library_get_games_dir (library));
  return self;
}
