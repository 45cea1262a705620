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
#include <glib/gi18n-lib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A download runs: plan (pick the newest version on the LAN and its
 * manifest), _lsp_download_prepare (free space, the version.ini transaction, the resume
 * state, the files at their sizes), transfer (lsp-download-fetch.c), and
 * commit (the files synced, anything not in the manifest removed, the
 * sentinel written last). Cancel and failure roll the transaction back and
 * sweep the payload, keeping local/ and the install state. Every terminal
 * branch refreshes the library before the operation ends. */

/* Progress notifications are at most this often. */
#define NOTIFY_INTERVAL_MS 250
/* The resume state is written at most this often. */
#define STATE_INTERVAL_MS  1000


enum {
  SOURCE_DROPPED,
  N_SIGNALS
};

GParamSpec *_lsp_download_properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (LspDownload, lsp_download, G_TYPE_OBJECT)

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
  g_object_notify_by_pspec (G_OBJECT (self), _lsp_download_properties[PROP_PHASE]);
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

void
_lsp_download_notify_progress (LspDownload *self)
{
  g_clear_handle_id (&self->notify_timer_id, g_source_remove);
  self->notified_at = g_get_monotonic_time ();
  update_rate (self);
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), _lsp_download_properties[PROP_BYTES_DONE]);
  g_object_notify_by_pspec (G_OBJECT (self), _lsp_download_properties[PROP_RATE]);
  g_object_notify_by_pspec (G_OBJECT (self), _lsp_download_properties[PROP_ETA]);
  g_object_thaw_notify (G_OBJECT (self));
}

static gboolean
on_notify_timer (gpointer user_data)
{
  LspDownload *self = user_data;

  self->notify_timer_id = 0;
  _lsp_download_notify_progress (self);
  return G_SOURCE_REMOVE;
}

/* Progress goes out at once when the last notification is old enough, or
 * when the interval has passed; never more often. */
void
_lsp_download_progress_changed (LspDownload *self)
{
  gint64 since = (g_get_monotonic_time () - self->notified_at) / 1000;

  if (since >= NOTIFY_INTERVAL_MS)
    _lsp_download_notify_progress (self);
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

  /* An update in the staging folder keeps no state: the old version is
   * whole, and started again the update hashes what it staged. */
  if (!self->state_dirty || self->state_saving || self->finishing || self->staged)
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

static void
chunk_verified (LspDownload *self,
                Chunk       *chunk)
{
  chunk->state = CHUNK_DONE;
  self->n_done++;
  self->bytes_done += chunk->length;
  lsp_download_state_set (self->state, chunk->index);
  _lsp_download_publish_chunk (self, chunk);
  /* A repair keeps no resume state: its sentinel never left, and a
   * repair cut short is run again, hashing what is there. */
  if (!self->repair)
    {
      self->state_dirty = TRUE;
      save_state (self);
    }
  _lsp_download_progress_changed (self);
  if (self->n_done == self->chunks->len)
    _lsp_download_finish (self);
}

void
_lsp_download_chunk_done (LspDownload *self,
                          Chunk       *chunk,
                          Source      *source)
{
  self->rate_bytes += chunk->length;
  _lsp_download_reuse_twins (self, chunk);
  chunk_verified (self, chunk);
}

/* A chunk copied from a verified one of the same hash. */
void
_lsp_download_chunk_reused (LspDownload *self,
                            Chunk       *chunk)
{
  self->bytes_reused += chunk->length;
  g_object_notify_by_pspec (G_OBJECT (self), _lsp_download_properties[PROP_BYTES_REUSED]);
  chunk_verified (self, chunk);
}

/* ---- waiting for sources ---- */ 

static gboolean
on_wait_timeout (gpointer user_data)
{
  LspDownload *self = user_data;
  guint minutes = MAX (self->wait_seconds / 60, 1);

  self->wait_id = 0;
  _lsp_download_fail (self, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                         g_dngettext (GETTEXT_PACKAGE,
                                                      /* Translators: the first %s is a game's id, the
                                                       * next two a space and its version, or nothing. */
                                                      "No player on the network has had %s%s%s for %u minute; "
                                                      "the download stopped. Try again when a player who has it is back.",
                                                      "No player on the network has had %s%s%s for %u minutes; "
                                                      "the download stopped. Try again when a player who has it is back.",
                                                      minutes),
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
  g_object_notify_by_pspec (G_OBJECT (self), _lsp_download_properties[PROP_N_SOURCES]);
}

static void
on_peer_games_changed (LspPeer            *peer,
                       const char * const *changed,
                       const char * const *removed,
                       LspDownload        *self)
{
  if (self->manifest_hash == NULL)
    _lsp_download_choose_target (self);
  else
    {
      _lsp_download_refresh_sources (self);
      _lsp_download_pump (self);
    }
}

static void
on_peer_chunks_changed (LspPeer     *peer,
                        const char  *game_id,
                        LspDownload *self)
{
  if (self->manifest_hash == NULL || !g_str_equal (game_id, self->game_id))
    return;
  _lsp_download_refresh_sources (self);
  _lsp_download_pump (self);
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
      g_signal_connect_object (peer, "chunks-changed", G_CALLBACK (on_peer_chunks_changed), self, 0);
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
                                             _("%s is not in this peer's game catalog; add it to the catalog "
                                             "to download it"), self->game_id));
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
      self->cancel_handler = g_cancellable_connect (cancellable, G_CALLBACK (_lsp_download_on_cancelled), self, NULL);
    }

  g_signal_connect_object (self->node, "items-changed", G_CALLBACK (on_peers_changed), self, 0);
  watch_peers (self);
  _lsp_download_choose_target (self);
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

/* Bytes not fetched because a local chunk had the same hash: kept in
 * place or copied from the previous version's files, or from another
 * chunk of this download. */
guint64
lsp_download_get_bytes_reused (LspDownload *self)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), 0);
  return self->bytes_reused;
}

/* What is left to fetch from peers, or -1 until the prepare step has
 * found what is here already. Chunks that will be copied from one of the
 * same hash once it arrives do not count. */
gint64
lsp_download_get_bytes_to_fetch (LspDownload *self)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), -1);
  return self->prepared ? (gint64) (self->bytes_total - self->bytes_done - self->bytes_held) : -1;
}

/* Bytes received from peers, counting chunks that failed verification. */
guint64
lsp_download_get_bytes_received (LspDownload *self)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), 0);
  return self->bytes_received;
}

gboolean
lsp_download_get_repair (LspDownload *self)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), FALSE);
  return self->repair;
}

guint
lsp_download_get_chunks_repaired (LspDownload *self)
{
  g_return_val_if_fail (LSP_IS_DOWNLOAD (self), 0);
  return self->n_repaired;
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
    case PROP_BYTES_REUSED:
      g_value_set_uint64 (value, self->bytes_reused);
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
  g_clear_pointer (&self->previous_hash, g_free);
  g_clear_pointer (&self->manifest, lsp_manifest_unref);
  g_clear_pointer (&self->chunks, g_array_unref);
  g_clear_pointer (&self->sources, g_ptr_array_unref);
  g_clear_pointer (&self->fetches, g_ptr_array_unref);
  g_clear_pointer (&self->peer_bytes, g_hash_table_unref);
  g_clear_pointer (&self->holders, g_array_unref);
  g_clear_pointer (&self->watched_peers, g_ptr_array_unref);
  g_clear_pointer (&self->banned, g_hash_table_unref);
  g_clear_pointer (&self->state, lsp_download_state_free);
  g_clear_pointer (&self->twins, g_hash_table_unref);

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

  _lsp_download_properties[PROP_GAME_ID] = g_param_spec_string ("game-id", NULL, NULL, NULL, flags);
  _lsp_download_properties[PROP_VERSION] = g_param_spec_string ("version", NULL, NULL, NULL, flags);
  _lsp_download_properties[PROP_PHASE] = g_param_spec_uint ("phase", NULL, NULL, 0, LSP_DOWNLOAD_CANCELLED,
                                              LSP_DOWNLOAD_QUEUED, flags);
  _lsp_download_properties[PROP_BYTES_DONE] = g_param_spec_uint64 ("bytes-done", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  _lsp_download_properties[PROP_BYTES_TOTAL] = g_param_spec_uint64 ("bytes-total", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  _lsp_download_properties[PROP_RATE] = g_param_spec_uint64 ("rate", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  _lsp_download_properties[PROP_ETA] = g_param_spec_int64 ("eta", NULL, NULL, -1, G_MAXINT64, -1, flags);
  _lsp_download_properties[PROP_RESUMED] = g_param_spec_boolean ("resumed", NULL, NULL, FALSE, flags);
  _lsp_download_properties[PROP_BYTES_REUSED] = g_param_spec_uint64 ("bytes-reused", NULL, NULL, 0, G_MAXUINT64, 0,
                                                                     flags);
  _lsp_download_properties[PROP_N_SOURCES] = g_param_spec_uint ("n-sources", NULL, NULL, 0, G_MAXUINT, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, _lsp_download_properties);

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
  self->holders = g_array_new (FALSE, TRUE, sizeof (guint));
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

/**
 * lsp_download_new_repair:
 *
 * A download of the manifest the library holds for @game_id that hashes
 * every chunk on disk and fetches only those that do not verify, from the
 * peers that serve that same manifest. It never sets the sentinel aside
 * and never removes files when it stops: a repair cut short leaves the
 * game as damaged as it was, with the chunks it fixed.
 */
LspDownload *
lsp_download_new_repair (LspNode    *node,
                         LspLibrary *library,
                         const char *game_id)
{
  LspDownload *self = lsp_download_new (node, library, game_id);

  self->repair = TRUE;
  return self;
}
