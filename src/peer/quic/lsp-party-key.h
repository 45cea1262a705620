/* lsp-party-key.h: a party's passphrase, and the proof of it bound to one
 * connection (PROTOCOL.md, "Auth") */
#pragma once

#include <gio/gio.h>

#include "lsp-quic-connection.h"

G_BEGIN_DECLS

/* A passphrase file holds at most this many bytes. */
#define LSP_PARTY_PASSPHRASE_MAX_LEN 1024
/* PBKDF2-HMAC-SHA256 rounds: slow enough that guessing from a captured
 * proof costs real time per guess, once at start on a worker. */
#define LSP_PARTY_KDF_ITERATIONS     600000
#define LSP_PARTY_KEY_LEN            32

char     *lsp_party_passphrase_load        (const char          *path,
                                            GError             **error);
gboolean  lsp_party_passphrase_is_valid    (const char          *passphrase,
                                            GError             **error);
void      lsp_party_passphrase_free        (char                *passphrase);

GBytes   *lsp_party_key_derive             (const char          *passphrase,
                                            GError             **error);

char     *lsp_party_key_prove              (GBytes              *key,
                                            LspQuicConnection   *conn,
                                            const char          *sender_id,
                                            const char          *receiver_id,
                                            GError             **error);
gboolean  lsp_party_key_check              (GBytes              *key,
                                            LspQuicConnection   *conn,
                                            const char          *sender_id,
                                            const char          *receiver_id,
                                            const char          *proof);

/* A passphrase that is wiped when it goes out of scope. */
typedef char LspPassphrase;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LspPassphrase, lsp_party_passphrase_free)

G_END_DECLS
