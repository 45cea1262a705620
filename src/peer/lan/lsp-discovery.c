#define G_LOG_DOMAIN "lsp-discovery"

#include "config.h"

#include "lsp-discovery.h"
#include "lsp-discovery-private.h"

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-glib/glib-watch.h>
#include <glib/gi18n-lib.h>
#include <net/if.h>
#include <string.h>

#include "lsp-error.h"
#include "lsp-proto.h"
#include "lsp-util.h"

/* ---- LspDiscoveredPeer ---- */

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
      peer->hostname = lsp_escape_untrusted (hostname, -1);
    }

  return g_steal_pointer (&peer);
}

/* ---- LspDiscovery ---- */

/* Resolving a service that stopped answering is retried with backoff
 * while the browser still lists it. */
#define RESOLVE_RETRY_MIN_SECONDS 5
#define RESOLVE_RETRY_MAX_SECONDS 300

typedef struct
{
  LspDiscovery          *self;
  char                  *key;
  AvahiIfIndex           interface;
  AvahiProtocol          protocol;
  char                  *name;
  char                  *domain;
  AvahiServiceResolver  *resolver;
  LspDiscoveredPeer     *resolved;   /* its last valid answer, or NULL */
  guint                  retry_seconds;
  guint                  retry_source_id;
} Service;

struct _LspDiscovery
{
  GObject              parent_instance;

  char                *peer_id;
  char                *hostname;
  guint16              port;
  gboolean             loopback_only;
  guint64              library_rev;

  AvahiGLibPoll       *poll;
  AvahiClient         *client;
  AvahiEntryGroup     *group;
  AvahiServiceBrowser *browser;
  char                *service_name;
  AvahiIfIndex         interface;

  GHashTable          *services;   /* key → Service */
  GHashTable          *peers;      /* peer_id → LspDiscoveredPeer */

  gboolean             started;
  gboolean             available;
  gboolean             published;
  char                *status;
  guint                reconnect_source_id;
};

G_DEFINE_FINAL_TYPE (LspDiscovery, lsp_discovery, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PEER_ID,
  PROP_HOSTNAME,
  PROP_PORT,
  PROP_LOOPBACK_ONLY,
  PROP_LIBRARY_REV,
  PROP_AVAILABLE,
  PROP_STATUS,
  PROP_SERVICE_NAME,
  PROP_PUBLISHED,
  N_PROPS
};

enum {
  PEER_FOUND,
  PEER_LOST,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void connect_client (LspDiscovery *self);

static void
set_state (LspDiscovery *self,
           gboolean      available,
           const char   *status)
{
  if (self->available != available)
    {
      self->available = available;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AVAILABLE]);
    }
  if (g_strcmp0 (self->status, status) != 0)
    {
      g_free (self->status);
      self->status = g_strdup (status);
      g_debug ("%s", status);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
    }
}

static void
set_published (LspDiscovery *self,
               gboolean      published)
{
  if (self->published == published)
    return;
  self->published = published;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PUBLISHED]);
}

static void
service_free (Service *service)
{
  g_clear_handle_id (&service->retry_source_id, g_source_remove);
  g_clear_pointer (&service->resolver, avahi_service_resolver_free);
  g_clear_pointer (&service->resolved, lsp_discovered_peer_free);
  g_free (service->key);
  g_free (service->name);
  g_free (service->domain);
  g_free (service);
}

static gboolean
service_is_better (const Service *a,
                   const Service *b)
{
  gboolean a_v4 = strchr (a->resolved->host, ':') == NULL;
  gboolean b_v4 = strchr (b->resolved->host, ':') == NULL;

  if (a_v4 != b_v4)
    return a_v4;
  return strcmp (a->key, b->key) < 0;
}

/* A peer may be seen through several services (IPv4 and IPv6, several
 * interfaces, a stale name next to a new one). It is one peer, keyed by
 * peer_id: the signals describe the best of its services (IPv4 first, then
 * a stable order), and it is lost only when none is left. */
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
          (best == NULL || service_is_better (service, best)))
        best = service;
    }

  known = g_hash_table_lookup (self->peers, peer_id);
  if (best == NULL)
    {
      g_autofree char *lost = g_strdup (peer_id);

      if (known == NULL)
        return;
      g_hash_table_remove (self->peers, lost);
      g_debug ("Lost peer %s", lost);
      g_signal_emit (self, signals[PEER_LOST], 0, lost);
      return;
    }

  if (known != NULL && lsp_discovered_peer_equal (known, best->resolved))
    return;

  known = lsp_discovered_peer_copy (best->resolved);
  g_hash_table_replace (self->peers, known->peer_id, known);
  {
    g_autofree char *service_name = lsp_escape_untrusted (known->service_name, -1);

    g_debug ("Found peer %s (“%s”) at %s:%u, library_rev %" G_GUINT64_FORMAT,
             known->peer_id, service_name, known->host, known->port, known->library_rev);
  }
  g_signal_emit (self, signals[PEER_FOUND], 0, known);
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

static void
forget_all (LspDiscovery *self)
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
    g_signal_emit (self, signals[PEER_LOST], 0, g_ptr_array_index (lost, i));
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
      g_autofree char *service_name = lsp_escape_untrusted (service->name, -1);

      g_debug ("Could not resolve “%s”: %s", service_name, avahi_strerror (avahi_client_errno (client)));
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
      g_autofree char *service_name = lsp_escape_untrusted (name, -1);

      g_debug ("Could not resolve “%s”: %s; retrying in %u s", service_name,
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
      g_autofree char *service_name = lsp_escape_untrusted (name, -1);

      g_debug ("Ignoring service “%s” at %s:%u: %s", service_name, host, port, error->message);
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

static void
on_browser_event (AvahiServiceBrowser    *browser,
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
        set_state (self, FALSE, status);
      }
      break;

    case AVAHI_BROWSER_CACHE_EXHAUSTED:
    case AVAHI_BROWSER_ALL_FOR_NOW:
    default:
      break;
    }
}

static AvahiStringList *
build_txt (LspDiscovery *self)
{
  AvahiStringList *txt = NULL;

  /* Avahi prepends, so this goes on the wire as peer_id, proto_ver,
   * library_rev, hostname: the identity first for anyone reading a dump. */
  txt = avahi_string_list_add_printf (txt, "hostname=%s", self->hostname);
  txt = avahi_string_list_add_printf (txt, "library_rev=%" G_GUINT64_FORMAT, self->library_rev);
  txt = avahi_string_list_add_printf (txt, "proto_ver=%d", LSP_PROTO_VERSION);
  txt = avahi_string_list_add_printf (txt, "peer_id=%s", self->peer_id);
  return txt;
}

static void
set_service_name (LspDiscovery *self,
                  const char   *name)
{
  if (g_strcmp0 (self->service_name, name) == 0)
    return;
  g_free (self->service_name);
  self->service_name = g_strdup (name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SERVICE_NAME]);
}

static void
pick_alternative_name (LspDiscovery *self)
{
  char *alternative = avahi_alternative_service_name (self->service_name);

  g_debug ("Service name “%s” is taken, trying “%s”", self->service_name, alternative);
  set_service_name (self, alternative);
  avahi_free (alternative);
}

static void
register_service (LspDiscovery *self)
{
  AvahiStringList *txt;
  int ret = AVAHI_ERR_COLLISION;

  g_assert (self->group != NULL);

  if (!avahi_entry_group_is_empty (self->group))
    return;

  txt = build_txt (self);
  /* A name taken by another client of the same daemon is refused right
   * here rather than through the group's COLLISION state. */
  for (guint attempt = 0; attempt < 100 && ret == AVAHI_ERR_COLLISION; attempt++)
    {
      ret = avahi_entry_group_add_service_strlst (self->group, self->interface, AVAHI_PROTO_UNSPEC, 0,
                                                  self->service_name, LSP_DISCOVERY_SERVICE_TYPE,
                                                  NULL, NULL, self->port, txt);
      if (ret == AVAHI_ERR_COLLISION)
        pick_alternative_name (self);
    }
  avahi_string_list_free (txt);

  if (ret >= 0)
    ret = avahi_entry_group_commit (self->group);
  if (ret < 0)
    {
      g_autofree char *status = g_strdup_printf (_("Could not announce this peer over mDNS: %s"), avahi_strerror (ret));

      g_warning ("%s", status);
      avahi_entry_group_reset (self->group);
      set_state (self, self->available, status);
    }
}

static void
on_group_event (AvahiEntryGroup      *group,
                AvahiEntryGroupState  state,
                void                 *user_data)
{
  LspDiscovery *self = user_data;

  switch (state)
    {
    case AVAHI_ENTRY_GROUP_ESTABLISHED:
      g_debug ("Announced “%s” on port %u", self->service_name, self->port);
      set_published (self, TRUE);
      break;

    case AVAHI_ENTRY_GROUP_COLLISION:
      /* Another host on the LAN has our name: move to "name #2". */
      set_published (self, FALSE);
      pick_alternative_name (self);
      avahi_entry_group_reset (group);
      register_service (self);
      break;

    case AVAHI_ENTRY_GROUP_FAILURE:
      set_published (self, FALSE);
      g_warning ("mDNS announcement failed: %s",
                 avahi_strerror (avahi_client_errno (avahi_entry_group_get_client (group))));
      break;

    case AVAHI_ENTRY_GROUP_UNCOMMITED:
    case AVAHI_ENTRY_GROUP_REGISTERING:
    default:
      break;
    }
}

static void
drop_client (LspDiscovery *self)
{
  g_hash_table_remove_all (self->services);
  g_clear_pointer (&self->browser, avahi_service_browser_free);
  g_clear_pointer (&self->group, avahi_entry_group_free);
  g_clear_pointer (&self->client, avahi_client_free);
  set_published (self, FALSE);
}

static gboolean
reconnect_cb (gpointer user_data)
{
  LspDiscovery *self = user_data;

  self->reconnect_source_id = 0;
  connect_client (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_reconnect (LspDiscovery *self,
                    guint         seconds)
{
  if (self->reconnect_source_id != 0)
    return;
  if (seconds == 0)
    self->reconnect_source_id = g_idle_add (reconnect_cb, self);
  else
    self->reconnect_source_id = g_timeout_add_seconds (seconds, reconnect_cb, self);
}

static void
start_services (LspDiscovery *self,
                AvahiClient  *client)
{
  if (self->group == NULL)
    {
      self->group = avahi_entry_group_new (client, on_group_event, self);
      if (self->group == NULL)
        g_warning ("Could not create an mDNS entry group: %s", avahi_strerror (avahi_client_errno (client)));
    }
  if (self->group != NULL)
    register_service (self);

  if (self->browser == NULL)
    {
      self->browser = avahi_service_browser_new (client, self->interface, AVAHI_PROTO_UNSPEC,
                                                 LSP_DISCOVERY_SERVICE_TYPE, NULL, 0,
                                                 on_browser_event, self);
      if (self->browser == NULL)
        g_warning ("Could not browse for peers: %s", avahi_strerror (avahi_client_errno (client)));
    }
}

static void
on_client_event (AvahiClient      *client,
                 AvahiClientState  state,
                 void             *user_data)
{
  LspDiscovery *self = user_data;

  /* The first call can come from inside avahi_client_new. */
  self->client = client;

  switch (state)
    {
    case AVAHI_CLIENT_S_RUNNING:
      set_state (self, TRUE, _("mDNS is running"));
      start_services (self, client);
      break;

    case AVAHI_CLIENT_S_COLLISION:
    case AVAHI_CLIENT_S_REGISTERING:
      /* The daemon is renaming the host; our records go back in when it
       * is running again. */
      set_published (self, FALSE);
      if (self->group != NULL)
        avahi_entry_group_reset (self->group);
      break;

    case AVAHI_CLIENT_CONNECTING:
      set_state (self, FALSE, _("Waiting for avahi-daemon: peers are found only through static addresses until it runs"));
      break;

    case AVAHI_CLIENT_FAILURE:
      {
        int err = avahi_client_errno (client);
        g_autofree char *status = g_strdup_printf (_("Lost avahi-daemon (%s); reconnecting"), avahi_strerror (err));

        set_state (self, FALSE, status);
        forget_all (self);
        /* The client cannot be freed inside its own callback; a fresh one
         * with AVAHI_CLIENT_NO_FAIL waits for the daemon to come back. */
        schedule_reconnect (self, 0);
      }
      break;

    default:
      break;
    }
}

static void
connect_client (LspDiscovery *self)
{
  AvahiClient *client;
  int error = 0;

  drop_client (self);

  if (self->loopback_only && self->interface <= 0)
    {
      set_state (self, FALSE, _("mDNS is off: no loopback interface to restrict it to"));
      return;
    }

  /* NO_FAIL: without a daemon on the bus the client waits in CONNECTING
   * instead of failing, and follows the daemon through restarts. The
   * callback may run before avahi_client_new returns. */
  client = avahi_client_new (avahi_glib_poll_get (self->poll), AVAHI_CLIENT_NO_FAIL,
                             on_client_event, self, &error);
  if (client == NULL)
    {
      g_autofree char *status = g_strdup_printf (_("mDNS is unavailable: %s (is the D-Bus system bus running?); "
                                                 "retrying in %d s"), avahi_strerror (error),
                                                 LSP_DISCOVERY_RETRY_SECONDS);

      /* avahi_client_new freed what the callback may have seen. */
      self->client = NULL;
      self->group = NULL;
      self->browser = NULL;
      set_state (self, FALSE, status);
      schedule_reconnect (self, LSP_DISCOVERY_RETRY_SECONDS);
      return;
    }
  self->client = client;

  /* Services may already have been started from the callback above. */
  if (avahi_client_get_state (client) == AVAHI_CLIENT_S_RUNNING && self->browser == NULL)
    on_client_event (client, AVAHI_CLIENT_S_RUNNING, self);
}

/**
 * lsp_discovery_start:
 *
 * Connects to avahi-daemon, announces this peer and starts browsing. Connect
 * to the signals first. Never fails: the “available” and “status”
 * properties say whether mDNS works.
 */
void
lsp_discovery_start (LspDiscovery *self)
{
  g_return_if_fail (LSP_IS_DISCOVERY (self));

  if (self->started)
    return;
  self->started = TRUE;
  connect_client (self);
}

void
lsp_discovery_set_library_rev (LspDiscovery *self,
                               guint64       library_rev)
{
  g_return_if_fail (LSP_IS_DISCOVERY (self));
  g_return_if_fail (library_rev <= LSP_PROTO_MAX_INT);

  if (self->library_rev == library_rev)
    return;
  self->library_rev = library_rev;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LIBRARY_REV]);

  if (self->group != NULL && !avahi_entry_group_is_empty (self->group))
    {
      AvahiStringList *txt = build_txt (self);
      int ret = avahi_entry_group_update_service_txt_strlst (self->group, self->interface, AVAHI_PROTO_UNSPEC, 0,
                                                             self->service_name, LSP_DISCOVERY_SERVICE_TYPE,
                                                             NULL, txt);

      avahi_string_list_free (txt);
      if (ret < 0)
        g_warning ("Could not update the mDNS TXT record: %s", avahi_strerror (ret));
    }
}

guint64
lsp_discovery_get_library_rev (LspDiscovery *self)
{
  g_return_val_if_fail (LSP_IS_DISCOVERY (self), 0);

  return self->library_rev;
}

gboolean
lsp_discovery_get_available (LspDiscovery *self)
{
  g_return_val_if_fail (LSP_IS_DISCOVERY (self), FALSE);

  return self->available;
}

const char *
lsp_discovery_get_status (LspDiscovery *self)
{
  g_return_val_if_fail (LSP_IS_DISCOVERY (self), NULL);

  return self->status;
}

const char *
lsp_discovery_get_service_name (LspDiscovery *self)
{
  g_return_val_if_fail (LSP_IS_DISCOVERY (self), NULL);

  return self->service_name;
}

gboolean
lsp_discovery_get_published (LspDiscovery *self)
{
  g_return_val_if_fail (LSP_IS_DISCOVERY (self), FALSE);

  return self->published;
}

const char *
lsp_discovery_get_peer_id (LspDiscovery *self)
{
  g_return_val_if_fail (LSP_IS_DISCOVERY (self), NULL);

  return self->peer_id;
}

const LspDiscoveredPeer *
lsp_discovery_lookup_peer (LspDiscovery *self,
                           const char   *peer_id)
{
  g_return_val_if_fail (LSP_IS_DISCOVERY (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);

  return g_hash_table_lookup (self->peers, peer_id);
}

guint
lsp_discovery_get_n_peers (LspDiscovery *self)
{
  g_return_val_if_fail (LSP_IS_DISCOVERY (self), 0);

  return g_hash_table_size (self->peers);
}

static void
lsp_discovery_constructed (GObject *object)
{
  LspDiscovery *self = LSP_DISCOVERY (object);

  G_OBJECT_CLASS (lsp_discovery_parent_class)->constructed (object);

  g_assert (lsp_peer_id_is_valid (self->peer_id));
  g_assert (lsp_proto_hostname_is_valid (self->hostname));

  self->service_name = g_strdup (self->hostname);
  /* Tests must never multicast on a real network: with loopback_only
   * everything is bound to "lo", or nothing is published at all. */
  self->interface = self->loopback_only ? (AvahiIfIndex) if_nametoindex ("lo") : AVAHI_IF_UNSPEC;
  self->poll = avahi_glib_poll_new (g_main_context_get_thread_default (), G_PRIORITY_DEFAULT);
  self->status = g_strdup (_("mDNS is not started"));
}

static void
lsp_discovery_dispose (GObject *object)
{
  LspDiscovery *self = LSP_DISCOVERY (object);

  g_clear_handle_id (&self->reconnect_source_id, g_source_remove);
  /* Freeing the group withdraws our service, which is how the others
   * notice at once that we left. */
  if (self->services != NULL)
    drop_client (self);

  G_OBJECT_CLASS (lsp_discovery_parent_class)->dispose (object);
}

static void
lsp_discovery_finalize (GObject *object)
{
  LspDiscovery *self = LSP_DISCOVERY (object);

  g_clear_pointer (&self->services, g_hash_table_unref);
  g_clear_pointer (&self->peers, g_hash_table_unref);
  g_clear_pointer (&self->poll, avahi_glib_poll_free);
  g_clear_pointer (&self->peer_id, g_free);
  g_clear_pointer (&self->hostname, g_free);
  g_clear_pointer (&self->service_name, g_free);
  g_clear_pointer (&self->status, g_free);

  G_OBJECT_CLASS (lsp_discovery_parent_class)->finalize (object);
}

static void
lsp_discovery_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  LspDiscovery *self = LSP_DISCOVERY (object);

  switch (prop_id)
    {
    case PROP_PEER_ID:
      g_value_set_string (value, self->peer_id);
      break;
    case PROP_HOSTNAME:
      g_value_set_string (value, self->hostname);
      break;
    case PROP_PORT:
      g_value_set_uint (value, self->port);
      break;
    case PROP_LOOPBACK_ONLY:
      g_value_set_boolean (value, self->loopback_only);
      break;
    case PROP_LIBRARY_REV:
      g_value_set_uint64 (value, self->library_rev);
      break;
    case PROP_AVAILABLE:
      g_value_set_boolean (value, self->available);
      break;
    case PROP_STATUS:
      g_value_set_string (value, self->status);
      break;
    case PROP_SERVICE_NAME:
      g_value_set_string (value, self->service_name);
      break;
    case PROP_PUBLISHED:
      g_value_set_boolean (value, self->published);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lsp_discovery_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  LspDiscovery *self = LSP_DISCOVERY (object);

  switch (prop_id)
    {
    case PROP_PEER_ID:
      self->peer_id = g_value_dup_string (value);
      break;
    case PROP_HOSTNAME:
      self->hostname = g_value_dup_string (value);
      break;
    case PROP_PORT:
      self->port = (guint16) g_value_get_uint (value);
      break;
    case PROP_LOOPBACK_ONLY:
      self->loopback_only = g_value_get_boolean (value);
      break;
    case PROP_LIBRARY_REV:
      lsp_discovery_set_library_rev (self, g_value_get_uint64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lsp_discovery_class_init (LspDiscoveryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = lsp_discovery_constructed;
  object_class->dispose = lsp_discovery_dispose;
  object_class->finalize = lsp_discovery_finalize;
  object_class->get_property = lsp_discovery_get_property;
  object_class->set_property = lsp_discovery_set_property;

  properties[PROP_PEER_ID] =
    g_param_spec_string ("peer-id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_HOSTNAME] =
    g_param_spec_string ("hostname", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL, 1, G_MAXUINT16, 1,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LOOPBACK_ONLY] =
    g_param_spec_boolean ("loopback-only", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LIBRARY_REV] =
    g_param_spec_uint64 ("library-rev", NULL, NULL, 0, LSP_PROTO_MAX_INT, 0,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_AVAILABLE] =
    g_param_spec_boolean ("available", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_STATUS] =
    g_param_spec_string ("status", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_SERVICE_NAME] =
    g_param_spec_string ("service-name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_PUBLISHED] =
    g_param_spec_boolean ("published", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * LspDiscovery::peer-found:
   * @peer: (type LspDiscoveredPeer): the peer as its service describes it
   *
   * Emitted when another peer's service is resolved, and again whenever
   * its address, port or TXT record (e.g. library_rev) changes.
   */
  signals[PEER_FOUND] =
    g_signal_new ("peer-found", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  LSP_TYPE_DISCOVERED_PEER | G_SIGNAL_TYPE_STATIC_SCOPE);
  /**
   * LspDiscovery::peer-lost:
   * @peer_id: the peer whose last service went away
   *
   * A hint, like Goodbye: the peer's connection, if any, decides whether
   * it is really gone.
   */
  signals[PEER_LOST] =
    g_signal_new ("peer-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  G_TYPE_STRING);
}

static void
lsp_discovery_init (LspDiscovery *self)
{
  self->services = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) service_free);
  self->peers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) lsp_discovered_peer_free);
}

/**
 * lsp_discovery_new:
 * @peer_id: our peer_id, published in TXT and used to ignore our own service
 * @hostname: the display name, also the preferred mDNS instance name; pass
 *   g_get_host_name() through lsp_proto_sanitize_hostname() first
 * @port: our QUIC port
 * @loopback_only: publish and browse on the loopback interface only
 */
LspDiscovery *
lsp_discovery_new (const char *peer_id,
                   const char *hostname,
                   guint16     port,
                   gboolean    loopback_only)
{
  g_return_val_if_fail (lsp_peer_id_is_valid (peer_id), NULL);
  g_return_val_if_fail (lsp_proto_hostname_is_valid (hostname), NULL);
  g_return_val_if_fail (port > 0, NULL);

  return g_object_new (LSP_TYPE_DISCOVERY,
                       "peer-id", peer_id,
                       "hostname", hostname,
                       "port", (guint) port,
                       "loopback-only", loopback_only,
                       NULL);
}
