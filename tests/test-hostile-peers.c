#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lsp-discovery-private.h"
#include "lsp-game-root.h"
#include "lsp-hostile.h"
#include "lsp-quic-private.h"
#include "lsp-test-util.h"

/* Each test plays one attack against a real node (or endpoint) on
 * loopback, then checks that an honest peer still gets through. */

/* A: a peer's game list is bounded by the result of every delta. */

static void
test_delta_beyond_game_limit (void)
{
  TestPeer target = { 0 };
  Attacker attacker = { 0 };
  Attack *attack;
  guint n_first = LSP_PROTO_MAX_GAMES / 2 + 1;

  test_peer_init (&target, "target");
  attacker_init (&attacker);
  attack = attack_with_library (&attacker, &target, n_first);

  /* Each delta is within the per-message limit; together they are not. */
  {
    g_autoptr(GPtrArray) added = make_games ("more", 0, n_first);
    g_autoptr(GPtrArray) none = g_ptr_array_new ();
    static const char * const no_ids[] = { NULL };

    g_test_expect_message ("lsp-node", G_LOG_LEVEL_WARNING, "Dropping peer*games, more than the 10000*");
    attack_send (attack, lsp_message_new_library_delta (lsp_identity_get_peer_id (attacker.identity),
                                                        1, 2, other_digest, LSP_PROTO_MAX_GAMES,
                                                        added, none, no_ids));
  }
  g_assert_true (lsp_test_wait_until (attack_is_finished, attack, 20000));
  {
    LspPeer *peer = attacker_peer (&target, &attacker);
    g_assert_true (peer == NULL || lsp_peer_get_n_games (peer) <= LSP_PROTO_MAX_GAMES);
  }
  g_test_assert_expected_messages ();

  assert_honest_peer_syncs (&target);
  attack_free (attack);
  attacker_clear (&attacker);
  test_peer_clear (&target);
}

static void
test_delta_count_mismatch_drops_games (void)
{
  TestPeer target = { 0 };
  Attacker attacker = { 0 };
  g_autoptr(GPtrArray) added = make_games ("more", 0, 1);
  g_autoptr(GPtrArray) none = g_ptr_array_new ();
  static const char * const no_ids[] = { NULL };
  Attack *attack;
  LspPeer *peer;
  guint asked;

  test_peer_init (&target, "target");
  attacker_init (&attacker);
  attack = attack_with_library (&attacker, &target, 3);

  /* Three games plus one is not the forty it claims. */
  asked = count_received (attack, LSP_MESSAGE_GET_LIBRARY);
  attack_send (attack, lsp_message_new_library_delta (lsp_identity_get_peer_id (attacker.identity),
                                                      1, 2, other_digest, 40, added, none, no_ids));
  attack_wait_for (attack, LSP_MESSAGE_GET_LIBRARY, asked + 1);
  peer = attacker_peer (&target, &attacker);
  g_assert_nonnull (peer);
  g_assert_false (lsp_peer_get_has_library (peer));
  g_assert_cmpuint (lsp_peer_get_n_games (peer), ==, 0);

  /* The snapshot it was asked for brings the games back. */
  {
    g_autoptr(GPtrArray) games = make_games ("game", 0, 4);
    PeerGames wait = { &target, &attacker, 4 };

    attack_send (attack, lsp_message_new_library_snapshot (lsp_identity_get_peer_id (attacker.identity),
                                                           2, other_digest, games));
    g_assert_true (lsp_test_wait_until (peer_has_games, &wait, 20000));
  }
  g_test_assert_expected_messages ();

  assert_honest_peer_syncs (&target);
  attack_free (attack);
  attacker_clear (&attacker);
  test_peer_clear (&target);
}


/* B: connections cannot be held without a Hello, twice, or in any number. */

typedef struct
{
  Attack *attack;
  guint   source;
} Trickle;

/* One byte of a frame that never completes, now and then: enough traffic
 * to never look quiet. */
static gboolean
trickle_byte (gpointer data)
{
  Trickle *trickle = data;
  static const guint8 byte = 0;
  g_autoptr(GBytes) bytes = g_bytes_new_static (&byte, 1);

  if (lsp_quic_connection_is_closed (trickle->attack->conn))
    {
      trickle->source = 0;
      return G_SOURCE_REMOVE;
    }
  lsp_quic_stream_write_bytes_async (trickle->attack->control, bytes, FALSE, NULL, NULL, NULL);
  return G_SOURCE_CONTINUE;
}

static void
test_no_hello_is_closed (void)
{
  TestPeer target = { 0 };
  Attacker attacker = { 0 };
  Attack *attack;
  Trickle trickle = { 0 };
  g_autoptr(GError) error = NULL;
  static const guint8 header[] = { 0, 0, 0x10, 0 };
  g_autoptr(GBytes) bytes = g_bytes_new_static (header, sizeof header);

  test_peer_init (&target, "target");
  lsp_node_set_hello_timeout (target.node, 300);
  attacker_init (&attacker);
  attack = attack_new (&attacker, &target);
  g_assert_no_error (attack->connect_error);
  attack->control = lsp_quic_connection_open_stream (attack->conn, TRUE, &error);
  g_assert_no_error (error);
  lsp_quic_stream_set_read_func (attack->control, on_attack_read, attack, NULL);
  lsp_quic_stream_write_bytes_async (attack->control, bytes, FALSE, NULL, NULL, NULL);
  trickle.attack = attack;
  trickle.source = g_timeout_add (100, trickle_byte, &trickle);

  /* Well within the stale timeout, which the trickle would reset anyway. */
  g_assert_true (lsp_test_wait_until (attack_is_finished, attack, 2500));

  g_clear_handle_id (&trickle.source, g_source_remove);
  assert_honest_peer_syncs (&target);
  attack_free (attack);
  attacker_clear (&attacker);
  test_peer_clear (&target);
}

static gboolean
either_finished (gpointer data)
{
  Attack **attacks = data;
  return attack_is_finished (attacks[0]) || attack_is_finished (attacks[1]);
}

/* The attacker dials twice and closes neither: the older goes at once, as
 * it would for a peer that was restarted and dials again while its old
 * connection has not timed out here yet. */
static void
test_duplicate_is_closed (void)
{
  TestPeer target = { 0 };
  Attacker attacker = { 0 };
  Attack *attacks[2];
  LspPeer *peer;

  test_peer_init (&target, "target");
  attacker_init (&attacker);
  for (guint i = 0; i < G_N_ELEMENTS (attacks); i++)
    {
      attacks[i] = attack_new (&attacker, &target);
      g_assert_no_error (attacks[i]->connect_error);
      attack_say_hello (attacks[i], &attacker, 0, other_digest);
      attack_wait_for (attacks[i], LSP_MESSAGE_HELLO_ACK, 1);
    }

  g_assert_true (lsp_test_wait_until (either_finished, attacks, 10000));
  /* The older goes, the newer stays. */
  g_assert_true (attack_is_finished (attacks[0]));
  g_assert_false (attack_is_finished (attacks[1]));
  peer = attacker_peer (&target, &attacker);
  g_assert_nonnull (peer);
  g_assert_true (lsp_peer_get_connected (peer));

  assert_honest_peer_syncs (&target);
  for (guint i = 0; i < G_N_ELEMENTS (attacks); i++)
    attack_free (attacks[i]);
  attacker_clear (&attacker);
  test_peer_clear (&target);
}

static void
test_connections_per_address (void)
{
  TestPeer target = { 0 };
  Attacker attacker = { 0 };
  g_autoptr(GPtrArray) attacks = g_ptr_array_new_with_free_func ((GDestroyNotify) attack_free);
  Attack *refused;

  test_peer_init (&target, "target");
  /* Nothing closes the attacker's silent connections while it opens them. */
  lsp_node_set_hello_timeout (target.node, 120000);
  attacker_init (&attacker);
  lsp_quic_endpoint_set_handshake_timeout (attacker.endpoint, 1000);

  for (guint i = 0; i < LSP_QUIC_MAX_CONNECTIONS_PER_ADDRESS; i++)
    {
      Attack *attack = attack_new (&attacker, &target);
      g_assert_no_error (attack->connect_error);
      g_ptr_array_add (attacks, attack);
    }
  refused = attack_new (&attacker, &target);
  g_assert_error (refused->connect_error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_HANDSHAKE_TIMEOUT);
  attack_free (refused);

  assert_honest_peer_syncs (&target);
  g_clear_pointer (&attacks, g_ptr_array_unref);
  attacker_clear (&attacker);
  test_peer_clear (&target);
}

typedef struct
{
  LspQuicEndpoint *endpoint;
  const char      *peer_id;
} KnownBy;

static gboolean
knows_peer (gpointer data)
{
  KnownBy *wait = data;
  return lsp_known_peers_contains (lsp_quic_endpoint_get_known_peers (wait->endpoint), wait->peer_id);
}

/* Strangers fill what they may; a peer known from an earlier run still
 * gets in, and our own dials still go out. */
static void
test_reserved_slots (void)
{
  g_autofree char *target_state = lsp_test_make_temp_dir ();
  g_autofree char *known_state = lsp_test_make_temp_dir ();
  g_autofree char *other_state = lsp_test_make_temp_dir ();
  g_autoptr(LspQuicEndpoint) target = endpoint_at (target_state, "127.0.0.1");
  g_autoptr(LspQuicEndpoint) known = endpoint_at (known_state, "127.0.0.2");
  g_autoptr(LspQuicEndpoint) other = endpoint_at (other_state, "127.0.0.3");
  Attacker attacker = { 0 };
  Dial result = { 0 };
  const guint open_slots = 2;

  /* An earlier run meets the known peer; connect completes on its side
   * before the target has its last handshake flight and records it. */
  dial (known, target, &result);
  g_assert_no_error (result.error);
  {
    KnownBy wait = { target, lsp_identity_get_peer_id (lsp_quic_endpoint_get_identity (known)) };
    g_assert_true (lsp_test_wait_until (knows_peer, &wait, 10000));
  }
  dial_clear (&result);
  g_clear_object (&target);
  target = endpoint_at (target_state, "127.0.0.1");
  lsp_quic_endpoint_set_max_connections (target, LSP_QUIC_RESERVED_CONNECTIONS + open_slots);

  attacker_init (&attacker);
  lsp_quic_endpoint_set_handshake_timeout (attacker.endpoint, 1000);
  {
    Dial attacks[3] = { 0 };

    for (guint i = 0; i < G_N_ELEMENTS (attacks); i++)
      dial (attacker.endpoint, target, &attacks[i]);
    for (guint i = 0; i < open_slots; i++)
      g_assert_no_error (attacks[i].error);
    g_assert_error (attacks[open_slots].error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_HANDSHAKE_TIMEOUT);

    dial (known, target, &result);
    g_assert_no_error (result.error);
    dial_clear (&result);
    dial (target, other, &result);
    g_assert_no_error (result.error);
    dial_clear (&result);

    for (guint i = 0; i < G_N_ELEMENTS (attacks); i++)
      dial_clear (&attacks[i]);
  }

  attacker_clear (&attacker);
  g_clear_object (&target);
  g_clear_object (&known);
  g_clear_object (&other);
  lsp_test_remove_tree (target_state);
  lsp_test_remove_tree (known_state);
  lsp_test_remove_tree (other_state);
}


/* C: datagrams that no connection ID routes cost a bounded amount. */

static void
test_stray_datagrams (void)
{
  g_autofree char *target_state = lsp_test_make_temp_dir ();
  g_autofree char *honest_state = lsp_test_make_temp_dir ();
  g_autoptr(LspQuicEndpoint) target = endpoint_at (target_state, "127.0.0.1");
  g_autoptr(LspQuicEndpoint) honest = endpoint_at (honest_state, "127.0.0.2");
  g_autoptr(GError) error = NULL;
  Attacker attacker = { 0 };
  Dial attacks[4 * LSP_QUIC_MAX_RESET_OFFERS] = { 0 };
  Dial result = { 0 };
  const guint n_stray = 20;
  LspSockaddr target_addr;
  socklen_t target_len;
  guint64 offers;

  attacker_init (&attacker);
  for (guint i = 0; i < G_N_ELEMENTS (attacks); i++)
    {
      dial (attacker.endpoint, target, &attacks[i]);
      g_assert_no_error (attacks[i].error);
    }

  target_len = (socklen_t) g_socket_address_get_native_size (G_SOCKET_ADDRESS (lsp_quic_endpoint_get_local_address (target)));
  g_assert_true (g_socket_address_to_native (G_SOCKET_ADDRESS (lsp_quic_endpoint_get_local_address (target)),
                                             &target_addr, sizeof target_addr, &error));
  g_assert_no_error (error);
  /* Short-header packets for connection IDs nobody issued, long enough to
   * pass for a stateless reset, from the address all those connections
   * share. */
  for (guint i = 0; i < n_stray; i++)
    {
      guint8 stray[100];

      for (guint j = 0; j < sizeof stray; j++)
        stray[j] = (guint8) g_random_int ();
      stray[0] = 0x40 | (stray[0] & 0x3f);
      lsp_quic_endpoint_send_datagram (attacker.endpoint, &target_addr, target_len, stray, sizeof stray);
    }

  /* The honest handshake reaches the socket after the strays, so once it
   * completes every stray has been handled. */
  dial (honest, target, &result);
  g_assert_no_error (result.error);
  offers = lsp_quic_endpoint_get_n_stray_offers (target);
  g_test_message ("%u stray datagrams with %u connections from their address: %" G_GUINT64_FORMAT " offers",
                  n_stray, (guint) G_N_ELEMENTS (attacks), offers);
  g_assert_cmpuint (offers, >=, n_stray);
  g_assert_cmpuint (offers, <=, (guint64) n_stray * LSP_QUIC_MAX_RESET_OFFERS);

  dial_clear (&result);
  for (guint i = 0; i < G_N_ELEMENTS (attacks); i++)
    dial_clear (&attacks[i]);
  attacker_clear (&attacker);
  g_clear_object (&target);
  g_clear_object (&honest);
  lsp_test_remove_tree (target_state);
  lsp_test_remove_tree (honest_state);
}


/* D: one peer's manifest requests do not make everyone else busy. */

typedef struct
{
  LspManifest *manifest;
  GError      *error;
  gboolean     done;
} Fetch;

static void
on_manifest_fetched (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Fetch *fetch = user_data;

  fetch->manifest = lsp_node_fetch_manifest_finish (LSP_NODE (object), result, &fetch->error);
  fetch->done = TRUE;
}

static gboolean
fetch_done (gpointer data)
{
  return ((Fetch *) data)->done;
}

static char *
manifest_path (TestPeer   *peer,
               const char *hash)
{
  g_autofree char *name = g_strconcat (hash, ".json", NULL);
  return g_build_filename (peer->games, LSP_STATE_DIR, "manifests", name, NULL);
}

static void
test_manifest_loads_per_peer (void)
{
  TestPeer target = { 0 }, honest = { 0 };
  Attacker attacker = { 0 };
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autofree char *alpha_hash = NULL;
  g_autofree char *beta_hash = NULL;
  g_autofree char *stuck = NULL;
  Sync synced = { &honest, &target };
  const guint n_requests = MAX_MANIFEST_LOADS_PER_PEER + 2;
  Fetch fetch = { 0 };
  Attack *attack;
  int writer;

  test_peer_make_dirs (&target);
  lsp_test_make_game (target.games, "alpha", "1.0", 1000);
  lsp_test_make_game (target.games, "beta", "1.0", 1000);
  test_peer_start (&target, "target", "127.0.0.1", FALSE);
  alpha_hash = g_strdup (lsp_local_game_get_manifest_hash (lsp_library_lookup (target.library, "alpha")));
  beta_hash = g_strdup (lsp_local_game_get_manifest_hash (lsp_library_lookup (target.library, "beta")));

  /* A manifest that takes for ever to read: a FIFO nobody writes to yet,
   * so the attacker's reads stay in flight. */
  stuck = manifest_path (&target, alpha_hash);
  g_assert_cmpint (unlink (stuck), ==, 0);
  g_assert_cmpint (mkfifo (stuck, 0600), ==, 0);

  attacker_init (&attacker);
  attack = attack_new (&attacker, &target);
  g_assert_no_error (attack->connect_error);
  attack_say_hello (attack, &attacker, 0, other_digest);
  attack_wait_for (attack, LSP_MESSAGE_HELLO_ACK, 1);
  for (guint i = 0; i < n_requests; i++)
    attack_send (attack, lsp_message_new_get_manifest ("alpha", alpha_hash));
  /* Beyond its own limit, the attacker is told busy. */
  attack_wait_for (attack, LSP_MESSAGE_ERROR, n_requests - MAX_MANIFEST_LOADS_PER_PEER);

  test_peer_init_at (&honest, "honest", "127.0.0.2");
  address = address_of (&target);
  lsp_node_add_static_peer (honest.node, address);
  g_assert_true (lsp_test_wait_until (is_synced, &synced, 20000));
  lsp_node_fetch_manifest_async (honest.node, lsp_node_get_peer_id (target.node), "beta", beta_hash,
                                 NULL, on_manifest_fetched, &fetch);
  g_assert_true (lsp_test_wait_until (fetch_done, &fetch, 20000));
  g_assert_no_error (fetch.error);
  g_assert_cmpstr (lsp_manifest_get_hash (fetch.manifest), ==, beta_hash);
  g_clear_pointer (&fetch.manifest, lsp_manifest_unref);

  /* Opening and closing the FIFO ends the stuck reads, with nothing. */
  writer = open (stuck, O_WRONLY | O_NONBLOCK);
  g_assert_cmpint (writer, >=, 0);
  close (writer);
  attack_wait_for (attack, LSP_MESSAGE_ERROR, n_requests);

  test_peer_clear (&honest);
  attack_free (attack);
  attacker_clear (&attacker);
  test_peer_clear (&target);
}


/* E: announcements cannot make us dial without end, or lose a peer to a
 * service claiming its peer_id. These need the loopback avahi-daemon
 * (`tests/mdns-loopback up`, as root); without it they fail. */

typedef struct
{
  LspDiscovery *discovery;
  const char   *peer_id;
  guint         n_services;
} ServiceCount;

static gboolean
has_services (gpointer data)
{
  ServiceCount *count = data;
  return lsp_discovery_count_services (count->discovery, count->peer_id) >= count->n_services;
}

static gboolean
is_connected (gpointer data)
{
  Sync *sync = data;
  LspPeer *peer = lsp_node_lookup_peer (sync->viewer->node, lsp_node_get_peer_id (sync->seen->node));
  return peer != NULL && lsp_peer_get_connected (peer);
}

static void
test_fake_service_for_known_peer (void)
{
  TestPeer a = { 0 }, b = { 0 };
  TestPeer *observer, *victim;
  FakeServices fakes = { 0 };
  LspDiscovery *discovery;
  const LspDiscoveredPeer *found;
  const char *victim_id;
  guint n_real;

  test_peer_init (&a, "peer-a");
  test_peer_init (&b, "peer-b");
  /* The smaller peer_id dials what discovery finds, so it authenticates
   * the other at its announced address. */
  observer = strcmp (lsp_node_get_peer_id (a.node), lsp_node_get_peer_id (b.node)) < 0 ? &a : &b;
  victim = observer == &a ? &b : &a;
  victim_id = lsp_node_get_peer_id (victim->node);
  enable_discovery (observer);
  enable_discovery (victim);
  discovery = lsp_node_get_discovery (observer->node);
  {
    Sync connected = { observer, victim };
    g_assert_true (lsp_test_wait_until (is_connected, &connected, 20000));
  }
  n_real = lsp_discovery_count_services (discovery, victim_id);
  g_assert_cmpuint (n_real, >=, 1);

  /* Someone else claims the victim's peer_id, at an address that sorts
   * first and is not the victim's. */
  fake_services_init (&fakes);
  fake_service_add (&fakes, "aaa-claims-the-victim", 9, victim_id);
  fake_services_wait (&fakes);
  {
    ServiceCount count = { discovery, victim_id, 2 * n_real };
    g_assert_true (lsp_test_wait_until (has_services, &count, 15000));
  }
  found = lsp_discovery_lookup_peer (discovery, victim_id);
  g_assert_nonnull (found);
  g_assert_cmpuint (found->port, ==, lsp_node_get_port (victim->node));

  assert_honest_peer_syncs (observer);
  fake_services_clear (&fakes);
  test_peer_clear (&a);
  test_peer_clear (&b);
}

static gboolean
is_discovered (gpointer data)
{
  Sync *sync = data;
  return lsp_discovery_lookup_peer (lsp_node_get_discovery (sync->viewer->node),
                                    lsp_node_get_peer_id (sync->seen->node)) != NULL;
}

/* The claim comes first, so we dial it before the real peer shows up. */
static void
test_fake_service_before_peer (void)
{
  TestPeer a = { 0 }, b = { 0 };
  TestPeer *observer, *victim;
  FakeServices fakes = { 0 };
  Sync sync;

  test_peer_init (&a, "peer-a");
  test_peer_init (&b, "peer-b");
  observer = strcmp (lsp_node_get_peer_id (a.node), lsp_node_get_peer_id (b.node)) < 0 ? &a : &b;
  victim = observer == &a ? &b : &a;
  sync = (Sync) { observer, victim };
  lsp_quic_endpoint_set_handshake_timeout (observer->node->endpoint, 1000);

  fake_services_init (&fakes);
  fake_service_add (&fakes, "aaa-claims-the-victim", 9, lsp_node_get_peer_id (victim->node));
  fake_services_wait (&fakes);
  enable_discovery (observer);
  g_assert_true (lsp_test_wait_until (is_discovered, &sync, 15000));
  enable_discovery (victim);
  g_assert_true (lsp_test_wait_until (is_connected, &sync, 20000));
  g_assert_cmpuint (lsp_discovery_lookup_peer (lsp_node_get_discovery (observer->node),
                                               lsp_node_get_peer_id (victim->node))->port,
                    ==, lsp_node_get_port (victim->node));

  assert_honest_peer_syncs (observer);
  fake_services_clear (&fakes);
  test_peer_clear (&a);
  test_peer_clear (&b);
}

static gboolean
is_true (gpointer data)
{
  return *(gboolean *) data;
}

static void
on_node_finalized (gpointer  data,
                   GObject  *where_the_node_was)
{
  *(gboolean *) data = TRUE;
}

/* Whoever made a node may let go of it while one of its dials waits for
 * an answer that never comes: the dial keeps the node, and with it the
 * endpoint, until the handshake times out, and the timeout then drops
 * the last reference to both from inside the connection's teardown. */
static void
test_released_while_dialling (void)
{
  TestPeer peer = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) black_hole = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                                G_SOCKET_PROTOCOL_UDP, &error);
  g_autoptr(GInetSocketAddress) any_port = loopback_address ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) hole_address = NULL;
  gboolean finalized = FALSE;

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (black_hole, G_SOCKET_ADDRESS (any_port), FALSE, &error));
  hole_address = g_socket_get_local_address (black_hole, &error);
  g_assert_no_error (error);

  test_peer_init (&peer, "released");
  lsp_quic_endpoint_set_handshake_timeout (peer.node->endpoint, 300);
  lsp_node_add_static_peer (peer.node, G_INET_SOCKET_ADDRESS (hole_address));
  g_object_weak_ref (G_OBJECT (peer.node), on_node_finalized, &finalized);

  /* Earlier tests' nodes may still be dialling too, so which "Could not
   * reach" is ours cannot be told from the log; the node's end can. */
  g_clear_object (&peer.node);
  g_assert_false (finalized);
  g_assert_true (lsp_test_wait_until (is_true, &finalized, 10000));
  test_peer_clear (&peer);
}

typedef struct
{
  LspNode *node;
  guint    n_services;
  guint    most_dialling;
} DialWatch;

static gboolean
all_dialled (gpointer data)
{
  DialWatch *watch = data;
  guint dialling = g_hash_table_size (watch->node->dialing);

  watch->most_dialling = MAX (watch->most_dialling, dialling);
  return lsp_discovery_get_n_peers (lsp_node_get_discovery (watch->node)) >= watch->n_services &&
         dialling == 0 && g_queue_is_empty (&watch->node->dial_queue);
}

static void
test_announcement_flood (void)
{
  TestPeer target = { 0 };
  FakeServices fakes = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) black_hole = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                                G_SOCKET_PROTOCOL_UDP, &error);
  g_autoptr(GInetSocketAddress) any_port = loopback_address ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) hole_address = NULL;
  DialWatch watch = { 0 };
  guint16 hole_port;

  g_assert_no_error (error);
  /* Where the announced peers "are": a socket that reads nothing, so
   * every dial waits for its handshake timeout. */
  g_assert_true (g_socket_bind (black_hole, G_SOCKET_ADDRESS (any_port), FALSE, &error));
  hole_address = g_socket_get_local_address (black_hole, &error);
  g_assert_no_error (error);
  hole_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (hole_address));

  test_peer_init (&target, "target");
  lsp_quic_endpoint_set_handshake_timeout (target.node->endpoint, 3000);
  enable_discovery (&target);
  watch.node = target.node;
  watch.n_services = LSP_NODE_MAX_DIALS + 8;

  fake_services_init (&fakes);
  for (guint i = 0; i < watch.n_services; i++)
    {
      g_autofree char *name = g_strdup_printf ("announced-%02u", i);
      GString *peer_id = g_string_new ("ffffffff");

      /* Larger than ours, so we are the side that dials. */
      for (guint j = 0; j < 7; j++)
        g_string_append_printf (peer_id, "%08x", g_random_int ());
      fake_service_add (&fakes, name, hole_port, peer_id->str);
      g_string_free (peer_id, TRUE);
    }
  fake_services_wait (&fakes);
  g_assert_true (lsp_test_wait_until (all_dialled, &watch, 60000));
  g_test_message ("%u announced peers, at most %u dialled at once", watch.n_services, watch.most_dialling);
  g_assert_cmpuint (watch.most_dialling, <=, LSP_NODE_MAX_DIALS);

  assert_honest_peer_syncs (&target);
  fake_services_clear (&fakes);
  test_peer_clear (&target);
}

typedef struct
{
  LspDiscovery *discovery;
  guint         n_announced;
} Followed;

static gboolean
all_seen (gpointer data)
{
  Followed *followed = data;
  return g_hash_table_size (followed->discovery->services) + followed->discovery->n_ignored >= followed->n_announced;
}

/* Each service we follow holds a resolver, here and in the daemon. */
static void
test_service_flood (void)
{
  TestPeer target = { 0 };
  FakeServices fakes = { 0 };
  Followed followed = { 0 };

  test_peer_init (&target, "target");
  enable_discovery (&target);
  followed.discovery = lsp_node_get_discovery (target.node);
  followed.n_announced = LSP_DISCOVERY_MAX_SERVICES + 8;

  fake_services_init (&fakes);
  for (guint i = 0; i < followed.n_announced; i++)
    {
      g_autofree char *name = g_strdup_printf ("flood-%04u", i);
      GString *peer_id = g_string_new ("00000000");

      /* Smaller than ours: we would not dial them, only follow them. */
      for (guint j = 0; j < 7; j++)
        g_string_append_printf (peer_id, "%08x", g_random_int ());
      fake_service_add (&fakes, name, 9, peer_id->str);
      g_string_free (peer_id, TRUE);
    }
  fake_services_wait (&fakes);
  g_assert_true (lsp_test_wait_until (all_seen, &followed, 60000));
  g_assert_cmpuint (g_hash_table_size (followed.discovery->services), <=, LSP_DISCOVERY_MAX_SERVICES);

  assert_honest_peer_syncs (&target);
  fake_services_clear (&fakes);
  test_peer_clear (&target);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/peer/hostile/delta-beyond-game-limit", test_delta_beyond_game_limit);
  g_test_add_func ("/peer/hostile/delta-count-mismatch-drops-games", test_delta_count_mismatch_drops_games);

  g_test_add_func ("/peer/hostile/no-hello-is-closed", test_no_hello_is_closed);
  g_test_add_func ("/peer/hostile/duplicate-is-closed", test_duplicate_is_closed);
  g_test_add_func ("/peer/hostile/connections-per-address", test_connections_per_address);
  g_test_add_func ("/peer/hostile/reserved-slots", test_reserved_slots);
  g_test_add_func ("/peer/hostile/stray-datagrams", test_stray_datagrams);
  g_test_add_func ("/peer/hostile/manifest-loads-per-peer", test_manifest_loads_per_peer);
  g_test_add_func ("/peer/hostile/fake-service-for-known-peer", test_fake_service_for_known_peer);
  g_test_add_func ("/peer/hostile/fake-service-before-peer", test_fake_service_before_peer);
  g_test_add_func ("/peer/hostile/announcement-flood", test_announcement_flood);
  g_test_add_func ("/peer/hostile/released-while-dialling", test_released_while_dialling);
  g_test_add_func ("/peer/hostile/service-flood", test_service_flood);

  return g_test_run ();
}
