#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lsp-chunk-server.h"
#include "lsp-download-manager.h"
#include "lsp-error.h"
#include "lsp-game-root.h"
#include "lsp-installer.h"
#include "lsp-node.h"
#include "lsp-test-util.h"

/* Verify and repair with real files, and a repair over QUIC on loopback
 * between real nodes. */

static const char * const catalog_ids[] = { "alpha", NULL };

#define MIB (1024 * 1024)

typedef struct
{
  char               *games;
  char               *state;
  LspLibrary         *library;
  LspIdentity        *identity;
  LspNode            *node;
  LspChunkServer     *server;
  LspDownloadManager *downloads;
  LspInstaller       *installer;
} Peer;

/* alpha 1.0, the same bytes on every peer: 9 MiB + 1 in its archive (three
 * chunks) and 3 MiB + 5 in a second one in a folder. */
static void
peer_init (Peer       *peer,
           const char *name)
{
  g_autofree char *extra = NULL;
  g_autoptr(LspCatalog) catalog = lsp_test_catalog_new (catalog_ids);
  g_autoptr(GFile) dir = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) bind = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GError) error = NULL;

  peer->games = lsp_test_make_temp_dir ();
  peer->state = lsp_test_make_temp_dir ();
  lsp_test_make_game (peer->games, "alpha", "1.0", 9 * MIB + 1);
  extra = g_build_filename (peer->games, "alpha", "data", "extra.eti", NULL);
  lsp_test_write_random_file (extra, 3 * MIB + 5, 77);

  dir = g_file_new_for_path (peer->games);
  peer->library = lsp_library_new (dir, catalog);
  lsp_test_load_library (peer->library);
  lsp_library_watch (peer->library);
  peer->installer = lsp_installer_new (peer->library, NULL);
  peer->identity = lsp_identity_load_or_create (peer->state, &error);
  g_assert_no_error (error);
  peer->node = lsp_node_new (peer->library, peer->identity, name);
  lsp_node_set_liveness (peer->node, 500, 3000);
  lsp_node_start (peer->node, G_INET_SOCKET_ADDRESS (bind), &error);
  g_assert_no_error (error);
  peer->server = lsp_chunk_server_new (peer->node, peer->library);
  peer->downloads = lsp_download_manager_new (peer->node, peer->library);
}

static gboolean
library_gone (gpointer data)
{
  return *(LspLibrary **) data == NULL;
}

static void
peer_clear (Peer *peer)
{
  lsp_node_stop (peer->node, "test over");
  g_clear_object (&peer->downloads);
  g_clear_object (&peer->server);
  g_clear_object (&peer->node);
  g_clear_object (&peer->identity);
  g_clear_object (&peer->installer);
  /* Answers in flight still hold the library; its folder goes after it. */
  g_object_add_weak_pointer (G_OBJECT (peer->library), (gpointer *) &peer->library);
  g_object_unref (peer->library);
  g_assert_true (lsp_test_wait_until (library_gone, &peer->library, 20000));
  lsp_test_remove_tree (peer->games);
  lsp_test_remove_tree (peer->state);
  g_free (peer->games);
  g_free (peer->state);
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
  Peer     *viewer;
  Peer     *seen;
  gboolean  ready;   /* wait for the game offered, or for it withdrawn */
} Offer;

static gboolean
offer_is (gpointer data)
{
  Offer *offer = data;
  LspPeer *peer = lsp_node_lookup_peer (offer->viewer->node, lsp_identity_get_peer_id (offer->seen->identity));
  const LspGameSummary *game = peer != NULL ? lsp_peer_lookup_game (peer, "alpha") : NULL;
  gboolean ready = game != NULL && game->availability == LSP_AVAILABILITY_READY && game->downloaded;

  return peer != NULL && ready == offer->ready;
}

static void
wait_offer (Peer     *viewer,
            Peer     *seen,
            gboolean  ready)
{
  Offer offer = { viewer, seen, ready };

  g_assert_true (lsp_test_wait_until (offer_is, &offer, 20000));
}

typedef struct
{
  gboolean         done;
  LspVerifyReport *report;
  GError          *error;
} Verify;

static void
on_verified (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Verify *verify = user_data;

  verify->report = lsp_installer_verify_finish (LSP_INSTALLER (object), result, &verify->error);
  verify->done = TRUE;
}

static gboolean
verify_done (gpointer data)
{
  return ((Verify *) data)->done;
}

static LspVerifyReport *
run_verify (Peer *peer)
{
  Verify verify = { 0 };

  lsp_installer_verify_async (peer->installer, "alpha", NULL, on_verified, &verify);
  g_assert_true (lsp_test_wait_until (verify_done, &verify, 60000));
  g_assert_no_error (verify.error);
  g_assert_nonnull (verify.report);
  return verify.report;
}

static gboolean
damaged_is (gpointer data)
{
  Peer *peer = data;
  LspLocalGame *game = lsp_library_lookup (peer->library, "alpha");

  return game != NULL && !lsp_local_game_get_busy (game) &&
         lsp_local_game_get_damaged (game) == GPOINTER_TO_INT (g_object_get_data (G_OBJECT (peer->library), "want"));
}

static void
wait_damaged (Peer     *peer,
              gboolean  damaged)
{
  g_object_set_data (G_OBJECT (peer->library), "want", GINT_TO_POINTER (damaged));
  g_assert_true (lsp_test_wait_until (damaged_is, peer, 20000));
}

/* Flips one byte the way a failing disk does: size and mtime stay, so
 * nothing but a verify can tell. */
static void
flip_byte (const char *path,
           goffset     offset)
{
  struct stat st;
  struct timespec times[2];
  guint8 byte;
  int fd = open (path, O_RDWR);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (fstat (fd, &st), ==, 0);
  g_assert_cmpint (pread (fd, &byte, 1, offset), ==, 1);
  byte ^= 0x5a;
  g_assert_cmpint (pwrite (fd, &byte, 1, offset), ==, 1);
  times[0] = st.st_atim;
  times[1] = st.st_mtim;
  g_assert_cmpint (futimens (fd, times), ==, 0);
  close (fd);
}

typedef struct
{
  gboolean  done;
  GError   *error;
  guint64   bytes_received;
  guint     chunks_repaired;
} Outcome;

static void
on_finished (LspDownloadManager *manager,
             LspDownload        *download,
             const GError       *error,
             Outcome            *outcome)
{
  outcome->done = TRUE;
  outcome->error = error != NULL ? g_error_copy (error) : NULL;
  outcome->bytes_received = lsp_download_get_bytes_received (download);
  outcome->chunks_repaired = lsp_download_get_chunks_repaired (download);
}

static gboolean
outcome_done (gpointer data)
{
  return ((Outcome *) data)->done;
}

static void
run_repair (Peer    *peer,
            Outcome *outcome)
{
  g_autoptr(GError) error = NULL;

  g_signal_connect (peer->downloads, "download-finished", G_CALLBACK (on_finished), outcome);
  g_assert_nonnull (lsp_download_manager_repair (peer->downloads, "alpha", &error));
  g_assert_no_error (error);
  g_assert_true (lsp_test_wait_until (outcome_done, outcome, 60000));
  g_signal_handlers_disconnect_by_data (peer->downloads, outcome);
}

static void
assert_same_file (Peer       *a,
                  Peer       *b,
                  const char *relative)
{
  g_autofree char *a_path = g_build_filename (a->games, relative, NULL);
  g_autofree char *b_path = g_build_filename (b->games, relative, NULL);
  g_autofree char *a_data = NULL, *b_data = NULL;
  gsize a_len = 0, b_len = 0;

  g_assert_true (g_file_get_contents (a_path, &a_data, &a_len, NULL));
  g_assert_true (g_file_get_contents (b_path, &b_data, &b_len, NULL));
  g_assert_cmpmem (a_data, a_len, b_data, b_len);
}

static void
test_flip_byte_repair (void)
{
  Peer seeder = { 0 }, player = { 0 };
  g_autoptr(LspVerifyReport) sound = NULL;
  g_autoptr(LspVerifyReport) damaged = NULL;
  g_autoptr(LspVerifyReport) repaired = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *archive = NULL;
  Outcome outcome = { 0 };
  LspVerifyProblem *problem;
  g_autofree char *hash = NULL;

  peer_init (&seeder, "seeder");
  peer_init (&player, "player");
  connect_to (&player, &seeder);
  wait_offer (&player, &seeder, TRUE);
  wait_offer (&seeder, &player, TRUE);
  hash = g_strdup (lsp_local_game_get_manifest_hash (lsp_library_lookup (player.library, "alpha")));
  g_assert_cmpstr (hash, ==, lsp_local_game_get_manifest_hash (lsp_library_lookup (seeder.library, "alpha")));

  sound = run_verify (&player);
  g_assert_cmpint (sound->payload, ==, LSP_VERIFY_SOUND);
  g_assert_cmpuint (sound->payload_problems->len, ==, 0);
  g_assert_cmpuint (sound->bytes_checked, ==, 12 * MIB + 6);
  g_assert_cmpint (sound->installed, ==, LSP_VERIFY_NOT_CHECKED);

  /* One byte in the archive's second chunk. */
  archive = g_build_filename (player.games, "alpha", "alpha.eti", NULL);
  flip_byte (archive, 5 * MIB + 17);
  damaged = run_verify (&player);
  g_assert_cmpint (damaged->payload, ==, LSP_VERIFY_DAMAGED);
  g_assert_cmpuint (damaged->payload_problems->len, ==, 1);
  problem = g_ptr_array_index (damaged->payload_problems, 0);
  g_assert_cmpstr (problem->path, ==, "alpha.eti");
  g_assert_cmpint (problem->kind, ==, LSP_VERIFY_CORRUPT);
  g_assert_cmpuint (problem->chunks->len, ==, 1);
  g_assert_cmpuint (g_array_index (problem->chunks, guint, 0), ==, 1);

  /* Damaged: still downloaded here, but served to no one. */
  wait_damaged (&player, TRUE);
  g_assert_true (lsp_local_game_get_downloaded (lsp_library_lookup (player.library, "alpha")));
  g_assert_false (lsp_transfer_can_serve (player.library, "alpha", hash, &error));
  g_assert_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND);
  g_clear_error (&error);
  wait_offer (&seeder, &player, FALSE);

  /* The repair hashes everything and fetches the one bad chunk. */
  run_repair (&player, &outcome);
  g_assert_no_error (outcome.error);
  g_assert_cmpuint (outcome.chunks_repaired, ==, 1);
  g_assert_cmpuint (outcome.bytes_received, ==, 4 * MIB);
  g_assert_cmpuint (lsp_chunk_server_get_bytes_served (seeder.server), ==, 4 * MIB);
  assert_same_file (&seeder, &player, "alpha/alpha.eti");

  wait_damaged (&player, FALSE);
  g_assert_true (lsp_transfer_can_serve (player.library, "alpha", hash, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (lsp_local_game_get_manifest_hash (lsp_library_lookup (player.library, "alpha")), ==, hash);
  wait_offer (&seeder, &player, TRUE);

  repaired = run_verify (&player);
  g_assert_cmpint (repaired->payload, ==, LSP_VERIFY_SOUND);

  peer_clear (&player);
  peer_clear (&seeder);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/verify/payload/flip-byte-repair", test_flip_byte_repair);

  return g_test_run ();
}
