/* bench-scan: library scan of a generated folder of many games.
 *
 * Cold: no index, every game is walked and hashed; compared against
 * coreutils sha256sum over the same bytes in the same run.
 * Warm: a restart with the index in place; only fingerprints are read. */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lsp-fs.h"
#include "lsp-library.h"

#define N_GAMES_DEFAULT   2000
#define GAME_KIB_DEFAULT  512

static void
on_loaded (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!lsp_library_load_finish (LSP_LIBRARY (object), result, &error))
    g_error ("Scan failed: %s", error->message);
  *(gboolean *) user_data = TRUE;
}

static double
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static double
time_scan (GFile      *dir,
           LspCatalog *catalog,
           guint      *out_hashed,
           guint      *out_games)
{
  g_autoptr(LspLibrary) library = lsp_library_new (dir, catalog);
  gboolean done = FALSE;
  gint64 start = g_get_monotonic_time ();

  lsp_library_load_async (library, NULL, on_loaded, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);

  *out_hashed = lsp_library_get_n_games_hashed (library);
  *out_games = g_list_model_get_n_items (G_LIST_MODEL (library));
  return (g_get_monotonic_time () - start) / 1e6;
}

static LspCatalog *
generate (const char *games,
          guint       n_games,
          gsize       game_size)
{
  g_autoptr(GString) json = g_string_new ("{\"games\": [");
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);
  g_autofree guint32 *data = g_malloc (game_size + 4);
  g_autoptr(GError) error = NULL;
  LspCatalog *catalog;

  for (guint i = 0; i < n_games; i++)
    {
      g_autofree char *id = g_strdup_printf ("game-%05u", i);
      g_autofree char *archive = g_strdup_printf ("%s/%s/%s.eti", games, id, id);
      g_autofree char *version = g_strdup_printf ("%s/%s/version.ini", games, id);
      g_autofree char *root = g_build_filename (games, id, NULL);

      g_string_append_printf (json, "%s{\"id\": \"%s\", \"name\": \"Game %u\"}", i ? "," : "", id, i);
      if (g_file_test (version, G_FILE_TEST_EXISTS))
        continue;

      for (gsize w = 0; w < game_size / 4 + 1; w++)
        data[w] = g_rand_int (rand);
      g_mkdir_with_parents (root, 0755);
      if (!g_file_set_contents (archive, (const char *) data, (gssize) game_size, &error) ||
          !g_file_set_contents (version, "1.0", -1, &error))
        g_error ("Cannot generate the bench folder: %s", error->message);
    }
  g_string_append (json, "]}");

  catalog = lsp_catalog_new_from_data (json->str, json->len, "bench catalog", &error);
  g_assert_no_error (error);
  return catalog;
}

static double
time_sha256sum (const char *games)
{
  g_autofree char *command = g_strdup_printf ("find '%s' -name '*.eti' -print0 | xargs -0 sha256sum > /dev/null", games);
  gint64 start = g_get_monotonic_time ();

  if (system (command) != 0)
    g_error ("sha256sum reference failed");
  return (g_get_monotonic_time () - start) / 1e6;
}

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

int
main (int    argc,
      char **argv)
{
  const char *games = argc > 1 ? argv[1] : NULL;
  guint n_games = argc > 2 ? (guint) atoi (argv[2]) : N_GAMES_DEFAULT;
  gsize game_size = (argc > 3 ? (gsize) atoi (argv[3]) : GAME_KIB_DEFAULT) * 1024;
  g_autoptr(LspCatalog) catalog = NULL;
  g_autoptr(GFile) dir = NULL;
  g_autofree char *state = NULL;
  double total_gb, sha_seconds, cold_seconds, warm[5], warm_cpu;
  guint hashed, n;
  int games_fd;

  if (games == NULL)
    {
      fprintf (stderr, "usage: bench-scan DIR [N_GAMES] [KIB_PER_GAME]\n");
      return 2;
    }

  catalog = generate (games, n_games, game_size);
  dir = g_file_new_for_path (games);
  total_gb = (double) n_games * (double) game_size / 1e9;

  /* Both sides read from the page cache: the first pass warms it. */
  time_sha256sum (games);
  sha_seconds = time_sha256sum (games);

  games_fd = open (games, O_RDONLY | O_DIRECTORY);
  lsp_fs_remove_tree_at (games_fd, ".lanspread", NULL);
  close (games_fd);
  cold_seconds = time_scan (dir, catalog, &hashed, &n);
  g_assert_cmpuint (hashed, ==, n_games);
  g_assert_cmpuint (n, ==, n_games);

  warm_cpu = cpu_seconds ();
  for (guint i = 0; i < G_N_ELEMENTS (warm); i++)
    {
      warm[i] = time_scan (dir, catalog, &hashed, &n);
      g_assert_cmpuint (hashed, ==, 0);
    }
  warm_cpu = (cpu_seconds () - warm_cpu) / G_N_ELEMENTS (warm);
  qsort (warm, G_N_ELEMENTS (warm), sizeof warm[0], compare_doubles);

  printf ("scan of %u games, %.2f GB of archives\n", n_games, total_gb);
  printf ("  cold scan (hashing):   %7.3f s  %6.2f GB/s\n", cold_seconds, total_gb / cold_seconds);
  printf ("  sha256sum, same bytes: %7.3f s  %6.2f GB/s\n", sha_seconds, total_gb / sha_seconds);
  printf ("  cold / sha256sum:      %7.2fx   (target >= 2.5x)\n", sha_seconds / cold_seconds);
  printf ("  warm scan (cached):    %7.1f ms median, %.1f ms best, %.1f ms CPU   (target < 50 ms)\n",
          warm[G_N_ELEMENTS (warm) / 2] * 1e3, warm[0] * 1e3, warm_cpu * 1e3);

  return 0;
}
