#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lsp-chunk-server.h"
#include "lsp-download-manager.h"
#include "lsp-download-storage.h"
#include "lsp-game-root.h"
#include "lsp-node.h"
#include "lsp-test-peer.h"
#include "lsp-test-util.h"
#include "lsp-update-estimate.h"

/* Updates between real nodes over QUIC on loopback, with real files: only
 * the chunks we do not have locally move. */

static const char * const catalog_ids[] = { "alpha", NULL };

#define MIB (1024 * 1024)
#define ARCHIVE_SIZE (9 * MIB + 123)

typedef LspTestPeer Peer;

typedef LspTestOutcome Outcome;

/* alpha at version with archives a.eti, b.eti, c.eti, each of the given
 * seed (0: that archive is left out). */
static void
make_alpha (const char *games,
            const char *version,
            guint32     seed_a,
            guint32     seed_b,
            guint32     seed_c)
{
  const guint32 seeds[] = { seed_a, seed_b, seed_c };
  g_autofree char *version_file = g_build_filename (games, "alpha", LSP_VERSION_FILE, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (seeds); i++)
    {
      g_autofree char *name = g_strdup_printf ("%c.eti", 'a' + i);
      g_autofree char *path = g_build_filename (games, "alpha", name, NULL);

      if (seeds[i] != 0)
        lsp_test_write_random_file (path, ARCHIVE_SIZE, seeds[i]);
    }
  lsp_test_write_file (version_file, version, -1);
}

static gboolean
flag_set (gpointer data)
{
  return *(gboolean *) data;
}

static void
peer_start (Peer       *peer,
            const char *name)
{
  lsp_test_peer_start (peer, name, catalog_ids, TRUE);
}

typedef struct
{
  Peer       *viewer;
  Peer       *seen;
  const char *version;
} SeeGame;

static gboolean
sees_game (gpointer data)
{
  SeeGame *see = data;
  const char *seen_id = lsp_identity_get_peer_id (see->seen->identity);
  LspPeer *peer = lsp_node_lookup_peer (see->viewer->node, seen_id);
  const LspGameSummary *game = peer != NULL ? lsp_peer_lookup_game (peer, "alpha") : NULL;

  return game != NULL && game->availability == LSP_AVAILABILITY_READY &&
         g_strcmp0 (game->version, see->version) == 0 && lsp_node_get_connection (see->viewer->node, seen_id) != NULL;
}

/* The downloader dials the seeder and sees its offer of version. */
static void
connect_to_seeder (Peer       *downloader,
                   Peer       *seeder,
                   const char *version)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, lsp_node_get_port (seeder->node));
  SeeGame see = { downloader, seeder, version };

  lsp_node_add_static_peer (downloader->node, G_INET_SOCKET_ADDRESS (address));
  g_assert_true (lsp_test_wait_until (sees_game, &see, 20000));
}

/* A seeder of seeder_version and a downloader of the game as given, who
 * sees the seeder's offer. */
static void
seeder_and_downloader (Peer       *seeder,
                       Peer       *downloader,
                       const char *seeder_version)
{
  peer_start (seeder, "seeder");
  peer_start (downloader, "downloader");
  connect_to_seeder (downloader, seeder, seeder_version);
}

static LspDownload *
start_update (Peer    *peer,
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
  lsp_test_outcome_wait (outcome, peer->downloads, 60000);
}

static guint64
bytes_from (Outcome *outcome,
            Peer    *peer)
{
  guint64 *bytes = g_hash_table_lookup (outcome->peer_bytes, lsp_identity_get_peer_id (peer->identity));
  return bytes != NULL ? *bytes : 0;
}

static char *
read_game_file (Peer       *peer,
                const char *name)
{
  g_autofree char *path = g_build_filename (peer->games, "alpha", name, NULL);
  char *contents = NULL;
  gsize length = 0;

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  return contents;
}

static void
assert_same_game (Peer *downloader,
                  Peer *seeder)
{
  static const char * const names[] = { "a.eti", "b.eti", "c.eti" };
  g_autofree char *staging = g_build_filename (downloader->games, "alpha", LSP_UPDATE_STAGING_DIR, NULL);
  g_autofree char *mine_version = read_game_file (downloader, LSP_VERSION_FILE);
  g_autofree char *their_version = read_game_file (seeder, LSP_VERSION_FILE);
  LspLocalGame *mine = lsp_library_lookup (downloader->library, "alpha");

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *a = read_game_file (downloader, names[i]);
      g_autofree char *b = read_game_file (seeder, names[i]);

      g_assert_cmpmem (a, ARCHIVE_SIZE, b, ARCHIVE_SIZE);
    }
  g_assert_cmpstr (mine_version, ==, their_version);
  g_assert_false (g_file_test (staging, G_FILE_TEST_EXISTS));
  g_assert_true (lsp_local_game_get_downloaded (mine));
  g_assert_cmpstr (lsp_local_game_get_manifest_hash (mine), ==,
                   lsp_local_game_get_manifest_hash (lsp_library_lookup (seeder->library, "alpha")));
}

typedef struct
{
  gboolean  done;
  char     *version;
  guint64   bytes_to_fetch;
} Estimate;

static void
on_estimated (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Estimate *estimate = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (lsp_update_estimate_finish (result, &estimate->version, &estimate->bytes_to_fetch, &error));
  g_assert_no_error (error);
  estimate->done = TRUE;
}

static void
on_reused_while_preparing (LspDownload *download,
                           GParamSpec  *pspec,
                           gboolean    *seen)
{
  if (lsp_download_get_bytes_to_fetch (download) < 0 && lsp_download_get_bytes_reused (download) > 0)
    *seen = TRUE;
}

/* Patch day: one archive of three changed, and only its chunks move; the
 * estimate before the update says so, and the progress counts the reused
 * bytes while they are being checked. */
static void
test_one_archive_changed (void)
{
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };
  Estimate estimate = { 0 };
  gboolean reused_while_preparing = FALSE;
  LspDownload *download;

  seeder.games = lsp_test_make_temp_dir ();
  make_alpha (seeder.games, "1.1", 11, 99, 33);
  downloader.games = lsp_test_make_temp_dir ();
  make_alpha (downloader.games, "1.0", 11, 22, 33);
  seeder_and_downloader (&seeder, &downloader, "1.1");

  lsp_update_estimate_async (downloader.node, downloader.library, "alpha", NULL, on_estimated, &estimate);
  g_assert_true (lsp_test_wait_until (flag_set, &estimate.done, 20000));
  g_assert_cmpstr (estimate.version, ==, "1.1");
  g_assert_cmpuint (estimate.bytes_to_fetch, ==, ARCHIVE_SIZE);
  g_free (estimate.version);

  download = start_update (&downloader, &outcome);
  g_signal_connect (download, "notify::bytes-reused", G_CALLBACK (on_reused_while_preparing), &reused_while_preparing);
  wait_outcome (&downloader, &outcome);
  g_assert_no_error (outcome.error);
  g_assert_true (reused_while_preparing);
  assert_same_game (&downloader, &seeder);
  g_assert_cmpuint (bytes_from (&outcome, &seeder), ==, ARCHIVE_SIZE);
  g_assert_cmpuint (outcome.bytes_received, ==, ARCHIVE_SIZE);
  g_assert_cmpuint (outcome.bytes_reused, ==, 2 * ARCHIVE_SIZE);

  lsp_test_outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&seeder);
}

/* A new version string over the same files: nothing to fetch. */
static void
test_only_version_changed (void)
{
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };

  seeder.games = lsp_test_make_temp_dir ();
  make_alpha (seeder.games, "1.1", 11, 22, 33);
  downloader.games = lsp_test_make_temp_dir ();
  make_alpha (downloader.games, "1.0", 11, 22, 33);
  seeder_and_downloader (&seeder, &downloader, "1.1");

  start_update (&downloader, &outcome);
  wait_outcome (&downloader, &outcome);
  g_assert_no_error (outcome.error);
  assert_same_game (&downloader, &seeder);
  g_assert_cmpuint (bytes_from (&outcome, &seeder), ==, 0);
  g_assert_cmpuint (outcome.bytes_received, ==, 0);
  g_assert_cmpuint (outcome.bytes_reused, ==, 3 * ARCHIVE_SIZE);

  lsp_test_outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&seeder);
}

/* A chunk fetched from the seeder is written. */
static gboolean
has_written (gpointer data)
{
  return lsp_download_get_bytes_to_fetch (data) >= 0 &&
         lsp_download_get_bytes_done (data) >= lsp_download_get_bytes_reused (data) + LSP_MANIFEST_CHUNK_SIZE;
}

static void
on_resumed (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_assert_true (lsp_download_manager_resume_finish (LSP_DOWNLOAD_MANAGER (object), result, NULL));
  *(gboolean *) user_data = TRUE;
}

/* A cancel mid-update, or the peer stopping, leaves the old version
 * whole, downloaded and installed as it was, and nothing resumes at the
 * next start; after a stop, the update started again fetches only what
 * its staging folder does not hold yet. */
static void
test_stop_keeps_old_version (gconstpointer data)
{
  gboolean stop_peer = GPOINTER_TO_INT (data);
  static const char * const names[] = { "a.eti", "b.eti", "c.eti", LSP_VERSION_FILE, LSP_INTENT_FILE,
                                         "local/saves/slot1.sav" };
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 }, again = { 0 };
  g_autofree char *staging = NULL, *save = NULL, *intent = NULL;
  g_autoptr(GPtrArray) before = g_ptr_array_new_with_free_func (g_free);
  LspDownload *download;
  LspLocalGame *local;

  seeder.games = lsp_test_make_temp_dir ();
  make_alpha (seeder.games, "2.0", 41, 42, 43);
  downloader.games = lsp_test_make_temp_dir ();
  make_alpha (downloader.games, "1.0", 11, 22, 43);
  save = g_build_filename (downloader.games, "alpha", "local", "saves", "slot1.sav", NULL);
  lsp_test_write_file (save, "my progress", -1);
  intent = g_build_filename (downloader.games, "alpha", LSP_INTENT_FILE, NULL);
  lsp_test_write_file (intent, "{\"id\":\"alpha\",\"intent\":\"None\"}", -1);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_ptr_array_add (before, read_game_file (&downloader, names[i]));
  seeder_and_downloader (&seeder, &downloader, "2.0");
  lsp_chunk_server_set_rate_limit (seeder.server, 4 * MIB);

  download = start_update (&downloader, &outcome);
  g_assert_true (lsp_test_wait_until (has_written, download, 30000));
  if (stop_peer)
    {
      LspLocalGame *seeded = lsp_library_lookup (seeder.library, "alpha");
      g_autofree char *kept = lsp_download_manifest_path (downloader.games, lsp_local_game_get_manifest_hash (seeded));
      gboolean resumed = FALSE;

      lsp_test_peer_stop (&downloader);
      g_assert_true (outcome.done);
      /* No state and no manifest kept: nothing resumes by itself. */
      g_assert_false (g_file_test (kept, G_FILE_TEST_EXISTS));
      peer_start (&downloader, "downloader");
      lsp_download_manager_resume_async (downloader.downloads, NULL, on_resumed, &resumed);
      g_assert_true (lsp_test_wait_until (flag_set, &resumed, 20000));
      g_assert_null (lsp_download_manager_lookup (downloader.downloads, "alpha"));
    }
  else
    {
      lsp_download_manager_cancel (downloader.downloads, "alpha", NULL);
      wait_outcome (&downloader, &outcome);
    }
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *after = read_game_file (&downloader, names[i]);
      const char *was = g_ptr_array_index (before, i);
      gsize length = i < 3 ? ARCHIVE_SIZE : strlen (was);

      g_assert_cmpmem (after, length, was, length);
    }
  staging = g_build_filename (downloader.games, "alpha", LSP_UPDATE_STAGING_DIR, NULL);
  g_assert_true (g_file_test (staging, G_FILE_TEST_EXISTS) == stop_peer);
  local = lsp_library_lookup (downloader.library, "alpha");
  g_assert_true (lsp_local_game_get_downloaded (local));
  g_assert_true (lsp_local_game_get_installed (local));
  g_assert_cmpstr (lsp_local_game_get_version (local), ==, "1.0");

  if (stop_peer)
    {
      lsp_chunk_server_set_rate_limit (seeder.server, 0);
      connect_to_seeder (&downloader, &seeder, "2.0");
      start_update (&downloader, &again);
      wait_outcome (&downloader, &again);
      g_assert_no_error (again.error);
      assert_same_game (&downloader, &seeder);
      g_assert_cmpuint (again.bytes_resumed, >=, LSP_MANIFEST_CHUNK_SIZE);
      g_assert_cmpuint (bytes_from (&again, &seeder), ==, 2 * ARCHIVE_SIZE - again.bytes_resumed);
      g_assert_cmpuint (again.bytes_reused, ==, ARCHIVE_SIZE);
    }

  lsp_test_outcome_clear (&again);
  lsp_test_outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&seeder);
}

/* Overwrites bytes of a file and gives it back its times, so the library's
 * fingerprint does not see the change and keeps the manifest it built. */
static void
damage_quietly (const char *path,
                goffset     offset)
{
  struct stat st;
  struct timespec times[2];
  int fd;

  g_assert_cmpint (stat (path, &st), ==, 0);
  fd = open (path, O_WRONLY);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, "damage", 6, offset), ==, 6);
  close (fd);
  times[0] = st.st_atim;
  times[1] = st.st_mtim;
  g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);
}

/* A local chunk that no longer matches the hash it was cached with is
 * fetched, not reused: in a file kept in place and in one copied from. */
static void
test_damaged_local_chunk (void)
{
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };
  g_autofree char *kept = NULL, *copied = NULL;

  seeder.games = lsp_test_make_temp_dir ();
  make_alpha (seeder.games, "1.1", 11, 22, 0);
  /* c.eti of 1.1 is b.eti of 1.0, renamed. */
  {
    g_autofree char *c = g_build_filename (seeder.games, "alpha", "c.eti", NULL);
    lsp_test_write_random_file (c, ARCHIVE_SIZE, 77);
  }
  downloader.games = lsp_test_make_temp_dir ();
  make_alpha (downloader.games, "1.0", 11, 77, 0);
  /* The library hashes the old version and caches its manifest; the
   * damage comes after, unseen. */
  peer_start (&downloader, "downloader");
  lsp_test_peer_stop (&downloader);
  kept = g_build_filename (downloader.games, "alpha", "a.eti", NULL);
  damage_quietly (kept, 5 * MIB);
  copied = g_build_filename (downloader.games, "alpha", "b.eti", NULL);
  damage_quietly (copied, 100);
  seeder_and_downloader (&seeder, &downloader, "1.1");

  start_update (&downloader, &outcome);
  wait_outcome (&downloader, &outcome);
  g_assert_no_error (outcome.error);
  assert_same_game (&downloader, &seeder);
  /* b.eti is new, the damaged chunk of a.eti and of what becomes c.eti. */
  g_assert_cmpuint (bytes_from (&outcome, &seeder), ==, ARCHIVE_SIZE + 2 * LSP_MANIFEST_CHUNK_SIZE);
  g_assert_cmpuint (outcome.bytes_reused, ==, 2 * ARCHIVE_SIZE - 2 * LSP_MANIFEST_CHUNK_SIZE);

  lsp_test_outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&seeder);
}

/* Two files of the same bytes: the second is copied from the first once
 * that one has verified, not fetched. */
static void
test_twin_chunks_fetched_once (void)
{
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };
  LspDownload *download;

  seeder.games = lsp_test_make_temp_dir ();
  make_alpha (seeder.games, "1.0", 11, 11, 33);
  downloader.games = lsp_test_make_temp_dir ();
  seeder_and_downloader (&seeder, &downloader, "1.0");

  download = start_update (&downloader, &outcome);
  g_object_ref (download);
  wait_outcome (&downloader, &outcome);
  g_assert_no_error (outcome.error);
  assert_same_game (&downloader, &seeder);
  g_assert_cmpuint (bytes_from (&outcome, &seeder), ==, 2 * ARCHIVE_SIZE);
  g_assert_cmpuint (outcome.bytes_reused, ==, ARCHIVE_SIZE);
  g_assert_cmpint (lsp_download_get_bytes_to_fetch (download), ==, 0);
  g_object_unref (download);

  lsp_test_outcome_clear (&outcome);
  lsp_test_peer_clear (&downloader);
  lsp_test_peer_clear (&seeder);
}

/* A repair mends a bad chunk from a twin on disk that still verifies,
 * with no player to ask, and counts it as repaired. */
static void
test_repair_from_twin (void)
{
  Peer peer = { 0 };
  Outcome outcome = { 0 };
  g_autofree char *damaged = NULL, *a = NULL, *b = NULL;
  g_autoptr(GError) error = NULL;

  peer.games = lsp_test_make_temp_dir ();
  make_alpha (peer.games, "1.0", 11, 11, 33);
  peer_start (&peer, "peer");
  lsp_test_peer_stop (&peer);
  damaged = g_build_filename (peer.games, "alpha", "b.eti", NULL);
  damage_quietly (damaged, 100);
  peer_start (&peer, "peer");

  lsp_test_outcome_watch (&outcome, peer.downloads);
  g_assert_nonnull (lsp_download_manager_repair (peer.downloads, "alpha", &error));
  g_assert_no_error (error);
  wait_outcome (&peer, &outcome);
  g_assert_no_error (outcome.error);
  g_assert_cmpuint (outcome.chunks_repaired, ==, 1);
  g_assert_cmpuint (outcome.bytes_received, ==, 0);
  g_assert_cmpuint (outcome.bytes_reused, ==, LSP_MANIFEST_CHUNK_SIZE);
  a = read_game_file (&peer, "a.eti");
  b = read_game_file (&peer, "b.eti");
  g_assert_cmpmem (a, ARCHIVE_SIZE, b, ARCHIVE_SIZE);

  lsp_test_outcome_clear (&outcome);
  lsp_test_peer_clear (&peer);
}

/* The files that changed are built beside the old ones, so the update
 * needs room for all of them, and says so before it writes anything. */
static void
test_not_enough_space (void)
{
  Peer seeder = { 0 }, downloader = { 0 };
  Outcome outcome = { 0 };
  g_autofree char *outer = lsp_test_make_temp_dir ();
  g_autofree char *staging = NULL, *version = NULL;

  downloader.games = g_build_filename (outer, "small", NULL);
  g_assert_cmpint (g_mkdir (downloader.games, 0755), ==, 0);
  if (mount ("lanspread-test", downloader.games, "tmpfs", MS_NOSUID | MS_NODEV, "size=40m") != 0)
    {
      g_test_skip_printf ("cannot mount a tmpfs (%s)", g_strerror (errno));
      lsp_test_remove_tree (outer);
      g_free (downloader.games);
      return;
    }
  /* 27 MiB of 1.0 on 40 MiB; 1.1 changes two archives, 18 MiB. */
  make_alpha (downloader.games, "1.0", 11, 22, 33);
  seeder.games = lsp_test_make_temp_dir ();
  make_alpha (seeder.games, "1.1", 11, 98, 99);
  seeder_and_downloader (&seeder, &downloader, "1.1");

  start_update (&downloader, &outcome);
  wait_outcome (&downloader, &outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (outcome.error->message, "Not enough free space"));
  g_assert_cmpuint (outcome.bytes_received, ==, 0);
  staging = g_build_filename (downloader.games, "alpha", LSP_UPDATE_STAGING_DIR, NULL);
  g_assert_false (g_file_test (staging, G_FILE_TEST_EXISTS));
  version = read_game_file (&downloader, LSP_VERSION_FILE);
  g_assert_cmpstr (version, ==, "1.0");
  g_assert_true (lsp_local_game_get_downloaded (lsp_library_lookup (downloader.library, "alpha")));

  lsp_test_outcome_clear (&outcome);
  lsp_test_peer_stop (&downloader);
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

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/update/one-archive-changed", test_one_archive_changed);
  g_test_add_func ("/update/only-version-changed", test_only_version_changed);
  g_test_add_data_func ("/update/cancel-keeps-old-version", GINT_TO_POINTER (FALSE), test_stop_keeps_old_version);
  g_test_add_data_func ("/update/stop-keeps-old-version", GINT_TO_POINTER (TRUE), test_stop_keeps_old_version);
  g_test_add_func ("/update/damaged-local-chunk", test_damaged_local_chunk);
  g_test_add_func ("/update/twin-chunks-fetched-once", test_twin_chunks_fetched_once);
  g_test_add_func ("/update/not-enough-space", test_not_enough_space);
  g_test_add_func ("/update/repair-from-twin", test_repair_from_twin);

  return g_test_run ();
}
