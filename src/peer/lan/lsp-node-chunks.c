#define G_LOG_DOMAIN "lsp-node"

#include "config.h"

#include "lsp-node-private.h"

#include "lsp-game-root.h"

#include <string.h>

/* The "swarm" feature (PROTOCOL.md, "Swarm"): the chunks our downloads in
 * progress have verified, which the chunk server may serve, told to every
 * peer that lists the feature. A set goes out whole when a peer connects
 * or a download starts publishing, and as the chunks added since the last
 * Have at most every LSP_NODE_HAVE_INTERVAL_MS, so a download that
 * verifies a hundred chunks a second costs a few small frames. */

struct _PublishedChunks
{
  char    *game_id;
  char    *manifest_hash;
  guint    chunk_count;
  guint8  *bitmap;
  GArray  *added;        /* guint32: verified since the last Have */
  gboolean whole;        /* the next Have carries the bitmap */
};

void
_lsp_published_chunks_free (PublishedChunks *published)
{
  g_free (published->game_id);
  g_free (published->manifest_hash);
  g_free (published->bitmap);
  g_array_unref (published->added);
  g_free (published);
}

static LspMessage *
new_whole_have (PublishedChunks *published)
{
  return lsp_message_new_have_bitmap (published->game_id, published->manifest_hash,
                                      published->chunk_count, published->bitmap);
}

static gboolean
session_wants_chunks (Session *session)
{
  return session->established && !session->closing && session->swarm;
}

static void
send_to_swarm (LspNode    *self,
               LspMessage *message)
{
  g_autoptr(LspMessage) owned = message;

  for (guint i = 0; i < self->sessions->len; i++)
    {
      Session *session = g_ptr_array_index (self->sessions, i);

      if (session_wants_chunks (session))
        _lsp_session_send_message (session, lsp_message_ref (message));
    }
}

static gboolean
flush_published (gpointer user_data)
{
  LspNode *self = user_data;
  GHashTableIter iter;
  PublishedChunks *published;

  self->chunks_flush_id = 0;
  g_hash_table_iter_init (&iter, self->published);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &published))
    {
      if (published->whole || published->added->len > LSP_PROTO_MAX_HAVE_ADDED)
        send_to_swarm (self, new_whole_have (published));
      else if (published->added->len > 0)
        send_to_swarm (self, lsp_message_new_have_added (published->game_id, published->manifest_hash,
                                                         published->chunk_count,
                                                         (const guint32 *) (gpointer) published->added->data,
                                                         published->added->len));
      published->whole = FALSE;
      g_array_set_size (published->added, 0);
    }
  return G_SOURCE_REMOVE;
}

static void
schedule_flush (LspNode *self)
{
  if (self->chunks_flush_id == 0)
    self->chunks_flush_id = g_timeout_add (LSP_NODE_HAVE_INTERVAL_MS, flush_published, self);
}

/**
 * lsp_node_publish_chunks:
 * @bitmap: (array): chunk_count bits, bit i of byte i / 8 from the low end
 *
 * Lets the chunk server serve these verified chunks of manifest_hash while
 * game_id is downloading, and tells the peers. Nothing is published when
 * the feature is off, for a manifest too large for a Have, or beyond
 * LSP_PROTO_MAX_HAVE_GAMES games: those downloads serve nothing until
 * they are complete.
 */
void
lsp_node_publish_chunks (LspNode      *self,
                         const char   *game_id,
                         const char   *manifest_hash,
                         guint         chunk_count,
                         const guint8 *bitmap)
{
  PublishedChunks *published;

  g_return_if_fail (LSP_IS_NODE (self));
  g_return_if_fail (lsp_game_id_is_valid (game_id));
  g_return_if_fail (lsp_proto_hex_digest_is_valid (manifest_hash));
  g_return_if_fail (bitmap != NULL);

  if (!self->swarm || chunk_count == 0 || chunk_count > LSP_PROTO_MAX_HAVE_CHUNKS)
    return;
  published = g_hash_table_lookup (self->published, game_id);
  if (published == NULL)
    {
      if (g_hash_table_size (self->published) >= LSP_PROTO_MAX_HAVE_GAMES)
        return;
      published = g_new0 (PublishedChunks, 1);
      published->game_id = g_strdup (game_id);
      published->added = g_array_new (FALSE, FALSE, sizeof (guint32));
      g_hash_table_insert (self->published, published->game_id, published);
    }
  g_free (published->manifest_hash);
  g_free (published->bitmap);
  published->manifest_hash = g_strdup (manifest_hash);
  published->chunk_count = chunk_count;
  published->bitmap = g_memdup2 (bitmap, (chunk_count + 7) / 8);
  published->whole = TRUE;
  g_array_set_size (published->added, 0);
  schedule_flush (self);
}

/* One more verified chunk of a published download. */
void
lsp_node_publish_chunk (LspNode    *self,
                        const char *game_id,
                        guint       index)
{
  PublishedChunks *published;
  guint8 bit;
  guint32 added = index;

  g_return_if_fail (LSP_IS_NODE (self));

  published = g_hash_table_lookup (self->published, game_id);
  if (published == NULL || index >= published->chunk_count)
    return;
  bit = (guint8) (1u << (index % 8));
  if ((published->bitmap[index / 8] & bit) != 0)
    return;
  published->bitmap[index / 8] |= bit;
  if (!published->whole && published->added->len <= LSP_PROTO_MAX_HAVE_ADDED)
    g_array_append_val (published->added, added);
  schedule_flush (self);
}

/**
 * lsp_node_withdraw_chunks:
 *
 * Stops serving game_id's chunks at once (a cancel, a failure, the end of
 * the download): the chunk server refuses them from now on, and the peers
 * are told without waiting for the next batch.
 */
void
lsp_node_withdraw_chunks (LspNode    *self,
                          const char *game_id)
{
  PublishedChunks *published;

  g_return_if_fail (LSP_IS_NODE (self));

  published = g_hash_table_lookup (self->published, game_id);
  if (published == NULL)
    return;
  send_to_swarm (self, lsp_message_new_have_bitmap (game_id, published->manifest_hash, 0, NULL));
  g_hash_table_remove (self->published, game_id);
}

gboolean
lsp_node_is_chunk_published (LspNode    *self,
                             const char *game_id,
                             const char *manifest_hash,
                             guint       index)
{
  PublishedChunks *published;

  g_return_val_if_fail (LSP_IS_NODE (self), FALSE);

  published = g_hash_table_lookup (self->published, game_id);
  if (published == NULL || g_strcmp0 (published->manifest_hash, manifest_hash) != 0 ||
      index >= published->chunk_count)
    return FALSE;
  return (published->bitmap[index / 8] & (1u << (index % 8))) != 0;
}

gboolean
lsp_node_has_published (LspNode    *self,
                        const char *game_id,
                        const char *manifest_hash)
{
  PublishedChunks *published;

  g_return_val_if_fail (LSP_IS_NODE (self), FALSE);

  published = g_hash_table_lookup (self->published, game_id);
  return published != NULL && g_strcmp0 (published->manifest_hash, manifest_hash) == 0;
}

/**
 * lsp_node_set_swarm:
 *
 * Whether this peer lists the "swarm" feature: with it off (call it
 * before lsp_node_start) it neither publishes nor follows partial
 * chunks, as a peer from before the feature. Tests use it.
 */
void
lsp_node_set_swarm (LspNode  *self,
                    gboolean  enabled)
{
  g_return_if_fail (LSP_IS_NODE (self));

  self->swarm = enabled;
}

gboolean
lsp_node_get_swarm (LspNode *self)
{
  g_return_val_if_fail (LSP_IS_NODE (self), FALSE);

  return self->swarm;
}

/* A peer that just connected gets every published set whole. */
void
_lsp_session_send_published (Session *session)
{
  GHashTableIter iter;
  PublishedChunks *published;

  if (!session_wants_chunks (session))
    return;
  g_hash_table_iter_init (&iter, session->node->published);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &published))
    _lsp_session_send_message (session, new_whole_have (published));
}

void
_lsp_session_handle_have (Session           *session,
                          const LspHaveBody *have)
{
  /* A peer that sends Have without both of us listing the feature breaks
   * nothing of ours: it is not followed. */
  if (!session->swarm)
    {
      g_debug ("Ignoring a Have from %s, which did not negotiate “swarm”", lsp_peer_get_id (session->peer));
      return;
    }
  lsp_peer_apply_have (session->peer, have);
}
