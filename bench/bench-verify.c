/* bench-verify: verifying an installed game (every shipped file hashed
 * against its install record), against `sha256sum` over the same files in
 * the same run.
 *
 * The game is installed with LspInstaller from a generated multi-file
 * archive; its archive and version.ini are then removed, so the verify
 * reads exactly the installed files. Rounds alternate between the two,
 * both with the files in the page cache; the best round of each is
 * compared. */
#include "config.h"

#include "bench-archive.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lsp-fs.h"
#include "lsp-installer.h"

#define SIZE_MIB_DEFAULT 1024
#define ROUNDS           5
#define CATALOG          "{\"games\": [{\"id\": \"game\", \"name\": \"Game\", \"launch\": \"bin/game\"}]}"


typedef struct
{
  gboolean         done;
  LspVerifyReport *report;
  GError          *error;
} Wait;

static void
on_done (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  Wait *wait = user_data;
  gpointer tag = g_task_get_source_tag (G_TASK (result));

  if (tag == lsp_installer_install_async)
    lsp_installer_install_finish (LSP_INSTALLER (object), result, &wait->error);
  else if (tag == lsp_installer_verify_async)
    wait->report = lsp_installer_verify_finish (LSP_INSTALLER (object), result, &wait->error);
  else
    lsp_library_refresh_finish (LSP_LIBRARY (object), result, &wait->error);
  wait->done = TRUE;
}

static void
wait_for (Wait *wait)
{
  while (!wait->done)
    g_main_context_iteration (NULL, TRUE);
  if (wait->error != NULL)
    g_error ("%s", wait->error->message);
}

static double
time_ours (LspInstaller *installer,
           guint64      *out_bytes)
{
  Wait wait = { 0 };
  gint64 start = g_get_monotonic_time ();

  lsp_installer_verify_async (installer, "game", NULL, on_done, &wait);
  wait_for (&wait);
  if (wait.report->installed != LSP_VERIFY_SOUND || wait.report->payload != LSP_VERIFY_NOT_CHECKED)
    g_error ("The verify did not find the installed game sound, and only it");
  *out_bytes = wait.report->bytes_checked;
  lsp_verify_report_unref (wait.report);
  return (g_get_monotonic_time () - start) / 1e6;
}

static double
time_sha256sum (const char *local)
{
  const char *argv[] = { "sh", "-c", "find . -type f ! -name .lanspread_owned -print0 | xargs -0 sha256sum >/dev/null",
                         NULL };
  g_autoptr(GError) error = NULL;
  int status;
  gint64 start = g_get_monotonic_time ();

  if (!g_spawn_sync (local, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, &error) ||
      !g_spawn_check_wait_status (status, &error))
    g_error ("sha256sum failed: %s", error->message);
  return (g_get_monotonic_time () - start) / 1e6;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspCatalog) catalog = NULL;
  g_autoptr(LspLibrary) library = NULL;
  g_autoptr(LspInstaller) installer = NULL;
  g_autoptr(GFile) games_dir = NULL;
  g_autofree char *games = NULL, *root = NULL, *archive = NULL, *version = NULL, *local = NULL;
  guint64 size_mib = argc > 2 ? g_ascii_strtoull (argv[2], NULL, 10) : SIZE_MIB_DEFAULT;
  double best_ours = G_MAXDOUBLE, best_theirs = G_MAXDOUBLE;
  guint64 bytes = 0;
  Wait wait = { 0 };
  guint n_files;
  int fd;

  if (argc < 2)
    {
      fprintf (stderr, "Usage: bench-verify WORK_DIR [SIZE_MIB]\n");
      return 2;
    }

  games = g_build_filename (argv[1], "games", NULL);
  root = g_build_filename (games, "game", NULL);
  archive = g_build_filename (root, "game.eti", NULL);
  version = g_build_filename (root, "version.ini", NULL);
  local = g_build_filename (root, "local", NULL);
  if (g_mkdir_with_parents (root, 0755) != 0)
    g_error ("Cannot create %s: %s", root, g_strerror (errno));
  n_files = bench_generate_archive (archive, "", size_mib * 1024 * 1024);
  if (!lsp_fs_write_replace (version, "1.0", 3, &error))
    g_error ("%s", error->message);

  catalog = lsp_catalog_new_from_data (CATALOG, strlen (CATALOG), "bench catalog", &error);
  g_assert_no_error (error);
  games_dir = g_file_new_for_path (games);
  library = lsp_library_new (games_dir, catalog);
  lsp_library_load_async (library, NULL, on_done, &wait);
  wait_for (&wait);
  installer = lsp_installer_new (library, NULL);
  wait = (Wait) { 0 };
  lsp_installer_install_async (installer, "game", NULL, on_done, &wait);
  wait_for (&wait);

  /* Only the installed game is left to verify. */
  g_unlink (archive);
  g_unlink (version);
  wait = (Wait) { 0 };
  lsp_library_refresh_async (library, NULL, on_done, &wait);
  wait_for (&wait);
  printf ("installed game: %" G_GUINT64_FORMAT " MiB in %u files\n", size_mib, n_files);

  for (guint round = 0; round < ROUNDS; round++)
    {
      double ours = time_ours (installer, &bytes);
      double theirs = time_sha256sum (local);

      printf ("round %u: lanspread verify %.2f s, sha256sum %.2f s\n", round + 1, ours, theirs);
      best_ours = MIN (best_ours, ours);
      best_theirs = MIN (best_theirs, theirs);
    }

  printf ("lanspread verify: %.2f s (%.0f MiB/s over %" G_GUINT64_FORMAT " MiB)\n", best_ours,
          bytes / 1048576.0 / best_ours, bytes / 1048576);
  printf ("sha256sum:        %.2f s (%.0f MiB/s)\n", best_theirs, bytes / 1048576.0 / best_theirs);
  printf ("ratio: %.2fx sha256sum's throughput\n", best_theirs / best_ours);

  fd = open (argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || !lsp_fs_remove_tree_at (fd, "games", &error))
    g_error ("Cannot clean up %s", games);
  close (fd);
  return 0;
}
