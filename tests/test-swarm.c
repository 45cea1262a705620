#include "config.h"

#include <string.h>

#include "lsp-chunk-server.h"
#include "lsp-download-manager.h"
#include "lsp-download-storage.h"
#include "lsp-frame-decoder.h"
#include "lsp-game-root.h"
#include "lsp-node.h"
#include "lsp-test-peer.h"
#include "lsp-test-util.h"

/* Swarming: downloaders serve the chunks they verified to each other,
 * between real nodes over QUIC on loopback, with real files. */

static const char * const catalog_ids[] = { "alpha", NULL };

#define MIB (1024 * 1024)

typedef LspTestPeer Peer;

/* old: the peer does not list the "swarm" feature, like one from before it. */
static void
peer_init (Peer       *peer,
           const char *name,
           gboolean    old)
{
  lsp_test_peer_start (peer, name, catalog_ids, !old);
}

/* A seeder of alpha 1.0, size bytes in one file, serving at most rate
 * bytes a second. */
static void
seeder_init (Peer    *peer,
             gsize    size,
             guint64  rate)
{
  peer->games = lsp_test_make_temp_dir ();
  lsp_test_make_game (peer->games, "alpha", "1.0", size);
  peer_init (peer, "seeder", FALSE);
  lsp_chunk_server_set_rate_limit (peer->server, rate);
}

static const char *
id_of (Peer *peer)
{
  return lsp_identity_get_peer_id (peer->identity);
}

static void
connect_to (Peer *from,
            Peer *to)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, lsp_node_get_port (to->node));

  lsp_node_add_static_peer (from->node, G_INET_SOCKET_ADDRESS (address));
}

typedef struct
{
  Peer *viewer;
  Peer *seen;
} Pair;

static gboolean
is_connected (gpointer data)
{
  Pair *pair = data;
  LspPeer *peer = lsp_node_lookup_peer (pair->viewer->node, id_of (pair->seen));

  return peer != NULL && lsp_node_get_connection (pair->viewer->node, id_of (pair->seen)) != NULL;
}

static gboolean
sees_offer (gpointer data)
{
  Pair *pair = data;
  LspPeer *peer = lsp_node_lookup_peer (pair->viewer->node, id_of (pair->seen));
  const LspGameSummary *game = peer != NULL ? lsp_peer_lookup_game (peer, "alpha") : NULL;

  return game != NULL && game->availability == LSP_AVAILABILITY_READY && is_connected (pair);
}

static void
wait_connected (Peer *viewer,
                Peer *seen)
{
  Pair pair = { viewer, seen };
  g_assert_true (lsp_test_wait_until (is_connected, &pair, 20000));
}

static void
wait_offer (Peer *viewer,
            Peer *seen)
{
  Pair pair = { viewer, seen };
  g_assert_true (lsp_test_wait_until (sees_offer, &pair, 20000));
}

typedef LspTestOutcome Outcome;

static LspDownload *
start_download (Peer    *peer,
                Outcome *outcome)
{
  g_autoptr(GError) error = NULL;
  LspDownload *download;

  lsp_test_outcome_watch (outcome, peer->downloads);
  download = lsp_download_manager_start (peer->downloads, "alpha", &error);
  g_assert_no_error (error);
  return download;
}

static void
wait_outcome (Peer    *peer,
              Outcome *outcome)
{
  lsp_test_outcome_wait (outcome, peer->downloads, 120000);
}

static guint64
bytes_from (GHashTable *peer_bytes,
            Peer       *peer)
{
  guint64 *bytes = g_hash_table_lookup (peer_bytes, id_of (peer));
  return bytes != NULL ? *bytes : 0;
}

static void
assert_same_game (Peer *downloader,
                  Peer *seeder)
{
  const char *files[] = { "alpha/alpha.eti", "alpha/version.ini" };

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *a_path = g_build_filename (seeder->games, files[i], NULL);
      g_autofree char *b_path = g_build_filename (downloader->games, files[i], NULL);
      g_autofree char *a = NULL, *b = NULL;
      gsize a_len = 0, b_len = 0;

      g_assert_true (g_file_get_contents (a_path, &a, &a_len, NULL));
      g_assert_true (g_file_get_contents (b_path, &b, &b_len, NULL));
      g_assert_cmpmem (a, a_len, b, b_len);
    }
  g_assert_true (lsp_local_game_get_downloaded (lsp_library_lookup (downloader->library, "alpha")));
  g_assert_cmpstr (lsp_local_game_get_manifest_hash (lsp_library_lookup (downloader->library, "alpha")), ==,
                   lsp_local_game_get_manifest_hash (lsp_library_lookup (seeder->library, "alpha")));
}

#define N_DOWNLOADERS 4

/* One seeder with a limited uplink, four downloaders started together:
 * each gets a real share of the game from the others. */
static void
test_four_downloaders (void)
{
  const gsize size = 48 * MIB;
  Peer seeder = { 0 }, downloaders[N_DOWNLOADERS] = { { 0 } };
  Outcome outcomes[N_DOWNLOADERS] = { { 0 } };
  g_autoptr(GHashTable) uploads = NULL;

  seeder_init (&seeder, size, 16 * MIB);
  for (guint i = 0; i < N_DOWNLOADERS; i++)
    {
      g_autofree char *name = g_strdup_printf ("downloader-%u", i);

      peer_init (&downloaders[i], name, FALSE);
      connect_to (&downloaders[i], &seeder);
      for (guint j = 0; j < i; j++)
        connect_to (&downloaders[i], &downloaders[j]);
    }
  for (guint i = 0; i < N_DOWNLOADERS; i++)
    {
      wait_offer (&downloaders[i], &seeder);
      for (guint j = 0; j < N_DOWNLOADERS; j++)
        if (j != i)
          wait_connected (&downloaders[i], &downloaders[j]);
    }

  for (guint i = 0; i < N_DOWNLOADERS; i++)
    start_download (&downloaders[i], &outcomes[i]);
  for (guint i = 0; i < N_DOWNLOADERS; i++)
    {
      guint64 from_others = 0;

      wait_outcome (&downloaders[i], &outcomes[i]);
      g_assert_no_error (outcomes[i].error);
      for (guint j = 0; j < N_DOWNLOADERS; j++)
        if (j != i)
          from_others += bytes_from (outcomes[i].peer_bytes, &downloaders[j]);
      g_test_message ("downloader-%u: %" G_GUINT64_FORMAT " bytes from the seeder, %" G_GUINT64_FORMAT
                      " from the other downloaders", i, bytes_from (outcomes[i].peer_bytes, &seeder), from_others);
      g_assert_cmpuint (from_others + bytes_from (outcomes[i].peer_bytes, &seeder), ==, size);
      /* A real share: at least a quarter of the game came from the swarm. */
      g_assert_cmpuint (from_others, >=, size / 4);
    }
  for (guint i = 0; i < N_DOWNLOADERS; i++)
    assert_same_game (&downloaders[i], &seeder);

  /* The seeder's uplink carried less than a copy per downloader, and its
   * own count of what went to whom covers what each kept (in the end game
   * a chunk may come twice, and one copy is dropped). */
  uploads = lsp_chunk_server_dup_peer_bytes (seeder.server);
  g_assert_cmpuint (lsp_chunk_server_get_bytes_served (seeder.server), <, N_DOWNLOADERS * size);
  for (guint i = 0; i < N_DOWNLOADERS; i++)
    g_assert_cmpuint (bytes_from (uploads, &downloaders[i]), >=, bytes_from (outcomes[i].peer_bytes, &seeder));

  for (guint i = 0; i < N_DOWNLOADERS; i++)
    {
      lsp_test_outcome_clear (&outcomes[i]);
      lsp_test_peer_clear (&downloaders[i]);
    }
  lsp_test_peer_clear (&seeder);
}

/* ---- a client that asks what it likes ---- */

/* Asks server for one chunk of alpha; returns the answer's Error code, or
 * "chunk" with the bytes in out_bytes. */
static char *
ask_chunk (Peer       *client,
           Peer       *server,
           const char *hash,
           guint64     offset,
           guint32     length,
           GByteArray *out_bytes)
{
  g_autoptr(LspMessage) request = lsp_message_new_get_chunk ("alpha", hash, "alpha.eti", offset, length);

  return lsp_test_peer_ask_raw (client, server, lsp_message_encode (request, LSP_PROTO_MAX_REQUEST_FRAME, NULL),
                                20000, out_bytes);
}

typedef struct
{
  Peer       *peer;
  const char *hash;
  guint       n_chunks;
  guint       at_least;
} Published;

static guint
count_published (Peer       *peer,
                 const char *hash,
                 guint       n_chunks)
{
  guint n = 0;

  for (guint i = 0; i < n_chunks; i++)
    n += lsp_node_is_chunk_published (peer->node, "alpha", hash, i);
  return n;
}

static gboolean
has_published (gpointer data)
{
  Published *published = data;
  return count_published (published->peer, published->hash, published->n_chunks) >= published->at_least;
}

typedef struct
{
  Peer        *seeder;
  LspDownload *download;
} Frozen;

/* The seeder sends nothing more and the downloader wrote all it got, so
 * the set of verified chunks holds still. */
static gboolean
is_frozen (gpointer data)
{
  Frozen *frozen = data;

  return lsp_chunk_server_get_n_active (frozen->seeder->server) == 0 &&
         lsp_download_get_bytes_done (frozen->download) - lsp_download_get_bytes_resumed (frozen->download) ==
           lsp_download_get_bytes_received (frozen->download);
}

/* A downloader serves the chunks it verified and refuses every other
 * request cleanly: a missing chunk, a part of a chunk, another manifest. */
static void
test_partial_refuses_unverified (void)
{
  const guint n_chunks = 8;
  Peer seeder = { 0 }, partial = { 0 }, client = { 0 };
  Outcome outcome = { 0 };
  g_autofree char *hash = NULL;
  g_autofree char *seeder_file = NULL, *expected = NULL;
  gsize expected_len = 0;
  LspDownload *download;
  guint served = G_MAXUINT, missing = G_MAXUINT;

  seeder_init (&seeder, n_chunks * 4 * MIB, 4 * MIB);
  peer_init (&partial, "partial", FALSE);
  peer_init (&client, "client", FALSE);
  connect_to (&partial, &seeder);
  connect_to (&client, &partial);
  wait_offer (&partial, &seeder);
  wait_connected (&client, &partial);
  hash = g_strdup (lsp_local_game_get_manifest_hash (lsp_library_lookup (seeder.library, "alpha")));
  seeder_file = g_build_filename (seeder.games, "alpha", "alpha.eti", NULL);
  g_assert_true (g_file_get_contents (seeder_file, &expected, &expected_len, NULL));

  download = start_download (&partial, &outcome);
  {
    Published published = { &partial, hash, n_chunks, 1 };
    g_assert_true (lsp_test_wait_until (has_published, &published, 60000));
  }
  /* Nothing more leaves the seeder: what the downloader verified stays put. */
  lsp_chunk_server_set_rate_limit (seeder.server, 1);
  {
    Frozen frozen = { &seeder, download };
    g_assert_true (lsp_test_wait_until (is_frozen, &frozen, 60000));
  }
  for (guint i = 0; i < n_chunks; i++)
    {
      if (lsp_node_is_chunk_published (partial.node, "alpha", hash, i))
        served = i;
      else
        missing = i;
    }
  g_assert_cmpuint (served, !=, G_MAXUINT);
  g_assert_cmpuint (missing, !=, G_MAXUINT);

  {
    g_autoptr(GByteArray) bytes = g_byte_array_new ();
    g_autofree char *answer = ask_chunk (&client, &partial, hash, (guint64) served * 4 * MIB, 4 * MIB, bytes);

    g_assert_cmpstr (answer, ==, "chunk");
    g_assert_cmpmem (bytes->data, bytes->len, expected + (gsize) served * 4 * MIB, 4 * MIB);
  }
  {
    const char *other = "0000000000000000000000000000000000000000000000000000000000000000";
    g_autofree char *unverified = ask_chunk (&client, &partial, hash, (guint64) missing * 4 * MIB, 4 * MIB, NULL);
    g_autofree char *part = ask_chunk (&client, &partial, hash, (guint64) served * 4 * MIB, MIB, NULL);
    g_autofree char *shifted = ask_chunk (&client, &partial, hash, (guint64) served * 4 * MIB + 1, 4 * MIB, NULL);
    g_autofree char *stale = ask_chunk (&client, &partial, other, (guint64) served * 4 * MIB, 4 * MIB, NULL);

    g_assert_cmpstr (unverified, ==, LSP_PROTO_ERROR_NOT_FOUND);
    g_assert_cmpstr (part, ==, LSP_PROTO_ERROR_NOT_FOUND);
    g_assert_cmpstr (shifted, ==, LSP_PROTO_ERROR_NOT_FOUND);
    g_assert_cmpstr (stale, ==, LSP_PROTO_ERROR_NOT_FOUND);
  }
  /* Refusals cost the stream, never the connection. */
  g_assert_nonnull (lsp_node_get_connection (client.node, id_of (&partial)));

  /* Once cancelled, not even a verified chunk is served. */
  lsp_download_cancel (download);
  {
    g_autofree char *after = ask_chunk (&client, &partial, hash, (guint64) served * 4 * MIB, 4 * MIB, NULL);
    g_assert_cmpstr (after, !=, "chunk");
  }
  wait_outcome (&partial, &outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* The seeder's queued requests end once they may start. */
  lsp_chunk_server_set_rate_limit (seeder.server, 0);

  lsp_test_outcome_clear (&outcome);
  lsp_test_peer_clear (&client);
  lsp_test_peer_clear (&partial);
  lsp_test_peer_clear (&seeder);
}

typedef struct
{
  Peer *server;
  Peer *client;
} Uploading;

static gboolean
is_uploading (gpointer data)
{
  Uploading *uploading = data;
  return lsp_chunk_server_get_n_active_for_peer (uploading->server->server, id_of (uploading->client)) > 0;
}

/* A partial peer that is cancelled while another downloader fetches from
 * it: the other carries on from the seeder, and the cancelled root ends
 * clean. */
static void
test_cancel_partial_source (void)
{
  const guint n_chunks = 12;
  Peer seeder = { 0 }, first = { 0 }, second = { 0 };
  Outcome first_outcome = { 0 }, second_outcome = { 0 };
  g_autofree char *hash = NULL, *root = NULL;
  g_autoptr(GHashTable) uploads = NULL;
  LspDownload *download;

  seeder_init (&seeder, n_chunks * 4 * MIB, 8 * MIB);
  peer_init (&first, "first", FALSE);
  peer_init (&second, "second", FALSE);
  connect_to (&first, &seeder);
  connect_to (&second, &seeder);
  connect_to (&second, &first);
  wait_offer (&first, &seeder);
  wait_offer (&second, &seeder);
  wait_connected (&second, &first);
  hash = g_strdup (lsp_local_game_get_manifest_hash (lsp_library_lookup (seeder.library, "alpha")));

  download = start_download (&first, &first_outcome);
  {
    Published published = { &first, hash, n_chunks, 3 };
    g_assert_true (lsp_test_wait_until (has_published, &published, 60000));
  }
  start_download (&second, &second_outcome);
  {
    Uploading uploading = { &first, &second };
    g_assert_true (lsp_test_wait_until (is_uploading, &uploading, 60000));
  }
  lsp_download_cancel (download);
  g_assert_false (lsp_node_has_published (first.node, "alpha", hash));

  wait_outcome (&first, &first_outcome);
  g_assert_error (first_outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  wait_outcome (&second, &second_outcome);
  g_assert_no_error (second_outcome.error);
  assert_same_game (&second, &seeder);
  g_assert_cmpuint (bytes_from (second_outcome.peer_bytes, &seeder) + bytes_from (second_outcome.peer_bytes, &first),
                    ==, n_chunks * 4 * MIB);

  /* The cancelled download swept everything it wrote. */
  lsp_test_wait_idle (first.library);
  root = g_build_filename (first.games, "alpha", NULL);
  g_assert_false (g_file_test (root, G_FILE_TEST_EXISTS));
  /* What the second kept from the first, the first counts as sent. */
  uploads = lsp_chunk_server_dup_peer_bytes (first.server);
  g_assert_cmpuint (bytes_from (uploads, &second), >=, bytes_from (second_outcome.peer_bytes, &first));

  lsp_test_outcome_clear (&first_outcome);
  lsp_test_outcome_clear (&second_outcome);
  lsp_test_peer_clear (&second);
  lsp_test_peer_clear (&first);
  lsp_test_peer_clear (&seeder);
}

static void
on_chunks_changed (LspPeer    *peer,
                   const char *game_id,
                   guint      *count)
{
  (*count)++;
}

typedef struct
{
  Peer       *seeder;
  Peer       *client;
  const char *hash;
} HaveSeen;

static gboolean
seeder_sees_have (gpointer data)
{
  HaveSeen *seen = data;
  LspPeer *peer = lsp_node_lookup_peer (seen->seeder->node, id_of (seen->client));
  guint n = 0;

  return peer != NULL && lsp_peer_peek_chunks_held (peer, "alpha", seen->hash, &n) != NULL;
}

static gboolean
either_done (gpointer data)
{
  LspTestRaw *raws = data;
  return raws[0].done || raws[1].done;
}

/* Three requests wait at a seeder with one upload slot: chunk 0, chunk 0
 * again, chunk 1. From a peer that passes chunks on (it announced what
 * it holds), chunk 1 goes before the older second request for chunk 0,
 * which already left once; from a peer that does not, in order. */
static void
check_serving_order (gboolean swarming)
{
  const guint64 offsets[] = { 0, 0, 4 * MIB };
  Peer seeder = { 0 }, client = { 0 };
  LspTestRaw raws[G_N_ELEMENTS (offsets)];
  LspQuicStream *streams[G_N_ELEMENTS (offsets)];
  g_autofree char *hash = NULL;

  seeder_init (&seeder, 2 * 4 * MIB, 0);
  lsp_chunk_server_set_slots (seeder.server, 1, 1);
  peer_init (&client, "client", FALSE);
  connect_to (&client, &seeder);
  wait_offer (&client, &seeder);
  hash = g_strdup (lsp_local_game_get_manifest_hash (lsp_library_lookup (seeder.library, "alpha")));
  if (swarming)
    {
      const guint8 none = 0;
      HaveSeen seen = { &seeder, &client, hash };

      lsp_node_publish_chunks (client.node, "alpha", hash, 2, &none);
      g_assert_true (lsp_test_wait_until (seeder_sees_have, &seen, 20000));
    }

  /* A request past the end, refused once the seeder loaded the manifest:
   * with the manifest at hand it queues the next ones in the order they
   * came. */
  {
    g_autofree char *refused = ask_chunk (&client, &seeder, hash, 2 * 4 * MIB, 4 * MIB, NULL);
    g_assert_cmpstr (refused, ==, LSP_PROTO_ERROR_NOT_FOUND);
  }
  /* An empty bucket: nothing starts for half a second, so all three
   * are waiting when the first does, and each later one waits as long. */
  lsp_chunk_server_set_rate_limit (seeder.server, 8 * MIB);
  for (guint i = 0; i < G_N_ELEMENTS (offsets); i++)
    {
      g_autoptr(LspMessage) request = lsp_message_new_get_chunk ("alpha", hash, "alpha.eti", offsets[i], 4 * MIB);

      streams[i] = lsp_test_raw_open (&raws[i], &client, &seeder);
      lsp_quic_stream_write_bytes_async (streams[i], lsp_message_encode (request, LSP_PROTO_MAX_REQUEST_FRAME, NULL),
                                         TRUE, NULL, NULL, NULL);
    }
  g_assert_true (lsp_test_wait_until (either_done, &raws[1], 20000));
  g_assert_true (raws[0].done);
  g_assert_true (swarming ? raws[2].done : raws[1].done);
  g_assert_false (swarming ? raws[1].done : raws[2].done);

  for (guint i = 0; i < G_N_ELEMENTS (offsets); i++)
    {
      g_assert_true (lsp_test_wait_until (lsp_test_raw_done, &raws[i], 20000));
      g_assert_nonnull (raws[i].answer);
      g_assert_cmpint (raws[i].answer->type, ==, LSP_MESSAGE_CHUNK);
      g_assert_cmpuint (raws[i].bytes->len, ==, 4 * MIB);
      lsp_test_raw_clear (&raws[i], streams[i]);
      g_object_unref (streams[i]);
    }
  lsp_test_peer_clear (&client);
  lsp_test_peer_clear (&seeder);
}

static void
test_seeder_spreads_chunks (void)
{
  check_serving_order (TRUE);
  check_serving_order (FALSE);
}

/* A peer without the feature in the same swarm completes; it is told of
 * no partial chunks and tells of none, so nobody asks it for what it
 * could not serve. */
static void
test_old_peer (void)
{
  const gsize size = 24 * MIB;
  Peer seeder = { 0 }, fresh = { 0 }, old = { 0 };
  Outcome fresh_outcome = { 0 }, old_outcome = { 0 };
  guint old_told = 0, fresh_told = 0;

  seeder_init (&seeder, size, 16 * MIB);
  peer_init (&fresh, "fresh", FALSE);
  peer_init (&old, "old", TRUE);
  connect_to (&fresh, &seeder);
  connect_to (&old, &seeder);
  connect_to (&old, &fresh);
  wait_offer (&fresh, &seeder);
  wait_offer (&old, &seeder);
  wait_connected (&old, &fresh);
  wait_connected (&fresh, &old);
  g_signal_connect (lsp_node_lookup_peer (old.node, id_of (&fresh)), "chunks-changed",
                    G_CALLBACK (on_chunks_changed), &old_told);
  g_signal_connect (lsp_node_lookup_peer (fresh.node, id_of (&old)), "chunks-changed",
                    G_CALLBACK (on_chunks_changed), &fresh_told);

  start_download (&fresh, &fresh_outcome);
  start_download (&old, &old_outcome);
  wait_outcome (&fresh, &fresh_outcome);
  wait_outcome (&old, &old_outcome);
  g_assert_no_error (fresh_outcome.error);
  g_assert_no_error (old_outcome.error);
  assert_same_game (&fresh, &seeder);
  assert_same_game (&old, &seeder);
  g_assert_false (lsp_node_get_swarm (old.node));
  g_assert_cmpuint (old_told, ==, 0);
  g_assert_cmpuint (fresh_told, ==, 0);

  lsp_test_outcome_clear (&fresh_outcome);
  lsp_test_outcome_clear (&old_outcome);
  lsp_test_peer_clear (&old);
  lsp_test_peer_clear (&fresh);
  lsp_test_peer_clear (&seeder);
}

typedef struct
{
  LspPeer *peer;
  guint    changes;
  guint    expected;
} Told;

static void
on_told (LspPeer    *peer,
         const char *game_id,
         Told       *told)
{
  g_assert_cmpstr (game_id, ==, "alpha");
  told->changes++;
}

static gboolean
told_enough (gpointer data)
{
  Told *told = data;
  return told->changes >= told->expected;
}

/* What a download publishes goes out batched: whole when it starts, then
 * the chunks added since, as a bitmap when they are many, and the
 * withdrawal; thousands of verified chunks between two batches cost one
 * frame. */
static void
test_have_batched (void)
{
  const char *hash = "5d41402abc4b2a76b9719d911017c592e3b0c44298fc1c149afbf4c8996fb924";
  const guint n_chunks = 4000;
  g_autofree guint8 *bitmap = g_malloc0 ((n_chunks + 7) / 8);
  Peer sender = { 0 }, receiver = { 0 };
  Told told = { NULL, 0, 0 };

  peer_init (&sender, "sender", FALSE);
  peer_init (&receiver, "receiver", FALSE);
  connect_to (&receiver, &sender);
  wait_connected (&receiver, &sender);
  told.peer = lsp_node_lookup_peer (receiver.node, id_of (&sender));
  g_signal_connect (told.peer, "chunks-changed", G_CALLBACK (on_told), &told);

  /* A start with 500 chunks resumed and 100 verified before the first batch. */
  for (guint i = 0; i < 500; i++)
    bitmap[i / 8] |= (guint8) (1u << (i % 8));
  lsp_node_publish_chunks (sender.node, "alpha", hash, n_chunks, bitmap);
  for (guint i = 500; i < 600; i++)
    lsp_node_publish_chunk (sender.node, "alpha", i);
  told.expected = 1;
  g_assert_true (lsp_test_wait_until (told_enough, &told, 10000));
  g_assert_cmpuint (lsp_peer_get_n_chunks_held (told.peer, "alpha", hash), ==, 600);

  /* More than a Have's list: the bitmap again. */
  for (guint i = 600; i < 2600; i++)
    lsp_node_publish_chunk (sender.node, "alpha", i);
  told.expected = 2;
  g_assert_true (lsp_test_wait_until (told_enough, &told, 10000));
  g_assert_cmpuint (lsp_peer_get_n_chunks_held (told.peer, "alpha", hash), ==, 2600);

  /* A few, and one already told: a list of the new ones. */
  for (guint i = 2600; i < 2610; i++)
    lsp_node_publish_chunk (sender.node, "alpha", i);
  lsp_node_publish_chunk (sender.node, "alpha", 7);
  told.expected = 3;
  g_assert_true (lsp_test_wait_until (told_enough, &told, 10000));
  g_assert_cmpuint (lsp_peer_get_n_chunks_held (told.peer, "alpha", hash), ==, 2610);
  g_assert_cmpuint (lsp_peer_get_n_chunks_held (told.peer, "alpha", "0000000000000000000000000000000000000000000000000000000000000000"), ==, 0);

  /* The withdrawal goes out at once, and what was pending with it never. */
  lsp_node_publish_chunk (sender.node, "alpha", 3000);
  lsp_node_withdraw_chunks (sender.node, "alpha");
  g_assert_false (lsp_node_has_published (sender.node, "alpha", hash));
  told.expected = 4;
  g_assert_true (lsp_test_wait_until (told_enough, &told, 10000));
  g_assert_cmpuint (lsp_peer_get_n_chunks_held (told.peer, "alpha", hash), ==, 0);
  /* One frame per batch: 2,611 chunks published in four Haves. */
  g_assert_cmpuint (told.changes, ==, 4);

  g_signal_handlers_disconnect_by_data (told.peer, &told);
  lsp_test_peer_clear (&receiver);
  lsp_test_peer_clear (&sender);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/swarm/have-batched", test_have_batched);
  g_test_add_func ("/swarm/four-downloaders", test_four_downloaders);
  g_test_add_func ("/swarm/partial-refuses-unverified", test_partial_refuses_unverified);
  g_test_add_func ("/swarm/cancel-partial-source", test_cancel_partial_source);
  g_test_add_func ("/swarm/old-peer", test_old_peer);
  g_test_add_func ("/swarm/seeder-spreads-chunks", test_seeder_spreads_chunks);

  return g_test_run ();
}
