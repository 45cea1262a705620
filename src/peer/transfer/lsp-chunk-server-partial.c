#define G_LOG_DOMAIN "lsp-chunk-server"

#include "config.h"

#include "lsp-chunk-server-private.h"

#include "lsp-error.h"

/* Serving a download in progress (the "swarm" feature): only the chunks
 * it verified, for its manifest, and only while it publishes them
 * (lsp_node_publish_chunks). A cancel, a failure and the end of the
 * download withdraw them before they touch a file, so a request that
 * passes this rule reads bytes that were verified and stay in place until
 * it is answered; the check is repeated once the bytes are read. */

/* A partial chunk request must be one whole chunk of the manifest, since
 * that is the unit that was verified. */
static gboolean
find_chunk_index (LspManifest        *manifest,
                  const LspChunkBody *chunk,
                  guint              *out_index)
{
  guint first = 0;

  if (chunk->offset % LSP_MANIFEST_CHUNK_SIZE != 0)
    return FALSE;
  for (guint i = 0; i < lsp_manifest_get_n_files (manifest); i++)
    {
      const LspManifestFile *file = lsp_manifest_get_file (manifest, i);

      if (g_str_equal (file->path, chunk->path))
        {
          guint c = (guint) (chunk->offset / LSP_MANIFEST_CHUNK_SIZE);

          if (c >= file->n_chunks ||
              chunk->length != MIN ((guint64) LSP_MANIFEST_CHUNK_SIZE, file->size - chunk->offset))
            return FALSE;
          *out_index = first + c;
          return TRUE;
        }
      first += file->n_chunks;
    }
  return FALSE;
}

/* Whether chunk of manifest is one our download in progress verified and
 * still serves. */
gboolean
_lsp_chunk_server_partial_allows (LspNode             *node,
                                  LspManifest         *manifest,
                                  const LspChunkBody  *chunk,
                                  GError             **error)
{
  guint index;

  if (!lsp_node_has_published (node, chunk->game_id, chunk->manifest_hash))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND, "%s is no longer served here under manifest %s",
                   chunk->game_id, chunk->manifest_hash);
      return FALSE;
    }
  if (!find_chunk_index (manifest, chunk, &index))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND, "%s+%" G_GUINT64_FORMAT ":%u of %s is not a chunk of its manifest; "
                   "a download in progress serves whole chunks only", chunk->path, chunk->offset, chunk->length,
                   chunk->game_id);
      return FALSE;
    }
  if (!lsp_node_is_chunk_published (node, chunk->game_id, chunk->manifest_hash, index))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND, "Chunk %u of %s is not verified here yet", index, chunk->game_id);
      return FALSE;
    }
  return TRUE;
}
