#include "config.h"

#include <string.h>

#include "lsp-game-root.h"
#include "lsp-lan-library.h"
#include "lsp-node.h"
#include "lsp-quic-endpoint.h"
#include "lsp-test-util.h"

static const char * const catalog_ids[] = { "alpha", "beta", "gamma", "delta", NULL };

typedef struct
{
  char        *games;
  char        *state;
  LspLibrary  *library;
  LspIdentity *identity;
  LspNode     *node;
} TestPeer;

static void
test_peer_start (TestPeer   *peer,
                 const char *name)
{
  g_autoptr(LspCatalog) catalog = lsp_test_catalog_new (catalog_ids);
  g_autoptr(GFile) dir = g_file_new_for_path (peer->games);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) bind = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GError) error = NULL;

  peer->library = lsp_library_new (dir, catalog);
  lsp_test_load_library (peer->library);
  lsp_library_watch (peer->library);
  peer->identity = lsp_identity_load_or_create (peer->state, &error);
  g_assert_no_error (error);
  peer->node = lsp_node_new (peer->library, peer->identity, name);
  lsp_node_set_liveness (peer->node, 500, 3000);
  g_assert_true (lsp_node_start (peer->node, G_INET_SOCKET_ADDRESS (bind), &error));
  g_assert_no_error (error);
}

static void
test_peer_init (TestPeer   *peer,
                const char *name)
{
  peer->games = lsp_test_make_temp_dir ();
  peer->state = lsp_test_make_temp_dir ();
  test_peer_start (peer, name);
}

static void
test_peer_shutdown (TestPeer *peer)
{
  g_clear_object (&peer->node);
  g_clear_object (&peer->identity);
  g_clear_object (&peer->library);
}

static void
test_peer_clear (TestPeer *peer)
{
  test_peer_shutdown (peer);
  lsp_test_remove_tree (peer->games);
  lsp_test_remove_tree (peer->state);
  g_free (peer->games);
  g_free (peer->state);
}

static void
connect_to (TestPeer *from,
            TestPeer *to)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, lsp_node_get_port (to->node));

  lsp_node_add_static_peer (from->node, G_INET_SOCKET_ADDRESS (address));
}

typedef struct
{
  TestPeer   *viewer;
  TestPeer   *seen;
  const char *game_id;   /* NULL: just connected and synced */
  gboolean    present;
} SeeGame;

static gboolean
sees_game (gpointer data)
{
  SeeGame *see = data;
  LspPeer *peer = lsp_node_lookup_peer (see->viewer->node, lsp_node_get_peer_id (see->seen->node));

  if (peer == NULL || !lsp_peer_get_connected (peer) || !lsp_peer_get_has_library (peer))
    return see->game_id == NULL && !see->present;
  if (see->game_id == NULL)
    return see->present && g_strcmp0 (lsp_peer_get_library_digest (peer),
                                      lsp_library_get_digest (see->seen->library)) == 0;
  return (lsp_peer_lookup_game (peer, see->game_id) != NULL) == see->present;
}

static void
wait_synced (TestPeer *viewer,
             TestPeer *seen)
{
  SeeGame see = { viewer, seen, NULL, TRUE };
  g_assert_true (lsp_test_wait_until (sees_game, &see, 20000));
}

static void
wait_game (TestPeer   *viewer,
           TestPeer   *seen,
           const char *game_id,
           gboolean    present)
{
  SeeGame see = { viewer, seen, game_id, present };
  g_assert_true (lsp_test_wait_until (sees_game, &see, 20000));
}

static LspPeer *
peer_of (TestPeer *viewer,
         TestPeer *seen)
{
  LspPeer *peer = lsp_node_lookup_peer (viewer->node, lsp_node_get_peer_id (seen->node));
  g_assert_nonnull (peer);
  return peer;
}

static void
test_two_peers_sync (void)
{
  TestPeer a = { 0 }, b = { 0 };
  const LspGameSummary *summary;
  LspPeer *peer;

  test_peer_init (&a, "peer-a");
  test_peer_init (&b, "peer-b");
  lsp_test_make_game (a.games, "alpha", "1.0", 1000);
  lsp_test_make_game (b.games, "beta", "2.0", 2000);
  lsp_test_wait_idle (a.library);
  lsp_test_wait_idle (b.library);

  connect_to (&b, &a);
  wait_synced (&a, &b);
  wait_synced (&b, &a);

  peer = peer_of (&b, &a);
  g_assert_cmpstr (lsp_peer_get_hostname (peer), ==, "peer-a");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (b.node)), ==, 1);
  summary = lsp_peer_lookup_game (peer, "alpha");
  g_assert_nonnull (summary);
  g_assert_cmpstr (summary->version, ==, "1.0");
  g_assert_cmpuint (summary->size, ==, 1000);
  g_assert_cmpint (summary->availability, ==, LSP_AVAILABILITY_READY);
  g_assert_cmpstr (summary->manifest_hash, ==,
                   lsp_local_game_get_manifest_hash (lsp_library_lookup (a.library, "alpha")));
  g_assert_null (lsp_peer_lookup_game (peer, "beta"));

  peer = peer_of (&a, &b);
  g_assert_nonnull (lsp_peer_lookup_game (peer, "beta"));
  /* The listener address, never the dialler's source port. */
  {
    g_autofree char *expected = g_strdup_printf ("127.0.0.1:%u", lsp_node_get_port (b.node));
    g_assert_cmpstr (lsp_peer_get_address (peer), ==, expected);
  }

  test_peer_clear (&a);
  test_peer_clear (&b);
}

static void
test_changes_travel_as_deltas (void)
{
  TestPeer a = { 0 }, b = { 0 };
  g_autofree char *gamma = NULL;
  LspPeer *peer;
  guint snapshots;

  test_peer_init (&a, "peer-a");
  test_peer_init (&b, "peer-b");
  lsp_test_make_game (a.games, "alpha", "1.0", 1000);
  lsp_test_wait_idle (a.library);
  connect_to (&b, &a);
  wait_synced (&b, &a);

  peer = peer_of (&b, &a);
  snapshots = lsp_peer_get_n_snapshots (peer);
  g_assert_cmpuint (lsp_peer_get_n_deltas (peer), ==, 0);

  lsp_test_make_game (a.games, "gamma", "3.0", 300);
  wait_game (&b, &a, "gamma", TRUE);
  g_assert_cmpuint (lsp_peer_get_n_snapshots (peer), ==, snapshots);
  g_assert_cmpuint (lsp_peer_get_n_deltas (peer), >=, 1);

  gamma = g_build_filename (a.games, "gamma", NULL);
  lsp_test_remove_tree (gamma);
  wait_game (&b, &a, "gamma", FALSE);
  wait_synced (&b, &a);
  g_assert_cmpuint (lsp_peer_get_n_snapshots (peer), ==, snapshots);
  g_assert_nonnull (lsp_peer_lookup_game (peer, "alpha"));

  test_peer_clear (&a);
  test_peer_clear (&b);
}

static void
test_three_peers (void)
{
  TestPeer p[3] = { 0 };
  static const char * const games[] = { "alpha", "beta", "gamma" };

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("peer-%u", i);
      test_peer_init (&p[i], name);
      lsp_test_make_game (p[i].games, games[i], "1", 100 * (i + 1));
      lsp_test_wait_idle (p[i].library);
    }
  connect_to (&p[0], &p[1]);
  connect_to (&p[1], &p[2]);
  connect_to (&p[2], &p[0]);

  for (guint i = 0; i < 3; i++)
    for (guint j = 0; j < 3; j++)
      if (i != j)
        wait_game (&p[i], &p[j], games[j], TRUE);

  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (p[i].node)), ==, 2);
  for (guint i = 0; i < 3; i++)
    test_peer_clear (&p[i]);
}

static void
on_closed_by_peer (LspQuicConnection *conn,
                   const GError      *error,
                   char             **out_message)
{
  g_free (*out_message);
  *out_message = g_strdup (error != NULL ? error->message : "closed without an error");
}

static gboolean
has_message (gpointer data)
{
  return *(char **) data != NULL;
}

static void
test_goodbye_and_restart (void)
{
  TestPeer a = { 0 }, b = { 0 };
  g_autofree char *a_id = NULL;
  g_autofree char *closed_by = NULL;
  g_autoptr(LspQuicConnection) a_conn = NULL;
  gint64 start;

  test_peer_init (&a, "peer-a");
  test_peer_init (&b, "peer-b");
  lsp_test_make_game (a.games, "alpha", "1.0", 1000);
  lsp_test_wait_idle (a.library);
  connect_to (&b, &a);
  wait_synced (&b, &a);
  a_id = g_strdup (lsp_node_get_peer_id (a.node));

  /* Goodbye removes the peer at once, well before the stale timeout, and
   * the receiver closes the connection as a shutdown (code 2). */
  a_conn = g_object_ref (lsp_node_get_connection (a.node, lsp_node_get_peer_id (b.node)));
  g_signal_connect (a_conn, "closed", G_CALLBACK (on_closed_by_peer), &closed_by);
  start = g_get_monotonic_time ();
  lsp_node_stop (a.node, "test over");
  {
    SeeGame gone = { &b, &a, NULL, FALSE };
    g_assert_true (lsp_test_wait_until (sees_game, &gone, 20000));
  }
  g_assert_true (lsp_test_wait_until (has_message, &closed_by, 10000));
  g_assert_nonnull (strstr (closed_by, "code 2"));
  g_signal_handlers_disconnect_by_data (a_conn, &closed_by);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2500 * 1000);
  g_assert_null (lsp_node_lookup_peer (b.node, a_id));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (b.node)), ==, 0);

  /* Restarted from the same state folder, it is the same peer. B keeps
   * dialling the address it was given. */
  test_peer_shutdown (&a);
  test_peer_start (&a, "peer-a");
  g_assert_cmpstr (lsp_node_get_peer_id (a.node), ==, a_id);
  connect_to (&a, &b);
  wait_synced (&b, &a);
  g_assert_nonnull (lsp_node_lookup_peer (b.node, a_id));

  test_peer_clear (&a);
  test_peer_clear (&b);
}

static gboolean
peer_count_is_zero (gpointer data)
{
  return g_list_model_get_n_items (G_LIST_MODEL (data)) == 0;
}

static void
test_proto_mismatch (void)
{
  TestPeer a = { 0 }, b = { 0 };

  test_peer_init (&a, "peer-a");
  test_peer_init (&b, "peer-b");
  lsp_node_set_proto_range (a.node, 2, 2);

  g_test_expect_message ("lsp-node", G_LOG_LEVEL_WARNING, "Dropping peer*no common protocol version*");
  connect_to (&b, &a);
  lsp_test_run_for (700);
  g_test_assert_expected_messages ();
  g_assert_true (peer_count_is_zero (a.node));
  g_assert_true (peer_count_is_zero (b.node));

  test_peer_clear (&a);
  test_peer_clear (&b);
}

/* A hostile client: a real QUIC connection that sends garbage on the
 * control stream gets a fatal Error and is closed; the node carries on. */
typedef struct
{
  LspQuicConnection *conn;
  GString           *received;
  gboolean           finished;
  gboolean           closed;
} Hostile;

static void
on_hostile_connected (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  Hostile *hostile = user_data;
  g_autoptr(GError) error = NULL;

  hostile->conn = lsp_quic_endpoint_connect_finish (LSP_QUIC_ENDPOINT (object), result, &error);
  g_assert_no_error (error);
}

static void
on_hostile_read (LspQuicStream *stream,
                 const guint8  *data,
                 gsize          length,
                 gboolean       fin,
                 const GError  *error,
                 gpointer       user_data)
{
  Hostile *hostile = user_data;

  g_string_append_len (hostile->received, (const char *) data, (gssize) length);
  if (fin || error != NULL)
    hostile->finished = TRUE;
}

static gboolean
hostile_connected (gpointer data)
{
  return ((Hostile *) data)->conn != NULL;
}

static gboolean
hostile_finished (gpointer data)
{
  return ((Hostile *) data)->finished;
}

/* bytes NULL: a valid Hello, then a flood of Pings. */
static void
send_hostile (TestPeer      *target,
              const guint8  *bytes,
              gsize          length,
              const char    *expected_code)
{
  g_autofree char *state = lsp_test_make_temp_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(LspIdentity) identity = lsp_identity_load_or_create (state, &error);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) bind = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) target_address = g_inet_socket_address_new (loopback, lsp_node_get_port (target->node));
  g_autoptr(LspQuicEndpoint) endpoint = lsp_quic_endpoint_new (identity, LSP_PROTO_ALPN, G_INET_SOCKET_ADDRESS (bind), &error);
  g_autoptr(LspQuicStream) stream = NULL;
  Hostile hostile = { NULL, g_string_new (NULL), FALSE, FALSE };

  g_assert_no_error (error);
  lsp_quic_endpoint_connect_async (endpoint, G_INET_SOCKET_ADDRESS (target_address), NULL, NULL,
                                   on_hostile_connected, &hostile);
  g_assert_true (lsp_test_wait_until (hostile_connected, &hostile, 10000));

  stream = lsp_quic_connection_open_stream (hostile.conn, TRUE, &error);
  g_assert_no_error (error);
  lsp_quic_stream_set_read_func (stream, on_hostile_read, &hostile, NULL);
  if (bytes != NULL)
    {
      g_autoptr(GBytes) data = g_bytes_new (bytes, length);
      lsp_quic_stream_write_bytes_async (stream, data, FALSE, NULL, NULL, NULL);
    }
  else
    {
      static const char * const no_features[] = { NULL };
      g_autoptr(LspMessage) hello = lsp_message_new_hello (LSP_MESSAGE_HELLO, lsp_identity_get_peer_id (identity),
                                                           "127.0.0.1:9", 0,
                                                           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                                           no_features, "flooder");
      g_autoptr(GByteArray) flood = g_byte_array_new ();
      g_autoptr(GBytes) hello_frame = lsp_message_encode (hello, LSP_PROTO_MAX_FRAME, &error);

      g_assert_no_error (error);
      g_byte_array_append (flood, g_bytes_get_data (hello_frame, NULL), (guint) g_bytes_get_size (hello_frame));
      for (guint i = 0; i < 3000; i++)
        {
          g_autoptr(LspMessage) ping = lsp_message_new_ping (LSP_MESSAGE_PING, i);
          g_autoptr(GBytes) frame = lsp_message_encode (ping, LSP_PROTO_MAX_FRAME, &error);

          g_byte_array_append (flood, g_bytes_get_data (frame, NULL), (guint) g_bytes_get_size (frame));
        }
      {
        g_autoptr(GBytes) data = g_byte_array_free_to_bytes (g_steal_pointer (&flood));
        lsp_quic_stream_write_bytes_async (stream, data, FALSE, NULL, NULL, NULL);
      }
    }
  g_assert_true (lsp_test_wait_until (hostile_finished, &hostile, 10000));
  {
    g_autofree char *code = g_strdup_printf ("\"code\":\"%s\"", expected_code);
    g_assert_nonnull (memmem (hostile.received->str, hostile.received->len, code, strlen (code)));
    g_assert_nonnull (memmem (hostile.received->str, hostile.received->len, "\"fatal\":true", strlen ("\"fatal\":true")));
  }

  lsp_quic_stream_set_read_func (stream, NULL, NULL, NULL);
  g_clear_object (&hostile.conn);
  g_string_free (hostile.received, TRUE);
  lsp_test_remove_tree (state);
}

static void
test_hostile_input (void)
{
  TestPeer a = { 0 }, b = { 0 };
  static const guint8 oversized[] = { 0x7f, 0xff, 0xff, 0xff, '{' };
  static const guint8 not_json[] = { 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o' };
  static const char not_hello[] = "\0\0\0\x0e{\"type\":\"Ping\"}";
  g_autofree char *hello_template = NULL;

  test_peer_init (&a, "peer-a");
  test_peer_init (&b, "peer-b");
  lsp_test_make_game (a.games, "alpha", "1.0", 1000);
  lsp_test_wait_idle (a.library);
  connect_to (&b, &a);
  wait_synced (&b, &a);

  g_test_expect_message ("lsp-node", G_LOG_LEVEL_WARNING, "Dropping peer*");
  send_hostile (&a, oversized, sizeof oversized, "frame_too_large");
  g_test_expect_message ("lsp-node", G_LOG_LEVEL_WARNING, "Dropping peer*");
  send_hostile (&a, not_json, sizeof not_json, "bad_message");
  g_test_expect_message ("lsp-node", G_LOG_LEVEL_WARNING, "Dropping peer*");
  send_hostile (&a, (const guint8 *) not_hello, sizeof not_hello - 1, "bad_message");
  g_test_expect_message ("lsp-node", G_LOG_LEVEL_MESSAGE, "Peer flooder*joined");
  g_test_expect_message ("lsp-node", G_LOG_LEVEL_WARNING, "Dropping peer*too many messages*");
  g_test_expect_message ("lsp-node", G_LOG_LEVEL_MESSAGE, "Peer flooder*left*");
  send_hostile (&a, NULL, 0, "bad_message");
  lsp_test_run_for (500);
  g_test_assert_expected_messages ();

  /* The honest peer never noticed. */
  g_assert_true (lsp_peer_get_connected (peer_of (&b, &a)));
  lsp_test_make_game (a.games, "beta", "1.0", 10);
  wait_game (&b, &a, "beta", TRUE);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (a.node)), ==, 1);

  test_peer_clear (&a);
  test_peer_clear (&b);
}

/* A connection that never says Hello is still open when we stop. */
static void
test_stop_with_silent_connection (void)
{
  TestPeer a = { 0 };
  g_autofree char *state = lsp_test_make_temp_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(LspIdentity) identity = lsp_identity_load_or_create (state, &error);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) bind = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) target = NULL;
  g_autoptr(LspQuicEndpoint) endpoint = lsp_quic_endpoint_new (identity, LSP_PROTO_ALPN, G_INET_SOCKET_ADDRESS (bind), &error);
  Hostile silent = { NULL, NULL, FALSE, FALSE };

  g_assert_no_error (error);
  test_peer_init (&a, "peer-a");
  target = g_inet_socket_address_new (loopback, lsp_node_get_port (a.node));
  lsp_quic_endpoint_connect_async (endpoint, G_INET_SOCKET_ADDRESS (target), NULL, NULL,
                                   on_hostile_connected, &silent);
  g_assert_true (lsp_test_wait_until (hostile_connected, &silent, 10000));
  lsp_test_run_for (200);

  lsp_node_stop (a.node, "quit");
  lsp_test_run_for (200);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (a.node)), ==, 0);

  g_clear_object (&silent.conn);
  test_peer_clear (&a);
  lsp_test_remove_tree (state);
}

/* Linux allows 64-byte host names, the protocol 63. */
static void
test_long_hostname (void)
{
  TestPeer a = { 0 }, b = { 0 };
  g_autofree char *name = g_strnfill (64, 'a');

  test_peer_init (&a, name);
  test_peer_init (&b, "peer-b");
  connect_to (&b, &a);
  wait_synced (&b, &a);
  g_assert_cmpuint (strlen (lsp_peer_get_hostname (peer_of (&b, &a))), <=, 63);
  test_peer_clear (&a);
  test_peer_clear (&b);
}

static void
test_version_compare (void)
{
  g_assert_cmpint (lsp_version_compare ("1.10", "1.9"), >, 0);
  g_assert_cmpint (lsp_version_compare ("1.9", "1.10"), <, 0);
  g_assert_cmpint (lsp_version_compare ("20240101", "20231231"), >, 0);
  g_assert_cmpint (lsp_version_compare ("1.0", "1.0"), ==, 0);
  g_assert_cmpint (lsp_version_compare ("1.01", "1.1"), ==, 0);
  g_assert_cmpint (lsp_version_compare ("1.0", "1.0b"), <, 0);
  g_assert_cmpint (lsp_version_compare ("2", "10"), <, 0);
  g_assert_cmpint (lsp_version_compare ("v2", "v10"), <, 0);
}

typedef struct
{
  LspLanLibrary *lan;
  const char    *id;
  gboolean       present;
  guint          n_sources;
} SeeLanGame;

static gboolean
lan_game_is (gpointer data)
{
  SeeLanGame *see = data;
  LspLanGame *game = lsp_lan_library_lookup (see->lan, see->id);

  if (!see->present)
    return game == NULL;
  return game != NULL && lsp_lan_game_get_n_sources (game) == see->n_sources;
}

static void
wait_lan_game (LspLanLibrary *lan,
               const char    *id,
               gboolean       present,
               guint          n_sources)
{
  SeeLanGame see = { lan, id, present, n_sources };
  g_assert_true (lsp_test_wait_until (lan_game_is, &see, 20000));
}

static void
test_lan_library (void)
{
  TestPeer a = { 0 }, b = { 0 }, c = { 0 };
  g_autoptr(LspLanLibrary) lan = NULL;
  g_autofree char *beta_local = NULL;
  LspLanGame *game;

  test_peer_init (&a, "peer-a");
  test_peer_init (&b, "peer-b");
  test_peer_init (&c, "peer-c");
  lsp_test_make_game (a.games, "alpha", "1.0", 1000);
  lsp_test_make_game (b.games, "alpha", "2.0", 2000);
  beta_local = g_build_filename (b.games, "beta", "local", NULL);
  g_assert_cmpint (g_mkdir_with_parents (beta_local, 0755), ==, 0);
  lsp_test_make_game (c.games, "alpha", "2.0", 2000);
  lsp_test_make_game (c.games, "gamma", "5", 500);
  lsp_test_wait_idle (a.library);
  lsp_test_wait_idle (b.library);
  lsp_test_wait_idle (c.library);

  lan = lsp_lan_library_new (a.library, a.node);
  game = lsp_lan_library_lookup (lan, "alpha");
  g_assert_nonnull (game);
  g_assert_cmpint (lsp_lan_game_get_state (game), ==, LSP_LAN_GAME_DOWNLOADED);
  g_assert_false (lsp_lan_game_get_update_available (game));

  connect_to (&a, &b);
  connect_to (&a, &c);
  wait_lan_game (lan, "alpha", TRUE, 2);
  wait_lan_game (lan, "gamma", TRUE, 1);
  wait_lan_game (lan, "beta", TRUE, 0);

  /* Two peers have a newer version than ours: an update, from either. */
  game = lsp_lan_library_lookup (lan, "alpha");
  g_assert_cmpstr (lsp_lan_game_get_local_version (game), ==, "1.0");
  g_assert_cmpstr (lsp_lan_game_get_newest_version (game), ==, "2.0");
  g_assert_true (lsp_lan_game_get_update_available (game));
  g_assert_cmpuint (lsp_lan_game_get_size (game), ==, 2000);

  /* Only elsewhere, and downloadable. */
  game = lsp_lan_library_lookup (lan, "gamma");
  g_assert_cmpint (lsp_lan_game_get_state (game), ==, LSP_LAN_GAME_REMOTE);
  g_assert_cmpstr (lsp_lan_game_get_sources (game)[0], ==, lsp_node_get_peer_id (c.node));
  g_assert_cmpstr (lsp_lan_game_get_name (game), ==, "Game gamma");

  /* Installed on B but not downloaded there: visible, not downloadable. */
  game = lsp_lan_library_lookup (lan, "beta");
  g_assert_null (lsp_lan_game_get_newest_version (game));

  /* C leaves: its games leave with it. */
  lsp_node_stop (c.node, "test over");
  wait_lan_game (lan, "gamma", FALSE, 0);
  wait_lan_game (lan, "alpha", TRUE, 1);

  g_clear_object (&lan);
  test_peer_clear (&a);
  test_peer_clear (&b);
  test_peer_clear (&c);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/peer/node/two-peers-sync", test_two_peers_sync);
  g_test_add_func ("/peer/node/changes-travel-as-deltas", test_changes_travel_as_deltas);
  g_test_add_func ("/peer/node/three-peers", test_three_peers);
  g_test_add_func ("/peer/node/goodbye-and-restart", test_goodbye_and_restart);
  g_test_add_func ("/peer/node/proto-mismatch", test_proto_mismatch);
  g_test_add_func ("/peer/node/hostile-input", test_hostile_input);
  g_test_add_func ("/peer/node/stop-with-silent-connection", test_stop_with_silent_connection);
  g_test_add_func ("/peer/node/long-hostname", test_long_hostname);
  g_test_add_func ("/peer/node/version-compare", test_version_compare);
  g_test_add_func ("/peer/node/lan-library", test_lan_library);

  return g_test_run ();
}
