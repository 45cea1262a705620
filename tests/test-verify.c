#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lsp-chunk-server.h"
#include "lsp-download-manager.h"
#include "lsp-error.h"
#include "lsp-game-root.h"
#include "lsp-install-record.h"
#include "lsp-install-recovery.h"
#include "lsp-installer.h"
#include "lsp-node.h"
#include "lsp-test-peer.h"
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

typedef LspTestOutcome Outcome;

static void
run_repair (Peer    *peer,
            Outcome *outcome)
{
  g_autoptr(GError) error = NULL;

  lsp_test_outcome_watch (outcome, peer->downloads);
  g_assert_nonnull (lsp_download_manager_repair (peer->downloads, "alpha", &error));
  g_assert_no_error (error);
  lsp_test_outcome_wait (outcome, peer->downloads, 60000);
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
  g_autoptr(LspVerifyReport) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *archive = NULL;
  g_autofree char *extra = NULL;
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
  extra = g_build_filename (player.games, "alpha", "data", "extra.eti", NULL);
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

  /* Download on a damaged game of the version on the LAN is a repair too:
   * only the broken chunk (all 3 MiB + 5 of the second archive) moves. */
  flip_byte (extra, 7);
  again = run_verify (&player);
  g_assert_cmpint (again->payload, ==, LSP_VERIFY_DAMAGED);
  wait_damaged (&player, TRUE);
  g_assert_nonnull (lsp_download_manager_start (player.downloads, "alpha", &error));
  g_assert_no_error (error);
  lsp_test_outcome_clear (&outcome);
  outcome = (Outcome) { 0 };
  lsp_test_outcome_watch (&outcome, player.downloads);
  lsp_test_outcome_wait (&outcome, player.downloads, 60000);
  g_assert_no_error (outcome.error);
  g_assert_cmpuint (outcome.bytes_received, ==, 3 * MIB + 5);
  wait_damaged (&player, FALSE);

  lsp_test_outcome_clear (&outcome);
  peer_clear (&player);
  peer_clear (&seeder);
}

typedef struct
{
  gboolean         done;
  LspVerifyReport *report;
  GError          *error;
} Finished;

static void
on_operation_finished (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  Finished *finished = user_data;
  LspInstaller *installer = LSP_INSTALLER (object);
  gpointer tag = g_task_get_source_tag (G_TASK (result));

  if (tag == lsp_installer_install_async)
    lsp_installer_install_finish (installer, result, &finished->error);
  else if (tag == lsp_installer_verify_async)
    finished->report = lsp_installer_verify_finish (installer, result, &finished->error);
  else
    finished->report = lsp_installer_repair_finish (installer, result, &finished->error);
  finished->done = TRUE;
}

static gboolean
finished_done (gpointer data)
{
  return ((Finished *) data)->done;
}

/* The verdict outlives the process, and the start after it hashes nothing:
 * the files' size and mtime did not change, so the fingerprint did not. */
static void
test_verdict_survives_restart (void)
{
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *archive = g_build_filename (games, "alpha", "alpha.eti", NULL);
  g_autoptr(LspCatalog) catalog = lsp_test_catalog_new (catalog_ids);
  g_autoptr(GFile) dir = g_file_new_for_path (games);
  g_autoptr(LspVerifyReport) report = NULL;
  Peer peer = { 0 };

  lsp_test_make_game (games, "alpha", "1.0", 5 * MIB);
  peer.library = lsp_library_new (dir, catalog);
  lsp_test_load_library (peer.library);
  peer.installer = lsp_installer_new (peer.library, NULL);
  flip_byte (archive, 3);
  report = run_verify (&peer);
  g_assert_cmpint (report->payload, ==, LSP_VERIFY_DAMAGED);
  wait_damaged (&peer, TRUE);
  while (lsp_library_get_scanning (peer.library))
    g_main_context_iteration (NULL, TRUE);
  g_clear_object (&peer.installer);
  g_object_run_dispose (G_OBJECT (peer.library));
  g_clear_object (&peer.library);

  peer.library = lsp_library_new (dir, catalog);
  lsp_test_load_library (peer.library);
  g_assert_true (lsp_local_game_get_damaged (lsp_library_lookup (peer.library, "alpha")));
  g_assert_cmpuint (lsp_library_get_n_games_hashed (peer.library), ==, 0);
  g_assert_false (lsp_transfer_can_serve (peer.library, "alpha",
                                          lsp_local_game_get_manifest_hash (lsp_library_lookup (peer.library, "alpha")),
                                          NULL));

  /* Installing it would install the damage. */
  {
    Finished finished = { 0 };

    peer.installer = lsp_installer_new (peer.library, NULL);
    lsp_installer_install_async (peer.installer, "alpha", NULL, on_operation_finished, &finished);
    g_assert_true (lsp_test_wait_until (finished_done, &finished, 60000));
    g_assert_error (finished.error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
    g_assert_nonnull (strstr (finished.error->message, "damaged"));
    g_clear_error (&finished.error);
    g_clear_object (&peer.installer);
  }
  g_object_run_dispose (G_OBJECT (peer.library));
  g_clear_object (&peer.library);
  lsp_test_remove_tree (games);
}

static void
cancel_at_start (LspInstaller *installer,
                 LspOperation *operation,
                 gpointer      user_data)
{
  g_assert_cmpint (lsp_operation_get_kind (operation), ==, LSP_OPERATION_VERIFY);
  lsp_operation_cancel (operation);
}

/* A cancelled verify reaches no verdict: the damage it did not finish
 * reading stays unknown, and the game is served as before. */
static void
test_verify_cancel (void)
{
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *archive = g_build_filename (games, "alpha", "alpha.eti", NULL);
  g_autofree char *verdict = g_build_filename (games, LSP_DAMAGED_DIR, "alpha.json", NULL);
  g_autoptr(LspCatalog) catalog = lsp_test_catalog_new (catalog_ids);
  g_autoptr(GFile) dir = g_file_new_for_path (games);
  Verify verify = { 0 };
  Peer peer = { 0 };

  lsp_test_make_game (games, "alpha", "1.0", 64 * MIB);
  peer.library = lsp_library_new (dir, catalog);
  lsp_test_load_library (peer.library);
  peer.installer = lsp_installer_new (peer.library, NULL);
  flip_byte (archive, 60 * MIB);
  g_signal_connect (peer.installer, "operation-started", G_CALLBACK (cancel_at_start), NULL);
  lsp_installer_verify_async (peer.installer, "alpha", NULL, on_verified, &verify);
  g_assert_true (lsp_test_wait_until (verify_done, &verify, 60000));
  g_assert_null (verify.report);
  g_assert_error (verify.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&verify.error);
  g_assert_false (g_file_test (verdict, G_FILE_TEST_EXISTS));
  wait_damaged (&peer, FALSE);

  while (lsp_library_get_scanning (peer.library))
    g_main_context_iteration (NULL, TRUE);
  g_clear_object (&peer.installer);
  g_object_run_dispose (G_OBJECT (peer.library));
  g_clear_object (&peer.library);
  lsp_test_remove_tree (games);
}

/* ---- installed games ---------------------------------------------------- */

typedef struct
{
  char         *games;
  char         *root;
  LspLibrary   *library;
  LspInstaller *installer;
} Local;

static char *
local_path (Local      *local,
            const char *relative)
{
  return g_build_filename (local->root, relative, NULL);
}

static gboolean
local_exists (Local      *local,
              const char *relative)
{
  g_autofree char *path = local_path (local, relative);
  struct stat st;

  return lstat (path, &st) == 0;
}

static void
assert_local_file (Local      *local,
                   const char *relative,
                   const char *expected)
{
  g_autofree char *path = local_path (local, relative);
  g_autofree char *contents = lsp_test_read_file (path);

  if (contents == NULL)
    g_error ("%s is missing", relative);
  g_assert_cmpstr (contents, ==, expected);
}

static void
write_local_file (Local      *local,
                  const char *relative,
                  const char *contents)
{
  g_autofree char *path = local_path (local, relative);

  lsp_test_write_file (path, contents, -1);
}

static void
local_open (Local *local)
{
  g_autoptr(GFile) dir = g_file_new_for_path (local->games);
  g_autoptr(LspCatalog) catalog = lsp_test_catalog_new (catalog_ids);

  local->library = lsp_library_new (dir, catalog);
  lsp_test_load_library (local->library);
  local->installer = lsp_installer_new (local->library, NULL);
}

static void
local_close (Local *local)
{
  if (local->library != NULL)
    {
      while (lsp_library_get_scanning (local->library))
        g_main_context_iteration (NULL, TRUE);
      g_object_run_dispose (G_OBJECT (local->library));
    }
  g_clear_object (&local->installer);
  g_clear_object (&local->library);
}

/* alpha 1.0 as two archives, not yet installed. */
static void
local_init (Local *local)
{
  const LspTestEntry a[] = {
    { "bin/alpha", 'f', "#!/bin/sh\nexit 0\n", 0755 },
    { "data/level1.dat", 'f', "level one", 0 },
    { "config.ini", 'f', "volume=5\n", 0 },
  };
  const LspTestEntry b[] = {
    { "readme.txt", 'f', "read me", 0 },
    { "data/level2.dat", 'f', "level two", 0 },
  };
  g_autofree char *a_path = NULL, *b_path = NULL, *version = NULL;

  local->games = lsp_test_make_temp_dir ();
  local->root = g_build_filename (local->games, "alpha", NULL);
  a_path = local_path (local, "a.eti");
  b_path = local_path (local, "b.eti");
  version = local_path (local, LSP_VERSION_FILE);
  lsp_test_write_archive (a_path, "tar", a, G_N_ELEMENTS (a));
  lsp_test_write_archive (b_path, "tar", b, G_N_ELEMENTS (b));
  lsp_test_write_file (version, "1.0", -1);
}

static void
local_clear (Local *local)
{
  local_close (local);
  lsp_test_remove_tree (local->games);
  g_free (local->root);
  g_free (local->games);
}

/* Runs install, verify or repair; returns the report, or NULL with error. */
static LspVerifyReport *
run_local (Local   *local,
           void   (*start) (LspInstaller *, const char *, GCancellable *, GAsyncReadyCallback, gpointer),
           GError **error)
{
  Finished finished = { 0 };

  if (local->installer == NULL)
    local_open (local);
  start (local->installer, "alpha", NULL, on_operation_finished, &finished);
  g_assert_true (lsp_test_wait_until (finished_done, &finished, 60000));
  if (finished.error != NULL)
    g_propagate_error (error, finished.error);
  return finished.report;
}

static void
install_alpha (Local *local)
{
  g_autoptr(GError) error = NULL;

  run_local (local, lsp_installer_install_async, &error);
  g_assert_no_error (error);
}

static LspVerifyReport *
verify_alpha (Local *local)
{
  g_autoptr(GError) error = NULL;
  LspVerifyReport *report = run_local (local, lsp_installer_verify_async, &error);

  g_assert_no_error (error);
  g_assert_nonnull (report);
  return report;
}

/* Overwrites a file in place keeping its size and mtime: damage that only
 * its content hash shows. */
static void
rot_file (Local      *local,
          const char *relative)
{
  g_autofree char *path = local_path (local, relative);

  flip_byte (path, 0);
}

/* What the player and the disk did to the installed game: a save, an
 * edited config, a deleted level, a file rotted in place. */
static void
damage_install (Local *local)
{
  g_autofree char *level = local_path (local, "local/data/level1.dat");

  write_local_file (local, "local/saves/slot1.sav", "level 2, 99 lives");
  write_local_file (local, "local/config.ini", "volume=11\n");
  g_assert_cmpint (unlink (level), ==, 0);
  rot_file (local, "local/readme.txt");
}

static void
assert_problem (LspVerifyReport      *report,
                guint                 index,
                const char           *path,
                LspVerifyProblemKind  kind)
{
  LspVerifyProblem *problem;

  g_assert_cmpuint (index, <, report->installed_problems->len);
  problem = g_ptr_array_index (report->installed_problems, index);
  g_assert_cmpstr (problem->path, ==, path);
  g_assert_cmpint (problem->kind, ==, kind);
}

static void
assert_damage_found (LspVerifyReport *report)
{
  g_assert_cmpint (report->installed, ==, LSP_VERIFY_DAMAGED);
  g_assert_cmpuint (report->installed_problems->len, ==, 3);
  assert_problem (report, 0, "config.ini", LSP_VERIFY_CHANGED);
  assert_problem (report, 1, "data/level1.dat", LSP_VERIFY_MISSING);
  assert_problem (report, 2, "readme.txt", LSP_VERIFY_CHANGED);
}

static void
assert_repaired (Local *local)
{
  assert_local_file (local, "local/data/level1.dat", "level one");
  assert_local_file (local, "local/readme.txt", "read me");
  assert_local_file (local, "local/config.ini", "volume=5\n");
  /* The player's edit is kept as an update keeps it; the rotted copy was
   * the game's, so it is not. */
  assert_local_file (local, "local/config.ini.lanspread-old", "volume=11\n");
  g_assert_false (local_exists (local, "local/readme.txt.lanspread-old"));
  assert_local_file (local, "local/saves/slot1.sav", "level 2, 99 lives");
}

static void
assert_as_damaged (Local *local)
{
  g_assert_false (local_exists (local, "local/data/level1.dat"));
  assert_local_file (local, "local/readme.txt", "(ead me");  /* 'r' ^ 0x5a */
  assert_local_file (local, "local/config.ini", "volume=11\n");
  g_assert_false (local_exists (local, "local/config.ini.lanspread-old"));
  assert_local_file (local, "local/saves/slot1.sav", "level 2, 99 lives");
}

static void
assert_settled (Local *local)
{
  g_autofree char *intent_path = local_path (local, LSP_INTENT_FILE);
  g_autofree char *intent = lsp_test_read_file (intent_path);

  g_assert_false (local_exists (local, LSP_LOCAL_INSTALLING_DIR));
  g_assert_false (local_exists (local, LSP_LOCAL_BACKUP_DIR));
  if (intent != NULL)
    g_assert_nonnull (strstr (intent, "\"None\""));
}

static void
test_installed_repair (void)
{
  Local local = { 0 };
  g_autoptr(LspVerifyReport) sound = NULL;
  g_autoptr(LspVerifyReport) damaged = NULL;
  g_autoptr(LspVerifyReport) repaired = NULL;
  g_autoptr(LspVerifyReport) again = NULL;
  g_autoptr(GError) error = NULL;

  local_init (&local);
  install_alpha (&local);
  sound = verify_alpha (&local);
  g_assert_cmpint (sound->installed, ==, LSP_VERIFY_SOUND);
  g_assert_cmpuint (sound->installed_problems->len, ==, 0);
  g_assert_cmpint (sound->payload, ==, LSP_VERIFY_SOUND);

  damage_install (&local);
  damaged = verify_alpha (&local);
  /* The save is the player's: not a problem, not even looked at. */
  assert_damage_found (damaged);

  repaired = run_local (&local, lsp_installer_repair_async, &error);
  g_assert_no_error (error);
  assert_damage_found (repaired);
  assert_repaired (&local);
  assert_settled (&local);

  again = verify_alpha (&local);
  g_assert_cmpint (again->installed, ==, LSP_VERIFY_SOUND);

  local_clear (&local);
}

/* Without a record of what it wrote, an install cannot be judged: a
 * verify says so instead of calling every file changed or extra. */
static void
test_installed_without_record (void)
{
  Local local = { 0 };
  g_autoptr(LspVerifyReport) report = NULL;
  g_autoptr(LspVerifyReport) repaired = NULL;
  g_autoptr(GError) error = NULL;

  local_init (&local);
  write_local_file (&local, "local/bin/alpha", "installed by hand");
  write_local_file (&local, "local/saves/slot1.sav", "a save");

  report = verify_alpha (&local);
  g_assert_cmpint (report->installed, ==, LSP_VERIFY_CANNOT_JUDGE);
  g_assert_cmpuint (report->installed_problems->len, ==, 0);

  repaired = run_local (&local, lsp_installer_repair_async, &error);
  g_assert_null (repaired);
  g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
  assert_local_file (&local, "local/bin/alpha", "installed by hand");
  assert_settled (&local);

  local_clear (&local);
}

/* Drops a file from local/'s install record, as an interrupted operation
 * or another tool may leave it. */
static void
forget_in_record (Local      *local,
                  const char *relative)
{
  g_autofree char *local_dir = local_path (local, LSP_LOCAL_DIR);
  g_autoptr(GHashTable) record = NULL;
  g_autofree char *version = NULL;
  g_autoptr(GError) error = NULL;
  int fd = open (local_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  record = lsp_install_record_read (fd, &version);
  g_assert_nonnull (record);
  g_assert_true (g_hash_table_remove (record, relative));
  g_assert_true (lsp_install_record_write (fd, version, record, &error));
  g_assert_no_error (error);
  close (fd);
}

/* Shipped files in local/ that the record does not list are reported;
 * a repair puts the shipped one back, keeps a different one beside it as
 * an update would, and records both, so the next verify finds the game
 * sound. The player's own unrecorded files are never mentioned. */
static void
test_installed_unrecorded (void)
{
  Local local = { 0 };
  g_autoptr(LspVerifyReport) report = NULL;
  g_autoptr(LspVerifyReport) repaired = NULL;
  g_autoptr(LspVerifyReport) again = NULL;
  g_autoptr(GError) error = NULL;

  local_init (&local);
  install_alpha (&local);
  write_local_file (&local, "local/saves/slot1.sav", "a save");
  forget_in_record (&local, "readme.txt");
  forget_in_record (&local, "data/level2.dat");
  write_local_file (&local, "local/data/level2.dat", "my own level two");

  report = verify_alpha (&local);
  g_assert_cmpint (report->installed, ==, LSP_VERIFY_DAMAGED);
  g_assert_cmpuint (report->installed_problems->len, ==, 2);
  assert_problem (report, 0, "data/level2.dat", LSP_VERIFY_UNRECORDED);
  assert_problem (report, 1, "readme.txt", LSP_VERIFY_UNRECORDED);

  repaired = run_local (&local, lsp_installer_repair_async, &error);
  g_assert_no_error (error);
  g_assert_true (repaired->repaired);
  assert_local_file (&local, "local/data/level2.dat", "level two");
  assert_local_file (&local, "local/data/level2.dat.lanspread-old", "my own level two");
  assert_local_file (&local, "local/readme.txt", "read me");
  g_assert_false (local_exists (&local, "local/readme.txt.lanspread-old"));
  assert_local_file (&local, "local/saves/slot1.sav", "a save");
  assert_settled (&local);

  again = verify_alpha (&local);
  g_assert_cmpint (again->installed, ==, LSP_VERIFY_SOUND);
  g_assert_cmpuint (again->installed_problems->len, ==, 0);

  local_clear (&local);
}

static const char * const repair_crash_steps[] = {
  "repair:after-intent",
  "repair:after-staging",
  "repair:after-extract",
  "repair:before-swap",
  "repair:mid-swap",
  "repair:after-swap",
};

/* The repair is killed at the step in a child process, then this one
 * recovers: the game is either as damaged as before or fully repaired,
 * with no player file lost, and a repair after recovery finishes it. */
static void
test_installed_repair_crash (gconstpointer data)
{
  const char *step = data;
  g_autofree char *pattern = g_strdup_printf ("*crash injected at %s*", step);
  g_autoptr(GError) error = NULL;
  g_autoptr(LspVerifyReport) report = NULL;
  Local local = { 0 };
  int games_fd;

  if (g_test_subprocess ())
    {
      local.games = g_strdup (g_getenv ("LSP_TEST_GAMES"));
      local.root = g_build_filename (local.games, "alpha", NULL);
      g_setenv ("LANSPREAD_CRASH_AT", step, TRUE);
      report = run_local (&local, lsp_installer_repair_async, &error);
      g_printerr ("the repair did not crash: %s\n", error != NULL ? error->message : "it succeeded");
      local_close (&local);
      g_free (local.root);
      g_free (local.games);
      return;
    }

  local_init (&local);
  install_alpha (&local);
  local_close (&local);
  damage_install (&local);

  g_setenv ("LSP_TEST_GAMES", local.games, TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_unsetenv ("LSP_TEST_GAMES");
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr (pattern);

  games_fd = open (local.games, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_true (lsp_install_recover_game (games_fd, "alpha", &error));
  g_assert_no_error (error);
  close (games_fd);
  assert_settled (&local);

  if (local_exists (&local, "local/data/level1.dat"))
    assert_repaired (&local);
  else
    {
      assert_as_damaged (&local);
      report = run_local (&local, lsp_installer_repair_async, &error);
      g_assert_no_error (error);
      assert_repaired (&local);
    }
  assert_settled (&local);
  local_clear (&local);
}

int
main (int    argc,
      char **argv)
{
  struct rlimit no_core = { 0, 0 };

  /* Crash tests abort children on purpose: no core files. */
  setrlimit (RLIMIT_CORE, &no_core);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/verify/payload/flip-byte-repair", test_flip_byte_repair);
  g_test_add_func ("/verify/payload/verdict-survives-restart", test_verdict_survives_restart);
  g_test_add_func ("/verify/payload/cancel", test_verify_cancel);
  g_test_add_func ("/verify/installed/repair", test_installed_repair);
  g_test_add_func ("/verify/installed/without-record", test_installed_without_record);
  g_test_add_func ("/verify/installed/unrecorded", test_installed_unrecorded);
  for (guint i = 0; i < G_N_ELEMENTS (repair_crash_steps); i++)
    {
      g_autofree char *path = g_strdup_printf ("/verify/installed/crash/%s", repair_crash_steps[i] + strlen ("repair:"));
      g_test_add_data_func (path, repair_crash_steps[i], test_installed_repair_crash);
    }

  return g_test_run ();
}
