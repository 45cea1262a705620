#define G_LOG_DOMAIN "lsp-test"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lsp-error.h"
#include "lsp-game-root.h"
#include "lsp-install-recovery.h"
#include "lsp-installer.h"
#include "lsp-launcher.h"
#include "lsp-test-util.h"

#define GAME "game1"

static const char * const game_ids[] = { GAME, NULL };

typedef struct
{
  char         *games;
  char         *root;
  LspLibrary   *library;
  LspLauncher  *launcher;
  LspInstaller *installer;
} Fixture;

/* ---- games on disk ---------------------------------------------------- */

static char *
game_path (Fixture    *fixture,
           const char *relative)
{
  return g_build_filename (fixture->root, relative, NULL);
}

static gboolean
exists (Fixture    *fixture,
        const char *relative)
{
  g_autofree char *path = game_path (fixture, relative);
  struct stat st;

  return lstat (path, &st) == 0;
}

static char *
read_game_file (Fixture    *fixture,
                const char *relative)
{
  g_autofree char *path = game_path (fixture, relative);

  return lsp_test_read_file (path);
}

static void
assert_game_file (Fixture    *fixture,
                  const char *relative,
                  const char *expected)
{
  g_autofree char *contents = read_game_file (fixture, relative);

  if (contents == NULL)
    g_error ("%s is missing", relative);
  g_assert_cmpstr (contents, ==, expected);
}

static void
write_game_file (Fixture    *fixture,
                 const char *relative,
                 const char *contents)
{
  g_autofree char *path = game_path (fixture, relative);

  lsp_test_write_file (path, contents, -1);
}

static void
remove_archives (Fixture *fixture)
{
  g_autoptr(GDir) dir = g_dir_open (fixture->root, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      if (g_str_has_suffix (name, ".eti"))
        {
          g_autofree char *path = game_path (fixture, name);
          g_unlink (path);
        }
    }
}

/* Version 1: two archives; b.eti overrides readme.txt of a.eti. */
static void
make_v1 (Fixture    *fixture,
         const char *format)
{
  const LspTestEntry a[] = {
    { "bin/", 'd', NULL, 0 },
    { "bin/" GAME, 'f', "#!/bin/sh\nexit 0\n", 0755 },
    { "data/level1.dat", 'f', "level one", 0 },
    { "config.ini", 'f', "volume=5\n", 0 },
    { "readme.txt", 'f', "from a", 0 },
  };
  const LspTestEntry b[] = {
    { "readme.txt", 'f', "from b", 0 },
    { "data/level2.dat", 'f', "level two", 0 },
    { "docs/", 'd', NULL, 0 },
    { "current", 'l', "data", 0 },
  };
  g_autofree char *a_path = game_path (fixture, "a.eti");
  g_autofree char *b_path = game_path (fixture, "b.eti");

  remove_archives (fixture);
  lsp_test_write_archive (a_path, format, a, G_N_ELEMENTS (a));
  /* Zip and 7z writers differ in link support; tar carries one. */
  lsp_test_write_archive (b_path, format, b, G_N_ELEMENTS (b) - (strstr (format, "tar") ? 0 : 1));
  write_game_file (fixture, LSP_VERSION_FILE, "1.0");
}

/* Version 2 drops level1, changes level2, adds level3, ships a new config. */
static void
make_v2 (Fixture *fixture)
{
  const LspTestEntry a[] = {
    { "bin/" GAME, 'f', "#!/bin/sh\nexit 0\n# v2\n", 0755 },
    { "data/level2.dat", 'f', "level two, remastered", 0 },
    { "config.ini", 'f', "volume=7\nfullscreen=1\n", 0 },
  };
  const LspTestEntry b[] = {
    { "data/level3.dat", 'f', "level three", 0 },
    { "readme.txt", 'f', "version two", 0 },
    { "current", 'l', "data", 0 },
  };
  g_autofree char *a_path = game_path (fixture, "a.eti");
  g_autofree char *b_path = game_path (fixture, "b.eti");

  remove_archives (fixture);
  lsp_test_write_archive (a_path, "tar", a, G_N_ELEMENTS (a));
  lsp_test_write_archive (b_path, "tar", b, G_N_ELEMENTS (b));
  write_game_file (fixture, LSP_VERSION_FILE, "2.0");
}

static void
assert_v1_installed (Fixture *fixture)
{
  assert_game_file (fixture, "local/bin/" GAME, "#!/bin/sh\nexit 0\n");
  assert_game_file (fixture, "local/data/level1.dat", "level one");
  assert_game_file (fixture, "local/data/level2.dat", "level two");
  assert_game_file (fixture, "local/readme.txt", "from b");
  g_assert_true (exists (fixture, "local/docs"));
  g_assert_true (exists (fixture, "local/" LSP_OWNED_MARKER));
}

static void
assert_v2_installed (Fixture *fixture)
{
  assert_game_file (fixture, "local/bin/" GAME, "#!/bin/sh\nexit 0\n# v2\n");
  assert_game_file (fixture, "local/data/level2.dat", "level two, remastered");
  assert_game_file (fixture, "local/data/level3.dat", "level three");
  assert_game_file (fixture, "local/config.ini", "volume=7\nfullscreen=1\n");
  assert_game_file (fixture, "local/readme.txt", "version two");
  /* Shipped by 1.0, unchanged, gone from 2.0: the game's, so it goes. */
  g_assert_false (exists (fixture, "local/data/level1.dat"));
  /* A link both versions ship is the game's, not a player's copy. */
  assert_game_file (fixture, "local/current/level3.dat", "level three");
  g_assert_false (exists (fixture, "local/current.lanspread-old"));
  g_assert_false (exists (fixture, "local/readme.txt.lanspread-old"));
}

/* What a player does to an installed game between updates. */
static void
add_player_files (Fixture *fixture)
{
  g_autofree char *screenshots = game_path (fixture, "local/screenshots");

  write_game_file (fixture, "local/saves/slot1.sav", "level 2, 99 lives");
  write_game_file (fixture, "local/config.ini", "volume=11\n");
  g_assert_cmpint (g_mkdir (screenshots, 0755), ==, 0);
}

static void
assert_player_files_kept (Fixture  *fixture,
                          gboolean  updated)
{
  assert_game_file (fixture, "local/saves/slot1.sav", "level 2, 99 lives");
  g_assert_true (exists (fixture, "local/screenshots"));
  if (updated)
    assert_game_file (fixture, "local/config.ini" ".lanspread-old", "volume=11\n");
  else
    assert_game_file (fixture, "local/config.ini", "volume=11\n");
}

static void
assert_settled (Fixture *fixture)
{
  g_autofree char *intent = read_game_file (fixture, LSP_INTENT_FILE);

  g_assert_false (exists (fixture, LSP_LOCAL_INSTALLING_DIR));
  g_assert_false (exists (fixture, LSP_LOCAL_BACKUP_DIR));
  g_assert_false (exists (fixture, ".lanspread.json.tmp"));
  if (intent != NULL)
    g_assert_nonnull (strstr (intent, "\"None\""));
}

/* ---- fixture ---------------------------------------------------------- */

static void
fixture_open (Fixture *fixture)
{
  g_autoptr(GFile) dir = g_file_new_for_path (fixture->games);
  g_autoptr(LspCatalog) catalog = lsp_test_catalog_new (game_ids);

  fixture->library = lsp_library_new (dir, catalog);
  lsp_test_load_library (fixture->library);
  fixture->launcher = lsp_launcher_new (fixture->library);
  fixture->installer = lsp_installer_new (fixture->library, fixture->launcher);
}

/* A rescan queued by the last operation must not outlive the folder. */
static void
fixture_close (Fixture *fixture)
{
  if (fixture->library != NULL)
    {
      while (lsp_library_get_scanning (fixture->library))
        g_main_context_iteration (NULL, TRUE);
      g_object_run_dispose (G_OBJECT (fixture->library));
    }
  g_clear_object (&fixture->installer);
  g_clear_object (&fixture->launcher);
  g_clear_object (&fixture->library);
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  fixture->games = lsp_test_make_temp_dir ();
  fixture->root = g_build_filename (fixture->games, GAME, NULL);
  g_assert_cmpint (g_mkdir (fixture->root, 0755), ==, 0);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  fixture_close (fixture);
  lsp_test_remove_tree (fixture->games);
  g_free (fixture->root);
  g_free (fixture->games);
}

typedef struct
{
  gboolean  done;
  GError   *error;
} Wait;

static void
on_operation_done (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Wait *wait = user_data;
  LspInstaller *installer = LSP_INSTALLER (object);

  if (g_task_get_source_tag (G_TASK (result)) == lsp_installer_install_async)
    lsp_installer_install_finish (installer, result, &wait->error);
  else if (g_task_get_source_tag (G_TASK (result)) == lsp_installer_update_async)
    lsp_installer_update_finish (installer, result, &wait->error);
  else
    lsp_installer_uninstall_finish (installer, result, &wait->error);
  wait->done = TRUE;
}

static gboolean
run_operation (Fixture           *fixture,
               LspOperationKind   kind,
               GCancellable      *cancellable,
               GError           **error)
{
  Wait wait = { 0 };

  if (fixture->installer == NULL)
    fixture_open (fixture);

  switch (kind)
    {
    case LSP_OPERATION_INSTALL:
      lsp_installer_install_async (fixture->installer, GAME, cancellable, on_operation_done, &wait);
      break;
    case LSP_OPERATION_UPDATE:
      lsp_installer_update_async (fixture->installer, GAME, cancellable, on_operation_done, &wait);
      break;
    case LSP_OPERATION_UNINSTALL:
      lsp_installer_uninstall_async (fixture->installer, GAME, cancellable, on_operation_done, &wait);
      break;
    case LSP_OPERATION_VERIFY:
    case LSP_OPERATION_REPAIR:
      g_assert_not_reached ();
    }
  while (!wait.done)
    g_main_context_iteration (NULL, TRUE);

  if (wait.error != NULL)
    {
      g_propagate_error (error, wait.error);
      return FALSE;
    }
  return TRUE;
}

static void
run_ok (Fixture          *fixture,
        LspOperationKind  kind)
{
  g_autoptr(GError) error = NULL;

  run_operation (fixture, kind, NULL, &error);
  g_assert_no_error (error);
}

static gboolean
game_installed (gpointer data)
{
  Fixture *fixture = data;
  LspLocalGame *game = lsp_library_lookup (fixture->library, GAME);

  return game != NULL && lsp_local_game_get_installed (game) && !lsp_local_game_get_busy (game);
}

/* ---- transactions ----------------------------------------------------- */

static void
on_operation_started (LspInstaller  *installer,
                      LspOperation  *operation,
                      LspOperation **out)
{
  g_set_object (out, operation);
}

static void
test_install_format (Fixture       *fixture,
                     gconstpointer  data)
{
  const char *format = data;
  g_autoptr(LspOperation) operation = NULL;
  LspLocalGame *game;

  if (!lsp_test_archive_format_supported (format))
    {
      g_test_skip ("this libarchive cannot write the format");
      return;
    }

  make_v1 (fixture, format);
  fixture_open (fixture);
  g_signal_connect (fixture->installer, "operation-started", G_CALLBACK (on_operation_started), &operation);

  run_ok (fixture, LSP_OPERATION_INSTALL);

  assert_v1_installed (fixture);
  assert_game_file (fixture, "local/config.ini", "volume=5\n");
  assert_settled (fixture);
  g_assert_true (g_file_test (fixture->root, G_FILE_TEST_IS_DIR));
  g_assert_true (exists (fixture, "a.eti") && exists (fixture, "b.eti"));

  g_assert_nonnull (operation);
  g_assert_false (lsp_operation_get_active (operation));
  g_assert_cmpint (lsp_operation_get_kind (operation), ==, LSP_OPERATION_INSTALL);
  /* Every byte of every file of both archives, readme.txt twice. */
  g_assert_cmpuint (lsp_operation_get_bytes_done (operation), ==,
                    strlen ("#!/bin/sh\nexit 0\n") + strlen ("level one") + strlen ("volume=5\n") +
                    strlen ("from a") + strlen ("from b") + strlen ("level two"));
  g_assert_cmpuint (lsp_operation_get_entries_done (operation), >=, 7);
  g_assert_null (lsp_installer_lookup_operation (fixture->installer, GAME));

  g_assert_true (lsp_test_wait_until (game_installed, fixture, 20000));
  game = lsp_library_lookup (fixture->library, GAME);
  g_assert_true (lsp_local_game_get_downloaded (game));
  /* Installing touched no payload: the archives were hashed once, at load. */
  g_assert_cmpuint (lsp_library_get_n_games_hashed (fixture->library), ==, 1);
}

/* Archives made by Windows tools may separate folders with backslashes
 * (libarchive already converts them in zip files, not in tar). */
static void
test_install_windows_paths (Fixture       *fixture,
                            gconstpointer  data)
{
  const LspTestEntry entries[] = {
    { "Game\\Data\\level.dat", 'f', "level", 0 },
    { "Game\\game.exe", 'f', "MZ", 0 },
  };
  g_autofree char *path = game_path (fixture, "a.eti");

  lsp_test_write_archive (path, "tar", entries, G_N_ELEMENTS (entries));
  write_game_file (fixture, LSP_VERSION_FILE, "1.0");
  run_ok (fixture, LSP_OPERATION_INSTALL);
  assert_game_file (fixture, "local/Game/Data/level.dat", "level");
  assert_game_file (fixture, "local/Game/game.exe", "MZ");
}

static void
test_install_twice_refused (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  make_v1 (fixture, "tar");
  run_ok (fixture, LSP_OPERATION_INSTALL);
  g_assert_false (run_operation (fixture, LSP_OPERATION_INSTALL, NULL, &error));
  g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT);
  assert_v1_installed (fixture);
  assert_settled (fixture);
}

static void
test_install_not_downloaded (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *version = game_path (fixture, LSP_VERSION_FILE);

  make_v1 (fixture, "tar");
  g_unlink (version);
  g_assert_false (run_operation (fixture, LSP_OPERATION_INSTALL, NULL, &error));
  g_assert_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "download"));
  g_assert_false (exists (fixture, LSP_LOCAL_DIR));
  assert_settled (fixture);
}

static void
test_install_cancel (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;

  make_v1 (fixture, "tar");
  g_cancellable_cancel (cancellable);
  g_assert_false (run_operation (fixture, LSP_OPERATION_INSTALL, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (exists (fixture, LSP_LOCAL_DIR));
  assert_settled (fixture);

  run_ok (fixture, LSP_OPERATION_INSTALL);
  assert_v1_installed (fixture);
}

static void
cancel_at_start (LspInstaller *installer,
                 LspOperation *operation,
                 gpointer      user_data)
{
  lsp_operation_cancel (operation);
}

/* Cancelling one operation through its LspOperation rolls it back and
 * leaves the caller's cancellable alone. */
static void
test_operation_cancel (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(GCancellable) shared = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  gulong handler;

  make_v1 (fixture, "zip");
  fixture_open (fixture);
  handler = g_signal_connect (fixture->installer, "operation-started", G_CALLBACK (cancel_at_start), NULL);
  g_assert_false (run_operation (fixture, LSP_OPERATION_INSTALL, shared, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (g_cancellable_is_cancelled (shared));
  g_assert_false (exists (fixture, LSP_LOCAL_DIR));
  assert_settled (fixture);

  g_signal_handler_disconnect (fixture->installer, handler);
  g_clear_error (&error);
  run_operation (fixture, LSP_OPERATION_INSTALL, shared, &error);
  g_assert_no_error (error);
  assert_v1_installed (fixture);
}

static void
test_update_keeps_player_files (Fixture       *fixture,
                                gconstpointer  data)
{
  make_v1 (fixture, "tar");
  run_ok (fixture, LSP_OPERATION_INSTALL);
  add_player_files (fixture);
  make_v2 (fixture);

  run_ok (fixture, LSP_OPERATION_UPDATE);

  assert_v2_installed (fixture);
  assert_player_files_kept (fixture, TRUE);
  assert_settled (fixture);

  /* The carried-over files are still the player's at the next update. */
  make_v2 (fixture);
  run_ok (fixture, LSP_OPERATION_UPDATE);
  assert_v2_installed (fixture);
  assert_player_files_kept (fixture, TRUE);
  assert_settled (fixture);
}

static void
test_update_failure_restores (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *bad = NULL;

  make_v1 (fixture, "tar");
  run_ok (fixture, LSP_OPERATION_INSTALL);
  add_player_files (fixture);
  make_v2 (fixture);
  bad = game_path (fixture, "c.eti");
  lsp_test_write_file (bad, "this is not an archive", -1);

  g_assert_false (run_operation (fixture, LSP_OPERATION_UPDATE, NULL, &error));
  g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, bad));
  assert_v1_installed (fixture);
  assert_player_files_kept (fixture, FALSE);
  assert_settled (fixture);
}

static void
test_uninstall (Fixture       *fixture,
                gconstpointer  data)
{
  make_v1 (fixture, "zip");
  run_ok (fixture, LSP_OPERATION_INSTALL);
  add_player_files (fixture);

  run_ok (fixture, LSP_OPERATION_UNINSTALL);
  g_assert_false (exists (fixture, LSP_LOCAL_DIR));
  g_assert_true (exists (fixture, "a.eti") && exists (fixture, "b.eti") && exists (fixture, LSP_VERSION_FILE));
  assert_settled (fixture);

  /* Reinstalling needs no network: the archives stayed. */
  run_ok (fixture, LSP_OPERATION_INSTALL);
  assert_v1_installed (fixture);
}

static void
test_operation_lock (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  Wait first = { 0 }, second = { 0 };

  make_v1 (fixture, "tar");
  fixture_open (fixture);
  lsp_installer_install_async (fixture->installer, GAME, NULL, on_operation_done, &first);
  g_assert_true (lsp_library_is_operation_active (fixture->library, GAME));
  g_assert_nonnull (lsp_installer_lookup_operation (fixture->installer, GAME));
  lsp_installer_uninstall_async (fixture->installer, GAME, NULL, on_operation_done, &second);
  while (!first.done || !second.done)
    g_main_context_iteration (NULL, TRUE);

  g_assert_no_error (first.error);
  g_assert_error (second.error, LSP_ERROR, LSP_ERROR_BUSY);
  g_clear_error (&second.error);
  g_assert_false (lsp_library_is_operation_active (fixture->library, GAME));
  assert_v1_installed (fixture);
}

/* ---- archive safety --------------------------------------------------- */

typedef struct
{
  const char   *name;
  LspTestEntry  entries[3];
  guint         n_entries;
  const char   *message;
} EvilCase;

static const EvilCase evil_cases[] = {
  { "zip-slip", { { "../../escaped.txt", 'f', "pwned", 0 } }, 1, "leaves the game folder" },
  { "absolute", { { "/tmp/lanspread-escaped.txt", 'f', "pwned", 0 } }, 1, "absolute" },
  { "symlink-out", { { "evil", 'l', "../../../", 0 } }, 1, "symbolic link" },
  { "symlink-absolute", { { "evil", 'l', "/etc", 0 } }, 1, "symbolic link" },
  { "symlink-chain", { { "here", 'l', ".", 0 }, { "up", 'l', "here/..", 0 } }, 2, "leads outside" },
  /* Dangles in .local.installing/, leads to the games folder from local/. */
  { "link-through-local", { { "d", 'l', ".", 0 }, { "x", 'l', "d/../local/d/../..", 0 } }, 2, "leads outside" },
  { "write-through-link", { { "inside", 'd', NULL, 0 }, { "l", 'l', "inside", 0 }, { "l/file", 'f', "x", 0 } }, 3, "not a folder" },
  { "hardlink-out", { { "evil", 'h', "../../escaped.txt", 0 } }, 1, "hard link" },
  { "device", { { "null", 'c', NULL, 0 } }, 1, "device node" },
  { "fifo", { { "pipe", 'p', NULL, 0 } }, 1, "FIFO" },
  { "setuid", { { "root-shell", 'f', "#!/bin/sh\n", 04755 } }, 1, "setuid" },
  { "marker", { { LSP_OWNED_MARKER, 'f', "fake", 0 } }, 1, "reserved" },
};

static void
test_reject (Fixture       *fixture,
             gconstpointer  data)
{
  const EvilCase *evil = data;
  const LspTestEntry good[] = { { "good.txt", 'f', "fine", 0 } };
  g_autoptr(GError) error = NULL;
  g_autofree char *good_path = game_path (fixture, "a.eti");
  g_autofree char *evil_path = game_path (fixture, "b.eti");
  g_autofree char *escaped = g_build_filename (fixture->games, "escaped.txt", NULL);
  g_autofree char *escaped_root = g_build_filename (fixture->root, "escaped.txt", NULL);

  lsp_test_write_archive (good_path, "tar", good, G_N_ELEMENTS (good));
  lsp_test_write_archive (evil_path, "tar", evil->entries, evil->n_entries);
  write_game_file (fixture, LSP_VERSION_FILE, "1.0");

  g_assert_false (run_operation (fixture, LSP_OPERATION_INSTALL, NULL, &error));
  g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
  if (strstr (error->message, evil->message) == NULL)
    g_error ("“%s” does not mention “%s”", error->message, evil->message);

  g_assert_false (g_file_test (escaped, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (escaped_root, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test ("/tmp/lanspread-escaped.txt", G_FILE_TEST_EXISTS));
  g_assert_false (exists (fixture, LSP_LOCAL_DIR));
  assert_settled (fixture);
}

static void
test_unreadable_archive (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = game_path (fixture, "a.eti");

  lsp_test_write_random_file (path, 4096, 7);
  write_game_file (fixture, LSP_VERSION_FILE, "1.0");

  g_assert_false (run_operation (fixture, LSP_OPERATION_INSTALL, NULL, &error));
  g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_false (exists (fixture, LSP_LOCAL_DIR));
  assert_settled (fixture);
}

/* ---- disk full -------------------------------------------------------- */

static char *
big_text (gsize size)
{
  char *text = g_malloc (size + 1);

  memset (text, 'z', size);
  text[size] = '\0';
  return text;
}

static void
write_big_game (Fixture    *fixture,
                const char *format,
                gsize       file_size,
                guint       n_files)
{
  g_autofree char *text = big_text (file_size);
  g_autofree LspTestEntry *entries = g_new0 (LspTestEntry, n_files);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *path = game_path (fixture, "big.eti");

  for (guint i = 0; i < n_files; i++)
    {
      g_ptr_array_add (names, g_strdup_printf ("data/file%u.bin", i));
      entries[i] = (LspTestEntry) { g_ptr_array_index (names, i), 'f', text, 0 };
    }
  remove_archives (fixture);
  lsp_test_write_archive (path, format, entries, n_files);
  write_game_file (fixture, LSP_VERSION_FILE, "1.0");
}

static void
assert_no_space (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (run_operation (fixture, LSP_OPERATION_INSTALL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (error->message, "space"));
  g_assert_false (exists (fixture, LSP_LOCAL_DIR));
  assert_settled (fixture);
}

/* A small tmpfs as the games folder, where we may mount one (as root): the
 * free-space check refuses a plain tar that cannot fit, and a compressed one
 * (size unknown up front) fails mid-way with ENOSPC. */
static void
test_disk_full (Fixture       *fixture,
                gconstpointer  data)
{
  g_autofree char *mount_point = g_build_filename (fixture->games, "small", NULL);
  char *saved_root = fixture->root;
  char *saved_games = fixture->games;

  g_assert_cmpint (g_mkdir (mount_point, 0755), ==, 0);
  if (mount ("lanspread-test", mount_point, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m") == 0)
    {
      g_autofree char *root = g_build_filename (mount_point, GAME, NULL);

      g_test_message ("using a 4 MiB tmpfs");
      g_assert_cmpint (g_mkdir (root, 0755), ==, 0);
      fixture->games = mount_point;
      fixture->root = root;

      /* Known size (plain tar): refused before anything is written. */
      write_big_game (fixture, "tar", 1024 * 1024, 3);
      assert_no_space (fixture);
      fixture_close (fixture);

      /* Unknown size (compressed): fails mid-way and rolls back. */
      write_big_game (fixture, "tar.gz", 1024 * 1024, 8);
      assert_no_space (fixture);

      /* With room again, the same game installs. */
      write_big_game (fixture, "tar.gz", 1024 * 1024, 2);
      run_ok (fixture, LSP_OPERATION_INSTALL);
      {
        g_autofree char *expected = big_text (1024 * 1024);
        assert_game_file (fixture, "local/data/file1.bin", expected);
      }

      fixture_close (fixture);
      fixture->games = saved_games;
      fixture->root = saved_root;
      g_assert_cmpint (umount2 (mount_point, MNT_DETACH), ==, 0);
    }
  else
    {
      g_test_skip_printf ("cannot mount a tmpfs (%s); /install/disk-full/rlimit covers a full disk",
                          g_strerror (errno));
    }
}

/* RLIMIT_FSIZE binds root too, so this path runs everywhere: the first
 * write past the limit fails with EFBIG, mid-extraction. */
static void
test_disk_full_rlimit (Fixture       *fixture,
                       gconstpointer  data)
{
  struct rlimit saved, limit;

  write_big_game (fixture, "tar", 1024 * 1024, 3);
  fixture_open (fixture);
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  signal (SIGXFSZ, SIG_IGN);
  limit = saved;
  limit.rlim_cur = 512 * 1024;
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
  assert_no_space (fixture);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);

  run_ok (fixture, LSP_OPERATION_INSTALL);
  g_assert_true (exists (fixture, "local/data/file2.bin"));
}

/* An update that runs out of space puts the previous install back, with
 * the player's files. */
static void
test_update_disk_full (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  struct rlimit saved, limit;

  make_v1 (fixture, "tar");
  run_ok (fixture, LSP_OPERATION_INSTALL);
  add_player_files (fixture);
  write_big_game (fixture, "tar", 1024 * 1024, 3);

  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  signal (SIGXFSZ, SIG_IGN);
  limit = saved;
  limit.rlim_cur = 512 * 1024;
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
  g_assert_false (run_operation (fixture, LSP_OPERATION_UPDATE, NULL, &error));
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);

  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  assert_v1_installed (fixture);
  assert_player_files_kept (fixture, FALSE);
  assert_settled (fixture);
}

/* ---- recovery --------------------------------------------------------- */

static void
recover (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (lsp_install_recover_games_folder (fixture->games, NULL, &error));
  g_assert_no_error (error);
}

static void
test_recovery_markerless_left_alone (Fixture       *fixture,
                                     gconstpointer  data)
{
  write_game_file (fixture, LSP_LOCAL_INSTALLING_DIR "/someone-elses.txt", "mine");
  write_game_file (fixture, LSP_LOCAL_BACKUP_DIR "/someone-elses.txt", "mine too");
  write_game_file (fixture, LSP_INTENT_FILE, "{\"intent\": \"None\"}");

  recover (fixture);
  assert_game_file (fixture, LSP_LOCAL_INSTALLING_DIR "/someone-elses.txt", "mine");
  assert_game_file (fixture, LSP_LOCAL_BACKUP_DIR "/someone-elses.txt", "mine too");

  /* No intent log at all is None too. */
  {
    g_autofree char *intent = game_path (fixture, LSP_INTENT_FILE);
    g_unlink (intent);
  }
  recover (fixture);
  assert_game_file (fixture, LSP_LOCAL_INSTALLING_DIR "/someone-elses.txt", "mine");
  g_assert_false (exists (fixture, LSP_LOCAL_DIR));
}

static void
test_recovery_owned_with_intent_none (Fixture       *fixture,
                                      gconstpointer  data)
{
  write_game_file (fixture, LSP_LOCAL_INSTALLING_DIR "/" LSP_OWNED_MARKER, "lanspread-owned 1\n");
  write_game_file (fixture, LSP_LOCAL_INSTALLING_DIR "/half.dat", "half");
  write_game_file (fixture, LSP_LOCAL_BACKUP_DIR "/" LSP_OWNED_MARKER, "lanspread-owned 1\n");
  write_game_file (fixture, LSP_LOCAL_BACKUP_DIR "/saves/slot1.sav", "precious");

  recover (fixture);
  g_assert_false (exists (fixture, LSP_LOCAL_INSTALLING_DIR));
  g_assert_false (exists (fixture, LSP_LOCAL_BACKUP_DIR));
  assert_game_file (fixture, "local/saves/slot1.sav", "precious");
}

static void
test_recovery_intent_proves_ownership (Fixture       *fixture,
                                       gconstpointer  data)
{
  write_game_file (fixture, LSP_INTENT_FILE, "{\"id\": \"" GAME "\", \"intent\": \"Installing\"}");
  write_game_file (fixture, LSP_LOCAL_INSTALLING_DIR "/half.dat", "half");
  write_game_file (fixture, ".lanspread.json.tmp", "{");

  recover (fixture);
  g_assert_false (exists (fixture, LSP_LOCAL_DIR));
  assert_settled (fixture);
}

static void
test_recovery_corrupt_intent (Fixture       *fixture,
                              gconstpointer  data)
{
  write_game_file (fixture, LSP_INTENT_FILE, "{\"intent\": \"Exploding\"}");
  write_game_file (fixture, LSP_LOCAL_INSTALLING_DIR "/half.dat", "half");

  g_test_expect_message ("lsp-install-recovery", G_LOG_LEVEL_WARNING, "*unknown intent*");
  recover (fixture);
  g_test_assert_expected_messages ();
  /* A broken log proves nothing: the markerless folder stays. */
  assert_game_file (fixture, LSP_LOCAL_INSTALLING_DIR "/half.dat", "half");
}

/* ---- crash injection -------------------------------------------------- */

typedef struct
{
  LspOperationKind  kind;
  const char       *step;
} CrashCase;

static const CrashCase crash_cases[] = {
  { LSP_OPERATION_INSTALL, "install:after-intent" },
  { LSP_OPERATION_INSTALL, "install:after-staging" },
  { LSP_OPERATION_INSTALL, "install:mid-extract" },
  { LSP_OPERATION_INSTALL, "install:after-extract" },
  { LSP_OPERATION_INSTALL, "install:after-rename" },
  { LSP_OPERATION_UPDATE, "update:after-intent" },
  { LSP_OPERATION_UPDATE, "update:after-backup" },
  { LSP_OPERATION_UPDATE, "update:after-staging" },
  { LSP_OPERATION_UPDATE, "update:mid-extract" },
  { LSP_OPERATION_UPDATE, "update:after-extract" },
  { LSP_OPERATION_UPDATE, "update:after-carry" },
  { LSP_OPERATION_UPDATE, "update:after-swap" },
  { LSP_OPERATION_UPDATE, "update:after-remove-backup" },
  { LSP_OPERATION_UNINSTALL, "uninstall:after-intent" },
  { LSP_OPERATION_UNINSTALL, "uninstall:after-backup" },
  { LSP_OPERATION_UNINSTALL, "uninstall:mid-delete" },
  { LSP_OPERATION_UNINSTALL, "uninstall:after-delete" },
};

static void
prepare_crash_case (Fixture          *fixture,
                    LspOperationKind  kind)
{
  make_v1 (fixture, "tar");
  if (kind == LSP_OPERATION_INSTALL)
    return;

  run_ok (fixture, LSP_OPERATION_INSTALL);
  fixture_close (fixture);
  add_player_files (fixture);
  if (kind == LSP_OPERATION_UPDATE)
    make_v2 (fixture);
}

/* Runs the operation in a child process that aborts at the step, then
 * recovers in this one: the game must be consistent (old or new state, never
 * half) and no player file may be lost. */
static void
test_crash (Fixture       *fixture,
            gconstpointer  data)
{
  const CrashCase *crash = data;
  g_autofree char *pattern = g_strdup_printf ("*crash injected at %s*", crash->step);
  gboolean installed;

  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      char *own_games = fixture->games;
      char *own_root = fixture->root;

      fixture->games = g_strdup (g_getenv ("LSP_TEST_GAMES"));
      fixture->root = g_build_filename (fixture->games, GAME, NULL);
      run_operation (fixture, crash->kind, NULL, &error);
      g_printerr ("the operation did not crash: %s\n", error ? error->message : "it succeeded");
      fixture_close (fixture);
      g_free (fixture->games);
      g_free (fixture->root);
      fixture->games = own_games;
      fixture->root = own_root;
      return;
    }

  prepare_crash_case (fixture, crash->kind);

  g_setenv ("LANSPREAD_CRASH_AT", crash->step, TRUE);
  g_setenv ("LSP_TEST_GAMES", fixture->games, TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_unsetenv ("LANSPREAD_CRASH_AT");
  g_unsetenv ("LSP_TEST_GAMES");
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr (pattern);

  recover (fixture);
  assert_settled (fixture);
  installed = exists (fixture, LSP_LOCAL_DIR);

  switch (crash->kind)
    {
    case LSP_OPERATION_INSTALL:
      if (installed)
        assert_v1_installed (fixture);
      else
        run_ok (fixture, LSP_OPERATION_INSTALL);
      assert_v1_installed (fixture);
      break;

    case LSP_OPERATION_UPDATE:
      g_assert_true (installed);
      if (exists (fixture, "local/data/level3.dat"))
        {
          assert_v2_installed (fixture);
          assert_player_files_kept (fixture, TRUE);
        }
      else
        {
          assert_v1_installed (fixture);
          assert_player_files_kept (fixture, FALSE);
          run_ok (fixture, LSP_OPERATION_UPDATE);
          assert_v2_installed (fixture);
          assert_player_files_kept (fixture, TRUE);
        }
      break;

    case LSP_OPERATION_UNINSTALL:
      if (installed)
        {
          assert_v1_installed (fixture);
          assert_player_files_kept (fixture, FALSE);
          run_ok (fixture, LSP_OPERATION_UNINSTALL);
        }
      g_assert_false (exists (fixture, LSP_LOCAL_DIR));
      g_assert_true (exists (fixture, "a.eti"));
      break;

    case LSP_OPERATION_VERIFY:
    case LSP_OPERATION_REPAIR:
      g_assert_not_reached ();
    }
  assert_settled (fixture);
}

/* ---- play ------------------------------------------------------------- */

typedef struct
{
  GPtrArray *started;
  int        exit_code;
  int        term_signal;
  gboolean   exited;
} PlayLog;

static void
on_started (LspLauncher *launcher,
            const char  *game_id,
            PlayLog     *log)
{
  g_ptr_array_add (log->started, g_strdup (game_id));
}

static void
on_exited (LspLauncher *launcher,
           const char  *game_id,
           int          exit_code,
           int          term_signal,
           PlayLog     *log)
{
  g_assert_cmpstr (game_id, ==, GAME);
  log->exit_code = exit_code;
  log->term_signal = term_signal;
  log->exited = TRUE;
}

static gboolean
play_exited (gpointer data)
{
  return ((PlayLog *) data)->exited;
}

static void
install_game_program (Fixture    *fixture,
                      const char *script)
{
  const LspTestEntry entries[] = {
    { "bin/" GAME, 'f', script, 0755 },
  };
  g_autofree char *path = game_path (fixture, "a.eti");

  lsp_test_write_archive (path, "tar", entries, G_N_ELEMENTS (entries));
  write_game_file (fixture, LSP_VERSION_FILE, "1.0");
  run_ok (fixture, LSP_OPERATION_INSTALL);
  g_assert_true (lsp_test_wait_until (game_installed, fixture, 20000));
}

static void
connect_log (Fixture *fixture,
             PlayLog *log)
{
  log->started = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (fixture->launcher, "started", G_CALLBACK (on_started), log);
  g_signal_connect (fixture->launcher, "exited", G_CALLBACK (on_exited), log);
}

static void
test_play_exit_status (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  PlayLog log = { 0 };

  /* The game runs in local/ and leaves a trace there. */
  install_game_program (fixture, "#!/bin/sh\necho \"$LANSPREAD_GAME_ID\" > played.txt\nexit 3\n");
  connect_log (fixture, &log);

  g_assert_true (lsp_launcher_play (fixture->launcher, GAME, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (log.started->len, ==, 1);
  g_assert_true (lsp_test_wait_until (play_exited, &log, 20000));
  g_assert_cmpint (log.exit_code, ==, 3);
  g_assert_cmpint (log.term_signal, ==, 0);
  g_assert_false (lsp_launcher_is_running (fixture->launcher, GAME));
  assert_game_file (fixture, "local/played.txt", GAME "\n");
  g_ptr_array_unref (log.started);
}

static void
test_play_stop_and_block (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  PlayLog log = { 0 };

  install_game_program (fixture, "#!/bin/sh\nsleep 60 &\nwait\n");
  connect_log (fixture, &log);

  g_assert_true (lsp_launcher_play (fixture->launcher, GAME, &error));
  g_assert_true (lsp_launcher_is_running (fixture->launcher, GAME));

  g_assert_false (lsp_launcher_play (fixture->launcher, GAME, &error));
  g_assert_error (error, LSP_ERROR, LSP_ERROR_BUSY);
  g_clear_error (&error);

  g_assert_false (run_operation (fixture, LSP_OPERATION_UNINSTALL, NULL, &error));
  g_assert_error (error, LSP_ERROR, LSP_ERROR_BUSY);
  g_assert_nonnull (strstr (error->message, "running"));
  g_clear_error (&error);
  g_assert_true (exists (fixture, LSP_LOCAL_DIR));

  g_assert_true (lsp_launcher_stop (fixture->launcher, GAME, &error));
  g_assert_true (lsp_test_wait_until (play_exited, &log, 20000));
  g_assert_cmpint (log.term_signal, ==, SIGTERM);

  run_ok (fixture, LSP_OPERATION_UNINSTALL);
  g_ptr_array_unref (log.started);
}

static void
test_play_errors (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  const LspTestEntry entries[] = { { "bin/other", 'f', "#!/bin/sh\n", 0755 } };
  g_autofree char *path = game_path (fixture, "a.eti");
  const char *json = "{\"games\": [{\"id\": \"win\", \"name\": \"Win\", \"launch\": \"Game.exe -windowed\"}]}";
  g_autoptr(LspCatalog) catalog = NULL;
  g_autoptr(LspLibrary) library = NULL;
  g_autoptr(LspLauncher) launcher = NULL;
  g_autoptr(GFile) dir = NULL;
  g_autofree char *saved_path = g_strdup (g_getenv ("PATH"));
  g_autofree char *win_exe = g_build_filename (fixture->games, "win", "local", "Game.exe", NULL);

  /* Not installed. */
  fixture_open (fixture);
  g_assert_false (lsp_launcher_play (fixture->launcher, GAME, &error));
  g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Installed, but the catalog's program is not in the archive. */
  lsp_test_write_archive (path, "tar", entries, G_N_ELEMENTS (entries));
  write_game_file (fixture, LSP_VERSION_FILE, "1.0");
  run_ok (fixture, LSP_OPERATION_INSTALL);
  g_assert_true (lsp_test_wait_until (game_installed, fixture, 20000));
  g_assert_false (lsp_launcher_play (fixture->launcher, GAME, &error));
  g_assert_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "missing"));
  g_clear_error (&error);

  /* A Windows game with no wine on PATH says so. */
  lsp_test_write_file (win_exe, "MZ", -1);
  catalog = lsp_catalog_new_from_data (json, strlen (json), "test", &error);
  g_assert_no_error (error);
  dir = g_file_new_for_path (fixture->games);
  library = lsp_library_new (dir, catalog);
  lsp_test_load_library (library);
  launcher = lsp_launcher_new (library);
  g_setenv ("PATH", "/nonexistent", TRUE);
  lsp_launcher_play (launcher, "win", &error);
  g_setenv ("PATH", saved_path, TRUE);
  g_assert_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "wine"));
}

int
main (int    argc,
      char **argv)
{
  struct rlimit no_core = { 0, 0 };
  static const char * const formats[] = { "tar", "tar.zst", "zip", "7z" };

  /* Crash tests abort children on purpose: no core files. */
  setrlimit (RLIMIT_CORE, &no_core);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, data, func) \
  g_test_add (path, Fixture, data, fixture_setup, func, fixture_teardown)

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      g_autofree char *path = g_strdup_printf ("/install/install/%s", formats[i]);
      ADD (path, formats[i], test_install_format);
    }
  ADD ("/install/install/windows-paths", NULL, test_install_windows_paths);
  ADD ("/install/install/twice-refused", NULL, test_install_twice_refused);
  ADD ("/install/install/not-downloaded", NULL, test_install_not_downloaded);
  ADD ("/install/install/cancel", NULL, test_install_cancel);
  ADD ("/install/install/cancel-operation", NULL, test_operation_cancel);
  ADD ("/install/install/operation-lock", NULL, test_operation_lock);
  ADD ("/install/update/player-files", NULL, test_update_keeps_player_files);
  ADD ("/install/update/failure-restores", NULL, test_update_failure_restores);
  ADD ("/install/uninstall/keeps-archives", NULL, test_uninstall);
  for (guint i = 0; i < G_N_ELEMENTS (evil_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/install/reject/%s", evil_cases[i].name);
      ADD (path, &evil_cases[i], test_reject);
    }
  ADD ("/install/reject/unreadable", NULL, test_unreadable_archive);
  ADD ("/install/disk-full/tmpfs", NULL, test_disk_full);
  ADD ("/install/disk-full/rlimit", NULL, test_disk_full_rlimit);
  ADD ("/install/disk-full/update", NULL, test_update_disk_full);
  ADD ("/install/recovery/markerless-left-alone", NULL, test_recovery_markerless_left_alone);
  ADD ("/install/recovery/owned-with-intent-none", NULL, test_recovery_owned_with_intent_none);
  ADD ("/install/recovery/intent-proves-ownership", NULL, test_recovery_intent_proves_ownership);
  ADD ("/install/recovery/corrupt-intent", NULL, test_recovery_corrupt_intent);
  for (guint i = 0; i < G_N_ELEMENTS (crash_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/install/crash/%s", crash_cases[i].step);
      g_strdelimit (path + strlen ("/install/crash/"), ":", '/');
      ADD (path, &crash_cases[i], test_crash);
    }
  ADD ("/play/exit-status", NULL, test_play_exit_status);
  ADD ("/play/stop-and-block", NULL, test_play_stop_and_block);
  ADD ("/play/errors", NULL, test_play_errors);

  return g_test_run ();
}
