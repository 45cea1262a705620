#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lsp-game-root.h"
#include "lsp-library.h"
#include "lsp-test-util.h"

static const char * const catalog_ids[] = { "alpha", "beta", "gamma", "delta", "epsilon", "zeta", NULL };

typedef struct
{
  char       *games;
  LspCatalog *catalog;
  LspLibrary *library;
  GPtrArray  *changes;  /* "rev:+a,b:-c" per changed signal */
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  fixture->games = lsp_test_make_temp_dir ();
  fixture->catalog = lsp_test_catalog_new (catalog_ids);
  fixture->changes = g_ptr_array_new_with_free_func (g_free);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_clear_object (&fixture->library);
  g_clear_object (&fixture->catalog);
  g_clear_pointer (&fixture->changes, g_ptr_array_unref);
  lsp_test_remove_tree (fixture->games);
  g_free (fixture->games);
}

static void
on_changed (LspLibrary  *library,
            guint64      rev,
            const char * const *changed,
            const char * const *removed,
            Fixture     *fixture)
{
  g_autofree char *added_text = g_strjoinv (",", (char **) changed);
  g_autofree char *removed_text = g_strjoinv (",", (char **) removed);

  g_ptr_array_add (fixture->changes, g_strdup_printf ("+%s:-%s", added_text, removed_text));
}

/* A fresh LspLibrary on the same folder: what a restart sees. */
static void
open_library (Fixture *fixture)
{
  g_autoptr(GFile) dir = g_file_new_for_path (fixture->games);

  g_clear_object (&fixture->library);
  g_ptr_array_set_size (fixture->changes, 0);
  fixture->library = lsp_library_new (dir, fixture->catalog);
  g_signal_connect (fixture->library, "changed", G_CALLBACK (on_changed), fixture);
  lsp_test_load_library (fixture->library);
}

static char *
game_path (Fixture    *fixture,
           const char *game_id,
           const char *child)
{
  return g_build_filename (fixture->games, game_id, child, NULL);
}

static void
make_dir (Fixture    *fixture,
          const char *game_id,
          const char *child)
{
  g_autofree char *path = game_path (fixture, game_id, child);
  g_assert_cmpint (g_mkdir_with_parents (path, 0755), ==, 0);
}

static void
refresh_done (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  lsp_library_refresh_finish (LSP_LIBRARY (object), result, &error);
  g_assert_no_error (error);
  *(gboolean *) user_data = TRUE;
}

static void
refresh (Fixture *fixture)
{
  gboolean done = FALSE;

  lsp_library_refresh_async (fixture->library, NULL, refresh_done, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static void
test_states (Fixture       *fixture,
             gconstpointer  data)
{
  LspLocalGame *game;

  lsp_test_make_game (fixture->games, "alpha", "1.0", 1000);    /* downloaded */
  make_dir (fixture, "beta", "local");                          /* installed only */
  lsp_test_make_game (fixture->games, "gamma", "2.5", 2000);    /* both */
  make_dir (fixture, "gamma", "local/bin");
  lsp_test_make_game (fixture->games, "delta", NULL, 3000);     /* neither: an interrupted download */
  lsp_test_make_game (fixture->games, "not-in-catalog", "1", 10);
  /* epsilon and zeta are in the catalog but not in the folder */

  open_library (fixture);

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (fixture->library)), ==, 4);
  g_assert_null (lsp_library_lookup (fixture->library, "not-in-catalog"));
  g_assert_null (lsp_library_lookup (fixture->library, "epsilon"));

  game = lsp_library_lookup (fixture->library, "alpha");
  g_assert_true (lsp_local_game_get_downloaded (game));
  g_assert_false (lsp_local_game_get_installed (game));
  g_assert_cmpstr (lsp_local_game_get_version (game), ==, "1.0");
  g_assert_cmpuint (lsp_local_game_get_size (game), ==, 1000);
  g_assert_cmpstr (lsp_local_game_get_name (game), ==, "Game alpha");
  g_assert_nonnull (lsp_local_game_get_manifest_hash (game));

  game = lsp_library_lookup (fixture->library, "beta");
  g_assert_false (lsp_local_game_get_downloaded (game));
  g_assert_true (lsp_local_game_get_installed (game));
  g_assert_null (lsp_local_game_get_manifest_hash (game));

  game = lsp_library_lookup (fixture->library, "gamma");
  g_assert_true (lsp_local_game_get_downloaded (game));
  g_assert_true (lsp_local_game_get_installed (game));
  g_assert_cmpstr (lsp_local_game_get_version (game), ==, "2.5");

  game = lsp_library_lookup (fixture->library, "delta");
  g_assert_false (lsp_local_game_get_downloaded (game));
  g_assert_false (lsp_local_game_get_installed (game));
  g_assert_null (lsp_local_game_get_error (game));

  /* Sorted by id, as the GListModel promises. */
  {
    g_autoptr(LspLocalGame) first = g_list_model_get_item (G_LIST_MODEL (fixture->library), 0);
    g_assert_cmpstr (lsp_local_game_get_id (first), ==, "alpha");
  }
}

static void
test_reserved_and_local_not_hashed (Fixture       *fixture,
                                    gconstpointer  data)
{
  g_autofree char *save = game_path (fixture, "alpha", "local/save.dat");
  g_autofree char *hash_before = NULL;
  g_autofree char *manifest_path = NULL;
  g_autofree char *manifest_text = NULL;
  LspLocalGame *game;

  lsp_test_make_game (fixture->games, "alpha", "1", 1000);
  lsp_test_write_random_file (save, 5000, 1);
  {
    g_autofree char *intent = game_path (fixture, "alpha", LSP_INTENT_FILE);
    g_autofree char *marker = game_path (fixture, "alpha", LSP_SOFTLAN_MARKER);
    g_autofree char *sync = game_path (fixture, "alpha", ".sync/x");
    g_autofree char *backup = game_path (fixture, "alpha", ".local.backup/old");
    g_autofree char *installing = game_path (fixture, "alpha", ".local.installing/new");

    lsp_test_write_file (intent, "{}", -1);
    lsp_test_write_file (marker, "", -1);
    lsp_test_write_file (sync, "sync", -1);
    lsp_test_write_file (backup, "old", -1);
    lsp_test_write_file (installing, "new", -1);
  }

  open_library (fixture);
  game = lsp_library_lookup (fixture->library, "alpha");
  g_assert_cmpuint (lsp_local_game_get_size (game), ==, 1000);
  hash_before = g_strdup (lsp_local_game_get_manifest_hash (game));

  /* The cached manifest names only the archive. */
  manifest_path = g_strdup_printf ("%s/.lanspread/manifests/%s.json", fixture->games, hash_before);
  g_assert_true (g_file_get_contents (manifest_path, &manifest_text, NULL, NULL));
  g_assert_nonnull (strstr (manifest_text, "\"alpha.eti\""));
  g_assert_null (strstr (manifest_text, "save.dat"));
  g_assert_null (strstr (manifest_text, "sync"));
  g_assert_null (strstr (manifest_text, "old"));
  g_assert_null (strstr (manifest_text, LSP_INTENT_FILE));

  /* Playing the game changes local/: no rehash, same manifest. */
  lsp_test_write_random_file (save, 9000, 2);
  refresh (fixture);
  g_assert_cmpuint (lsp_library_get_n_games_hashed (fixture->library), ==, 1);
  g_assert_cmpstr (lsp_local_game_get_manifest_hash (game), ==, hash_before);
}

static void
test_fingerprint_cache (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autofree char *archive = game_path (fixture, "alpha", "alpha.eti");
  g_autofree char *hash_before = NULL;
  guint64 rev_before;

  lsp_test_make_game (fixture->games, "alpha", "1", 1000);
  lsp_test_make_game (fixture->games, "beta", "1", 2000);
  lsp_test_make_game (fixture->games, "gamma", "1", 3000);

  open_library (fixture);
  g_assert_cmpuint (lsp_library_get_n_games_hashed (fixture->library), ==, 3);
  hash_before = g_strdup (lsp_local_game_get_manifest_hash (lsp_library_lookup (fixture->library, "alpha")));
  rev_before = lsp_library_get_rev (fixture->library);

  /* Restart: everything comes from the index, nothing is hashed. */
  open_library (fixture);
  g_assert_cmpuint (lsp_library_get_n_games_hashed (fixture->library), ==, 0);
  g_assert_cmpuint (lsp_library_get_rev (fixture->library), ==, rev_before);
  g_assert_cmpstr (lsp_local_game_get_manifest_hash (lsp_library_lookup (fixture->library, "alpha")), ==, hash_before);
  g_assert_cmpuint (fixture->changes->len, ==, 1);  /* the initial population */

  /* A changed archive is rehashed, and only that game. */
  lsp_test_write_random_file (archive, 1500, 99);
  open_library (fixture);
  g_assert_cmpuint (lsp_library_get_n_games_hashed (fixture->library), ==, 1);
  g_assert_cmpuint (lsp_library_get_rev (fixture->library), ==, rev_before + 1);
  g_assert_cmpstr (lsp_local_game_get_manifest_hash (lsp_library_lookup (fixture->library, "alpha")), !=, hash_before);
  g_assert_cmpuint (lsp_local_game_get_size (lsp_library_lookup (fixture->library, "alpha")), ==, 1500);
}

static void
test_rev (Fixture       *fixture,
          gconstpointer  data)
{
  g_autofree char *beta = g_build_filename (fixture->games, "beta", NULL);
  g_autofree char *digest = NULL;
  guint64 rev;

  lsp_test_make_game (fixture->games, "alpha", "1", 1000);
  open_library (fixture);
  rev = lsp_library_get_rev (fixture->library);
  digest = g_strdup (lsp_library_get_digest (fixture->library));
  g_assert_cmpuint (fixture->changes->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->changes, 0), ==, "+alpha:-");

  /* Nothing changed: no new revision, no signal. */
  refresh (fixture);
  refresh (fixture);
  g_assert_cmpuint (lsp_library_get_rev (fixture->library), ==, rev);
  g_assert_cmpuint (fixture->changes->len, ==, 1);

  lsp_test_make_game (fixture->games, "beta", "1", 10);
  refresh (fixture);
  g_assert_cmpuint (lsp_library_get_rev (fixture->library), ==, rev + 1);
  g_assert_cmpstr (lsp_library_get_digest (fixture->library), !=, digest);
  g_assert_cmpuint (fixture->changes->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (fixture->changes, 1), ==, "+beta:-");

  lsp_test_remove_tree (beta);
  refresh (fixture);
  g_assert_cmpuint (lsp_library_get_rev (fixture->library), ==, rev + 2);
  g_assert_cmpstr (lsp_library_get_digest (fixture->library), ==, digest);
  g_assert_cmpstr (g_ptr_array_index (fixture->changes, 2), ==, "+:-beta");
  g_assert_null (lsp_library_lookup (fixture->library, "beta"));

  /* The revision survives a restart. */
  open_library (fixture);
  g_assert_cmpuint (lsp_library_get_rev (fixture->library), ==, rev + 2);
}

static void
test_monitor_gating (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  LspLocalGame *alpha;
  guint scans_before;

  lsp_test_make_game (fixture->games, "alpha", "1", 1000);
  lsp_test_make_game (fixture->games, "beta", "1", 1000);
  open_library (fixture);
  lsp_library_watch (fixture->library);
  alpha = lsp_library_lookup (fixture->library, "alpha");

  /* During an operation, events for its game are dropped. */
  g_assert_true (lsp_library_begin_operation (fixture->library, "alpha", &error));
  g_assert_no_error (error);
  g_assert_true (lsp_local_game_get_busy (alpha));
  g_assert_false (lsp_library_begin_operation (fixture->library, "alpha", &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  scans_before = lsp_library_get_n_scans (fixture->library);
  {
    g_autofree char *extra = game_path (fixture, "alpha", "alpha-part2.eti");
    lsp_test_write_random_file (extra, 500, 3);
  }
  lsp_test_wait_idle (fixture->library);
  g_assert_cmpuint (lsp_library_get_n_events_dropped (fixture->library), >, 0);
  g_assert_cmpuint (lsp_library_get_n_scans (fixture->library), ==, scans_before);
  g_assert_cmpuint (lsp_local_game_get_size (alpha), ==, 1000);

  /* Its end rescans the game. */
  lsp_library_end_operation (fixture->library, "alpha");
  g_assert_false (lsp_local_game_get_busy (alpha));
  lsp_test_wait_idle (fixture->library);
  g_assert_cmpuint (lsp_local_game_get_size (alpha), ==, 1500);

  /* A burst of events costs a bounded number of scans, and the last one
   * sees the final state. */
  scans_before = lsp_library_get_n_scans (fixture->library);
  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *name = g_strdup_printf ("part%03u.eti", i);
      g_autofree char *path = game_path (fixture, "beta", name);
      lsp_test_write_file (path, "x", 1);
    }
  lsp_test_wait_idle (fixture->library);
  g_test_message ("200 files caused %u scans", lsp_library_get_n_scans (fixture->library) - scans_before);
  g_assert_cmpuint (lsp_library_get_n_scans (fixture->library) - scans_before, >=, 1);
  g_assert_cmpuint (lsp_library_get_n_scans (fixture->library) - scans_before, <=, 10);
  g_assert_cmpuint (lsp_local_game_get_size (lsp_library_lookup (fixture->library, "beta")), ==, 1200);

  /* A new game folder appears by itself. */
  lsp_test_make_game (fixture->games, "gamma", "3", 100);
  lsp_test_wait_idle (fixture->library);
  g_assert_nonnull (lsp_library_lookup (fixture->library, "gamma"));
  g_assert_true (lsp_local_game_get_downloaded (lsp_library_lookup (fixture->library, "gamma")));
}

static void
test_corrupt_index (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autofree char *index = g_build_filename (fixture->games, ".lanspread", "index.json", NULL);
  static const char * const corruptions[] = {
    "this is not json",
    "{\"format\": 99, \"library_rev\": 1, \"games\": []}",
    "{\"format\": 1, \"library_rev\": -5, \"games\": []}",
    "{\"format\": 1, \"library_rev\": 3, \"games\": [{\"id\": \"../x\"}]}",
    "{\"format\": 1, \"library_rev\": 3, \"games\": [{\"id\": \"alpha\", \"fingerprint\": 7}]}",
  };

  lsp_test_make_game (fixture->games, "alpha", "1", 1000);
  open_library (fixture);

  for (guint i = 0; i < G_N_ELEMENTS (corruptions); i++)
    {
      g_autoptr(JsonNode) rewritten = NULL;
      g_autofree char *text = NULL;

      lsp_test_write_file (index, corruptions[i], -1);
      g_test_expect_message ("lsp-library", G_LOG_LEVEL_WARNING, "Rebuilding the library index*");
      open_library (fixture);
      g_test_assert_expected_messages ();

      g_assert_cmpuint (lsp_library_get_n_games_hashed (fixture->library), ==, 1);
      g_assert_true (lsp_local_game_get_downloaded (lsp_library_lookup (fixture->library, "alpha")));
      g_assert_true (g_file_get_contents (index, &text, NULL, NULL));
      rewritten = json_from_string (text, NULL);
      g_assert_nonnull (rewritten);
    }
}

static void
test_symlinks_and_odd_entries (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autofree char *outside = lsp_test_make_temp_dir ();
  g_autofree char *outside_file = g_build_filename (outside, "secret", NULL);
  g_autofree char *alpha_link = game_path (fixture, "alpha", "secret.eti");
  g_autofree char *beta_root = g_build_filename (fixture->games, "beta", NULL);
  g_autofree char *gamma_version = game_path (fixture, "gamma", "version.ini");
  g_autofree char *delta_version = game_path (fixture, "delta", "version.ini");
  g_autofree char *outside_game = g_build_filename (outside, "beta", NULL);
  LspLocalGame *game;

  lsp_test_write_file (outside_file, "do not share", -1);
  lsp_test_make_game (fixture->games, "alpha", "1", 100);
  g_assert_cmpint (symlink (outside_file, alpha_link), ==, 0);          /* a link out of the game */
  lsp_test_make_game (outside, "beta", "1", 100);
  g_assert_cmpint (symlink (outside_game, beta_root), ==, 0);            /* a game root that is a link */
  lsp_test_make_game (fixture->games, "gamma", NULL, 100);
  g_assert_cmpint (symlink (outside_file, gamma_version), ==, 0);        /* a sentinel that is a link */
  lsp_test_make_game (fixture->games, "delta", NULL, 100);
  lsp_test_write_file (delta_version, "line one\nline two\n", -1);       /* a sentinel that is not a version */

  open_library (fixture);

  game = lsp_library_lookup (fixture->library, "alpha");
  g_assert_true (lsp_local_game_get_downloaded (game));
  g_assert_cmpuint (lsp_local_game_get_size (game), ==, 100);
  g_assert_null (lsp_library_lookup (fixture->library, "beta"));
  g_assert_false (lsp_local_game_get_downloaded (lsp_library_lookup (fixture->library, "gamma")));
  game = lsp_library_lookup (fixture->library, "delta");
  g_assert_false (lsp_local_game_get_downloaded (game));
  g_assert_nonnull (lsp_local_game_get_error (game));
  g_assert_nonnull (strstr (lsp_local_game_get_error (game), "version.ini"));

  lsp_test_remove_tree (outside);
}

static void
test_unreadable_game (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autofree char *fifo = game_path (fixture, "alpha", "stuck.eti");
  g_autofree char *dir_as_file = game_path (fixture, "beta", "data.eti");

  /* A payload entry we cannot read does not stop the other games. A FIFO
   * would block a naive reader forever; a folder named like an archive must
   * be walked, not read. Both work even when the tests run as root. */
  lsp_test_make_game (fixture->games, "alpha", "1", 100);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  lsp_test_make_game (fixture->games, "beta", "1", 100);
  g_assert_cmpint (g_mkdir_with_parents (dir_as_file, 0755), ==, 0);
  lsp_test_make_game (fixture->games, "gamma", "1", 100);

  if (geteuid () != 0)
    {
      g_autofree char *locked = g_build_filename (fixture->games, "delta", NULL);
      lsp_test_make_game (fixture->games, "delta", "1", 100);
      g_assert_cmpint (chmod (locked, 0), ==, 0);
    }

  open_library (fixture);
  g_assert_true (lsp_local_game_get_downloaded (lsp_library_lookup (fixture->library, "alpha")));
  g_assert_cmpuint (lsp_local_game_get_size (lsp_library_lookup (fixture->library, "alpha")), ==, 100);
  g_assert_true (lsp_local_game_get_downloaded (lsp_library_lookup (fixture->library, "beta")));
  g_assert_true (lsp_local_game_get_downloaded (lsp_library_lookup (fixture->library, "gamma")));

  if (geteuid () != 0)
    {
      g_autofree char *locked = g_build_filename (fixture->games, "delta", NULL);
      LspLocalGame *delta = lsp_library_lookup (fixture->library, "delta");

      g_assert_nonnull (delta);
      g_assert_false (lsp_local_game_get_downloaded (delta));
      g_assert_nonnull (lsp_local_game_get_error (delta));
      g_assert_cmpint (chmod (locked, 0755), ==, 0);
    }
}

static void
test_recover_transients (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autofree char *tmp = game_path (fixture, "alpha", LSP_VERSION_TMP_FILE);
  g_autofree char *discarded = game_path (fixture, "alpha", LSP_VERSION_DISCARDED_FILE);
  g_autofree char *save = game_path (fixture, "alpha", "local/save.dat");

  lsp_test_make_game (fixture->games, "alpha", NULL, 100);
  lsp_test_write_file (tmp, "2", -1);
  lsp_test_write_file (discarded, "1", -1);
  lsp_test_write_file (save, "mine", -1);

  open_library (fixture);
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (discarded, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (save, G_FILE_TEST_EXISTS));
  g_assert_false (lsp_local_game_get_downloaded (lsp_library_lookup (fixture->library, "alpha")));
  g_assert_true (lsp_local_game_get_installed (lsp_library_lookup (fixture->library, "alpha")));
}

static void
on_load_failed (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  GError **error = user_data;

  g_assert_false (lsp_library_load_finish (LSP_LIBRARY (object), result, error));
}

static void
test_missing_folder (void)
{
  g_autoptr(LspCatalog) catalog = lsp_test_catalog_new (catalog_ids);
  g_autoptr(GFile) dir = g_file_new_for_path ("/nonexistent/lanspread-games");
  g_autoptr(LspLibrary) library = lsp_library_new (dir, catalog);
  g_autoptr(GError) error = NULL;

  g_test_expect_message ("lsp-library", G_LOG_LEVEL_WARNING, "Library scan failed*");
  lsp_library_load_async (library, NULL, on_load_failed, &error);
  while (error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_test_assert_expected_messages ();

  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "/nonexistent/lanspread-games"));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (library)), ==, 0);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/peer/library/scan-states", test_states);
  ADD ("/peer/library/reserved-and-local-not-hashed", test_reserved_and_local_not_hashed);
  ADD ("/peer/library/fingerprint-cache", test_fingerprint_cache);
  ADD ("/peer/library/rev", test_rev);
  ADD ("/peer/library/monitor-gating", test_monitor_gating);
  ADD ("/peer/library/corrupt-index", test_corrupt_index);
  ADD ("/peer/library/symlinks-and-odd-entries", test_symlinks_and_odd_entries);
  ADD ("/peer/library/unreadable-entries", test_unreadable_game);
  ADD ("/peer/library/recover-transients", test_recover_transients);
#undef ADD
  g_test_add_func ("/peer/library/missing-folder", test_missing_folder);

  return g_test_run ();
}
