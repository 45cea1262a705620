#define G_LOG_DOMAIN "lsp-node"

#include "config.h"

#include "lsp-node-private.h"

#include "lsp-error.h"
#include "lsp-game-root.h"
#include "lsp-sync.h"

#include <string.h>

/* One peer's session on its control stream: handshake, duplicate
 * connections, library sync, manifests, liveness and flood limits. */

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

void
_lsp_session_send_message (Session    *session,
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

typedef struct
{
  GTask       *task;
  LspManifest *manifest;   /* or */
  GError      *error;
} FetchResult;

static gboolean
complete_fetch (gpointer user_data)
{
  FetchResult *result = user_data;

  if (result->manifest != NULL)
    g_task_return_pointer (result->task, g_steal_pointer (&result->manifest), (GDestroyNotify) lsp_manifest_unref);
  else
    g_task_return_error (result->task, g_steal_pointer (&result->error));
  g_object_unref (result->task);
  g_free (result);
  return G_SOURCE_REMOVE;
}

/* Fetches complete from an idle: answers arrive inside the session's own
 * frame handling, and a session is freed inside the node's bookkeeping,
 * where a caller's callback must not run. Takes the task. */
static void
complete_fetch_later (GTask       *task,
                      LspManifest *manifest,
                      GError      *error)
{
  FetchResult *result = g_new0 (FetchResult, 1);

  result->task = task;
  result->manifest = manifest;
  result->error = error;
  g_idle_add (complete_fetch, result);
}

void
_lsp_session_free (Session *session)
{
  GTask *fetch;

  g_clear_handle_id (&session->manifest_timeout_id, g_source_remove);
  while ((fetch = g_queue_pop_head (&session->manifest_fetches)) != NULL)
    complete_fetch_later (fetch, NULL,
                          g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                               "The connection to the peer ended before it sent the manifest"));
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
        _lsp_node_schedule_static_retry (static_peer);
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
        _lsp_node_remove_peer (self, session->peer, reason);
    }

  g_ptr_array_remove (self->sessions, session);
}

static gboolean
session_close_now (gpointer user_data)
{
  Session *session = user_data;
  g_autoptr(LspQuicConnection) conn = g_object_ref (session->conn);
  g_autofree char *reason = g_steal_pointer (&session->close_reason);
  guint64 code = session->close_code;

  session->close_id = 0;
  session_end (session, reason);   /* frees the session */
  lsp_quic_connection_close (conn, code, reason);
  return G_SOURCE_REMOVE;
}

/* Closing is deferred to an idle: it frees the session, and it is asked
 * for from inside the session's own callbacks. */
void
_lsp_session_close (Session    *session,
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
      _lsp_session_close (session, "stale: nothing heard within the stale timeout");
      return G_SOURCE_REMOVE;
    }

  if (quiet_ms >= self->idle_ping_ms && !session->ping_outstanding)
    {
      session->ping_outstanding = TRUE;
      _lsp_session_send_message (session, lsp_message_new_ping (LSP_MESSAGE_PING, ++session->ping_nonce));
    }

  next_ms = quiet_ms < self->idle_ping_ms ? (guint) (self->idle_ping_ms - quiet_ms)
                                          : (guint) (self->stale_ms - quiet_ms);
  session->liveness_id = g_timeout_add (MAX (next_ms, 10), on_liveness, session);
  return G_SOURCE_REMOVE;
}

void
_lsp_session_start_liveness (Session *session)
{
  g_clear_handle_id (&session->liveness_id, g_source_remove);
  session->liveness_id = g_timeout_add (session->node->idle_ping_ms, on_liveness, session);
}

static void
request_library (Session       *session,
                 LspSyncAction  action)
{
  if (action == LSP_SYNC_ASK_DELTA)
    _lsp_session_send_message (session, lsp_message_new_get_library (TRUE, lsp_peer_get_library_rev (session->peer)));
  else if (action == LSP_SYNC_ASK_SNAPSHOT)
    _lsp_session_send_message (session, lsp_message_new_get_library (FALSE, 0));
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
          _lsp_session_close (other, "duplicate connection");
          return TRUE;
        }
      if (other->static_peer == NULL && session->static_peer != NULL)
        {
          other->static_peer = session->static_peer;
          other->static_peer->session = other;
          session->static_peer = NULL;
        }
      _lsp_session_close (session, "duplicate connection");
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
    _lsp_session_send_message (session, _lsp_node_new_hello (self, LSP_MESSAGE_HELLO_ACK));

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
  _lsp_node_add_peer_to_model (self, peer);
  g_message ("Peer %s (%s) at %s joined", hello->hostname, hello->peer_id, address);

  session->sent_rev = lsp_library_get_rev (self->library);
  _lsp_session_send_message (session, _lsp_node_new_summary (self));
  plan_from_summary (session, hello->library_rev, hello->library_digest);
  _lsp_session_start_liveness (session);
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
    answer = _lsp_node_new_delta_since (self, since_rev);
  if (answer == NULL)
    answer = _lsp_node_new_snapshot (self);

  session->sent_rev = lsp_library_get_rev (self->library);
  session->last_library_answer = g_get_monotonic_time ();
  _lsp_session_send_message (session, answer);
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
      _lsp_session_send_message (session, lsp_message_new_error (LSP_PROTO_ERROR_BUSY, FALSE,
                                                    "Too many manifest requests at once; ask again later"));
      return;
    }

  /* A damaged game's manifest is what its files hash to now: not one to
   * download by. */
  if (game == NULL || lsp_local_game_get_busy (game) || lsp_local_game_get_damaged (game) ||
      g_strcmp0 (lsp_local_game_get_manifest_hash (game), request->manifest_hash) != 0)
    {
      _lsp_session_send_message (session, lsp_message_new_error (game != NULL && lsp_local_game_get_busy (game)
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

static void send_next_manifest_fetch (Session *session);

/* A Manifest answers the fetch on the wire when it is for the same game
 * and hash; one nobody asked for is dropped. The codec already checked
 * that it hashes to its name and belongs to its game. */
static void
answer_manifest_fetch (Session               *session,
                       const LspManifestBody *answer)
{
  GTask *task = g_queue_peek_head (&session->manifest_fetches);
  const char * const *asked = task != NULL ? g_task_get_task_data (task) : NULL;

  if (asked == NULL || !g_str_equal (asked[0], answer->game_id) || !g_str_equal (asked[1], answer->manifest_hash))
    {
      g_debug ("Dropping a Manifest of %s nobody asked %s for", answer->game_id, lsp_peer_get_id (session->peer));
      return;
    }
  g_queue_pop_head (&session->manifest_fetches);
  complete_fetch_later (task, lsp_manifest_ref (answer->manifest), NULL);
  send_next_manifest_fetch (session);
}

/* Errors carry no request id; on the control stream only a manifest fetch
 * is answered by a non-fatal one, so it refuses the fetch on the wire. */
static void
refuse_manifest_fetch (Session            *session,
                       const LspErrorBody *error)
{
  GTask *task = g_queue_pop_head (&session->manifest_fetches);
  int code = g_str_equal (error->code, LSP_PROTO_ERROR_BUSY) ? G_IO_ERROR_BUSY : G_IO_ERROR_NOT_FOUND;

  if (task == NULL)
    return;
  complete_fetch_later (task, NULL, g_error_new (G_IO_ERROR, code, "%s refused the manifest: %s",
                                                 lsp_peer_get_hostname (session->peer), error->message));
  send_next_manifest_fetch (session);
}

static gboolean on_manifest_fetch_timeout (gpointer user_data);

/* Only the oldest fetch is on the wire: a peer may answer a refusal
 * before an earlier success, and answers carry no request id. */
static void
send_next_manifest_fetch (Session *session)
{
  GTask *task = g_queue_peek_head (&session->manifest_fetches);
  const char * const *asked;

  g_clear_handle_id (&session->manifest_timeout_id, g_source_remove);
  if (task == NULL)
    return;
  asked = g_task_get_task_data (task);
  _lsp_session_send_message (session, lsp_message_new_get_manifest (asked[0], asked[1]));
  session->manifest_timeout_id = g_timeout_add_seconds (MANIFEST_FETCH_TIMEOUT_SECONDS,
                                                        on_manifest_fetch_timeout, session);
}

static gboolean
on_manifest_fetch_timeout (gpointer user_data)
{
  Session *session = user_data;
  GTask *task = g_queue_pop_head (&session->manifest_fetches);

  session->manifest_timeout_id = 0;
  complete_fetch_later (task, NULL, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                                 "%s did not send the manifest in %u seconds",
                                                 lsp_peer_get_hostname (session->peer),
                                                 MANIFEST_FETCH_TIMEOUT_SECONDS));
  send_next_manifest_fetch (session);
  return G_SOURCE_REMOVE;
}

void
_lsp_session_fetch_manifest (Session *session,
                             GTask   *task)
{
  g_queue_push_tail (&session->manifest_fetches, g_object_ref (task));
  if (g_queue_get_length (&session->manifest_fetches) == 1)
    send_next_manifest_fetch (session);
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
          _lsp_session_close (session, "refused during the handshake");
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
      _lsp_session_send_message (session, lsp_message_new_ping (LSP_MESSAGE_PONG, message->ping.nonce));
      break;
    case LSP_MESSAGE_PONG:
      session->ping_outstanding = FALSE;
      break;
    case LSP_MESSAGE_GOODBYE:
      if (check_sender (session, message->goodbye.peer_id))
        {
          /* Its Goodbye ends the connection: we close it, as a shutdown. */
          session->close_code = APP_ERROR_SHUTDOWN;
          _lsp_session_close (session, message->goodbye.reason ? message->goodbye.reason : "said goodbye");
        }
      break;
    case LSP_MESSAGE_MANIFEST:
      answer_manifest_fetch (session, &message->manifest);
      break;
    case LSP_MESSAGE_ERROR:
      g_message ("Peer %s reports %s: %s", lsp_peer_get_id (session->peer),
                 message->error.code, message->error.message);
      if (message->error.fatal)
        _lsp_session_close (session, "fatal error from the peer");
      else
        refuse_manifest_fetch (session, &message->error);
      break;
    case LSP_MESSAGE_UNKNOWN:
      _lsp_session_send_message (session, lsp_message_new_error (LSP_PROTO_ERROR_UNKNOWN_TYPE, FALSE,
                                                    "Unknown message type “%s”", message->type_name));
      break;
    case LSP_MESSAGE_HELLO:
    case LSP_MESSAGE_HELLO_ACK:
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
        _lsp_session_close (session, error->message);
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
    _lsp_session_close (session, "closed its control stream");
}

static void
on_connection_closed (LspQuicConnection *conn,
                      const GError      *error,
                      Session           *session)
{
  session_end (session, error != NULL ? error->message : "connection closed");
}

void
_lsp_session_attach_control (Session       *session,
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
      _lsp_session_attach_control (session, stream);
      return;
    }
  if (session->established && !session->closing && lsp_quic_stream_is_bidirectional (stream))
    {
      gboolean handled = FALSE;

      g_signal_emit (session->node, _lsp_node_signals[NODE_SIGNAL_DATA_STREAM], 0,
                     session->peer, stream, &handled);
      if (handled)
        return;
    }
  lsp_quic_stream_reset (stream, APP_ERROR_CLOSE);
}

Session *
_lsp_session_new (LspNode           *self,
                  LspQuicConnection *conn,
                  gboolean           is_client)
{
  Session *session = g_new0 (Session, 1);

  session->node = self;
  session->conn = g_object_ref (conn);
  session->is_client = is_client;
  session->decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_FRAME);
  session->close_code = APP_ERROR_CLOSE;
  session->last_received = g_get_monotonic_time ();
  session->frame_budget = FRAME_BURST;
  session->budget_time = session->last_received;
  g_ptr_array_add (self->sessions, session);

  g_signal_connect (conn, "incoming-stream", G_CALLBACK (on_incoming_stream), session);
  g_signal_connect (conn, "closed", G_CALLBACK (on_connection_closed), session);
  return session;
}

void
_lsp_node_on_incoming_connection (LspQuicEndpoint   *endpoint,
                                  LspQuicConnection *conn,
                                  LspNode           *self)
{
  Session *session;

  if (self->stopping)
    {
      lsp_quic_connection_close (conn, APP_ERROR_SHUTDOWN, "shutting down");
      return;
    }
  session = _lsp_session_new (self, conn, FALSE);
  /* A peer that never opens its control stream is dropped like a quiet one. */
  _lsp_session_start_liveness (session);
}

static void
on_goodbye_written (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(LspNode) self = user_data;

  on_write_done (object, result, NULL);
  g_assert (self->goodbyes_pending > 0);
  if (--self->goodbyes_pending == 0)
    _lsp_node_goodbyes_sent (self);
}

/* Ends the session with a Goodbye where it can carry one. */
void
_lsp_session_say_goodbye (Session    *session,
                          const char *reason)
{
  LspNode *self = session->node;
  g_autoptr(LspQuicConnection) conn = g_object_ref (session->conn);
  g_autoptr(LspMessage) goodbye = lsp_message_new_goodbye (lsp_identity_get_peer_id (self->identity), reason);
  g_autoptr(GBytes) frame = lsp_message_encode (goodbye, LSP_PROTO_MAX_FRAME, NULL);
  gboolean say_goodbye = session->established && session->control != NULL && frame != NULL;

  /* The peer closes the connection when it reads the Goodbye; closing
   * it here could overtake the frame. */
  if (say_goodbye)
    {
      self->goodbyes_pending++;
      lsp_quic_stream_write_bytes_async (session->control, frame, TRUE, NULL,
                                         on_goodbye_written, g_object_ref (self));
    }
  session->closing = TRUE;
  session_end (session, "we are shutting down");
  if (!say_goodbye)
    lsp_quic_connection_close (conn, APP_ERROR_SHUTDOWN, reason);
}
