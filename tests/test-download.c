#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lsp-chunk-server.h"
#include "lsp-download-manager.h"
#include "lsp-download-storage.h"
#include "lsp-error.h"
#include "lsp-frame-decoder.h"
#include "lsp-game-root.h"
#include "lsp-node.h"
#include "lsp-rate-limit.h"
#include "lsp-upload-slots.h"
#include "lsp-test-peer.h"
#include "lsp-test-util.h"

/* Downloads between real nodes over QUIC on loopback, with real files. */

static const char * const catalog_ids[] = { "alpha", "beta", NULL };

#define MIB (1024 * 1024)

typedef LspTestPeer Peer;

static void
peer_start (Peer       *peer,
            const char *name)
{
  lsp_test_peer_start (peer, name, catalog_ids, TRUE);
}

static void
connect_to (Peer *from,
            Peer *to)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, to->port);

  lsp_node_add_static_peer (from->node, G_INET_SOCKET_ADDRESS (address));
}

typedef struct
{
  Peer       *viewer;
  Peer       *seen;
  const char *game_id;
  const char *version;
} SeeGame;

static gboolean
sees_game (gpointer data)
{
  SeeGame *see = data;
  LspPeer *peer = lsp_node_lookup_peer (see->viewer->node, lsp_identity_get_peer_id (see->seen->identity));
  const LspGameSummary *game = peer != NULL ? lsp_peer_lookup_game (peer, see->game_id) : NULL;

  return game != NULL && game->availability == LSP_AVAILABILITY_READY &&
         g_strcmp0 (game->version, see->version) == 0 &&
         lsp_node_get_connection (see->viewer->node, lsp_identity_get_peer_id (see->seen->identity)) != NULL;
}

static void
wait_offer (Peer       *viewer,
            Peer       *seen,
            const char *game_id,
            const char *version)
{
  SeeGame see = { viewer, seen, game_id, version };
  g_assert_true (lsp_test_wait_until (sees_game, &see, 20000));
}

/* alpha: two files in two folders, chunks of both sizes. */
static void
make_alpha (const char *games,
            const char *version,
            gsize       size)
{
  g_autofree char *extra = g_build_filename (games, "alpha", "data", "levels", "extra.eti", NULL);

  lsp_test_make_game (games, "alpha", version, size);
  lsp_test_write_random_file (extra, 3 * MIB + 5, 77);
}

static void
make_seeder (Peer       *peer,
             const char *name,
             const char *version,
             gsize       size)
{
  peer->games = lsp_test_make_temp_dir ();
  peer->state = lsp_test_make_temp_dir ();
  make_alpha (peer->games, version, size);
  peer_start (peer, name);
}

/* A seeder of alpha 1.0 (size bytes in its first file, serving at most
 * rate bytes a second, 0: no limit) and a peer that sees its offer. */
static void
seed_and_join (Peer       *seeder,
               Peer       *peer,
               const char *name,
               gsize       size,
               guint64     rate)
{
  make_seeder (seeder, "seeder", "1.0", size);
  lsp_chunk_server_set_rate_limit (seeder->server, rate);
  peer_start (peer, name);
  connect_to (peer, seeder);
  wait_offer (peer, seeder, "alpha", "1.0");
}

typedef struct
{
  gboolean     done;
  GError      *error;
  GHashTable  *peer_bytes;
  guint64      bytes_resumed;
  guint64      bytes_received;
  GPtrArray   *dropped;     /* peer_ids */
  GPtrArray   *phases;      /* GUINT_TO_POINTER (phase) as seen */
} Outcome;

static void
outcome_clear (Outcome *outcome)
{
  g_clear_error (&outcome->error);
  g_clear_pointer (&outcome->peer_bytes, g_hash_table_unref);
  g_clear_pointer (&outcome->dropped, g_ptr_array_unref);
  g_clear_pointer (&outcome->phases, g_ptr_array_unref);
}

static void
on_finished (LspDownloadManager *manager,
             LspDownload        *download,
             const GError       *error,
             Outcome            *outcome)
{
  outcome->done = TRUE;
  outcome->error = error != NULL ? g_error_copy (error) : NULL;
  outcome->peer_bytes = lsp_download_dup_peer_bytes (download);
  outcome->bytes_resumed = lsp_download_get_bytes_resumed (download);
  outcome->bytes_received = lsp_download_get_bytes_received (download);
}

static void
on_dropped (LspDownload *download,
            const char  *peer_id,
            const char  *reason,
            Outcome     *outcome)
{
  g_ptr_array_add (outcome->dropped, g_strdup (peer_id));
}

static void
on_phase (LspDownload *download,
          GParamSpec  *pspec,
          Outcome     *outcome)
{
  g_ptr_array_add (outcome->phases, GUINT_TO_POINTER (lsp_download_get_phase (download)));
}

static LspDownload *
start_download (Peer       *peer,
                const char *game_id,
                Outcome    *outcome)
{
  g_autoptr(GError) error = NULL;
  LspDownload *download;

  outcome->dropped = g_ptr_array_new_with_free_func (g_free);
  outcome->phases = g_ptr_array_new ();
  g_signal_connect (peer->downloads, "download-finished", G_CALLBACK (on_finished), outcome);
  download = lsp_download_manager_start (peer->downloads, game_id, &error);
  g_assert_no_error (error);
  g_signal_connect (download, "source-dropped", G_CALLBACK (on_dropped), outcome);
  g_signal_connect (download, "notify::phase", G_CALLBACK (on_phase), outcome);
  return download;
}

static gboolean
outcome_done (gpointer data)
{
  return ((Outcome *) data)->done;
}

static void
wait_outcome (Peer    *peer,
              Outcome *outcome)
{
  g_assert_true (lsp_test_wait_until (outcome_done, outcome, 60000));
  g_signal_handlers_disconnect_by_data (peer->downloads, outcome);
}

static void
assert_same_file (const char *a_games,
                  const char *b_games,
                  const char *relative)
{
  g_autofree char *a_path = g_build_filename (a_games, relative, NULL);
  g_autofree char *b_path = g_build_filename (b_games, relative, NULL);
  g_autofree char *a = NULL, *b = NULL;
  gsize a_len = 0, b_len = 0;

  g_assert_true (g_file_get_contents (a_path, &a, &a_len, NULL));
  g_assert_true (g_file_get_contents (b_path, &b, &b_len, NULL));
  g_assert_cmpmem (a, a_len, b, b_len);
}

static void
assert_downloaded_like (Peer *downloader,
                        Peer *seeder)
{
  LspLocalGame *mine, *theirs;
  g_autofree char *state = g_build_filename (downloader->games, "alpha", LSP_DOWNLOAD_STATE_FILE, NULL);

  assert_same_file (seeder->games, downloader->games, "alpha/alpha.eti");
  assert_same_file (seeder->games, downloader->games, "alpha/data/levels/extra.eti");
  assert_same_file (seeder->games, downloader->games, "alpha/version.ini");
  g_assert_false (g_file_test (state, G_FILE_TEST_EXISTS));

  mine = lsp_library_lookup (downloader->library, "alpha");
  theirs = lsp_library_lookup (seeder->library, "alpha");
  g_assert_nonnull (mine);
  g_assert_true (lsp_local_game_get_downloaded (mine));
  g_assert_false (lsp_local_game_get_busy (mine));
  g_assert_cmpstr (lsp_local_game_get_manifest_hash (mine), ==, lsp_local_game_get_manifest_hash (theirs));
}

static guint64
bytes_from (Outcome *outcome,
            Peer    *peer)
{
  guint64 *bytes = g_hash_table_lookup (outcome->peer_bytes, lsp_identity_get_peer_id (peer->identity));
  return bytes != NULL ? *bytes : 0;
}

static void
test_single_source (void)
{
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };

  seed_and_join (&seeder, &downloader, "downloader", 9 * MIB + 1, 0);

  start_download (&downloader, "alpha", &outcome);
  wait_outcome (&downloader, &outcome);
  g_assert_no_error (outcome.error);
  assert_downloaded_like (&downloader, &seeder);
  g_assert_cmpuint (bytes_from (&outcome, &seeder), ==, 12 * MIB + 6);
  g_assert_cmpuint (lsp_chunk_server_get_bytes_served (seeder.server), ==, 12 * MIB + 6);
  g_assert_cmpuint (outcome.dropped->len, ==, 0);
  /* The download verified every chunk: the library takes its manifest
   * instead of reading the game again. */
  g_assert_cmpuint (lsp_library_get_n_games_hashed (downloader.library), ==, 0);

  outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&seeder);
}

static void
test_three_sources (void)
{
  Peer seeders[3] = { { 0 } }, downloader = { 0 };
  Outcome outcome = { 0 };
  guint64 sum = 0;

  peer_start (&downloader, "downloader");
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("seeder-%u", i);
      make_seeder (&seeders[i], name, "1.0", 37 * MIB);
      /* Equal uplinks, as at a LAN party: each seeder takes its share. */
      lsp_chunk_server_set_rate_limit (seeders[i].server, 12 * MIB);
      connect_to (&downloader, &seeders[i]);
    }
  for (guint i = 0; i < 3; i++)
    wait_offer (&downloader, &seeders[i], "alpha", "1.0");

  start_download (&downloader, "alpha", &outcome);
  wait_outcome (&downloader, &outcome);
  g_assert_no_error (outcome.error);
  assert_downloaded_like (&downloader, &seeders[0]);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_cmpuint (bytes_from (&outcome, &seeders[i]), >, 0);
      sum += bytes_from (&outcome, &seeders[i]);
    }
  g_assert_cmpuint (sum, ==, 40 * MIB + 5);

  outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  for (guint i = 0; i < 3; i++)
    lsp_test_peer_clear (&seeders[i]);
}

/* A source that answers every request with the right header and wrong
 * bytes. */
static void
on_liar_written (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  lsp_quic_stream_write_bytes_finish (LSP_QUIC_STREAM (object), result, NULL);
}

typedef enum {
  LIE_WRONG_BYTES,     /* the right header, zeros for bytes */
  LIE_WRONG_LENGTH,    /* a Chunk header for another length */
  LIE_EXTRA_BYTE,      /* one byte more than the chunk */
  LIE_SHORT,           /* one byte less, then the end */
  LIE_OTHER_FRAME,     /* a Ping instead of a Chunk */
  LIE_GARBAGE_FRAME,   /* a frame that is not JSON */
} Lie;

typedef struct
{
  Lie              lie;
  LspFrameDecoder *decoder;
} Liar;

static void
liar_free (Liar *liar)
{
  lsp_frame_decoder_free (liar->decoder);
  g_free (liar);
}

static void
liar_write (LspQuicStream *stream,
            GBytes        *bytes,
            gboolean       fin)
{
  lsp_quic_stream_write_bytes_async (stream, bytes, fin, NULL, on_liar_written, NULL);
  g_bytes_unref (bytes);
}

static void
on_liar_read (LspQuicStream *stream,
              const guint8  *data,
              gsize          length,
              gboolean       fin,
              const GError  *error,
              gpointer       user_data)
{
  Liar *liar = user_data;
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(LspMessage) request = NULL;
  g_autoptr(LspMessage) answer = NULL;
  guint32 size;

  if (error != NULL)
    return;
  lsp_frame_decoder_feed (liar->decoder, data, length, NULL);
  frame = lsp_frame_decoder_pop (liar->decoder);
  if (frame == NULL)
    return;
  request = lsp_message_parse (g_bytes_get_data (frame, NULL), g_bytes_get_size (frame), NULL);
  g_assert_nonnull (request);
  size = request->chunk.length;
  switch (liar->lie)
    {
    case LIE_OTHER_FRAME:
      answer = lsp_message_new_ping (LSP_MESSAGE_PING, 1);
      break;
    case LIE_GARBAGE_FRAME:
      liar_write (stream, lsp_frame_encode ("{{{{", 4), TRUE);
      return;
    case LIE_WRONG_LENGTH:
      answer = lsp_message_new_chunk (request->chunk.offset, size - 1);
      size -= 1;
      break;
    case LIE_EXTRA_BYTE:
      answer = lsp_message_new_chunk (request->chunk.offset, size);
      size += 1;
      break;
    case LIE_SHORT:
      answer = lsp_message_new_chunk (request->chunk.offset, size);
      size -= 1;
      break;
    case LIE_WRONG_BYTES:
    default:
      answer = lsp_message_new_chunk (request->chunk.offset, size);
      break;
    }
  liar_write (stream, lsp_message_encode (answer, LSP_PROTO_MAX_FRAME, NULL), FALSE);
  liar_write (stream, g_bytes_new_take (g_malloc0 (size), size), TRUE);
}

static gboolean
on_liar_stream (LspNode       *node,
                LspPeer       *peer,
                LspQuicStream *stream,
                gpointer       user_data)
{
  Liar *liar = g_new0 (Liar, 1);

  liar->lie = GPOINTER_TO_UINT (user_data);
  liar->decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_REQUEST_FRAME);
  lsp_quic_stream_set_read_func (stream, on_liar_read, liar, (GDestroyNotify) liar_free);
  return TRUE;
}

static gboolean
has_dropped (gpointer data)
{
  return ((Outcome *) data)->dropped->len > 0;
}

static void
run_against_liar (Lie lie)
{
  Peer good = { 0 }, liar = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };

  peer_start (&downloader, "downloader");
  make_seeder (&good, "good", "1.0", 37 * MIB);
  make_seeder (&liar, "liar", "1.0", 37 * MIB);
  /* The liar's own server is out of the way; its answers are lies. */
  g_clear_object (&liar.server);
  g_signal_connect (liar.node, "data-stream", G_CALLBACK (on_liar_stream), GUINT_TO_POINTER (lie));
  /* The liar comes first, alone, so it is asked until it is dropped (which
   * chunks a source gets is random, and the good seeder alone could finish
   * before a second lie); then the download waits and finishes from the
   * good seeder. */
  connect_to (&downloader, &liar);
  wait_offer (&downloader, &liar, "alpha", "1.0");
  start_download (&downloader, "alpha", &outcome);
  g_assert_true (lsp_test_wait_until (has_dropped, &outcome, 30000));
  connect_to (&downloader, &good);
  wait_offer (&downloader, &good, "alpha", "1.0");
  wait_outcome (&downloader, &outcome);
  g_assert_no_error (outcome.error);
  assert_downloaded_like (&downloader, &good);
  g_assert_cmpuint (outcome.dropped->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (outcome.dropped, 0), ==, lsp_identity_get_peer_id (liar.identity));
  g_assert_cmpuint (bytes_from (&outcome, &liar), ==, 0);
  g_assert_cmpuint (bytes_from (&outcome, &good), ==, 40 * MIB + 5);

  outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&liar);
  lsp_test_peer_clear (&good);
}

static void
test_corrupt_source (void)
{
  run_against_liar (LIE_WRONG_BYTES);
}

/* Answers that break the data stream's rules drop the source at once. */
static void
test_hostile_answers (void)
{
  Lie lies[] = { LIE_WRONG_LENGTH, LIE_EXTRA_BYTE, LIE_SHORT, LIE_OTHER_FRAME, LIE_GARBAGE_FRAME };

  for (guint i = 0; i < G_N_ELEMENTS (lies); i++)
    {
      g_test_message ("lie %u", lies[i]);
      run_against_liar (lies[i]);
    }
}

static gboolean
has_bytes (gpointer data)
{
  return lsp_download_get_bytes_done (data) >= 2 * LSP_MANIFEST_CHUNK_SIZE;
}

static void
test_cancel_transferring (void)
{
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };
  g_autofree char *root = NULL;
  g_autoptr(GError) error = NULL;
  LspDownload *download;

  seed_and_join (&seeder, &downloader, "downloader", 37 * MIB, 8 * MIB);

  download = start_download (&downloader, "alpha", &outcome);
  g_assert_true (lsp_test_wait_until (has_bytes, download, 30000));
  g_assert_true (lsp_download_manager_cancel (downloader.downloads, "alpha", &error));
  g_assert_no_error (error);
  wait_outcome (&downloader, &outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  root = g_build_filename (downloader.games, "alpha", NULL);
  g_assert_false (g_file_test (root, G_FILE_TEST_EXISTS));
  g_assert_null (lsp_download_manager_lookup (downloader.downloads, "alpha"));
  g_assert_false (lsp_library_is_operation_active (downloader.library, "alpha"));

  outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&seeder);
}

/* Cancelled before any source answered: planning, or fetching the
 * manifest from a peer that never answers. */
static void
test_cancel_planning (void)
{
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };
  g_autofree char *root = NULL;

  seed_and_join (&seeder, &downloader, "downloader", 5 * MIB, 0);

  start_download (&downloader, "alpha", &outcome);
  g_assert_true (lsp_download_manager_cancel (downloader.downloads, "alpha", NULL));
  wait_outcome (&downloader, &outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  root = g_build_filename (downloader.games, "alpha", NULL);
  g_assert_false (g_file_test (root, G_FILE_TEST_EXISTS));

  outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&seeder);
}

static gboolean
is_waiting (gpointer data)
{
  return lsp_download_get_phase (data) == LSP_DOWNLOAD_WAITING;
}

/* The only seeder leaves: the download waits, and finishes when the
 * seeder is back. */
static void
test_waiting_resumes (void)
{
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };
  LspDownload *download;

  seed_and_join (&seeder, &downloader, "downloader", 37 * MIB, 8 * MIB);

  download = start_download (&downloader, "alpha", &outcome);
  g_assert_true (lsp_test_wait_until (has_bytes, download, 30000));
  lsp_test_peer_stop (&seeder);
  g_assert_true (lsp_test_wait_until (is_waiting, download, 20000));
  g_assert_false (outcome.done);

  peer_start (&seeder, "seeder");
  wait_outcome (&downloader, &outcome);
  g_assert_no_error (outcome.error);
  assert_downloaded_like (&downloader, &seeder);
  g_assert_true (g_ptr_array_find (outcome.phases, GUINT_TO_POINTER (LSP_DOWNLOAD_WAITING), NULL));

  outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&seeder);
}

/* Stopped with the peer mid-way, the download resumes at the next start
 * without fetching again what it had verified. */
static void
test_resume_after_stop (void)
{
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome first = { 0 }, second = { 0 };
  g_autofree char *state = NULL;
  LspDownload *download;

  seed_and_join (&seeder, &downloader, "downloader", 37 * MIB, 8 * MIB);

  download = start_download (&downloader, "alpha", &first);
  g_assert_true (lsp_test_wait_until (has_bytes, download, 30000));
  lsp_test_peer_stop (&downloader);
  g_assert_true (first.done);
  g_assert_error (first.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  state = g_build_filename (downloader.games, "alpha", LSP_DOWNLOAD_STATE_FILE, NULL);
  g_assert_true (g_file_test (state, G_FILE_TEST_IS_REGULAR));

  lsp_chunk_server_set_rate_limit (seeder.server, 0);
  peer_start (&downloader, "downloader");
  connect_to (&downloader, &seeder);
  wait_offer (&downloader, &seeder, "alpha", "1.0");
  second.dropped = g_ptr_array_new_with_free_func (g_free);
  second.phases = g_ptr_array_new ();
  g_signal_connect (downloader.downloads, "download-finished", G_CALLBACK (on_finished), &second);
  lsp_download_manager_resume_async (downloader.downloads, NULL, (GAsyncReadyCallback) NULL, NULL);
  wait_outcome (&downloader, &second);
  g_assert_no_error (second.error);
  assert_downloaded_like (&downloader, &seeder);
  g_assert_cmpuint (second.bytes_resumed, >=, 2 * LSP_MANIFEST_CHUNK_SIZE);
  g_assert_cmpuint (second.bytes_received, ==, 40 * MIB + 5 - second.bytes_resumed);

  outcome_clear (&first);
  outcome_clear (&second);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&seeder);
}

/* ---- serving rules, with a client that asks what it likes ---- */

/* Sends one frame (a GetChunk as JSON text) on a new data stream and
 * returns the answer's Error code, or "chunk" with the bytes. */
static char *
ask_raw (Peer       *client,
         Peer       *server,
         const char *json,
         GByteArray *out_bytes)
{
  return lsp_test_peer_ask_raw (client, server, lsp_frame_encode (json, strlen (json)), 10000, out_bytes);
}

static char *
get_chunk_json (const char *game_id,
                const char *hash,
                const char *path,
                guint64     offset,
                guint64     length)
{
  return g_strdup_printf ("{\"type\":\"GetChunk\",\"game_id\":\"%s\",\"manifest_hash\":\"%s\",\"path\":\"%s\","
                          "\"offset\":%" G_GUINT64_FORMAT ",\"length\":%" G_GUINT64_FORMAT "}",
                          game_id, hash, path, offset, length);
}

static void
assert_refused (Peer       *client,
                Peer       *server,
                const char *json,
                const char *code)
{
  g_autofree char *answer = ask_raw (client, server, json, NULL);
  g_assert_cmpstr (answer, ==, code);
}

static void
test_serving_rules (void)
{
  Peer seeder = { 0 }, client = { 0 };
  const char *hash;
  const char *other = "0000000000000000000000000000000000000000000000000000000000000000";
  g_autofree char *secret = NULL, *good = NULL, *expected = NULL;
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  gsize expected_len = 0;

  make_seeder (&seeder, "seeder", "1.0", 5 * MIB);
  secret = g_build_filename (seeder.games, "alpha", "local", "secret.txt", NULL);
  lsp_test_write_file (secret, "not for you", -1);
  lsp_test_make_game (seeder.games, "beta", NULL, 1 * MIB);
  lsp_test_wait_idle (seeder.library);
  peer_start (&client, "client");
  connect_to (&client, &seeder);
  wait_offer (&client, &seeder, "alpha", "1.0");
  hash = lsp_local_game_get_manifest_hash (lsp_library_lookup (seeder.library, "alpha"));

  /* A good request is answered with the file's bytes. */
  good = get_chunk_json ("alpha", hash, "alpha.eti", 4 * MIB, MIB);
  {
    g_autofree char *answer = ask_raw (&client, &seeder, good, bytes);
    g_autofree char *path = g_build_filename (seeder.games, "alpha", "alpha.eti", NULL);

    g_assert_cmpstr (answer, ==, "chunk");
    g_assert_true (g_file_get_contents (path, &expected, &expected_len, NULL));
    g_assert_cmpuint (expected_len, ==, 5 * MIB);
    g_assert_cmpmem (bytes->data, bytes->len, expected + 4 * MIB, MIB);
  }

  /* Whatever the request says, nothing outside the manifest is served. */
  {
    g_autofree char *local = get_chunk_json ("alpha", hash, "local/secret.txt", 0, 11);
    g_autofree char *stale = get_chunk_json ("alpha", other, "alpha.eti", 0, 100);
    g_autofree char *beyond = get_chunk_json ("alpha", hash, "alpha.eti", 5 * MIB - 10, 11);
    g_autofree char *far = get_chunk_json ("alpha", hash, "alpha.eti", G_GUINT64_CONSTANT (1) << 40, 1);
    g_autofree char *sentinel = get_chunk_json ("alpha", hash, "version.ini", 0, 3);
    g_autofree char *not_downloaded = get_chunk_json ("beta", other, "beta.eti", 0, 100);
    g_autofree char *unknown = get_chunk_json ("gamma", other, "gamma.eti", 0, 100);
    g_autofree char *traversal = get_chunk_json ("alpha", hash, "../../etc/passwd", 0, 100);
    g_autofree char *absolute = get_chunk_json ("alpha", hash, "/etc/passwd", 0, 100);
    g_autofree char *too_long = get_chunk_json ("alpha", hash, "alpha.eti", 0, 4 * MIB + 1);

    /* The codec refuses reserved names before the server looks. */
    assert_refused (&client, &seeder, local, LSP_PROTO_ERROR_BAD_MESSAGE);
    assert_refused (&client, &seeder, stale, LSP_PROTO_ERROR_NOT_FOUND);
    assert_refused (&client, &seeder, beyond, LSP_PROTO_ERROR_NOT_FOUND);
    assert_refused (&client, &seeder, far, LSP_PROTO_ERROR_NOT_FOUND);
    assert_refused (&client, &seeder, sentinel, LSP_PROTO_ERROR_BAD_MESSAGE);
    assert_refused (&client, &seeder, not_downloaded, LSP_PROTO_ERROR_NOT_FOUND);
    assert_refused (&client, &seeder, unknown, LSP_PROTO_ERROR_NOT_FOUND);
    assert_refused (&client, &seeder, traversal, LSP_PROTO_ERROR_BAD_MESSAGE);
    assert_refused (&client, &seeder, absolute, LSP_PROTO_ERROR_BAD_MESSAGE);
    assert_refused (&client, &seeder, too_long, LSP_PROTO_ERROR_BAD_MESSAGE);
    assert_refused (&client, &seeder, "{\"type\":\"Ping\",\"nonce\":1}", LSP_PROTO_ERROR_BAD_MESSAGE);
    assert_refused (&client, &seeder, "not json at all", LSP_PROTO_ERROR_BAD_MESSAGE);
  }

  /* A game under an operation is busy. */
  g_assert_true (lsp_library_begin_operation (seeder.library, "alpha", NULL));
  assert_refused (&client, &seeder, good, LSP_PROTO_ERROR_BUSY);
  lsp_library_end_operation (seeder.library, "alpha");
  lsp_test_wait_idle (seeder.library);

  /* Refusals cost the stream, never the connection. */
  g_assert_nonnull (lsp_node_get_connection (client.node, lsp_identity_get_peer_id (seeder.identity)));
  {
    g_autofree char *answer = ask_raw (&client, &seeder, good, NULL);
    g_assert_cmpstr (answer, ==, "chunk");
  }

  lsp_test_peer_clear (&client);
  lsp_test_peer_clear (&seeder);
}

/* ---- storage rules ---- */

static void
test_remove_files (void)
{
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *alpha = g_build_filename (games, "alpha", NULL);
  g_autofree char *local = g_build_filename (games, "beta", "local", "bin", "run", NULL);
  g_autofree char *outside = lsp_test_make_temp_dir ();
  g_autofree char *link = g_build_filename (games, "gamma", NULL);
  g_autofree char *outside_version = g_build_filename (outside, "version.ini", NULL);
  g_autofree char *trash = g_build_filename (games, LSP_STATE_DIR, "trash", NULL);
  g_autoptr(GError) error = NULL;

  lsp_test_make_game (games, "alpha", "1.0", 1000);
  g_assert_true (lsp_download_storage_remove_game (games, "alpha", &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (alpha, G_FILE_TEST_EXISTS));
  g_assert_true (lsp_test_dir_is_empty (trash));

  /* A removal cut short by a crash: the game is already out of the games
   * folder, and the next start finishes it. */
  lsp_test_make_game (trash, "zeta.0badf00d", "1.0", 1000);
  lsp_download_storage_sweep_trash (games);
  g_assert_true (lsp_test_dir_is_empty (trash));

  /* Installed: refused, nothing removed. */
  lsp_test_make_game (games, "beta", "1.0", 1000);
  lsp_test_write_file (local, "#!/bin/sh\n", -1);
  g_assert_false (lsp_download_storage_remove_game (games, "beta", &error));
  g_assert_error (error, LSP_ERROR, LSP_ERROR_BUSY);
  g_clear_error (&error);
  g_assert_true (g_file_test (local, G_FILE_TEST_IS_REGULAR));

  /* Not downloaded (no version.ini): refused. */
  lsp_test_make_game (games, "delta", NULL, 1000);
  g_assert_false (lsp_download_storage_remove_game (games, "delta", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A game root that is a link out of the games folder is never followed. */
  lsp_test_write_file (outside_version, "1.0", -1);
  g_assert_cmpint (symlink (outside, link), ==, 0);
  g_assert_false (lsp_download_storage_remove_game (games, "gamma", &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_true (g_file_test (outside_version, G_FILE_TEST_IS_REGULAR));

  /* Not a game id at all. */
  g_assert_false (lsp_download_storage_remove_game (games, "../etc", &error));
  g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT);

  lsp_test_remove_tree (games);
  lsp_test_remove_tree (outside);
}

static void
test_discard_sweep (void)
{
  g_autofree char *games = lsp_test_make_temp_dir ();
  const char *kept[] = { "local/bin/run", ".local.backup/x", ".local.installing/y", ".lanspread.json",
                         ".softlan_game_installed", ".sync/z" };
  const char *gone[] = { "alpha.eti", "data/levels/extra.eti", ".version.ini.tmp", LSP_DOWNLOAD_STATE_FILE };
  g_autofree char *root = g_build_filename (games, "alpha", NULL);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
    {
      g_autofree char *path = g_build_filename (root, kept[i], NULL);
      lsp_test_write_file (path, "keep", -1);
    }
  for (guint i = 0; i < G_N_ELEMENTS (gone); i++)
    {
      g_autofree char *path = g_build_filename (root, gone[i], NULL);
      lsp_test_write_file (path, "gone", -1);
    }
  g_assert_true (lsp_download_storage_discard (games, "alpha", &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
    {
      g_autofree char *path = g_build_filename (root, kept[i], NULL);
      g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
    }
  for (guint i = 0; i < G_N_ELEMENTS (gone); i++)
    {
      g_autofree char *path = g_build_filename (root, gone[i], NULL);
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    }

  /* A fresh download's root holds nothing to keep: it goes too. */
  lsp_test_make_game (games, "beta", NULL, 1000);
  g_assert_true (lsp_download_storage_discard (games, "beta", &error));
  {
    g_autofree char *beta = g_build_filename (games, "beta", NULL);
    g_assert_false (g_file_test (beta, G_FILE_TEST_EXISTS));
  }
  lsp_test_remove_tree (games);
}

static void
test_free_space (void)
{
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autoptr(GError) error = NULL;

  g_assert_true (lsp_download_storage_check_space (games, 1, &error));
  g_assert_no_error (error);
  g_assert_false (lsp_download_storage_check_space (games, G_GUINT64_CONSTANT (1) << 60, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (error->message, "Not enough free space"));
  g_assert_nonnull (strstr (error->message, games));
  lsp_test_remove_tree (games);
}

static void
test_state_file (void)
{
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *root = g_build_filename (games, "alpha", NULL);
  g_autofree char *path = g_build_filename (root, LSP_DOWNLOAD_STATE_FILE, NULL);
  g_autoptr(LspDownloadState) state = lsp_download_state_new ("ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01", 21);
  g_autoptr(LspDownloadState) read = NULL;
  g_autoptr(GError) error = NULL;
  const char *bad[] = {
    "", "[]", "{}", "{\"format\":2,\"manifest_hash\":\"x\",\"chunks\":1,\"verified\":\"AA==\"}",
    "{\"format\":1,\"manifest_hash\":\"zz\",\"chunks\":1,\"verified\":\"AA==\"}",
    "{\"format\":1,\"manifest_hash\":\"ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01\",\"chunks\":100,\"verified\":\"AA==\"}",
    "{\"format\":1,\"manifest_hash\":\"ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01\",\"chunks\":-1,\"verified\":\"\"}",
  };
  int root_fd;

  g_assert_cmpint (g_mkdir_with_parents (root, 0755), ==, 0);
  root_fd = open (root, O_RDONLY | O_DIRECTORY);
  lsp_download_state_set (state, 0);
  lsp_download_state_set (state, 20);
  g_assert_true (lsp_download_storage_write_state (root_fd, state, &error));
  read = lsp_download_storage_read_state (root_fd, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (read->n_chunks, ==, 21);
  g_assert_true (lsp_download_state_get (read, 0));
  g_assert_false (lsp_download_state_get (read, 1));
  g_assert_true (lsp_download_state_get (read, 20));

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(LspDownloadState) none = NULL;

      lsp_test_write_file (path, bad[i], -1);
      none = lsp_download_storage_read_state (root_fd, &error);
      g_assert_null (none);
      g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
      g_clear_error (&error);
    }
  close (root_fd);
  lsp_test_remove_tree (games);
}

static void
test_rate_limit (void)
{
  LspRateLimit limit;
  guint wait_ms = 0;

  lsp_rate_limit_init (&limit, 0);
  g_assert_true (lsp_rate_limit_take (&limit, G_MAXUINT32, &wait_ms));

  /* An empty bucket says how long until a chunk may go, at this rate. */
  lsp_rate_limit_init (&limit, MIB);
  g_assert_false (lsp_rate_limit_take (&limit, 4 * MIB, &wait_ms));
  g_assert_cmpuint (wait_ms, >, 0);
  g_assert_cmpuint (wait_ms, <=, 4001);
}

/* Answers of 4 MiB leaving at rate bytes a second, n of them. */
static void
send_at (LspUploadSlots *slots,
         gint64         *now,
         guint64         rate,
         guint           n)
{
  lsp_upload_slots_busy (slots, *now);
  for (guint i = 0; i < n; i++)
    {
      *now += (gint64) (4 * (guint64) MIB * G_USEC_PER_SEC / rate);
      lsp_upload_slots_sent (slots, 4 * MIB, *now);
    }
  lsp_upload_slots_idle (slots, *now);
}

/* Upload slots follow how fast answers leave while serving: many on a
 * fast uplink, few on a slow one, never more than the settings; time
 * with nothing to serve is not slowness. */
static void
test_upload_slots (void)
{
  LspUploadSlots slots;
  gint64 now = G_USEC_PER_SEC;

  lsp_upload_slots_init (&slots, 16, 4);
  g_assert_cmpuint (lsp_upload_slots_total (&slots), ==, 16);
  g_assert_cmpuint (lsp_upload_slots_per_peer (&slots), ==, 4);

  /* 25 MB/s, a seeder behind a 200 Mbit/s link: two slots, two per
   * peer, so each chunk arrives whole as early as it can. */
  send_at (&slots, &now, 25000000, 40);
  g_assert_cmpuint (lsp_upload_slots_total (&slots), ==, LSP_UPLOAD_SLOTS_MIN);
  g_assert_cmpuint (lsp_upload_slots_per_peer (&slots), ==, 2);

  /* 2 GB/s: up to the settings. */
  send_at (&slots, &now, 2000000000, 2000);
  g_assert_cmpuint (lsp_upload_slots_total (&slots), ==, 16);
  g_assert_cmpuint (lsp_upload_slots_per_peer (&slots), ==, 4);

  /* A minute of nothing to serve, then a few chunks as fast as before:
   * still a fast uplink. */
  now += 60 * G_USEC_PER_SEC;
  send_at (&slots, &now, 2000000000, 5);
  g_assert_cmpuint (lsp_upload_slots_total (&slots), ==, 16);

  /* Lower settings hold, and so does what was measured. */
  lsp_upload_slots_set_limits (&slots, 1, 1);
  g_assert_cmpuint (lsp_upload_slots_total (&slots), ==, 1);
  g_assert_cmpuint (lsp_upload_slots_per_peer (&slots), ==, 1);
  lsp_upload_slots_set_limits (&slots, 8, 4);
  g_assert_cmpuint (lsp_upload_slots_total (&slots), ==, 8);
}

/* Downloads under a rate limit still complete. */
static void
test_download_rate_limited (void)
{
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };

  make_seeder (&seeder, "seeder", "1.0", 5 * MIB);
  peer_start (&downloader, "downloader");
  lsp_download_manager_set_rate_limit (downloader.downloads, 16 * MIB);
  connect_to (&downloader, &seeder);
  wait_offer (&downloader, &seeder, "alpha", "1.0");
  start_download (&downloader, "alpha", &outcome);
  wait_outcome (&downloader, &outcome);
  g_assert_no_error (outcome.error);
  assert_downloaded_like (&downloader, &seeder);

  outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&seeder);
}

/* A games folder too small for the game: refused before a byte is
 * written, with the sizes in the message. Needs root for the tmpfs. */
static void
test_not_enough_space (void)
{
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };
  g_autofree char *outer = lsp_test_make_temp_dir ();
  g_autofree char *root = NULL;

  downloader.games = g_build_filename (outer, "small", NULL);
  g_assert_cmpint (g_mkdir (downloader.games, 0755), ==, 0);
  if (mount ("lanspread-test", downloader.games, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m") != 0)
    {
      g_test_skip_printf ("cannot mount a tmpfs (%s); /download/write-fails covers a failing disk",
                          g_strerror (errno));
      lsp_test_remove_tree (outer);
      g_free (downloader.games);
      return;
    }
  downloader.state = lsp_test_make_temp_dir ();
  make_seeder (&seeder, "seeder", "1.0", 37 * MIB);
  peer_start (&downloader, "downloader");
  connect_to (&downloader, &seeder);
  wait_offer (&downloader, &seeder, "alpha", "1.0");

  start_download (&downloader, "alpha", &outcome);
  wait_outcome (&downloader, &outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (outcome.error->message, "Not enough free space"));
  g_assert_cmpuint (outcome.bytes_received, ==, 0);
  root = g_build_filename (downloader.games, "alpha", NULL);
  g_assert_false (g_file_test (root, G_FILE_TEST_EXISTS));

  outcome_clear (&outcome);
  lsp_test_peer_stop (&downloader);
  /* A plain unmount, so nothing is left half-attached under the folder
   * removed next; the kernel may need a moment to let go of it. */
  for (guint tries = 0; umount (downloader.games) != 0; tries++)
    {
      g_assert_cmpint (errno, ==, EBUSY);
      g_assert_cmpuint (tries, <, 100);
      lsp_test_run_for (50);
    }
  lsp_test_remove_tree (downloader.state);
  g_free (downloader.state);
  g_free (downloader.games);
  lsp_test_remove_tree (outer);
  lsp_test_peer_clear (&seeder);
}

/* Writing fails (a file size limit binds root too): the download stops
 * with the path and the cause, and its payload is swept. */
static void
test_write_fails (void)
{
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };
  struct rlimit saved, small = { 8 * MIB, 8 * MIB };
  g_autofree char *root = NULL;

  seed_and_join (&seeder, &downloader, "downloader", 37 * MIB, 0);

  signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  small.rlim_max = saved.rlim_max;
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &small), ==, 0);
  start_download (&downloader, "alpha", &outcome);
  wait_outcome (&downloader, &outcome);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);

  g_assert_nonnull (outcome.error);
  g_assert_false (g_error_matches (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_assert_nonnull (strstr (outcome.error->message, "alpha.eti"));
  root = g_build_filename (downloader.games, "alpha", NULL);
  g_assert_false (g_file_test (root, G_FILE_TEST_EXISTS));

  outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&seeder);
}

static void
cancel_when_phase (LspDownload *download,
                   GParamSpec  *pspec,
                   gpointer     user_data)
{
  if (lsp_download_get_phase (download) == GPOINTER_TO_UINT (user_data))
    lsp_download_cancel (download);
}

/* Cancelled while connecting to its sources, and while committing: the
 * commit stops before the sentinel and sweeps, unless it already wrote it
 * (then the game is simply downloaded). */
static void
test_cancel_connecting_verifying (void)
{
  LspDownloadPhase phases[] = { LSP_DOWNLOAD_CONNECTING, LSP_DOWNLOAD_VERIFYING };
  Peer seeder = { 0 }, downloader = { 0 };

  seed_and_join (&seeder, &downloader, "downloader", 9 * MIB, 0);

  for (guint i = 0; i < G_N_ELEMENTS (phases); i++)
    {
      Outcome outcome = { 0 };
      g_autofree char *root = g_build_filename (downloader.games, "alpha", NULL);
      LspDownload *download = start_download (&downloader, "alpha", &outcome);

      g_signal_connect (download, "notify::phase", G_CALLBACK (cancel_when_phase), GUINT_TO_POINTER (phases[i]));
      wait_outcome (&downloader, &outcome);
      if (outcome.error != NULL)
        {
          g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          g_assert_false (g_file_test (root, G_FILE_TEST_EXISTS));
        }
      else
        {
          g_assert_cmpint (phases[i], ==, LSP_DOWNLOAD_VERIFYING);
          assert_downloaded_like (&downloader, &seeder);
          g_assert_true (lsp_download_storage_remove_game (downloader.games, "alpha", NULL));
          lsp_test_wait_idle (downloader.library);
        }
      outcome_clear (&outcome);
    }

  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&seeder);
}

/* Cancelled while waiting for a source that left. */
static void
test_cancel_waiting (void)
{
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };
  g_autofree char *root = NULL;
  LspDownload *download;

  seed_and_join (&seeder, &downloader, "downloader", 37 * MIB, 8 * MIB);

  download = start_download (&downloader, "alpha", &outcome);
  g_assert_true (lsp_test_wait_until (has_bytes, download, 30000));
  lsp_test_peer_stop (&seeder);
  g_assert_true (lsp_test_wait_until (is_waiting, download, 20000));
  lsp_download_manager_cancel (downloader.downloads, "alpha", NULL);
  wait_outcome (&downloader, &outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  root = g_build_filename (downloader.games, "alpha", NULL);
  g_assert_false (g_file_test (root, G_FILE_TEST_EXISTS));

  outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  seeder.library = NULL;
  lsp_test_remove_tree (seeder.games);
  lsp_test_remove_tree (seeder.state);
  g_free (seeder.games);
  g_free (seeder.state);
}

/* ---- regressions: requests that must get one answer, once ---- */

static gboolean
request_waiting (gpointer data)
{
  return lsp_chunk_server_get_n_waiting (data) == 1;
}

/* Bytes after a GetChunk that waits for a slot are ignored: the request
 * is answered once, when its turn comes. */
static void
test_extra_bytes_while_queued (void)
{
  Peer seeder = { 0 }, client = { 0 };
  LspTestRaw raw;
  g_autoptr(LspQuicStream) stream = NULL;
  g_autofree char *json = NULL;
  const char *hash;

  seed_and_join (&seeder, &client, "client", 5 * MIB, 0);
  hash = lsp_local_game_get_manifest_hash (lsp_library_lookup (seeder.library, "alpha"));

  lsp_chunk_server_set_rate_limit (seeder.server, 1);   /* an empty bucket: requests queue */
  json = get_chunk_json ("alpha", hash, "alpha.eti", 0, 1000);
  stream = lsp_test_raw_open (&raw, &client, &seeder);
  lsp_quic_stream_write_bytes_async (stream, lsp_frame_encode (json, strlen (json)), FALSE, NULL, NULL, NULL);
  lsp_quic_stream_write_bytes_async (stream, g_bytes_new_static ("xx", 2), TRUE, NULL, NULL, NULL);
  g_assert_true (lsp_test_wait_until (request_waiting, seeder.server, 5000));
  lsp_test_run_for (200);
  g_assert_false (raw.done);
  lsp_chunk_server_set_rate_limit (seeder.server, 0);
  g_assert_true (lsp_test_wait_until (lsp_test_raw_done, &raw, 5000));
  g_assert_nonnull (raw.answer);
  g_assert_cmpint (raw.answer->type, ==, LSP_MESSAGE_CHUNK);
  g_assert_cmpuint (raw.bytes->len, ==, 1000);

  lsp_test_raw_clear (&raw, stream);
  lsp_test_peer_clear (&client);
  lsp_test_peer_clear (&seeder);
}

/* A frame over the limit, body and all: one bad_frame answer. */
static void
test_oversized_frame (void)
{
  Peer seeder = { 0 }, client = { 0 };
  LspTestRaw raw;
  g_autoptr(LspQuicStream) stream = NULL;
  guint8 *big = g_malloc0 (4 + MIB);

  seed_and_join (&seeder, &client, "client", 5 * MIB, 0);

  big[1] = 0x10;   /* a 1 MiB frame, over the 64 KiB request limit */
  stream = lsp_test_raw_open (&raw, &client, &seeder);
  lsp_quic_stream_write_bytes_async (stream, g_bytes_new_take (big, 4 + MIB), TRUE, NULL, NULL, NULL);
  g_assert_true (lsp_test_wait_until (lsp_test_raw_done, &raw, 5000));
  g_assert_nonnull (raw.answer);
  g_assert_cmpint (raw.answer->type, ==, LSP_MESSAGE_ERROR);
  g_assert_cmpstr (raw.answer->error.code, ==, LSP_PROTO_ERROR_BAD_FRAME);
  g_assert_nonnull (lsp_node_get_connection (client.node, lsp_identity_get_peer_id (seeder.identity)));

  lsp_test_raw_clear (&raw, stream);
  lsp_test_peer_clear (&client);
  lsp_test_peer_clear (&seeder);
}

/* A request the downloader gave up on (reset after its FIN) while it
 * waited for a slot is not read or sent. */
static void
test_reset_after_fin (void)
{
  Peer seeder = { 0 }, client = { 0 };
  LspTestRaw raw;
  g_autoptr(LspQuicStream) stream = NULL;
  g_autofree char *json = NULL;
  const char *hash;

  seed_and_join (&seeder, &client, "client", 5 * MIB, 0);
  hash = lsp_local_game_get_manifest_hash (lsp_library_lookup (seeder.library, "alpha"));

  lsp_chunk_server_set_rate_limit (seeder.server, 1);
  json = get_chunk_json ("alpha", hash, "alpha.eti", 0, 4 * MIB);
  stream = lsp_test_raw_open (&raw, &client, &seeder);
  lsp_quic_stream_write_bytes_async (stream, lsp_frame_encode (json, strlen (json)), TRUE, NULL, NULL, NULL);
  g_assert_true (lsp_test_wait_until (request_waiting, seeder.server, 5000));
  lsp_test_run_for (200);
  lsp_quic_stream_set_read_func (stream, NULL, NULL, NULL);
  lsp_quic_stream_reset (stream, 1);
  lsp_test_run_for (200);
  lsp_chunk_server_set_rate_limit (seeder.server, 0);
  lsp_test_run_for (300);
  g_assert_cmpuint (lsp_chunk_server_get_bytes_served (seeder.server), ==, 0);

  lsp_frame_decoder_free (raw.decoder);
  g_byte_array_unref (raw.bytes);
  lsp_test_peer_clear (&client);
  lsp_test_peer_clear (&seeder);
}

/* ---- regressions: downloads that must end, and keep what they should ---- */

static void
suspend_on_prepare (LspDownload *download,
                    GParamSpec  *pspec,
                    gpointer     manager)
{
  lsp_download_manager_stop_async (manager, NULL, NULL);
}

static void
watch_prepare (LspDownloadManager *manager,
               LspDownload        *download,
               gpointer            user_data)
{
  g_signal_connect (download, "notify::bytes-total", G_CALLBACK (suspend_on_prepare), manager);
}

/* Stopped while a resumed download re-checks its chunks: everything stays
 * for the next start. */
static void
test_suspend_during_prepare (void)
{
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome first = { 0 }, second = { 0 };
  g_autofree char *state = NULL, *archive = NULL;
  LspDownload *download;

  seed_and_join (&seeder, &downloader, "downloader", 37 * MIB, 8 * MIB);
  download = start_download (&downloader, "alpha", &first);
  g_assert_true (lsp_test_wait_until (has_bytes, download, 30000));
  lsp_test_peer_stop (&downloader);
  state = g_build_filename (downloader.games, "alpha", LSP_DOWNLOAD_STATE_FILE, NULL);
  archive = g_build_filename (downloader.games, "alpha", "alpha.eti", NULL);
  g_assert_true (g_file_test (state, G_FILE_TEST_IS_REGULAR));

  peer_start (&downloader, "downloader");
  connect_to (&downloader, &seeder);
  wait_offer (&downloader, &seeder, "alpha", "1.0");
  second.dropped = g_ptr_array_new_with_free_func (g_free);
  second.phases = g_ptr_array_new ();
  g_signal_connect (downloader.downloads, "download-finished", G_CALLBACK (on_finished), &second);
  g_signal_connect (downloader.downloads, "download-started", G_CALLBACK (watch_prepare), NULL);
  lsp_download_manager_resume_async (downloader.downloads, NULL, NULL, NULL);
  wait_outcome (&downloader, &second);
  g_assert_error (second.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (g_file_test (state, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (archive, G_FILE_TEST_IS_REGULAR));

  outcome_clear (&first);
  outcome_clear (&second);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&seeder);
}

/* The only source lies and is dropped: the download waits, then fails
 * after the wait timeout, instead of hanging. */
static void
test_only_source_dropped (void)
{
  Peer liar = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };
  g_autofree char *root = NULL;

  peer_start (&downloader, "downloader");
  make_seeder (&liar, "liar", "1.0", 9 * MIB);
  g_clear_object (&liar.server);
  g_signal_connect (liar.node, "data-stream", G_CALLBACK (on_liar_stream), GUINT_TO_POINTER (LIE_WRONG_BYTES));
  lsp_download_manager_set_wait_timeout (downloader.downloads, 1);
  connect_to (&downloader, &liar);
  wait_offer (&downloader, &liar, "alpha", "1.0");

  start_download (&downloader, "alpha", &outcome);
  wait_outcome (&downloader, &outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpuint (outcome.dropped->len, ==, 1);
  root = g_build_filename (downloader.games, "alpha", NULL);
  g_assert_false (g_file_test (root, G_FILE_TEST_EXISTS));

  outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&liar);
}

/* Cancel, then stop at once: the cancel wins, nothing is kept. */
static void
test_cancel_then_stop (void)
{
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };
  g_autofree char *root = NULL;
  LspDownload *download;

  seed_and_join (&seeder, &downloader, "downloader", 37 * MIB, 8 * MIB);

  download = start_download (&downloader, "alpha", &outcome);
  g_assert_true (lsp_test_wait_until (has_bytes, download, 30000));
  lsp_download_manager_cancel (downloader.downloads, "alpha", NULL);
  lsp_test_peer_stop_downloads (&downloader);
  root = g_build_filename (downloader.games, "alpha", NULL);
  g_assert_false (g_file_test (root, G_FILE_TEST_EXISTS));

  outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&seeder);
}

static gboolean
has_beta (gpointer data)
{
  LspLocalGame *game = lsp_library_lookup (data, "beta");

  return game != NULL && lsp_local_game_get_downloaded (game);
}

/* Many downloaders ask one seeder for its manifest at once; those told
 * "busy" ask again, and every download completes. Two downloads from one
 * peer to one seeder both complete too (answers pair with requests). */
static void
test_many_manifest_requests (void)
{
  enum { N = 7 };
  Peer seeder = { 0 }, d[N] = { { 0 } };
  Outcome o[N] = { { 0 } }, beta = { 0 };

  make_seeder (&seeder, "seeder", "1.0", 1 * MIB);
  lsp_test_make_game (seeder.games, "beta", "1.0", 1 * MIB);
  lsp_test_wait_idle (seeder.library);
  for (guint i = 0; i < N; i++)
    {
      peer_start (&d[i], "downloader");
      lsp_download_manager_set_wait_timeout (d[i].downloads, 3);
      connect_to (&d[i], &seeder);
    }
  for (guint i = 0; i < N; i++)
    wait_offer (&d[i], &seeder, "alpha", "1.0");
  wait_offer (&d[0], &seeder, "beta", "1.0");
  for (guint i = 0; i < N; i++)
    {
      o[i].dropped = g_ptr_array_new_with_free_func (g_free);
      o[i].phases = g_ptr_array_new ();
      g_signal_connect (d[i].downloads, "download-finished", G_CALLBACK (on_finished), &o[i]);
      g_assert_nonnull (lsp_download_manager_start (d[i].downloads, "alpha", NULL));
    }
  beta.dropped = g_ptr_array_new_with_free_func (g_free);
  beta.phases = g_ptr_array_new ();
  {
    LspDownload *download = lsp_download_manager_start (d[0].downloads, "beta", NULL);
    g_signal_connect (download, "notify::phase", G_CALLBACK (on_phase), &beta);
  }
  for (guint i = 0; i < N; i++)
    {
      g_assert_true (lsp_test_wait_until (outcome_done, &o[i], 60000));
      g_assert_no_error (o[i].error);
    }
  g_assert_true (lsp_test_wait_until (has_beta, d[0].library, 60000));

  for (guint i = 0; i < N; i++)
    {
      g_signal_handlers_disconnect_by_data (d[i].downloads, &o[i]);
      outcome_clear (&o[i]);
      lsp_test_peer_clear (&d[i]);
    }
  outcome_clear (&beta);
  lsp_test_peer_clear (&seeder);
}

/* One of two seeders is killed mid-way: its chunks go to the other at
 * once and the game completes. */
static void
test_seeder_killed (void)
{
  Peer first = { 0 }, second = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };
  g_autofree char *first_id = NULL;
  guint64 *first_bytes;
  LspDownload *download;

  peer_start (&downloader, "downloader");
  make_seeder (&first, "first", "1.0", 37 * MIB);
  make_seeder (&second, "second", "1.0", 37 * MIB);
  lsp_chunk_server_set_rate_limit (first.server, 8 * MIB);
  lsp_chunk_server_set_rate_limit (second.server, 8 * MIB);
  connect_to (&downloader, &first);
  connect_to (&downloader, &second);
  wait_offer (&downloader, &first, "alpha", "1.0");
  wait_offer (&downloader, &second, "alpha", "1.0");

  first_id = g_strdup (lsp_identity_get_peer_id (first.identity));
  download = start_download (&downloader, "alpha", &outcome);
  g_assert_true (lsp_test_wait_until (has_bytes, download, 30000));
  /* No Goodbye: the connection just ends, as when a process is killed. */
  lsp_test_peer_vanish (&first);

  wait_outcome (&downloader, &outcome);
  g_assert_no_error (outcome.error);
  assert_downloaded_like (&downloader, &second);
  first_bytes = g_hash_table_lookup (outcome.peer_bytes, first_id);
  g_assert_nonnull (first_bytes);
  g_assert_cmpuint (*first_bytes + bytes_from (&outcome, &second), ==, 40 * MIB + 5);
  g_assert_cmpuint (bytes_from (&outcome, &second), >, 0);

  outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&second);
  lsp_test_remove_tree (first.games);
  lsp_test_remove_tree (first.state);
  g_free (first.games);
  g_free (first.state);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/download/single-source", test_single_source);
  g_test_add_func ("/download/three-sources", test_three_sources);
  g_test_add_func ("/download/corrupt-source", test_corrupt_source);
  g_test_add_func ("/download/hostile-answers", test_hostile_answers);
  g_test_add_func ("/download/cancel/transferring", test_cancel_transferring);
  g_test_add_func ("/download/cancel/planning", test_cancel_planning);
  g_test_add_func ("/download/cancel/connecting-verifying", test_cancel_connecting_verifying);
  g_test_add_func ("/download/cancel/waiting", test_cancel_waiting);
  g_test_add_func ("/download/waiting-resumes", test_waiting_resumes);
  g_test_add_func ("/download/seeder-killed", test_seeder_killed);
  g_test_add_func ("/download/resume-after-stop", test_resume_after_stop);
  g_test_add_func ("/download/serving-rules", test_serving_rules);
  g_test_add_func ("/download/rate-limited", test_download_rate_limited);
  g_test_add_func ("/download/rate-limit", test_rate_limit);
  g_test_add_func ("/download/upload-slots", test_upload_slots);
  g_test_add_func ("/download/not-enough-space", test_not_enough_space);
  g_test_add_func ("/download/write-fails", test_write_fails);
  g_test_add_func ("/download/regression/extra-bytes-while-queued", test_extra_bytes_while_queued);
  g_test_add_func ("/download/regression/oversized-frame", test_oversized_frame);
  g_test_add_func ("/download/regression/reset-after-fin", test_reset_after_fin);
  g_test_add_func ("/download/regression/suspend-during-prepare", test_suspend_during_prepare);
  g_test_add_func ("/download/regression/only-source-dropped", test_only_source_dropped);
  g_test_add_func ("/download/regression/cancel-then-stop", test_cancel_then_stop);
  g_test_add_func ("/download/regression/many-manifest-requests", test_many_manifest_requests);
  g_test_add_func ("/download/storage/remove-files", test_remove_files);
  g_test_add_func ("/download/storage/discard-sweep", test_discard_sweep);
  g_test_add_func ("/download/storage/free-space", test_free_space);
  g_test_add_func ("/download/storage/state-file", test_state_file);

  return g_test_run ();
}
