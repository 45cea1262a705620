#define G_LOG_DOMAIN "lsp-quic-endpoint"

#include "config.h"

#include "lsp-quic-address-index.h"

#include <arpa/inet.h>
#include <string.h>

struct _LspQuicAddressIndex
{
  GHashTable *by_address;   /* address key → GPtrArray of LspQuicConnection (borrowed) */
};

LspQuicAddressIndex *
lsp_quic_address_index_new (void)
{
  LspQuicAddressIndex *self = g_new0 (LspQuicAddressIndex, 1);

  self->by_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify) g_ptr_array_unref);
  return self;
}

void
lsp_quic_address_index_free (LspQuicAddressIndex *self)
{
  g_hash_table_unref (self->by_address);
  g_free (self);
}

void
lsp_quic_address_index_add (LspQuicAddressIndex *self,
                            LspQuicConnection   *conn)
{
  const char *key = lsp_quic_connection_get_address_key (conn);
  GPtrArray *connections = g_hash_table_lookup (self->by_address, key);

  if (connections == NULL)
    {
      connections = g_ptr_array_new ();
      g_hash_table_insert (self->by_address, g_strdup (key), connections);
    }
  g_ptr_array_add (connections, conn);
}

void
lsp_quic_address_index_remove (LspQuicAddressIndex *self,
                               LspQuicConnection   *conn)
{
  const char *key = lsp_quic_connection_get_address_key (conn);
  GPtrArray *connections = g_hash_table_lookup (self->by_address, key);

  if (connections == NULL || !g_ptr_array_remove_fast (connections, conn))
    return;
  if (connections->len == 0)
    g_hash_table_remove (self->by_address, key);
}

/* Returns: (nullable) (transfer none): the connections with that address */
GPtrArray *
lsp_quic_address_index_lookup (LspQuicAddressIndex *self,
                               const char          *address_key)
{
  return g_hash_table_lookup (self->by_address, address_key);
}

guint
lsp_quic_address_index_count_handshakes (LspQuicAddressIndex *self,
                                         const char          *address_key)
{
  GPtrArray *connections = g_hash_table_lookup (self->by_address, address_key);
  guint n = 0;

  for (guint i = 0; connections != NULL && i < connections->len; i++)
    if (lsp_quic_connection_is_handshaking (connections->pdata[i]))
      n++;
  return n;
}

/* Whether an Initial from @address_key may open a connection, with
 * @n_connections open. Strangers cannot take every slot: the last
 * LSP_QUIC_RESERVED_CONNECTIONS are for our own dials and for addresses
 * peers were authenticated at in an earlier run, and one address gets at
 * most LSP_QUIC_MAX_CONNECTIONS_PER_ADDRESS, with at most
 * LSP_QUIC_MAX_HANDSHAKES_PER_ADDRESS of them half-open. */
gboolean
lsp_quic_address_index_admit (LspQuicAddressIndex *self,
                              const char          *address_key,
                              guint                n_connections,
                              guint                max_connections,
                              LspKnownPeers       *known_peers)
{
  GPtrArray *same_address = lsp_quic_address_index_lookup (self, address_key);

  if (n_connections >= max_connections)
    {
      g_debug ("Refusing a connection: %u connections is the limit", max_connections);
      return FALSE;
    }
  if (n_connections >= max_connections - LSP_QUIC_RESERVED_CONNECTIONS &&
      !lsp_known_peers_knew_address (known_peers, address_key))
    {
      g_debug ("Refusing a connection from %s: the last %u slots are for known peers and our dials",
               address_key, LSP_QUIC_RESERVED_CONNECTIONS);
      return FALSE;
    }
  if (same_address != NULL && same_address->len >= LSP_QUIC_MAX_CONNECTIONS_PER_ADDRESS)
    {
      g_debug ("Refusing a connection from %s: %u connections from one address is the limit",
               address_key, LSP_QUIC_MAX_CONNECTIONS_PER_ADDRESS);
      return FALSE;
    }
  if (lsp_quic_address_index_count_handshakes (self, address_key) >= LSP_QUIC_MAX_HANDSHAKES_PER_ADDRESS)
    {
      g_debug ("Refusing a connection from %s: %u handshakes at once is the limit",
               address_key, LSP_QUIC_MAX_HANDSHAKES_PER_ADDRESS);
      return FALSE;
    }
  return TRUE;
}

static gboolean
sockaddr_equal (const LspSockaddr *a,
                const LspSockaddr *b)
{
  if (a->sa.sa_family != b->sa.sa_family)
    return FALSE;
  if (a->sa.sa_family == AF_INET)
    return a->in.sin_port == b->in.sin_port &&
           a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
  if (a->sa.sa_family == AF_INET6)
    return a->in6.sin6_port == b->in6.sin6_port &&
           memcmp (&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof a->in6.sin6_addr) == 0;
  return FALSE;
}

/* Returns: (transfer full): up to @max connections with the peer at @addr
 * (address and port), for datagrams that cannot be routed by CID. */
GPtrArray *
lsp_quic_address_index_find (LspQuicAddressIndex *self,
                             const LspSockaddr   *addr,
                             guint                max)
{
  GPtrArray *matches = g_ptr_array_new_with_free_func (g_object_unref);
  char address_key[INET6_ADDRSTRLEN];
  GPtrArray *same_address;

  if (!lsp_quic_sockaddr_to_key (addr, address_key, sizeof address_key))
    return matches;
  same_address = g_hash_table_lookup (self->by_address, address_key);
  for (guint i = 0; same_address != NULL && i < same_address->len && matches->len < max; i++)
    if (sockaddr_equal (lsp_quic_connection_get_remote (same_address->pdata[i]), addr))
      g_ptr_array_add (matches, g_object_ref (same_address->pdata[i]));
  return matches;
}

/* The address key of a datagram's source, as g_inet_address_to_string()
 * writes it for a connection, without allocating for every datagram. */
gboolean
lsp_quic_sockaddr_to_key (const LspSockaddr *addr,
                          char              *buffer,
                          gsize              size)
{
  if (addr->sa.sa_family == AF_INET)
    return inet_ntop (AF_INET, &addr->in.sin_addr, buffer, (socklen_t) size) != NULL;
  if (addr->sa.sa_family == AF_INET6)
    return inet_ntop (AF_INET6, &addr->in6.sin6_addr, buffer, (socklen_t) size) != NULL;
  return FALSE;
}
