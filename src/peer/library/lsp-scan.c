#define G_LOG_DOMAIN "lsp-scan"

#include "config.h"

#include "lsp-scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lsp-fs.h"
#include "lsp-game-root.h"
#include "lsp-install-record.h"
#include "lsp-sha256.h"
#include "lsp-util.h"
#include "lsp-verify.h"

static void
game_record_clear (LspGameRecord *record)
{
  g_free (record->id);
  g_free (record->fingerprint);
  g_free (record->version);
  g_free (record->manifest_hash);
  g_free (record->install_stamp);
  g_free (record->installed_version);
  g_free (record->error);
  g_free (record->damaged_hash);
}

LspGameRecord *
lsp_game_record_new (const char *id)
{
  LspGameRecord *record = g_atomic_rc_box_new0 (LspGameRecord);

  record->id = g_strdup (id);
  return record;
}

LspGameRecord *
lsp_game_record_ref (LspGameRecord *record)
{
  return g_atomic_rc_box_acquire (record);
}

void
lsp_game_record_unref (LspGameRecord *record)
{
  g_atomic_rc_box_release_full (record, (GDestroyNotify) game_record_clear);
}

/* Whether peers would see a difference: this is what moves library_rev. */
gboolean
lsp_game_record_same_summary (const LspGameRecord *a,
                              const LspGameRecord *b)
{
  return g_strcmp0 (a->id, b->id) == 0 &&
         a->downloaded == b->downloaded &&
         a->installed == b->installed &&
         a->size == b->size &&
         g_strcmp0 (a->version, b->version) == 0 &&
         g_strcmp0 (a->manifest_hash, b->manifest_hash) == 0 &&
         g_strcmp0 (a->installed_version, b->installed_version) == 0 &&
         g_strcmp0 (a->error, b->error) == 0 &&
         a->damaged == b->damaged && g_strcmp0 (a->damaged_hash, b->damaged_hash) == 0;
}

gboolean
lsp_game_record_equal (const LspGameRecord *a,
                       const LspGameRecord *b)
{
  return lsp_game_record_same_summary (a, b) &&
         g_strcmp0 (a->fingerprint, b->fingerprint) == 0 &&
         g_strcmp0 (a->install_stamp, b->install_stamp) == 0;
}

/* The version sentinel's scratch files are only ever left by a download
 * that was interrupted; the first scan after start sweeps them. */
static void
remove_transient (int         root_fd,
                  const char *game_id,
                  const char *name)
{
  if (unlinkat (root_fd, name, 0) == 0)
    g_message ("Removed %s/%s left by an interrupted download", game_id, name);
  else if (errno != ENOENT)
    g_warning ("Could not remove %s/%s: %s", game_id, name, g_strerror (errno));
}

/* The install record's size and mtime: it is rewritten by every install
 * and update, so it tells when the installed version may have changed
 * without reading it. */
static char *
read_install_stamp (int root_fd)
{
  struct stat st;

  if (fstatat (root_fd, LSP_LOCAL_DIR "/" LSP_OWNED_MARKER, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG (st.st_mode))
    return NULL;
  return g_strdup_printf ("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ".%09ld", (gint64) st.st_size,
                          (gint64) st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

/* The cheap per-game fingerprint: one line per root-level entry that is not
 * user-owned install state (name, type, size, mtime), with version.ini among
 * them; the presence of local/ is read alongside. Only a changed fingerprint
 * makes us walk and hash the game. */
static gboolean
read_fingerprint (int         root_fd,
                  const char *game_id,
                  gboolean    recover,
                  char      **out_fingerprint,
                  gboolean   *out_downloaded,
                  gboolean   *out_installed,
                  char      **out_install_stamp,
                  GError    **error)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) buffer = g_string_sized_new (256);
  guint8 digest[LSP_SHA256_LEN];
  char hex[LSP_SHA256_HEX_LEN + 1];
  struct dirent *entry;
  DIR *dir;

  *out_downloaded = FALSE;
  *out_installed = FALSE;

  dir = fdopendir (root_fd);
  if (dir == NULL)
    {
      int saved_errno = errno;
      close (root_fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Could not list the game folder: %s"), g_strerror (saved_errno));
      return FALSE;
    }

  while ((entry = readdir (dir)) != NULL)
    {
      const char *name = entry->d_name;
      struct stat st;
      char type;

      if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
        continue;
      if (recover && (strcmp (name, LSP_VERSION_TMP_FILE) == 0 || strcmp (name, LSP_VERSION_DISCARDED_FILE) == 0))
        {
          remove_transient (root_fd, game_id, name);
          continue;
        }
      if (lsp_game_child_is_reserved (name) &&
          strcmp (name, LSP_VERSION_FILE) != 0 && strcmp (name, LSP_LOCAL_DIR) != 0)
        continue;
      if (fstatat (root_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        continue;  /* vanished between readdir and stat: the next event rescans */

      if (strcmp (name, LSP_VERSION_FILE) == 0)
        *out_downloaded = S_ISREG (st.st_mode);
      if (strcmp (name, LSP_LOCAL_DIR) == 0)
        {
          /* Only its presence counts, and outside the fingerprint: installing
           * or uninstalling changes nothing in the payload, so it must not
           * cost a rehash. Its contents belong to the player. */
          *out_installed = S_ISDIR (st.st_mode);
          if (*out_installed)
            *out_install_stamp = read_install_stamp (root_fd);
          continue;
        }

      type = S_ISREG (st.st_mode) ? 'f' : S_ISDIR (st.st_mode) ? 'd' : S_ISLNK (st.st_mode) ? 'l' : 'o';
      g_ptr_array_add (lines, g_strdup_printf ("%s\t%c\t%" G_GINT64_FORMAT "\t%" G_GINT64_FORMAT ".%09ld",
                                               name, type, (gint64) st.st_size,
                                               (gint64) st.st_mtim.tv_sec, st.st_mtim.tv_nsec));
    }
  closedir (dir);

  g_ptr_array_sort (lines, lsp_strcmp_ptr);
  for (guint i = 0; i < lines->len; i++)
    g_string_append_len (buffer, g_ptr_array_index (lines, i), (gssize) strlen (g_ptr_array_index (lines, i)) + 1);
  lsp_sha256_buffer (buffer->str, buffer->len, digest);
  lsp_sha256_to_hex (digest, hex);

  *out_fingerprint = g_strdup (hex);
  return TRUE;
}

static void
cache_manifest (LspManifest *manifest,
                const char  *manifest_dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *path = NULL;
  g_autofree char *name = NULL;
  g_autofree char *data = NULL;

  name = g_strconcat (lsp_manifest_get_hash (manifest), ".json", NULL);
  path = g_build_filename (manifest_dir, name, NULL);
  if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return;

  node = lsp_manifest_to_json (manifest);
  data = json_to_string (node, FALSE);
  if (!lsp_fs_mkdir_p (manifest_dir, &error) ||
      !lsp_fs_write_replace (path, data, strlen (data), &error))
    g_warning ("Could not cache the manifest of %s: %s", lsp_manifest_get_game_id (manifest), error->message);
}

void
lsp_game_probe_clear (LspGameProbe *probe)
{
  g_clear_pointer (&probe->fingerprint, g_free);
  g_clear_pointer (&probe->install_stamp, g_free);
  g_clear_pointer (&probe->damaged_hash, g_free);
  g_clear_pointer (&probe->damaged_version, g_free);
  g_clear_pointer (&probe->error, g_free);
}

static int
open_game_root (int         games_fd,
                const char *game_id,
                GError    **error)
{
  int root_fd = openat (games_fd, game_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

  if (root_fd < 0)
    {
      int saved_errno = errno;

      /* A symbolic link is not a game folder: following it could share
       * files from anywhere on the machine. */
      if (saved_errno == ENOENT || saved_errno == ENOTDIR || saved_errno == ELOOP)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("No game folder “%s”"), game_id);
      else
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                     _("Cannot open the game folder: %s"), g_strerror (saved_errno));
    }

  return root_fd;
}

/* Reads the cheap facts of one game root. Returns FALSE with
 * G_IO_ERROR_NOT_FOUND when there is no game folder; a folder we cannot
 * read is a probe with an error, so the user can see it. */
gboolean
lsp_scan_probe_game (int            games_fd,
                     const char    *game_id,
                     gboolean       recover,
                     LspGameProbe  *probe,
                     GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  int root_fd;

  memset (probe, 0, sizeof *probe);

  root_fd = open_game_root (games_fd, game_id, &local_error);
  if (root_fd < 0)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      probe->error = g_strdup (local_error->message);
      return TRUE;
    }

  if (!read_fingerprint (root_fd, game_id, recover, &probe->fingerprint,
                         &probe->downloaded, &probe->installed, &probe->install_stamp, &local_error))
    probe->error = g_strdup (local_error->message);
  {
    g_autoptr(LspManifest) damaged = lsp_verify_read_damaged_at (games_fd, game_id);

    if (damaged != NULL)
      {
        probe->damaged_hash = g_strdup (lsp_manifest_get_hash (damaged));
        probe->damaged_version = g_strdup (lsp_manifest_get_version (damaged));
      }
  }

  return TRUE;
}

static void
set_install_state (LspGameRecord      *record,
                   int                 games_fd,
                   const LspGameProbe *probe)
{
  g_autofree char *local_path = NULL;
  g_autofree char *version = NULL;
  g_autoptr(GHashTable) files = NULL;
  int local_fd;

  record->installed = probe->installed;
  record->install_stamp = g_strdup (probe->install_stamp);
  if (probe->install_stamp == NULL)
    return;

  local_path = g_build_filename (record->id, LSP_LOCAL_DIR, NULL);
  local_fd = openat (games_fd, local_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (local_fd < 0)
    return;
  files = lsp_install_record_read (local_fd, &version);
  close (local_fd);
  if (lsp_version_is_valid (version))
    record->installed_version = g_steal_pointer (&version);
}

/* A verdict holds for the version it was reached on, whatever manifest
 * the damaged files hash to now: only a repair (or a verify that finds
 * the files sound again) removes it, and a new version voids it. */
static gboolean
is_damaged (const LspGameRecord *record,
            const LspGameProbe  *probe)
{
  return record->downloaded && probe->damaged_version != NULL &&
         g_strcmp0 (record->version, probe->damaged_version) == 0;
}

/* Turns a probe into a record: the cached one when the fingerprint is
 * unchanged, otherwise a fresh one, walking and hashing a downloaded game.
 * Problems inside the game are recorded in the record, not returned;
 * only cancellation is an error. */
LspGameRecord *
lsp_scan_game (int                   games_fd,
               const char           *game_id,
               const LspGameProbe   *probe,
               const LspGameRecord  *cached,
               const LspScanOptions *options,
               gboolean             *out_hashed,
               GCancellable         *cancellable,
               GError              **error)
{
  g_autoptr(LspGameRecord) record = NULL;
  g_autoptr(LspManifest) manifest = NULL;
  g_autoptr(GError) local_error = NULL;
  int root_fd;

  *out_hashed = FALSE;

  if (cached != NULL && cached->error == NULL && probe->error == NULL &&
      g_strcmp0 (cached->fingerprint, probe->fingerprint) == 0)
    {
      gboolean damaged = is_damaged (cached, probe);

      if (cached->installed == probe->installed && g_strcmp0 (cached->install_stamp, probe->install_stamp) == 0 &&
          cached->damaged == damaged && g_strcmp0 (cached->damaged_hash, damaged ? probe->damaged_hash : NULL) == 0)
        return lsp_game_record_ref ((LspGameRecord *) cached);

      record = lsp_game_record_new (game_id);
      record->fingerprint = g_strdup (cached->fingerprint);
      record->downloaded = cached->downloaded;
      record->version = g_strdup (cached->version);
      record->size = cached->size;
      record->manifest_hash = g_strdup (cached->manifest_hash);
      record->damaged = damaged;
      record->damaged_hash = damaged ? g_strdup (probe->damaged_hash) : NULL;
      set_install_state (record, games_fd, probe);
      return g_steal_pointer (&record);
    }

  record = lsp_game_record_new (game_id);
  if (probe->error != NULL)
    {
      record->error = g_strdup (probe->error);
      return g_steal_pointer (&record);
    }

  record->fingerprint = g_strdup (probe->fingerprint);
  set_install_state (record, games_fd, probe);
  if (!probe->downloaded)
    return g_steal_pointer (&record);

  root_fd = open_game_root (games_fd, game_id, &local_error);
  if (root_fd < 0)
    {
      record->error = g_strdup (local_error->message);
      return g_steal_pointer (&record);
    }

  record->version = lsp_game_root_read_version (root_fd, &local_error);
  if (record->version == NULL)
    {
      record->error = g_strdup (local_error->message);
      close (root_fd);
      return g_steal_pointer (&record);
    }

  /* A download verified every chunk of this game just now: if the files
   * are still exactly the manifest's (paths and sizes), the manifest is
   * taken as it is instead of reading the whole game again. */
  manifest = options->verified != NULL ? g_hash_table_lookup (options->verified, game_id) : NULL;
  if (manifest != NULL && g_strcmp0 (lsp_manifest_get_version (manifest), record->version) == 0 &&
      lsp_manifest_matches_tree (manifest, root_fd))
    manifest = lsp_manifest_ref (manifest);
  else
    {
      *out_hashed = TRUE;
      manifest = lsp_manifest_build (root_fd, game_id, record->version, cancellable, &local_error);
    }
  close (root_fd);
  if (manifest == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      g_clear_pointer (&record->version, g_free);
      record->error = g_strdup (local_error->message);
      return g_steal_pointer (&record);
    }

  record->downloaded = TRUE;
  record->size = lsp_manifest_get_total_size (manifest);
  record->manifest_hash = g_strdup (lsp_manifest_get_hash (manifest));
  record->damaged = is_damaged (record, probe);
  record->damaged_hash = record->damaged ? g_strdup (probe->damaged_hash) : NULL;
  if (options->manifest_dir != NULL)
    cache_manifest (manifest, options->manifest_dir);

  return g_steal_pointer (&record);
}
