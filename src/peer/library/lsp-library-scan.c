#define G_LOG_DOMAIN "lsp-library"

#include "config.h"

#include "lsp-library-private.h"

#include "lsp-library-index.h"
#include "lsp-sha256.h"
#include "lsp-util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <string.h>
#include <unistd.h>

void
_lsp_scan_job_free (LspScanJob *job)
{
  g_free (job->games_path);
  g_free (job->index_path);
  g_free (job->options.manifest_dir);
  g_clear_pointer (&job->options.verified, g_hash_table_unref);
  g_clear_object (&job->catalog);
  g_clear_pointer (&job->old_records, g_hash_table_unref);
  g_clear_pointer (&job->locked, g_hash_table_unref);
  g_clear_pointer (&job->only_ids, g_ptr_array_unref);
  g_clear_pointer (&job->new_records, g_hash_table_unref);
  g_clear_pointer (&job->waiting_tasks, g_ptr_array_unref);
  g_free (job->digest);
  g_free (job);
}

GHashTable *
_lsp_library_records_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) lsp_game_record_unref);
}

GHashTable *
_lsp_library_records_copy (GHashTable *records)
{
  GHashTable *copy = _lsp_library_records_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, records);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      LspGameRecord *record = value;
      g_hash_table_insert (copy, record->id, lsp_game_record_ref (record));
    }
  return copy;
}

/* library_digest: SHA-256 over every game's summary, sorted by id. Two peers
 * with the same digest have nothing to tell each other. */
static char *
compute_digest (GHashTable *records,
                LspCatalog *catalog)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  g_autoptr(LspSha256) sha = lsp_sha256_new ();
  guint8 digest[LSP_SHA256_LEN];
  char hex[LSP_SHA256_HEX_LEN + 1];
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, records);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (ids, key);

  g_ptr_array_sort (ids, lsp_strcmp_ptr);
  for (guint i = 0; i < ids->len; i++)
    {
      const LspGameRecord *record = g_hash_table_lookup (records, g_ptr_array_index (ids, i));
      const LspCatalogEntry *entry = lsp_catalog_lookup (catalog, record->id);
      g_autofree char *line = NULL;

      line = g_strdup_printf ("%s\t%s\t%s\t%" G_GUINT64_FORMAT "\t%d\t%d\t%s\n",
                              record->id, entry ? entry->name : "",
                              record->version ? record->version : "",
                              record->size, record->downloaded, record->installed,
                              record->manifest_hash ? record->manifest_hash : "");
      lsp_sha256_update (sha, line, strlen (line));
    }
  lsp_sha256_finish (sha, digest);
  lsp_sha256_to_hex (digest, hex);
  return g_strdup (hex);
}

static GPtrArray *
list_catalog_dirs (const char  *games_path,
                   int          games_fd,
                   LspCatalog  *catalog,
                   GError     **error)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  struct dirent *entry;
  DIR *dir;
  int fd;

  fd = dup (games_fd);
  if (fd < 0 || (dir = fdopendir (fd)) == NULL)
    {
      int saved_errno = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Could not list the games folder %s: %s"), games_path, g_strerror (saved_errno));
      return NULL;
    }
  rewinddir (dir);

  while ((entry = readdir (dir)) != NULL)
    {
      if (entry->d_name[0] == '.')
        continue;
      if (lsp_catalog_lookup (catalog, entry->d_name) == NULL)
        continue;
      g_ptr_array_add (ids, g_strdup (entry->d_name));
    }
  closedir (dir);

  return g_steal_pointer (&ids);
}

static void
prune_manifest_cache (const char *manifest_dir,
                      GHashTable *records)
{
  g_autoptr(GHashTable) wanted = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GDir) dir = NULL;
  GHashTableIter iter;
  gpointer value;
  const char *name;

  dir = g_dir_open (manifest_dir, 0, NULL);
  if (dir == NULL)
    return;

  g_hash_table_iter_init (&iter, records);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      LspGameRecord *record = value;
      if (record->manifest_hash != NULL)
        g_hash_table_add (wanted, record->manifest_hash);
    }

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *hash = NULL;

      if (!g_str_has_suffix (name, ".json"))
        continue;
      hash = g_strndup (name, strlen (name) - strlen (".json"));
      if (!g_hash_table_contains (wanted, hash))
        {
          g_autofree char *path = g_build_filename (manifest_dir, name, NULL);
          unlink (path);
        }
    }
}

/* Probing is syscall-bound and hashing CPU-bound: several threads pulling
 * games from one counter keep every core busy. */
#define MAX_SCAN_THREADS 4

typedef void (*ParallelFunc) (guint index, gpointer data);
typedef void (*ParallelWork) (gpointer data);

typedef struct
{
  ParallelFunc func;
  gpointer     data;
  guint        n_items;
  gint         next;
} ParallelFor;

/* What the pool runs: a ParallelFor's loop, or the extra work. */
typedef struct
{
  ParallelWork func;
  gpointer     data;
} ParallelTask;

static void
parallel_for_run (gpointer user_data)
{
  ParallelFor *loop = user_data;
  guint i;

  while ((i = (guint) g_atomic_int_add (&loop->next, 1)) < loop->n_items)
    loop->func (i, loop->data);
}

static void
run_parallel_task (gpointer task,
                   gpointer pool_data)
{
  ParallelTask *parallel_task = task;

  parallel_task->func (parallel_task->data);
}

/* Runs func for every index on up to MAX_SCAN_THREADS threads, this one
 * included; extra_work, if any, runs on one more thread at the same time.
 * The pool is not exclusive: its threads come from, and go back to, the
 * ones GLib keeps idle, so a scan does not start threads of its own. */
static void
parallel_for (guint        n_items,
              ParallelFunc func,
              gpointer     data,
              ParallelWork extra_work,
              gpointer     extra_data)
{
  ParallelFor loop = { func, data, n_items, 0 };
  ParallelTask loop_task = { parallel_for_run, &loop };
  ParallelTask extra_task = { extra_work, extra_data };
  guint n_threads = MIN (CLAMP (g_get_num_processors (), 1, MAX_SCAN_THREADS), MAX (n_items, 1));
  guint n_helpers = n_threads - 1 + (extra_work != NULL ? 1 : 0);
  GThreadPool *pool;

  pool = g_thread_pool_new (run_parallel_task, NULL, (gint) MAX (n_helpers, 1), FALSE, NULL);
  if (extra_work != NULL)
    g_thread_pool_push (pool, &extra_task, NULL);
  for (guint t = 1; t < n_threads; t++)
    g_thread_pool_push (pool, &loop_task, NULL);
  parallel_for_run (&loop);
  g_thread_pool_free (pool, FALSE, TRUE);
}

typedef struct
{
  LspScanJob     *job;
  GPtrArray      *ids;
  int             games_fd;
  gboolean        recover;
  GCancellable   *cancellable;
  LspGameProbe   *probes;
  gboolean       *found;
  GError        **errors;
  LspGameRecord **results;
  gint            n_hashed;
  GError         *index_error;
} ParallelScan;

static void
probe_one (guint    i,
           gpointer data)
{
  ParallelScan *scan = data;
  const char *id = g_ptr_array_index (scan->ids, i);

  if (g_hash_table_contains (scan->job->locked, id))
    return;
  scan->found[i] = lsp_scan_probe_game (scan->games_fd, id, scan->recover, &scan->probes[i], &scan->errors[i]);
}

static void
scan_one (guint    i,
          gpointer data)
{
  ParallelScan *scan = data;
  const char *id = g_ptr_array_index (scan->ids, i);
  gboolean hashed = FALSE;

  if (!scan->found[i])
    return;
  scan->results[i] = lsp_scan_game (scan->games_fd, id, &scan->probes[i],
                                    g_hash_table_lookup (scan->job->old_records, id),
                                    &scan->job->options, &hashed,
                                    scan->cancellable, &scan->errors[i]);
  if (hashed)
    g_atomic_int_inc (&scan->n_hashed);
}

/* Loads the index while the games are probed: on a warm start the two take
 * about as long as each other. */
static void
load_index_work (gpointer data)
{
  ParallelScan *scan = data;
  LspScanJob *job = scan->job;
  g_autoptr(GHashTable) loaded = NULL;
  guint64 rev = 0;

  loaded = lsp_library_index_load (job->index_path, &rev, &scan->index_error);
  if (loaded != NULL)
    {
      g_clear_pointer (&job->old_records, g_hash_table_unref);
      job->old_records = g_steal_pointer (&loaded);
      job->rev = rev;
    }
}

void
_lsp_library_scan_worker (GTask        *task,
                          gpointer      source_object,
                          gpointer      task_data,
                          GCancellable *cancellable)
{
  LspScanJob *job = task_data;
  g_autoptr(GPtrArray) ids = NULL;
  g_autoptr(GError) error = NULL;
  ParallelScan scan = { 0 };
  gboolean index_dirty = FALSE;
  int games_fd;

  games_fd = open (job->games_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (games_fd < 0)
    {
      int saved_errno = errno;
      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                               _("Could not open the games folder %s: %s. Check that it exists and is readable."),
                               job->games_path, g_strerror (saved_errno));
      return;
    }

  if (job->only_ids != NULL)
    ids = g_ptr_array_ref (job->only_ids);
  else if ((ids = list_catalog_dirs (job->games_path, games_fd, job->catalog, &error)) == NULL)
    {
      close (games_fd);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  scan.job = job;
  scan.ids = ids;
  scan.games_fd = games_fd;
  scan.recover = job->load_index;
  scan.cancellable = cancellable;
  scan.probes = g_new0 (LspGameProbe, ids->len + 1);
  scan.found = g_new0 (gboolean, ids->len + 1);
  scan.errors = g_new0 (GError *, ids->len + 1);
  scan.results = g_new0 (LspGameRecord *, ids->len + 1);

  parallel_for (ids->len, probe_one, &scan, job->load_index ? load_index_work : NULL, &scan);

  if (job->load_index && scan.index_error != NULL)
    {
      if (!g_error_matches (scan.index_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning ("Rebuilding the library index: %s", scan.index_error->message);
      /* Peers may know an old revision of ours; restarting from the clock
       * keeps library_rev moving forward after the index is lost. */
      job->rev = (guint64) (g_get_real_time () / G_USEC_PER_SEC);
      index_dirty = TRUE;
      g_clear_error (&scan.index_error);
    }

  parallel_for (ids->len, scan_one, &scan, NULL, NULL);
  job->n_hashed = (guint) scan.n_hashed;
  close (games_fd);

  job->new_records = job->only_ids != NULL ? _lsp_library_records_copy (job->old_records) : _lsp_library_records_new ();
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);
      LspGameRecord *old = g_hash_table_lookup (job->old_records, id);

      if (g_hash_table_contains (job->locked, id))
        {
          if (old != NULL)
            g_hash_table_replace (job->new_records, old->id, lsp_game_record_ref (old));
        }
      else if (scan.results[i] != NULL)
        {
          LspGameRecord *record = g_steal_pointer (&scan.results[i]);
          g_hash_table_replace (job->new_records, record->id, record);
        }
      else if (scan.errors[i] == NULL || g_error_matches (scan.errors[i], G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          g_hash_table_remove (job->new_records, id);
        }
      else if (error == NULL)
        {
          error = g_steal_pointer (&scan.errors[i]);
        }
      g_clear_error (&scan.errors[i]);
      lsp_game_probe_clear (&scan.probes[i]);
      g_clear_pointer (&scan.results[i], lsp_game_record_unref);
    }
  g_free (scan.probes);
  g_free (scan.found);
  g_free (scan.errors);
  g_free (scan.results);

  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* Compare with the index, game by game: only what peers would see moves
   * library_rev. */
  {
    gboolean summary_changed = FALSE;
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, job->new_records);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      {
        LspGameRecord *record = value;
        LspGameRecord *old = g_hash_table_lookup (job->old_records, record->id);

        if (old == NULL || !lsp_game_record_same_summary (old, record))
          summary_changed = TRUE;
        if (old == NULL || !lsp_game_record_equal (old, record))
          index_dirty = TRUE;
      }

    g_hash_table_iter_init (&iter, job->old_records);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      {
        LspGameRecord *old = value;

        if (!g_hash_table_contains (job->new_records, old->id))
          summary_changed = index_dirty = TRUE;
      }

    if (summary_changed)
      job->rev++;
  }

  job->digest = compute_digest (job->new_records, job->catalog);

  if (index_dirty && !lsp_library_index_save (job->index_path, job->rev, job->new_records, &error))
    {
      g_warning ("Could not save the library index: %s", error->message);
      g_clear_error (&error);
    }

  if (job->only_ids == NULL)
    prune_manifest_cache (job->options.manifest_dir, job->new_records);

  g_task_return_boolean (task, TRUE);
}
