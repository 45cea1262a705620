/* lsp-known-peers.h: peers seen before (trust on first use), kept on disk */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Entries beyond this many are dropped, oldest "last-seen" first. */
#define LSP_KNOWN_PEERS_MAX 4096

#define LSP_TYPE_KNOWN_PEERS (lsp_known_peers_get_type ())

G_DECLARE_FINAL_TYPE (LspKnownPeers, lsp_known_peers, LSP, KNOWN_PEERS, GObject)

LspKnownPeers *lsp_known_peers_new      (const char     *path);
gboolean       lsp_known_peers_contains (LspKnownPeers  *self,
                                         const char     *peer_id);
void           lsp_known_peers_record   (LspKnownPeers  *self,
                                         const char     *peer_id,
                                         const char     *address);
gboolean       lsp_known_peers_knew_address (LspKnownPeers *self,
                                             const char    *address);
void           lsp_known_peers_note_session (LspKnownPeers *self,
                                             const char    *peer_id,
                                             const char    *hostname,
                                             const char    *dialled_at);
char          *lsp_known_peers_dup_hostname (LspKnownPeers *self,
                                             const char    *peer_id);
char          *lsp_known_peers_dup_pinned   (LspKnownPeers *self,
                                             const char    *dialled_at);
void           lsp_known_peers_unpin        (LspKnownPeers *self,
                                             const char    *dialled_at);
guint          lsp_known_peers_get_size (LspKnownPeers  *self);
void           lsp_known_peers_flush    (LspKnownPeers  *self);

G_END_DECLS
