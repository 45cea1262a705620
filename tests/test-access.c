#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lsp-chunk-server.h"
#include "lsp-engine.h"
#include "lsp-frame-decoder.h"
#include "lsp-hostile.h"
#include "lsp-party-key.h"
#include "lsp-test-util.h"

/* Access control: a party passphrase proven over each connection, against
 * real nodes on loopback and a peer that says what it likes. */

/* Derived once: the KDF is slow on purpose. */
static GBytes *party_key;
static GBytes *wrong_key;

static void
party_peer_init (TestPeer   *peer,
                 const char *name,
                 const char *host,
                 GBytes     *key)
{
  test_peer_make_dirs (peer);
  peer->party_key = key != NULL ? g_bytes_ref (key) : NULL;
  test_peer_start (peer, name, host, TRUE);
}

/* A peer of the party connects to the target and sees its library. */
static void
assert_party_peer_syncs (TestPeer *target)
{
  TestPeer honest = { 0 };
  g_autoptr(GInetSocketAddress) address = address_of (target);
  Sync seen_by_honest = { &honest, target };
  Sync seen_by_target = { target, &honest };

  party_peer_init (&honest, "honest", "127.0.0.2", party_key);
  lsp_test_make_game (honest.games, "beta", "1.0", 100);
  lsp_test_wait_idle (honest.library);
  lsp_node_add_static_peer (honest.node, address);
  g_assert_true (lsp_test_wait_until (is_synced, &seen_by_honest, 20000));
  g_assert_true (lsp_test_wait_until (is_synced, &seen_by_target, 20000));
  test_peer_clear (&honest);
}

static void
say_hello_with_auth (Attack   *attack,
                     Attacker *attacker)
{
  static const char * const auth[] = { LSP_PROTO_FEATURE_AUTH, NULL };

  attack_send (attack, lsp_message_new_hello (LSP_MESSAGE_HELLO, lsp_identity_get_peer_id (attacker->identity),
                                              "127.0.0.1:9", 0, other_digest, auth, "attacker"));
}

/* Connects, says Hello offering a proof and waits for the target's own
 * HelloAck and Auth: the state a stranger reaches without the passphrase. */
static Attack *
attack_until_auth (Attacker *attacker,
                   TestPeer *target)
{
  Attack *attack = attack_new (attacker, target);

  g_assert_no_error (attack->connect_error);
  say_hello_with_auth (attack, attacker);
  attack_wait_for (attack, LSP_MESSAGE_HELLO_ACK, 1);
  attack_wait_for (attack, LSP_MESSAGE_AUTH, 1);
  return attack;
}

/* The target refused: one fatal unauthorized Error, and the connection
 * ends. Nothing it said before carries a library or a manifest. */
static void
assert_unauthorized (Attack *attack)
{
  LspMessage *last;

  g_assert_true (lsp_test_wait_until (attack_is_finished, attack, 20000));
  g_assert_cmpuint (attack->received->len, >, 0);
  last = g_ptr_array_index (attack->received, attack->received->len - 1);
  g_assert_cmpint (last->type, ==, LSP_MESSAGE_ERROR);
  g_assert_cmpstr (last->error.code, ==, LSP_PROTO_ERROR_UNAUTHORIZED);
  g_assert_true (last->error.fatal);
  for (guint i = 0; i < attack->received->len; i++)
    {
      LspMessage *message = g_ptr_array_index (attack->received, i);

      g_assert_true (message->type == LSP_MESSAGE_HELLO_ACK || message->type == LSP_MESSAGE_AUTH ||
                     message->type == LSP_MESSAGE_ERROR);
    }
  g_test_assert_expected_messages ();
}

static void
expect_refusal (const char *why)
{
  g_autofree char *pattern = g_strdup_printf ("Dropping peer*%s*", why);
  g_test_expect_message ("lsp-node", G_LOG_LEVEL_WARNING, pattern);
}

static void
on_unauthorized (LspNode    *node,
                 const char *peer_id,
                 const char *address,
                 char      **out_peer_id)
{
  g_assert_null (*out_peer_id);
  *out_peer_id = g_strdup (peer_id);
}

static gboolean
string_set (gpointer data)
{
  return *(char **) data != NULL;
}

static void
test_missing_passphrase (void)
{
  TestPeer target = { 0 }, open_peer = { 0 };
  Attacker attacker = { 0 };
  Attack *attack;

  party_peer_init (&target, "target", "127.0.0.1", party_key);
  attacker_init (&attacker);

  /* A peer without the passphrase learns nothing, not even a HelloAck. */
  attack = attack_new (&attacker, &target);
  expect_refusal ("this party needs a passphrase");
  attack_say_hello (attack, &attacker, 0, other_digest);
  assert_unauthorized (attack);
  g_assert_cmpuint (count_received (attack, LSP_MESSAGE_HELLO_ACK), ==, 0);
  g_assert_null (attacker_peer (&target, &attacker));
  attack_free (attack);

  /* A party without a passphrase refuses a peer that asks for one: it
   * could not prove anything to it. */
  party_peer_init (&open_peer, "open", "127.0.0.1", NULL);
  attack = attack_new (&attacker, &open_peer);
  expect_refusal ("asks for a passphrase");
  say_hello_with_auth (attack, &attacker);
  assert_unauthorized (attack);
  g_assert_cmpuint (count_received (attack, LSP_MESSAGE_HELLO_ACK), ==, 0);
  attack_free (attack);
  test_peer_clear (&open_peer);

  /* A real peer without the passphrase is told, and says so once. */
  {
    TestPeer outsider = { 0 };
    g_autoptr(GInetSocketAddress) address = address_of (&target);
    g_autofree char *refused_by = NULL;

    party_peer_init (&outsider, "outsider", "127.0.0.2", NULL);
    g_signal_connect (outsider.node, "unauthorized", G_CALLBACK (on_unauthorized), &refused_by);
    expect_refusal ("this party needs a passphrase");
    lsp_node_add_static_peer (outsider.node, address);
    g_assert_true (lsp_test_wait_until (string_set, &refused_by, 20000));
    g_test_assert_expected_messages ();
    g_assert_cmpstr (refused_by, ==, lsp_node_get_peer_id (target.node));
    g_assert_null (lsp_node_lookup_peer (outsider.node, refused_by));
    g_signal_handlers_disconnect_by_data (outsider.node, &refused_by);
    test_peer_clear (&outsider);
  }

  assert_party_peer_syncs (&target);
  attacker_clear (&attacker);
  test_peer_clear (&target);
}

typedef struct
{
  LspFrameDecoder *decoder;
  GPtrArray       *answers;   /* LspMessage */
  gboolean         done;
} StreamAnswer;

static void
on_stream_read (LspQuicStream *stream,
                const guint8  *data,
                gsize          length,
                gboolean       fin,
                const GError  *error,
                gpointer       user_data)
{
  StreamAnswer *answer = user_data;
  GBytes *frame;

  if (length > 0)
    lsp_frame_decoder_feed (answer->decoder, data, length, NULL);
  while ((frame = lsp_frame_decoder_pop (answer->decoder)) != NULL)
    {
      LspMessage *message = lsp_message_parse (g_bytes_get_data (frame, NULL), g_bytes_get_size (frame), NULL);

      if (message != NULL)
        g_ptr_array_add (answer->answers, message);
      g_bytes_unref (frame);
    }
  if (fin || error != NULL)
    answer->done = TRUE;
}

static gboolean
stream_done (gpointer data)
{
  return ((StreamAnswer *) data)->done;
}

/* A GetChunk on a data stream of a connection that has not proven the
 * passphrase: the stream is refused, no byte of the game comes back. */
static void
assert_chunk_refused (Attack     *attack,
                      const char *manifest_hash)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicStream) stream = lsp_quic_connection_open_stream (attack->conn, TRUE, &error);
  g_autoptr(LspMessage) request = lsp_message_new_get_chunk ("alpha", manifest_hash, "alpha.eti", 0, 100);
  g_autoptr(GBytes) frame = lsp_message_encode (request, LSP_PROTO_MAX_FRAME, NULL);
  StreamAnswer answer = { lsp_frame_decoder_new (LSP_PROTO_MAX_FRAME),
                          g_ptr_array_new_with_free_func ((GDestroyNotify) lsp_message_unref), FALSE };

  g_assert_no_error (error);
  lsp_quic_stream_set_read_func (stream, on_stream_read, &answer, NULL);
  lsp_quic_stream_write_bytes_async (stream, frame, TRUE, NULL, NULL, NULL);
  g_assert_true (lsp_test_wait_until (stream_done, &answer, 20000));
  lsp_quic_stream_set_read_func (stream, NULL, NULL, NULL);
  for (guint i = 0; i < answer.answers->len; i++)
    g_assert_cmpint (((LspMessage *) g_ptr_array_index (answer.answers, i))->type, !=, LSP_MESSAGE_CHUNK);
  lsp_frame_decoder_free (answer.decoder);
  g_ptr_array_unref (answer.answers);
}

static void
test_wrong_passphrase (void)
{
  TestPeer target = { 0 };
  Attacker attacker = { 0 };
  g_autoptr(LspChunkServer) server = NULL;
  const char *hash;
  Attack *attack;

  party_peer_init (&target, "target", "127.0.0.1", party_key);
  server = lsp_chunk_server_new (target.node, target.library);
  lsp_test_make_game (target.games, "alpha", "1.0", 4096);
  lsp_test_wait_idle (target.library);
  hash = lsp_local_game_get_manifest_hash (lsp_library_lookup (target.library, "alpha"));
  g_assert_nonnull (hash);
  attacker_init (&attacker);

  /* A proof made with another passphrase. */
  attack = attack_until_auth (&attacker, &target);
  {
    g_autofree char *proof = lsp_party_key_prove (wrong_key, attack->conn, lsp_identity_get_peer_id (attacker.identity),
                                                  lsp_node_get_peer_id (target.node), NULL);
    expect_refusal ("wrong passphrase proof");
    attack_send (attack, lsp_message_new_auth (proof));
  }
  assert_unauthorized (attack);
  attack_free (attack);

  /* Asking for the library, a manifest or a chunk instead of proving. */
  attack = attack_until_auth (&attacker, &target);
  expect_refusal ("proof must come first");
  attack_send (attack, lsp_message_new_get_library (FALSE, 0));
  assert_unauthorized (attack);
  attack_free (attack);

  attack = attack_until_auth (&attacker, &target);
  expect_refusal ("proof must come first");
  attack_send (attack, lsp_message_new_get_manifest ("alpha", hash));
  assert_unauthorized (attack);
  attack_free (attack);

  attack = attack_until_auth (&attacker, &target);
  assert_chunk_refused (attack, hash);
  g_assert_cmpuint (lsp_chunk_server_get_bytes_served (server), ==, 0);
  attack_free (attack);

  g_assert_null (attacker_peer (&target, &attacker));
  assert_party_peer_syncs (&target);
  attacker_clear (&attacker);
  g_clear_object (&server);
  test_peer_clear (&target);
}

static LspMessage *
first_received (Attack         *attack,
                LspMessageType  type)
{
  for (guint i = 0; i < attack->received->len; i++)
    {
      LspMessage *message = g_ptr_array_index (attack->received, i);
      if (message->type == type)
        return message;
    }
  g_assert_not_reached ();
}

/* A proof is bound to its connection's TLS session and to who sends it to
 * whom: one that was good elsewhere, or the target's own, is refused. */
static void
test_replayed_proof (void)
{
  TestPeer target = { 0 };
  Attacker attacker = { 0 };
  Attack *first, *replay, *reflect;
  g_autofree char *good = NULL;

  party_peer_init (&target, "target", "127.0.0.1", party_key);
  attacker_init (&attacker);

  /* Someone who knows the passphrase gets in... */
  first = attack_until_auth (&attacker, &target);
  good = lsp_party_key_prove (party_key, first->conn, lsp_identity_get_peer_id (attacker.identity),
                              lsp_node_get_peer_id (target.node), NULL);
  attack_send (first, lsp_message_new_auth (good));
  attack_wait_for (first, LSP_MESSAGE_LIBRARY_SUMMARY, 1);
  g_assert_nonnull (attacker_peer (&target, &attacker));

  /* ...but the same proof on another connection does not. */
  replay = attack_until_auth (&attacker, &target);
  expect_refusal ("wrong passphrase proof");
  attack_send (replay, lsp_message_new_auth (good));
  assert_unauthorized (replay);
  attack_free (replay);

  /* Nor does the target's own proof sent back to it. */
  reflect = attack_until_auth (&attacker, &target);
  expect_refusal ("wrong passphrase proof");
  attack_send (reflect, lsp_message_new_auth (first_received (reflect, LSP_MESSAGE_AUTH)->auth.proof));
  assert_unauthorized (reflect);
  attack_free (reflect);

  attack_free (first);
  attacker_clear (&attacker);
  test_peer_clear (&target);
}

static void
test_party_syncs (void)
{
  TestPeer target = { 0 };

  party_peer_init (&target, "target", "127.0.0.1", party_key);
  lsp_test_make_game (target.games, "alpha", "1.0", 100);
  lsp_test_wait_idle (target.library);
  assert_party_peer_syncs (&target);
  test_peer_clear (&target);
}

static void
peer_start_at_port (TestPeer   *peer,
                    const char *name,
                    guint16     port)
{
  g_autoptr(LspCatalog) catalog = lsp_test_catalog_new ((const char * const []) { "alpha", NULL });
  g_autoptr(GFile) dir = g_file_new_for_path (peer->games);
  g_autoptr(GInetSocketAddress) bind = loopback_address ("127.0.0.1", port);
  g_autoptr(GError) error = NULL;

  peer->library = lsp_library_new (dir, catalog);
  lsp_test_load_library (peer->library);
  peer->identity = lsp_identity_load_or_create (peer->state, &error);
  g_assert_no_error (error);
  peer->node = lsp_node_new (peer->library, peer->identity, name);
  g_assert_true (lsp_node_start (peer->node, bind, &error));
  g_assert_no_error (error);
}

typedef struct
{
  char *address;
  char *pinned;
  char *peer_id;
} KeyChange;

static void
on_peer_key_changed (LspNode    *node,
                     const char *address,
                     const char *pinned,
                     const char *peer_id,
                     KeyChange  *change)
{
  g_assert_null (change->address);
  change->address = g_strdup (address);
  change->pinned = g_strdup (pinned);
  change->peer_id = g_strdup (peer_id);
}

static gboolean
key_changed (gpointer data)
{
  return ((KeyChange *) data)->address != NULL;
}

/* A --peer address is pinned to the key met there: another key at that
 * address is reported and refused until the user trusts it; a peer met
 * before shows as known, with the name it had. */
static void
test_pinned_address (void)
{
  TestPeer watcher = { 0 }, first = { 0 }, impostor = { 0 };
  Sync sees_first = { &watcher, &first };
  Sync sees_impostor = { &watcher, &impostor };
  KeyChange change = { 0 };
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *host_port = NULL;
  g_autofree char *first_id = NULL;
  guint16 port;

  party_peer_init (&watcher, "watcher", "127.0.0.2", NULL);
  g_signal_connect (watcher.node, "peer-key-changed", G_CALLBACK (on_peer_key_changed), &change);
  party_peer_init (&first, "first", "127.0.0.1", NULL);
  port = lsp_node_get_port (first.node);
  address = address_of (&first);
  host_port = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
  first_id = g_strdup (lsp_node_get_peer_id (first.node));
  lsp_node_add_static_peer (watcher.node, address);
  g_assert_true (lsp_test_wait_until (is_synced, &sees_first, 20000));
  g_assert_null (lsp_peer_get_known_as (lsp_node_lookup_peer (watcher.node, first_id)));

  /* Someone else takes the address. */
  test_peer_clear (&first);
  test_peer_make_dirs (&impostor);
  peer_start_at_port (&impostor, "first", port);
  g_assert_true (lsp_test_wait_until (key_changed, &change, 20000));
  g_assert_cmpstr (change.address, ==, host_port);
  g_assert_cmpstr (change.pinned, ==, first_id);
  g_assert_cmpstr (change.peer_id, ==, lsp_node_get_peer_id (impostor.node));
  g_assert_false (is_synced (&sees_impostor));
  g_assert_null (lsp_node_lookup_peer (watcher.node, change.peer_id));

  /* The user says it is fine: the new key is dialled and pinned. */
  g_assert_true (lsp_node_trust_peer_address (watcher.node, host_port, &error));
  g_assert_no_error (error);
  g_assert_true (lsp_test_wait_until (is_synced, &sees_impostor, 20000));

  /* After a restart, the peer met before is known by the name it gave. */
  g_signal_handlers_disconnect_by_data (watcher.node, &change);
  g_clear_object (&watcher.node);
  g_clear_object (&watcher.identity);
  {
    g_autoptr(GInetSocketAddress) bind = loopback_address ("127.0.0.2", 0);

    watcher.identity = lsp_identity_load_or_create (watcher.state, &error);
    g_assert_no_error (error);
    watcher.node = lsp_node_new (watcher.library, watcher.identity, "watcher");
    g_assert_true (lsp_node_start (watcher.node, bind, &error));
  }
  lsp_node_add_static_peer (watcher.node, address);
  g_assert_true (lsp_test_wait_until (is_synced, &sees_impostor, 20000));
  g_assert_cmpstr (lsp_peer_get_known_as (lsp_node_lookup_peer (watcher.node, change.peer_id)), ==, "first");

  g_free (change.address);
  g_free (change.pinned);
  g_free (change.peer_id);
  test_peer_clear (&impostor);
  test_peer_clear (&watcher);
}

static void
on_engine_done (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  GError **error = user_data;
  gboolean ok = lsp_engine_start_finish (LSP_ENGINE (object), result, error);

  g_assert_true (ok || *error != NULL);
  g_object_set_data (object, "done", GINT_TO_POINTER (TRUE));
}

static gboolean
engine_done (gpointer data)
{
  return g_object_get_data (data, "done") != NULL;
}

static void
on_engine_stopped (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_assert_true (lsp_engine_stop_finish (LSP_ENGINE (object), result, NULL));
  *(gboolean *) user_data = TRUE;
}

static gboolean
flag_set (gpointer data)
{
  return *(gboolean *) data;
}

static void
on_dial_done (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Dial *dial = user_data;

  dial->conn = lsp_quic_endpoint_connect_finish (LSP_QUIC_ENDPOINT (object), result, &dial->error);
  dial->done = TRUE;
}

static gboolean
dial_finished (gpointer data)
{
  return ((Dial *) data)->done;
}

/* Dials host:port from an endpoint that gives up quickly. */
static gboolean
can_connect (Attacker   *attacker,
             const char *host,
             guint16     port)
{
  g_autoptr(GInetSocketAddress) address = loopback_address (host, port);
  Dial result = { 0 };
  gboolean connected;

  lsp_quic_endpoint_set_handshake_timeout (attacker->endpoint, 1000);
  lsp_quic_endpoint_connect_async (attacker->endpoint, address, NULL, NULL, on_dial_done, &result);
  g_assert_true (lsp_test_wait_until (dial_finished, &result, 20000));
  connected = result.conn != NULL;
  dial_clear (&result);
  return connected;
}

static char *
write_passphrase_file (const char *dir,
                       const char *name,
                       const char *content,
                       gsize       length,
                       int         mode);

/* Starts an engine on a fresh games folder; NULL and @error if it fails. */
static LspEngine *
start_engine (LspEngineConfig  *config,
              const char       *games,
              GError          **error)
{
  g_autofree char *catalog = g_build_filename (games, "catalog.json", NULL);
  g_autoptr(GFile) games_dir = g_file_new_for_path (games);
  static const char * const no_peers[] = { NULL };
  g_autoptr(LspEngine) engine = NULL;

  lsp_test_write_catalog (catalog, (const char * const []) { "alpha", NULL });
  config->games_dir = games_dir;
  config->hostname = "engine";
  config->static_peers = no_peers;
  engine = lsp_engine_new (config);
  lsp_engine_start_async (engine, NULL, on_engine_done, error);
  g_assert_true (lsp_test_wait_until (engine_done, engine, 20000));
  return *error == NULL ? g_steal_pointer (&engine) : NULL;
}

static void
stop_engine (LspEngine *engine)
{
  gboolean stopped = FALSE;

  lsp_engine_stop_async (engine, "test over", on_engine_stopped, &stopped);
  g_assert_true (lsp_test_wait_until (flag_set, &stopped, 20000));
  g_object_unref (engine);
}

/* The engine asked to listen on one address listens there alone. */
static void
test_listen_address (void)
{
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *state = lsp_test_make_temp_dir ();
  LspEngineConfig config = { .state_dir = state, .listen_address = "127.0.0.2" };
  g_autoptr(GError) error = NULL;
  Attacker attacker = { 0 };
  LspEngine *engine;
  guint16 port;

  engine = start_engine (&config, games, &error);
  g_assert_no_error (error);
  port = lsp_node_get_port (lsp_engine_get_node (engine));
  attacker_init (&attacker);
  g_assert_true (can_connect (&attacker, "127.0.0.2", port));
  g_assert_false (can_connect (&attacker, "127.0.0.1", port));
  stop_engine (engine);

  /* Not an address: the engine says what to give instead. */
  config.listen_address = "lan";
  g_assert_null (start_engine (&config, games, &error));
  g_assert_error (error, LSP_ENGINE_ERROR, LSP_ENGINE_ERROR_NETWORK);
  g_assert_nonnull (strstr (error->message, "not an IP address"));

  attacker_clear (&attacker);
  lsp_test_remove_tree (games);
  lsp_test_remove_tree (state);
}

/* The app keeps its passphrase in a private file that the engine reads
 * when it starts: none there is no passphrase, a readable one is refused. */
static void
test_engine_passphrase_file (void)
{
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *state = lsp_test_make_temp_dir ();
  g_autofree char *good = write_passphrase_file (state, "good", "a party passphrase", 18, 0600);
  g_autofree char *shared = write_passphrase_file (state, "shared", "a party passphrase", 18, 0644);
  g_autofree char *missing = g_build_filename (state, "missing", NULL);
  LspEngineConfig config = { .state_dir = state };
  g_autoptr(GError) error = NULL;
  LspEngine *engine;

  config.passphrase_file = missing;
  engine = start_engine (&config, games, &error);
  g_assert_no_error (error);
  g_assert_false (lsp_node_get_has_passphrase (lsp_engine_get_node (engine)));
  stop_engine (engine);

  config.passphrase_file = good;
  engine = start_engine (&config, games, &error);
  g_assert_no_error (error);
  g_assert_true (lsp_node_get_has_passphrase (lsp_engine_get_node (engine)));
  stop_engine (engine);

  config.passphrase_file = shared;
  engine = start_engine (&config, games, &error);
  g_assert_null (engine);
  g_assert_error (error, LSP_ENGINE_ERROR, LSP_ENGINE_ERROR_NETWORK);
  g_assert_nonnull (strstr (error->message, "chmod 600"));

  lsp_test_remove_tree (games);
  lsp_test_remove_tree (state);
}

static char *
write_passphrase_file (const char *dir,
                       const char *name,
                       const char *content,
                       gsize       length,
                       int         mode)
{
  char *path = g_build_filename (dir, name, NULL);

  lsp_test_write_file (path, content, (gssize) length);
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
  return path;
}

static void
assert_file_refused (const char *path,
                     const char *reason)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspPassphrase) passphrase = lsp_party_passphrase_load (path, &error);

  g_assert_null (passphrase);
  g_assert_nonnull (error);
  if (strstr (error->message, reason) == NULL)
    g_error ("“%s” does not say “%s”", error->message, reason);
}

static void
test_passphrase_file (void)
{
  g_autofree char *dir = lsp_test_make_temp_dir ();
  g_autofree char *good = write_passphrase_file (dir, "good", "correct horse\n", 14, 0600);
  g_autofree char *crlf = write_passphrase_file (dir, "crlf", "correct horse\r\n", 15, 0400);
  g_autofree char *shared = write_passphrase_file (dir, "shared", "correct horse\n", 14, 0640);
  g_autofree char *empty = write_passphrase_file (dir, "empty", "\n", 1, 0600);
  g_autofree char *nul = write_passphrase_file (dir, "nul", "correct\0horse", 13, 0600);
  g_autofree char *long_text = g_strnfill (LSP_PARTY_PASSPHRASE_MAX_LEN + 1, 'x');
  g_autofree char *too_long = write_passphrase_file (dir, "long", long_text, strlen (long_text), 0600);
  g_autofree char *big_text = g_strnfill (64 * 1024, 'x');
  g_autofree char *big = write_passphrase_file (dir, "big", big_text, strlen (big_text), 0600);
  g_autofree char *link = g_build_filename (dir, "link", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing", NULL);
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(LspPassphrase) passphrase = lsp_party_passphrase_load (good, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (passphrase, ==, "correct horse");
  }
  {
    g_autoptr(LspPassphrase) passphrase = lsp_party_passphrase_load (crlf, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (passphrase, ==, "correct horse");
  }
  g_assert_cmpint (symlink (good, link), ==, 0);

  assert_file_refused (shared, "chmod 600");
  assert_file_refused (empty, "empty");
  assert_file_refused (nul, "not text");
  assert_file_refused (too_long, "longer than");
  assert_file_refused (big, "larger than");
  assert_file_refused (link, "Cannot open");
  assert_file_refused (dir, "not a regular file");
  assert_file_refused (missing, "Cannot open");

  lsp_test_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  party_key = lsp_party_key_derive ("correct horse battery staple", &error);
  g_assert_no_error (error);
  wrong_key = lsp_party_key_derive ("correct horse battery stapler", &error);
  g_assert_no_error (error);

  g_test_add_func ("/peer/access/passphrase-file", test_passphrase_file);
  g_test_add_func ("/peer/access/party-syncs", test_party_syncs);
  g_test_add_func ("/peer/access/missing-passphrase", test_missing_passphrase);
  g_test_add_func ("/peer/access/wrong-passphrase", test_wrong_passphrase);
  g_test_add_func ("/peer/access/replayed-proof", test_replayed_proof);
  g_test_add_func ("/peer/access/pinned-address", test_pinned_address);
  g_test_add_func ("/peer/access/listen-address", test_listen_address);
  g_test_add_func ("/peer/access/engine-passphrase-file", test_engine_passphrase_file);
  status = g_test_run ();

  g_clear_pointer (&party_key, g_bytes_unref);
  g_clear_pointer (&wrong_key, g_bytes_unref);
  return status;
}
