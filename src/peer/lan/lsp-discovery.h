/* lsp-discovery.h: finding other peers and announcing ourselves over mDNS */
#pragma once

#include <gio/gio.h>

#include "lsp-types.h"

G_BEGIN_DECLS

#define LSP_DISCOVERY_SERVICE_TYPE "_lanspread._udp"
/* How long to wait before trying again when D-Bus itself is unreachable;
 * a missing avahi-daemon on a live bus is noticed at once. */
#define LSP_DISCOVERY_RETRY_SECONDS 10
/* Services followed at once, each with its resolver; more are ignored
 * until some go away. Enough for a few hundred peers on two protocols. */
#define LSP_DISCOVERY_MAX_SERVICES 512

typedef struct
{
  char    *peer_id;
  char    *service_name;  /* the mDNS instance name, e.g. "alice-laptop #2" */
  char    *host;          /* IP address literal, with "%iface" for IPv6 link-local */
  guint16  port;
  guint    proto_ver;
  gboolean has_library_rev;
  guint64  library_rev;
  char    *hostname;      /* NULL when not advertised */
  gboolean needs_passphrase;  /* its party has a passphrase (TXT auth=1) */
  int      interface;     /* the network interface index it was seen on */
} LspDiscoveredPeer;

#define LSP_TYPE_DISCOVERED_PEER (lsp_discovered_peer_get_type ())
GType              lsp_discovered_peer_get_type     (void) G_GNUC_CONST;
LspDiscoveredPeer *lsp_discovered_peer_new_from_txt (GHashTable              *txt,
                                                     const char              *host,
                                                     guint16                  port,
                                                     GError                 **error);
LspDiscoveredPeer *lsp_discovered_peer_copy         (const LspDiscoveredPeer *peer);
void               lsp_discovered_peer_free         (LspDiscoveredPeer       *peer);
gboolean           lsp_discovered_peer_equal        (const LspDiscoveredPeer *a,
                                                     const LspDiscoveredPeer *b);

#define LSP_TYPE_DISCOVERY (lsp_discovery_get_type ())
G_DECLARE_FINAL_TYPE (LspDiscovery, lsp_discovery, LSP, DISCOVERY, GObject)

LspDiscovery            *lsp_discovery_new              (const char   *peer_id,
                                                         const char   *hostname,
                                                         guint16       port,
                                                         gboolean      loopback_only);
void                     lsp_discovery_start            (LspDiscovery *self);
void                     lsp_discovery_set_interface    (LspDiscovery *self,
                                                         int           interface);
void                     lsp_discovery_set_needs_passphrase (LspDiscovery *self,
                                                         gboolean      needs_passphrase);
void                     lsp_discovery_set_library_rev  (LspDiscovery *self,
                                                         guint64       library_rev);
guint64                  lsp_discovery_get_library_rev  (LspDiscovery *self);
gboolean                 lsp_discovery_get_available    (LspDiscovery *self);
const char              *lsp_discovery_get_status       (LspDiscovery *self);
const char              *lsp_discovery_get_service_name (LspDiscovery *self);
gboolean                 lsp_discovery_get_published    (LspDiscovery *self);
const char              *lsp_discovery_get_peer_id      (LspDiscovery *self);
const LspDiscoveredPeer *lsp_discovery_lookup_peer      (LspDiscovery *self,
                                                         const char   *peer_id);
guint                    lsp_discovery_get_n_peers      (LspDiscovery *self);
void                     lsp_discovery_set_verified     (LspDiscovery *self,
                                                         const char   *peer_id,
                                                         const char   *host,
                                                         guint16       port);
void                     lsp_discovery_set_unreachable  (LspDiscovery *self,
                                                         const char   *peer_id,
                                                         const char   *host,
                                                         guint16       port);
guint                    lsp_discovery_count_services   (LspDiscovery *self,
                                                         const char   *peer_id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LspDiscoveredPeer, lsp_discovered_peer_free)

G_END_DECLS
