#define G_LOG_DOMAIN "lsp-quic-connection"

#include "config.h"

#include "lsp-quic-connection.h"

#include <glib/gi18n-lib.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <string.h>

#include "lsp-identity-private.h"
#include "lsp-quic-connection-private.h"
#include "lsp-quic-error.h"
#include "lsp-quic-private.h"
#include "lsp-udp-batch-private.h"
#include "lsp-util.h"

#define MAX_SEND_VEC 16


G_DEFINE_FINAL_TYPE (LspQuicConnection, lsp_quic_connection, G_TYPE_OBJECT)

enum {
  INCOMING_STREAM,
  STREAMS_AVAILABLE,
  CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void service (LspQuicConnection *self);
static void teardown (LspQuicConnection *self, const GError *error);

static ngtcp2_tstamp
now_ts (void)
{
  return (ngtcp2_tstamp) g_get_monotonic_time () * NGTCP2_MICROSECONDS;
}

static void
lsp_quic_connection_dispose (GObject *object)
{
  LspQuicConnection *self = LSP_QUIC_CONNECTION (object);

  /* The endpoint holds a reference until teardown, so a connection is
   * only disposed once it has ended. */
  g_assert (self->closed || self->conn == NULL);

  G_OBJECT_CLASS (lsp_quic_connection_parent_class)->dispose (object);
}

static void
lsp_quic_connection_finalize (GObject *object)
{
  LspQuicConnection *self = LSP_QUIC_CONNECTION (object);

  g_clear_pointer (&self->conn, ngtcp2_conn_del);
  g_clear_pointer (&self->session, gnutls_deinit);
  g_clear_object (&self->remote_address);
  g_clear_pointer (&self->address_key, g_free);
  g_clear_pointer (&self->peer_id, g_free);
  g_clear_pointer (&self->expected_peer_id, g_free);
  g_clear_pointer (&self->verify_error, g_free);
  g_clear_pointer (&self->alpn, g_free);
  g_clear_pointer (&self->close_reason, g_free);
  g_clear_pointer (&self->close_packet, g_bytes_unref);
  g_clear_pointer (&self->streams, g_hash_table_unref);
  g_clear_pointer (&self->incoming, g_ptr_array_unref);
  g_clear_pointer (&self->completed, g_ptr_array_unref);
  g_clear_pointer (&self->cids, g_ptr_array_unref);
  g_assert (self->timer == NULL);
  g_assert (self->connect_task == NULL);

  G_OBJECT_CLASS (lsp_quic_connection_parent_class)->finalize (object);
}

static void
lsp_quic_connection_class_init (LspQuicConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lsp_quic_connection_dispose;
  object_class->finalize = lsp_quic_connection_finalize;

  /**
   * LspQuicConnection::incoming-stream:
   * @stream: a stream the peer opened
   *
   * Set a read function on @stream from the handler (or later: data is
   * held, uncredited, until then).
   */
  signals[INCOMING_STREAM] =
    g_signal_new ("incoming-stream", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, LSP_TYPE_QUIC_STREAM);

  /**
   * LspQuicConnection::streams-available:
   *
   * The peer allows more streams: an open that failed with
   * %LSP_QUIC_ERROR_LIMIT can be retried.
   */
  signals[STREAMS_AVAILABLE] =
    g_signal_new ("streams-available", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /**
   * LspQuicConnection::closed:
   * @error: why: %LSP_QUIC_ERROR_CLOSED after lsp_quic_connection_close(),
   *   otherwise what ended it (peer close, idle timeout, …)
   */
  signals[CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
lsp_quic_connection_init (LspQuicConnection *self)
{
  self->streams = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, g_object_unref);
  self->incoming = g_ptr_array_new_with_free_func (g_object_unref);
  self->completed = lsp_quic_completions_new ();
  self->cids = g_ptr_array_new_with_free_func (g_free);
  g_queue_init (&self->send_queue);
}

/* Construction ---------------------------------------------------------- */

static void
fill_settings (LspQuicConnection       *self,
               ngtcp2_settings         *settings,
               ngtcp2_transport_params *params)
{
  guint idle_ms = lsp_quic_endpoint_get_idle_timeout (self->endpoint);
  guint handshake_ms = lsp_quic_endpoint_get_handshake_timeout (self->endpoint);

  ngtcp2_settings_default (settings);
  settings->initial_ts = now_ts ();
  settings->cc_algo = NGTCP2_CC_ALGO_BBR;
  settings->max_window = LSP_QUIC_MAX_CONN_WINDOW;
  settings->max_stream_window = LSP_QUIC_MAX_STREAM_WINDOW;
  settings->handshake_timeout = (ngtcp2_duration) handshake_ms * NGTCP2_MILLISECONDS;

  ngtcp2_transport_params_default (params);
  params->initial_max_data = LSP_QUIC_CONN_WINDOW;
  params->initial_max_stream_data_bidi_local = LSP_QUIC_STREAM_WINDOW;
  params->initial_max_stream_data_bidi_remote = LSP_QUIC_STREAM_WINDOW;
  params->initial_max_stream_data_uni = LSP_QUIC_STREAM_WINDOW;
  params->initial_max_streams_bidi = LSP_QUIC_MAX_STREAMS_BIDI;
  params->initial_max_streams_uni = LSP_QUIC_MAX_STREAMS_UNI;
  params->max_idle_timeout = (ngtcp2_duration) idle_ms * NGTCP2_MILLISECONDS;
}

/* Peers stay connected while both are alive, however quiet: a PING after a
 * third of the idle timeout keeps the connection open, so the idle timeout
 * only ever fires for a peer that vanished. */
static void
set_keep_alive (LspQuicConnection *self)
{
  guint idle_ms = lsp_quic_endpoint_get_idle_timeout (self->endpoint);

  ngtcp2_conn_set_keep_alive_timeout (self->conn, (ngtcp2_duration) idle_ms / 3 * NGTCP2_MILLISECONDS);
}

/* GLib wakes the main context on every ready-time change, which costs a
 * system call: change it only when it really changes. */
static void
set_ready_time (LspQuicConnection *self,
                gint64             ready_time)
{
  if (self->timer != NULL && g_source_get_ready_time (self->timer) != ready_time)
    g_source_set_ready_time (self->timer, ready_time);
}

/* service() always sets the next ready time before it returns, unless
 * the connection ended and the timer is gone. */
static gboolean
on_timer (gpointer user_data)
{
  service (user_data);
  return G_SOURCE_CONTINUE;
}

static LspQuicConnection *
connection_new (LspQuicEndpoint   *endpoint,
                gboolean           is_server,
                const LspSockaddr *local,
                socklen_t          local_len,
                const LspSockaddr *remote,
                socklen_t          remote_len)
{
  LspQuicConnection *self = g_object_new (LSP_TYPE_QUIC_CONNECTION, NULL);
  g_autoptr(GInetAddress) inet = NULL;

  self->endpoint = endpoint;
  self->is_server = is_server;
  memcpy (&self->local, local, local_len);
  self->local_len = local_len;
  memcpy (&self->remote, remote, remote_len);
  self->remote_len = remote_len;
  self->remote_address = G_INET_SOCKET_ADDRESS (g_socket_address_new_from_native (&self->remote, remote_len));
  inet = g_object_ref (g_inet_socket_address_get_address (self->remote_address));
  self->address_key = g_inet_address_to_string (inet);

  self->timer = lsp_quic_timer_source_new ("[lanspread] QUIC connection timer", on_timer, self,
                                           lsp_quic_endpoint_get_context (endpoint));
  return self;
}

static ngtcp2_path
make_path (LspQuicConnection *self)
{
  ngtcp2_path path = {
    { &self->local.sa, self->local_len },
    { &self->remote.sa, self->remote_len },
    NULL,
  };
  return path;
}

LspQuicConnection *
lsp_quic_connection_new_client (LspQuicEndpoint   *endpoint,
                                const LspSockaddr *local,
                                socklen_t          local_len,
                                const LspSockaddr *remote,
                                socklen_t          remote_len,
                                const char        *expected_peer_id,
                                GError           **error)
{
  g_autoptr(LspQuicConnection) self = connection_new (endpoint, FALSE, local, local_len, remote, remote_len);
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid dcid, scid;
  ngtcp2_path path = make_path (self);
  int rv;

  self->expected_peer_id = g_strdup (expected_peer_id);
  if (!lsp_quic_connection_setup_tls (self, error))
    {
      teardown (self, NULL);
      return NULL;
    }

  dcid.datalen = LSP_QUIC_CID_LEN;
  scid.datalen = LSP_QUIC_CID_LEN;
  lsp_quic_rand (dcid.data, dcid.datalen, NULL);
  lsp_quic_rand (scid.data, scid.datalen, NULL);
  fill_settings (self, &settings, &params);

  rv = ngtcp2_conn_client_new (&self->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1,
                               &lsp_quic_client_callbacks, &settings, &params, NULL, self);
  if (rv != 0)
    {
      g_set_error (error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_PROTOCOL,
                   _("Cannot create a QUIC connection: %s"), ngtcp2_strerror (rv));
      teardown (self, NULL);
      return NULL;
    }
  ngtcp2_conn_set_tls_native_handle (self->conn, self->session);
  set_keep_alive (self);
  lsp_quic_connection_register_cid (self, &scid);

  return g_steal_pointer (&self);
}

LspQuicConnection *
lsp_quic_connection_new_server (LspQuicEndpoint     *endpoint,
                                const LspSockaddr   *local,
                                socklen_t            local_len,
                                const LspSockaddr   *remote,
                                socklen_t            remote_len,
                                const ngtcp2_pkt_hd *hd,
                                GError             **error)
{
  g_autoptr(LspQuicConnection) self = connection_new (endpoint, TRUE, local, local_len, remote, remote_len);
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid scid;
  ngtcp2_path path = make_path (self);
  int rv;

  if (!lsp_quic_connection_setup_tls (self, error))
    {
      teardown (self, NULL);
      return NULL;
    }

  scid.datalen = LSP_QUIC_CID_LEN;
  lsp_quic_rand (scid.data, scid.datalen, NULL);
  fill_settings (self, &settings, &params);
  params.original_dcid = hd->dcid;
  params.stateless_reset_token_present = 1;
  lsp_quic_endpoint_reset_token (endpoint, &scid, params.stateless_reset_token);

  rv = ngtcp2_conn_server_new (&self->conn, &hd->scid, &scid, &path, hd->version,
                               &lsp_quic_server_callbacks, &settings, &params, NULL, self);
  if (rv != 0)
    {
      g_set_error (error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_PROTOCOL,
                   _("Cannot accept a QUIC connection: %s"), ngtcp2_strerror (rv));
      teardown (self, NULL);
      return NULL;
    }
  ngtcp2_conn_set_tls_native_handle (self->conn, self->session);
  set_keep_alive (self);
  lsp_quic_connection_register_cid (self, &scid);
  /* Retransmitted Initials still carry the client's first DCID. */
  lsp_quic_connection_register_cid (self, &hd->dcid);

  return g_steal_pointer (&self);
}

/* Sending --------------------------------------------------------------- */

static gboolean
send_packets (LspQuicConnection  *self,
              const ngtcp2_path  *path,
              const guint8       *data,
              gsize               length,
              gsize               segment_size)
{
  return lsp_quic_endpoint_send (self->endpoint, self,
                                 path->remote.addr, path->remote.addrlen,
                                 data, length, segment_size);
}

static void
send_connection_close (LspQuicConnection                   *self,
                       const ngtcp2_connection_close_error *ccerr)
{
  ngtcp2_path_storage ps;
  ngtcp2_pkt_info pi;
  gsize size;
  guint8 *buf;
  ngtcp2_ssize n;

  if (self->conn == NULL || self->endpoint == NULL ||
      ngtcp2_conn_is_in_closing_period (self->conn) ||
      ngtcp2_conn_is_in_draining_period (self->conn))
    return;

  buf = lsp_quic_endpoint_get_tx_buffer (self->endpoint, &size);
  ngtcp2_path_storage_zero (&ps);
  n = ngtcp2_conn_write_connection_close (self->conn, &ps.path, &pi, buf,
                                          ngtcp2_conn_get_max_tx_udp_payload_size (self->conn),
                                          ccerr, now_ts ());
  if (n <= 0)
    return;

  /* Kept for the closing period: the endpoint answers what the peer sent
   * before it heard of the close with this same datagram (RFC 9000
   * §10.2.1 allows re-sending it as is). */
  g_clear_pointer (&self->close_packet, g_bytes_unref);
  self->close_packet = g_bytes_new (buf, (gsize) n);
  if (ps.path.remote.addrlen > 0 && ps.path.remote.addrlen <= sizeof self->close_remote)
    {
      memcpy (&self->close_remote, ps.path.remote.addr, ps.path.remote.addrlen);
      self->close_remote_len = (socklen_t) ps.path.remote.addrlen;
    }
  else
    {
      memcpy (&self->close_remote, &self->remote, self->remote_len);
      self->close_remote_len = self->remote_len;
    }

  /* Behind what the kernel has not taken yet, which may be the very data
   * the close was meant to follow: the endpoint sends it once that left. */
  if (lsp_quic_endpoint_can_send (self->endpoint))
    send_packets (self, &ps.path, buf, (gsize) n, (gsize) n);
  else
    self->close_unsent = TRUE;
}

/* Ends the connection after ngtcp2 reported @rv, telling the peer why when
 * the protocol wants it told. */
static void
fail (LspQuicConnection *self,
      int                rv)
{
  g_autoptr(GError) error = lsp_quic_connection_error_from_liberr (self, rv);
  ngtcp2_connection_close_error ccerr;

  switch (rv)
    {
    case NGTCP2_ERR_DRAINING:
      /* The peer closed or reset: stay silent, but keep its packets from
       * being answered with stateless resets for a while (§10.2.2). */
      self->draining = TRUE;
      break;
    case NGTCP2_ERR_IDLE_CLOSE:
    case NGTCP2_ERR_HANDSHAKE_TIMEOUT:
      /* Silent, and nothing is kept: the peer is gone or never answered,
       * so there is nobody to tell (§10.1). */
      break;
    case NGTCP2_ERR_CLOSING:
    case NGTCP2_ERR_DROP_CONN:
      break;
    case NGTCP2_ERR_CRYPTO:
      ngtcp2_connection_close_error_set_transport_error_tls_alert (&ccerr, ngtcp2_conn_get_tls_alert (self->conn), NULL, 0);
      send_connection_close (self, &ccerr);
      break;
    default:
      ngtcp2_connection_close_error_set_transport_error_liberr (&ccerr, rv, NULL, 0);
      send_connection_close (self, &ccerr);
      break;
    }

  g_debug ("Connection with %s ended: %s", self->address_key, error->message);
  teardown (self, error);
}

void
lsp_quic_connection_queue_stream (LspQuicConnection *self,
                                  LspQuicStream     *stream)
{
  if (!stream->in_send_queue && !stream->blocked)
    {
      /* Others go before every bulk stream; bulk streams go in turn. */
      if (stream->bulk)
        g_queue_push_tail_link (&self->send_queue, &stream->send_link);
      else
        {
          GList *first_bulk = self->send_queue.head;

          while (first_bulk != NULL && !((LspQuicStream *) first_bulk->data)->bulk)
            first_bulk = first_bulk->next;
          if (first_bulk != NULL)
            g_queue_insert_before_link (&self->send_queue, first_bulk, &stream->send_link);
          else
            g_queue_push_tail_link (&self->send_queue, &stream->send_link);
        }
      stream->in_send_queue = TRUE;
    }
}

/* ngtcp2 0.12 paces with the 333 ms initial RTT until it has measured one:
 * the ~22 ms that holds back after the first Initial also holds back the
 * client's last handshake flight (certificate and Finished) long after
 * connect completed, so a connection closed in that window never reaches
 * the server. Like ngtcp2 0.14 (which assumes 1 ms), do not pace before
 * the first RTT sample: the handshake flights are far below the window. */
static gboolean
may_pace (LspQuicConnection *self)
{
  ngtcp2_conn_stat stat;

  ngtcp2_conn_get_conn_stat (self->conn, &stat);
  return stat.first_rtt_sample_ts != UINT64_MAX;
}

/* Writes as many packets as flow control, congestion control and pacing
 * allow, coalescing them into GSO batches. Returns TRUE when it stopped
 * only because of the per-call batch limit. */
static gboolean
write_packets (LspQuicConnection *self)
{
  ngtcp2_tstamp ts = now_ts ();
  gsize bufsize;
  guint8 *buf = lsp_quic_endpoint_get_tx_buffer (self->endpoint, &bufsize);
  gsize max_udp = ngtcp2_conn_get_max_tx_udp_payload_size (self->conn);
  guint max_segments = MIN (LSP_UDP_GSO_MAX_SEGMENTS, MIN (bufsize, LSP_UDP_GSO_MAX_BYTES) / max_udp);

  for (guint batch = 0; batch < LSP_QUIC_MAX_BATCHES_PER_SERVICE; batch++)
    {
      ngtcp2_path_storage ps;
      gsize offset = 0;
      gsize segment_size = 0;
      guint n_segments = 0;
      gboolean done = FALSE;

      ngtcp2_path_storage_zero (&ps);

      while (n_segments < max_segments)
        {
          LspQuicStream *stream = NULL;
          ngtcp2_vec vec[MAX_SEND_VEC];
          gsize n_vec = 0;
          gsize total = 0;
          gboolean fin = FALSE;
          uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
          ngtcp2_ssize datalen = -1;
          ngtcp2_ssize n;
          ngtcp2_pkt_info pi;

          if (self->send_queue.head != NULL)
            {
              stream = self->send_queue.head->data;
              n_vec = lsp_quic_stream_get_send_vec (stream, vec, MAX_SEND_VEC, &fin);
              for (gsize i = 0; i < n_vec; i++)
                total += vec[i].len;
              if (n_vec == 0 && !fin)
                {
                  /* Only empty writes queued: they are done as they are. */
                  lsp_quic_stream_consumed (stream, 0, FALSE, self->completed);
                  if (!lsp_quic_stream_has_pending (stream))
                    lsp_quic_connection_unqueue_stream (self, stream);
                  continue;
                }
              if (fin)
                flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
            }

          self->in_ngtcp2 = TRUE;
          n = ngtcp2_conn_writev_stream (self->conn, &ps.path, &pi, buf + offset,
                                         n_segments == 0 ? max_udp : segment_size, &datalen, flags,
                                         stream != NULL ? stream->id : -1, vec, n_vec, ts);
          self->in_ngtcp2 = FALSE;

          if (stream != NULL && datalen >= 0)
            {
              lsp_quic_stream_consumed (stream, (gsize) datalen, fin && (gsize) datalen == total, self->completed);
              /* Round robin among the other streams; a bulk stream keeps
               * its turn until it has sent all it has. */
              if (!stream->bulk || !lsp_quic_stream_has_pending (stream))
                {
                  lsp_quic_connection_unqueue_stream (self, stream);
                  if (lsp_quic_stream_has_pending (stream))
                    lsp_quic_connection_queue_stream (self, stream);
                }
            }

          if (n < 0)
            {
              switch (n)
                {
                case NGTCP2_ERR_WRITE_MORE:
                  continue;
                case NGTCP2_ERR_STREAM_DATA_BLOCKED:
                  lsp_quic_connection_unqueue_stream (self, stream);
                  stream->blocked = TRUE;
                  continue;
                case NGTCP2_ERR_STREAM_SHUT_WR:
                case NGTCP2_ERR_STREAM_NOT_FOUND:
                  {
                    g_autoptr(GError) error = g_error_new (LSP_QUIC_ERROR, LSP_QUIC_ERROR_CLOSED,
                                                           _("Stream %" PRId64 " is closed for writing"),
                                                           stream->id);
                    lsp_quic_connection_unqueue_stream (self, stream);
                    lsp_quic_stream_write_failed (stream, error, self->completed);
                    continue;
                  }
                default:
                  fail (self, (int) n);
                  return FALSE;
                }
            }

          if (n == 0)
            {
              done = TRUE;
              break;
            }
          if (n_segments == 0)
            segment_size = (gsize) n;
          offset += (gsize) n;
          n_segments++;
          if ((gsize) n < segment_size)
            break;
        }

      if (offset > 0)
        {
          if (may_pace (self))
            ngtcp2_conn_update_pkt_tx_time (self->conn, ts);
          if (!send_packets (self, &ps.path, buf, offset, segment_size))
            return FALSE;  /* the endpoint reschedules us when the socket drains */
        }
      if (done)
        return FALSE;
    }
  return TRUE;
}

static void
update_timer (LspQuicConnection *self,
              gboolean           again)
{
  ngtcp2_tstamp expiry;
  gint64 ready, current;

  if (again)
    {
      set_ready_time (self, 0);
      return;
    }
  expiry = ngtcp2_conn_get_expiry (self->conn);
  ready = expiry == UINT64_MAX ? -1 : (gint64) ((expiry + NGTCP2_MICROSECONDS - 1) / NGTCP2_MICROSECONDS);

  /* Every ACK pushes the loss timer later; following it each time would
   * wake the main context each time. A timer left earlier than needed
   * just fires once for nothing and is then moved. */
  current = self->timer != NULL ? g_source_get_ready_time (self->timer) : -1;
  if (current >= 0 && ready >= current && current > g_get_monotonic_time ())
    return;
  set_ready_time (self, ready);
}

static void
close_now (LspQuicConnection *self,
           guint64            app_error_code,
           const char        *reason,
           GError            *error)
{
  ngtcp2_connection_close_error ccerr;

  ngtcp2_connection_close_error_set_application_error (&ccerr, app_error_code,
                                                       (const guint8 *) reason,
                                                       reason != NULL ? strlen (reason) : 0);
  send_connection_close (self, &ccerr);
  teardown (self, error);
}

static void
finish_handshake (LspQuicConnection *self)
{
  LspKnownPeers *known = lsp_quic_endpoint_get_known_peers (self->endpoint);

  self->handshake_pending = FALSE;
  self->handshake_done = TRUE;
  /* The initial stream limit is not news; only later raises are. */
  self->streams_available = FALSE;

  if (!lsp_known_peers_contains (known, self->peer_id))
    g_debug ("Trusting new peer %.*s at %s on first use", LSP_PEER_ID_SHORT_LEN, self->peer_id, self->address_key);
  lsp_known_peers_record (known, self->peer_id, self->address_key);

  if (self->is_server)
    {
      lsp_quic_endpoint_connection_ready (self->endpoint, self);
    }
  else if (self->connect_task != NULL)
    {
      g_autoptr(GTask) task = g_steal_pointer (&self->connect_task);

      if (self->cancel_source != NULL)
        {
          g_source_destroy (self->cancel_source);
          g_clear_pointer (&self->cancel_source, g_source_unref);
        }
      g_task_return_pointer (task, g_object_ref (self), g_object_unref);
    }
}

/* Runs what callbacks deferred: they may not re-enter ngtcp2 or free the
 * connection under it. */
static gboolean
process_deferred (LspQuicConnection *self)
{
  if (self->close_requested && !self->closed)
    {
      g_autoptr(GError) error = g_error_new (LSP_QUIC_ERROR, LSP_QUIC_ERROR_CLOSED,
                                             _("The connection was closed locally"));
      close_now (self, self->close_code, self->close_reason, error);
    }
  if (self->closed)
    return FALSE;

  if (self->handshake_pending)
    finish_handshake (self);
  if (self->closed)
    return FALSE;

  if (self->handshake_done && self->incoming->len > 0)
    {
      g_autoptr(GPtrArray) incoming = g_steal_pointer (&self->incoming);

      self->incoming = g_ptr_array_new_with_free_func (g_object_unref);
      for (guint i = 0; i < incoming->len && !self->closed; i++)
        {
          /* Announced even if it already ended: its handler then gets the
           * data and the end at once. */
          g_signal_emit (self, signals[INCOMING_STREAM], 0, incoming->pdata[i]);
        }
    }

  if (self->handshake_done && self->streams_available && !self->closed)
    {
      self->streams_available = FALSE;
      g_signal_emit (self, signals[STREAMS_AVAILABLE], 0);
    }

  lsp_quic_completions_run (self->completed);
  return !self->closed;
}

static void
service (LspQuicConnection *self)
{
  g_autoptr(LspQuicConnection) hold = g_object_ref (self);
  ngtcp2_tstamp ts = now_ts ();
  gboolean again;

  if (self->closed)
    return;

  if (ngtcp2_conn_get_expiry (self->conn) <= ts)
    {
      int rv;

      self->in_ngtcp2 = TRUE;
      rv = ngtcp2_conn_handle_expiry (self->conn, ts);
      self->in_ngtcp2 = FALSE;
      if (rv != 0)
        {
          fail (self, rv);
          return;
        }
    }

  if (!process_deferred (self))
    return;

  again = lsp_quic_endpoint_can_send (self->endpoint) && write_packets (self);
  if (self->closed || !process_deferred (self))
    return;
  update_timer (self, again);
}

/* Runs timers and writes now rather than on the next main-loop turn: the
 * endpoint calls it after each receive batch so ACKs go out promptly,
 * which keeps the measured RTT, and so the congestion window, honest. */
void
lsp_quic_connection_flush (LspQuicConnection *self)
{
  service (self);
}

void
lsp_quic_connection_schedule (LspQuicConnection *self)
{
  set_ready_time (self, 0);
}

/* @stray: the packet was not routed by CID but offered as a possible
 * stateless reset; anything but a reset must not harm the connection. */
void
lsp_quic_connection_handle_packet (LspQuicConnection *self,
                                   const LspSockaddr *remote,
                                   socklen_t          remote_len,
                                   const guint8      *data,
                                   gsize              length,
                                   gboolean           stray)
{
  g_autoptr(LspQuicConnection) hold = g_object_ref (self);
  ngtcp2_path path = {
    { &self->local.sa, self->local_len },
    { (struct sockaddr *) &remote->sa, remote_len },
    NULL,
  };
  ngtcp2_pkt_info pi = { 0 };
  int rv;

  if (self->closed)
    return;

  self->in_ngtcp2 = TRUE;
  rv = ngtcp2_conn_read_pkt (self->conn, &path, &pi, data, length, now_ts ());
  self->in_ngtcp2 = FALSE;

  if (rv != 0 && stray && rv != NGTCP2_ERR_DRAINING && !ngtcp2_err_is_fatal (rv))
    return;
  if (rv != 0)
    {
      fail (self, rv);
      return;
    }
  if (self->handshake_pending || self->close_requested || self->incoming->len > 0 ||
      self->streams_available)
    process_deferred (self);
  /* No scheduling here: the endpoint flushes every connection that got
   * packets once the receive batch is done. */
}

static gboolean
on_connect_cancelled (GCancellable *cancellable,
                      gpointer      user_data)
{
  LspQuicConnection *self = user_data;
  g_autoptr(GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                         _("Connecting to %s was cancelled"), self->address_key);

  g_clear_pointer (&self->cancel_source, g_source_unref);
  close_now (self, LSP_QUIC_APP_CANCELLED, "cancelled", error);
  return G_SOURCE_REMOVE;
}

void
lsp_quic_connection_start_connect (LspQuicConnection *self,
                                   GTask             *task)
{
  GCancellable *cancellable = g_task_get_cancellable (task);

  self->connect_task = g_object_ref (task);
  if (cancellable != NULL)
    {
      self->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (self->cancel_source, G_SOURCE_FUNC (on_connect_cancelled), self, NULL);
      g_source_attach (self->cancel_source, g_task_get_context (task));
    }
  lsp_quic_connection_schedule (self);
}

/* Frees everything the connection holds and tells everyone who waits on it.
 * Never called from inside an ngtcp2 call. */
static void
teardown (LspQuicConnection *self,
          const GError      *error)
{
  g_autoptr(LspQuicConnection) hold = g_object_ref (self);
  g_autoptr(GError) fallback = NULL;
  /* Completing the connect task may drop the last references to the
   * endpoint (the task's own, and its caller's from the callback), yet
   * the endpoint still has to forget us below. */
  g_autoptr(LspQuicEndpoint) endpoint = self->endpoint != NULL ? g_object_ref (self->endpoint) : NULL;
  GHashTableIter iter;
  gpointer value;
  g_autoptr(GPtrArray) streams = g_ptr_array_new_with_free_func (g_object_unref);

  g_assert (!self->in_ngtcp2);
  if (self->closed)
    return;
  self->closed = TRUE;

  if (error == NULL)
    error = fallback = g_error_new (LSP_QUIC_ERROR, LSP_QUIC_ERROR_CLOSED, _("The connection was closed"));

  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
  if (self->cancel_source != NULL)
    {
      g_source_destroy (self->cancel_source);
      g_clear_pointer (&self->cancel_source, g_source_unref);
    }
  if (endpoint != NULL && self->conn != NULL && (self->close_packet != NULL || self->draining))
    {
      /* Closed for everyone above from here on; only the endpoint keeps
       * routing its IDs, for three PTOs as RFC 9000 §10.2 asks. */
      gint64 period_us = MAX (3 * (gint64) (ngtcp2_conn_get_pto (self->conn) / NGTCP2_MICROSECONDS),
                              (gint64) LSP_QUIC_MIN_CLOSING_PERIOD_MS * 1000);
      /* A server that has not completed the handshake may not have
       * validated the client's address: §8.1's limit holds. */
      gboolean unvalidated = self->is_server && !ngtcp2_conn_get_handshake_completed (self->conn);

      if (self->close_packet != NULL)
        lsp_quic_endpoint_add_closing (endpoint, self->cids, self->close_packet,
                                       &self->close_remote, self->close_remote_len,
                                       self->close_unsent, unvalidated, period_us);
      else
        lsp_quic_endpoint_add_closing (endpoint, self->cids, NULL, &self->remote, self->remote_len,
                                       FALSE, unvalidated, period_us);
    }
  else if (endpoint != NULL)
    {
      for (guint i = 0; i < self->cids->len; i++)
        lsp_quic_endpoint_remove_cid (endpoint, self->cids->pdata[i]);
    }
  g_ptr_array_set_size (self->cids, 0);

  if (self->connect_task != NULL)
    {
      g_autoptr(GTask) task = g_steal_pointer (&self->connect_task);
      g_task_return_error (task, g_error_copy (error));
    }

  g_hash_table_iter_init (&iter, self->streams);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (streams, g_object_ref (value));
  g_hash_table_remove_all (self->streams);
  g_ptr_array_set_size (self->incoming, 0);
  while (self->send_queue.head != NULL)
    lsp_quic_connection_unqueue_stream (self, self->send_queue.head->data);
  for (guint i = 0; i < streams->len; i++)
    {
      LspQuicStream *stream = streams->pdata[i];

      stream->connection = NULL;
      lsp_quic_stream_fail (stream, error);
    }
  lsp_quic_completions_run (self->completed);

  if (self->conn != NULL)
    {
      ngtcp2_conn_stat stat;

      ngtcp2_conn_get_conn_stat (self->conn, &stat);
      g_debug ("Connection with %s: srtt %" G_GUINT64_FORMAT " µs, cwnd %" G_GUINT64_FORMAT
               ", ssthresh %" G_GUINT64_FORMAT ", delivery rate %" G_GUINT64_FORMAT " B/s",
               self->address_key, stat.smoothed_rtt / NGTCP2_MICROSECONDS, stat.cwnd,
               stat.ssthresh, stat.delivery_rate_sec);
    }
  g_clear_pointer (&self->conn, ngtcp2_conn_del);
  g_clear_pointer (&self->session, gnutls_deinit);

  if (self->handshake_done)
    g_signal_emit (self, signals[CLOSED], 0, error);

  self->endpoint = NULL;
  if (endpoint != NULL)
    lsp_quic_endpoint_connection_done (endpoint, self);
}

gboolean
lsp_quic_connection_is_handshaking (LspQuicConnection *self)
{
  return !self->closed && !self->handshake_done;
}

const char *
lsp_quic_connection_get_address_key (LspQuicConnection *self)
{
  return self->address_key;
}

const LspSockaddr *
lsp_quic_connection_get_remote (LspQuicConnection *self)
{
  return &self->remote;
}

/* Public API ------------------------------------------------------------ */

/**
 * lsp_quic_connection_get_peer_id:
 *
 * Returns: the authenticated peer_id of the other side
 */
const char *
lsp_quic_connection_get_peer_id (LspQuicConnection *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_CONNECTION (self), NULL);
  return self->peer_id;
}

GInetSocketAddress *
lsp_quic_connection_get_remote_address (LspQuicConnection *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_CONNECTION (self), NULL);
  return self->remote_address;
}

gboolean
lsp_quic_connection_is_server (LspQuicConnection *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_CONNECTION (self), FALSE);
  return self->is_server;
}

gboolean
lsp_quic_connection_is_closed (LspQuicConnection *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_CONNECTION (self), TRUE);
  return self->closed;
}

/**
 * lsp_quic_connection_close:
 * @app_error_code: sent to the peer in CONNECTION_CLOSE
 * @reason: (nullable): short human-readable reason sent along
 *
 * Closes the connection at once: pending writes fail, reads end with
 * %LSP_QUIC_ERROR_CLOSED, and ::closed is emitted.
 */
void
lsp_quic_connection_close (LspQuicConnection *self,
                           guint64            app_error_code,
                           const char        *reason)
{
  g_return_if_fail (LSP_IS_QUIC_CONNECTION (self));

  if (self->closed || self->close_requested)
    return;

  if (self->in_ngtcp2)
    {
      self->close_requested = TRUE;
      self->close_code = app_error_code;
      self->close_reason = g_strdup (reason);
      lsp_quic_connection_schedule (self);
    }
  else
    {
      g_autoptr(GError) error = g_error_new (LSP_QUIC_ERROR, LSP_QUIC_ERROR_CLOSED,
                                             _("The connection was closed locally"));
      close_now (self, app_error_code, reason, error);
    }
}
