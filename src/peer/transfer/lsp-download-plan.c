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

/* Peers busy with other manifests are asked again after this long. */
#define MANIFEST_RETRY_MS  1000

/* Planning a download: its target and manifest, then preparing its files. */

/* ---- preparing the files ---- */

typedef struct
{
  char             *games_path;
  char             *game_id;
  LspManifest      *manifest;
  gboolean          repair;     /* every chunk on disk is a claim to check */
  char             *previous_hash; /* an update: build the changed files beside the old ones */
  LspDownloadState *state;      /* out: what is verified already */
  LspDownloadState *reused;     /* out: of those, what came from local chunks of the same hash */
  LspReuseProgress  progress;
  gboolean          touched;    /* out: the game root was changed */
} PrepareJob;

static void
prepare_job_free (PrepareJob *job)
{
  g_free (job->games_path);
  g_free (job->game_id);
  g_free (job->previous_hash);
  g_clear_pointer (&job->manifest, lsp_manifest_unref);
  lsp_download_state_free (job->state);
  lsp_download_state_free (job->reused);
  _lsp_download_reuse_progress_clear (&job->progress);
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

/* The staging folder: one that an update left when the peer stopped or
 * crashed is kept, unless it holds a file this update keeps in place
 * (which the commit would move over the good one); *out_kept says so. */
static int
open_staging (int             root_fd,
              LspManifest    *manifest,
              const gboolean *staged,
              gboolean       *out_kept,
              GError        **error)
{
  int fd = openat (root_fd, LSP_UPDATE_STAGING_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;

  for (guint i = 0; fd >= 0 && i < lsp_manifest_get_n_files (manifest); i++)
    {
      if (!staged[i] && fstatat (fd, lsp_manifest_get_file (manifest, i)->path, &st, AT_SYMLINK_NOFOLLOW) == 0)
        {
          close (fd);
          fd = -1;
        }
    }
  *out_kept = fd >= 0;
  if (fd >= 0)
    return fd;
  if (!lsp_fs_remove_tree_at (root_fd, LSP_UPDATE_STAGING_DIR, error))
    return -1;
  if (mkdirat (root_fd, LSP_UPDATE_STAGING_DIR, 0755) != 0 ||
      (fd = openat (root_fd, LSP_UPDATE_STAGING_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
    lsp_error_set_errno (error, errno, _("Cannot create the update of %s"), lsp_manifest_get_game_id (manifest));
  return fd;
}

/* An update builds the files that changed in the staging folder, from
 * local chunks of the same hash where it can, and leaves the old version
 * whole (sentinel included) until the commit moves the new files in. It
 * needs room for the staged files only, at most the new version's size,
 * less what a kept staging folder holds of them; the chunks in there are
 * claims, hashed again. */
static void
prepare_update (GTask        *task,
                PrepareJob   *job,
                GCancellable *cancellable)
{
  g_autoptr(LspManifest) previous = lsp_manifest_cache_load (job->games_path, job->previous_hash, NULL);
  g_autoptr(LspDownloadState) claimed = NULL;
  g_autofree gboolean *staged = NULL;
  guint64 needed = 0;
  GError *error = NULL;
  int root_fd, staging_fd = -1;
  gboolean kept = FALSE, ok;
  guint first = 0;

  root_fd = lsp_download_storage_open_root (job->games_path, job->game_id, FALSE, &error);
  if (root_fd < 0)
    {
      g_task_return_error (task, error);
      return;
    }
  job->state = lsp_download_state_new (lsp_manifest_get_hash (job->manifest), count_chunks (job->manifest));
  job->reused = lsp_download_state_new (job->state->manifest_hash, job->state->n_chunks);
  claimed = lsp_download_state_new (job->state->manifest_hash, job->state->n_chunks);
  staged = _lsp_download_reuse_keep_in_place (root_fd, job->manifest, previous, job->state, job->reused,
                                              &job->progress, cancellable, &error);
  ok = staged != NULL && (staging_fd = open_staging (root_fd, job->manifest, staged, &kept, &error)) >= 0;
  job->touched = ok;
  for (guint i = 0; ok && i < lsp_manifest_get_n_files (job->manifest); i++)
    {
      const LspManifestFile *file = lsp_manifest_get_file (job->manifest, i);
      struct stat st;
      guint64 held = 0;

      first += i > 0 ? lsp_manifest_get_file (job->manifest, i - 1)->n_chunks : 0;
      if (!staged[i])
        continue;
      if (kept && fstatat (staging_fd, file->path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode))
        held = MIN ((guint64) st.st_blocks * 512, (guint64) st.st_size);
      needed += file->size > held ? file->size - held : 0;
      for (guint c = 0; kept && c < file->n_chunks; c++)
        lsp_download_state_set (claimed, first + c);
    }

  /* Nothing of the payload is written before the space check. */
  ok = ok && lsp_download_storage_check_space (job->games_path, needed, &error);
  for (guint i = 0; ok && i < lsp_manifest_get_n_files (job->manifest); i++)
    {
      if (staged[i])
        ok = !g_cancellable_set_error_if_cancelled (cancellable, &error) &&
             lsp_download_storage_prepare_file (staging_fd, lsp_manifest_get_file (job->manifest, i), &error);
    }
  if (ok && kept)
    verify_claims (staging_fd, job->manifest, claimed, job->state, cancellable);
  ok = ok && _lsp_download_reuse_copy (root_fd, staging_fd, job->manifest, previous, staged, job->state, job->reused,
                                       &job->progress, cancellable, &error);
  if (staging_fd >= 0)
    close (staging_fd);
  close (root_fd);
  if (!ok)
    {
      g_clear_pointer (&job->state, lsp_download_state_free);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
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

  if (job->previous_hash != NULL)
    {
      prepare_update (task, job, cancellable);
      return;
    }

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
  /* An update that crashed while moving its files in left its staging folder. */
  lsp_fs_remove_tree_at (root_fd, LSP_UPDATE_STAGING_DIR, NULL);
  job->state = lsp_download_state_new (lsp_manifest_get_hash (job->manifest), count_chunks (job->manifest));
  job->reused = lsp_download_state_new (job->state->manifest_hash, job->state->n_chunks);
  if (!job->repair)
    claimed = lsp_download_storage_read_state (root_fd, &state_error);
  if (claimed != NULL && g_str_equal (claimed->manifest_hash, job->state->manifest_hash) &&
      claimed->n_chunks == job->state->n_chunks)
    verify_claims (root_fd, job->manifest, claimed, job->state, cancellable);
  else
    {
      /* No state of this download: whatever files are there already (a
       * repair's, or a partial copy) are claims too, and what verifies
       * in place is reused. */
      g_autoptr(LspDownloadState) all = lsp_download_state_new (job->state->manifest_hash, job->state->n_chunks);

      memset (all->verified, 0xff, (all->n_chunks + 7) / 8);
      verify_claims (root_fd, job->manifest, all, job->state, cancellable);
      if (!job->repair)
        memcpy (job->reused->verified, job->state->verified, (all->n_chunks + 7) / 8);
    }
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
   * and recovery knows it. A repair writes only chunks that verify into
   * a game that keeps its sentinel and stays damaged until the commit. */
  if ((!job->repair && (!lsp_download_storage_begin_version (root_fd, &error) ||
                        !lsp_download_storage_write_state (root_fd, job->state, &error))) ||
      !lsp_download_storage_prepare (root_fd, job->manifest, cancellable, &error) ||
      !_lsp_download_reuse_copy (root_fd, root_fd, job->manifest, NULL, NULL, job->state, job->reused,
                                 &job->progress, cancellable, &error) ||
      (!job->repair && !lsp_download_storage_write_state (root_fd, job->state, &error)))
    {
      close (root_fd);
      g_task_return_error (task, error);
      return;
    }
  close (root_fd);
  g_task_return_boolean (task, TRUE);
}

static void
build_chunks (LspDownload            *self,
              const LspDownloadState *reused)
{
  guint index = 0, n_reused = 0;

  /* What the prepare step reported as it went is counted again, exactly. */
  self->bytes_reused = 0;

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
              if (lsp_download_state_get (reused, index))
                {
                  n_reused++;
                  self->bytes_reused += chunk.length;
                }
              else
                self->bytes_resumed += chunk.length;
            }
          g_array_append_val (self->chunks, chunk);
        }
    }
  self->bytes_done = self->bytes_resumed + self->bytes_reused;
  self->resumed = self->bytes_resumed > 0;
  /* A repair's reused chunks were bad too, copied from a twin that verified. */
  self->n_repaired = self->repair ? self->chunks->len - self->n_done + n_reused : 0;
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
  self->staged = job->previous_hash != NULL;
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

  build_chunks (self, job->reused);
  _lsp_download_reuse_hold_twins (self);
  self->prepared = TRUE;
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), _lsp_download_properties[PROP_RESUMED]);
  g_object_notify_by_pspec (G_OBJECT (self), _lsp_download_properties[PROP_BYTES_REUSED]);
  _lsp_download_notify_progress (self);
  g_object_thaw_notify (G_OBJECT (self));
  if (self->n_done == self->chunks->len)
    {
      _lsp_download_finish (self);
      return;
    }
  _lsp_download_set_phase (self, LSP_DOWNLOAD_CONNECTING);
  _lsp_download_publish (self);
  _lsp_download_refresh_sources (self);
  _lsp_download_pump (self);
}

void
_lsp_download_prepare (LspDownload *self)
{
  g_autoptr(GTask) task = NULL;
  PrepareJob *job = g_new0 (PrepareJob, 1);

  self->bytes_total = lsp_manifest_get_total_size (self->manifest);
  g_object_notify_by_pspec (G_OBJECT (self), _lsp_download_properties[PROP_BYTES_TOTAL]);
  job->games_path = g_strdup (self->games_path);
  job->game_id = g_strdup (self->game_id);
  job->manifest = lsp_manifest_ref (self->manifest);
  job->repair = self->repair;
  job->previous_hash = g_strdup (self->previous_hash);
  _lsp_download_reuse_progress_init (&job->progress, self);
  self->workers++;
  task = g_task_new (NULL, self->stop, on_prepared, g_object_ref (self));
  g_task_set_source_tag (task, _lsp_download_prepare);
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
    _lsp_download_prepare (self);
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
      _lsp_download_prepare (self);
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
  LspManifest *manifest = NULL;

  /* A repair's target is the verdict's manifest, kept with the verdict. */
  if (args[2] != NULL && (manifest = lsp_verify_load_damaged (args[0], args[2], NULL)) != NULL &&
      g_strcmp0 (lsp_manifest_get_hash (manifest), args[1]) != 0)
    g_clear_pointer (&manifest, lsp_manifest_unref);
  if (manifest == NULL)
    manifest = lsp_manifest_cache_load (args[0], args[1], NULL);

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

/* The manifest is loaded from our caches, or else fetched from a source. */
static void
plan_target (LspDownload *self,
             const char  *version,
             const char  *manifest_hash)
{
  LspLocalGame *local = lsp_library_lookup (self->library, self->game_id);
  g_autoptr(GTask) task = NULL;
  char **args;

  self->version = g_strdup (version);
  self->manifest_hash = g_strdup (manifest_hash);
  g_clear_pointer (&self->previous_hash, g_free);
  if (!self->repair && local != NULL && lsp_local_game_get_downloaded (local) &&
      lsp_local_game_get_manifest_hash (local) != NULL)
    self->previous_hash = g_strdup (lsp_local_game_get_manifest_hash (local));
  g_object_notify_by_pspec (G_OBJECT (self), _lsp_download_properties[PROP_VERSION]);
  g_clear_handle_id (&self->wait_id, g_source_remove);
  _lsp_download_set_phase (self, LSP_DOWNLOAD_PLANNING);

  self->workers++;
  self->manifest_fetching = TRUE;
  task = g_task_new (NULL, NULL, on_cached_loaded, g_object_ref (self));
  args = g_new0 (char *, 4);
  args[0] = g_strdup (self->games_path);
  args[1] = g_strdup (self->manifest_hash);
  args[2] = self->repair ? g_strdup (self->game_id) : NULL;
  g_task_set_source_tag (task, plan_target);
  g_task_set_task_data (task, args, (GDestroyNotify) g_strfreev);
  g_task_run_in_thread (task, load_cached_worker);
}

/* A repair's target is the version and manifest we have, whatever is
 * newer on the LAN: only peers that serve that manifest are sources. */
static void
choose_repair_target (LspDownload *self)
{
  LspLocalGame *local = lsp_library_lookup (self->library, self->game_id);

  if (local == NULL || !lsp_local_game_get_downloaded (local) || lsp_local_game_get_manifest_hash (local) == NULL)
    {
      _lsp_download_fail (self, g_error_new (LSP_ERROR, LSP_ERROR_NOT_FOUND,
                                             _("%s is not downloaded here, so there is nothing to repair; "
                                               "download it instead."), self->game_id));
      return;
    }
  plan_target (self, lsp_local_game_get_version (local), lsp_local_game_get_reference_hash (local));
}

/* The newest version on the LAN, of the connected peers' offers for
 * game_id; of the manifests offered for it, the one most peers have (they
 * are all sources). Returns FALSE when nobody offers one. */
gboolean
_lsp_download_find_target (LspNode     *node,
                           const char  *game_id,
                           char       **out_version,
                           char       **out_manifest_hash)
{
  GListModel *peers = G_LIST_MODEL (node);
  g_autoptr(GHashTable) votes = g_hash_table_new (g_str_hash, g_str_equal);
  const char *best_version = NULL, *best_hash = NULL;
  guint best_votes = 0;
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < g_list_model_get_n_items (peers); i++)
    {
      LspPeer *peer = g_list_model_get_item (peers, i);
      const LspGameSummary *game = lsp_peer_lookup_game (peer, game_id);

      g_ptr_array_add (held, peer);
      if (game == NULL || game->availability != LSP_AVAILABILITY_READY || game->version == NULL ||
          game->manifest_hash == NULL || lsp_node_get_connection (node, lsp_peer_get_id (peer)) == NULL)
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
    return FALSE;
  *out_version = g_strdup (best_version);
  *out_manifest_hash = g_strdup (best_hash);
  return TRUE;
}

void
_lsp_download_choose_target (LspDownload *self)
{
  g_autofree char *best_version = NULL, *best_hash = NULL;
  LspLocalGame *local;

  if (self->finishing || self->manifest_hash != NULL || self->manifest_fetching)
    return;
  if (self->repair)
    {
      choose_repair_target (self);
      return;
    }
  if (!_lsp_download_find_target (self->node, self->game_id, &best_version, &best_hash))
    {
      _lsp_download_check_waiting (self);
      return;
    }

  local = lsp_library_lookup (self->library, self->game_id);
  if (local != NULL && lsp_local_game_get_damaged (local) &&
      lsp_version_compare (lsp_local_game_get_version (local), best_version) == 0)
    {
      /* The version we have, damaged: fetch only what is broken. */
      self->repair = TRUE;
      choose_repair_target (self);
      return;
    }
  if (local != NULL && lsp_local_game_get_downloaded (local) &&
      g_strcmp0 (lsp_local_game_get_manifest_hash (local), best_hash) == 0)
    {
      /* Nothing to fetch: the newest version on the LAN is the one here. */
      self->version = g_strdup (best_version);
      _lsp_download_finish (self);
      return;
    }

  plan_target (self, best_version, best_hash);
}
