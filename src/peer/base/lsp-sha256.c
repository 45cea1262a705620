#define G_LOG_DOMAIN "lsp-sha256"

#include "config.h"

#include "lsp-sha256.h"

#include <gnutls/crypto.h>
#include <string.h>

struct _LspSha256
{
  gnutls_hash_hd_t handle;
};

LspSha256 *
lsp_sha256_new (void)
{
  LspSha256 *self = g_new0 (LspSha256, 1);

  if (gnutls_hash_init (&self->handle, GNUTLS_DIG_SHA256) < 0)
    g_error ("GnuTLS cannot provide SHA-256");

  return self;
}

void
lsp_sha256_update (LspSha256  *self,
                   const void *data,
                   gsize       length)
{
  gnutls_hash (self->handle, data, length);
}

/* Writes the digest and resets the state so the object can hash again. */
void
lsp_sha256_finish (LspSha256 *self,
                   guint8     digest[LSP_SHA256_LEN])
{
  gnutls_hash_output (self->handle, digest);
}

void
lsp_sha256_free (LspSha256 *self)
{
  if (self == NULL)
    return;
  gnutls_hash_deinit (self->handle, NULL);
  g_free (self);
}

void
lsp_sha256_buffer (const void *data,
                   gsize       length,
                   guint8      digest[LSP_SHA256_LEN])
{
  gnutls_hash_fast (GNUTLS_DIG_SHA256, data, length, digest);
}

void
lsp_sha256_to_hex (const guint8 digest[LSP_SHA256_LEN],
                   char         hex[LSP_SHA256_HEX_LEN + 1])
{
  static const char digits[] = "0123456789abcdef";

  for (guint i = 0; i < LSP_SHA256_LEN; i++)
    {
      hex[2 * i] = digits[digest[i] >> 4];
      hex[2 * i + 1] = digits[digest[i] & 0xf];
    }
  hex[LSP_SHA256_HEX_LEN] = '\0';
}

/* Accepts exactly 64 lowercase hex digits, the only form we ever write. */
gboolean
lsp_sha256_from_hex (const char *hex,
                     guint8      digest[LSP_SHA256_LEN])
{
  if (hex == NULL || strlen (hex) != LSP_SHA256_HEX_LEN)
    return FALSE;

  for (guint i = 0; i < LSP_SHA256_LEN; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (hi < 0 || lo < 0 || g_ascii_isupper (hex[2 * i]) || g_ascii_isupper (hex[2 * i + 1]))
        return FALSE;
      digest[i] = (guint8) ((hi << 4) | lo);
    }

  return TRUE;
}

/* A digest is uniformly distributed: its first bytes are a hash already. */
guint
lsp_sha256_digest_hash (gconstpointer key)
{
  guint value;

  memcpy (&value, key, sizeof value);
  return value;
}

gboolean
lsp_sha256_digest_equal (gconstpointer a,
                         gconstpointer b)
{
  return memcmp (a, b, LSP_SHA256_LEN) == 0;
}
