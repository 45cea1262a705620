#define G_LOG_DOMAIN "lsp-library"

#include "config.h"

#include "lsp-library.h"

#include "lsp-error.h"
#include "lsp-game-root.h"
#include "lsp-library-private.h"
#include "lsp-local-game-private.h"
#include "lsp-util.h"

#include <glib/gi18n-lib.h>
#include <string.h>

struct _LspLibrary
{
  GObject       parent_instance;

  GFile        *games_dir;
  char         *games_path;
  char         *index_path;
  char         *manifest_dir;
  GHashTable   *verified;       /* game_id → LspManifest for the next scan */
  LspCatalog   *catalog;
  GCancellable *cancellable;

  GHashTable   *records;      /* id → LspGameRecord, as last applied */
  GPtrArray    *games;        /* LspLocalGame sorted by id: the GListModel */
  guint64       rev;
  char         *digest;
  gboolean      loaded;

  /* Gating: one scan runs at a time; events for a game under an operation
   * are dropped; events during a scan mark the game dirty so the scan loops
   * once more when it ends. */
  GHashTable   *operations;   /* set of ids */
  GHashTable   *dirty;        /* set of ids */
  gboolean      full_pending;
  gboolean      scanning;
  guint         start_idle_id;
  GPtrArray    *waiting_tasks;  /* GTask waiting for the next full scan */

  GFileMonitor *dir_monitor;
  GHashTable   *game_monitors;  /* id → GFileMonitor */
  guint         fallback_source_id;

  guint         n_games_hashed;
  guint         n_scans;
  guint         n_events_dropped;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (LspLibrary, lsp_library, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

enum {
  PROP_0,
  PROP_GAMES_DIR,
  PROP_CATALOG,
  PROP_REV,
  PROP_DIGEST,
  PROP_SCANNING,
  N_PROPS
};

enum {
  CHANGED,
  SCAN_FINISHED,
  OPERATIONS_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static GHashTable *
string_set_copy (GHashTable *set)
{
  GHashTable *copy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, set);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_hash_table_add (copy, g_strdup (key));
  return copy;
}

static void start_scan (LspLibrary *self);

static guint
find_game_position (LspLibrary *self,
                    const char *id,
                    gboolean   *found)
{
  guint lo = 0, hi = self->games->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      int cmp = strcmp (id, lsp_local_game_get_id (g_ptr_array_index (self->games, mid)));

      if (cmp == 0)
        {
          *found = TRUE;
          return mid;
        }
      if (cmp < 0)
        hi = mid;
      else
        lo = mid + 1;
    }

  *found = FALSE;
  return lo;
}

static void
on_game_root_changed (GFileMonitor      *monitor,
                      GFile             *file,
                      GFile             *other_file,
                      GFileMonitorEvent  event,
                      gpointer           user_data)
{
  LspLibrary *self = user_data;
  const char *id = g_object_get_data (G_OBJECT (monitor), "lsp-game-id");

  lsp_library_rescan_game (self, id);
}

static void
watch_game_root (LspLibrary *self,
                 const char *id)
{
  g_autoptr(GFile) root = NULL;
  g_autoptr(GError) error = NULL;
  GFileMonitor *monitor;

  if (self->game_monitors == NULL || g_hash_table_contains (self->game_monitors, id))
    return;

  root = g_file_get_child (self->games_dir, id);
  monitor = g_file_monitor_directory (root, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
  if (monitor == NULL)
    {
      g_warning ("Cannot watch %s for changes: %s", id, error->message);
      return;
    }
  g_object_set_data_full (G_OBJECT (monitor), "lsp-game-id", g_strdup (id), g_free);
  g_signal_connect_object (monitor, "changed", G_CALLBACK (on_game_root_changed), self, 0);
  g_hash_table_insert (self->game_monitors, g_strdup (id), monitor);
}

static void
apply_scan (LspLibrary *self,
            LspScanJob *job)
{
  g_autoptr(GPtrArray) changed = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  gboolean rev_changed = self->rev != job->rev;
  gboolean digest_changed = g_strcmp0 (self->digest, job->digest) != 0;
  GHashTableIter iter;
  gpointer value;

  /* The worker compared against the index to move library_rev; what the
   * model and the signal report is the difference from what we show. An
   * operation that started while the worker ran owns its game now: keep what
   * we had, and the operation's end rescans it. */
  g_hash_table_iter_init (&iter, self->records);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      LspGameRecord *old = value;

      if (g_hash_table_contains (self->operations, old->id))
        g_hash_table_replace (job->new_records, old->id, lsp_game_record_ref (old));
      else if (!g_hash_table_contains (job->new_records, old->id))
        g_ptr_array_add (removed, g_strdup (old->id));
    }

  g_hash_table_iter_init (&iter, job->new_records);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      LspGameRecord *record = value;
      LspGameRecord *old = g_hash_table_lookup (self->records, record->id);

      if (g_hash_table_contains (self->operations, record->id))
        {
          if (old == NULL)
            g_hash_table_iter_remove (&iter);
          continue;
        }
      if (old == NULL || !lsp_game_record_same_summary (old, record))
        g_ptr_array_add (changed, g_strdup (record->id));
    }
  g_ptr_array_sort (changed, lsp_strcmp_ptr);
  g_ptr_array_sort (removed, lsp_strcmp_ptr);

  g_clear_pointer (&self->records, g_hash_table_unref);
  self->records = g_steal_pointer (&job->new_records);
  self->rev = job->rev;
  g_free (self->digest);
  self->digest = g_steal_pointer (&job->digest);

  for (guint i = 0; i < removed->len; i++)
    {
      const char *id = g_ptr_array_index (removed, i);
      gboolean found;
      guint position = find_game_position (self, id, &found);

      if (self->game_monitors != NULL)
        g_hash_table_remove (self->game_monitors, id);
      if (!found)
        continue;
      g_ptr_array_remove_index (self->games, position);
      g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
    }

  for (guint i = 0; i < changed->len; i++)
    {
      const char *id = g_ptr_array_index (changed, i);
      LspGameRecord *record = g_hash_table_lookup (self->records, id);
      gboolean found;
      guint position = find_game_position (self, id, &found);

      if (found)
        {
          _lsp_local_game_set_record (g_ptr_array_index (self->games, position), record);
          continue;
        }
      g_ptr_array_insert (self->games, (int) position,
                          _lsp_local_game_new (lsp_catalog_lookup (self->catalog, id), record));
      g_list_model_items_changed (G_LIST_MODEL (self), position, 0, 1);
    }

  if (self->game_monitors != NULL)
    {
      for (guint i = 0; i < self->games->len; i++)
        watch_game_root (self, lsp_local_game_get_id (g_ptr_array_index (self->games, i)));
    }

  if (rev_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REV]);
  if (digest_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DIGEST]);

  if (changed->len > 0 || removed->len > 0)
    {
      g_ptr_array_add (changed, NULL);
      g_ptr_array_add (removed, NULL);
      g_signal_emit (self, signals[CHANGED], 0, self->rev,
                     (char **) changed->pdata, (char **) removed->pdata);
    }
}

static void
scan_done (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(LspLibrary) self = LSP_LIBRARY (object);
  g_autoptr(GError) error = NULL;
  LspScanJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GPtrArray) waiting = g_steal_pointer (&job->waiting_tasks);

  self->scanning = FALSE;
  self->n_scans++;

  if (g_task_propagate_boolean (G_TASK (result), &error))
    {
      self->n_games_hashed += job->n_hashed;
      self->loaded = TRUE;
      apply_scan (self, job);
    }
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_warning ("Library scan failed: %s", error->message);
    }

  for (guint i = 0; waiting != NULL && i < waiting->len; i++)
    {
      GTask *task = g_ptr_array_index (waiting, i);

      if (error != NULL)
        g_task_return_error (task, g_error_copy (error));
      else
        g_task_return_boolean (task, TRUE);
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SCANNING]);
  g_signal_emit (self, signals[SCAN_FINISHED], 0);

  if (self->full_pending || g_hash_table_size (self->dirty) > 0)
    start_scan (self);
}

static void
start_scan (LspLibrary *self)
{
  g_autoptr(GTask) task = NULL;
  LspScanJob *job;

  g_assert (!self->scanning);

  job = g_new0 (LspScanJob, 1);
  job->games_path = g_strdup (self->games_path);
  job->index_path = g_strdup (self->index_path);
  job->options.manifest_dir = g_strdup (self->manifest_dir);
  /* Handed over once: a later scan hashes as usual. */
  job->options.verified = g_steal_pointer (&self->verified);
  job->catalog = g_object_ref (self->catalog);
  job->old_records = _lsp_library_records_copy (self->records);
  job->locked = string_set_copy (self->operations);
  job->load_index = !self->loaded;
  job->rev = self->rev;

  if (!self->full_pending && self->loaded)
    {
      GHashTableIter iter;
      gpointer key;

      job->only_ids = g_ptr_array_new_with_free_func (g_free);
      g_hash_table_iter_init (&iter, self->dirty);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        g_ptr_array_add (job->only_ids, g_strdup (key));
    }
  else
    {
      job->waiting_tasks = g_steal_pointer (&self->waiting_tasks);
      self->waiting_tasks = g_ptr_array_new_with_free_func (g_object_unref);
    }

  g_hash_table_remove_all (self->dirty);
  self->full_pending = FALSE;
  self->scanning = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SCANNING]);

  task = g_task_new (g_object_ref (self), self->cancellable, scan_done, NULL);
  g_task_set_source_tag (task, start_scan);
  g_task_set_task_data (task, job, (GDestroyNotify) _lsp_scan_job_free);
  g_task_run_in_thread (task, _lsp_library_scan_worker);
}

static gboolean
start_scan_idle (gpointer user_data)
{
  LspLibrary *self = user_data;

  self->start_idle_id = 0;
  if (!self->scanning)
    start_scan (self);
  return G_SOURCE_REMOVE;
}

/* Coalesces the requests of one main-loop iteration into one scan; while a
 * scan runs, requests wait for it to end. */
static void
queue_scan (LspLibrary *self)
{
  if (self->scanning || self->start_idle_id != 0)
    return;
  self->start_idle_id = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, start_scan_idle, self, NULL);
}

static void
request_full_scan (LspLibrary *self,
                   GTask      *task)
{
  self->full_pending = TRUE;
  if (task != NULL)
    g_ptr_array_add (self->waiting_tasks, g_object_ref (task));
  queue_scan (self);
}

void
lsp_library_load_async (LspLibrary          *self,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (LSP_IS_LIBRARY (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lsp_library_load_async);
  request_full_scan (self, task);
}

gboolean
lsp_library_load_finish (LspLibrary    *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
lsp_library_refresh_async (LspLibrary          *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (LSP_IS_LIBRARY (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lsp_library_refresh_async);
  request_full_scan (self, task);
}

gboolean
lsp_library_refresh_finish (LspLibrary    *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * lsp_library_add_verified_manifest:
 *
 * Tells the library that every chunk of @manifest was verified on disk (a
 * download just finished), so its next scan of that game takes the
 * manifest when the files still match it by path and size, instead of
 * hashing them again.
 */
void
lsp_library_add_verified_manifest (LspLibrary  *self,
                                   LspManifest *manifest)
{
  g_return_if_fail (LSP_IS_LIBRARY (self));
  g_return_if_fail (manifest != NULL);

  if (self->verified == NULL)
    self->verified = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) lsp_manifest_unref);
  g_hash_table_replace (self->verified, g_strdup (lsp_manifest_get_game_id (manifest)), lsp_manifest_ref (manifest));
}

void
lsp_library_rescan_game (LspLibrary *self,
                         const char *game_id)
{
  g_return_if_fail (LSP_IS_LIBRARY (self));
  g_return_if_fail (game_id != NULL);

  if (lsp_catalog_lookup (self->catalog, game_id) == NULL)
    return;

  if (g_hash_table_contains (self->operations, game_id))
    {
      self->n_events_dropped++;
      return;
    }

  g_hash_table_add (self->dirty, g_strdup (game_id));
  queue_scan (self);
}

static void
on_games_dir_changed (GFileMonitor      *monitor,
                      GFile             *file,
                      GFile             *other_file,
                      GFileMonitorEvent  event,
                      gpointer           user_data)
{
  LspLibrary *self = user_data;
  g_autofree char *name = g_file_get_basename (file);

  lsp_library_rescan_game (self, name);
  if (other_file != NULL)
    {
      g_autofree char *other_name = g_file_get_basename (other_file);
      lsp_library_rescan_game (self, other_name);
    }
}

static gboolean
on_fallback_scan (gpointer user_data)
{
  LspLibrary *self = user_data;

  request_full_scan (self, NULL);
  return G_SOURCE_CONTINUE;
}

/* Starts following the folder: a monitor on it and on every game root, and
 * the slow fallback scan for what monitors miss. */
void
lsp_library_watch (LspLibrary *self)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (LSP_IS_LIBRARY (self));

  if (self->game_monitors != NULL)
    return;

  self->game_monitors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->dir_monitor = g_file_monitor_directory (self->games_dir, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
  if (self->dir_monitor == NULL)
    g_warning ("Cannot watch the games folder for changes: %s", error->message);
  else
    g_signal_connect_object (self->dir_monitor, "changed", G_CALLBACK (on_games_dir_changed), self, 0);

  for (guint i = 0; i < self->games->len; i++)
    watch_game_root (self, lsp_local_game_get_id (g_ptr_array_index (self->games, i)));

  self->fallback_source_id = g_timeout_add_seconds (LSP_LIBRARY_FALLBACK_SCAN_SECONDS, on_fallback_scan, self);
}

gboolean
lsp_library_begin_operation (LspLibrary  *self,
                             const char  *game_id,
                             GError     **error)
{
  LspLocalGame *game;

  g_return_val_if_fail (LSP_IS_LIBRARY (self), FALSE);
  g_return_val_if_fail (game_id != NULL, FALSE);

  if (g_hash_table_contains (self->operations, game_id))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_BUSY,
                   _("Another operation is already running on %s; wait for it to finish or cancel it."), game_id);
      return FALSE;
    }

  g_hash_table_add (self->operations, g_strdup (game_id));
  if ((game = lsp_library_lookup (self, game_id)) != NULL)
    _lsp_local_game_set_busy (game, TRUE);
  g_signal_emit (self, signals[OPERATIONS_CHANGED], 0, game_id, TRUE);
  return TRUE;
}

void
lsp_library_end_operation (LspLibrary *self,
                           const char *game_id)
{
  LspLocalGame *game;

  g_return_if_fail (LSP_IS_LIBRARY (self));
  g_return_if_fail (game_id != NULL);

  if (!g_hash_table_remove (self->operations, game_id))
    {
      g_critical ("No operation is running on %s", game_id);
      return;
    }

  if ((game = lsp_library_lookup (self, game_id)) != NULL)
    _lsp_local_game_set_busy (game, FALSE);
  g_signal_emit (self, signals[OPERATIONS_CHANGED], 0, game_id, FALSE);
  lsp_library_rescan_game (self, game_id);
}

gboolean
lsp_library_is_operation_active (LspLibrary *self,
                                 const char *game_id)
{
  g_return_val_if_fail (LSP_IS_LIBRARY (self), FALSE);

  return g_hash_table_contains (self->operations, game_id);
}

static GType
list_model_get_item_type (GListModel *model)
{
  return LSP_TYPE_LOCAL_GAME;
}

static guint
list_model_get_n_items (GListModel *model)
{
  return LSP_LIBRARY (model)->games->len;
}

static gpointer
list_model_get_item (GListModel *model,
                     guint       position)
{
  LspLibrary *self = LSP_LIBRARY (model);

  if (position >= self->games->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->games, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = list_model_get_item_type;
  iface->get_n_items = list_model_get_n_items;
  iface->get_item = list_model_get_item;
}

static void
lsp_library_constructed (GObject *object)
{
  LspLibrary *self = LSP_LIBRARY (object);
  g_autofree char *state_dir = NULL;

  G_OBJECT_CLASS (lsp_library_parent_class)->constructed (object);

  g_assert (self->games_dir != NULL && self->catalog != NULL);

  self->games_path = g_file_get_path (self->games_dir);
  state_dir = g_build_filename (self->games_path, LSP_STATE_DIR, NULL);
  self->index_path = g_build_filename (state_dir, "index.json", NULL);
  self->manifest_dir = g_build_filename (state_dir, "manifests", NULL);
}

static void
lsp_library_dispose (GObject *object)
{
  LspLibrary *self = LSP_LIBRARY (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->start_idle_id, g_source_remove);
  g_clear_handle_id (&self->fallback_source_id, g_source_remove);
  if (self->dir_monitor != NULL)
    g_file_monitor_cancel (self->dir_monitor);
  g_clear_object (&self->dir_monitor);
  g_clear_pointer (&self->game_monitors, g_hash_table_unref);

  G_OBJECT_CLASS (lsp_library_parent_class)->dispose (object);
}

static void
lsp_library_finalize (GObject *object)
{
  LspLibrary *self = LSP_LIBRARY (object);

  g_clear_object (&self->games_dir);
  g_clear_object (&self->catalog);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->games_path, g_free);
  g_clear_pointer (&self->index_path, g_free);
  g_clear_pointer (&self->manifest_dir, g_free);
  g_clear_pointer (&self->verified, g_hash_table_unref);
  g_clear_pointer (&self->records, g_hash_table_unref);
  g_clear_pointer (&self->games, g_ptr_array_unref);
  g_clear_pointer (&self->digest, g_free);
  g_clear_pointer (&self->operations, g_hash_table_unref);
  g_clear_pointer (&self->dirty, g_hash_table_unref);
  g_clear_pointer (&self->waiting_tasks, g_ptr_array_unref);

  G_OBJECT_CLASS (lsp_library_parent_class)->finalize (object);
}

static void
lsp_library_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  LspLibrary *self = LSP_LIBRARY (object);

  switch (prop_id)
    {
    case PROP_GAMES_DIR:
      g_value_set_object (value, self->games_dir);
      break;
    case PROP_CATALOG:
      g_value_set_object (value, self->catalog);
      break;
    case PROP_REV:
      g_value_set_uint64 (value, self->rev);
      break;
    case PROP_DIGEST:
      g_value_set_string (value, self->digest);
      break;
    case PROP_SCANNING:
      g_value_set_boolean (value, self->scanning);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lsp_library_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  LspLibrary *self = LSP_LIBRARY (object);

  switch (prop_id)
    {
    case PROP_GAMES_DIR:
      self->games_dir = g_value_dup_object (value);
      break;
    case PROP_CATALOG:
      self->catalog = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lsp_library_class_init (LspLibraryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = lsp_library_constructed;
  object_class->dispose = lsp_library_dispose;
  object_class->finalize = lsp_library_finalize;
  object_class->get_property = lsp_library_get_property;
  object_class->set_property = lsp_library_set_property;

  properties[PROP_GAMES_DIR] =
    g_param_spec_object ("games-dir", NULL, NULL, G_TYPE_FILE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CATALOG] =
    g_param_spec_object ("catalog", NULL, NULL, LSP_TYPE_CATALOG,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_REV] =
    g_param_spec_uint64 ("library-rev", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_DIGEST] =
    g_param_spec_string ("library-digest", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_SCANNING] =
    g_param_spec_boolean ("scanning", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * LspLibrary::changed:
   * @library_rev: the new revision
   * @changed: ids of games added or changed, as peers see them
   * @removed: ids of games no longer in the folder
   *
   * Emitted only for real library changes (what LocalLibraryChanged is in
   * the protocol); never for a scan that found nothing new.
   */
  signals[CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_UINT64, G_TYPE_STRV, G_TYPE_STRV);
  signals[SCAN_FINISHED] =
    g_signal_new ("scan-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[OPERATIONS_CHANGED] =
    g_signal_new ("operations-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                  G_TYPE_STRING, G_TYPE_BOOLEAN);
}

static void
lsp_library_init (LspLibrary *self)
{
  self->cancellable = g_cancellable_new ();
  self->records = _lsp_library_records_new ();
  self->games = g_ptr_array_new_with_free_func (g_object_unref);
  self->operations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->dirty = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->waiting_tasks = g_ptr_array_new_with_free_func (g_object_unref);
}

LspLibrary *
lsp_library_new (GFile      *games_dir,
                 LspCatalog *catalog)
{
  g_return_val_if_fail (G_IS_FILE (games_dir), NULL);
  g_return_val_if_fail (LSP_IS_CATALOG (catalog), NULL);

  return g_object_new (LSP_TYPE_LIBRARY, "games-dir", games_dir, "catalog", catalog, NULL);
}

GFile *
lsp_library_get_games_dir (LspLibrary *self)
{
  g_return_val_if_fail (LSP_IS_LIBRARY (self), NULL);
  return self->games_dir;
}

LspCatalog *
lsp_library_get_catalog (LspLibrary *self)
{
  g_return_val_if_fail (LSP_IS_LIBRARY (self), NULL);
  return self->catalog;
}

guint64
lsp_library_get_rev (LspLibrary *self)
{
  g_return_val_if_fail (LSP_IS_LIBRARY (self), 0);
  return self->rev;
}

const char *
lsp_library_get_digest (LspLibrary *self)
{
  g_return_val_if_fail (LSP_IS_LIBRARY (self), NULL);
  return self->digest;
}

gboolean
lsp_library_get_scanning (LspLibrary *self)
{
  g_return_val_if_fail (LSP_IS_LIBRARY (self), FALSE);
  return self->scanning;
}

LspLocalGame *
lsp_library_lookup (LspLibrary *self,
                    const char *game_id)
{
  gboolean found;
  guint position;

  g_return_val_if_fail (LSP_IS_LIBRARY (self), NULL);
  g_return_val_if_fail (game_id != NULL, NULL);

  position = find_game_position (self, game_id, &found);
  return found ? g_ptr_array_index (self->games, position) : NULL;
}

guint
lsp_library_get_n_games_hashed (LspLibrary *self)
{
  return self->n_games_hashed;
}

guint
lsp_library_get_n_scans (LspLibrary *self)
{
  return self->n_scans;
}

guint
lsp_library_get_n_events_dropped (LspLibrary *self)
{
  return self->n_events_dropped;
}
