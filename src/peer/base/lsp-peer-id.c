#define G_LOG_DOMAIN "lsp-peer-id"

#include "config.h"

#include "lsp-peer-id.h"

#include "lsp-sha256.h"

gboolean
lsp_peer_id_is_valid (const char *peer_id)
{
  guint8 digest[LSP_SHA256_LEN];

  return lsp_sha256_from_hex (peer_id, digest);
}

char *
lsp_peer_id_shorten (const char *peer_id)
{
  g_return_val_if_fail (peer_id != NULL, NULL);
  return g_strndup (peer_id, LSP_PEER_ID_SHORT_LEN);
}
