#define G_LOG_DOMAIN "lsp-download"

#include "config.h"

#include "lsp-download-storage.h"

#include "lsp-error.h"
#include "lsp-fs.h"
#include "lsp-game-root.h"
#include "lsp-sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define STATE_FORMAT    1
#define STATE_MAX_SIZE  (16 * 1024 * 1024)
/* Where "Remove files" moves a game before deleting it, below the state
 * folder. */
#define TRASH_DIR "trash"
/* Offsets, lengths and buffers aligned to this may use O_DIRECT on every
 * block size Linux file systems use. */
#define DIRECT_IO_ALIGN 4096

/* What a cancelled or failed download leaves in place: the installed game
 * and the install machinery's state, and other tools' files. Everything
 * else in the game root is the download's payload. */
static const char * const preserved_names[] = {
  LSP_LOCAL_DIR,
  LSP_LOCAL_INSTALLING_DIR,
  LSP_LOCAL_BACKUP_DIR,
  LSP_INTENT_FILE,
  LSP_INTENT_TMP_FILE,
  LSP_SOFTLAN_MARKER,
  LSP_SYNC_DIR,
};

static gboolean
is_preserved (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (preserved_names); i++)
    {
      if (strcmp (name, preserved_names[i]) == 0)
        return TRUE;
    }
  return FALSE;
}

LspDownloadState *
lsp_download_state_new (const char *manifest_hash,
                        guint       n_chunks)
{
  LspDownloadState *state = g_new0 (LspDownloadState, 1);

  state->manifest_hash = g_strdup (manifest_hash);
  state->n_chunks = n_chunks;
  state->verified = g_malloc0 ((n_chunks + 7) / 8 + 1);
  return state;
}

void
lsp_download_state_free (LspDownloadState *state)
{
  if (state == NULL)
    return;
  g_free (state->manifest_hash);
  g_free (state->verified);
  g_free (state);
}

LspDownloadState *
lsp_download_state_copy (const LspDownloadState *state)
{
  LspDownloadState *copy = lsp_download_state_new (state->manifest_hash, state->n_chunks);

  memcpy (copy->verified, state->verified, (state->n_chunks + 7) / 8);
  return copy;
}

gboolean
lsp_download_state_get (const LspDownloadState *state,
                        guint                   chunk)
{
  g_assert (chunk < state->n_chunks);
  return (state->verified[chunk / 8] >> (chunk % 8)) & 1;
}

void
lsp_download_state_set (LspDownloadState *state,
                        guint             chunk)
{
  g_assert (chunk < state->n_chunks);
  state->verified[chunk / 8] |= (guint8) (1u << (chunk % 8));
}

/* The game root below the games folder, never through a symbolic link;
 * created when asked. */
int
lsp_download_storage_open_root (const char  *games_path,
                                const char  *game_id,
                                gboolean     create,
                                GError     **error)
{
  int games_fd, root_fd, saved_errno;

  if (!lsp_game_id_is_valid (game_id))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT, _("“%s” is not a valid game id"), game_id);
      return -1;
    }
  games_fd = open (games_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (games_fd < 0)
    {
      lsp_error_set_errno (error, errno, _("Cannot open the games folder %s"), games_path);
      return -1;
    }
  if (create && mkdirat (games_fd, game_id, 0755) != 0 && errno != EEXIST)
    {
      saved_errno = errno;
      close (games_fd);
      lsp_error_set_errno (error, saved_errno, _("Cannot create the folder of %s in %s"), game_id, games_path);
      return -1;
    }
  root_fd = openat (games_fd, game_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  saved_errno = errno;
  close (games_fd);
  if (root_fd < 0)
    lsp_error_set_errno (error, saved_errno, _("Cannot open the folder of %s in %s"), game_id, games_path);
  return root_fd;
}

gboolean
lsp_download_storage_check_space (const char  *games_path,
                                  guint64      needed,
                                  GError     **error)
{
  struct statvfs st;
  guint64 available;

  if (statvfs (games_path, &st) != 0)
    return lsp_error_set_errno (error, errno, _("Cannot tell the free space in %s"), games_path);
  available = (guint64) st.f_bavail * st.f_frsize;
  if (available < needed)
    {
      g_autofree char *need = g_format_size (needed);
      g_autofree char *have = g_format_size (available);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   _("Not enough free space in %s: the game needs %s more, %s are available. "
                   "Free some space and try again."), games_path, need, have);
      return FALSE;
    }
  return TRUE;
}

/* Opens the folder for path's parent below root_fd, one component at a
 * time without following links, creating missing folders when asked.
 * Returns the folder's fd (root_fd itself is never returned) and the last
 * component in *out_name. */
static int
open_parent (int          root_fd,
             const char  *path,
             gboolean     create,
             const char **out_name,
             GError     **error)
{
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);
  guint n = g_strv_length (parts);
  int dir_fd = dup (root_fd);

  if (dir_fd < 0)
    {
      lsp_error_set_errno (error, errno, _("Cannot open the folder of %s"), path);
      return -1;
    }
  for (guint i = 0; i + 1 < n; i++)
    {
      int next;

      if (create && mkdirat (dir_fd, parts[i], 0755) != 0 && errno != EEXIST)
        {
          lsp_error_set_errno (error, errno, _("Cannot create the folder of %s"), path);
          close (dir_fd);
          return -1;
        }
      next = openat (dir_fd, parts[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0)
        {
          lsp_error_set_errno (error, errno, _("Cannot open the folder of %s"), path);
          close (dir_fd);
          return -1;
        }
      close (dir_fd);
      dir_fd = next;
    }
  *out_name = path + (strlen (path) - strlen (parts[n - 1]));
  return dir_fd;
}

/* A file of the game by its manifest path, never through a symbolic link
 * and only if it is a regular file. */
int
lsp_download_storage_open_file (int          root_fd,
                                const char  *path,
                                int          flags,
                                GError     **error)
{
  const char *name = NULL;
  struct stat st;
  int dir_fd, fd, saved_errno;

  if (!lsp_relative_path_is_safe (path))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, _("“%s” is not a safe path"), path);
      return -1;
    }
  dir_fd = open_parent (root_fd, path, (flags & O_CREAT) != 0, &name, error);
  if (dir_fd < 0)
    return -1;
  fd = openat (dir_fd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
  saved_errno = errno;
  close (dir_fd);
  if (fd < 0)
    {
      lsp_error_set_errno (error, saved_errno, _("Cannot open %s"), path);
      return -1;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, _("%s is not a regular file"), path);
      return -1;
    }
  return fd;
}

static gboolean
write_all_at (int           fd,
              const guint8 *data,
              gsize         length,
              guint64       offset,
              int          *saved_errno)
{
  gsize done = 0;

  while (done < length)
    {
      ssize_t n = pwrite (fd, data + done, length - done, (off_t) (offset + done));

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          *saved_errno = n < 0 ? errno : ENOSPC;
          return FALSE;
        }
      done += (gsize) n;
    }
  return TRUE;
}

/* The aligned part of a chunk is written with O_DIRECT: the payload is not
 * read again soon, so a copy into the page cache and its writeback only
 * cost CPU (on two cores, as much as the hash) and evict what the player
 * has cached; buffered writeback is also several times slower than direct
 * writes on some virtual disks. A file system that refuses O_DIRECT
 * (EINVAL, e.g. older tmpfs) gets the whole chunk through the page cache,
 * and so does the unaligned tail of a file's last chunk. */
gboolean
lsp_download_storage_write_chunk (int            root_fd,
                                  const char    *path,
                                  guint64        offset,
                                  const guint8  *data,
                                  gsize          length,
                                  GError       **error)
{
  gsize direct_length = 0;
  int fd, saved_errno = 0;
  gboolean ok;

  if (offset % DIRECT_IO_ALIGN == 0 && (guintptr) data % DIRECT_IO_ALIGN == 0)
    direct_length = length - length % DIRECT_IO_ALIGN;
  if (direct_length > 0)
    {
      g_autoptr(GError) direct_error = NULL;

      fd = lsp_download_storage_open_file (root_fd, path, O_WRONLY | O_DIRECT, &direct_error);
      if (fd < 0 && !g_error_matches (direct_error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
        {
          g_propagate_error (error, g_steal_pointer (&direct_error));
          return FALSE;
        }
      if (fd < 0)
        direct_length = 0;
      else
        {
          ok = write_all_at (fd, data, direct_length, offset, &saved_errno);
          close (fd);
          if (!ok && saved_errno != EINVAL)
            return lsp_error_set_errno (error, saved_errno, _("Cannot write %s"), path);
          if (!ok)
            direct_length = 0;
        }
    }
  if (direct_length == length)
    return TRUE;

  fd = lsp_download_storage_open_file (root_fd, path, O_WRONLY, error);
  if (fd < 0)
    return FALSE;
  ok = write_all_at (fd, data + direct_length, length - direct_length, offset + direct_length, &saved_errno);
  if (ok)
    {
      /* Writeback starts now, not at the commit's fsync, so the disk
       * works while the network does. */
      sync_file_range (fd, (off_t) (offset + direct_length), (off_t) (length - direct_length),
                       SYNC_FILE_RANGE_WRITE);
    }
  close (fd);
  return ok || lsp_error_set_errno (error, saved_errno, _("Cannot write %s"), path);
}

/* Creates every file of the manifest at its final size, with its space
 * reserved, so a full disk shows now rather than mid-transfer. Existing
 * bytes are kept: they are verified chunks of a resumed download or the
 * previous version's, and every chunk is checked before it counts. */
/* One file of the manifest at its final size, with its space reserved. */
gboolean
lsp_download_storage_prepare_file (int                     dir_fd,
                                   const LspManifestFile  *file,
                                   GError                **error)
{
  struct stat st;
  int fd, rv;

  fd = lsp_download_storage_open_file (dir_fd, file->path, O_RDWR | O_CREAT, error);
  if (fd < 0)
    return FALSE;
  if (fstat (fd, &st) != 0 || ((guint64) st.st_size != file->size && ftruncate (fd, (off_t) file->size) != 0))
    {
      int saved_errno = errno;
      close (fd);
      return lsp_error_set_errno (error, saved_errno, _("Cannot size %s"), file->path);
    }
  rv = file->size > 0 ? posix_fallocate (fd, 0, (off_t) file->size) : 0;
  close (fd);
  if (rv != 0 && rv != EOPNOTSUPP && rv != EINVAL)
    return lsp_error_set_errno (error, rv, _("Cannot reserve space for %s"), file->path);
  return TRUE;
}

gboolean
lsp_download_storage_prepare (int            root_fd,
                              LspManifest   *manifest,
                              GCancellable  *cancellable,
                              GError       **error)
{
  for (guint i = 0; i < lsp_manifest_get_n_files (manifest); i++)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
          !lsp_download_storage_prepare_file (root_fd, lsp_manifest_get_file (manifest, i), error))
        return FALSE;
    }
  return TRUE;
}

/* Where a download writes: the game root, or for an update the staging
 * folder in it, where the new version's changed files are built while the
 * old ones stay as they are. */
int
lsp_download_storage_open_payload (const char  *games_path,
                                   const char  *game_id,
                                   gboolean     staged,
                                   GError     **error)
{
  int root_fd = lsp_download_storage_open_root (games_path, game_id, FALSE, error);
  int fd;

  if (root_fd < 0 || !staged)
    return root_fd;
  fd = openat (root_fd, LSP_UPDATE_STAGING_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    lsp_error_set_errno (error, errno, _("Cannot open the update of %s"), game_id);
  close (root_fd);
  return fd;
}

/* Moves a staged file over the old one of the same path (or into a new
 * folder), a folder in the way included. */
gboolean
lsp_download_storage_move_staged (int          staging_fd,
                                  int          root_fd,
                                  const char  *path,
                                  GError     **error)
{
  const char *from_name, *to_name;
  int from_dir, to_dir;
  struct stat st;
  gboolean ok;

  from_dir = open_parent (staging_fd, path, FALSE, &from_name, error);
  if (from_dir < 0)
    return FALSE;
  to_dir = open_parent (root_fd, path, TRUE, &to_name, error);
  if (to_dir < 0)
    {
      close (from_dir);
      return FALSE;
    }
  ok = TRUE;
  if (fstatat (to_dir, to_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode))
    ok = lsp_fs_remove_tree_at (to_dir, to_name, error);
  if (ok && renameat (from_dir, from_name, to_dir, to_name) != 0)
    ok = lsp_error_set_errno (error, errno, _("Cannot move the new %s into place"), path);
  close (from_dir);
  close (to_dir);
  return ok;
}

/* The old sentinel is parked first: from now on the payload may change,
 * so the game must not claim any version until the new one is complete. */
gboolean
lsp_download_storage_begin_version (int      root_fd,
                                    GError **error)
{
  if (renameat (root_fd, LSP_VERSION_FILE, root_fd, LSP_VERSION_DISCARDED_FILE) != 0 && errno != ENOENT)
    return lsp_error_set_errno (error, errno, _("Cannot set %s aside"), LSP_VERSION_FILE);
  fsync (root_fd);
  return TRUE;
}

gboolean
lsp_download_storage_commit_version (int          root_fd,
                                     const char  *version,
                                     GError     **error)
{
  if (!lsp_fs_write_atomic_at (root_fd, LSP_VERSION_FILE, LSP_VERSION_TMP_FILE, version, strlen (version), error))
    return FALSE;
  unlinkat (root_fd, LSP_VERSION_DISCARDED_FILE, 0);
  return TRUE;
}

/* The parked sentinel is dropped, not restored: the payload under it may
 * have changed (ARCHITECTURE.md, "Cancel"). */
void
lsp_download_storage_rollback_version (int root_fd)
{
  unlinkat (root_fd, LSP_VERSION_TMP_FILE, 0);
  unlinkat (root_fd, LSP_VERSION_DISCARDED_FILE, 0);
}

gboolean
lsp_download_storage_write_state (int                     root_fd,
                                  const LspDownloadState *state,
                                  GError                **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *bits = g_base64_encode (state->verified, (state->n_chunks + 7) / 8);
  g_autofree char *data = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "format");
  json_builder_add_int_value (builder, STATE_FORMAT);
  json_builder_set_member_name (builder, "manifest_hash");
  json_builder_add_string_value (builder, state->manifest_hash);
  json_builder_set_member_name (builder, "chunks");
  json_builder_add_int_value (builder, state->n_chunks);
  json_builder_set_member_name (builder, "verified");
  json_builder_add_string_value (builder, bits);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  data = json_to_string (root, FALSE);
  return lsp_fs_write_atomic_at (root_fd, LSP_DOWNLOAD_STATE_FILE, LSP_DOWNLOAD_STATE_TMP_FILE,
                                 data, strlen (data), error);
}

/* NULL with a NOT_FOUND error when there is no state; a state file that
 * is malformed is an INVALID_DATA error. Its claims are checked by the
 * caller against the files before they are trusted. */
LspDownloadState *
lsp_download_storage_read_state (int      root_fd,
                                 GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(LspDownloadState) state = NULL;
  g_autofree char *data = NULL;
  g_autofree guint8 *bits = NULL;
  JsonObject *object;
  JsonNode *node;
  const char *hash, *encoded;
  guint8 digest[LSP_SHA256_LEN];
  gint64 format, n_chunks;
  gsize length, n_bits = 0;

  data = lsp_fs_read_small_at (root_fd, LSP_DOWNLOAD_STATE_FILE, STATE_MAX_SIZE, &length, error);
  if (data == NULL)
    return NULL;
  if (!json_parser_load_from_data (parser, data, (gssize) length, NULL) ||
      json_parser_get_root (parser) == NULL || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    goto invalid;
  object = json_node_get_object (json_parser_get_root (parser));
  if ((node = json_object_get_member (object, "format")) == NULL || json_node_get_value_type (node) != G_TYPE_INT64 ||
      (format = json_node_get_int (node)) != STATE_FORMAT ||
      (node = json_object_get_member (object, "chunks")) == NULL || json_node_get_value_type (node) != G_TYPE_INT64 ||
      (n_chunks = json_node_get_int (node)) < 0 || n_chunks > G_MAXUINT32 / 2 ||
      (node = json_object_get_member (object, "manifest_hash")) == NULL || json_node_get_value_type (node) != G_TYPE_STRING ||
      !lsp_sha256_from_hex (hash = json_node_get_string (node), digest) ||
      (node = json_object_get_member (object, "verified")) == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    goto invalid;
  encoded = json_node_get_string (node);
  bits = g_base64_decode (encoded, &n_bits);
  if (n_bits != ((gsize) n_chunks + 7) / 8)
    goto invalid;
  state = lsp_download_state_new (hash, (guint) n_chunks);
  memcpy (state->verified, bits, n_bits);
  return g_steal_pointer (&state);

invalid:
  g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, _("%s is malformed"), LSP_DOWNLOAD_STATE_FILE);
  return NULL;
}

void
lsp_download_storage_remove_state (int root_fd)
{
  unlinkat (root_fd, LSP_DOWNLOAD_STATE_FILE, 0);
  unlinkat (root_fd, LSP_DOWNLOAD_STATE_TMP_FILE, 0);
  fsync (root_fd);
}

/* The sweep after a cancel or a failure: everything but the preserved
 * names goes, and the game root too when nothing is left in it. */
gboolean
lsp_download_storage_discard (const char  *games_path,
                              const char  *game_id,
                              GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  struct dirent *entry;
  gboolean empty = TRUE;
  DIR *dir;
  int root_fd, games_fd;

  root_fd = lsp_download_storage_open_root (games_path, game_id, FALSE, &local_error);
  if (root_fd < 0)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  dir = fdopendir (root_fd);
  if (dir == NULL)
    {
      close (root_fd);
      return lsp_error_set_errno (error, errno, _("Cannot list the folder of %s"), game_id);
    }
  while ((entry = readdir (dir)) != NULL)
    {
      if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
        continue;
      if (is_preserved (entry->d_name))
        {
          empty = FALSE;
          continue;
        }
      if (!lsp_fs_remove_tree_at (dirfd (dir), entry->d_name, error))
        {
          closedir (dir);
          return FALSE;
        }
    }
  fsync (dirfd (dir));
  closedir (dir);

  if (empty && (games_fd = open (games_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
    {
      /* Another process may have put something there meanwhile: then it stays. */
      unlinkat (games_fd, game_id, AT_REMOVEDIR);
      fsync (games_fd);
      close (games_fd);
    }
  return TRUE;
}

/* "Remove files": only a game root that is a single direct child of the
 * games folder, holds a regular version.ini, and has nothing installed
 * or being installed. */
/* A folder below dir_fd, created when missing, never through a link. */
static int
open_folder_at (int          dir_fd,
                const char  *name,
                const char  *shown,
                GError     **error)
{
  int fd;

  if (mkdirat (dir_fd, name, 0755) != 0 && errno != EEXIST)
    {
      lsp_error_set_errno (error, errno, _("Cannot create %s in the games folder"), shown);
      return -1;
    }
  fd = openat (dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    lsp_error_set_errno (error, errno, _("Cannot open %s in the games folder"), shown);
  return fd;
}

/* <games>/.lanspread/trash */
static int
open_trash (int      games_fd,
            GError **error)
{
  int state_fd = open_folder_at (games_fd, LSP_STATE_DIR, LSP_STATE_DIR, error);
  int trash_fd;

  if (state_fd < 0)
    return -1;
  trash_fd = open_folder_at (state_fd, TRASH_DIR, LSP_STATE_DIR "/" TRASH_DIR, error);
  close (state_fd);
  return trash_fd;
}

gboolean
lsp_download_storage_remove_game (const char  *games_path,
                                  const char  *game_id,
                                  GError     **error)
{
  static const char * const install_names[] = { LSP_LOCAL_DIR, LSP_LOCAL_INSTALLING_DIR, LSP_LOCAL_BACKUP_DIR };
  g_autofree char *trashed = NULL;
  struct stat st;
  int games_fd, root_fd, trash_fd;
  gboolean ok;

  root_fd = lsp_download_storage_open_root (games_path, game_id, FALSE, error);
  if (root_fd < 0)
    return FALSE;
  if (fstatat (root_fd, LSP_VERSION_FILE, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG (st.st_mode))
    {
      close (root_fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("%s is not downloaded here (it has no %s), so there are no files to remove"),
                   game_id, LSP_VERSION_FILE);
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (install_names); i++)
    {
      if (fstatat (root_fd, install_names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
        {
          close (root_fd);
          g_set_error (error, LSP_ERROR, LSP_ERROR_BUSY,
                       _("%s is installed (it has %s/); uninstall it before removing its files"),
                       game_id, install_names[i]);
          return FALSE;
        }
    }
  close (root_fd);

  games_fd = open (games_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (games_fd < 0)
    return lsp_error_set_errno (error, errno, _("Cannot open the games folder %s"), games_path);
  trash_fd = open_trash (games_fd, error);
  if (trash_fd < 0)
    {
      close (games_fd);
      return FALSE;
    }
  /* One rename takes the whole game out of the library's view; a crash
   * after it leaves a folder in the trash, which the next start sweeps,
   * never a game root holding half its payload and no version.ini. */
  trashed = g_strdup_printf ("%s.%08x", game_id, g_random_int ());
  if (renameat (games_fd, game_id, trash_fd, trashed) != 0)
    {
      int saved_errno = errno;
      close (trash_fd);
      close (games_fd);
      return lsp_error_set_errno (error, saved_errno, _("Cannot remove the files of %s"), game_id);
    }
  fsync (games_fd);
  close (games_fd);
  ok = lsp_fs_remove_tree_at (trash_fd, trashed, error);
  close (trash_fd);
  return ok;
}

/* Finishes removals a crash interrupted. Worker-thread code. */
void
lsp_download_storage_sweep_trash (const char *games_path)
{
  g_autoptr(GError) error = NULL;
  struct dirent *entry;
  DIR *dir;
  int games_fd, trash_fd;

  games_fd = open (games_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (games_fd < 0)
    return;
  trash_fd = open_trash (games_fd, &error);
  close (games_fd);
  if (trash_fd < 0)
    return;
  dir = fdopendir (dup (trash_fd));
  while (dir != NULL && (entry = readdir (dir)) != NULL)
    {
      if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
        continue;
      if (!lsp_fs_remove_tree_at (trash_fd, entry->d_name, &error))
        {
          g_warning ("Could not finish removing %s: %s", entry->d_name, error->message);
          g_clear_error (&error);
        }
    }
  if (dir != NULL)
    closedir (dir);
  close (trash_fd);
}

/* The library keeps the manifests of the games it holds in "manifests"
 * (and prunes the others); a download keeps the one it is fetching in
 * "downloads" until it ends, so it survives a crash for the resume. */
static char *
manifest_path (const char *games_path,
               const char *folder,
               const char *manifest_hash)
{
  g_autofree char *name = g_strconcat (manifest_hash, ".json", NULL);

  return g_build_filename (games_path, LSP_STATE_DIR, folder, name, NULL);
}

char *
lsp_download_manifest_path (const char *games_path,
                            const char *manifest_hash)
{
  return manifest_path (games_path, "downloads", manifest_hash);
}

/* A manifest we have under manifest_hash: the library's, or the one a
 * download kept. */
LspManifest *
lsp_manifest_cache_load (const char  *games_path,
                         const char  *manifest_hash,
                         GError     **error)
{
  g_autofree char *cached = lsp_manifest_cache_path (games_path, manifest_hash);
  g_autofree char *kept = NULL;

  if (g_file_test (cached, G_FILE_TEST_IS_REGULAR))
    return lsp_manifest_load_file (cached, manifest_hash, error);
  kept = lsp_download_manifest_path (games_path, manifest_hash);
  return lsp_manifest_load_file (kept, manifest_hash, error);
}

/* Keeps a download's manifest until the download ends. */
gboolean
lsp_download_manifest_store (const char   *games_path,
                             LspManifest  *manifest,
                             GError      **error)
{
  g_autofree char *path = lsp_download_manifest_path (games_path, lsp_manifest_get_hash (manifest));
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(JsonNode) node = lsp_manifest_to_json (manifest);
  g_autofree char *data = json_to_string (node, FALSE);

  return lsp_fs_mkdir_p (dir, error) && lsp_fs_write_atomic (path, data, strlen (data), error);
}
