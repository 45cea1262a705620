#define G_LOG_DOMAIN "lsp-quic-closing"

#include "config.h"

#include <string.h>

#include "lsp-quic-closing.h"

/* A closing connection answers the 1st, 2nd, 4th, 8th… packet it gets
 * (RFC 9000 §10.2.1 asks for a rate limit), and at most this many times:
 * a peer that missed several copies is gone or not listening. */
#define MAX_CLOSE_REPLIES 8

/* What is left of one connection that ended. */
typedef struct
{
  GArray      *cids;            /* LspCid routed here */
  GBytes      *packet;          /* the CONNECTION_CLOSE datagram; NULL: draining */
  LspSockaddr  remote;
  socklen_t    remote_len;
  gint64       deadline;        /* monotonic µs */
  gboolean     unsent;          /* a copy is owed once the socket drains */
  gboolean     amplification_limited;  /* the peer's address is not validated */
  guint        n_received;
  guint        n_replies;
  guint64      bytes_received;
  guint64      bytes_sent;
} Closing;

struct _LspQuicClosingSet
{
  LspQuicEndpoint *endpoint;    /* borrowed: it owns the set */
  GHashTable      *cids;        /* LspCid → Closing (borrowed) */
  GQueue           entries;     /* Closing (owned), earliest deadline first */
  GSource         *timer;
};

static void
closing_free (LspQuicClosingSet *self,
              Closing           *closing)
{
  for (guint i = 0; i < closing->cids->len; i++)
    {
      LspCid *cid = &g_array_index (closing->cids, LspCid, i);

      /* Only if it still points here: a later closing entry may have
       * taken the same ID (a client picks its first DCID itself). */
      if (g_hash_table_lookup (self->cids, cid) == closing)
        g_hash_table_remove (self->cids, cid);
    }
  g_array_unref (closing->cids);
  g_clear_pointer (&closing->packet, g_bytes_unref);
  g_free (closing);
}

static void
update_timer (LspQuicClosingSet *self)
{
  Closing *first = g_queue_peek_head (&self->entries);
  gint64 ready = first != NULL ? first->deadline : -1;

  if (g_source_get_ready_time (self->timer) != ready)
    g_source_set_ready_time (self->timer, ready);
}

static gboolean
on_timer (gpointer user_data)
{
  LspQuicClosingSet *self = user_data;
  gint64 now = g_get_monotonic_time ();
  Closing *closing;

  while ((closing = g_queue_peek_head (&self->entries)) != NULL && closing->deadline <= now)
    closing_free (self, g_queue_pop_head (&self->entries));
  update_timer (self);
  return G_SOURCE_CONTINUE;
}

LspQuicClosingSet *
lsp_quic_closing_set_new (LspQuicEndpoint *endpoint,
                          GMainContext    *context)
{
  LspQuicClosingSet *self = g_new0 (LspQuicClosingSet, 1);

  self->endpoint = endpoint;
  self->cids = g_hash_table_new_full (lsp_quic_cid_hash, lsp_quic_cid_equal, g_free, NULL);
  g_queue_init (&self->entries);
  self->timer = lsp_quic_timer_source_new ("[lanspread] QUIC closing connections", on_timer, self, context);
  return self;
}

void
lsp_quic_closing_set_free (LspQuicClosingSet *self)
{
  Closing *closing;

  g_source_destroy (self->timer);
  g_source_unref (self->timer);
  while ((closing = g_queue_pop_head (&self->entries)) != NULL)
    closing_free (self, closing);
  g_hash_table_unref (self->cids);
  g_free (self);
}

static gint
closing_compare (gconstpointer a,
                 gconstpointer b,
                 gpointer      user_data)
{
  const Closing *x = a, *y = b;

  return x->deadline < y->deadline ? -1 : x->deadline > y->deadline;
}

/* Routes the connection IDs (ngtcp2_cid) of a connection that just ended to
 * a closing entry for @period_us: one that re-sends @close_packet, or, when
 * it is %NULL, a draining one that stays silent. @unsent: the kernel had no
 * room, send it once it drains. */
void
lsp_quic_closing_set_add (LspQuicClosingSet *self,
                          GPtrArray         *cids,
                          GBytes            *close_packet,
                          const LspSockaddr *remote,
                          socklen_t          remote_len,
                          gboolean           unsent,
                          gboolean           amplification_limited,
                          gint64             period_us)
{
  Closing *closing;

  if (cids->len == 0)
    return;
  /* Bounded, so a flood of connections that fail cannot grow memory: the
   * entry that would end first makes room. */
  if (self->entries.length >= LSP_QUIC_MAX_CLOSING)
    closing_free (self, g_queue_pop_head (&self->entries));

  closing = g_new0 (Closing, 1);
  closing->cids = g_array_sized_new (FALSE, FALSE, sizeof (LspCid), cids->len);
  closing->packet = close_packet != NULL ? g_bytes_ref (close_packet) : NULL;
  memcpy (&closing->remote, remote, remote_len);
  closing->remote_len = remote_len;
  closing->deadline = g_get_monotonic_time () + period_us;
  closing->unsent = unsent && close_packet != NULL;
  closing->amplification_limited = amplification_limited;
  for (guint i = 0; i < cids->len; i++)
    {
      const ngtcp2_cid *cid = cids->pdata[i];
      LspCid *key = g_new0 (LspCid, 1);

      key->length = (guint8) cid->datalen;
      memcpy (key->data, cid->data, cid->datalen);
      g_array_append_vals (closing->cids, key, 1);
      g_hash_table_replace (self->cids, key, closing);
    }
  g_queue_insert_sorted (&self->entries, closing, closing_compare, NULL);
  update_timer (self);
  g_debug ("Keeping %u connection IDs routed for the %s period (%" G_GINT64_FORMAT " ms)",
           cids->len, close_packet != NULL ? "closing" : "draining", period_us / 1000);
}

static gboolean
closing_may_send (Closing *closing)
{
  gsize size = g_bytes_get_size (closing->packet);

  /* RFC 9000 §8.1: to an address it has not validated, a server sends at
   * most three times what it received from there. */
  return !closing->amplification_limited ||
         closing->bytes_sent + size <= 3 * closing->bytes_received;
}

static void
closing_send (LspQuicClosingSet *self,
              Closing           *closing)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (closing->packet, &size);

  closing->bytes_sent += size;
  /* Sent where the connection last sent, not to the source of the
   * trigger: a forged source must not turn this into a reflector. */
  lsp_quic_endpoint_send_datagram (self->endpoint, &closing->remote, closing->remote_len, data, size);
}

/* A packet of @length bytes for @cid. Returns %FALSE if no connection in
 * its closing or draining period has that ID. Nothing in the packet is
 * processed: closing answers with the saved CONNECTION_CLOSE, now and
 * then; draining stays silent (RFC 9000 §10.2.2). */
gboolean
lsp_quic_closing_set_answer (LspQuicClosingSet *self,
                             const LspCid      *cid,
                             gsize              length)
{
  Closing *closing = g_hash_table_lookup (self->cids, cid);

  if (closing == NULL)
    return FALSE;
  closing->n_received++;
  closing->bytes_received += length;
  if (closing->packet == NULL || closing->unsent || closing->n_replies >= MAX_CLOSE_REPLIES)
    return TRUE;
  if ((closing->n_received & (closing->n_received - 1)) != 0 || !closing_may_send (closing))
    return TRUE;
  closing->n_replies++;
  if (!lsp_quic_endpoint_can_send (self->endpoint))
    {
      /* Behind what the kernel did not take yet, which may hold the data
       * the close is meant to follow. */
      closing->unsent = TRUE;
      return TRUE;
    }
  closing->unsent = FALSE;
  closing_send (self, closing);
  return TRUE;
}

/* The socket drained: the copies owed go now, after the data queued
 * before them. */
void
lsp_quic_closing_set_send_unsent (LspQuicClosingSet *self)
{
  for (GList *l = self->entries.head; l != NULL; l = l->next)
    {
      Closing *closing = l->data;

      if (closing->unsent)
        {
          closing->unsent = FALSE;
          closing_send (self, closing);
        }
    }
}

guint
lsp_quic_closing_set_get_length (LspQuicClosingSet *self)
{
  return self->entries.length;
}
