#define G_LOG_DOMAIN "lsp-node"

#include "config.h"

#include "lsp-node-private.h"

#include "lsp-error.h"
#include "lsp-sync.h"
#include "lsp-util.h"

#include <glib/gi18n-lib.h>
#include <string.h>

/* One peer's session on its control stream: handshake, duplicate
 * connections, library sync, liveness and flood limits. Manifests are in
 * lsp-node-manifest.c. */

void
_lsp_session_on_write_done (GObject      *object,
                            GAsyncResult *result,
                            gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!lsp_quic_stream_write_bytes_finish (LSP_QUIC_STREAM (object), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("Control write failed: %s", error->message);
}

/* A peer that asks for snapshots and manifests and never reads the
 * answers would make us queue them without end: one that leaves more
 * than CONTROL_QUEUE_MAX bytes unread is dropped. */
static gboolean
control_has_room (Session *session,
                  gsize    frame_size)
{
  gsize queued = lsp_quic_stream_get_queued_bytes (session->control);

  if (queued + frame_size <= CONTROL_QUEUE_MAX)
    return TRUE;
  g_warning ("Dropping peer %s: it leaves %" G_GSIZE_FORMAT " bytes of our control stream unread",
             lsp_quic_connection_get_peer_id (session->conn), queued);
  _lsp_session_close (session, "it does not read its control stream");
  return FALSE;
}

void
_lsp_session_write_frame (Session *session,
                          GBytes  *frame)
{
  if (session->closing || session->control == NULL)
    return;
  if (control_has_room (session, g_bytes_get_size (frame)))
    lsp_quic_stream_write_bytes_async (session->control, frame, FALSE, NULL, _lsp_session_on_write_done, NULL);
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
  _lsp_session_write_frame (session, frame);
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
void
_lsp_session_fail (Session    *session,
              const char *code,
              const char *detail)
{
  g_autoptr(LspMessage) message = NULL;
  g_autoptr(GBytes) frame = NULL;
  g_autofree char *address = NULL;
  g_autofree char *escaped = NULL;
  GInetSocketAddress *remote;

  if (session->closing)
    return;

  remote = lsp_quic_connection_get_remote_address (session->conn);
  address = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (remote));
  /* A parse error may quote what the peer sent. */
  escaped = lsp_escape_untrusted (detail, -1);
  g_warning ("Dropping peer %s at %s: %s", lsp_quic_connection_get_peer_id (session->conn), address, escaped);

  message = lsp_message_new_error (code, TRUE, "%s", detail);
  frame = lsp_message_encode (message, LSP_PROTO_MAX_FRAME, NULL);
  if (frame != NULL && session->control != NULL)
    lsp_quic_stream_write_bytes_async (session->control, frame, TRUE, NULL, on_error_sent,
                                       g_object_ref (session->conn));
  else
    lsp_quic_connection_close (session->conn, APP_ERROR_CLOSE, "protocol error");
  session->closing = TRUE;
}

void
_lsp_session_free (Session *session)
{
  g_cancellable_cancel (session->cancellable);
  g_clear_object (&session->cancellable);
  _lsp_session_clear_frames (session);
  _lsp_session_drop_manifest_fetches (session);
  g_clear_handle_id (&session->liveness_id, g_source_remove);
  g_clear_handle_id (&session->hello_timeout_id, g_source_remove);
  g_clear_handle_id (&session->close_id, g_source_remove);
  g_clear_handle_id (&session->library_answer_id, g_source_remove);
  g_clear_pointer (&session->close_reason, g_free);
  g_clear_pointer (&session->awaiting_auth, lsp_message_unref);
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

/* The peer told us its listener over a connection from its own IP: a
 * service announcing that IP and port is that peer's, whatever other
 * services claim its peer_id. */
static void
note_verified_listener (Session    *session,
                        const char *their_listen_addr)
{
  GInetSocketAddress *remote = lsp_quic_connection_get_remote_address (session->conn);
  g_autofree char *remote_host = g_inet_address_to_string (g_inet_socket_address_get_address (remote));
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) inet = NULL;
  guint16 port = 0;

  if (session->node->discovery == NULL || !lsp_proto_parse_listen_addr (their_listen_addr, &host, &port))
    return;
  inet = g_inet_address_new_from_string (host);
  if (inet == NULL || (!g_inet_address_get_is_any (inet) && !g_str_equal (host, remote_host)))
    return;
  lsp_discovery_set_verified (session->node->discovery, lsp_quic_connection_get_peer_id (session->conn),
                              remote_host, port);
}

/* Of two connections between the same pair of peers, both sides keep the
 * one dialled by the smaller peer_id, so they agree without talking. */
static const char *
session_dialler (Session *session)
{
  return session->is_client ? lsp_identity_get_peer_id (session->node->identity)
                            : lsp_quic_connection_get_peer_id (session->conn);
}

static Session *
find_duplicate (Session *session)
{
  LspNode *self = session->node;

  for (guint i = 0; i < self->sessions->len; i++)
    {
      Session *other = g_ptr_array_index (self->sessions, i);

      if (other != session && other->established && !other->closing &&
          g_strcmp0 (lsp_quic_connection_get_peer_id (other->conn),
                     lsp_quic_connection_get_peer_id (session->conn)) == 0)
        return other;
    }
  return NULL;
}

static gboolean
resolve_duplicate (Session *session)
{
  Session *other = find_duplicate (session);

  if (other != NULL)
    {
      /* Both dialled by the same side: the newer wins, at both ends. A
       * dialler dials again only when it lost the old connection (it was
       * restarted, or its end timed out first), which the accepting end
       * would otherwise notice only at its idle timeout; and a peer that
       * keeps dialling still holds one connection at a time. */
      if (strcmp (session_dialler (session), session_dialler (other)) <= 0)
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

static gboolean
on_hello_timeout (gpointer user_data)
{
  Session *session = user_data;

  session->hello_timeout_id = 0;
  _lsp_session_close (session, "no Hello within the Hello timeout");
  return G_SOURCE_REMOVE;
}

/* A peer met before (in known-peers with the name of a completed
 * session) shows as known; a --peer address is pinned to the peer that
 * answered there. */
static void
remember_peer (Session    *session,
               LspPeer    *peer,
               const char *hostname)
{
  LspKnownPeers *known = lsp_quic_endpoint_get_known_peers (session->node->endpoint);
  const char *peer_id = lsp_peer_get_id (peer);
  g_autofree char *known_as = lsp_known_peers_dup_hostname (known, peer_id);

  if (lsp_peer_get_known_as (peer) == NULL)
    lsp_peer_set_known_as (peer, known_as);
  lsp_known_peers_note_session (known, peer_id, hostname,
                                session->static_peer != NULL ? session->static_peer->key : NULL);
}

/* The Hello is done and, where the party has a passphrase, proven: the
 * peer is one of us. */
static void
complete_handshake (Session            *session,
                    const LspHelloBody *hello)
{
  LspNode *self = session->node;
  g_autofree char *address = NULL;
  LspPeer *peer;

  session->established = TRUE;
  session->swarm = self->swarm && hello->features != NULL &&
                   g_strv_contains ((const char * const *) hello->features, LSP_PROTO_FEATURE_SWARM);
  lsp_frame_decoder_set_max_frame (session->decoder, LSP_PROTO_MAX_FRAME);
  g_clear_handle_id (&session->hello_timeout_id, g_source_remove);
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
  note_verified_listener (session, hello->listen_addr);
  remember_peer (session, peer, hello->hostname);
  lsp_peer_set_address (peer, address);
  lsp_peer_set_hostname (peer, hello->hostname);
  lsp_peer_set_connected (peer, TRUE);
  lsp_peer_touch (peer);
  _lsp_node_add_peer_to_model (self, peer);
  g_message ("Peer %s (%s) at %s joined", hello->hostname, hello->peer_id, address);

  session->sent_rev = lsp_library_get_rev (self->library);
  _lsp_session_send_message (session, _lsp_node_new_summary (self));
  plan_from_summary (session, hello->library_rev, hello->library_digest);
  _lsp_session_send_published (session);
  _lsp_session_start_liveness (session);
}

static void
send_auth (Session *session)
{
  LspNode *self = session->node;
  g_autoptr(GError) error = NULL;
  g_autofree char *proof =
    lsp_party_key_prove (self->party_key, session->conn, lsp_identity_get_peer_id (self->identity),
                         lsp_quic_connection_get_peer_id (session->conn), &error);

  if (proof == NULL)
    {
      g_warning ("Cannot prove the party passphrase to %s: %s",
                 lsp_quic_connection_get_peer_id (session->conn), error->message);
      _lsp_session_fail (session, LSP_PROTO_ERROR_INTERNAL, "cannot compute the passphrase proof");
      return;
    }
  _lsp_session_send_message (session, lsp_message_new_auth (proof));
}

static void
handle_handshake (Session    *session,
                  LspMessage *message)
{
  LspNode *self = session->node;
  const LspHelloBody *hello = &message->hello;
  gboolean they_prove = hello->features != NULL &&
                        g_strv_contains ((const char * const *) hello->features, LSP_PROTO_FEATURE_AUTH);
  guint version;

  if (!lsp_proto_negotiate_version (self->proto_min, self->proto_max,
                                    hello->min_proto_ver, hello->proto_ver, &version))
    {
      g_autofree char *detail =
        g_strdup_printf ("no common protocol version (we speak %u–%u, it speaks %u–%u)",
                         self->proto_min, self->proto_max, hello->min_proto_ver, hello->proto_ver);
      _lsp_session_fail (session, LSP_PROTO_ERROR_INCOMPATIBLE_VERSION, detail);
      return;
    }

  /* A party with a passphrase and a peer without one cannot talk, in
   * either direction: each refuses before anything else is said. */
  if (they_prove != (self->party_key != NULL))
    {
      _lsp_session_fail (session, LSP_PROTO_ERROR_UNAUTHORIZED,
                         self->party_key != NULL ? "this party needs a passphrase, and the peer has none"
                                                 : "the peer asks for a passphrase, and this peer has none");
      return;
    }

  if (!session->is_client)
    _lsp_session_send_message (session, _lsp_node_new_hello (self, LSP_MESSAGE_HELLO_ACK));

  if (self->party_key == NULL)
    {
      complete_handshake (session, hello);
      return;
    }
  session->awaiting_auth = lsp_message_ref (message);
  send_auth (session);
}

static void
handle_auth (Session    *session,
             LspMessage *message)
{
  LspNode *self = session->node;
  g_autoptr(LspMessage) hello = g_steal_pointer (&session->awaiting_auth);

  if (!lsp_party_key_check (self->party_key, session->conn, lsp_quic_connection_get_peer_id (session->conn),
                            lsp_identity_get_peer_id (self->identity), message->auth.proof))
    {
      _lsp_session_fail (session, LSP_PROTO_ERROR_UNAUTHORIZED, "wrong passphrase proof");
      return;
    }
  complete_handshake (session, &hello->hello);
}

static gboolean
check_sender (Session    *session,
              const char *peer_id)
{
  if (g_strcmp0 (peer_id, lsp_quic_connection_get_peer_id (session->conn)) == 0)
    return TRUE;
  _lsp_session_fail (session, LSP_PROTO_ERROR_BAD_MESSAGE, "peer_id differs from the connection's identity");
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
  guint count_after;

  if (action != LSP_SYNC_APPLY)
    {
      request_library (session, action);
      return;
    }

  count_after = lsp_peer_count_after_delta (session->peer, delta);
  if (count_after > LSP_PROTO_MAX_GAMES)
    {
      g_autofree char *detail = g_strdup_printf ("LibraryDelta would leave %u games, more than the %u a peer may have",
                                                 count_after, LSP_PROTO_MAX_GAMES);
      _lsp_session_fail (session, LSP_PROTO_ERROR_BAD_MESSAGE, detail);
      return;
    }
  /* What we hold no longer matches the peer's library: showing it would
   * offer games the peer may not have, so it goes until the snapshot. */
  if (!lsp_sync_delta_count_ok (delta, count_after))
    {
      lsp_peer_forget_library (session->peer);
      request_library (session, LSP_SYNC_ASK_SNAPSHOT);
      return;
    }
  lsp_peer_apply_delta (session->peer, delta);
}

void
_lsp_session_handle_message (Session    *session,
                LspMessage *message)
{
  if (!session->established)
    {
      LspMessageType expected = session->awaiting_auth != NULL ? LSP_MESSAGE_AUTH
                              : session->is_client ? LSP_MESSAGE_HELLO_ACK : LSP_MESSAGE_HELLO;

      if (message->type == LSP_MESSAGE_ERROR)
        {
          g_message ("Peer %s refused us: %s (%s)", lsp_quic_connection_get_peer_id (session->conn),
                     message->error.message, message->error.code);
          if (g_strcmp0 (message->error.code, LSP_PROTO_ERROR_UNAUTHORIZED) == 0)
            {
              GInetSocketAddress *remote = lsp_quic_connection_get_remote_address (session->conn);
              g_autofree char *address = session->static_peer != NULL
                ? g_strdup (session->static_peer->key)
                : g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (remote));

              _lsp_node_report_unauthorized (session->node, lsp_quic_connection_get_peer_id (session->conn), address);
            }
          _lsp_session_close (session, "refused during the handshake");
          return;
        }
      if (message->type == LSP_MESSAGE_GOODBYE && session->awaiting_auth != NULL)
        {
          _lsp_session_close (session, "said goodbye before proving the passphrase");
          return;
        }
      if (message->type != expected && session->awaiting_auth != NULL)
        {
          /* Whatever it asks, a peer that has not proven the passphrase
           * learns nothing but that. */
          _lsp_session_fail (session, LSP_PROTO_ERROR_UNAUTHORIZED, "the passphrase proof must come first");
          return;
        }
      if (message->type != expected)
        {
          _lsp_session_fail (session, LSP_PROTO_ERROR_BAD_MESSAGE, "the first message must be Hello or HelloAck");
          return;
        }
      if (message->type == LSP_MESSAGE_AUTH)
        handle_auth (session, message);
      else if (check_sender (session, message->hello.peer_id))
        handle_handshake (session, message);
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
      _lsp_session_answer_get_manifest (session, &message->manifest);
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
      _lsp_session_answer_manifest_fetch (session, &message->manifest);
      break;
    case LSP_MESSAGE_HAVE:
      _lsp_session_handle_have (session, &message->have);
      break;
    case LSP_MESSAGE_ERROR:
      g_message ("Peer %s reports %s: %s", lsp_peer_get_id (session->peer),
                 message->error.code, message->error.message);
      if (message->error.fatal)
        _lsp_session_close (session, "fatal error from the peer");
      else
        _lsp_session_refuse_manifest_fetch (session, &message->error);
      break;
    case LSP_MESSAGE_UNKNOWN:
      _lsp_session_send_message (session, lsp_message_new_error (LSP_PROTO_ERROR_UNKNOWN_TYPE, FALSE,
                                                    "Unknown message type “%s”", message->type_name));
      break;
    case LSP_MESSAGE_HELLO:
    case LSP_MESSAGE_HELLO_ACK:
    case LSP_MESSAGE_GET_CHUNK:
    case LSP_MESSAGE_CHUNK:
    case LSP_MESSAGE_AUTH:
    default:
      {
        g_autofree char *detail = g_strdup_printf ("%s is not allowed on the control stream now",
                                                   lsp_message_type_to_string (message->type));
        _lsp_session_fail (session, LSP_PROTO_ERROR_BAD_MESSAGE, detail);
      }
      break;
    }
}

static void
on_connection_closed (LspQuicConnection *conn,
                      const GError      *error,
                      Session           *session)
{
  session_end (session, error != NULL ? error->message : "connection closed");
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
  /* Until the handshake, only a Hello is welcome, and it is small. */
  session->decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_SMALL_FRAME);
  session->cancellable = g_cancellable_new ();
  session->close_code = APP_ERROR_CLOSE;
  session->last_received = g_get_monotonic_time ();
  session->frame_budget = FRAME_BURST;
  session->budget_time = session->last_received;
  session->hello_timeout_id = g_timeout_add (self->hello_timeout_ms, on_hello_timeout, session);
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
  _lsp_session_start_liveness (session);
}

static void
on_goodbye_written (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(LspNode) self = user_data;

  _lsp_session_on_write_done (object, result, NULL);
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
