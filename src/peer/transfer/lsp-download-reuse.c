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

static guint
hash_digest (gconstpointer key)
{
  guint value;

  memcpy (&value, key, sizeof value);
  return value;
}

static gboolean
equal_digest (gconstpointer a,
              gconstpointer b)
{
  return memcmp (a, b, LSP_SHA256_LEN) == 0;
}

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
                          GCancellable     *cancellable,
                          GError          **error)
{
  g_autoptr(GHashTable) index = g_hash_table_new_full (hash_digest, equal_digest, NULL,
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
              add_location (index, hash, payload_fd, file->path, offset, length);
              break;
            }
        }
    }
  lsp_chunk_buffer_free (buffer);
  return ok;
}
