#define G_LOG_DOMAIN "lsp-download"

#include "config.h"

#include "lsp-download-private.h"

#include "lsp-chunk-buffer.h"
#include "lsp-sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Chunks we already have, found by their SHA-256 (worker-thread code):
 * the previous version's files, named by its manifest, and the chunks of
 * this download that verified. A chunk is only ever used after its bytes
 * hashed right just now, so a file damaged since its manifest was built
 * costs a fetch, not a wrong byte. */

typedef struct
{
  int          dir_fd;   /* the game root or the staging folder; not owned */
  const char  *path;     /* owned by a manifest that outlives the index */
  guint64      offset;
  guint32      length;
} Location;

static void
add_location (GHashTable   *index,
              const guint8 *hash,
              int           dir_fd,
              const char   *path,
              guint64       offset,
              guint32       length)
{
  GArray *locations = g_hash_table_lookup (index, hash);
  Location location = { dir_fd, path, offset, length };

  if (locations == NULL)
    {
      locations = g_array_new (FALSE, FALSE, sizeof (Location));
      g_hash_table_insert (index, (gpointer) hash, locations);
    }
  g_array_append_val (locations, location);
}

static guint32
chunk_length (const LspManifestFile *file,
              guint                  c)
{
  return (guint32) MIN ((guint64) LSP_MANIFEST_CHUNK_SIZE, file->size - (guint64) c * LSP_MANIFEST_CHUNK_SIZE);
}

/* Reads a chunk into buffer and tells whether it still hashes to hash. */
static gboolean
read_verified (int           dir_fd,
               const char   *path,
               guint64       offset,
               guint32       length,
               const guint8 *hash,
               guint8       *buffer)
{
  guint8 digest[LSP_SHA256_LEN];
  int fd = lsp_download_storage_open_file (dir_fd, path, O_RDONLY, NULL);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = pread (fd, buffer, length, (off_t) offset) == (ssize_t) length;
  close (fd);
  if (!ok)
    return FALSE;
  lsp_sha256_buffer (buffer, length, digest);
  return memcmp (digest, hash, LSP_SHA256_LEN) == 0;
}

/* Reports at most four times a second, like the download's progress. */
#define PROGRESS_INTERVAL_US (250 * 1000)

void
_lsp_download_reuse_progress_init (LspReuseProgress *progress,
                                   LspDownload      *download)
{
  progress->context = g_main_context_ref_thread_default ();
  progress->download = g_object_ref (download);
  progress->bytes = 0;
  progress->reported_at = 0;
}

void
_lsp_download_reuse_progress_clear (LspReuseProgress *progress)
{
  g_clear_pointer (&progress->context, g_main_context_unref);
  g_clear_object (&progress->download);
}

typedef struct
{
  LspDownload *download;
  guint64      bytes;
} Report;

static void
report_free (Report *report)
{
  g_object_unref (report->download);
  g_free (report);
}

static gboolean
on_reused_report (gpointer user_data)
{
  Report *report = user_data;
  LspDownload *self = report->download;

  /* Once prepared, the download counts its reused bytes itself. */
  if (!self->prepared && !self->finishing)
    {
      self->bytes_reused = report->bytes;
      self->bytes_done = report->bytes;
      g_object_notify_by_pspec (G_OBJECT (self), _lsp_download_properties[PROP_BYTES_REUSED]);
      _lsp_download_progress_changed (self);
    }
  return G_SOURCE_REMOVE;
}

static void
add_reused (LspReuseProgress *progress,
            guint32           length)
{
  gint64 now = g_get_monotonic_time ();
  Report *report;

  progress->bytes += length;
  if (now - progress->reported_at < PROGRESS_INTERVAL_US)
    return;
  progress->reported_at = now;
  report = g_new0 (Report, 1);
  report->download = g_object_ref (progress->download);
  report->bytes = progress->bytes;
  g_main_context_invoke_full (progress->context, G_PRIORITY_DEFAULT, on_reused_report, report,
                              (GDestroyNotify) report_free);
}

static gboolean
same_chunks (const LspManifestFile *a,
             const LspManifestFile *b)
{
  return a->size == b->size && a->n_chunks == b->n_chunks &&
         memcmp (a->chunk_hashes, b->chunk_hashes, (gsize) a->n_chunks * LSP_SHA256_LEN) == 0;
}

/* An update keeps a file where it is when the previous version has it
 * with the same chunks and every one of them still verifies; the others
 * are built in the staging folder. Returns which files are staged; the
 * kept files' chunks are set in state and reused. */
gboolean *
_lsp_download_reuse_keep_in_place (int               root_fd,
                                   LspManifest      *manifest,
                                   LspManifest      *previous,
                                   LspDownloadState *state,
                                   LspDownloadState *reused,
                                   LspReuseProgress *progress,
                                   GCancellable     *cancellable,
                                   GError          **error)
{
  guint n_files = lsp_manifest_get_n_files (manifest);
  g_autofree gboolean *staged = g_new0 (gboolean, MAX (n_files, 1));
  guint8 *buffer = lsp_chunk_buffer_new ();
  guint first = 0;

  for (guint i = 0; i < n_files; first += lsp_manifest_get_file (manifest, i)->n_chunks, i++)
    {
      const LspManifestFile *file = lsp_manifest_get_file (manifest, i);
      const LspManifestFile *old = previous != NULL ? lsp_manifest_lookup_file (previous, file->path) : NULL;
      struct stat st;

      staged[i] = TRUE;
      if (old == NULL || !same_chunks (file, old) ||
          fstatat (root_fd, file->path, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG (st.st_mode) ||
          (guint64) st.st_size != file->size)
        continue;
      staged[i] = FALSE;
      for (guint c = 0; c < file->n_chunks && !staged[i]; c++)
        {
          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            {
              lsp_chunk_buffer_free (buffer);
              return NULL;
            }
          staged[i] = !read_verified (root_fd, file->path, (guint64) c * LSP_MANIFEST_CHUNK_SIZE,
                                      chunk_length (file, c), file->chunk_hashes + (gsize) c * LSP_SHA256_LEN,
                                      buffer);
        }
      for (guint c = 0; c < file->n_chunks && !staged[i]; c++)
        {
          lsp_download_state_set (state, first + c);
          lsp_download_state_set (reused, first + c);
          add_reused (progress, chunk_length (file, c));
        }
    }
  lsp_chunk_buffer_free (buffer);
  return g_steal_pointer (&staged);
}

/* Fills the missing chunks of the files we write (all, or the staged ones
 * of an update) with local chunks of the same hash: the previous version's
 * in the game root, and this download's verified ones. Sets each copied
 * chunk in state and reused; returns FALSE only when writing failed or a
 * cancel came. */
gboolean
_lsp_download_reuse_copy (int               root_fd,
                          int               payload_fd,
                          LspManifest      *manifest,
                          LspManifest      *previous,
                          const gboolean   *staged,
                          LspDownloadState *state,
                          LspDownloadState *reused,
                          LspReuseProgress *progress,
                          GCancellable     *cancellable,
                          GError          **error)
{
  g_autoptr(GHashTable) index = g_hash_table_new_full (lsp_sha256_digest_hash, lsp_sha256_digest_equal, NULL,
                                                       (GDestroyNotify) g_array_unref);
  guint8 *buffer;
  gboolean ok = TRUE;
  guint first = 0;

  for (guint i = 0; previous != NULL && i < lsp_manifest_get_n_files (previous); i++)
    {
      const LspManifestFile *file = lsp_manifest_get_file (previous, i);

      for (guint c = 0; c < file->n_chunks; c++)
        add_location (index, file->chunk_hashes + (gsize) c * LSP_SHA256_LEN, root_fd, file->path,
                      (guint64) c * LSP_MANIFEST_CHUNK_SIZE, chunk_length (file, c));
    }
  for (guint i = 0; i < lsp_manifest_get_n_files (manifest); first += lsp_manifest_get_file (manifest, i)->n_chunks, i++)
    {
      const LspManifestFile *file = lsp_manifest_get_file (manifest, i);
      int dir_fd = staged != NULL && staged[i] ? payload_fd : root_fd;

      for (guint c = 0; c < file->n_chunks; c++)
        {
          if (lsp_download_state_get (state, first + c))
            add_location (index, file->chunk_hashes + (gsize) c * LSP_SHA256_LEN, dir_fd, file->path,
                          (guint64) c * LSP_MANIFEST_CHUNK_SIZE, chunk_length (file, c));
        }
    }
  if (g_hash_table_size (index) == 0)
    return TRUE;

  buffer = lsp_chunk_buffer_new ();
  first = 0;
  for (guint i = 0; ok && i < lsp_manifest_get_n_files (manifest); first += lsp_manifest_get_file (manifest, i)->n_chunks, i++)
    {
      const LspManifestFile *file = lsp_manifest_get_file (manifest, i);

      if (staged != NULL && !staged[i])
        continue;
      for (guint c = 0; ok && c < file->n_chunks; c++)
        {
          const guint8 *hash = file->chunk_hashes + (gsize) c * LSP_SHA256_LEN;
          guint64 offset = (guint64) c * LSP_MANIFEST_CHUNK_SIZE;
          guint32 length = chunk_length (file, c);
          GArray *locations;

          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            {
              ok = FALSE;
              break;
            }
          if (lsp_download_state_get (state, first + c) || (locations = g_hash_table_lookup (index, hash)) == NULL)
            continue;
          for (guint l = 0; l < locations->len; l++)
            {
              const Location *from = &g_array_index (locations, Location, l);

              if (from->length != length ||
                  !read_verified (from->dir_fd, from->path, from->offset, length, hash, buffer))
                continue;
              if (!lsp_download_storage_write_chunk (payload_fd, file->path, offset, buffer, length, error))
                {
                  ok = FALSE;
                  break;
                }
              lsp_download_state_set (state, first + c);
              lsp_download_state_set (reused, first + c);
              add_reused (progress, length);
              add_location (index, hash, payload_fd, file->path, offset, length);
              break;
            }
        }
    }
  lsp_chunk_buffer_free (buffer);
  return ok;
}

/* ---- twins: chunks of the same hash still to fetch ---- */

/* Of the missing chunks that share a hash, only the first is fetched; the
 * others wait for it and are copied from it. */
void
_lsp_download_reuse_hold_twins (LspDownload *self)
{
  g_autoptr(GHashTable) first = g_hash_table_new (lsp_sha256_digest_hash, lsp_sha256_digest_equal);

  for (guint i = 0; i < self->chunks->len; i++)
    {
      Chunk *chunk = &g_array_index (self->chunks, Chunk, i);
      GPtrArray *held;

      if (chunk->state != CHUNK_MISSING)
        continue;
      if (!g_hash_table_contains (first, chunk->hash))
        {
          g_hash_table_insert (first, (gpointer) chunk->hash, chunk);
          continue;
        }
      if (self->twins == NULL)
        self->twins = g_hash_table_new_full (lsp_sha256_digest_hash, lsp_sha256_digest_equal, NULL, (GDestroyNotify) g_ptr_array_unref);
      held = g_hash_table_lookup (self->twins, chunk->hash);
      if (held == NULL)
        {
          held = g_ptr_array_new ();
          g_hash_table_insert (self->twins, (gpointer) chunk->hash, held);
        }
      chunk->state = CHUNK_HELD;
      self->bytes_held += chunk->length;
      g_ptr_array_add (held, chunk);
    }
}

typedef struct
{
  char    *games_path;
  char    *game_id;
  gboolean staged;
  char    *from_path;
  guint64  from_offset;
  char    *to_path;
  guint64  to_offset;
  guint32  length;
  guint8   hash[LSP_SHA256_LEN];
} TwinJob;

static void
twin_job_free (TwinJob *job)
{
  g_free (job->games_path);
  g_free (job->game_id);
  g_free (job->from_path);
  g_free (job->to_path);
  g_free (job);
}

/* TRUE when copied; FALSE without an error when the source no longer
 * verifies, with one when writing failed. */
static void
copy_twin_worker (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  TwinJob *job = task_data;
  guint8 *buffer = lsp_chunk_buffer_new ();
  GError *error = NULL;
  int payload_fd = lsp_download_storage_open_payload (job->games_path, job->game_id, job->staged, &error);

  if (payload_fd < 0)
    g_task_return_error (task, error);
  else if (!read_verified (payload_fd, job->from_path, job->from_offset, job->length, job->hash, buffer))
    g_task_return_boolean (task, FALSE);
  else if (!lsp_download_storage_write_chunk (payload_fd, job->to_path, job->to_offset, buffer, job->length, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  if (payload_fd >= 0)
    close (payload_fd);
  lsp_chunk_buffer_free (buffer);
}

typedef struct
{
  LspDownload *download;
  Chunk       *chunk;
} TwinCall;

static void
on_twin_copied (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  TwinCall *call = user_data;
  g_autoptr(LspDownload) self = call->download;
  Chunk *chunk = call->chunk;
  g_autoptr(GError) error = NULL;
  gboolean copied = g_task_propagate_boolean (G_TASK (result), &error);

  g_free (call);
  self->workers--;
  self->bytes_held -= chunk->length;
  if (self->finishing)
    {
      _lsp_download_finish (self);
      return;
    }
  if (error != NULL)
    {
      _lsp_download_fail (self, g_steal_pointer (&error));
      return;
    }
  if (!copied)
    {
      /* Its twin changed on disk since it verified: fetch this one. */
      chunk->state = CHUNK_MISSING;
      _lsp_download_pump (self);
      return;
    }
  _lsp_download_chunk_reused (self, chunk);
}

/* done has just verified: the chunks held back for its hash are copied
 * from it, off the main loop. */
void
_lsp_download_reuse_twins (LspDownload *self,
                           Chunk       *done)
{
  const LspManifestFile *from = lsp_manifest_get_file (self->manifest, done->file);
  GPtrArray *held;

  if (self->twins == NULL || (held = g_hash_table_lookup (self->twins, done->hash)) == NULL)
    return;
  g_ptr_array_ref (held);
  g_hash_table_remove (self->twins, done->hash);
  for (guint i = 0; i < held->len; i++)
    {
      Chunk *chunk = g_ptr_array_index (held, i);
      g_autoptr(GTask) task = NULL;
      TwinJob *job = g_new0 (TwinJob, 1);
      TwinCall *call = g_new0 (TwinCall, 1);

      job->games_path = g_strdup (self->games_path);
      job->game_id = g_strdup (self->game_id);
      job->staged = self->staged;
      job->from_path = g_strdup (from->path);
      job->from_offset = done->offset;
      job->to_path = g_strdup (lsp_manifest_get_file (self->manifest, chunk->file)->path);
      job->to_offset = chunk->offset;
      job->length = chunk->length;
      memcpy (job->hash, chunk->hash, LSP_SHA256_LEN);
      call->download = g_object_ref (self);
      call->chunk = chunk;
      self->workers++;
      task = g_task_new (NULL, self->stop, on_twin_copied, call);
      g_task_set_source_tag (task, _lsp_download_reuse_twins);
      g_task_set_task_data (task, job, (GDestroyNotify) twin_job_free);
      g_task_run_in_thread (task, copy_twin_worker);
    }
  g_ptr_array_unref (held);
}
