#define G_LOG_DOMAIN "lsp-discovery"

#include "config.h"

#include "lsp-discovery-private.h"

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-glib/glib-watch.h>
#include <net/if.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "lsp-error.h"
#include "lsp-proto.h"

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

static GParamSpec *properties[N_PROPS];
guint _lsp_discovery_signals[LSP_DISCOVERY_N_SIGNALS];

static void connect_client (LspDiscovery *self);

void
_lsp_discovery_set_state (LspDiscovery *self,
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

static AvahiStringList *
build_txt (LspDiscovery *self)
{
  AvahiStringList *txt = NULL;

  /* Avahi prepends, so this goes on the wire as peer_id, proto_ver,
   * library_rev, hostname, auth: the identity first for anyone reading a
   * dump. auth says only that there is a passphrase, nothing of it. */
  if (self->needs_passphrase)
    txt = avahi_string_list_add (txt, "auth=1");
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
      _lsp_discovery_set_state (self, self->available, status);
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
                                                 _lsp_discovery_on_browser_event, self);
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
      _lsp_discovery_set_state (self, TRUE, _("mDNS is running"));
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
      _lsp_discovery_set_state (self, FALSE, _("Waiting for avahi-daemon: peers are found only through static addresses until it runs"));
      break;

    case AVAHI_CLIENT_FAILURE:
      {
        int err = avahi_client_errno (client);
        g_autofree char *status = g_strdup_printf (_("Lost avahi-daemon (%s); reconnecting"), avahi_strerror (err));

        _lsp_discovery_set_state (self, FALSE, status);
        _lsp_discovery_forget_all (self);
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
      _lsp_discovery_set_state (self, FALSE, _("mDNS is off: no loopback interface to restrict it to"));
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
      _lsp_discovery_set_state (self, FALSE, status);
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

/* Set before lsp_discovery_start: publish and browse on this network
 * interface (an if_nametoindex() index) only, the one a peer that listens
 * on one address can be reached on. */
void
lsp_discovery_set_interface (LspDiscovery *self,
                             int           interface)
{
  g_return_if_fail (LSP_IS_DISCOVERY (self));
  g_return_if_fail (!self->started);
  g_return_if_fail (interface > 0);

  self->interface = (AvahiIfIndex) interface;
}

/* Set before lsp_discovery_start: the announcement says whether the
 * party needs a passphrase, so peers without one need not dial. */
void
lsp_discovery_set_needs_passphrase (LspDiscovery *self,
                                    gboolean      needs_passphrase)
{
  g_return_if_fail (LSP_IS_DISCOVERY (self));
  g_return_if_fail (!self->started);

  self->needs_passphrase = needs_passphrase;
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
  g_clear_pointer (&self->verified, g_hash_table_unref);
  g_clear_pointer (&self->unreachable, g_hash_table_unref);
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
  _lsp_discovery_signals[LSP_DISCOVERY_PEER_FOUND] =
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
  _lsp_discovery_signals[LSP_DISCOVERY_PEER_LOST] =
    g_signal_new ("peer-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  G_TYPE_STRING);
}

static void
lsp_discovery_init (LspDiscovery *self)
{
  self->services = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) _lsp_discovery_service_free);
  self->peers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) lsp_discovered_peer_free);
  self->verified = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->unreachable = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_hash_table_unref);
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
