#define G_LOG_DOMAIN "lsp-install"

#include "config.h"

#include "lsp-install-private.h"

#include "lsp-error.h"
#include "lsp-fs.h"
#include "lsp-game-root.h"
#include "lsp-install-record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static gboolean
copy_file_at (int          from_fd,
              const char  *from_name,
              int          to_fd,
              const char  *to_name,
              const struct stat *st)
{
  char buffer[64 * 1024];
  gboolean ok = TRUE;
  int in, out;

  if (S_ISLNK (st->st_mode))
    {
      char target[PATH_MAX];
      ssize_t n = readlinkat (from_fd, from_name, target, sizeof target - 1);

      if (n < 0)
        return FALSE;
      target[n] = '\0';
      return symlinkat (target, to_fd, to_name) == 0;
    }

  in = openat (from_fd, from_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0)
    return FALSE;
  out = openat (to_fd, to_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st->st_mode & 0777);
  if (out < 0)
    {
      close (in);
      return FALSE;
    }
  for (;;)
    {
      ssize_t n = read (in, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          ok = n == 0;
          break;
        }
      if (!lsp_fs_write_all (out, buffer, (gsize) n))
        {
          ok = FALSE;
          break;
        }
    }
  if (ok)
    {
      struct timespec times[2] = { st->st_atim, st->st_mtim };
      futimens (out, times);
    }
  close (in);
  if (close (out) != 0)
    ok = FALSE;
  return ok;
}

/* Hard links make carrying a file over free and leave the backup intact
 * until the swap; file systems without hard links get a copy. */
static gboolean
carry_entry (int                from_fd,
             const char        *name,
             int                to_fd,
             const char        *to_name,
             const struct stat *st)
{
  if (linkat (from_fd, name, to_fd, to_name, 0) == 0)
    return TRUE;
  if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != EOPNOTSUPP)
    return FALSE;
  return copy_file_at (from_fd, name, to_fd, to_name, st);
}

/* The update policy for the player's files, walked over the previous
 * install (now the backup) into the new version's staging folder:
 * - a file the old version shipped, unchanged since (same size and mtime
 *   as recorded in the marker), is the game's: it is dropped, so files the
 *   new version no longer ships go away;
 * - any other file (saves, configs, screenshots, mods) is the player's: it
 *   is carried over to the same path, or, where the new version ships a file
 *   of that name, kept next to it as NAME.lanspread-old;
 * - without a record (an install by another tool), nothing is dropped and
 *   the new version's files win where names clash. */
static gboolean
carry_player_files (const char  *game_id,
                    int          from_fd,
                    int          to_fd,
                    const char  *prefix,
                    GHashTable  *old_files,
                    GError     **error)
{
  struct dirent *entry;
  gboolean ok = TRUE;
  DIR *dir;
  int fd;

  fd = dup (from_fd);
  if (fd < 0 || (dir = fdopendir (fd)) == NULL)
    {
      int saved_errno = errno;
      if (fd >= 0)
        close (fd);
      return _lsp_install_set_errno (error, saved_errno, game_id, C_("failed action", "list the previous install"));
    }
  rewinddir (dir);

  while (ok && (entry = readdir (dir)) != NULL)
    {
      const char *name = entry->d_name;
      g_autofree char *path = NULL;
      struct stat st, existing;
      gboolean clash;

      if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
        continue;
      if (prefix[0] == '\0' && (strcmp (name, LSP_OWNED_MARKER) == 0 || strcmp (name, LSP_OWNED_TMP_FILE) == 0))
        continue;
      if (fstatat (from_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        continue;

      path = prefix[0] ? g_strconcat (prefix, "/", name, NULL) : g_strdup (name);
      clash = fstatat (to_fd, name, &existing, AT_SYMLINK_NOFOLLOW) == 0;

      if (S_ISDIR (st.st_mode))
        {
          int sub_from, sub_to;

          if (clash && !S_ISDIR (existing.st_mode))
            {
              g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                           _("Cannot keep your folder “%s” of %s: the new version ships a file with that name. "
                           "The update was undone; move the folder away and update again."),
                           path, game_id);
              ok = FALSE;
              break;
            }
          if (!clash && mkdirat (to_fd, name, st.st_mode & 0777) != 0)
            {
              ok = _lsp_install_set_errno (error, errno, game_id, C_("failed action", "keep a folder of the player's files"));
              break;
            }
          sub_from = openat (from_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          sub_to = openat (to_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (sub_from < 0 || sub_to < 0)
            ok = _lsp_install_set_errno (error, errno, game_id, C_("failed action", "open a folder of the player's files"));
          else
            ok = carry_player_files (game_id, sub_from, sub_to, path, old_files, error);
          if (sub_from >= 0)
            close (sub_from);
          if (sub_to >= 0)
            close (sub_to);
          continue;
        }

      if (!S_ISREG (st.st_mode) && !S_ISLNK (st.st_mode))
        continue;

      if (old_files != NULL)
        {
          const LspInstalledFile *shipped = g_hash_table_lookup (old_files, path);

          /* Links keep the mtime of their creation, so a shipped link is
           * recognised by its kind and the length of its target. */
          if (shipped != NULL && !shipped->is_link && S_ISREG (st.st_mode) &&
              (guint64) st.st_size == shipped->size && (gint64) st.st_mtim.tv_sec == shipped->mtime)
            continue;
          if (shipped != NULL && shipped->is_link && S_ISLNK (st.st_mode) &&
              (guint64) st.st_size == shipped->size)
            continue;
        }
      else if (clash)
        continue;

      if (clash)
        {
          g_autofree char *kept = g_strconcat (name, LSP_PLAYER_COPY_SUFFIX, NULL);

          lsp_fs_remove_tree_at (to_fd, kept, NULL);
          if (!carry_entry (from_fd, name, to_fd, kept, &st))
            ok = _lsp_install_set_errno (error, errno, game_id, C_("failed action", "keep one of the player's files"));
        }
      else if (!carry_entry (from_fd, name, to_fd, name, &st))
        ok = _lsp_install_set_errno (error, errno, game_id, C_("failed action", "keep one of the player's files"));
    }

  closedir (dir);
  return ok;
}

gboolean
_lsp_install_carry_over (int          root_fd,
                         const char  *game_id,
                         GError     **error)
{
  g_autoptr(GHashTable) old_files = NULL;
  int from_fd, to_fd;
  gboolean ok;

  from_fd = openat (root_fd, LSP_LOCAL_BACKUP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (from_fd < 0)
    return _lsp_install_set_errno (error, errno, game_id, C_("failed action", "open the previous install"));
  to_fd = openat (root_fd, LSP_LOCAL_INSTALLING_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (to_fd < 0)
    {
      close (from_fd);
      return _lsp_install_set_errno (error, errno, game_id, C_("failed action", "open the staging folder"));
    }

  old_files = lsp_install_record_read (from_fd, NULL);
  ok = carry_player_files (game_id, from_fd, to_fd, "", old_files, error);
  close (from_fd);
  close (to_fd);
  return ok;
}
