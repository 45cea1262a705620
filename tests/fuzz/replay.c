/* Runs a fuzz target over the files of a seed corpus, one TAP subtest per
 * file, so every input a fuzzer ever found stays fixed in `make test`.
 * The fuzzing build links libFuzzer's own main instead. */
#include "config.h"

#include "lsp-fuzz.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(char * const *) a, *(char * const *) b);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  guint failed = 0;

  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GDir) dir = g_dir_open (argv[i], 0, &error);
      const char *name;

      if (dir == NULL)
        {
          g_printerr ("%s\n", error->message);
          return 1;
        }
      while ((name = g_dir_read_name (dir)) != NULL)
        g_ptr_array_add (paths, g_build_filename (argv[i], name, NULL));
    }
  g_ptr_array_sort (paths, compare_paths);
  if (paths->len == 0)
    {
      g_printerr ("No seed inputs found\n");
      return 1;
    }

  printf ("1..%u\n", paths->len);
  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = g_ptr_array_index (paths, i);
      g_autoptr(GError) error = NULL;
      g_autofree char *data = NULL;
      gsize size;

      if (!g_file_get_contents (path, &data, &size, &error))
        {
          printf ("not ok %u %s # %s\n", i + 1, path, error->message);
          failed++;
          continue;
        }
      /* A broken invariant aborts the process: that is the failure. */
      LLVMFuzzerTestOneInput ((const uint8_t *) data, size);
      printf ("ok %u %s\n", i + 1, path);
      fflush (stdout);
    }
  return failed > 0 ? 1 : 0;
}
