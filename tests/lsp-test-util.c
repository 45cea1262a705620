#define G_LOG_DOMAIN "lsp-test"

#include "config.h"

#include "lsp-test-util.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "lsp-fs.h"

char *
lsp_test_make_temp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *path = g_dir_make_tmp ("lanspread-test-XXXXXX", &error);

  g_assert_no_error (error);
  return path;
}

/* A save still on its way in a worker (known peers, an index) may add a
 * file while the folder goes: then the removal is tried again once the
 * main loop has run a little, and only a folder that keeps filling fails. */
void
lsp_test_remove_tree (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *parent = g_path_get_dirname (path);
  g_autofree char *name = g_path_get_basename (path);
  int fd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  for (guint tries = 0; !lsp_fs_remove_tree_at (fd, name, &error) && tries < 50; tries++)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_EMPTY))
        break;
      g_clear_error (&error);
      lsp_test_run_for (20);
    }
  close (fd);
  g_assert_no_error (error);
}

void
lsp_test_write_file (const char *path,
                     const char *contents,
                     gssize      length)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_file_set_contents (path, contents, length, &error);
  g_assert_no_error (error);
}

void
lsp_test_write_random_file (const char *path,
                            gsize       size,
                            guint32     seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  g_autofree guint32 *data = g_malloc (size + sizeof (guint32));

  for (gsize i = 0; i < size / sizeof (guint32) + 1; i++)
    data[i] = g_rand_int (rand);
  lsp_test_write_file (path, (const char *) data, (gssize) size);
}

/* <games>/<id>/<id>.eti with pseudo-random bytes, and version.ini when a
 * version is given. */
void
lsp_test_make_game (const char *games_dir,
                    const char *game_id,
                    const char *version,
                    gsize       archive_size)
{
  g_autofree char *archive_name = g_strconcat (game_id, ".eti", NULL);
  g_autofree char *archive = g_build_filename (games_dir, game_id, archive_name, NULL);

  lsp_test_write_random_file (archive, archive_size, g_str_hash (game_id));
  if (version != NULL)
    {
      g_autofree char *version_file = g_build_filename (games_dir, game_id, "version.ini", NULL);
      lsp_test_write_file (version_file, version, -1);
    }
}

static char *
catalog_json (const char * const *game_ids)
{
  GString *json = g_string_new ("{\"games\": [");

  for (guint i = 0; game_ids[i] != NULL; i++)
    g_string_append_printf (json, "%s{\"id\": \"%s\", \"name\": \"Game %s\", \"launch\": \"bin/%s\", \"max_players\": 8}",
                            i > 0 ? ", " : "", game_ids[i], game_ids[i], game_ids[i]);
  g_string_append (json, "]}");
  return g_string_free (json, FALSE);
}

void
lsp_test_write_catalog (const char         *path,
                        const char * const *game_ids)
{
  g_autofree char *json = catalog_json (game_ids);

  lsp_test_write_file (path, json, -1);
}

LspCatalog *
lsp_test_catalog_new (const char * const *game_ids)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *json = catalog_json (game_ids);
  LspCatalog *catalog = lsp_catalog_new_from_data (json, strlen (json), "test catalog", &error);

  g_assert_no_error (error);
  return catalog;
}

static void
on_loaded (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  gboolean *done = user_data;
  g_autoptr(GError) error = NULL;

  lsp_library_load_finish (LSP_LIBRARY (object), result, &error);
  g_assert_no_error (error);
  *done = TRUE;
}

void
lsp_test_load_library (LspLibrary *library)
{
  gboolean done = FALSE;

  lsp_library_load_async (library, NULL, on_loaded, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

typedef struct
{
  LspLibrary *library;
  guint       target;
} WaitScans;

static gboolean
scans_reached (gpointer data)
{
  WaitScans *wait = data;
  return lsp_library_get_n_scans (wait->library) >= wait->target;
}

void
lsp_test_wait_scans (LspLibrary *library,
                     guint       n_scans)
{
  WaitScans wait = { library, n_scans };

  g_assert_true (lsp_test_wait_until (scans_reached, &wait, 20000));
}

static gboolean
on_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

void
lsp_test_run_for (guint milliseconds)
{
  gboolean done = FALSE;

  g_timeout_add (milliseconds, on_timeout, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* Lets file-monitor events arrive and every scan they cause finish. */
void
lsp_test_wait_idle (LspLibrary *library)
{
  for (guint quiet = 0; quiet < 3;)
    {
      guint before = lsp_library_get_n_scans (library);

      lsp_test_run_for (200);
      while (lsp_library_get_scanning (library))
        g_main_context_iteration (NULL, TRUE);
      quiet = lsp_library_get_n_scans (library) == before ? quiet + 1 : 0;
    }
}

gboolean
lsp_test_wait_until (gboolean (*predicate) (gpointer data),
                     gpointer   data,
                     guint      timeout_ms)
{
  gboolean timed_out = FALSE;
  guint source = g_timeout_add (timeout_ms, on_timeout, &timed_out);

  while (!predicate (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);

  if (!timed_out)
    g_source_remove (source);
  return predicate (data);
}

static gboolean
set_writer_format (struct archive *a,
                   const char     *format)
{
  if (strcmp (format, "tar") == 0)
    return archive_write_set_format_pax_restricted (a) == ARCHIVE_OK;
  if (strcmp (format, "tar.gz") == 0)
    return archive_write_set_format_pax_restricted (a) == ARCHIVE_OK &&
           archive_write_add_filter_gzip (a) == ARCHIVE_OK;
  if (strcmp (format, "tar.zst") == 0)
    return archive_write_set_format_pax_restricted (a) == ARCHIVE_OK &&
           archive_write_add_filter_zstd (a) == ARCHIVE_OK;
  if (strcmp (format, "zip") == 0)
    return archive_write_set_format_zip (a) == ARCHIVE_OK;
  if (strcmp (format, "7z") == 0)
    return archive_write_set_format_7zip (a) == ARCHIVE_OK;
  return FALSE;
}

gboolean
lsp_test_archive_format_supported (const char *format)
{
  struct archive *a = archive_write_new ();
  gboolean ok = set_writer_format (a, format);

  archive_write_free (a);
  return ok;
}

void
lsp_test_write_archive (const char         *path,
                        const char         *format,
                        const LspTestEntry *entries,
                        guint               n_entries)
{
  g_autofree char *dir = g_path_get_dirname (path);
  struct archive *a = archive_write_new ();

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (set_writer_format (a, format));
  g_assert_cmpint (archive_write_open_filename (a, path), ==, ARCHIVE_OK);

  for (guint i = 0; i < n_entries; i++)
    {
      const LspTestEntry *e = &entries[i];
      struct archive_entry *entry = archive_entry_new ();
      gsize size = e->type == 'f' && e->data ? strlen (e->data) : 0;

      archive_entry_set_pathname (entry, e->path);
      archive_entry_set_mtime (entry, LSP_TEST_MTIME, 0);
      switch (e->type)
        {
        case 'f':
          archive_entry_set_filetype (entry, AE_IFREG);
          archive_entry_set_perm (entry, e->mode ? e->mode : 0644);
          archive_entry_set_size (entry, (la_int64_t) size);
          break;
        case 'd':
          archive_entry_set_filetype (entry, AE_IFDIR);
          archive_entry_set_perm (entry, e->mode ? e->mode : 0755);
          break;
        case 'l':
          archive_entry_set_filetype (entry, AE_IFLNK);
          archive_entry_set_perm (entry, 0777);
          archive_entry_set_symlink (entry, e->data);
          break;
        case 'h':
          archive_entry_set_filetype (entry, AE_IFREG);
          archive_entry_set_perm (entry, 0644);
          archive_entry_set_hardlink (entry, e->data);
          break;
        case 'c':
          archive_entry_set_filetype (entry, AE_IFCHR);
          archive_entry_set_perm (entry, 0666);
          archive_entry_set_rdev (entry, makedev (1, 3));
          break;
        case 'p':
          archive_entry_set_filetype (entry, AE_IFIFO);
          archive_entry_set_perm (entry, 0644);
          break;
        default:
          g_assert_not_reached ();
        }
      g_assert_cmpint (archive_write_header (a, entry), >=, ARCHIVE_WARN);
      if (size > 0)
        g_assert_cmpint (archive_write_data (a, e->data, size), ==, (la_ssize_t) size);
      archive_entry_free (entry);
    }

  g_assert_cmpint (archive_write_close (a), ==, ARCHIVE_OK);
  archive_write_free (a);
}

char *
lsp_test_read_file (const char *path)
{
  char *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return NULL;
  return contents;
}

/* lanspread-peer in German, with the catalogs the build made: the build
 * tree's locale folder comes from meson as LANSPREAD_TEST_LOCALEDIR. */
void
lsp_test_launcher_set_german (GSubprocessLauncher *launcher)
{
  const char *localedir = g_getenv ("LANSPREAD_TEST_LOCALEDIR");

  g_assert_nonnull (localedir);
  g_subprocess_launcher_setenv (launcher, "LANSPREAD_LOCALEDIR", localedir, TRUE);
  g_subprocess_launcher_setenv (launcher, "LANGUAGE", "de", TRUE);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C.UTF-8", TRUE);
}

/* TRUE for a folder with no entries. */
gboolean
lsp_test_dir_is_empty (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);

  return dir != NULL && g_dir_read_name (dir) == NULL;
}

static const char notifications_xml[] =
  "<node>"
  "  <interface name='org.freedesktop.Notifications'>"
  "    <method name='Notify'>"
  "      <arg type='s' direction='in'/><arg type='u' direction='in'/><arg type='s' direction='in'/>"
  "      <arg type='s' direction='in'/><arg type='s' direction='in'/><arg type='as' direction='in'/>"
  "      <arg type='a{sv}' direction='in'/><arg type='i' direction='in'/>"
  "      <arg type='u' direction='out'/>"
  "    </method>"
  "    <method name='CloseNotification'><arg type='u' direction='in'/></method>"
  "    <method name='GetCapabilities'><arg type='as' direction='out'/></method>"
  "    <method name='GetServerInformation'>"
  "      <arg type='s' direction='out'/><arg type='s' direction='out'/>"
  "      <arg type='s' direction='out'/><arg type='s' direction='out'/>"
  "    </method>"
  "  </interface>"
  "</node>";

static guint notifications_sent;

static void
on_notifications_call (GDBusConnection       *connection,
                       const char            *sender,
                       const char            *object_path,
                       const char            *interface_name,
                       const char            *method_name,
                       GVariant              *parameters,
                       GDBusMethodInvocation *invocation,
                       gpointer               user_data)
{
  if (g_str_equal (method_name, "Notify"))
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u)", ++notifications_sent));
  else if (g_str_equal (method_name, "GetCapabilities"))
    g_dbus_method_invocation_return_value (invocation, g_variant_new_parsed ("(@as [],)"));
  else if (g_str_equal (method_name, "GetServerInformation"))
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ssss)", "lsp-test", "", "0", "1.2"));
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

/* UI tests run on a private session bus, which has no notification
 * server: this one takes the desktop's place there, so the app's
 * notifications (a download that ends while the window is not active)
 * have somewhere to go. Returns how many were sent so far. */
guint
lsp_test_serve_notifications (void)
{
  static const GDBusInterfaceVTable vtable = { on_notifications_call, NULL, NULL, { 0 } };
  static gsize served;

  if (g_once_init_enter (&served))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (notifications_xml, &error);
      GDBusConnection *bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);

      g_assert_no_error (error);
      g_dbus_connection_register_object (bus, "/org/freedesktop/Notifications", info->interfaces[0],
                                         &vtable, NULL, NULL, &error);
      g_assert_no_error (error);
      g_bus_own_name_on_connection (bus, "org.freedesktop.Notifications", G_BUS_NAME_OWNER_FLAGS_NONE,
                                    NULL, NULL, NULL, NULL);
      g_once_init_leave (&served, 1);
    }
  return notifications_sent;
}
