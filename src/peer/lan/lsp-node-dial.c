#define G_LOG_DOMAIN "lsp-node"

#include "config.h"

#include "lsp-node-private.h"

#include <string.h>

/* Dialling: static peers with backoff, and peers that discovery finds. */

typedef struct
{
  LspNode    *node;
  StaticPeer *static_peer;   /* NULL for a discovered peer */
  char       *peer_id;       /* the discovered peer's id */
  char       *host;          /* and where discovery said it is */
  guint16     port;
} Dial;

static void
dial_free (Dial *dial)
{
  g_clear_object (&dial->node);
  g_free (dial->peer_id);
  g_free (dial->host);
  g_free (dial);
}

/* A discovered peer that had to wait for a free dial slot is dialled
 * with what discovery knows of it now, if it still needs dialling. */
static void
dial_next_waiting (LspNode *self)
{
  char *peer_id;

  while (g_hash_table_size (self->dialing) < LSP_NODE_MAX_DIALS &&
         (peer_id = g_queue_pop_head (&self->dial_queue)) != NULL)
    {
      const LspDiscoveredPeer *found = self->discovery != NULL ? lsp_discovery_lookup_peer (self->discovery, peer_id) : NULL;

      g_hash_table_remove (self->dial_waiting, peer_id);
      if (found != NULL)
        _lsp_node_on_peer_found (self->discovery, found, self);
      g_free (peer_id);
    }
}

static gboolean
on_retry_static (gpointer user_data)
{
  StaticPeer *static_peer = user_data;
  LspNode *self = g_object_get_data (G_OBJECT (static_peer->address), "lsp-node");

  static_peer->retry_id = 0;
  _lsp_node_dial_static_peer (self, static_peer);
  return G_SOURCE_REMOVE;
}

/* A static peer that cannot be reached, or that dropped us, is dialled
 * again after a growing pause, so a peer we cannot talk to is not hammered. */
void
_lsp_node_schedule_static_retry (StaticPeer *static_peer)
{
  static_peer->retry_id = g_timeout_add (static_peer->retry_ms, on_retry_static, static_peer);
  static_peer->retry_ms = MIN (static_peer->retry_ms * 2, LSP_NODE_RETRY_MAX_MS);
}

/* A --peer address answered by another key than the one we met there is
 * not taken for a new peer: it may be someone else on that address. It
 * is reported once per key and refused until the user trusts the address
 * again (lsp_node_trust_peer_address). */
static gboolean
static_pin_holds (LspNode           *self,
                  StaticPeer        *static_peer,
                  LspQuicConnection *conn)
{
  LspKnownPeers *known = lsp_quic_endpoint_get_known_peers (self->endpoint);
  g_autofree char *pinned = lsp_known_peers_dup_pinned (known, static_peer->key);
  const char *peer_id = lsp_quic_connection_get_peer_id (conn);

  if (pinned == NULL || strcmp (pinned, peer_id) == 0)
    {
      g_clear_pointer (&static_peer->reported_key, g_free);
      return TRUE;
    }
  if (g_strcmp0 (static_peer->reported_key, peer_id) != 0)
    {
      g_free (static_peer->reported_key);
      static_peer->reported_key = g_strdup (peer_id);
      g_message ("The peer at %s has another key: peer_id %s, where %s was before; not connecting",
                 static_peer->key, peer_id, pinned);
      g_signal_emit (self, _lsp_node_signals[NODE_SIGNAL_PEER_KEY_CHANGED], 0,
                     static_peer->key, pinned, peer_id);
    }
  return FALSE;
}

static void
on_dialled (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Dial *dial = user_data;
  LspNode *self = dial->node;
  g_autoptr(LspQuicConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicStream) control = NULL;
  Session *session;

  conn = lsp_quic_endpoint_connect_finish (LSP_QUIC_ENDPOINT (object), result, &error);
  if (dial->peer_id != NULL)
    {
      g_hash_table_remove (self->dialing, dial->peer_id);
      /* A failure may bring another service of that peer_id forward, and
       * with it a new dial from ::peer-found. */
      if (conn != NULL && self->discovery != NULL)
        lsp_discovery_set_verified (self->discovery, dial->peer_id, dial->host, dial->port);
      else if (self->discovery != NULL && !self->stopping &&
               !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        lsp_discovery_set_unreachable (self->discovery, dial->peer_id, dial->host, dial->port);
      if (!self->stopping)
        dial_next_waiting (self);
    }
  if (dial->static_peer != NULL)
    dial->static_peer->connecting = FALSE;

  if (conn == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_message ("Could not reach %s: %s",
                     dial->static_peer ? dial->static_peer->key : dial->peer_id, error->message);
          if (dial->static_peer != NULL && !self->stopping)
            _lsp_node_schedule_static_retry (dial->static_peer);
        }
      dial_free (dial);
      return;
    }

  if (self->stopping)
    {
      lsp_quic_connection_close (conn, APP_ERROR_SHUTDOWN, "shutting down");
      dial_free (dial);
      return;
    }
  if (dial->static_peer != NULL && !static_pin_holds (self, dial->static_peer, conn))
    {
      lsp_quic_connection_close (conn, APP_ERROR_CLOSE, "not the peer this address is pinned to");
      _lsp_node_schedule_static_retry (dial->static_peer);
      dial_free (dial);
      return;
    }

  session = _lsp_session_new (self, conn, TRUE);
  control = lsp_quic_connection_open_stream (conn, TRUE, &error);
  if (control == NULL)
    {
      g_message ("Could not open a control stream to %s: %s", lsp_quic_connection_get_peer_id (conn), error->message);
      _lsp_session_close (session, "no control stream");
      if (dial->static_peer != NULL)
        _lsp_node_schedule_static_retry (dial->static_peer);
      dial_free (dial);
      return;
    }

  if (dial->static_peer != NULL)
    {
      session->static_peer = dial->static_peer;
      dial->static_peer->session = session;
    }
  _lsp_session_attach_control (session, control);
  _lsp_session_send_message (session, _lsp_node_new_hello (self, LSP_MESSAGE_HELLO));
  _lsp_session_start_liveness (session);
  dial_free (dial);
}

void
_lsp_node_dial_static_peer (LspNode    *self,
                            StaticPeer *static_peer)
{
  Dial *dial;

  if (self->stopping || static_peer->connecting || static_peer->session != NULL || self->endpoint == NULL)
    return;

  static_peer->connecting = TRUE;
  dial = g_new0 (Dial, 1);
  dial->node = g_object_ref (self);
  dial->static_peer = static_peer;
  lsp_quic_endpoint_connect_async (self->endpoint, static_peer->address, NULL,
                                   self->cancellable, on_dialled, dial);
}

void
_lsp_node_on_peer_found (LspDiscovery            *discovery,
                         const LspDiscoveredPeer *found,
                         LspNode                 *self)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  LspPeer *known;
  Dial *dial;

  /* Of two peers that see each other, the smaller peer_id dials. */
  if (self->stopping || strcmp (lsp_identity_get_peer_id (self->identity), found->peer_id) >= 0)
    return;
  if (found->proto_ver < self->proto_min)
    {
      g_message ("Not connecting to %s: it speaks protocol %u, we need %u or newer",
                 found->peer_id, found->proto_ver, self->proto_min);
      return;
    }
  /* A dial across the line between a party with a passphrase and one
   * without would only be refused. */
  if (found->needs_passphrase != (self->party_key != NULL))
    {
      if (found->needs_passphrase)
        {
          g_autofree char *where = strchr (found->host, ':') != NULL
            ? g_strdup_printf ("[%s]:%u", found->host, found->port)
            : g_strdup_printf ("%s:%u", found->host, found->port);

          _lsp_node_report_unauthorized (self, found->peer_id, where);
        }
      g_debug ("Not connecting to %s: %s", found->peer_id,
               found->needs_passphrase ? "its party needs a passphrase" : "it has no passphrase");
      return;
    }
  known = g_hash_table_lookup (self->peers, found->peer_id);
  if ((known != NULL && lsp_peer_get_connected (known)) || g_hash_table_contains (self->dialing, found->peer_id))
    return;
  /* Anyone can announce services; dials wait their turn so that a flood
   * of them cannot make us open connections without end. */
  if (g_hash_table_size (self->dialing) >= LSP_NODE_MAX_DIALS)
    {
      if (g_hash_table_add (self->dial_waiting, g_strdup (found->peer_id)))
        g_queue_push_tail (&self->dial_queue, g_strdup (found->peer_id));
      return;
    }

  inet = g_inet_address_new_from_string (found->host);
  if (inet == NULL)
    return;
  address = g_inet_socket_address_new (inet, found->port);

  g_hash_table_add (self->dialing, g_strdup (found->peer_id));
  dial = g_new0 (Dial, 1);
  dial->node = g_object_ref (self);
  dial->peer_id = g_strdup (found->peer_id);
  dial->host = g_strdup (found->host);
  dial->port = found->port;
  lsp_quic_endpoint_connect_async (self->endpoint, G_INET_SOCKET_ADDRESS (address), found->peer_id,
                                   self->cancellable, on_dialled, dial);
}
