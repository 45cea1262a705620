#define G_LOG_DOMAIN "lsp-chunk-buffer"

#include "config.h"

#include "lsp-chunk-buffer.h"

#include "lsp-manifest.h"

#include <string.h>
#include <sys/mman.h>

/* A fresh 4 MiB allocation is mapped and unmapped by malloc each time:
 * 1,024 page faults (each zeroing a page) on the thread that first writes
 * it, which for received bytes is the main loop. Kept buffers cost that
 * once. The bound keeps the pool independent of how much a peer transfers,
 * and lsp_chunk_buffer_trim() gives it back when downloads are over. */
#define MAX_KEPT 16

G_LOCK_DEFINE_STATIC (kept);
static gpointer kept[MAX_KEPT];
static guint n_kept;

guint8 *
lsp_chunk_buffer_new (void)
{
  guint8 *buffer;

  G_LOCK (kept);
  buffer = n_kept > 0 ? kept[--n_kept] : NULL;
  G_UNLOCK (kept);
  if (buffer != NULL)
    return buffer;

  buffer = g_aligned_alloc (1, LSP_MANIFEST_CHUNK_SIZE, LSP_CHUNK_BUFFER_ALIGN);
  /* Two huge pages instead of 1,024 small ones: fewer TLB misses for the
   * copy, the hash and the write. Only a hint. */
  madvise (buffer, LSP_MANIFEST_CHUNK_SIZE, MADV_HUGEPAGE);
  return buffer;
}

void
lsp_chunk_buffer_free (gpointer buffer)
{
  if (buffer == NULL)
    return;
  G_LOCK (kept);
  if (n_kept < MAX_KEPT)
    {
      kept[n_kept++] = buffer;
      buffer = NULL;
    }
  G_UNLOCK (kept);
  g_aligned_free (buffer);
}

/* Frees the kept buffers; those in use go back to the pool as usual. */
void
lsp_chunk_buffer_trim (void)
{
  gpointer buffers[MAX_KEPT];
  guint n;

  G_LOCK (kept);
  n = n_kept;
  memcpy (buffers, kept, n * sizeof (gpointer));
  n_kept = 0;
  G_UNLOCK (kept);
  for (guint i = 0; i < n; i++)
    g_aligned_free (buffers[i]);
}

/* The first length bytes of buffer, which goes back to the pool when the
 * last reference is dropped. */
GBytes *
lsp_chunk_buffer_to_bytes (guint8 *buffer,
                           gsize   length)
{
  g_return_val_if_fail (length <= LSP_MANIFEST_CHUNK_SIZE, NULL);

  return g_bytes_new_with_free_func (buffer, length, lsp_chunk_buffer_free, buffer);
}
