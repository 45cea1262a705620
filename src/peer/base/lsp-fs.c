#define G_LOG_DOMAIN "lsp-fs"

#include "config.h"

#include "lsp-fs.h"

#include "lsp-error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Writes everything or fails with errno set; a write that makes no
 * progress is a full disk. */
gboolean
lsp_fs_write_all (int          fd,
                  const char  *data,
                  gsize        length)
{
  while (length > 0)
    {
      ssize_t n = write (fd, data, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          if (n == 0)
            errno = ENOSPC;
          return FALSE;
        }
      data += n;
      length -= (gsize) n;
    }
  return TRUE;
}

static gboolean
write_replace (const char  *path,
               const char  *data,
               gsize        length,
               gboolean     durable,
               GError     **error)
{
  g_autofree char *tmp_path = g_strconcat (path, ".tmp", NULL);
  g_autofree char *dir_path = g_path_get_dirname (path);
  int saved_errno;
  int dir_fd;
  int fd;

  fd = open (tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return lsp_error_set_errno (error, errno, _("Could not create %s"), tmp_path);

  if (!lsp_fs_write_all (fd, data, length) || (durable && fsync (fd) != 0))
    {
      saved_errno = errno;
      close (fd);
      g_unlink (tmp_path);
      return lsp_error_set_errno (error, saved_errno, _("Could not write %s"), tmp_path);
    }

  if (close (fd) != 0)
    {
      saved_errno = errno;
      g_unlink (tmp_path);
      return lsp_error_set_errno (error, saved_errno, _("Could not write %s"), tmp_path);
    }

  if (rename (tmp_path, path) != 0)
    {
      saved_errno = errno;
      g_unlink (tmp_path);
      return lsp_error_set_errno (error, saved_errno, _("Could not replace %s"), path);
    }

  if (durable && (dir_fd = open (dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
    {
      fsync (dir_fd);
      close (dir_fd);
    }

  return TRUE;
}

/* Writes through a temporary file, fsyncs it, renames it over the target and
 * fsyncs the folder, so a crash leaves either the old or the new file. */
gboolean
lsp_fs_write_atomic (const char  *path,
                     const char  *data,
                     gsize        length,
                     GError     **error)
{
  return write_replace (path, data, length, TRUE, error);
}

/* Like lsp_fs_write_atomic without the fsyncs: for caches that are checked
 * when read and can be rebuilt, where a crash may lose the new file but
 * never leaves a half-written one under the final name. */
gboolean
lsp_fs_write_replace (const char  *path,
                      const char  *data,
                      gsize        length,
                      GError     **error)
{
  return write_replace (path, data, length, FALSE, error);
}

/* Removes name (a file or a whole folder) below dir_fd without ever following
 * a symbolic link out of it. */
gboolean
lsp_fs_remove_tree_at (int          dir_fd,
                       const char  *name,
                       GError     **error)
{
  struct dirent *entry;
  struct stat st;
  DIR *dir;
  int fd;

  if (fstatat (dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    {
      if (errno == ENOENT)
        return TRUE;
      return lsp_error_set_errno (error, errno, _("Could not inspect %s"), name);
    }

  if (!S_ISDIR (st.st_mode))
    {
      if (unlinkat (dir_fd, name, 0) != 0 && errno != ENOENT)
        return lsp_error_set_errno (error, errno, _("Could not remove %s"), name);
      return TRUE;
    }

  fd = openat (dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return lsp_error_set_errno (error, errno, _("Could not open %s"), name);

  dir = fdopendir (fd);
  if (dir == NULL)
    {
      int saved_errno = errno;
      close (fd);
      return lsp_error_set_errno (error, saved_errno, _("Could not list %s"), name);
    }

  while ((entry = readdir (dir)) != NULL)
    {
      if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
        continue;
      if (!lsp_fs_remove_tree_at (dirfd (dir), entry->d_name, error))
        {
          closedir (dir);
          return FALSE;
        }
    }
  closedir (dir);

  if (unlinkat (dir_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
    return lsp_error_set_errno (error, errno, _("Could not remove %s"), name);

  return TRUE;
}

gboolean
lsp_fs_mkdir_p (const char  *path,
                GError     **error)
{
  if (g_mkdir_with_parents (path, 0755) != 0)
    return lsp_error_set_errno (error, errno, _("Could not create the folder %s"), path);
  return TRUE;
}

/* tmp + fsync + rename + fsync of the folder, relative to an open folder so
 * the folder cannot be swapped under us. */
gboolean
lsp_fs_write_atomic_at (int          dir_fd,
                        const char  *name,
                        const char  *tmp_name,
                        const char  *data,
                        gsize        length,
                        GError     **error)
{
  int saved_errno;
  int fd;

  fd = openat (dir_fd, tmp_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return lsp_error_set_errno (error, errno, _("Could not write %s"), name);
  if (!lsp_fs_write_all (fd, data, length) || fsync (fd) != 0)
    {
      saved_errno = errno;
      close (fd);
      unlinkat (dir_fd, tmp_name, 0);
      return lsp_error_set_errno (error, saved_errno, _("Could not write %s"), name);
    }
  if (close (fd) != 0 || renameat (dir_fd, tmp_name, dir_fd, name) != 0)
    {
      saved_errno = errno;
      unlinkat (dir_fd, tmp_name, 0);
      return lsp_error_set_errno (error, saved_errno, _("Could not write %s"), name);
    }
  fsync (dir_fd);
  return TRUE;
}

/* Reads a whole regular file of at most max_size bytes, NUL-terminated,
 * without following a symbolic link or blocking on a FIFO. */
char *
lsp_fs_read_small_at (int          dir_fd,
                      const char  *name,
                      gsize        max_size,
                      gsize       *out_length,
                      GError     **error)
{
  g_autofree char *data = NULL;
  struct stat st;
  gsize done = 0;
  int fd;

  fd = openat (dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    {
      lsp_error_set_errno (error, errno, _("Cannot open %s"), name);
      return NULL;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || (guint64) st.st_size > max_size)
    {
      close (fd);
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                   _("%s is not a regular file of at most %zu bytes"), name, max_size);
      return NULL;
    }

  data = g_malloc ((gsize) st.st_size + 1);
  while (done < (gsize) st.st_size)
    {
      ssize_t n = read (fd, data + done, (gsize) st.st_size - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      done += (gsize) n;
    }
  close (fd);
  data[done] = '\0';
  *out_length = done;
  return g_steal_pointer (&data);
}
