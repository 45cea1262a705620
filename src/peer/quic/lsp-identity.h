/* lsp-identity.h: this peer's persistent key pair, certificate and peer_id */
#pragma once

#include <glib-object.h>

#include "lsp-peer-id.h"

G_BEGIN_DECLS

#define LSP_TYPE_IDENTITY (lsp_identity_get_type ())

G_DECLARE_FINAL_TYPE (LspIdentity, lsp_identity, LSP, IDENTITY, GObject)

LspIdentity *lsp_identity_load_or_create  (const char  *state_dir,
                                           GError     **error);
const char  *lsp_identity_get_peer_id     (LspIdentity *self);
const char  *lsp_identity_get_short_id    (LspIdentity *self);
const char  *lsp_identity_get_state_dir   (LspIdentity *self);

G_END_DECLS
