#define G_LOG_DOMAIN "lsp-node"

#include "config.h"

#include "lsp-node-private.h"

#include "lsp-discovery.h"
#include "lsp-error.h"
#include "lsp-game-root.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

static void list_model_iface_init (GListModelInterface *iface);

guint _lsp_node_signals[NODE_N_SIGNALS];

G_DEFINE_FINAL_TYPE_WITH_CODE (LspNode, lsp_node, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

/* ---- the peer list (GListModel) ---- */

static void
static_peer_free (StaticPeer *static_peer)
{
  g_clear_handle_id (&static_peer->retry_id, g_source_remove);
  g_clear_object (&static_peer->address);
  g_free (static_peer->key);
  g_free (static_peer->reported_key);
  g_free (static_peer);
}

void
_lsp_node_add_peer_to_model (LspNode *self,
                             LspPeer *peer)
{
  guint position;

  if (g_ptr_array_find (self->peer_list, peer, &position))
    return;
  g_ptr_array_add (self->peer_list, g_object_ref (peer));
  g_list_model_items_changed (G_LIST_MODEL (self), self->peer_list->len - 1, 0, 1);
}

void
_lsp_node_remove_peer (LspNode    *self,
                       LspPeer    *peer,
                       const char *reason)
{
  g_autoptr(LspPeer) keep = g_object_ref (peer);
  guint position;

  g_message ("Peer %s (%s) left: %s", lsp_peer_get_hostname (peer) ? lsp_peer_get_hostname (peer) : "?",
             lsp_peer_get_id (peer), reason);
  lsp_peer_set_connected (peer, FALSE);
  lsp_peer_forget_library (peer);
  if (g_ptr_array_find (self->peer_list, peer, &position))
    {
      g_ptr_array_remove_index (self->peer_list, position);
      g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
    }
  g_hash_table_remove (self->peers, lsp_peer_get_id (peer));
}

static GType
list_model_get_item_type (GListModel *model)
{
  return LSP_TYPE_PEER;
}

static guint
list_model_get_n_items (GListModel *model)
{
  return LSP_NODE (model)->peer_list->len;
}

static gpointer
list_model_get_item (GListModel *model,
                     guint       position)
{
  LspNode *self = LSP_NODE (model);

  if (position >= self->peer_list->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->peer_list, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = list_model_get_item_type;
  iface->get_n_items = list_model_get_n_items;
  iface->get_item = list_model_get_item;
}


/* ---- public API ---- */

gboolean
lsp_node_start (LspNode             *self,
                GInetSocketAddress  *bind_address,
                GError             **error)
{
  g_return_val_if_fail (LSP_IS_NODE (self), FALSE);
  g_return_val_if_fail (self->endpoint == NULL, FALSE);

  self->endpoint = lsp_quic_endpoint_new (self->identity, LSP_PROTO_ALPN, bind_address, error);
  if (self->endpoint == NULL)
    return FALSE;
  g_signal_connect_object (self->endpoint, "incoming-connection", G_CALLBACK (_lsp_node_on_incoming_connection), self, 0);

  self->history_rev = lsp_library_get_rev (self->library);
  g_signal_connect_object (self->library, "changed", G_CALLBACK (_lsp_node_on_library_changed), self, 0);

  for (guint i = 0; i < self->static_peers->len; i++)
    _lsp_node_dial_static_peer (self, g_ptr_array_index (self->static_peers, i));
  return TRUE;
}

/* Listens on every address: dual stack where the machine has IPv6, IPv4
 * alone where it has not. */
gboolean
lsp_node_start_any (LspNode  *self,
                    guint16   port,
                    GError  **error)
{
  g_autoptr(GInetAddress) any6 = g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
  g_autoptr(GInetAddress) any4 = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) bind6 = g_inet_socket_address_new (any6, port);
  g_autoptr(GSocketAddress) bind4 = g_inet_socket_address_new (any4, port);
  g_autoptr(GError) local_error = NULL;

  if (lsp_node_start (self, G_INET_SOCKET_ADDRESS (bind6), &local_error))
    return TRUE;
  g_debug ("No IPv6 listener (%s); using IPv4 only", local_error->message);
  return lsp_node_start (self, G_INET_SOCKET_ADDRESS (bind4), error);
}

/* A static peer from the command line or the settings: "192.0.2.7:41000"
 * or "[2001:db8::7]:41000". */
gboolean
lsp_node_add_peer_address (LspNode     *self,
                           const char  *host_port,
                           GError     **error)
{
  g_autoptr(GInetSocketAddress) address = NULL;

  g_return_val_if_fail (LSP_IS_NODE (self), FALSE);

  if (!lsp_node_parse_peer_address (host_port, &address, error))
    return FALSE;
  lsp_node_add_static_peer (self, address);
  return TRUE;
}

/**
 * lsp_node_trust_peer_address:
 *
 * Accepts whichever peer answers at @host_port from now on, after
 * LspNode::peer-key-changed, and dials it again at once.
 */
gboolean
lsp_node_trust_peer_address (LspNode     *self,
                             const char  *host_port,
                             GError     **error)
{
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autofree char *key = NULL;

  g_return_val_if_fail (LSP_IS_NODE (self), FALSE);
  g_return_val_if_fail (self->endpoint != NULL, FALSE);

  if (!lsp_node_parse_peer_address (host_port, &address, error))
    return FALSE;
  key = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
  lsp_known_peers_unpin (lsp_quic_endpoint_get_known_peers (self->endpoint), key);
  for (guint i = 0; i < self->static_peers->len; i++)
    {
      StaticPeer *static_peer = g_ptr_array_index (self->static_peers, i);

      if (strcmp (static_peer->key, key) != 0)
        continue;
      g_clear_pointer (&static_peer->reported_key, g_free);
      g_clear_handle_id (&static_peer->retry_id, g_source_remove);
      static_peer->retry_ms = LSP_NODE_RETRY_MIN_MS;
      _lsp_node_dial_static_peer (self, static_peer);
    }
  return TRUE;
}

/* "192.0.2.7:41000" or "[2001:db8::7]:41000"; out_address may be NULL to
 * only check. */
gboolean
lsp_node_parse_peer_address (const char          *host_port,
                             GInetSocketAddress **out_address,
                             GError             **error)
{
  g_autoptr(GSocketAddress) address = NULL;
  g_autofree char *host = NULL;
  guint16 port = 0;

  g_return_val_if_fail (host_port != NULL, FALSE);

  if (!lsp_proto_parse_listen_addr (host_port, &host, &port) ||
      (address = g_inet_socket_address_new_from_string (host, port)) == NULL)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not an IP address and port like 192.0.2.7:41000 or [2001:db8::7]:41000"),
                   host_port);
      return FALSE;
    }
  if (out_address != NULL)
    *out_address = G_INET_SOCKET_ADDRESS (g_steal_pointer (&address));
  return TRUE;
}

LspDiscovery *
lsp_node_get_discovery (LspNode *self)
{
  g_return_val_if_fail (LSP_IS_NODE (self), NULL);
  return self->discovery;
}

/* A node listening on one address announces itself only on the network
 * interface that has it: elsewhere nobody could reach it. */
static gboolean
restrict_discovery_to_listener (LspNode  *self,
                                GError  **error)
{
  GInetAddress *bound = g_inet_socket_address_get_address (lsp_quic_endpoint_get_local_address (self->endpoint));
  struct ifaddrs *addrs = NULL;
  int interface = 0;

  if (g_inet_address_get_is_any (bound))
    return TRUE;
  if (getifaddrs (&addrs) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Cannot list the network interfaces: %s"), g_strerror (saved));
      return FALSE;
    }
  for (struct ifaddrs *a = addrs; a != NULL && interface == 0; a = a->ifa_next)
    {
      g_autoptr(GSocketAddress) address = NULL;
      gsize length;

      if (a->ifa_addr == NULL || (a->ifa_addr->sa_family != AF_INET && a->ifa_addr->sa_family != AF_INET6))
        continue;
      length = a->ifa_addr->sa_family == AF_INET ? sizeof (struct sockaddr_in) : sizeof (struct sockaddr_in6);
      address = g_socket_address_new_from_native (a->ifa_addr, length);
      if (address != NULL &&
          g_inet_address_equal (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)), bound))
        interface = (int) if_nametoindex (a->ifa_name);
    }
  freeifaddrs (addrs);

  if (interface <= 0)
    {
      g_autofree char *text = g_inet_address_to_string (bound);
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT,
                   _("No network interface has the address %s to announce this peer on"), text);
      return FALSE;
    }
  lsp_discovery_set_interface (self->discovery, interface);
  return TRUE;
}

gboolean
lsp_node_enable_discovery (LspNode   *self,
                           gboolean   loopback_only,
                           GError   **error)
{
  g_autofree char *hostname = NULL;

  g_return_val_if_fail (LSP_IS_NODE (self), FALSE);
  g_return_val_if_fail (self->endpoint != NULL, FALSE);

  if (self->discovery != NULL)
    return TRUE;

  hostname = lsp_proto_sanitize_hostname (self->hostname);
  self->discovery = lsp_discovery_new (lsp_identity_get_peer_id (self->identity), hostname,
                                       lsp_quic_endpoint_get_port (self->endpoint), loopback_only);
  if (self->discovery == NULL)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT, _("Cannot announce this peer on the network"));
      return FALSE;
    }
  if (!loopback_only && !restrict_discovery_to_listener (self, error))
    {
      g_clear_object (&self->discovery);
      return FALSE;
    }
  lsp_discovery_set_library_rev (self->discovery, lsp_library_get_rev (self->library));
  lsp_discovery_set_needs_passphrase (self->discovery, self->party_key != NULL);
  g_signal_connect_object (self->discovery, "peer-found", G_CALLBACK (_lsp_node_on_peer_found), self, 0);
  lsp_discovery_start (self->discovery);
  return TRUE;
}

void
lsp_node_add_static_peer (LspNode            *self,
                          GInetSocketAddress *address)
{
  StaticPeer *static_peer;

  g_return_if_fail (LSP_IS_NODE (self));
  g_return_if_fail (G_IS_INET_SOCKET_ADDRESS (address));

  static_peer = g_new0 (StaticPeer, 1);
  static_peer->address = g_object_ref (address);
  static_peer->key = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
  static_peer->retry_ms = LSP_NODE_RETRY_MIN_MS;
  g_object_set_data (G_OBJECT (static_peer->address), "lsp-node", self);
  g_ptr_array_add (self->static_peers, static_peer);

  if (self->endpoint != NULL)
    _lsp_node_dial_static_peer (self, static_peer);
}

/* Says Goodbye to every peer and closes their connections; the Goodbye is
 * a hint, so nothing waits for it. */
void
lsp_node_stop (LspNode    *self,
               const char *reason)
{
  g_return_if_fail (LSP_IS_NODE (self));

  if (self->stopping)
    return;
  self->stopping = TRUE;
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->push_id, g_source_remove);
  for (guint i = 0; i < self->static_peers->len; i++)
    g_clear_handle_id (&((StaticPeer *) g_ptr_array_index (self->static_peers, i))->retry_id, g_source_remove);

  while (self->sessions->len > 0)
    _lsp_session_say_goodbye (g_ptr_array_index (self->sessions, self->sessions->len - 1), reason);
}

static gboolean
complete_stop_tasks (gpointer user_data)
{
  LspNode *self = user_data;
  g_autoptr(GPtrArray) tasks = g_steal_pointer (&self->stop_tasks);

  g_clear_handle_id (&self->stop_timeout_id, g_source_remove);
  for (guint i = 0; tasks != NULL && i < tasks->len; i++)
    g_task_return_boolean (g_ptr_array_index (tasks, i), TRUE);
  return G_SOURCE_REMOVE;
}

/* The last Goodbye was handed to QUIC; its packets go out when the
 * connections flush, which runs before a low-priority idle does. */
void
_lsp_node_goodbyes_sent (LspNode *self)
{
  if (self->stop_tasks != NULL)
    g_idle_add_full (G_PRIORITY_LOW, complete_stop_tasks, g_object_ref (self), g_object_unref);
}

/**
 * lsp_node_stop_async:
 *
 * Like lsp_node_stop(), and completes once every Goodbye is on its way,
 * so a process can exit without cutting them off.
 */
void
lsp_node_stop_async (LspNode             *self,
                     const char          *reason,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (LSP_IS_NODE (self));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, lsp_node_stop_async);
  lsp_node_stop (self, reason);
  if (self->stop_tasks == NULL)
    self->stop_tasks = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_add (self->stop_tasks, g_steal_pointer (&task));
  if (self->goodbyes_pending == 0)
    _lsp_node_goodbyes_sent (self);
  else if (self->stop_timeout_id == 0)
    {
      /* A peer that stopped reading holds its Goodbye back at flow
       * control; Goodbye is a hint, so waiting is bounded. */
      self->stop_timeout_id = g_timeout_add_full (G_PRIORITY_DEFAULT, LSP_NODE_GOODBYE_TIMEOUT_MS,
                                                  complete_stop_tasks, g_object_ref (self), g_object_unref);
    }
}

gboolean
lsp_node_stop_finish (LspNode       *self,
                      GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

LspLibrary *
lsp_node_get_library (LspNode *self)
{
  g_return_val_if_fail (LSP_IS_NODE (self), NULL);
  return self->library;
}

const char *
lsp_node_get_peer_id (LspNode *self)
{
  g_return_val_if_fail (LSP_IS_NODE (self), NULL);
  return lsp_identity_get_peer_id (self->identity);
}

const char *
lsp_node_get_hostname (LspNode *self)
{
  g_return_val_if_fail (LSP_IS_NODE (self), NULL);
  return self->hostname;
}

guint16
lsp_node_get_port (LspNode *self)
{
  g_return_val_if_fail (LSP_IS_NODE (self), 0);
  return self->endpoint != NULL ? lsp_quic_endpoint_get_port (self->endpoint) : 0;
}

LspPeer *
lsp_node_lookup_peer (LspNode    *self,
                      const char *peer_id)
{
  g_return_val_if_fail (LSP_IS_NODE (self), NULL);
  return g_hash_table_lookup (self->peers, peer_id);
}

void
lsp_node_set_liveness (LspNode *self,
                       guint    idle_ping_ms,
                       guint    stale_ms)
{
  g_return_if_fail (LSP_IS_NODE (self));
  g_return_if_fail (idle_ping_ms > 0 && stale_ms > idle_ping_ms);

  self->idle_ping_ms = idle_ping_ms;
  self->stale_ms = stale_ms;
}

void
_lsp_node_report_unauthorized (LspNode    *self,
                               const char *peer_id,
                               const char *address)
{
  if (!g_hash_table_add (self->unauthorized, g_strdup (peer_id)))
    return;
  g_signal_emit (self, _lsp_node_signals[NODE_SIGNAL_UNAUTHORIZED], 0, peer_id, address);
}

void
lsp_node_set_party_key (LspNode *self,
                        GBytes  *key)
{
  g_return_if_fail (LSP_IS_NODE (self));
  g_return_if_fail (key == NULL || g_bytes_get_size (key) == LSP_PARTY_KEY_LEN);
  g_return_if_fail (self->endpoint == NULL);

  g_clear_pointer (&self->party_key, g_bytes_unref);
  if (key != NULL)
    self->party_key = g_bytes_ref (key);
}

gboolean
lsp_node_get_has_passphrase (LspNode *self)
{
  g_return_val_if_fail (LSP_IS_NODE (self), FALSE);
  return self->party_key != NULL;
}

void
lsp_node_set_hello_timeout (LspNode *self,
                            guint    timeout_ms)
{
  g_return_if_fail (LSP_IS_NODE (self));
  g_return_if_fail (timeout_ms > 0);

  self->hello_timeout_ms = timeout_ms;
}

void
lsp_node_set_proto_range (LspNode *self,
                          guint    min_version,
                          guint    max_version)
{
  g_return_if_fail (LSP_IS_NODE (self));
  g_return_if_fail (min_version >= 1 && min_version <= max_version);

  self->proto_min = min_version;
  self->proto_max = max_version;
}

static void
lsp_node_dispose (GObject *object)
{
  LspNode *self = LSP_NODE (object);

  self->stopping = TRUE;
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->push_id, g_source_remove);
  g_clear_handle_id (&self->chunks_flush_id, g_source_remove);
  if (self->sessions != NULL)
    {
      while (self->sessions->len > 0)
        {
          Session *session = g_ptr_array_steal_index (self->sessions, self->sessions->len - 1);
          g_autoptr(LspQuicConnection) conn = g_object_ref (session->conn);

          /* Detached first, so the close cannot call back into a node
           * that is going away. */
          _lsp_session_free (session);
          lsp_quic_connection_close (conn, APP_ERROR_SHUTDOWN, "shutting down");
        }
    }
  g_clear_pointer (&self->static_peers, g_ptr_array_unref);
  g_clear_object (&self->discovery);
  if (self->endpoint != NULL)
    g_signal_handlers_disconnect_by_data (self->endpoint, self);
  g_clear_object (&self->endpoint);
  if (self->library != NULL)
    g_signal_handlers_disconnect_by_data (self->library, self);

  G_OBJECT_CLASS (lsp_node_parent_class)->dispose (object);
}

static void
lsp_node_finalize (GObject *object)
{
  LspNode *self = LSP_NODE (object);

  g_clear_pointer (&self->sessions, g_ptr_array_unref);
  g_clear_pointer (&self->stop_tasks, g_ptr_array_unref);
  g_clear_handle_id (&self->stop_timeout_id, g_source_remove);
  g_clear_pointer (&self->peers, g_hash_table_unref);
  g_clear_pointer (&self->peer_list, g_ptr_array_unref);
  g_clear_pointer (&self->dialing, g_hash_table_unref);
  g_clear_pointer (&self->unauthorized, g_hash_table_unref);
  g_queue_clear_full (&self->dial_queue, g_free);
  g_clear_pointer (&self->dial_waiting, g_hash_table_unref);
  g_clear_pointer (&self->manifest_loads_by_peer, g_hash_table_unref);
  g_clear_pointer (&self->published, g_hash_table_unref);
  g_queue_clear_full (&self->history, (GDestroyNotify) _lsp_node_history_entry_free);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->library);
  g_clear_object (&self->identity);
  g_clear_pointer (&self->party_key, g_bytes_unref);
  g_clear_pointer (&self->hostname, g_free);

  G_OBJECT_CLASS (lsp_node_parent_class)->finalize (object);
}

static void
lsp_node_class_init (LspNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lsp_node_dispose;
  object_class->finalize = lsp_node_finalize;

  /**
   * LspNode::data-stream:
   * @peer: the established peer that opened it
   * @stream: a bidirectional stream other than the control stream
   *
   * A peer opened a data stream (PROTOCOL.md, "Data streams"). A handler
   * that takes the stream returns %TRUE; one nobody takes is reset.
   */
  _lsp_node_signals[NODE_SIGNAL_DATA_STREAM] =
    g_signal_new ("data-stream", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  g_signal_accumulator_true_handled, NULL, NULL,
                  G_TYPE_BOOLEAN, 2, LSP_TYPE_PEER, LSP_TYPE_QUIC_STREAM);

  /**
   * LspNode::peer-key-changed:
   * @address: the static peer's "host:port"
   * @pinned_peer_id: the peer we met there before
   * @peer_id: the one that answers there now
   *
   * A static peer address is answered by another key than before. We do
   * not connect to it until lsp_node_trust_peer_address().
   */
  /**
   * LspNode::unauthorized:
   * @peer_id: the peer that will not let us in
   * @address: (nullable): where it is, "host:port"
   *
   * A peer wants the party's passphrase and we have none (it refused us,
   * or its mDNS announcement says so), or it refused ours. Once per peer.
   */
  _lsp_node_signals[NODE_SIGNAL_UNAUTHORIZED] =
    g_signal_new ("unauthorized", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);

  _lsp_node_signals[NODE_SIGNAL_PEER_KEY_CHANGED] =
    g_signal_new ("peer-key-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

static void
lsp_node_init (LspNode *self)
{
  self->cancellable = g_cancellable_new ();
  self->sessions = g_ptr_array_new_with_free_func ((GDestroyNotify) _lsp_session_free);
  self->peers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  self->peer_list = g_ptr_array_new_with_free_func (g_object_unref);
  self->static_peers = g_ptr_array_new_with_free_func ((GDestroyNotify) static_peer_free);
  self->dialing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->unauthorized = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init (&self->dial_queue);
  self->dial_waiting = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->manifest_loads_by_peer = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->published = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) _lsp_published_chunks_free);
  self->swarm = TRUE;
  g_queue_init (&self->history);
  self->idle_ping_ms = LSP_PROTO_IDLE_PING_SECONDS * 1000;
  self->stale_ms = LSP_PROTO_STALE_SECONDS * 1000;
  self->hello_timeout_ms = LSP_NODE_HELLO_TIMEOUT_MS;
  self->proto_min = LSP_PROTO_MIN_VERSION;
  self->proto_max = LSP_PROTO_VERSION;
}

LspNode *
lsp_node_new (LspLibrary  *library,
              LspIdentity *identity,
              const char  *hostname)
{
  LspNode *self;

  g_return_val_if_fail (LSP_IS_LIBRARY (library), NULL);
  g_return_val_if_fail (LSP_IS_IDENTITY (identity), NULL);
  g_return_val_if_fail (hostname != NULL, NULL);

  self = g_object_new (LSP_TYPE_NODE, NULL);
  self->library = g_object_ref (library);
  self->identity = g_object_ref (identity);
  /* Host names may be longer than the protocol's 63 bytes. */
  self->hostname = lsp_proto_sanitize_hostname (hostname);
  return self;
}

static Session *
find_established_session (LspNode    *self,
                          const char *peer_id)
{
  for (guint i = 0; i < self->sessions->len; i++)
    {
      Session *session = g_ptr_array_index (self->sessions, i);

      if (session->established && !session->closing && session->peer != NULL &&
          g_str_equal (lsp_peer_get_id (session->peer), peer_id))
        return session;
    }
  return NULL;
}

/**
 * lsp_node_get_connection:
 *
 * Returns: (transfer none) (nullable): the connection of the established
 *   session with @peer_id, on which data streams can be opened
 */
LspQuicConnection *
lsp_node_get_connection (LspNode    *self,
                         const char *peer_id)
{
  Session *session;

  g_return_val_if_fail (LSP_IS_NODE (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);

  session = find_established_session (self, peer_id);
  return session != NULL ? session->conn : NULL;
}

/**
 * lsp_node_fetch_manifest_async:
 *
 * Asks @peer_id for the manifest of @game_id named @manifest_hash. Fails
 * with %G_IO_ERROR_NOT_FOUND or %G_IO_ERROR_BUSY when the peer refuses, and
 * %G_IO_ERROR_CONNECTION_CLOSED when it is not (or no longer) connected.
 */
void
lsp_node_fetch_manifest_async (LspNode             *self,
                               const char          *peer_id,
                               const char          *game_id,
                               const char          *manifest_hash,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Session *session;
  char **asked;

  g_return_if_fail (LSP_IS_NODE (self));
  g_return_if_fail (lsp_game_id_is_valid (game_id));
  g_return_if_fail (lsp_proto_hex_digest_is_valid (manifest_hash));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lsp_node_fetch_manifest_async);
  /* A fetch the peer never answers ends with the session. The cancellable
   * only reaches the callback's error: a caller that must stop at once
   * stops waiting on its own. */
  asked = g_new0 (char *, 3);
  asked[0] = g_strdup (game_id);
  asked[1] = g_strdup (manifest_hash);
  g_task_set_task_data (task, asked, (GDestroyNotify) g_strfreev);

  session = find_established_session (self, peer_id);
  if (session == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                               _("Peer %.12s is not connected"), peer_id);
      return;
    }
  _lsp_session_fetch_manifest (session, task);
}

LspManifest *
lsp_node_fetch_manifest_finish (LspNode       *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
