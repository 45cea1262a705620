#include "config.h"

#include "bench-archive.h"

#include <archive.h>
#include <archive_entry.h>

/* A tar of total bytes in files from 4 KiB to 4 MiB, 16 per folder below
 * prefix, random bytes (incompressible, like most game data), the same for
 * the same arguments. Returns the number of files. */
guint
bench_generate_archive (const char *path,
                        const char *prefix,
                        guint64     total)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);
  g_autofree guint32 *pool = g_malloc (BENCH_ARCHIVE_POOL_SIZE);
  struct archive *a = archive_write_new ();
  guint64 written = 0;
  guint n = 0;

  for (gsize i = 0; i < BENCH_ARCHIVE_POOL_SIZE / sizeof (guint32); i++)
    pool[i] = g_rand_int (rand);

  archive_write_set_format_pax_restricted (a);
  if (archive_write_open_filename (a, path) != ARCHIVE_OK)
    g_error ("Cannot create %s: %s", path, archive_error_string (a));

  while (written < total)
    {
      struct archive_entry *entry = archive_entry_new ();
      g_autofree char *name = g_strdup_printf ("%sdata%03u/file%05u.bin", prefix, n / 16, n);
      gsize size = (gsize) 4096 << g_rand_int_range (rand, 0, 11);
      gsize offset = (gsize) g_rand_int_range (rand, 0, BENCH_ARCHIVE_POOL_SIZE / 2) & ~(gsize) 3;

      size = MIN (size, total - written);
      archive_entry_set_pathname (entry, name);
      archive_entry_set_filetype (entry, AE_IFREG);
      archive_entry_set_perm (entry, 0644);
      archive_entry_set_size (entry, (la_int64_t) size);
      archive_entry_set_mtime (entry, 1700000000, 0);
      archive_write_header (a, entry);
      for (gsize done = 0; done < size;)
        {
          gsize chunk = MIN (size - done, BENCH_ARCHIVE_POOL_SIZE - offset);
          if (archive_write_data (a, (const char *) pool + offset, chunk) != (la_ssize_t) chunk)
            g_error ("Cannot write %s: %s", path, archive_error_string (a));
          done += chunk;
          offset = 0;
        }
      archive_entry_free (entry);
      written += size;
      n++;
    }

  archive_write_close (a);
  archive_write_free (a);
  return n;
}
