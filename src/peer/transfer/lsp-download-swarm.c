#define G_LOG_DOMAIN "lsp-download"

#include "config.h"

#include "lsp-download-private.h"

/* Swarming (PROTOCOL.md, "Swarm"): a download serves the chunks it has
 * verified, through the node, while it runs, and takes peers that serve
 * some chunks of the same manifest as sources beside complete copies.
 * Which chunk a source is asked for is rarest first: the missing chunk
 * that the fewest partial sources hold, ties broken at random so the
 * downloaders of one seeder fetch different chunks and can trade them.
 * A complete seeder is thereby asked first for chunks no partial peer
 * has, so each chunk leaves the seeder's uplink once, early. */

void
_lsp_download_publish (LspDownload *self)
{
  g_autofree guint8 *bitmap = NULL;

  /* A repair's chunks are the installed game's; it is served whole again
   * once the repair ends. An update builds its changed files in the
   * staging folder, where the chunk server does not read: its chunks are
   * served once it is complete. */
  if (self->repair || self->staged || self->chunks->len == 0)
    return;
  bitmap = g_malloc0 ((self->chunks->len + 7) / 8);
  for (guint i = 0; i < self->chunks->len; i++)
    if (g_array_index (self->chunks, Chunk, i).state == CHUNK_DONE)
      bitmap[i / 8] |= (guint8) (1u << (i % 8));
  lsp_node_publish_chunks (self->node, self->game_id, self->manifest_hash, self->chunks->len, bitmap);
  self->publishing = TRUE;
}

void
_lsp_download_publish_chunk (LspDownload *self,
                             Chunk       *chunk)
{
  if (self->publishing)
    lsp_node_publish_chunk (self->node, self->game_id, chunk->index);
}

/* Before anything removes or rewrites the files: from here on every
 * request for them is refused. */
void
_lsp_download_withdraw (LspDownload *self)
{
  if (!self->publishing)
    return;
  self->publishing = FALSE;
  lsp_node_withdraw_chunks (self->node, self->game_id);
}

/* Whether peer is a source for our manifest, and whether only for the
 * chunks it holds of a download of its own. */
gboolean
_lsp_download_peer_offers (LspDownload *self,
                           LspPeer     *peer,
                           gboolean    *out_partial)
{
  const LspGameSummary *game = lsp_peer_lookup_game (peer, self->game_id);

  *out_partial = FALSE;
  if (game != NULL && game->availability == LSP_AVAILABILITY_READY &&
      g_strcmp0 (game->manifest_hash, self->manifest_hash) == 0)
    return TRUE;
  *out_partial = TRUE;
  return lsp_peer_get_n_chunks_held (peer, self->game_id, self->manifest_hash) > 0;
}

/* Uses the bitmap _lsp_download_count_holders looked up in this pump. */
static gboolean
source_holds (LspDownload *self,
              Source      *source,
              Chunk       *chunk)
{
  if (!source->partial)
    return TRUE;
  return chunk->index < source->n_held_bits && (source->held[chunk->index / 8] & (1u << (chunk->index % 8))) != 0;
}

/* How many partial sources hold each missing chunk, counted once per
 * pump rather than once per request; a peer's bitmap may be replaced by
 * its next Have, so it is looked up again here. */
void
_lsp_download_count_holders (LspDownload *self)
{
  g_autoptr(GPtrArray) partial = g_ptr_array_new ();

  for (guint i = 0; i < self->sources->len; i++)
    {
      Source *source = g_ptr_array_index (self->sources, i);

      if (!source->partial)
        continue;
      source->held = lsp_peer_peek_chunks_held (source->peer, self->game_id, self->manifest_hash,
                                                &source->n_held_bits);
      if (source->held == NULL || source->n_held_bits != self->chunks->len)
        source->n_held_bits = 0;
      g_ptr_array_add (partial, source);
    }
  g_array_set_size (self->holders, self->chunks->len);
  for (guint c = 0; c < self->chunks->len; c++)
    {
      Chunk *chunk = &g_array_index (self->chunks, Chunk, c);
      guint n = 0;

      if (chunk->state == CHUNK_MISSING)
        for (guint i = 0; i < partial->len; i++)
          n += source_holds (self, g_ptr_array_index (partial, i), chunk);
      g_array_index (self->holders, guint, c) = n;
    }
}

/* The next chunk for source: among the missing ones it holds, the
 * rarest, at random among equals, preferring chunks it did not spoil;
 * with nothing missing that it holds, one in flight elsewhere (the end
 * game). */
Chunk *
_lsp_download_pick_chunk (LspDownload *self,
                          Source      *source)
{
  Chunk *best = NULL;
  gboolean best_spoiled = TRUE;
  guint best_holders = G_MAXUINT;
  guint ties = 0;

  for (guint i = 0; i < self->chunks->len; i++)
    {
      Chunk *chunk = &g_array_index (self->chunks, Chunk, i);
      gboolean spoiled;
      guint holders;

      if (chunk->state != CHUNK_MISSING || !source_holds (self, source, chunk))
        continue;
      spoiled = chunk->avoid == source && self->sources->len > 1;
      holders = i < self->holders->len ? g_array_index (self->holders, guint, i) : 0;
      if (best != NULL && (spoiled > best_spoiled || (spoiled == best_spoiled && holders > best_holders)))
        continue;
      if (best == NULL || spoiled < best_spoiled || holders < best_holders)
        {
          best = chunk;
          best_spoiled = spoiled;
          best_holders = holders;
          ties = 1;
        }
      else if (g_random_int_range (0, (gint32) ++ties) == 0)
        best = chunk;
    }
  if (best != NULL)
    return best;

  for (guint i = 0; i < self->fetches->len; i++)
    {
      Fetch *fetch = g_ptr_array_index (self->fetches, i);

      if (fetch->source != source && fetch->chunk->state == CHUNK_FETCHING &&
          fetch->chunk->n_fetches == 1 && fetch->chunk->avoid != source &&
          source_holds (self, source, fetch->chunk))
        return fetch->chunk;
    }
  return NULL;
}
