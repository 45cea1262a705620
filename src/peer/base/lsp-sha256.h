/* lsp-sha256.h: SHA-256 through GnuTLS, which uses the CPU's SHA extensions */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LSP_SHA256_LEN      32
#define LSP_SHA256_HEX_LEN  64

typedef struct _LspSha256 LspSha256;

LspSha256 *lsp_sha256_new      (void);
void       lsp_sha256_update   (LspSha256    *self,
                                const void   *data,
                                gsize         length);
void       lsp_sha256_finish   (LspSha256    *self,
                                guint8        digest[LSP_SHA256_LEN]);
void       lsp_sha256_free     (LspSha256    *self);

void       lsp_sha256_buffer   (const void   *data,
                                gsize         length,
                                guint8        digest[LSP_SHA256_LEN]);
void       lsp_sha256_to_hex   (const guint8  digest[LSP_SHA256_LEN],
                                char          hex[LSP_SHA256_HEX_LEN + 1]);
gboolean   lsp_sha256_from_hex (const char   *hex,
                                guint8        digest[LSP_SHA256_LEN]);

/* For GHashTables keyed by a digest's LSP_SHA256_LEN bytes. */
guint      lsp_sha256_digest_hash  (gconstpointer key);
gboolean   lsp_sha256_digest_equal (gconstpointer a,
                                    gconstpointer b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LspSha256, lsp_sha256_free)

G_END_DECLS
