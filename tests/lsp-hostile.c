#include "config.h"

#include "lsp-hostile.h"

#include <avahi-common/error.h>
#include <net/if.h>

#include "lsp-test-util.h"

static const char * const catalog_ids[] = { "alpha", "beta", NULL };
const char other_digest[] = "1111111111111111111111111111111111111111111111111111111111111111";

GInetSocketAddress *
loopback_address (const char *host,
                  guint16     port)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (host);
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (inet, port));
}

/* Peers other than the attacker bind to their own loopback address, so
 * the per-address limits the attacker runs into are not theirs. */
void
test_peer_make_dirs (TestPeer *peer)
{
  peer->games = lsp_test_make_temp_dir ();
  peer->state = lsp_test_make_temp_dir ();
}

/* watch: follow changes to the games folder; without, only what is there
 * now is scanned, and nothing reads the folder behind the test's back. */
void
test_peer_start (TestPeer   *peer,
                 const char *name,
                 const char *host,
                 gboolean    watch)
{
  g_autoptr(LspCatalog) catalog = lsp_test_catalog_new (catalog_ids);
  g_autoptr(GFile) dir = g_file_new_for_path (peer->games);
  g_autoptr(GInetSocketAddress) bind = loopback_address (host, 0);
  g_autoptr(GError) error = NULL;

  peer->library = lsp_library_new (dir, catalog);
  lsp_test_load_library (peer->library);
  if (watch)
    lsp_library_watch (peer->library);
  peer->identity = lsp_identity_load_or_create (peer->state, &error);
  g_assert_no_error (error);
  peer->node = lsp_node_new (peer->library, peer->identity, name);
  lsp_node_set_party_key (peer->node, peer->party_key);
  g_assert_true (lsp_node_start (peer->node, bind, &error));
  g_assert_no_error (error);
}

void
test_peer_init_at (TestPeer   *peer,
                   const char *name,
                   const char *host)
{
  test_peer_make_dirs (peer);
  test_peer_start (peer, name, host, TRUE);
}

void
test_peer_init (TestPeer   *peer,
                const char *name)
{
  test_peer_init_at (peer, name, "127.0.0.1");
}

void
test_peer_clear (TestPeer *peer)
{
  g_clear_object (&peer->node);
  g_clear_object (&peer->identity);
  g_clear_object (&peer->library);
  g_clear_pointer (&peer->party_key, g_bytes_unref);
  lsp_test_remove_tree (peer->games);
  lsp_test_remove_tree (peer->state);
  g_free (peer->games);
  g_free (peer->state);
}

GInetSocketAddress *
address_of (TestPeer *peer)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (loopback, lsp_node_get_port (peer->node)));
}


gboolean
is_synced (gpointer data)
{
  Sync *sync = data;
  LspPeer *peer = lsp_node_lookup_peer (sync->viewer->node, lsp_node_get_peer_id (sync->seen->node));

  return peer != NULL && lsp_peer_get_connected (peer) && lsp_peer_get_has_library (peer) &&
         g_strcmp0 (lsp_peer_get_library_digest (peer), lsp_library_get_digest (sync->seen->library)) == 0;
}

/* The check closing every test: an honest peer still connects and syncs. */
void
assert_honest_peer_syncs (TestPeer *target)
{
  TestPeer honest = { 0 };
  g_autoptr(GInetSocketAddress) address = address_of (target);
  Sync seen_by_honest = { &honest, target };
  Sync seen_by_target = { target, &honest };

  test_peer_init_at (&honest, "honest", "127.0.0.2");
  lsp_test_make_game (honest.games, "beta", "1.0", 100);
  lsp_test_wait_idle (honest.library);
  lsp_node_add_static_peer (honest.node, address);
  g_assert_true (lsp_test_wait_until (is_synced, &seen_by_honest, 20000));
  g_assert_true (lsp_test_wait_until (is_synced, &seen_by_target, 20000));
  test_peer_clear (&honest);
}


/* The hostile side: one endpoint and identity, any number of connections. */



void
attacker_init (Attacker *attacker)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) bind = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GError) error = NULL;

  attacker->state = lsp_test_make_temp_dir ();
  attacker->identity = lsp_identity_load_or_create (attacker->state, &error);
  g_assert_no_error (error);
  attacker->endpoint = lsp_quic_endpoint_new (attacker->identity, LSP_PROTO_ALPN,
                                              G_INET_SOCKET_ADDRESS (bind), &error);
  g_assert_no_error (error);
}

void
attacker_clear (Attacker *attacker)
{
  g_clear_object (&attacker->endpoint);
  g_clear_object (&attacker->identity);
  lsp_test_remove_tree (attacker->state);
  g_free (attacker->state);
}

static void
on_attack_connected (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Attack *attack = user_data;

  attack->conn = lsp_quic_endpoint_connect_finish (LSP_QUIC_ENDPOINT (object), result, &attack->connect_error);
  attack->connect_done = TRUE;
}

static gboolean
attack_connect_done (gpointer data)
{
  return ((Attack *) data)->connect_done;
}

Attack *
attack_new (Attacker *attacker,
            TestPeer *target)
{
  g_autoptr(GInetSocketAddress) address = address_of (target);
  Attack *attack = g_new0 (Attack, 1);

  attack->received = g_ptr_array_new_with_free_func ((GDestroyNotify) lsp_message_unref);
  attack->decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_FRAME);
  lsp_quic_endpoint_connect_async (attacker->endpoint, address, NULL, NULL, on_attack_connected, attack);
  g_assert_true (lsp_test_wait_until (attack_connect_done, attack, 10000));
  return attack;
}

void
attack_free (Attack *attack)
{
  if (attack->control != NULL)
    lsp_quic_stream_set_read_func (attack->control, NULL, NULL, NULL);
  g_clear_object (&attack->control);
  if (attack->conn != NULL)
    lsp_quic_connection_close (attack->conn, 0, "done");
  g_clear_object (&attack->conn);
  g_clear_error (&attack->connect_error);
  lsp_frame_decoder_free (attack->decoder);
  g_ptr_array_unref (attack->received);
  g_free (attack);
}

void
on_attack_read (LspQuicStream *stream,
                const guint8  *data,
                gsize          length,
                gboolean       fin,
                const GError  *error,
                gpointer       user_data)
{
  Attack *attack = user_data;

  while (length > 0 && !lsp_frame_decoder_has_failed (attack->decoder))
    {
      gsize used = lsp_frame_decoder_feed (attack->decoder, data, length, NULL);
      GBytes *frame;

      data += used;
      length -= used;
      while ((frame = lsp_frame_decoder_pop (attack->decoder)) != NULL)
        {
          LspMessage *message = lsp_message_parse (g_bytes_get_data (frame, NULL), g_bytes_get_size (frame), NULL);

          if (message != NULL)
            g_ptr_array_add (attack->received, message);
          g_bytes_unref (frame);
        }
      if (used == 0)
        break;
    }
  if (fin || error != NULL)
    attack->finished = TRUE;
}

void
attack_send (Attack     *attack,
             LspMessage *message)
{
  g_autoptr(LspMessage) owned = message;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) frame = lsp_message_encode (owned, LSP_PROTO_MAX_FRAME, &error);

  g_assert_no_error (error);
  if (attack->control == NULL)
    {
      attack->control = lsp_quic_connection_open_stream (attack->conn, TRUE, &error);
      g_assert_no_error (error);
      lsp_quic_stream_set_read_func (attack->control, on_attack_read, attack, NULL);
    }
  lsp_quic_stream_write_bytes_async (attack->control, frame, FALSE, NULL, NULL, NULL);
}

void
attack_say_hello (Attack     *attack,
                  Attacker   *attacker,
                  guint64     library_rev,
                  const char *library_digest)
{
  static const char * const no_features[] = { NULL };

  attack_send (attack, lsp_message_new_hello (LSP_MESSAGE_HELLO, lsp_identity_get_peer_id (attacker->identity),
                                              "127.0.0.1:9", library_rev, library_digest,
                                              no_features, "attacker"));
}


guint
count_received (Attack         *attack,
                LspMessageType  type)
{
  guint count = 0;

  for (guint i = 0; i < attack->received->len; i++)
    {
      LspMessage *message = g_ptr_array_index (attack->received, i);
      if (message->type == type)
        count++;
    }
  return count;
}

typedef struct
{
  Attack         *attack;
  LspMessageType  type;
  guint           count;
} Received;

static gboolean
has_received (gpointer data)
{
  Received *wait = data;
  return count_received (wait->attack, wait->type) >= wait->count;
}

/* Waits for the count-th message of this type since the connection began. */
void
attack_wait_for (Attack         *attack,
                 LspMessageType  type,
                 guint           count)
{
  Received wait = { attack, type, count };
  g_assert_true (lsp_test_wait_until (has_received, &wait, 20000));
}

gboolean
attack_is_finished (gpointer data)
{
  Attack *attack = data;
  return attack->finished || lsp_quic_connection_is_closed (attack->conn);
}

GPtrArray *
make_games (const char *prefix,
            guint       first,
            guint       count)
{
  GPtrArray *games = g_ptr_array_new_with_free_func ((GDestroyNotify) lsp_game_summary_free);

  for (guint i = first; i < first + count; i++)
    {
      g_autofree char *id = g_strdup_printf ("%s-%05u", prefix, i);
      g_ptr_array_add (games, lsp_game_summary_new (id, id));
    }
  return games;
}

LspPeer *
attacker_peer (TestPeer *target,
               Attacker *attacker)
{
  return lsp_node_lookup_peer (target->node, lsp_identity_get_peer_id (attacker->identity));
}


gboolean
peer_has_games (gpointer data)
{
  PeerGames *wait = data;
  LspPeer *peer = attacker_peer (wait->target, wait->attacker);

  return peer != NULL && lsp_peer_get_has_library (peer) && lsp_peer_get_n_games (peer) == wait->n_games;
}

/* Connects, says Hello and hands over a snapshot of n_games games at rev 1. */
Attack *
attack_with_library (Attacker *attacker,
                     TestPeer *target,
                     guint     n_games)
{
  Attack *attack = attack_new (attacker, target);
  g_autoptr(GPtrArray) games = make_games ("game", 0, n_games);
  PeerGames wait = { target, attacker, n_games };

  g_assert_no_error (attack->connect_error);
  attack_say_hello (attack, attacker, 1, other_digest);
  attack_wait_for (attack, LSP_MESSAGE_HELLO_ACK, 1);
  attack_send (attack, lsp_message_new_library_snapshot (lsp_identity_get_peer_id (attacker->identity),
                                                         1, other_digest, games));
  g_assert_true (lsp_test_wait_until (peer_has_games, &wait, 20000));
  return attack;
}



static void
on_dialled (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Dial *dial = user_data;

  dial->conn = lsp_quic_endpoint_connect_finish (LSP_QUIC_ENDPOINT (object), result, &dial->error);
  dial->done = TRUE;
}

static gboolean
dial_done (gpointer data)
{
  return ((Dial *) data)->done;
}

void
dial (LspQuicEndpoint *from,
      LspQuicEndpoint *to,
      Dial            *result)
{
  g_autoptr(GInetSocketAddress) address =
    G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (g_inet_socket_address_get_address (lsp_quic_endpoint_get_local_address (to)),
                                                      lsp_quic_endpoint_get_port (to)));

  lsp_quic_endpoint_connect_async (from, address, NULL, NULL, on_dialled, result);
  g_assert_true (lsp_test_wait_until (dial_done, result, 10000));
}

void
dial_clear (Dial *result)
{
  if (result->conn != NULL)
    lsp_quic_connection_close (result->conn, 0, NULL);
  g_clear_object (&result->conn);
  g_clear_error (&result->error);
  result->done = FALSE;
}

LspQuicEndpoint *
endpoint_at (const char  *state,
             const char  *host)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspIdentity) identity = lsp_identity_load_or_create (state, &error);
  g_autoptr(GInetSocketAddress) bind = loopback_address (host, 0);
  LspQuicEndpoint *endpoint;

  g_assert_no_error (error);
  endpoint = lsp_quic_endpoint_new (identity, LSP_PROTO_ALPN, bind, &error);
  g_assert_no_error (error);
  return endpoint;
}


static void
on_fake_group (AvahiEntryGroup      *group,
               AvahiEntryGroupState  state,
               void                 *user_data)
{
  FakeServices *fakes = user_data;

  g_assert_cmpint (state, !=, AVAHI_ENTRY_GROUP_FAILURE);
  g_assert_cmpint (state, !=, AVAHI_ENTRY_GROUP_COLLISION);
  if (state == AVAHI_ENTRY_GROUP_ESTABLISHED)
    fakes->established++;
}

void
fake_services_init (FakeServices *fakes)
{
  int error = 0;

  fakes->poll = avahi_glib_poll_new (NULL, G_PRIORITY_DEFAULT);
  fakes->client = avahi_client_new (avahi_glib_poll_get (fakes->poll), 0, NULL, NULL, &error);
  if (fakes->client == NULL)
    g_error ("avahi-daemon is not reachable (%s); start it with “tests/mdns-loopback up”", avahi_strerror (error));
  fakes->groups = g_ptr_array_new_with_free_func ((GDestroyNotify) avahi_entry_group_free);
}

static gboolean
fakes_established (gpointer data)
{
  FakeServices *fakes = data;
  return fakes->established == fakes->groups->len;
}

/* A service of our type that anyone on the LAN could announce; it is up
 * once fake_services_wait() returns. */
void
fake_service_add (FakeServices *fakes,
                      const char   *name,
                      guint16       port,
                      const char   *peer_id)
{
  AvahiEntryGroup *group = avahi_entry_group_new (fakes->client, on_fake_group, fakes);
  g_autofree char *id_entry = g_strconcat ("peer_id=", peer_id, NULL);

  g_assert_nonnull (group);
  g_ptr_array_add (fakes->groups, group);
  g_assert_cmpint (avahi_entry_group_add_service (group, (AvahiIfIndex) if_nametoindex ("lo"), AVAHI_PROTO_INET, 0,
                                                  name, LSP_DISCOVERY_SERVICE_TYPE, NULL, NULL, port,
                                                  id_entry, "proto_ver=1", NULL), ==, 0);
  g_assert_cmpint (avahi_entry_group_commit (group), ==, 0);
}

void
fake_services_wait (FakeServices *fakes)
{
  g_assert_true (lsp_test_wait_until (fakes_established, fakes, 15000));
}

void
fake_services_clear (FakeServices *fakes)
{
  g_clear_pointer (&fakes->groups, g_ptr_array_unref);
  g_clear_pointer (&fakes->client, avahi_client_free);
  g_clear_pointer (&fakes->poll, avahi_glib_poll_free);
}

void
enable_discovery (TestPeer *peer)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (lsp_node_enable_discovery (peer->node, TRUE, &error));
  g_assert_no_error (error);
}
