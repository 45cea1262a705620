/* lsp-identity.h: this peer's persistent key pair, certificate and peer_id */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* A peer_id is the lowercase hex SHA-256 of the DER SubjectPublicKeyInfo
 * of the peer's key; the short form is its first LSP_PEER_ID_SHORT_LEN
 * digits, for display only. */
#define LSP_PEER_ID_LEN        64
#define LSP_PEER_ID_SHORT_LEN  12

#define LSP_TYPE_IDENTITY (lsp_identity_get_type ())

G_DECLARE_FINAL_TYPE (LspIdentity, lsp_identity, LSP, IDENTITY, GObject)

LspIdentity *lsp_identity_load_or_create  (const char  *state_dir,
                                           GError     **error);
const char  *lsp_identity_get_peer_id     (LspIdentity *self);
const char  *lsp_identity_get_short_id    (LspIdentity *self);
const char  *lsp_identity_get_state_dir   (LspIdentity *self);

gboolean     lsp_peer_id_is_valid         (const char  *peer_id);
char        *lsp_peer_id_shorten          (const char  *peer_id);

G_END_DECLS
