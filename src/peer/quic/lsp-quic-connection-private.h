/* lsp-quic-connection-private.h: internals shared by the split files of LspQuicConnection */
#pragma once

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "lsp-quic-private.h"

G_BEGIN_DECLS

struct _LspQuicConnection
{
  GObject                 parent_instance;

  LspQuicEndpoint        *endpoint;        /* weak; NULL once the connection ended */
  char                   *alpn;            /* the endpoint's, kept for the handshake */
  ngtcp2_crypto_conn_ref  conn_ref;
  ngtcp2_conn            *conn;
  gnutls_session_t        session;
  gboolean                is_server;

  LspSockaddr             local;
  socklen_t               local_len;
  LspSockaddr             remote;
  socklen_t               remote_len;
  GInetSocketAddress     *remote_address;
  char                   *address_key;

  char                   *peer_id;
  char                   *expected_peer_id;
  char                   *verify_error;
  gboolean                peer_mismatch;

  gboolean                in_ngtcp2;       /* inside a call that may run callbacks */
  gboolean                handshake_pending;
  gboolean                handshake_done;
  gboolean                stateless_reset;
  gboolean                streams_available;  /* the peer raised MAX_STREAMS */
  gboolean                closed;
  gboolean                close_requested;
  guint64                 close_code;
  char                   *close_reason;

  /* Handed to the endpoint at teardown, which keeps the connection IDs
   * routed for the closing or draining period (RFC 9000 §10.2). */
  GBytes                 *close_packet;    /* the CONNECTION_CLOSE datagram we sent */
  LspSockaddr             close_remote;    /* where it went */
  socklen_t               close_remote_len;
  gboolean                close_unsent;    /* the socket was full: the endpoint sends it */
  gboolean                draining;        /* the peer closed (or reset) the connection */

  GHashTable             *streams;         /* stream id → LspQuicStream */
  GQueue                  send_queue;      /* streams with data to send */
  GPtrArray              *incoming;        /* streams opened by the peer, not yet announced */
  GPtrArray              *completed;       /* LspQuicCompletion */
  GPtrArray              *cids;            /* ngtcp2_cid registered with the endpoint */
  GSource                *timer;

  GTask                  *connect_task;
  GSource                *cancel_source;
};

extern const ngtcp2_callbacks lsp_quic_client_callbacks;
extern const ngtcp2_callbacks lsp_quic_server_callbacks;

void           lsp_quic_rand                      (uint8_t                *dest,
                                                   size_t                  destlen,
                                                   const ngtcp2_rand_ctx  *rand_ctx);
void           lsp_quic_connection_register_cid   (LspQuicConnection      *self,
                                                   const ngtcp2_cid       *cid);
LspQuicStream *lsp_quic_connection_add_stream     (LspQuicConnection      *self,
                                                   gint64                  id,
                                                   gboolean                local);
void           lsp_quic_connection_unqueue_stream (LspQuicConnection      *self,
                                                   LspQuicStream          *stream);
void           lsp_quic_connection_credit         (LspQuicConnection      *self,
                                                   gint64                  stream_id,
                                                   gsize                   length);
gboolean       lsp_quic_connection_setup_tls      (LspQuicConnection      *self,
                                                   GError                **error);
void           lsp_quic_connection_queue_stream   (LspQuicConnection      *self,
                                                   LspQuicStream          *stream);
GError        *lsp_quic_connection_error_from_liberr (LspQuicConnection   *self,
                                                   int                     rv);

G_END_DECLS
