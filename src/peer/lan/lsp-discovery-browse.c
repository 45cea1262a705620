#define G_LOG_DOMAIN "lsp-discovery"

#include "config.h"

#include "lsp-discovery-private.h"

#include <avahi-client/lookup.h>
#include <avahi-common/error.h>
#include <avahi-common/strlst.h>
#include <net/if.h>
#include <string.h>
#include <glib/gi18n-lib.h>

/* Browsing: one resolver per service, what each service says, and which
 * of a peer's services describes it. */

void
_lsp_discovery_service_free (Service *service)
{
  g_clear_handle_id (&service->retry_source_id, g_source_remove);
  g_clear_pointer (&service->resolver, avahi_service_resolver_free);
  g_clear_pointer (&service->resolved, lsp_discovered_peer_free);
  g_free (service->key);
  g_free (service->name);
  g_free (service->domain);
  g_free (service);
}

/* "host port", without an IPv6 scope: connections know no interface names. */
static char *
address_key (const char *host,
             guint16     port)
{
  gsize host_len = strcspn (host, "%");
  return g_strdup_printf ("%.*s %u", (int) host_len, host, port);
}

static gboolean
service_is_verified (LspDiscovery  *self,
                     const Service *service)
{
  const char *verified = g_hash_table_lookup (self->verified, service->resolved->peer_id);
  g_autofree char *key = NULL;

  if (verified == NULL)
    return FALSE;
  key = address_key (service->resolved->host, service->resolved->port);
  return g_str_equal (key, verified);
}

static gboolean
service_is_unreachable (LspDiscovery  *self,
                        const Service *service)
{
  GHashTable *failed = g_hash_table_lookup (self->unreachable, service->resolved->peer_id);
  g_autofree char *key = NULL;

  if (failed == NULL)
    return FALSE;
  key = address_key (service->resolved->host, service->resolved->port);
  return g_hash_table_contains (failed, key);
}

static gboolean
service_is_better (LspDiscovery  *self,
                   const Service *a,
                   const Service *b)
{
  gboolean a_verified = service_is_verified (self, a);
  gboolean b_verified = service_is_verified (self, b);
  gboolean a_unreachable = service_is_unreachable (self, a);
  gboolean b_unreachable = service_is_unreachable (self, b);
  gboolean a_v4 = strchr (a->resolved->host, ':') == NULL;
  gboolean b_v4 = strchr (b->resolved->host, ':') == NULL;

  if (a_verified != b_verified)
    return a_verified;
  if (a_unreachable != b_unreachable)
    return b_unreachable;
  if (a_v4 != b_v4)
    return a_v4;
  return strcmp (a->key, b->key) < 0;
}

/* A peer may be seen through several services (IPv4 and IPv6, several
 * interfaces, a stale name next to a new one, or a service of someone
 * else claiming its peer_id). It is one peer, keyed by peer_id: the
 * signals describe the best of its services (the address the peer was
 * authenticated at, then IPv4, then a stable order), and it is lost only
 * when none is left. */
static void
update_peer (LspDiscovery *self,
             const char   *peer_id)
{
  Service *best = NULL;
  LspDiscoveredPeer *known;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->services);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Service *service = value;

      if (service->resolved != NULL && g_str_equal (service->resolved->peer_id, peer_id) &&
          (best == NULL || service_is_better (self, service, best)))
        best = service;
    }

  known = g_hash_table_lookup (self->peers, peer_id);
  if (best == NULL)
    {
      g_autofree char *lost = g_strdup (peer_id);

      g_hash_table_remove (self->verified, peer_id);
      g_hash_table_remove (self->unreachable, peer_id);
      if (known == NULL)
        return;
      g_hash_table_remove (self->peers, lost);
      g_debug ("Lost peer %s", lost);
      g_signal_emit (self, _lsp_discovery_signals[LSP_DISCOVERY_PEER_LOST], 0, lost);
      return;
    }

  if (known != NULL && lsp_discovered_peer_equal (known, best->resolved))
    return;

  known = lsp_discovered_peer_copy (best->resolved);
  g_hash_table_replace (self->peers, known->peer_id, known);
  g_debug ("Found peer %s (“%s”) at %s:%u, library_rev %" G_GUINT64_FORMAT,
           known->peer_id, known->service_name, known->host, known->port, known->library_rev);
  g_signal_emit (self, _lsp_discovery_signals[LSP_DISCOVERY_PEER_FOUND], 0, known);
}

static void
service_set_resolved (Service           *service,
                      LspDiscoveredPeer *resolved)
{
  LspDiscovery *self = service->self;
  g_autoptr(LspDiscoveredPeer) old = g_steal_pointer (&service->resolved);

  service->resolved = resolved;
  if (old != NULL && (resolved == NULL || !g_str_equal (old->peer_id, resolved->peer_id)))
    update_peer (self, old->peer_id);
  if (resolved != NULL)
    update_peer (self, resolved->peer_id);
}

void
_lsp_discovery_forget_all (LspDiscovery *self)
{
  g_autoptr(GPtrArray) lost = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key;

  g_hash_table_remove_all (self->services);
  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (lost, g_strdup (key));
  g_hash_table_remove_all (self->peers);

  for (guint i = 0; i < lost->len; i++)
    g_signal_emit (self, _lsp_discovery_signals[LSP_DISCOVERY_PEER_LOST], 0, g_ptr_array_index (lost, i));
}

/* TXT entries to key → value (NULL for a key without “=”), the way RFC 6763
 * §6.4 reads them: keys are case-insensitive and the first of two equal
 * keys on the wire wins. An AvahiStringList holds the entries in reverse
 * wire order (Avahi prepends as it reads), so here the last one wins.
 * Entries with a NUL byte are dropped: as C strings they would hide the
 * rest of their bytes from validation. */
GHashTable *
lsp_discovery_txt_to_table (AvahiStringList *txt)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  for (AvahiStringList *l = txt; l != NULL; l = avahi_string_list_get_next (l))
    {
      const char *text = (const char *) avahi_string_list_get_text (l);
      gsize size = avahi_string_list_get_size (l);
      const char *eq = memchr (text, '=', size);
      gsize key_len = eq != NULL ? (gsize) (eq - text) : size;
      g_autofree char *key = NULL;

      if (key_len == 0 || memchr (text, '\0', size) != NULL)
        continue;
      key = g_ascii_strdown (text, (gssize) key_len);
      g_hash_table_replace (table, g_steal_pointer (&key),
                            eq != NULL ? g_strndup (eq + 1, size - key_len - 1) : NULL);
    }
  return table;
}

static void on_resolver_event (AvahiServiceResolver   *resolver,
                               AvahiIfIndex            interface,
                               AvahiProtocol           protocol,
                               AvahiResolverEvent      event,
                               const char             *name,
                               const char             *type,
                               const char             *domain,
                               const char             *host_name,
                               const AvahiAddress     *address,
                               uint16_t                port,
                               AvahiStringList        *txt,
                               AvahiLookupResultFlags  flags,
                               void                   *user_data);

static gboolean
service_resolve (Service *service)
{
  AvahiClient *client = service->self->client;

  g_assert (service->resolver == NULL);

  /* The resolver stays alive after its first answer, so address and TXT
   * changes (a new library_rev) arrive as new answers. */
  service->resolver = avahi_service_resolver_new (client, service->interface, service->protocol,
                                                  service->name, LSP_DISCOVERY_SERVICE_TYPE, service->domain,
                                                  AVAHI_PROTO_UNSPEC, 0, on_resolver_event, service);
  if (service->resolver == NULL)
    {
      g_debug ("Could not resolve “%s”: %s", service->name, avahi_strerror (avahi_client_errno (client)));
      return FALSE;
    }
  return TRUE;
}

static gboolean
retry_resolve_cb (gpointer user_data)
{
  Service *service = user_data;

  service->retry_source_id = 0;
  if (service->self->client != NULL)
    service_resolve (service);
  return G_SOURCE_REMOVE;
}

static void
on_resolver_event (AvahiServiceResolver   *resolver,
                   AvahiIfIndex            interface,
                   AvahiProtocol           protocol,
                   AvahiResolverEvent      event,
                   const char             *name,
                   const char             *type,
                   const char             *domain,
                   const char             *host_name,
                   const AvahiAddress     *address,
                   uint16_t                port,
                   AvahiStringList        *txt,
                   AvahiLookupResultFlags  flags,
                   void                   *user_data)
{
  Service *service = user_data;
  LspDiscovery *self = service->self;
  g_autoptr(GHashTable) table = NULL;
  g_autoptr(LspDiscoveredPeer) peer = NULL;
  g_autoptr(GError) error = NULL;
  char host[AVAHI_ADDRESS_STR_MAX + IF_NAMESIZE + 1];

  if (event != AVAHI_RESOLVER_FOUND)
    {
      /* Not reachable through this service for now; the browser still
       * lists it, so try again later, less and less often. */
      g_debug ("Could not resolve “%s”: %s; retrying in %u s", name,
               avahi_strerror (avahi_client_errno (avahi_service_resolver_get_client (resolver))),
               service->retry_seconds);
      g_clear_pointer (&service->resolver, avahi_service_resolver_free);
      if (service->retry_source_id == 0)
        service->retry_source_id = g_timeout_add_seconds (service->retry_seconds, retry_resolve_cb, service);
      service->retry_seconds = MIN (service->retry_seconds * 2, RESOLVE_RETRY_MAX_SECONDS);
      service_set_resolved (service, NULL);
      return;
    }
  service->retry_seconds = RESOLVE_RETRY_MIN_SECONDS;

  avahi_address_snprint (host, AVAHI_ADDRESS_STR_MAX, address);
  if (address->proto == AVAHI_PROTO_INET6 &&
      address->data.ipv6.address[0] == 0xfe && (address->data.ipv6.address[1] & 0xc0) == 0x80)
    {
      char ifname[IF_NAMESIZE];

      if (if_indextoname ((unsigned) interface, ifname) != NULL)
        {
          gsize len = strlen (host);
          g_snprintf (host + len, sizeof host - len, "%%%s", ifname);
        }
    }

  table = lsp_discovery_txt_to_table (txt);
  peer = lsp_discovered_peer_new_from_txt (table, host, port, &error);
  if (peer == NULL)
    {
      g_debug ("Ignoring service “%s” at %s:%u: %s", name, host, port, error->message);
      service_set_resolved (service, NULL);
      return;
    }
  if (g_str_equal (peer->peer_id, self->peer_id))
    {
      service_set_resolved (service, NULL);
      return;
    }

  peer->service_name = g_strdup (name);
  peer->interface = interface;
  service_set_resolved (service, g_steal_pointer (&peer));
}

void
_lsp_discovery_on_browser_event (AvahiServiceBrowser    *browser,
                  AvahiIfIndex            interface,
                  AvahiProtocol           protocol,
                  AvahiBrowserEvent       event,
                  const char             *name,
                  const char             *type,
                  const char             *domain,
                  AvahiLookupResultFlags  flags,
                  void                   *user_data)
{
  LspDiscovery *self = user_data;
  g_autofree char *key = NULL;

  switch (event)
    {
    case AVAHI_BROWSER_NEW:
      {
        Service *service;

        key = g_strdup_printf ("%d/%d/%s/%s", interface, protocol, domain, name);
        if (g_hash_table_contains (self->services, key))
          break;
        /* Each service keeps a resolver in the daemon and in us. */
        if (g_hash_table_size (self->services) >= LSP_DISCOVERY_MAX_SERVICES)
          {
            g_debug ("Ignoring service “%s”: %u services is the limit", name, LSP_DISCOVERY_MAX_SERVICES);
            self->n_ignored++;
            break;
          }
        service = g_new0 (Service, 1);
        service->self = self;
        service->key = g_steal_pointer (&key);
        service->interface = interface;
        service->protocol = protocol;
        service->name = g_strdup (name);
        service->domain = g_strdup (domain);
        service->retry_seconds = RESOLVE_RETRY_MIN_SECONDS;
        g_hash_table_insert (self->services, service->key, service);
        if (!service_resolve (service))
          g_hash_table_remove (self->services, service->key);
      }
      break;

    case AVAHI_BROWSER_REMOVE:
      {
        Service *service;

        key = g_strdup_printf ("%d/%d/%s/%s", interface, protocol, domain, name);
        service = g_hash_table_lookup (self->services, key);
        if (service != NULL)
          {
            g_autoptr(LspDiscoveredPeer) resolved = g_steal_pointer (&service->resolved);

            g_hash_table_remove (self->services, key);
            if (resolved != NULL)
              update_peer (self, resolved->peer_id);
          }
      }
      break;

    case AVAHI_BROWSER_FAILURE:
      {
        g_autofree char *status = g_strdup_printf (_("Browsing for peers failed: %s"),
                                                   avahi_strerror (avahi_client_errno (avahi_service_browser_get_client (browser))));
        _lsp_discovery_set_state (self, FALSE, status);
      }
      break;

    case AVAHI_BROWSER_CACHE_EXHAUSTED:
    case AVAHI_BROWSER_ALL_FOR_NOW:
    default:
      break;
    }
}

/**
 * lsp_discovery_set_verified:
 *
 * Records that @peer_id was authenticated at @host and @port (its
 * listener), so that services claiming that peer_id elsewhere never take
 * precedence over the one there. Forgotten when the peer is lost.
 */
void
lsp_discovery_set_verified (LspDiscovery *self,
                            const char   *peer_id,
                            const char   *host,
                            guint16       port)
{
  g_autofree char *key = NULL;
  const char *old;

  g_return_if_fail (LSP_IS_DISCOVERY (self));
  g_return_if_fail (peer_id != NULL && host != NULL);

  /* Only peers we browse are kept, so the table stays as small as that. */
  if (!g_hash_table_contains (self->peers, peer_id))
    return;
  key = address_key (host, port);
  old = g_hash_table_lookup (self->verified, peer_id);
  if (g_strcmp0 (old, key) == 0)
    return;
  g_hash_table_replace (self->verified, g_strdup (peer_id), g_steal_pointer (&key));
  update_peer (self, peer_id);
}

/**
 * lsp_discovery_set_unreachable:
 *
 * Records that dialling @peer_id at @host and @port failed (nobody there,
 * or someone with another key), so that its other services come first:
 * a service claiming a peer's peer_id at the wrong address cannot hide
 * the peer's real one. May emit ::peer-found with the next best service.
 */
void
lsp_discovery_set_unreachable (LspDiscovery *self,
                               const char   *peer_id,
                               const char   *host,
                               guint16       port)
{
  GHashTable *failed;

  g_return_if_fail (LSP_IS_DISCOVERY (self));
  g_return_if_fail (peer_id != NULL && host != NULL);

  if (!g_hash_table_contains (self->peers, peer_id))
    return;
  failed = g_hash_table_lookup (self->unreachable, peer_id);
  if (failed == NULL)
    {
      failed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_hash_table_insert (self->unreachable, g_strdup (peer_id), failed);
    }
  if (g_hash_table_add (failed, address_key (host, port)))
    update_peer (self, peer_id);
}

/* How many resolved services name @peer_id: for tests and diagnostics. */
guint
lsp_discovery_count_services (LspDiscovery *self,
                              const char   *peer_id)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_return_val_if_fail (LSP_IS_DISCOVERY (self), 0);

  g_hash_table_iter_init (&iter, self->services);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Service *service = value;
      if (service->resolved != NULL && g_str_equal (service->resolved->peer_id, peer_id))
        n++;
    }
  return n;
}
