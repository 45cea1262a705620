/* bench-extract: extraction of a generated multi-file archive, against
 * `bsdtar -xf` of the same archive in the same run.
 *
 * Rounds alternate between the two so page-cache and writeback effects hit
 * both alike; the best round of each is compared. */
#include "config.h"

#include "bench-archive.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lsp-archive.h"
#include "lsp-fs.h"

#define SIZE_MIB_DEFAULT 1024
#define ROUNDS           5


static void
remove_tree (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *parent = g_path_get_dirname (path);
  g_autofree char *name = g_path_get_basename (path);
  int fd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0 || !lsp_fs_remove_tree_at (fd, name, &error))
    g_error ("Cannot remove %s: %s", path, error ? error->message : g_strerror (errno));
  close (fd);
}

static void
fresh_dir (const char *path)
{
  remove_tree (path);
  if (g_mkdir (path, 0755) != 0)
    g_error ("Cannot create %s: %s", path, g_strerror (errno));
  sync ();
}

static double
time_ours (const char *archive,
           const char *target)
{
  g_autoptr(LspExtractor) extractor = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  fresh_dir (target);
  start = g_get_monotonic_time ();
  extractor = lsp_extractor_new (target, &error);
  if (extractor == NULL ||
      !lsp_extractor_add_archive (extractor, archive, NULL, &error) ||
      !lsp_extractor_finish (extractor, &error))
    g_error ("Extraction failed: %s", error->message);
  return (g_get_monotonic_time () - start) / 1e6;
}

static double
time_bsdtar (const char *archive,
             const char *target)
{
  const char *argv[] = { "bsdtar", "-xf", archive, "-C", target, NULL };
  g_autoptr(GError) error = NULL;
  int status;
  gint64 start;

  fresh_dir (target);
  start = g_get_monotonic_time ();
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, &error) ||
      !g_spawn_check_wait_status (status, &error))
    g_error ("bsdtar failed: %s", error->message);
  return (g_get_monotonic_time () - start) / 1e6;
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *archive = NULL;
  g_autofree char *ours_dir = NULL;
  g_autofree char *theirs_dir = NULL;
  guint64 size_mib = argc > 2 ? g_ascii_strtoull (argv[2], NULL, 10) : SIZE_MIB_DEFAULT;
  double best_ours = G_MAXDOUBLE, best_theirs = G_MAXDOUBLE;
  double mib;
  guint n_files;

  if (argc < 2)
    {
      fprintf (stderr, "Usage: bench-extract WORK_DIR [SIZE_MIB]\n");
      return 2;
    }

  {
  g_autofree char *bsdtar = g_find_program_in_path ("bsdtar");

  if (bsdtar == NULL)
    {
      fprintf (stderr, "bench-extract: bsdtar is needed as the reference (Debian package libarchive-tools)\n");
      return 1;
    }
  }

  g_mkdir_with_parents (argv[1], 0755);
  archive = g_build_filename (argv[1], "bench.tar", NULL);
  ours_dir = g_build_filename (argv[1], "ours", NULL);
  theirs_dir = g_build_filename (argv[1], "bsdtar", NULL);

  n_files = bench_generate_archive (archive, "game/", size_mib * 1024 * 1024);
  mib = (double) size_mib;
  printf ("archive: %" G_GUINT64_FORMAT " MiB in %u files (tar)\n", size_mib, n_files);

  for (guint round = 0; round < ROUNDS; round++)
    {
      double ours = time_ours (archive, ours_dir);
      double theirs = time_bsdtar (archive, theirs_dir);

      printf ("round %u: lanspread %.2f s, bsdtar %.2f s\n", round + 1, ours, theirs);
      best_ours = MIN (best_ours, ours);
      best_theirs = MIN (best_theirs, theirs);
    }

  printf ("lanspread extract: %.2f s (%.0f MiB/s)\n", best_ours, mib / best_ours);
  printf ("bsdtar -xf:        %.2f s (%.0f MiB/s)\n", best_theirs, mib / best_theirs);
  printf ("ratio: %.2fx bsdtar's throughput (target >= 0.90x)\n", best_theirs / best_ours);

  remove_tree (ours_dir);
  remove_tree (theirs_dir);
  g_unlink (archive);
  return 0;
}
