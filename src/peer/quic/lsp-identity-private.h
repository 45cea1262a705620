/* lsp-identity-private.h: what the QUIC transport needs from an identity */
#pragma once

#include <gnutls/gnutls.h>

#include "lsp-identity.h"

G_BEGIN_DECLS

#define LSP_IDENTITY_SECRET_LEN 32

gnutls_certificate_credentials_t lsp_identity_get_credentials (LspIdentity          *self);
const guint8                    *lsp_identity_get_secret      (LspIdentity          *self);
char                            *lsp_peer_id_from_certificate (const gnutls_datum_t *der,
                                                               GError              **error);

G_END_DECLS
