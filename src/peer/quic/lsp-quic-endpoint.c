#define G_LOG_DOMAIN "lsp-quic-endpoint"

#include "config.h"

#include "lsp-quic-endpoint.h"
#include "lsp-quic-address-index.h"
#include "lsp-quic-closing.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <string.h>

#include "lsp-identity-private.h"
#include "lsp-quic-private.h"
#include "lsp-udp-batch-private.h"

/* recvmmsg calls per wake-up: enough to drain a busy socket in batches,
 * few enough that timers and other sources still get their turn. */
#define MAX_RECEIVES_PER_WAKEUP 8

#define SOCKET_BUFFER_SIZE (8 * 1024 * 1024)

/* Flags, CID, the longest packet number and a header-protection sample. */
#define STATELESS_RESET_MIN_LEN (1 + LSP_QUIC_CID_LEN + 4 + 16)

struct _LspQuicEndpoint
{
  GObject             parent_instance;

  GMainContext       *context;
  LspIdentity        *identity;
  char               *alpn;
  LspKnownPeers      *known_peers;
  GSocket            *socket;
  LspUdpBatch        *udp;
  GSource            *read_source;
  GSource            *write_source;
  LspSockaddr         local;
  socklen_t           local_len;
  GInetSocketAddress *local_address;

  GHashTable         *cids;         /* LspCid → LspQuicConnection (borrowed) */
  GHashTable         *connections;  /* set of LspQuicConnection (owned) */
  LspQuicAddressIndex *by_address;  /* the same connections by remote IP address */
  guint               max_connections;
  LspQuicClosingSet  *closing;      /* NULL once disposing: the socket is going */
  guint               idle_timeout_ms;
  guint               handshake_timeout_ms;

  guint8             *tx_buffer;
  gsize               tx_size;

  /* Datagrams the kernel did not take: sent first once it can. */
  guint8             *blocked_data;
  gsize               blocked_length;
  gsize               blocked_segment;
  LspSockaddr         blocked_addr;
  socklen_t           blocked_addr_len;

  GPtrArray          *touched;      /* connections that got packets in this batch */
  GHashTable         *touched_set;  /* the same, to look them up */
  guint64             stray_offers; /* datagrams offered to a connection as a possible reset */

  gint64              reply_window_start;
  guint               replies_in_window;
};

G_DEFINE_FINAL_TYPE (LspQuicEndpoint, lsp_quic_endpoint, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_IDLE_TIMEOUT,
  PROP_HANDSHAKE_TIMEOUT,
  N_PROPS
};

enum {
  INCOMING_CONNECTION,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

guint
lsp_quic_cid_hash (gconstpointer key)
{
  const LspCid *cid = key;
  guint hash;

  /* CIDs are random: their first bytes already are a good hash. */
  if (cid->length >= sizeof hash)
    {
      memcpy (&hash, cid->data, sizeof hash);
      return hash ^ cid->length;
    }
  hash = cid->length;
  for (guint i = 0; i < cid->length; i++)
    hash = hash * 31 + cid->data[i];
  return hash;
}

gboolean
lsp_quic_cid_equal (gconstpointer a,
                    gconstpointer b)
{
  const LspCid *x = a, *y = b;
  return x->length == y->length && memcmp (x->data, y->data, x->length) == 0;
}

static void
lsp_quic_endpoint_close_all_internal (LspQuicEndpoint *self,
                                      guint64          code,
                                      const char      *reason)
{
  g_autoptr(GPtrArray) connections = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (connections, g_object_ref (key));
  for (guint i = 0; i < connections->len; i++)
    lsp_quic_connection_close (connections->pdata[i], code, reason);
}

static void
lsp_quic_endpoint_dispose (GObject *object)
{
  LspQuicEndpoint *self = LSP_QUIC_ENDPOINT (object);

  if (self->connections != NULL)
    lsp_quic_endpoint_close_all_internal (self, LSP_QUIC_APP_SHUTDOWN, "shutting down");
  /* The socket goes away with us: nothing could answer for them. */
  g_clear_pointer (&self->closing, lsp_quic_closing_set_free);
  if (self->read_source != NULL)
    {
      g_source_destroy (self->read_source);
      g_clear_pointer (&self->read_source, g_source_unref);
    }
  if (self->write_source != NULL)
    {
      g_source_destroy (self->write_source);
      g_clear_pointer (&self->write_source, g_source_unref);
    }
  g_clear_object (&self->socket);
  g_clear_object (&self->identity);
  g_clear_object (&self->known_peers);

  G_OBJECT_CLASS (lsp_quic_endpoint_parent_class)->dispose (object);
}

static void
lsp_quic_endpoint_finalize (GObject *object)
{
  LspQuicEndpoint *self = LSP_QUIC_ENDPOINT (object);

  g_clear_pointer (&self->alpn, g_free);
  g_clear_pointer (&self->udp, lsp_udp_batch_free);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->cids, g_hash_table_unref);
  g_clear_pointer (&self->connections, g_hash_table_unref);
  g_clear_pointer (&self->by_address, lsp_quic_address_index_free);
  g_clear_object (&self->local_address);
  g_clear_pointer (&self->tx_buffer, g_free);
  g_clear_pointer (&self->touched, g_ptr_array_unref);
  g_clear_pointer (&self->touched_set, g_hash_table_unref);
  g_clear_pointer (&self->blocked_data, g_free);

  G_OBJECT_CLASS (lsp_quic_endpoint_parent_class)->finalize (object);
}

static void
lsp_quic_endpoint_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  LspQuicEndpoint *self = LSP_QUIC_ENDPOINT (object);

  switch (prop_id)
    {
    case PROP_IDLE_TIMEOUT:
      g_value_set_uint (value, self->idle_timeout_ms);
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      g_value_set_uint (value, self->handshake_timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lsp_quic_endpoint_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  LspQuicEndpoint *self = LSP_QUIC_ENDPOINT (object);

  switch (prop_id)
    {
    case PROP_IDLE_TIMEOUT:
      lsp_quic_endpoint_set_idle_timeout (self, g_value_get_uint (value));
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      lsp_quic_endpoint_set_handshake_timeout (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lsp_quic_endpoint_class_init (LspQuicEndpointClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lsp_quic_endpoint_dispose;
  object_class->finalize = lsp_quic_endpoint_finalize;
  object_class->get_property = lsp_quic_endpoint_get_property;
  object_class->set_property = lsp_quic_endpoint_set_property;

  /* Both apply to connections created afterwards. */
  properties[PROP_IDLE_TIMEOUT] =
    g_param_spec_uint ("idle-timeout", NULL, NULL, 100, G_MAXUINT / 2, LSP_QUIC_DEFAULT_IDLE_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_HANDSHAKE_TIMEOUT] =
    g_param_spec_uint ("handshake-timeout", NULL, NULL, 100, G_MAXUINT / 2, LSP_QUIC_DEFAULT_HANDSHAKE_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * LspQuicEndpoint::incoming-connection:
   * @connection: an authenticated connection a peer opened
   *
   * Connect to its ::incoming-stream and ::closed signals from the handler.
   */
  signals[INCOMING_CONNECTION] =
    g_signal_new ("incoming-connection", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, LSP_TYPE_QUIC_CONNECTION);
}

static void
lsp_quic_endpoint_init (LspQuicEndpoint *self)
{
  self->cids = g_hash_table_new_full (lsp_quic_cid_hash, lsp_quic_cid_equal, g_free, NULL);
  self->connections = g_hash_table_new_full (g_direct_hash, g_direct_equal, g_object_unref, NULL);
  self->by_address = lsp_quic_address_index_new ();
  self->max_connections = LSP_QUIC_MAX_CONNECTIONS;
  self->idle_timeout_ms = LSP_QUIC_DEFAULT_IDLE_TIMEOUT_MS;
  self->handshake_timeout_ms = LSP_QUIC_DEFAULT_HANDSHAKE_TIMEOUT_MS;
  self->touched = g_ptr_array_new_with_free_func (g_object_unref);
  self->touched_set = g_hash_table_new (g_direct_hash, g_direct_equal);
  self->tx_size = LSP_UDP_GSO_MAX_BYTES + 2048;
  self->tx_buffer = g_malloc (self->tx_size);
}

/* Receiving ------------------------------------------------------------- */

/* Version negotiation and stateless resets answer strangers, so a flood of
 * forged datagrams must not turn us into an amplifier. */
static gboolean
take_reply_budget (LspQuicEndpoint *self)
{
  gint64 now = g_get_monotonic_time ();

  if (now - self->reply_window_start > G_USEC_PER_SEC)
    {
      self->reply_window_start = now;
      self->replies_in_window = 0;
    }
  if (self->replies_in_window >= LSP_QUIC_MAX_REPLIES_PER_SECOND)
    return FALSE;
  self->replies_in_window++;
  return TRUE;
}

void
lsp_quic_endpoint_send_datagram (LspQuicEndpoint   *self,
                                 const LspSockaddr *addr,
                                 socklen_t          addr_len,
                                 const guint8      *data,
                                 gsize              length)
{
  if (lsp_udp_batch_send (self->udp, &addr->sa, addr_len, data, length, length) < 0)
    g_debug ("Cannot send a reply datagram: %s", g_strerror (errno));
}

static void
send_version_negotiation (LspQuicEndpoint        *self,
                          const ngtcp2_version_cid *vc,
                          const LspSockaddr      *addr,
                          socklen_t               addr_len)
{
  guint8 buf[256];
  uint32_t versions[] = { NGTCP2_PROTO_VER_V1 };
  guint8 unused;
  ngtcp2_ssize n;

  if (!take_reply_budget (self))
    return;
  gnutls_rnd (GNUTLS_RND_NONCE, &unused, 1);
  n = ngtcp2_pkt_write_version_negotiation (buf, sizeof buf, unused, vc->scid, vc->scidlen,
                                            vc->dcid, vc->dcidlen, versions, G_N_ELEMENTS (versions));
  if (n > 0)
    lsp_quic_endpoint_send_datagram (self, addr, addr_len, buf, (gsize) n);
}

static void
send_stateless_reset (LspQuicEndpoint   *self,
                      const guint8      *dcid,
                      gsize              dcid_len,
                      gsize              trigger_len,
                      const LspSockaddr *addr,
                      socklen_t          addr_len)
{
  guint8 buf[64];
  guint8 random[64];
  guint8 token[NGTCP2_STATELESS_RESET_TOKENLEN];
  ngtcp2_cid cid;
  gsize random_len;
  ngtcp2_ssize n;

  /* A reset must be shorter than what triggered it, or two endpoints that
   * both lost state would ping-pong resets forever; and it must be long
   * enough to pass for a short-header packet with our CID length, or the
   * receiver drops it before looking for the token. */
  if (trigger_len <= STATELESS_RESET_MIN_LEN)
    return;
  if (!take_reply_budget (self))
    return;

  random_len = MIN (trigger_len - 1, sizeof buf) - 1 - NGTCP2_STATELESS_RESET_TOKENLEN;
  ngtcp2_cid_init (&cid, dcid, dcid_len);
  lsp_quic_endpoint_reset_token (self, &cid, token);
  gnutls_rnd (GNUTLS_RND_NONCE, random, random_len);
  n = ngtcp2_pkt_write_stateless_reset (buf, sizeof buf, token, random, random_len);
  g_debug ("Answering a packet for an unknown connection with a stateless reset (%" G_GSSIZE_FORMAT " bytes)", (gssize) n);
  if (n > 0)
    lsp_quic_endpoint_send_datagram (self, addr, addr_len, buf, (gsize) n);
}

static void
add_connection (LspQuicEndpoint   *self,
                LspQuicConnection *conn)
{
  g_hash_table_add (self->connections, g_object_ref (conn));
  lsp_quic_address_index_add (self->by_address, conn);
}

static void
touch (LspQuicEndpoint   *self,
       LspQuicConnection *conn)
{
  /* Batches usually belong to one connection, the one touched last; the
   * set keeps a batch spread over many connections linear. */
  if (self->touched->len > 0 && self->touched->pdata[self->touched->len - 1] == conn)
    return;
  if (g_hash_table_add (self->touched_set, conn))
    g_ptr_array_add (self->touched, g_object_ref (conn));
}

static void
accept_connection (LspQuicEndpoint   *self,
                   const LspSockaddr *addr,
                   socklen_t          addr_len,
                   const guint8      *data,
                   gsize              length)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  char address_key[INET6_ADDRSTRLEN];
  ngtcp2_pkt_hd hd;

  if (ngtcp2_accept (&hd, data, length) != 0)
    return;
  if (!lsp_quic_sockaddr_to_key (addr, address_key, sizeof address_key) ||
      !lsp_quic_address_index_admit (self->by_address, address_key, g_hash_table_size (self->connections),
                                     self->max_connections, self->known_peers))
    return;

  conn = lsp_quic_connection_new_server (self, &self->local, self->local_len, addr, addr_len, &hd, &error);
  if (conn == NULL)
    {
      g_debug ("Cannot accept a connection from %s: %s", address_key, error->message);
      return;
    }
  add_connection (self, conn);
  touch (self, conn);
  lsp_quic_connection_handle_packet (conn, addr, addr_len, data, length, FALSE);
}

/* A stateless reset carries a random DCID, so it cannot be routed by CID:
 * offer it to the connections with that peer, which check its token.
 * Each offer costs a decryption in ngtcp2, so a peer sending stray
 * datagrams gets at most LSP_QUIC_MAX_RESET_OFFERS per datagram, whatever
 * number of connections it holds; an honest peer has one or two.
 * Returns whether any connection with that peer exists. */
static gboolean
offer_as_reset (LspQuicEndpoint   *self,
                const LspSockaddr *addr,
                socklen_t          addr_len,
                const guint8      *data,
                gsize              length)
{
  g_autoptr(GPtrArray) matches = lsp_quic_address_index_find (self->by_address, addr, LSP_QUIC_MAX_RESET_OFFERS);

  if (matches->len == 0)
    return FALSE;
  self->stray_offers += matches->len;
  for (guint i = 0; i < matches->len; i++)
    {
      touch (self, matches->pdata[i]);
      lsp_quic_connection_handle_packet (matches->pdata[i], addr, addr_len, data, length, TRUE);
    }
  return TRUE;
}

static void
handle_datagram (LspQuicEndpoint   *self,
                 const LspSockaddr *addr,
                 socklen_t          addr_len,
                 const guint8      *data,
                 gsize              length)
{
  ngtcp2_version_cid vc;
  LspCid key;
  LspQuicConnection *conn;
  int rv;

  rv = ngtcp2_pkt_decode_version_cid (&vc, data, length, LSP_QUIC_CID_LEN);
  if (rv == NGTCP2_ERR_VERSION_NEGOTIATION)
    {
      send_version_negotiation (self, &vc, addr, addr_len);
      return;
    }
  if (rv != 0 || vc.dcidlen > NGTCP2_MAX_CIDLEN)
    return;

  key.length = (guint8) vc.dcidlen;
  memcpy (key.data, vc.dcid, vc.dcidlen);
  conn = g_hash_table_lookup (self->cids, &key);
  if (conn != NULL)
    {
      touch (self, conn);
      lsp_quic_connection_handle_packet (conn, addr, addr_len, data, length, FALSE);
      return;
    }
  if (lsp_quic_closing_set_answer (self->closing, &key, length))
    return;

  if (data[0] & 0x80)
    accept_connection (self, addr, addr_len, data, length);
  else if (!offer_as_reset (self, addr, addr_len, data, length))
    send_stateless_reset (self, vc.dcid, vc.dcidlen, length, addr, addr_len);
}

static gboolean
on_readable (GSocket      *socket,
             GIOCondition  condition,
             gpointer      user_data)
{
  LspQuicEndpoint *self = user_data;
  g_autoptr(LspQuicEndpoint) hold = g_object_ref (self);

  for (guint round = 0; round < MAX_RECEIVES_PER_WAKEUP && self->udp != NULL; round++)
    {
      LspUdpMessage *messages;
      int n = lsp_udp_batch_receive (self->udp, &messages);

      if (n < 0)
        {
          g_debug ("Receiving failed: %s", g_strerror (errno));
          break;
        }
      for (int i = 0; i < n; i++)
        {
          LspUdpMessage *m = &messages[i];
          gsize step = m->segment_size > 0 ? m->segment_size : m->length;

          if (m->addrlen > sizeof (LspSockaddr))
            continue;
          for (gsize off = 0; off < m->length; off += step)
            handle_datagram (self, (const LspSockaddr *) &m->addr, m->addrlen,
                             m->data + off, MIN (step, m->length - off));
        }
      for (guint i = 0; i < self->touched->len; i++)
        lsp_quic_connection_flush (self->touched->pdata[i]);
      g_hash_table_remove_all (self->touched_set);
      g_ptr_array_set_size (self->touched, 0);
      if (n < LSP_UDP_RX_BATCH)
        break;
    }
  return G_SOURCE_CONTINUE;
}

/* Sending --------------------------------------------------------------- */

GMainContext *
lsp_quic_endpoint_get_context (LspQuicEndpoint *self)
{
  return self->context;
}

guint8 *
lsp_quic_endpoint_get_tx_buffer (LspQuicEndpoint *self,
                                 gsize           *size)
{
  *size = self->tx_size;
  return self->tx_buffer;
}

gboolean
lsp_quic_endpoint_can_send (LspQuicEndpoint *self)
{
  return self->blocked_data == NULL && self->udp != NULL;
}

static gboolean on_writable (GSocket *socket, GIOCondition condition, gpointer user_data);

static void
wait_writable (LspQuicEndpoint   *self,
               const LspSockaddr *addr,
               socklen_t          addr_len,
               const guint8      *data,
               gsize              length,
               gsize              segment_size)
{
  self->blocked_data = g_memdup2 (data, length);
  self->blocked_length = length;
  self->blocked_segment = segment_size;
  memcpy (&self->blocked_addr, addr, addr_len);
  self->blocked_addr_len = addr_len;

  self->write_source = g_socket_create_source (self->socket, G_IO_OUT, NULL);
  g_source_set_callback (self->write_source, G_SOURCE_FUNC (on_writable), self, NULL);
  g_source_attach (self->write_source, self->context);
}

/* Returns FALSE when the socket buffer is full: the rest is kept, and every
 * connection is rescheduled once it drains. Other send errors count as
 * packet loss, which QUIC recovers from. */
gboolean
lsp_quic_endpoint_send (LspQuicEndpoint       *self,
                        LspQuicConnection     *conn,
                        const struct sockaddr *addr,
                        socklen_t              addrlen,
                        const guint8          *data,
                        gsize                  length,
                        gsize                  segment_size)
{
  gssize n;

  if (self->udp == NULL)
    return FALSE;
  g_assert (self->blocked_data == NULL);

  n = lsp_udp_batch_send (self->udp, addr, addrlen, data, length, segment_size);
  if (n == (gssize) length)
    return TRUE;
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
    {
      g_debug ("Sending failed: %s", g_strerror (errno));
      return TRUE;
    }
  n = MAX (n, 0);
  wait_writable (self, (const LspSockaddr *) addr, addrlen, data + n, length - (gsize) n, segment_size);
  return FALSE;
}

static gboolean
on_writable (GSocket      *socket,
             GIOCondition  condition,
             gpointer      user_data)
{
  LspQuicEndpoint *self = user_data;
  g_autofree guint8 *data = g_steal_pointer (&self->blocked_data);
  gsize length = self->blocked_length;
  GHashTableIter iter;
  gpointer key;
  gssize n;

  g_clear_pointer (&self->write_source, g_source_unref);

  n = lsp_udp_batch_send (self->udp, &self->blocked_addr.sa, self->blocked_addr_len,
                          data, length, self->blocked_segment);
  if (n != (gssize) length && (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS))
    {
      n = MAX (n, 0);
      wait_writable (self, &self->blocked_addr, self->blocked_addr_len,
                     data + n, length - (gsize) n, self->blocked_segment);
      return G_SOURCE_REMOVE;
    }

  lsp_quic_closing_set_send_unsent (self->closing);

  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    lsp_quic_connection_schedule (key);
  return G_SOURCE_REMOVE;
}

/* Connection bookkeeping ------------------------------------------------ */

void
lsp_quic_endpoint_add_cid (LspQuicEndpoint   *self,
                           const ngtcp2_cid  *cid,
                           LspQuicConnection *conn)
{
  LspCid *key = g_new0 (LspCid, 1);

  key->length = (guint8) cid->datalen;
  memcpy (key->data, cid->data, cid->datalen);
  g_hash_table_replace (self->cids, key, conn);
}

void
lsp_quic_endpoint_remove_cid (LspQuicEndpoint  *self,
                              const ngtcp2_cid *cid)
{
  LspCid key;

  key.length = (guint8) cid->datalen;
  memcpy (key.data, cid->data, cid->datalen);
  g_hash_table_remove (self->cids, &key);
}

void
lsp_quic_endpoint_reset_token (LspQuicEndpoint  *self,
                               const ngtcp2_cid *cid,
                               guint8           *token)
{
  if (ngtcp2_crypto_generate_stateless_reset_token (token, lsp_identity_get_secret (self->identity),
                                                    LSP_IDENTITY_SECRET_LEN, cid) != 0)
    g_error ("Cannot derive a stateless reset token");
}

/* Takes over the connection IDs (ngtcp2_cid) of a connection that just
 * ended for its closing or draining period (see LspQuicClosingSet). */
void
lsp_quic_endpoint_add_closing (LspQuicEndpoint   *self,
                               GPtrArray         *cids,
                               GBytes            *close_packet,
                               const LspSockaddr *remote,
                               socklen_t          remote_len,
                               gboolean           unsent,
                               gboolean           amplification_limited,
                               gint64             period_us)
{
  for (guint i = 0; i < cids->len; i++)
    lsp_quic_endpoint_remove_cid (self, cids->pdata[i]);
  if (self->closing != NULL)
    lsp_quic_closing_set_add (self->closing, cids, close_packet, remote, remote_len, unsent,
                              amplification_limited, period_us);
}

void
lsp_quic_endpoint_connection_done (LspQuicEndpoint   *self,
                                   LspQuicConnection *conn)
{
  if (g_hash_table_contains (self->connections, conn))
    {
      lsp_quic_address_index_remove (self->by_address, conn);
      g_hash_table_remove (self->connections, conn);
    }
}

void
lsp_quic_endpoint_connection_ready (LspQuicEndpoint   *self,
                                    LspQuicConnection *conn)
{
  g_signal_emit (self, signals[INCOMING_CONNECTION], 0, conn);
}

/* Public API ------------------------------------------------------------ */

/**
 * lsp_quic_endpoint_new:
 * @alpn: the application protocol both sides must speak (TLS ALPN)
 * @bind_address: where to listen; an IPv6 wildcard address also accepts
 *   IPv4 (dual stack); port 0 picks a free port
 *
 * Opens the UDP socket and starts serving on the thread-default main
 * context, where every signal and callback of the transport then runs.
 */
LspQuicEndpoint *
lsp_quic_endpoint_new (LspIdentity         *identity,
                       const char          *alpn,
                       GInetSocketAddress  *bind_address,
                       GError             **error)
{
  g_autoptr(LspQuicEndpoint) self = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autofree char *known_path = NULL;
  GSocketFamily family;
  GInetAddress *inet;
  int fd;
  int size = SOCKET_BUFFER_SIZE;

  g_return_val_if_fail (LSP_IS_IDENTITY (identity), NULL);
  g_return_val_if_fail (alpn != NULL && alpn[0] != '\0' && strlen (alpn) < 256, NULL);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (bind_address), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (LSP_TYPE_QUIC_ENDPOINT, NULL);
  self->context = g_main_context_ref_thread_default ();
  self->identity = g_object_ref (identity);
  self->alpn = g_strdup (alpn);
  known_path = g_build_filename (lsp_identity_get_state_dir (identity), "known-peers", NULL);
  self->known_peers = lsp_known_peers_new (known_path);

  inet = g_inet_socket_address_get_address (bind_address);
  family = g_inet_address_get_family (inet);
  self->socket = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (self->socket == NULL)
    return NULL;
  if (family == G_SOCKET_FAMILY_IPV6 && g_inet_address_get_is_any (inet))
    g_socket_set_option (self->socket, IPPROTO_IPV6, IPV6_V6ONLY, 0, NULL);
  if (!g_socket_bind (self->socket, G_SOCKET_ADDRESS (bind_address), FALSE, error))
    {
      g_prefix_error (error, _("Cannot listen for QUIC: "));
      return NULL;
    }

  /* Large buffers absorb bursts at LAN rates; the kernel caps them at
   * net.core.[rw]mem_max, which is fine. */
  fd = g_socket_get_fd (self->socket);
  setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);

  local = g_socket_get_local_address (self->socket, error);
  if (local == NULL)
    return NULL;
  self->local_address = G_INET_SOCKET_ADDRESS (g_object_ref (local));
  self->local_len = (socklen_t) g_socket_address_get_native_size (local);
  if (!g_socket_address_to_native (local, &self->local, sizeof self->local, error))
    return NULL;

  self->udp = lsp_udp_batch_new (fd);
  g_debug ("QUIC endpoint on port %u (GSO %s, GRO %s)", lsp_quic_endpoint_get_port (self),
           lsp_udp_batch_has_gso (self->udp) ? "on" : "off",
           lsp_udp_batch_has_gro (self->udp) ? "on" : "off");

  self->closing = lsp_quic_closing_set_new (self, self->context);

  self->read_source = g_socket_create_source (self->socket, G_IO_IN, NULL);
  g_source_set_callback (self->read_source, G_SOURCE_FUNC (on_readable), self, NULL);
  g_source_set_name (self->read_source, "[lanspread] QUIC socket");
  g_source_attach (self->read_source, self->context);

  return g_steal_pointer (&self);
}

const char *
lsp_quic_endpoint_get_alpn (LspQuicEndpoint *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_ENDPOINT (self), NULL);

  return self->alpn;
}

LspIdentity *
lsp_quic_endpoint_get_identity (LspQuicEndpoint *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_ENDPOINT (self), NULL);
  return self->identity;
}

LspKnownPeers *
lsp_quic_endpoint_get_known_peers (LspQuicEndpoint *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_ENDPOINT (self), NULL);
  return self->known_peers;
}

GInetSocketAddress *
lsp_quic_endpoint_get_local_address (LspQuicEndpoint *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_ENDPOINT (self), NULL);
  return self->local_address;
}

guint16
lsp_quic_endpoint_get_port (LspQuicEndpoint *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_ENDPOINT (self), 0);
  return g_inet_socket_address_get_port (self->local_address);
}

/* Lowers the connection limit (keeping the reserve) so tests can fill an
 * endpoint with a few connections instead of LSP_QUIC_MAX_CONNECTIONS. */
void
lsp_quic_endpoint_set_max_connections (LspQuicEndpoint *self,
                                       guint            max_connections)
{
  g_return_if_fail (max_connections > LSP_QUIC_RESERVED_CONNECTIONS &&
                    max_connections <= LSP_QUIC_MAX_CONNECTIONS);
  self->max_connections = max_connections;
}

guint64
lsp_quic_endpoint_get_n_stray_offers (LspQuicEndpoint *self)
{
  return self->stray_offers;
}

guint
lsp_quic_endpoint_get_n_connections (LspQuicEndpoint *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_ENDPOINT (self), 0);
  return g_hash_table_size (self->connections);
}

/**
 * lsp_quic_endpoint_get_n_closing:
 *
 * Returns: how many connections are in their closing or draining period:
 *   ended for everyone above the transport (and not counted by
 *   lsp_quic_endpoint_get_n_connections()), but their connection IDs are
 *   still routed so late packets get a CONNECTION_CLOSE or silence rather
 *   than a stateless reset
 */
guint
lsp_quic_endpoint_get_n_closing (LspQuicEndpoint *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_ENDPOINT (self), 0);
  return self->closing != NULL ? lsp_quic_closing_set_get_length (self->closing) : 0;
}

guint
lsp_quic_endpoint_get_idle_timeout (LspQuicEndpoint *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_ENDPOINT (self), 0);
  return self->idle_timeout_ms;
}

void
lsp_quic_endpoint_set_idle_timeout (LspQuicEndpoint *self,
                                    guint            timeout_ms)
{
  g_return_if_fail (LSP_IS_QUIC_ENDPOINT (self));
  g_return_if_fail (timeout_ms > 0);

  if (self->idle_timeout_ms == timeout_ms)
    return;
  self->idle_timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IDLE_TIMEOUT]);
}

guint
lsp_quic_endpoint_get_handshake_timeout (LspQuicEndpoint *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_ENDPOINT (self), 0);
  return self->handshake_timeout_ms;
}

void
lsp_quic_endpoint_set_handshake_timeout (LspQuicEndpoint *self,
                                         guint            timeout_ms)
{
  g_return_if_fail (LSP_IS_QUIC_ENDPOINT (self));
  g_return_if_fail (timeout_ms > 0);

  if (self->handshake_timeout_ms == timeout_ms)
    return;
  self->handshake_timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HANDSHAKE_TIMEOUT]);
}

/* A dual-stack IPv6 socket reaches IPv4 peers through mapped addresses. */
static gboolean
native_remote (LspQuicEndpoint    *self,
               GInetSocketAddress *address,
               LspSockaddr        *out,
               socklen_t          *out_len,
               GError            **error)
{
  GSocketFamily want = g_socket_get_family (self->socket);
  GInetAddress *inet = g_inet_socket_address_get_address (address);

  memset (out, 0, sizeof *out);
  if (g_inet_address_get_family (inet) == want)
    {
      *out_len = (socklen_t) g_socket_address_get_native_size (G_SOCKET_ADDRESS (address));
      return g_socket_address_to_native (G_SOCKET_ADDRESS (address), out, sizeof *out, error);
    }
  if (want == G_SOCKET_FAMILY_IPV6 && g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV4)
    {
      out->in6.sin6_family = AF_INET6;
      out->in6.sin6_port = g_htons (g_inet_socket_address_get_port (address));
      out->in6.sin6_addr.s6_addr[10] = 0xff;
      out->in6.sin6_addr.s6_addr[11] = 0xff;
      memcpy (&out->in6.sin6_addr.s6_addr[12], g_inet_address_to_bytes (inet), 4);
      *out_len = sizeof out->in6;
      return TRUE;
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               _("This endpoint listens on IPv4 and cannot reach an IPv6 address"));
  return FALSE;
}

/**
 * lsp_quic_endpoint_connect_async:
 * @expected_peer_id: (nullable): the peer_id the other side must prove;
 *   %NULL trusts whoever answers (and records it)
 * @cancellable: cancelling ends the attempt at once
 *
 * Opens a connection to @address. It completes when the handshake is done
 * and the peer is authenticated, or fails after the handshake timeout.
 */
void
lsp_quic_endpoint_connect_async (LspQuicEndpoint     *self,
                                 GInetSocketAddress  *address,
                                 const char          *expected_peer_id,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  LspSockaddr remote;
  socklen_t remote_len = 0;

  g_return_if_fail (LSP_IS_QUIC_ENDPOINT (self));
  g_return_if_fail (G_IS_INET_SOCKET_ADDRESS (address));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lsp_quic_endpoint_connect_async);

  if (g_task_return_error_if_cancelled (task))
    return;
  if (expected_peer_id != NULL && !lsp_peer_id_is_valid (expected_peer_id))
    {
      g_task_return_new_error (task, LSP_QUIC_ERROR, LSP_QUIC_ERROR_HANDSHAKE,
                               _("“%s” is not a valid peer_id"), expected_peer_id);
      return;
    }
  if (g_hash_table_size (self->connections) >= self->max_connections)
    {
      g_task_return_new_error (task, LSP_QUIC_ERROR, LSP_QUIC_ERROR_LIMIT,
                               _("Cannot open more than %u connections"), self->max_connections);
      return;
    }
  if (!native_remote (self, address, &remote, &remote_len, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  conn = lsp_quic_connection_new_client (self, &self->local, self->local_len, &remote, remote_len,
                                         expected_peer_id, &error);
  if (conn == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  add_connection (self, conn);
  lsp_quic_connection_start_connect (conn, task);
}

/**
 * lsp_quic_endpoint_connect_finish:
 *
 * Returns: (transfer full): the established connection
 */
LspQuicConnection *
lsp_quic_endpoint_connect_finish (LspQuicEndpoint  *self,
                                  GAsyncResult     *result,
                                  GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * lsp_quic_endpoint_close_all:
 *
 * Closes every connection, e.g. before the application quits.
 */
void
lsp_quic_endpoint_close_all (LspQuicEndpoint *self,
                             guint64          app_error_code,
                             const char      *reason)
{
  g_return_if_fail (LSP_IS_QUIC_ENDPOINT (self));
  lsp_quic_endpoint_close_all_internal (self, app_error_code, reason);
}
