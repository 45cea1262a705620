/* An mDNS TXT record as it comes off the wire: a peer we accept from it
 * has a well-formed peer_id and hostname. */
#include "config.h"

#include "lsp-fuzz.h"

#include "lsp-discovery.h"
#include "lsp-discovery-private.h"
#include "lsp-proto.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(LspDiscoveredPeer) peer = NULL;
  g_autoptr(GHashTable) table = NULL;
  g_autoptr(GError) error = NULL;
  AvahiStringList *txt = NULL;

  if (avahi_string_list_parse (data, size, &txt) != 0)
    return 0;
  table = lsp_discovery_txt_to_table (txt);
  avahi_string_list_free (txt);
  peer = lsp_discovered_peer_new_from_txt (table, "127.0.0.1", 4433, &error);
  if (peer == NULL)
    {
      g_assert_nonnull (error);
      return 0;
    }
  g_assert_true (lsp_proto_hex_digest_is_valid (peer->peer_id));
  g_assert_true (peer->hostname == NULL || lsp_proto_hostname_is_valid (peer->hostname));
  return 0;
}
