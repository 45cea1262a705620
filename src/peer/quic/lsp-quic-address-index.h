#pragma once

#include "lsp-known-peers.h"
#include "lsp-quic-private.h"

G_BEGIN_DECLS

/* The live connections of an endpoint by the remote peer's IP address
 * (lsp_quic_connection_get_address_key()), so the per-address limits and
 * the datagrams that cannot be routed by connection ID look at the
 * connections of one address instead of walking all of them. The index
 * borrows the connections: the endpoint removes each before dropping it. */
typedef struct _LspQuicAddressIndex LspQuicAddressIndex;

LspQuicAddressIndex *lsp_quic_address_index_new              (void);
void                 lsp_quic_address_index_free             (LspQuicAddressIndex *self);
void                 lsp_quic_address_index_add              (LspQuicAddressIndex *self,
                                                              LspQuicConnection   *conn);
void                 lsp_quic_address_index_remove           (LspQuicAddressIndex *self,
                                                              LspQuicConnection   *conn);
GPtrArray           *lsp_quic_address_index_lookup           (LspQuicAddressIndex *self,
                                                              const char          *address_key);
GPtrArray           *lsp_quic_address_index_find             (LspQuicAddressIndex *self,
                                                              const LspSockaddr   *addr,
                                                              guint                max);
guint                lsp_quic_address_index_count_handshakes (LspQuicAddressIndex *self,
                                                              const char          *address_key);
gboolean             lsp_quic_address_index_admit            (LspQuicAddressIndex *self,
                                                              const char          *address_key,
                                                              guint                n_connections,
                                                              guint                max_connections,
                                                              LspKnownPeers       *known_peers);
gboolean             lsp_quic_sockaddr_to_key                (const LspSockaddr   *addr,
                                                              char                *buffer,
                                                              gsize                size);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LspQuicAddressIndex, lsp_quic_address_index_free)

G_END_DECLS
