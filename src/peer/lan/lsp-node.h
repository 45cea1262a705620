/* lsp-node.h: this peer on the LAN: listens, finds and syncs with others */
#pragma once

#include <gio/gio.h>

#include "lsp-discovery.h"
#include "lsp-identity.h"
#include "lsp-library.h"
#include "lsp-peer.h"
#include "lsp-quic-connection.h"

G_BEGIN_DECLS

/* Library changes within this window go out as one delta. */
#define LSP_NODE_PUSH_DEBOUNCE_MS 250
/* Static peers that cannot be reached are retried with this backoff. */
#define LSP_NODE_RETRY_MIN_MS     1000
#define LSP_NODE_RETRY_MAX_MS     30000
/* A connection that has not completed Hello/HelloAck within this long is
 * closed, so silent connections cannot hold slots. */
#define LSP_NODE_HELLO_TIMEOUT_MS 5000
/* Peers found by discovery that are dialled at once; the others wait. */
#define LSP_NODE_MAX_DIALS 16
/* Stopping waits at most this long for Goodbyes to go out. */
#define LSP_NODE_GOODBYE_TIMEOUT_MS 1000
/* The chunks a download verified go out in a Have at most this often. */
#define LSP_NODE_HAVE_INTERVAL_MS 250

#define LSP_TYPE_NODE (lsp_node_get_type ())
G_DECLARE_FINAL_TYPE (LspNode, lsp_node, LSP, NODE, GObject)

LspNode    *lsp_node_new              (LspLibrary          *library,
                                       LspIdentity         *identity,
                                       const char          *hostname);
gboolean    lsp_node_start            (LspNode             *self,
                                       GInetSocketAddress  *bind_address,
                                       GError             **error);
gboolean    lsp_node_start_any        (LspNode             *self,
                                       guint16              port,
                                       GError             **error);
gboolean    lsp_node_add_peer_address (LspNode             *self,
                                       const char          *host_port,
                                       GError             **error);
gboolean    lsp_node_trust_peer_address (LspNode         *self,
                                         const char      *host_port,
                                         GError         **error);
gboolean    lsp_node_parse_peer_address (const char        *host_port,
                                         GInetSocketAddress **out_address,
                                         GError           **error);
LspDiscovery *lsp_node_get_discovery  (LspNode             *self);
void        lsp_node_stop             (LspNode             *self,
                                       const char          *reason);
void        lsp_node_stop_async       (LspNode             *self,
                                       const char          *reason,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
gboolean    lsp_node_stop_finish      (LspNode             *self,
                                       GAsyncResult        *result,
                                       GError             **error);
gboolean    lsp_node_enable_discovery (LspNode             *self,
                                       gboolean             loopback_only,
                                       GError             **error);
void        lsp_node_add_static_peer  (LspNode             *self,
                                       GInetSocketAddress  *address);

LspLibrary *lsp_node_get_library      (LspNode             *self);
const char *lsp_node_get_peer_id      (LspNode             *self);
const char *lsp_node_get_hostname     (LspNode             *self);
guint16     lsp_node_get_port         (LspNode             *self);
LspPeer    *lsp_node_lookup_peer      (LspNode             *self,
                                       const char          *peer_id);
LspQuicConnection *lsp_node_get_connection (LspNode        *self,
                                            const char     *peer_id);
void        lsp_node_fetch_manifest_async  (LspNode             *self,
                                            const char          *peer_id,
                                            const char          *game_id,
                                            const char          *manifest_hash,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
LspManifest *lsp_node_fetch_manifest_finish (LspNode            *self,
                                             GAsyncResult       *result,
                                             GError            **error);

/* The key derived from the party's passphrase (lsp_party_key_derive);
 * NULL for a party without one. Set before the node starts. */
void        lsp_node_set_party_key    (LspNode             *self,
                                       GBytes              *key);
gboolean    lsp_node_get_has_passphrase (LspNode           *self);
/* What our downloads in progress serve (the "swarm" feature). */
void        lsp_node_publish_chunks   (LspNode             *self,
                                       const char          *game_id,
                                       const char          *manifest_hash,
                                       guint                chunk_count,
                                       const guint8        *bitmap);
void        lsp_node_publish_chunk    (LspNode             *self,
                                       const char          *game_id,
                                       guint                index);
void        lsp_node_withdraw_chunks  (LspNode             *self,
                                       const char          *game_id);
gboolean    lsp_node_is_chunk_published (LspNode           *self,
                                         const char        *game_id,
                                         const char        *manifest_hash,
                                         guint              index);
gboolean    lsp_node_has_published    (LspNode             *self,
                                       const char          *game_id,
                                       const char          *manifest_hash);
void        lsp_node_set_swarm        (LspNode             *self,
                                       gboolean             enabled);
gboolean    lsp_node_get_swarm        (LspNode             *self);

/* Liveness timing; tests shorten it. */
void        lsp_node_set_liveness     (LspNode             *self,
                                       guint                idle_ping_ms,
                                       guint                stale_ms);
/* How long a connection may take to say Hello; tests shorten it. */
void        lsp_node_set_hello_timeout (LspNode            *self,
                                        guint               timeout_ms);
/* The protocol versions we speak; tests use it to stage a mismatch. */
void        lsp_node_set_proto_range  (LspNode             *self,
                                       guint                min_version,
                                       guint                max_version);

G_END_DECLS
