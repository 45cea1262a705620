#define G_LOG_DOMAIN "lsp-node"

#include "config.h"

#include "lsp-node.h"

#include "lsp-local-summary.h"

#include <string.h>

#include "lsp-discovery.h"
#include "lsp-error.h"
#include "lsp-frame-decoder.h"
#include "lsp-game-root.h"
#include "lsp-quic-endpoint.h"
#include "lsp-sync.h"

/* QUIC application error code for a connection we close on purpose. */
#define APP_ERROR_CLOSE 1
/* A peer may send this many control frames per second (with bursts up to
 * FRAME_BURST) before it is dropped as a flood. */
#define FRAME_RATE  200
#define FRAME_BURST 1000
/* Library answers to one peer are at most this often; requests in between
 * are answered together. */
#define LIBRARY_ANSWER_INTERVAL_MS 1000
/* Manifests being read for peers at once; more requests are told “busy”,
 * so peers cannot make us hold many large manifests in memory. */
#define MAX_MANIFEST_LOADS 4

typedef struct _Session Session;

typedef struct
{
  guint64  from_rev;
  guint64  to_rev;
  GStrv    changed;
  GStrv    removed;
} HistoryEntry;

typedef struct
{
  char               *key;       /* "host:port" as given */
  GInetSocketAddress *address;
  guint               retry_ms;
  guint               retry_id;
  Session            *session;   /* while connected */
  gboolean            connecting;
} StaticPeer;

struct _LspNode
{
  GObject          parent_instance;

  LspLibrary      *library;
  LspIdentity     *identity;
  char            *hostname;
  LspQuicEndpoint *endpoint;
  LspDiscovery    *discovery;
  GCancellable    *cancellable;

  GPtrArray       *sessions;       /* Session, owned */
  GHashTable      *peers;          /* peer_id → LspPeer */
  GPtrArray       *peer_list;      /* LspPeer, the GListModel, in arrival order */
  GPtrArray       *static_peers;   /* StaticPeer */
  GHashTable      *dialing;        /* peer_ids being dialled after discovery */

  GQueue           history;        /* HistoryEntry, oldest first */
  guint64          history_rev;    /* the library rev the history ends at */
  guint            push_id;

  guint            manifest_loads;
  guint            idle_ping_ms;
  guint            stale_ms;
  guint            proto_min;
  guint            proto_max;
  gboolean         stopping;
};

struct _Session
{
  LspNode           *node;
  LspQuicConnection *conn;
  LspQuicStream     *control;
  LspFrameDecoder   *decoder;
  LspPeer           *peer;          /* once the handshake is done */
  StaticPeer        *static_peer;   /* when we dialled a --peer address */
  gboolean           is_client;
  gboolean           established;
  gboolean           closing;
  guint64            sent_rev;      /* our revision this peer has been brought to */
  gint64             last_received;
  guint64            ping_nonce;
  gboolean           ping_outstanding;
  guint              liveness_id;
  guint              close_id;
  char              *close_reason;
  double             frame_budget;
  gint64             budget_time;
  gint64             last_library_answer;
  guint              library_answer_id;
  gboolean           pending_has_since;
  guint64            pending_since_rev;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (LspNode, lsp_node, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static void session_close (Session *session, const char *reason);
static void session_send (Session *session, LspMessage *message);
static void dial_static_peer (LspNode *self, StaticPeer *static_peer);
static void schedule_static_retry (StaticPeer *static_peer);

static void
history_entry_free (HistoryEntry *entry)
{
  g_strfreev (entry->changed);
  g_strfreev (entry->removed);
  g_free (entry);
}

static void
static_peer_free (StaticPeer *static_peer)
{
  g_clear_handle_id (&static_peer->retry_id, g_source_remove);
  g_clear_object (&static_peer->address);
  g_free (static_peer->key);
  g_free (static_peer);
}

/* ---- the peer list (GListModel) ---- */

static void
add_peer_to_model (LspNode *self,
                   LspPeer *peer)
{
  guint position;

  if (g_ptr_array_find (self->peer_list, peer, &position))
    return;
  g_ptr_array_add (self->peer_list, g_object_ref (peer));
  g_list_model_items_changed (G_LIST_MODEL (self), self->peer_list->len - 1, 0, 1);
}

static void
remove_peer (LspNode    *self,
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

/* ---- our library as the protocol shows it ---- */

static GPtrArray *
collect_summaries (LspNode     *self,
                   const char **ids)
{
  GPtrArray *games = g_ptr_array_new_with_free_func ((GDestroyNotify) lsp_game_summary_free);
  GListModel *model = G_LIST_MODEL (self->library);

  if (ids == NULL)
    {
      for (guint i = 0; i < g_list_model_get_n_items (model); i++)
        {
          g_autoptr(LspLocalGame) game = g_list_model_get_item (model, i);
          g_ptr_array_add (games, lsp_game_summary_new_from_local_game (game));
        }
      return games;
    }

  for (guint i = 0; ids[i] != NULL; i++)
    {
      LspLocalGame *game = lsp_library_lookup (self->library, ids[i]);
      if (game != NULL)
        g_ptr_array_add (games, lsp_game_summary_new_from_local_game (game));
    }
  return games;
}

static LspMessage *
new_snapshot (LspNode *self)
{
  g_autoptr(GPtrArray) games = collect_summaries (self, NULL);

  return lsp_message_new_library_snapshot (lsp_identity_get_peer_id (self->identity),
                                           lsp_library_get_rev (self->library),
                                           lsp_library_get_digest (self->library),
                                           games);
}

/* The changes since since_rev from the history, or NULL when the history
 * does not reach back that far. */
static LspMessage *
new_delta_since (LspNode *self,
                 guint64  since_rev)
{
  g_autoptr(GHashTable) changed = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) removed = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) changed_ids = g_ptr_array_new ();
  g_autoptr(GPtrArray) removed_ids = g_ptr_array_new ();
  g_autoptr(GPtrArray) updated = NULL;
  g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func ((GDestroyNotify) lsp_game_summary_free);
  guint64 rev = lsp_library_get_rev (self->library);
  gboolean started = FALSE;
  GHashTableIter iter;
  gpointer key;

  if (since_rev > rev || self->history_rev != rev)
    return NULL;
  /* Up to date: an empty delta, not the whole history. */
  if (since_rev == rev)
    started = TRUE;

  for (GList *l = self->history.head; l != NULL; l = l->next)
    {
      HistoryEntry *entry = l->data;

      if (since_rev == rev)
        break;
      if (!started && entry->from_rev == since_rev)
        started = TRUE;
      if (!started)
        continue;
      for (guint i = 0; entry->changed[i] != NULL; i++)
        g_hash_table_add (changed, entry->changed[i]);
      for (guint i = 0; entry->removed[i] != NULL; i++)
        g_hash_table_add (removed, entry->removed[i]);
    }
  if (!started || g_hash_table_size (changed) + g_hash_table_size (removed) > LSP_PROTO_MAX_GAMES)
    return NULL;

  g_hash_table_iter_init (&iter, changed);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      if (lsp_library_lookup (self->library, key) != NULL)
        g_ptr_array_add (changed_ids, key);
    }
  g_ptr_array_add (changed_ids, NULL);

  g_hash_table_iter_init (&iter, removed);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      if (lsp_library_lookup (self->library, key) == NULL)
        g_ptr_array_add (removed_ids, key);
    }
  g_ptr_array_add (removed_ids, NULL);

  /* Summaries are full states, so a game new since since_rev may travel
   * under "updated": receivers treat both lists alike. */
  updated = collect_summaries (self, (const char **) changed_ids->pdata);
  return lsp_message_new_library_delta (lsp_identity_get_peer_id (self->identity),
                                        since_rev, rev,
                                        lsp_library_get_digest (self->library),
                                        g_list_model_get_n_items (G_LIST_MODEL (self->library)),
                                        added, updated,
                                        (const char * const *) removed_ids->pdata);
}

static LspMessage *
new_summary (LspNode *self)
{
  return lsp_message_new_library_summary (lsp_identity_get_peer_id (self->identity),
                                          lsp_library_get_rev (self->library),
                                          lsp_library_get_digest (self->library),
                                          g_list_model_get_n_items (G_LIST_MODEL (self->library)));
}

static char *
listen_addr (LspNode *self)
{
  GInetSocketAddress *local = lsp_quic_endpoint_get_local_address (self->endpoint);
  GInetAddress *inet = g_inet_socket_address_get_address (local);
  g_autofree char *host = g_inet_address_to_string (inet);

  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]:%u", host, lsp_quic_endpoint_get_port (self->endpoint));
  return g_strdup_printf ("%s:%u", host, lsp_quic_endpoint_get_port (self->endpoint));
}

static LspMessage *
new_hello (LspNode        *self,
           LspMessageType  type)
{
  g_autofree char *addr = listen_addr (self);
  static const char * const no_features[] = { NULL };
  LspMessage *message;

  message = lsp_message_new_hello (type, lsp_identity_get_peer_id (self->identity), addr,
                                   lsp_library_get_rev (self->library),
                                   lsp_library_get_digest (self->library),
                                   no_features, self->hostname);
  message->hello.proto_ver = self->proto_max;
  message->hello.min_proto_ver = self->proto_min;
  return message;
}

/* ---- sessions ---- */

static void
on_write_done (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!lsp_quic_stream_write_bytes_finish (LSP_QUIC_STREAM (object), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("Control write failed: %s", error->message);
}

static void
session_send (Session    *session,
              LspMessage *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) frame = NULL;

  if (session->closing || session->control == NULL)
    return;
  if (message == NULL)
    {
      /* A constructor refused its arguments (a library over the protocol's
       * limits, say); it already said why. */
      return;
    }

  frame = lsp_message_encode (message, LSP_PROTO_MAX_FRAME, &error);
  if (frame == NULL)
    {
      /* Our own message broke a rule: a bug here, never the peer's fault. */
      g_critical ("Not sending an invalid %s: %s", lsp_message_type_to_string (message->type), error->message);
      return;
    }
  lsp_quic_stream_write_bytes_async (session->control, frame, FALSE, NULL, on_write_done, NULL);
}

static void
send_message (Session    *session,
              LspMessage *message)
{
  g_autoptr(LspMessage) owned = message;
  session_send (session, owned);
}

static void
on_error_sent (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(LspQuicConnection) conn = user_data;

  lsp_quic_stream_write_bytes_finish (LSP_QUIC_STREAM (object), result, NULL);
  lsp_quic_connection_close (conn, APP_ERROR_CLOSE, "protocol error");
}

/* A fatal protocol error: tell the peer why, then close once it is sent. */
static void
session_fail (Session    *session,
              const char *code,
              const char *detail)
{
  g_autoptr(LspMessage) message = NULL;
  g_autoptr(GBytes) frame = NULL;
  g_autofree char *address = NULL;
  GInetSocketAddress *remote;

  if (session->closing)
    return;

  remote = lsp_quic_connection_get_remote_address (session->conn);
  address = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (remote));
  g_warning ("Dropping peer %s at %s: %s", lsp_quic_connection_get_peer_id (session->conn), address, detail);

  message = lsp_message_new_error (code, TRUE, "%s", detail);
  frame = lsp_message_encode (message, LSP_PROTO_MAX_FRAME, NULL);
  if (frame != NULL && session->control != NULL)
    lsp_quic_stream_write_bytes_async (session->control, frame, TRUE, NULL, on_error_sent,
                                       g_object_ref (session->conn));
  else
    lsp_quic_connection_close (session->conn, APP_ERROR_CLOSE, "protocol error");
  session->closing = TRUE;
}

static void
session_free (Session *session)
{
  g_clear_handle_id (&session->liveness_id, g_source_remove);
  g_clear_handle_id (&session->close_id, g_source_remove);
  g_clear_handle_id (&session->library_answer_id, g_source_remove);
  g_clear_pointer (&session->close_reason, g_free);
  if (session->control != NULL)
    lsp_quic_stream_set_read_func (session->control, NULL, NULL, NULL);
  g_signal_handlers_disconnect_by_data (session->conn, session);
  g_clear_object (&session->control);
  g_clear_object (&session->conn);
  g_clear_pointer (&session->decoder, lsp_frame_decoder_free);
  g_clear_object (&session->peer);
  g_free (session);
}

/* Removes the session; its peer leaves with it unless another session
 * took over. */
static void
session_end (Session    *session,
             const char *reason)
{
  LspNode *self = session->node;

  if (session->static_peer != NULL)
    {
      StaticPeer *static_peer = session->static_peer;

      static_peer->session = NULL;
      if (!self->stopping && static_peer->retry_id == 0)
        schedule_static_retry (static_peer);
    }

  if (session->established && session->peer != NULL &&
      g_hash_table_lookup (self->peers, lsp_peer_get_id (session->peer)) == session->peer)
    {
      gboolean other = FALSE;

      for (guint i = 0; i < self->sessions->len; i++)
        {
          Session *s = g_ptr_array_index (self->sessions, i);
          if (s != session && s->established && s->peer == session->peer)
            other = TRUE;
        }
      if (!other)
        remove_peer (self, session->peer, reason);
    }

  g_ptr_array_remove (self->sessions, session);
}

static gboolean
session_close_now (gpointer user_data)
{
  Session *session = user_data;
  g_autoptr(LspQuicConnection) conn = g_object_ref (session->conn);
  g_autofree char *reason = g_steal_pointer (&session->close_reason);

  session->close_id = 0;
  session_end (session, reason);
  lsp_quic_connection_close (conn, APP_ERROR_CLOSE, reason);
  return G_SOURCE_REMOVE;
}

/* Closing is deferred to an idle: it frees the session, and it is asked
 * for from inside the session's own callbacks. */
static void
session_close (Session    *session,
               const char *reason)
{
  if (session->close_id != 0)
    return;
  session->closing = TRUE;
  session->close_reason = g_strdup (reason);
  session->close_id = g_idle_add (session_close_now, session);
}

static gboolean
on_liveness (gpointer user_data)
{
  Session *session = user_data;
  LspNode *self = session->node;
  gint64 quiet_ms = (g_get_monotonic_time () - session->last_received) / 1000;
  guint next_ms;

  session->liveness_id = 0;

  if (quiet_ms >= self->stale_ms)
    {
      session_close (session, "stale: nothing heard within the stale timeout");
      return G_SOURCE_REMOVE;
    }

  if (quiet_ms >= self->idle_ping_ms && !session->ping_outstanding)
    {
      session->ping_outstanding = TRUE;
      send_message (session, lsp_message_new_ping (LSP_MESSAGE_PING, ++session->ping_nonce));
    }

  next_ms = quiet_ms < self->idle_ping_ms ? (guint) (self->idle_ping_ms - quiet_ms)
                                          : (guint) (self->stale_ms - quiet_ms);
  session->liveness_id = g_timeout_add (MAX (next_ms, 10), on_liveness, session);
  return G_SOURCE_REMOVE;
}

static void
start_liveness (Session *session)
{
  g_clear_handle_id (&session->liveness_id, g_source_remove);
  session->liveness_id = g_timeout_add (session->node->idle_ping_ms, on_liveness, session);
}

static void
request_library (Session       *session,
                 LspSyncAction  action)
{
  if (action == LSP_SYNC_ASK_DELTA)
    send_message (session, lsp_message_new_get_library (TRUE, lsp_peer_get_library_rev (session->peer)));
  else if (action == LSP_SYNC_ASK_SNAPSHOT)
    send_message (session, lsp_message_new_get_library (FALSE, 0));
}

static void
plan_from_summary (Session    *session,
                   guint64     their_rev,
                   const char *their_digest)
{
  LspSyncState known = {
    .has_rev = lsp_peer_get_has_library (session->peer),
    .rev = lsp_peer_get_library_rev (session->peer),
    .digest = lsp_peer_get_library_digest (session->peer),
  };

  request_library (session, lsp_sync_plan_summary (&known, their_rev, their_digest));
}

static char *
peer_address_from_hello (Session    *session,
                         const char *their_listen_addr)
{
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) inet = NULL;
  guint16 port = 0;

  if (!lsp_proto_parse_listen_addr (their_listen_addr, &host, &port))
    return NULL;

  inet = g_inet_address_new_from_string (host);
  if (inet != NULL && g_inet_address_get_is_any (inet))
    {
      GInetSocketAddress *remote = lsp_quic_connection_get_remote_address (session->conn);
      g_free (host);
      host = g_inet_address_to_string (g_inet_socket_address_get_address (remote));
      g_clear_object (&inet);
      inet = g_inet_address_new_from_string (host);
    }

  if (inet != NULL && g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]:%u", host, port);
  return g_strdup_printf ("%s:%u", host, port);
}

/* Of two connections between the same pair of peers, both sides keep the
 * one dialled by the smaller peer_id, so they agree without talking. */
static const char *
session_dialler (Session *session)
{
  return session->is_client ? lsp_identity_get_peer_id (session->node->identity)
                            : lsp_quic_connection_get_peer_id (session->conn);
}

static gboolean
resolve_duplicate (Session *session)
{
  LspNode *self = session->node;

  for (guint i = 0; i < self->sessions->len; i++)
    {
      Session *other = g_ptr_array_index (self->sessions, i);

      if (other == session || !other->established || other->closing ||
          g_strcmp0 (lsp_quic_connection_get_peer_id (other->conn),
                     lsp_quic_connection_get_peer_id (session->conn)) != 0)
        continue;

      /* Both dialled by the same side: that side alone picks, so the two
       * ends cannot close different ones; here the other end waits. */
      if (strcmp (session_dialler (session), session_dialler (other)) == 0 && !session->is_client)
        return TRUE;
      if (strcmp (session_dialler (session), session_dialler (other)) < 0)
        {
          if (session->static_peer == NULL && other->static_peer != NULL)
            {
              session->static_peer = other->static_peer;
              session->static_peer->session = session;
              other->static_peer = NULL;
            }
          session_close (other, "duplicate connection");
          return TRUE;
        }
      if (other->static_peer == NULL && session->static_peer != NULL)
        {
          other->static_peer = session->static_peer;
          other->static_peer->session = other;
          session->static_peer = NULL;
        }
      session_close (session, "duplicate connection");
      return FALSE;
    }

  return TRUE;
}

static void
handle_handshake (Session             *session,
                  const LspHelloBody  *hello)
{
  LspNode *self = session->node;
  g_autofree char *address = NULL;
  LspPeer *peer;
  guint version;

  if (!lsp_proto_negotiate_version (self->proto_min, self->proto_max,
                                    hello->min_proto_ver, hello->proto_ver, &version))
    {
      g_autofree char *detail =
        g_strdup_printf ("no common protocol version (we speak %u–%u, it speaks %u–%u)",
                         self->proto_min, self->proto_max, hello->min_proto_ver, hello->proto_ver);
      session_fail (session, LSP_PROTO_ERROR_INCOMPATIBLE_VERSION, detail);
      return;
    }

  if (!session->is_client)
    send_message (session, new_hello (self, LSP_MESSAGE_HELLO_ACK));

  session->established = TRUE;
  if (!resolve_duplicate (session))
    return;

  peer = g_hash_table_lookup (self->peers, hello->peer_id);
  if (peer == NULL)
    {
      peer = lsp_peer_new (hello->peer_id);
      g_hash_table_insert (self->peers, (gpointer) lsp_peer_get_id (peer), peer);
    }
  session->peer = g_object_ref (peer);
  if (session->static_peer != NULL)
    session->static_peer->retry_ms = LSP_NODE_RETRY_MIN_MS;

  address = peer_address_from_hello (session, hello->listen_addr);
  lsp_peer_set_address (peer, address);
  lsp_peer_set_hostname (peer, hello->hostname);
  lsp_peer_set_connected (peer, TRUE);
  lsp_peer_touch (peer);
  add_peer_to_model (self, peer);
  g_message ("Peer %s (%s) at %s joined", hello->hostname, hello->peer_id, address);

  session->sent_rev = lsp_library_get_rev (self->library);
  send_message (session, new_summary (self));
  plan_from_summary (session, hello->library_rev, hello->library_digest);
  start_liveness (session);
}

static gboolean
check_sender (Session    *session,
              const char *peer_id)
{
  if (g_strcmp0 (peer_id, lsp_quic_connection_get_peer_id (session->conn)) == 0)
    return TRUE;
  session_fail (session, LSP_PROTO_ERROR_BAD_MESSAGE, "peer_id differs from the connection's identity");
  return FALSE;
}

static void
send_library_answer (Session  *session,
                     gboolean  has_since_rev,
                     guint64   since_rev)
{
  LspNode *self = session->node;
  LspMessage *answer = NULL;

  if (has_since_rev)
    answer = new_delta_since (self, since_rev);
  if (answer == NULL)
    answer = new_snapshot (self);

  session->sent_rev = lsp_library_get_rev (self->library);
  session->last_library_answer = g_get_monotonic_time ();
  send_message (session, answer);
}

static gboolean
on_library_answer_due (gpointer user_data)
{
  Session *session = user_data;

  session->library_answer_id = 0;
  send_library_answer (session, session->pending_has_since, session->pending_since_rev);
  return G_SOURCE_REMOVE;
}

/* A snapshot can be large: a peer asking again and again gets one answer
 * per interval, for the last thing it asked. */
static void
answer_get_library (Session                 *session,
                    const LspGetLibraryBody *request)
{
  gint64 since_last_ms = (g_get_monotonic_time () - session->last_library_answer) / 1000;

  if (session->last_library_answer == 0 || since_last_ms >= LIBRARY_ANSWER_INTERVAL_MS)
    {
      send_library_answer (session, request->has_since_rev, request->since_rev);
      return;
    }

  session->pending_has_since = request->has_since_rev;
  session->pending_since_rev = request->since_rev;
  if (session->library_answer_id == 0)
    session->library_answer_id = g_timeout_add ((guint) (LIBRARY_ANSWER_INTERVAL_MS - since_last_ms),
                                                on_library_answer_due, session);
}

static void
handle_delta (Session                   *session,
              const LspLibraryDeltaBody *delta)
{
  LspSyncState known = {
    .has_rev = lsp_peer_get_has_library (session->peer),
    .rev = lsp_peer_get_library_rev (session->peer),
    .digest = lsp_peer_get_library_digest (session->peer),
  };
  LspSyncAction action = lsp_sync_plan_delta (&known, delta);

  if (action != LSP_SYNC_APPLY)
    {
      request_library (session, action);
      return;
    }

  lsp_peer_apply_delta (session->peer, delta);
  if (!lsp_sync_delta_count_ok (delta, lsp_peer_get_n_games (session->peer)))
    request_library (session, LSP_SYNC_ASK_SNAPSHOT);
}

typedef struct
{
  LspNode       *node;
  LspQuicStream *control;
  char          *game_id;
  char          *manifest_hash;
} ManifestRequest;

static void
manifest_request_free (ManifestRequest *request)
{
  request->node->manifest_loads--;
  g_clear_object (&request->node);
  g_clear_object (&request->control);
  g_free (request->game_id);
  g_free (request->manifest_hash);
  g_free (request);
}

static void
send_on_stream (LspQuicStream *control,
                LspMessage    *message)
{
  g_autoptr(GBytes) frame = lsp_message_encode (message, LSP_PROTO_MAX_FRAME, NULL);

  if (frame != NULL)
    lsp_quic_stream_write_bytes_async (control, frame, FALSE, NULL, on_write_done, NULL);
}

static void
on_manifest_loaded (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  ManifestRequest *request = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(LspManifest) manifest = NULL;
  g_autoptr(LspMessage) answer = NULL;
  g_autofree char *contents = NULL;
  gsize length;

  if (g_file_load_contents_finish (G_FILE (object), result, &contents, &length, NULL, &error) &&
      (node = json_from_string (contents, &error)) != NULL &&
      (manifest = lsp_manifest_new_from_json (node, &error)) != NULL &&
      g_strcmp0 (lsp_manifest_get_hash (manifest), request->manifest_hash) == 0)
    answer = lsp_message_new_manifest (manifest);
  else
    answer = lsp_message_new_error (LSP_PROTO_ERROR_NOT_FOUND, FALSE,
                                    "The manifest %s of %s is not available here",
                                    request->manifest_hash, request->game_id);

  send_on_stream (request->control, answer);
  manifest_request_free (request);
}

/* Manifests are served from the library's cache, and only under the hash
 * the game has now. */
static void
answer_get_manifest (Session               *session,
                     const LspManifestBody *request)
{
  LspNode *self = session->node;
  LspLocalGame *game = lsp_library_lookup (self->library, request->game_id);
  g_autofree char *name = NULL;
  g_autoptr(GFile) file = NULL;
  ManifestRequest *pending;

  if (self->manifest_loads >= MAX_MANIFEST_LOADS)
    {
      send_message (session, lsp_message_new_error (LSP_PROTO_ERROR_BUSY, FALSE,
                                                    "Too many manifest requests at once; ask again later"));
      return;
    }

  if (game == NULL || lsp_local_game_get_busy (game) ||
      g_strcmp0 (lsp_local_game_get_manifest_hash (game), request->manifest_hash) != 0)
    {
      send_message (session, lsp_message_new_error (game != NULL && lsp_local_game_get_busy (game)
                                                      ? LSP_PROTO_ERROR_BUSY : LSP_PROTO_ERROR_NOT_FOUND,
                                                    FALSE, "No manifest %s for %s here",
                                                    request->manifest_hash, request->game_id));
      return;
    }

  name = g_strconcat (request->manifest_hash, ".json", NULL);
  {
    g_autofree char *games = g_file_get_path (lsp_library_get_games_dir (self->library));
    g_autofree char *path = g_build_filename (games, LSP_STATE_DIR, "manifests", name, NULL);
    file = g_file_new_for_path (path);
  }

  pending = g_new0 (ManifestRequest, 1);
  pending->node = g_object_ref (self);
  self->manifest_loads++;
  pending->control = g_object_ref (session->control);
  pending->game_id = g_strdup (request->game_id);
  pending->manifest_hash = g_strdup (request->manifest_hash);
  g_file_load_contents_async (file, self->cancellable, on_manifest_loaded, pending);
}

static void
handle_message (Session    *session,
                LspMessage *message)
{
  if (!session->established)
    {
      LspMessageType expected = session->is_client ? LSP_MESSAGE_HELLO_ACK : LSP_MESSAGE_HELLO;

      if (message->type == LSP_MESSAGE_ERROR)
        {
          g_message ("Peer %s refused us: %s (%s)", lsp_quic_connection_get_peer_id (session->conn),
                     message->error.message, message->error.code);
          session_close (session, "refused during the handshake");
          return;
        }
      if (message->type != expected)
        {
          session_fail (session, LSP_PROTO_ERROR_BAD_MESSAGE, "the first message must be Hello or HelloAck");
          return;
        }
      if (check_sender (session, message->hello.peer_id))
        handle_handshake (session, &message->hello);
      return;
    }

  lsp_peer_touch (session->peer);

  switch (message->type)
    {
    case LSP_MESSAGE_LIBRARY_SUMMARY:
      if (check_sender (session, message->summary.peer_id))
        plan_from_summary (session, message->summary.library_rev, message->summary.library_digest);
      break;
    case LSP_MESSAGE_GET_LIBRARY:
      answer_get_library (session, &message->get_library);
      break;
    case LSP_MESSAGE_LIBRARY_SNAPSHOT:
      if (check_sender (session, message->snapshot.peer_id))
        lsp_peer_replace_library (session->peer, message->snapshot.library_rev,
                                  message->snapshot.library_digest, message->snapshot.games);
      break;
    case LSP_MESSAGE_LIBRARY_DELTA:
      if (check_sender (session, message->delta.peer_id))
        handle_delta (session, &message->delta);
      break;
    case LSP_MESSAGE_GET_MANIFEST:
      answer_get_manifest (session, &message->manifest);
      break;
    case LSP_MESSAGE_PING:
      send_message (session, lsp_message_new_ping (LSP_MESSAGE_PONG, message->ping.nonce));
      break;
    case LSP_MESSAGE_PONG:
      session->ping_outstanding = FALSE;
      break;
    case LSP_MESSAGE_GOODBYE:
      if (check_sender (session, message->goodbye.peer_id))
        session_close (session, message->goodbye.reason ? message->goodbye.reason : "said goodbye");
      break;
    case LSP_MESSAGE_ERROR:
      g_message ("Peer %s reports %s: %s", lsp_peer_get_id (session->peer),
                 message->error.code, message->error.message);
      if (message->error.fatal)
        session_close (session, "fatal error from the peer");
      break;
    case LSP_MESSAGE_UNKNOWN:
      send_message (session, lsp_message_new_error (LSP_PROTO_ERROR_UNKNOWN_TYPE, FALSE,
                                                    "Unknown message type “%s”", message->type_name));
      break;
    case LSP_MESSAGE_HELLO:
    case LSP_MESSAGE_HELLO_ACK:
    case LSP_MESSAGE_MANIFEST:
    case LSP_MESSAGE_GET_CHUNK:
    case LSP_MESSAGE_CHUNK:
    default:
      {
        g_autofree char *detail = g_strdup_printf ("%s is not allowed on the control stream now",
                                                   lsp_message_type_to_string (message->type));
        session_fail (session, LSP_PROTO_ERROR_BAD_MESSAGE, detail);
      }
      break;
    }
}

/* A token bucket: FRAME_RATE frames a second, FRAME_BURST at once. */
static gboolean
spend_frame_budget (Session *session)
{
  gint64 now = g_get_monotonic_time ();

  session->frame_budget = MIN ((double) FRAME_BURST,
                               session->frame_budget + (now - session->budget_time) * FRAME_RATE / 1e6);
  session->budget_time = now;
  if (session->frame_budget < 1.0)
    return FALSE;
  session->frame_budget -= 1.0;
  return TRUE;
}

static void
on_control_read (LspQuicStream *stream,
                 const guint8  *data,
                 gsize          length,
                 gboolean       fin,
                 const GError  *error,
                 gpointer       user_data)
{
  Session *session = user_data;

  if (error != NULL)
    {
      if (!session->closing)
        session_close (session, error->message);
      return;
    }

  session->last_received = g_get_monotonic_time ();

  while (length > 0 && !session->closing)
    {
      g_autoptr(GError) local_error = NULL;
      gsize used = lsp_frame_decoder_feed (session->decoder, data, length, &local_error);
      GBytes *payload;

      if (local_error != NULL)
        {
          session_fail (session,
                        g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE)
                          ? LSP_PROTO_ERROR_FRAME_TOO_LARGE : LSP_PROTO_ERROR_BAD_FRAME,
                        local_error->message);
          return;
        }
      data += used;
      length -= used;

      while (!session->closing && (payload = lsp_frame_decoder_pop (session->decoder)) != NULL)
        {
          g_autoptr(GBytes) owned = payload;
          g_autoptr(LspMessage) message = NULL;
          gsize size;
          const guint8 *bytes = g_bytes_get_data (owned, &size);

          if (!spend_frame_budget (session))
            {
              session_fail (session, LSP_PROTO_ERROR_BAD_MESSAGE, "too many messages: more than the flood limit");
              return;
            }

          message = lsp_message_parse (bytes, size, &local_error);
          if (message == NULL)
            {
              session_fail (session, LSP_PROTO_ERROR_BAD_MESSAGE, local_error->message);
              return;
            }
          handle_message (session, message);
        }
    }

  /* The frames that came with the end of the stream (a Goodbye) count. */
  if (fin && !session->closing)
    session_close (session, "closed its control stream");
}

static void
on_connection_closed (LspQuicConnection *conn,
                      const GError      *error,
                      Session           *session)
{
  session_end (session, error != NULL ? error->message : "connection closed");
}

static void
session_attach_control (Session       *session,
                        LspQuicStream *stream)
{
  session->control = g_object_ref (stream);
  lsp_quic_stream_set_read_func (stream, on_control_read, session, NULL);
}

static void
on_incoming_stream (LspQuicConnection *conn,
                    LspQuicStream     *stream,
                    Session           *session)
{
  if (session->control == NULL && !session->is_client && lsp_quic_stream_is_bidirectional (stream))
    {
      session_attach_control (session, stream);
      return;
    }
  /* Data streams arrive with the download engine; until then nothing
   * else is served. */
  lsp_quic_stream_reset (stream, APP_ERROR_CLOSE);
}

static Session *
session_new (LspNode           *self,
             LspQuicConnection *conn,
             gboolean           is_client)
{
  Session *session = g_new0 (Session, 1);

  session->node = self;
  session->conn = g_object_ref (conn);
  session->is_client = is_client;
  session->decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_FRAME);
  session->last_received = g_get_monotonic_time ();
  session->frame_budget = FRAME_BURST;
  session->budget_time = session->last_received;
  g_ptr_array_add (self->sessions, session);

  g_signal_connect (conn, "incoming-stream", G_CALLBACK (on_incoming_stream), session);
  g_signal_connect (conn, "closed", G_CALLBACK (on_connection_closed), session);
  return session;
}

static void
on_incoming_connection (LspQuicEndpoint   *endpoint,
                        LspQuicConnection *conn,
                        LspNode           *self)
{
  Session *session;

  if (self->stopping)
    {
      lsp_quic_connection_close (conn, APP_ERROR_CLOSE, "shutting down");
      return;
    }
  session = session_new (self, conn, FALSE);
  /* A peer that never opens its control stream is dropped like a quiet one. */
  start_liveness (session);
}

/* ---- dialling ---- */

typedef struct
{
  LspNode    *node;
  StaticPeer *static_peer;   /* NULL for a discovered peer */
  char       *peer_id;       /* the discovered peer's id */
} Dial;

static void
dial_free (Dial *dial)
{
  g_clear_object (&dial->node);
  g_free (dial->peer_id);
  g_free (dial);
}

static gboolean
on_retry_static (gpointer user_data)
{
  StaticPeer *static_peer = user_data;
  LspNode *self = g_object_get_data (G_OBJECT (static_peer->address), "lsp-node");

  static_peer->retry_id = 0;
  dial_static_peer (self, static_peer);
  return G_SOURCE_REMOVE;
}

/* A static peer that cannot be reached, or that dropped us, is dialled
 * again after a growing pause, so a peer we cannot talk to is not hammered. */
static void
schedule_static_retry (StaticPeer *static_peer)
{
  static_peer->retry_id = g_timeout_add (static_peer->retry_ms, on_retry_static, static_peer);
  static_peer->retry_ms = MIN (static_peer->retry_ms * 2, LSP_NODE_RETRY_MAX_MS);
}

static void
on_dialled (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Dial *dial = user_data;
  LspNode *self = dial->node;
  g_autoptr(LspQuicConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicStream) control = NULL;
  Session *session;

  conn = lsp_quic_endpoint_connect_finish (LSP_QUIC_ENDPOINT (object), result, &error);
  if (dial->peer_id != NULL)
    g_hash_table_remove (self->dialing, dial->peer_id);
  if (dial->static_peer != NULL)
    dial->static_peer->connecting = FALSE;

  if (conn == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_message ("Could not reach %s: %s",
                     dial->static_peer ? dial->static_peer->key : dial->peer_id, error->message);
          if (dial->static_peer != NULL && !self->stopping)
            schedule_static_retry (dial->static_peer);
        }
      dial_free (dial);
      return;
    }

  if (self->stopping)
    {
      lsp_quic_connection_close (conn, APP_ERROR_CLOSE, "shutting down");
      dial_free (dial);
      return;
    }

  session = session_new (self, conn, TRUE);
  control = lsp_quic_connection_open_stream (conn, TRUE, &error);
  if (control == NULL)
    {
      g_message ("Could not open a control stream to %s: %s", lsp_quic_connection_get_peer_id (conn), error->message);
      session_close (session, "no control stream");
      if (dial->static_peer != NULL)
        schedule_static_retry (dial->static_peer);
      dial_free (dial);
      return;
    }

  if (dial->static_peer != NULL)
    {
      session->static_peer = dial->static_peer;
      dial->static_peer->session = session;
    }
  session_attach_control (session, control);
  send_message (session, new_hello (self, LSP_MESSAGE_HELLO));
  start_liveness (session);
  dial_free (dial);
}

static void
dial_static_peer (LspNode    *self,
                  StaticPeer *static_peer)
{
  Dial *dial;

  if (self->stopping || static_peer->connecting || static_peer->session != NULL || self->endpoint == NULL)
    return;

  static_peer->connecting = TRUE;
  dial = g_new0 (Dial, 1);
  dial->node = g_object_ref (self);
  dial->static_peer = static_peer;
  lsp_quic_endpoint_connect_async (self->endpoint, static_peer->address, NULL,
                                   self->cancellable, on_dialled, dial);
}

static void
on_peer_found (LspDiscovery            *discovery,
               const LspDiscoveredPeer *found,
               LspNode                 *self)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  LspPeer *known;
  Dial *dial;

  /* Of two peers that see each other, the smaller peer_id dials. */
  if (self->stopping || strcmp (lsp_identity_get_peer_id (self->identity), found->peer_id) >= 0)
    return;
  if (found->proto_ver < self->proto_min)
    {
      g_message ("Not connecting to %s: it speaks protocol %u, we need %u or newer",
                 found->peer_id, found->proto_ver, self->proto_min);
      return;
    }
  known = g_hash_table_lookup (self->peers, found->peer_id);
  if ((known != NULL && lsp_peer_get_connected (known)) || g_hash_table_contains (self->dialing, found->peer_id))
    return;

  inet = g_inet_address_new_from_string (found->host);
  if (inet == NULL)
    return;
  address = g_inet_socket_address_new (inet, found->port);

  g_hash_table_add (self->dialing, g_strdup (found->peer_id));
  dial = g_new0 (Dial, 1);
  dial->node = g_object_ref (self);
  dial->peer_id = g_strdup (found->peer_id);
  lsp_quic_endpoint_connect_async (self->endpoint, G_INET_SOCKET_ADDRESS (address), found->peer_id,
                                   self->cancellable, on_dialled, dial);
}

/* ---- pushing our changes ---- */

static gboolean
push_changes (gpointer user_data)
{
  LspNode *self = user_data;
  guint64 rev = lsp_library_get_rev (self->library);

  self->push_id = 0;
  for (guint i = 0; i < self->sessions->len; i++)
    {
      Session *session = g_ptr_array_index (self->sessions, i);
      LspMessage *message;

      if (!session->established || session->closing || session->sent_rev == rev)
        continue;
      message = new_delta_since (self, session->sent_rev);
      send_message (session, message != NULL ? message : new_summary (self));
      session->sent_rev = rev;
    }
  return G_SOURCE_REMOVE;
}

static void
on_library_changed (LspLibrary         *library,
                    guint64             rev,
                    const char * const *changed,
                    const char * const *removed,
                    LspNode            *self)
{
  HistoryEntry *entry = g_new0 (HistoryEntry, 1);

  entry->from_rev = self->history_rev;
  entry->to_rev = rev;
  entry->changed = g_strdupv ((char **) changed);
  entry->removed = g_strdupv ((char **) removed);
  g_queue_push_tail (&self->history, entry);
  while (self->history.length > LSP_PROTO_DELTA_HISTORY)
    history_entry_free (g_queue_pop_head (&self->history));
  self->history_rev = rev;

  if (self->discovery != NULL)
    lsp_discovery_set_library_rev (self->discovery, rev);
  if (self->push_id == 0)
    self->push_id = g_timeout_add (LSP_NODE_PUSH_DEBOUNCE_MS, push_changes, self);
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
  g_signal_connect_object (self->endpoint, "incoming-connection", G_CALLBACK (on_incoming_connection), self, 0);

  self->history_rev = lsp_library_get_rev (self->library);
  g_signal_connect_object (self->library, "changed", G_CALLBACK (on_library_changed), self, 0);

  for (guint i = 0; i < self->static_peers->len; i++)
    dial_static_peer (self, g_ptr_array_index (self->static_peers, i));
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
  g_autoptr(GSocketAddress) address = NULL;
  g_autofree char *host = NULL;
  guint16 port = 0;

  g_return_val_if_fail (LSP_IS_NODE (self), FALSE);

  if (!lsp_proto_parse_listen_addr (host_port, &host, &port) ||
      (address = g_inet_socket_address_new_from_string (host, port)) == NULL)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT,
                   "“%s” is not an IP address and port like 192.0.2.7:41000 or [2001:db8::7]:41000",
                   host_port);
      return FALSE;
    }
  lsp_node_add_static_peer (self, G_INET_SOCKET_ADDRESS (address));
  return TRUE;
}

LspDiscovery *
lsp_node_get_discovery (LspNode *self)
{
  g_return_val_if_fail (LSP_IS_NODE (self), NULL);
  return self->discovery;
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
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT, "Cannot announce this peer on the network");
      return FALSE;
    }
  lsp_discovery_set_library_rev (self->discovery, lsp_library_get_rev (self->library));
  g_signal_connect_object (self->discovery, "peer-found", G_CALLBACK (on_peer_found), self, 0);
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
    dial_static_peer (self, static_peer);
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
    {
      Session *session = g_ptr_array_index (self->sessions, self->sessions->len - 1);
      g_autoptr(LspQuicConnection) conn = g_object_ref (session->conn);
      g_autoptr(LspMessage) goodbye = lsp_message_new_goodbye (lsp_identity_get_peer_id (self->identity), reason);
      g_autoptr(GBytes) frame = lsp_message_encode (goodbye, LSP_PROTO_MAX_FRAME, NULL);
      gboolean say_goodbye = session->established && session->control != NULL && frame != NULL;

      /* The peer closes the connection when it reads the Goodbye; closing
       * it here could overtake the frame. */
      if (say_goodbye)
        lsp_quic_stream_write_bytes_async (session->control, frame, TRUE, NULL, on_write_done, NULL);
      session->closing = TRUE;
      session_end (session, "we are shutting down");
      if (!say_goodbye)
        lsp_quic_connection_close (conn, APP_ERROR_CLOSE, reason);
    }
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
  if (self->sessions != NULL)
    {
      while (self->sessions->len > 0)
        {
          Session *session = g_ptr_array_steal_index (self->sessions, self->sessions->len - 1);
          g_autoptr(LspQuicConnection) conn = g_object_ref (session->conn);

          /* Detached first, so the close cannot call back into a node
           * that is going away. */
          session_free (session);
          lsp_quic_connection_close (conn, APP_ERROR_CLOSE, "shutting down");
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
  g_clear_pointer (&self->peers, g_hash_table_unref);
  g_clear_pointer (&self->peer_list, g_ptr_array_unref);
  g_clear_pointer (&self->dialing, g_hash_table_unref);
  g_queue_clear_full (&self->history, (GDestroyNotify) history_entry_free);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->library);
  g_clear_object (&self->identity);
  g_clear_pointer (&self->hostname, g_free);

  G_OBJECT_CLASS (lsp_node_parent_class)->finalize (object);
}

static void
lsp_node_class_init (LspNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lsp_node_dispose;
  object_class->finalize = lsp_node_finalize;
}

static void
lsp_node_init (LspNode *self)
{
  self->cancellable = g_cancellable_new ();
  self->sessions = g_ptr_array_new_with_free_func ((GDestroyNotify) session_free);
  self->peers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  self->peer_list = g_ptr_array_new_with_free_func (g_object_unref);
  self->static_peers = g_ptr_array_new_with_free_func ((GDestroyNotify) static_peer_free);
  self->dialing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init (&self->history);
  self->idle_ping_ms = LSP_PROTO_IDLE_PING_SECONDS * 1000;
  self->stale_ms = LSP_PROTO_STALE_SECONDS * 1000;
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
