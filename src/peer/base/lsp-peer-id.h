/* lsp-peer-id.h: the name of a peer, as the transport and the protocol use it */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A peer_id is the lowercase hex SHA-256 of the DER SubjectPublicKeyInfo
 * of the peer's key; the short form is its first LSP_PEER_ID_SHORT_LEN
 * digits, for display only. */
#define LSP_PEER_ID_LEN        64
#define LSP_PEER_ID_SHORT_LEN  12

gboolean  lsp_peer_id_is_valid (const char *peer_id);
char     *lsp_peer_id_shorten  (const char *peer_id);

G_END_DECLS
