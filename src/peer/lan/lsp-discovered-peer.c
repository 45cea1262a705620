#define G_LOG_DOMAIN "lsp-discovery"

#include "config.h"

#include "lsp-discovery.h"

#include <string.h>

#include "lsp-error.h"
#include "lsp-proto.h"

/* LspDiscoveredPeer: what one mDNS service says about a peer, and the
 * validation of its TXT record. */

G_DEFINE_BOXED_TYPE (LspDiscoveredPeer, lsp_discovered_peer, lsp_discovered_peer_copy, lsp_discovered_peer_free)

LspDiscoveredPeer *
lsp_discovered_peer_copy (const LspDiscoveredPeer *peer)
{
  LspDiscoveredPeer *copy;

  g_return_val_if_fail (peer != NULL, NULL);

  copy = g_new0 (LspDiscoveredPeer, 1);
  *copy = *peer;
  copy->peer_id = g_strdup (peer->peer_id);
  copy->service_name = g_strdup (peer->service_name);
  copy->host = g_strdup (peer->host);
  copy->hostname = g_strdup (peer->hostname);
  return copy;
}

void
lsp_discovered_peer_free (LspDiscoveredPeer *peer)
{
  if (peer == NULL)
    return;
  g_free (peer->peer_id);
  g_free (peer->service_name);
  g_free (peer->host);
  g_free (peer->hostname);
  g_free (peer);
}

gboolean
lsp_discovered_peer_equal (const LspDiscoveredPeer *a,
                           const LspDiscoveredPeer *b)
{
  return g_strcmp0 (a->peer_id, b->peer_id) == 0 &&
         g_strcmp0 (a->service_name, b->service_name) == 0 &&
         g_strcmp0 (a->host, b->host) == 0 &&
         a->port == b->port &&
         a->proto_ver == b->proto_ver &&
         !a->has_library_rev == !b->has_library_rev &&
         a->library_rev == b->library_rev &&
         g_strcmp0 (a->hostname, b->hostname) == 0 &&
         !a->needs_passphrase == !b->needs_passphrase &&
         a->interface == b->interface;
}

/* Canonical decimal only: no sign, no leading zeros, no spaces, so one
 * number has one spelling. */
static gboolean
parse_decimal (const char *text,
               guint64     max,
               guint64    *out)
{
  guint64 value = 0;
  gsize len = strlen (text);

  if (len == 0 || len > 16 || (text[0] == '0' && len > 1))
    return FALSE;
  for (const char *p = text; *p; p++)
    {
      if (!g_ascii_isdigit (*p))
        return FALSE;
      value = value * 10 + (guint64) (*p - '0');
    }
  if (value > max)
    return FALSE;
  *out = value;
  return TRUE;
}

G_GNUC_PRINTF (2, 3)
static LspDiscoveredPeer *
txt_invalid (GError    **error,
             const char *format,
             ...)
{
  va_list args;

  va_start (args, format);
  lsp_error_set_invalid_valist (error, "Invalid mDNS TXT record: ", "", format, args);
  va_end (args);
  return NULL;
}

/* Validates what a service advertises, as PROTOCOL.md's mDNS section says:
 * txt maps keys to values (NULL for a key without “=”). */
LspDiscoveredPeer *
lsp_discovered_peer_new_from_txt (GHashTable  *txt,
                                  const char  *host,
                                  guint16      port,
                                  GError     **error)
{
  g_autoptr(LspDiscoveredPeer) peer = NULL;
  const char *peer_id, *proto_ver, *library_rev, *hostname;
  guint64 value;

  g_return_val_if_fail (txt != NULL, NULL);
  g_return_val_if_fail (host != NULL, NULL);

  peer_id = g_hash_table_lookup (txt, "peer_id");
  proto_ver = g_hash_table_lookup (txt, "proto_ver");
  library_rev = g_hash_table_lookup (txt, "library_rev");
  hostname = g_hash_table_lookup (txt, "hostname");

  if (peer_id == NULL)
    return txt_invalid (error, "“peer_id” is missing");
  if (!lsp_peer_id_is_valid (peer_id))
    return txt_invalid (error, "“peer_id” is not 64 lowercase hex characters");
  if (proto_ver == NULL)
    return txt_invalid (error, "“proto_ver” is missing");
  if (!parse_decimal (proto_ver, LSP_PROTO_MAX_VERSION_VALUE, &value) || value == 0)
    return txt_invalid (error, "“proto_ver” is not an integer from 1 to %d", LSP_PROTO_MAX_VERSION_VALUE);
  if (port == 0)
    return txt_invalid (error, "the service has port 0");

  peer = g_new0 (LspDiscoveredPeer, 1);
  peer->peer_id = g_strdup (peer_id);
  peer->proto_ver = (guint) value;
  peer->host = g_strdup (host);
  peer->port = port;

  if (g_hash_table_contains (txt, "library_rev"))
    {
      if (library_rev == NULL || !parse_decimal (library_rev, LSP_PROTO_MAX_INT, &peer->library_rev))
        return txt_invalid (error, "“library_rev” is not an integer from 0 to 2^53-1");
      peer->has_library_rev = TRUE;
    }
  if (g_hash_table_contains (txt, "hostname"))
    {
      if (!lsp_proto_hostname_is_valid (hostname))
        return txt_invalid (error, "“hostname” is not 1–63 bytes of text without control characters");
      peer->hostname = g_strdup (hostname);
    }
  if (g_hash_table_contains (txt, "auth"))
    {
      if (g_strcmp0 (g_hash_table_lookup (txt, "auth"), "1") != 0)
        return txt_invalid (error, "“auth” is not 1");
      peer->needs_passphrase = TRUE;
    }

  return g_steal_pointer (&peer);
}
