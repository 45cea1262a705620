/* lsp-quic-endpoint.h: one UDP socket serving and opening QUIC connections */
#pragma once

#include <gio/gio.h>

#include "lsp-identity.h"
#include "lsp-known-peers.h"
#include "lsp-quic-connection.h"
#include "lsp-quic-error.h"

G_BEGIN_DECLS

/* Limits, documented in ARCHITECTURE.md and PROTOCOL.md. */
#define LSP_QUIC_MAX_CONNECTIONS            1024
#define LSP_QUIC_MAX_HANDSHAKES_PER_ADDRESS 32
/* Live connections with one IP address, either direction. */
#define LSP_QUIC_MAX_CONNECTIONS_PER_ADDRESS 64
/* Of LSP_QUIC_MAX_CONNECTIONS, slots only our own dials and addresses
 * peers were authenticated at in an earlier run may take. */
#define LSP_QUIC_RESERVED_CONNECTIONS       128
#define LSP_QUIC_DEFAULT_IDLE_TIMEOUT_MS    30000
#define LSP_QUIC_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000
#define LSP_QUIC_MAX_REPLIES_PER_SECOND     200
/* Connections in their closing or draining period (RFC 9000 §10.2) that an
 * endpoint keeps routing; more push out the one that would end first. */
#define LSP_QUIC_MAX_CLOSING                1024

#define LSP_TYPE_QUIC_ENDPOINT (lsp_quic_endpoint_get_type ())

G_DECLARE_FINAL_TYPE (LspQuicEndpoint, lsp_quic_endpoint, LSP, QUIC_ENDPOINT, GObject)

LspQuicEndpoint    *lsp_quic_endpoint_new                   (LspIdentity          *identity,
                                                             const char           *alpn,
                                                             GInetSocketAddress   *bind_address,
                                                             GError              **error);
LspIdentity        *lsp_quic_endpoint_get_identity          (LspQuicEndpoint      *self);
const char         *lsp_quic_endpoint_get_alpn              (LspQuicEndpoint      *self);
LspKnownPeers      *lsp_quic_endpoint_get_known_peers       (LspQuicEndpoint      *self);
GInetSocketAddress *lsp_quic_endpoint_get_local_address     (LspQuicEndpoint      *self);
guint16             lsp_quic_endpoint_get_port              (LspQuicEndpoint      *self);
guint               lsp_quic_endpoint_get_n_connections     (LspQuicEndpoint      *self);
guint               lsp_quic_endpoint_get_n_closing         (LspQuicEndpoint      *self);
guint               lsp_quic_endpoint_get_idle_timeout      (LspQuicEndpoint      *self);
void                lsp_quic_endpoint_set_idle_timeout      (LspQuicEndpoint      *self,
                                                             guint                 timeout_ms);
guint               lsp_quic_endpoint_get_handshake_timeout (LspQuicEndpoint      *self);
void                lsp_quic_endpoint_set_handshake_timeout (LspQuicEndpoint      *self,
                                                             guint                 timeout_ms);

void                lsp_quic_endpoint_connect_async         (LspQuicEndpoint      *self,
                                                             GInetSocketAddress   *address,
                                                             const char           *expected_peer_id,
                                                             GCancellable         *cancellable,
                                                             GAsyncReadyCallback   callback,
                                                             gpointer              user_data);
LspQuicConnection  *lsp_quic_endpoint_connect_finish        (LspQuicEndpoint      *self,
                                                             GAsyncResult         *result,
                                                             GError              **error);
void                lsp_quic_endpoint_close_all             (LspQuicEndpoint      *self,
                                                             guint64               app_error_code,
                                                             const char           *reason);

G_END_DECLS
