#define G_LOG_DOMAIN "lsp-game-root"

#include "config.h"

#include "lsp-game-root.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lsp-error.h"

gboolean
lsp_game_id_is_valid (const char *game_id)
{
  gsize len;

  if (game_id == NULL)
    return FALSE;

  len = strlen (game_id);
  if (len == 0 || len > LSP_GAME_ID_MAX_LEN || game_id[0] == '.')
    return FALSE;

  for (const char *p = game_id; *p; p++)
    {
      if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
        return FALSE;
    }

  return TRUE;
}

/* A path that a peer, an archive or a catalog gives us must stay inside the
 * folder it is relative to: no absolute paths, no “..”, no empty or “.”
 * components, no backslashes that another OS would read as separators. */
gboolean
lsp_relative_path_is_safe (const char *path)
{
  const char *component;
  gsize len;

  if (path == NULL)
    return FALSE;

  len = strlen (path);
  if (len == 0 || len > LSP_REL_PATH_MAX_LEN || path[0] == '/')
    return FALSE;
  if (!g_utf8_validate (path, (gssize) len, NULL))
    return FALSE;

  component = path;
  for (;;)
    {
      const char *slash = strchr (component, '/');
      gsize clen = slash ? (gsize) (slash - component) : strlen (component);

      if (clen == 0)
        return FALSE;
      if (clen == 1 && component[0] == '.')
        return FALSE;
      if (clen == 2 && component[0] == '.' && component[1] == '.')
        return FALSE;

      if (slash == NULL)
        break;
      component = slash + 1;
    }

  for (const char *p = path; *p; p++)
    {
      if (*p == '\\' || (guchar) *p < 0x20)
        return FALSE;
    }

  return TRUE;
}

/* Names in a game root that are not part of the downloadable payload.
 * They compare without case (Unicode case folding, so "LOCAL", "Version.ini"
 * and "ſync" match too): on a case-insensitive file system (a games folder
 * on exFAT, NTFS or a Samba share) such a payload file would be the
 * reserved one. */
gboolean
lsp_game_child_is_reserved (const char *name)
{
  g_autofree char *folded = NULL;

  static const char * const reserved[] = {
    LSP_VERSION_FILE,
    LSP_VERSION_TMP_FILE,
    LSP_VERSION_DISCARDED_FILE,
    LSP_LOCAL_DIR,
    LSP_LOCAL_INSTALLING_DIR,
    LSP_LOCAL_BACKUP_DIR,
    LSP_INTENT_FILE,
    LSP_INTENT_TMP_FILE,
    LSP_SOFTLAN_MARKER,
    LSP_SYNC_DIR,
    LSP_DOWNLOAD_STATE_FILE,
    LSP_DOWNLOAD_STATE_TMP_FILE,
    LSP_UPDATE_STAGING_DIR,
  };

  if (!g_utf8_validate (name, -1, NULL))
    return FALSE;
  folded = g_utf8_casefold (name, -1);
  for (guint i = 0; i < G_N_ELEMENTS (reserved); i++)
    {
      if (strcmp (folded, reserved[i]) == 0)
        return TRUE;
    }

  return FALSE;
}

gboolean
lsp_version_is_valid (const char *version)
{
  gsize len;

  if (version == NULL)
    return FALSE;

  len = strlen (version);
  if (len == 0 || len > LSP_VERSION_MAX_LEN)
    return FALSE;

  for (const char *p = version; *p; p++)
    {
      if (!g_ascii_isgraph (*p) && *p != ' ')
        return FALSE;
    }

  return TRUE;
}

/* Orders versions the way people read them: runs of digits compare as
 * numbers ("1.10" > "1.9", "20240101" > "20231231"), everything else byte
 * by byte. */
int
lsp_version_compare (const char *a,
                     const char *b)
{
  while (*a != '\0' && *b != '\0')
    {
      if (g_ascii_isdigit (*a) && g_ascii_isdigit (*b))
        {
          const char *a_end, *b_end;
          gsize a_len, b_len;
          int cmp;

          while (*a == '0' && g_ascii_isdigit (a[1]))
            a++;
          while (*b == '0' && g_ascii_isdigit (b[1]))
            b++;
          for (a_end = a; g_ascii_isdigit (*a_end); a_end++);
          for (b_end = b; g_ascii_isdigit (*b_end); b_end++);
          a_len = (gsize) (a_end - a);
          b_len = (gsize) (b_end - b);
          if (a_len != b_len)
            return a_len < b_len ? -1 : 1;
          if ((cmp = strncmp (a, b, a_len)) != 0)
            return cmp < 0 ? -1 : 1;
          a = a_end;
          b = b_end;
          continue;
        }
      if (*a != *b)
        return (guchar) *a < (guchar) *b ? -1 : 1;
      a++;
      b++;
    }

  return *a == *b ? 0 : (*a == '\0' ? -1 : 1);
}

/* Reads version.ini relative to an open game root. Returns NULL with
 * G_IO_ERROR_NOT_FOUND when the game is not downloaded. */
char *
lsp_game_root_read_version (int      root_fd,
                            GError **error)
{
  char buffer[LSP_VERSION_MAX_LEN * 4 + 1];
  g_autofree char *version = NULL;
  struct stat st;
  ssize_t n;
  int fd;

  fd = openat (root_fd, LSP_VERSION_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot open %s: %s"), LSP_VERSION_FILE, g_strerror (saved_errno));
      return NULL;
    }

  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                   _("%s is not a regular file"), LSP_VERSION_FILE);
      return NULL;
    }

  n = read (fd, buffer, sizeof buffer - 1);
  close (fd);
  if (n < 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot read %s: %s"), LSP_VERSION_FILE, g_strerror (saved_errno));
      return NULL;
    }
  buffer[n] = '\0';

  version = g_strstrip (g_strdup (buffer));
  if (!lsp_version_is_valid (version))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                   _("%s must hold one line of at most %d printable characters"),
                   LSP_VERSION_FILE, LSP_VERSION_MAX_LEN);
      return NULL;
    }

  return g_steal_pointer (&version);
}
