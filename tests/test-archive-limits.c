#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include "lsp-archive.h"
#include "lsp-error.h"
#include "lsp-game-root.h"
#include "lsp-installer.h"
#include "lsp-launcher.h"
#include "lsp-test-util.h"

/* Archives made to exhaust the disk or the inode table: the extractor
 * stops them with an error naming the archive, whatever the headers say. */

typedef struct
{
  char *dir;      /* archives are made here */
  char *target;   /* and extracted here */
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->dir = lsp_test_make_temp_dir ();
  f->target = g_build_filename (f->dir, "target", NULL);
  g_assert_cmpint (g_mkdir (f->target, 0755), ==, 0);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  lsp_test_remove_tree (f->dir);
  g_free (f->target);
  g_free (f->dir);
}

static char *
write_empty_files (Fixture    *f,
                   const char *name,
                   guint       n_files)
{
  g_autofree LspTestEntry *entries = g_new0 (LspTestEntry, n_files);
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  char *path = g_build_filename (f->dir, name, NULL);

  for (guint i = 0; i < n_files; i++)
    {
      char *entry_path = g_strdup_printf ("%s-%04u", name, i);

      g_ptr_array_add (paths, entry_path);
      entries[i] = (LspTestEntry) { entry_path, 'f', "", 0 };
    }
  lsp_test_write_archive (path, "tar", entries, n_files);
  return path;
}

static void
test_entries_per_archive (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *fits = write_empty_files (f, "fits.tar", 10);
  g_autofree char *many = write_empty_files (f, "many.tar", 11);
  g_autoptr(LspExtractor) extractor = lsp_extractor_new (f->target, NULL);
  g_autoptr(GError) error = NULL;

  lsp_extractor_set_entry_limits (extractor, 10, 100);
  g_assert_true (lsp_extractor_add_archive (extractor, fits, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (lsp_extractor_add_archive (extractor, many, NULL, &error));
  g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, many));
  g_assert_nonnull (strstr (error->message, "more than 10 entries"));
}

static void
test_entries_in_all (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *first = write_empty_files (f, "first.tar", 8);
  g_autofree char *second = write_empty_files (f, "second.tar", 8);
  g_autoptr(LspExtractor) extractor = lsp_extractor_new (f->target, NULL);
  g_autoptr(GError) error = NULL;

  lsp_extractor_set_entry_limits (extractor, 10, 12);
  g_assert_true (lsp_extractor_add_archive (extractor, first, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (lsp_extractor_add_archive (extractor, second, NULL, &error));
  g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, second));
  g_assert_nonnull (strstr (error->message, "more than 12 entries in all"));
}

/* One tar block: a ustar header with its checksum. */
static void
append_tar_header (GByteArray *tar,
                   const char *name,
                   char        type,
                   gsize       size)
{
  guint8 block[512] = { 0 };
  guint sum = 0;

  g_strlcpy ((char *) block, name, 100);
  g_snprintf ((char *) block + 100, 8, "%07o", 0644);
  g_snprintf ((char *) block + 108, 8, "%07o", 0);
  g_snprintf ((char *) block + 116, 8, "%07o", 0);
  g_snprintf ((char *) block + 124, 12, "%011" G_GSIZE_MODIFIER "o", size);
  g_snprintf ((char *) block + 136, 12, "%011o", LSP_TEST_MTIME);
  memset (block + 148, ' ', 8);
  block[156] = (guint8) type;
  memcpy (block + 257, "ustar\0" "00", 8);
  for (guint i = 0; i < sizeof block; i++)
    sum += block[i];
  g_snprintf ((char *) block + 148, 8, "%06o", sum);
  g_byte_array_append (tar, block, sizeof block);
}

static void
append_padded (GByteArray   *tar,
               const guint8 *data,
               gsize         size)
{
  static const guint8 zeros[512];

  g_byte_array_append (tar, data, (guint) size);
  g_byte_array_append (tar, zeros, (guint) ((512 - size % 512) % 512));
}

/* "LEN key=value\n", LEN counting itself. */
static void
append_pax_record (GString    *records,
                   const char *key,
                   const char *value)
{
  gsize len = strlen (key) + strlen (value) + 3;
  g_autofree char *digits = g_strdup_printf ("%" G_GSIZE_FORMAT, len);
  g_autofree char *record = NULL;

  len += strlen (digits);  /* short records: adding the digits adds none */
  record = g_strdup_printf ("%" G_GSIZE_FORMAT " %s=%s\n", len, key, value);
  g_assert_cmpuint (strlen (record), ==, len);
  g_string_append (records, record);
}

/* A GNU sparse file (pax format 0.1) whose map holds a MiB of data while
 * its header says the file is 16 bytes long. */
static char *
write_lying_tar (Fixture *f)
{
  g_autoptr(GByteArray) tar = g_byte_array_new ();
  g_autoptr(GString) records = g_string_new (NULL);
  g_autofree guint8 *data = g_malloc (1024 * 1024);
  char *path = g_build_filename (f->dir, "lying.tar", NULL);
  static const guint8 end[1024];
  g_autoptr(GError) error = NULL;

  memset (data, 'x', 1024 * 1024);
  append_pax_record (records, "GNU.sparse.size", "16");
  append_pax_record (records, "GNU.sparse.map", "0,1048576");
  append_tar_header (tar, "PaxHeaders/small.dat", 'x', records->len);
  append_padded (tar, (const guint8 *) records->str, records->len);
  append_tar_header (tar, "small.dat", '0', 1024 * 1024);
  append_padded (tar, data, 1024 * 1024);
  g_byte_array_append (tar, end, sizeof end);
  g_assert_true (g_file_set_contents (path, (const char *) tar->data, tar->len, &error));
  g_assert_no_error (error);
  return path;
}

static void
on_installed (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  GError **error = user_data;

  if (!lsp_installer_install_finish (LSP_INSTALLER (object), result, error))
    g_assert_nonnull (*error);
  else
    *error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "installed");
}

static gboolean
has_error (gpointer data)
{
  return *(GError **) data != NULL;
}

/* The install of a game whose second archive lies fails and rolls back. */
static void
test_install_rolls_back (Fixture       *f,
                         gconstpointer  data)
{
  static const char * const game_ids[] = { "liar", NULL };
  static const LspTestEntry good[] = { { "good.txt", 'f', "fine", 0 } };
  g_autofree char *games = g_build_filename (f->dir, "games", NULL);
  g_autofree char *root = g_build_filename (games, "liar", NULL);
  g_autofree char *good_path = g_build_filename (root, "a.eti", NULL);
  g_autofree char *lying = write_lying_tar (f);
  g_autofree char *lying_path = g_build_filename (root, "b.eti", NULL);
  g_autofree char *version_path = g_build_filename (root, LSP_VERSION_FILE, NULL);
  g_autofree char *local = g_build_filename (root, LSP_LOCAL_DIR, NULL);
  g_autofree char *staging = g_build_filename (root, LSP_LOCAL_INSTALLING_DIR, NULL);
  g_autofree char *intent_path = g_build_filename (root, LSP_INTENT_FILE, NULL);
  g_autofree char *intent = NULL;
  g_autoptr(GFile) games_dir = g_file_new_for_path (games);
  g_autoptr(LspCatalog) catalog = lsp_test_catalog_new (game_ids);
  g_autoptr(LspLibrary) library = NULL;
  g_autoptr(LspLauncher) launcher = NULL;
  g_autoptr(LspInstaller) installer = NULL;
  g_autoptr(GError) error = NULL;

  lsp_test_write_archive (good_path, "tar", good, G_N_ELEMENTS (good));
  g_assert_cmpint (g_rename (lying, lying_path), ==, 0);
  lsp_test_write_file (version_path, "1.0", -1);
  library = lsp_library_new (games_dir, catalog);
  lsp_test_load_library (library);
  launcher = lsp_launcher_new (library);
  installer = lsp_installer_new (library, launcher);

  lsp_installer_install_async (installer, "liar", NULL, on_installed, &error);
  g_assert_true (lsp_test_wait_until (has_error, &error, 30000));
  g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, lying_path));
  g_assert_nonnull (strstr (error->message, "expands beyond"));
  g_assert_false (g_file_test (local, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (staging, G_FILE_TEST_EXISTS));
  intent = lsp_test_read_file (intent_path);
  if (intent != NULL)
    g_assert_nonnull (strstr (intent, "\"None\""));

  while (lsp_library_get_scanning (library))
    g_main_context_iteration (NULL, TRUE);
  g_object_run_dispose (G_OBJECT (library));
}

static void
test_header_sizes_lie (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *lying = write_lying_tar (f);
  g_autoptr(LspExtractor) extractor = lsp_extractor_new (f->target, NULL);
  g_autoptr(GError) error = NULL;
  guint64 size;
  gboolean exact;

  g_assert_true (lsp_archive_measure (lying, &size, &exact, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (size, ==, 16);
  g_assert_true (exact);

  g_assert_false (lsp_extractor_add_archive (extractor, lying, NULL, &error));
  g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, lying));
  g_assert_nonnull (strstr (error->message, "small.dat"));
  g_assert_nonnull (strstr (error->message, "expands beyond the 16 bytes its header declares"));
}

#define BOMB_BYTES     (64 * 1024 * 1024)
#define FILE_BYTES     (4 * 1024 * 1024)
#define FILLER_BYTES   (10 * 1024 * 1024)
#define TMPFS_BYTES    (16 * 1024 * 1024)
#define CHECK_EVERY    (1024 * 1024)
#define MIN_FREE       (4 * 1024 * 1024)

/* One file of zeros, gzip-compressed: about a thousandth of its size. */
static char *
write_gzip_bomb (Fixture *f)
{
  static const char zeros[64 * 1024];
  char *path = g_build_filename (f->dir, "bomb.tar.gz", NULL);
  struct archive *a = archive_write_new ();
  struct archive_entry *entry = archive_entry_new ();

  g_assert_cmpint (archive_write_set_format_pax_restricted (a), ==, ARCHIVE_OK);
  g_assert_cmpint (archive_write_add_filter_gzip (a), ==, ARCHIVE_OK);
  g_assert_cmpint (archive_write_open_filename (a, path), ==, ARCHIVE_OK);
  archive_entry_set_pathname (entry, "data.pak");
  archive_entry_set_filetype (entry, AE_IFREG);
  archive_entry_set_perm (entry, 0644);
  archive_entry_set_size (entry, BOMB_BYTES);
  g_assert_cmpint (archive_write_header (a, entry), ==, ARCHIVE_OK);
  for (gsize done = 0; done < BOMB_BYTES; done += sizeof zeros)
    g_assert_cmpint (archive_write_data (a, zeros, sizeof zeros), ==, sizeof zeros);
  archive_entry_free (entry);
  g_assert_cmpint (archive_write_close (a), ==, ARCHIVE_OK);
  archive_write_free (a);
  return path;
}

static guint64
free_bytes (const char *path)
{
  struct statvfs vfs;

  g_assert_cmpint (statvfs (path, &vfs), ==, 0);
  return (guint64) vfs.f_bavail * vfs.f_frsize;
}

/* The size check before an install has only the compressed size of a
 * compressed archive; extraction stops before the disk is full. */
static void
test_gzip_bomb (Fixture       *f,
                gconstpointer  data)
{
  g_autofree char *bomb = write_gzip_bomb (f);
  g_autoptr(LspExtractor) extractor = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *options = g_strdup_printf ("size=%u", TMPFS_BYTES);
  guint64 size;
  gboolean exact;

  if (mount ("lanspread-test", f->target, "tmpfs", 0, options) != 0)
    {
      g_test_skip ("cannot mount a tmpfs (needs root)");
      return;
    }

  g_assert_true (lsp_archive_measure (bomb, &size, &exact, &error));
  g_assert_no_error (error);
  g_assert_false (exact);
  g_assert_cmpuint (size, <, free_bytes (f->target));

  extractor = lsp_extractor_new (f->target, &error);
  g_assert_no_error (error);
  lsp_extractor_set_space_check (extractor, CHECK_EVERY, MIN_FREE);
  g_assert_false (lsp_extractor_add_archive (extractor, bomb, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (error->message, bomb));
  g_assert_nonnull (strstr (error->message, "left free"));
  /* Stopped at the first check below the reserve, with room to spare. */
  g_assert_cmpuint (free_bytes (f->target), >=, MIN_FREE - CHECK_EVERY);

  g_clear_pointer (&extractor, lsp_extractor_free);
  g_assert_cmpint (umount (f->target), ==, 0);
}

typedef struct
{
  const char *filler;
  gboolean    written;
} Filler;

/* Another program takes most of the disk once the first file is out. */
static void
fill_disk (guint64  bytes,
           guint64  entries,
           gpointer user_data)
{
  Filler *filler = user_data;
  g_autofree char *zeros = NULL;

  if (filler->written || entries < 1)
    return;
  zeros = g_malloc0 (FILLER_BYTES);
  lsp_test_write_file (filler->filler, zeros, FILLER_BYTES);
  filler->written = TRUE;
}

/* The headers said how much is to come and the disk had room for it when
 * extraction started; it no longer has once something else fills it. */
static void
test_disk_fills_meanwhile (Fixture       *f,
                           gconstpointer  data)
{
  g_autofree char *first = g_malloc (FILE_BYTES + 1);
  g_autofree char *second = g_malloc (FILE_BYTES + 1);
  const LspTestEntry entries[] = { { "first.pak", 'f', first, 0 }, { "second.pak", 'f', second, 0 } };
  g_autofree char *archive = g_build_filename (f->dir, "game.tar", NULL);
  g_autofree char *options = g_strdup_printf ("size=%u", TMPFS_BYTES);
  g_autofree char *filler_path = g_build_filename (f->target, "filler", NULL);
  g_autoptr(LspExtractor) extractor = NULL;
  g_autoptr(GError) error = NULL;
  Filler filler = { filler_path, FALSE };
  guint64 size;
  gboolean exact;

  memset (first, 'a', FILE_BYTES);
  first[FILE_BYTES] = '\0';
  memset (second, 'b', FILE_BYTES);
  second[FILE_BYTES] = '\0';
  lsp_test_write_archive (archive, "tar", entries, G_N_ELEMENTS (entries));
  if (mount ("lanspread-test", f->target, "tmpfs", 0, options) != 0)
    {
      g_test_skip ("cannot mount a tmpfs (needs root)");
      return;
    }

  g_assert_true (lsp_archive_measure (archive, &size, &exact, &error));
  g_assert_no_error (error);
  g_assert_true (exact);
  g_assert_cmpuint (size, ==, 2 * FILE_BYTES);
  g_assert_cmpuint (size, <, free_bytes (f->target));

  extractor = lsp_extractor_new (f->target, &error);
  g_assert_no_error (error);
  lsp_extractor_set_expected_size (extractor, size);
  lsp_extractor_set_space_check (extractor, CHECK_EVERY, 0);
  lsp_extractor_set_progress_func (extractor, fill_disk, &filler);
  g_assert_false (lsp_extractor_add_archive (extractor, archive, NULL, &error));
  g_assert_true (filler.written);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (error->message, archive));
  g_assert_nonnull (strstr (error->message, "something else is filling the disk"));
  g_assert_cmpuint (free_bytes (f->target), >, 0);

  g_clear_pointer (&extractor, lsp_extractor_free);
  g_assert_cmpint (umount (f->target), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/install/archive-limits/entries-per-archive", Fixture, NULL,
              fixture_setup, test_entries_per_archive, fixture_teardown);
  g_test_add ("/install/archive-limits/entries-in-all", Fixture, NULL,
              fixture_setup, test_entries_in_all, fixture_teardown);
  g_test_add ("/install/archive-limits/header-sizes-lie", Fixture, NULL,
              fixture_setup, test_header_sizes_lie, fixture_teardown);
  g_test_add ("/install/archive-limits/install-rolls-back", Fixture, NULL,
              fixture_setup, test_install_rolls_back, fixture_teardown);
  g_test_add ("/install/archive-limits/gzip-bomb", Fixture, NULL,
              fixture_setup, test_gzip_bomb, fixture_teardown);
  g_test_add ("/install/archive-limits/disk-fills-meanwhile", Fixture, NULL,
              fixture_setup, test_disk_fills_meanwhile, fixture_teardown);

  return g_test_run ();
}
