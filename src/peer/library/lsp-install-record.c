#define G_LOG_DOMAIN "lsp-install-record"

#include "config.h"

#include "lsp-install-record.h"

#include "lsp-fs.h"
#include "lsp-game-root.h"
#include "lsp-sha256.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#define RECORD_HEADER   "lanspread-owned 1"
#define RECORD_MAX_SIZE (256 * 1024 * 1024)

/* Whether dir_name (below root_fd) carries our ownership marker. */
gboolean
lsp_install_record_present (int         root_fd,
                            const char *dir_name)
{
  g_autofree char *path = g_build_filename (dir_name, LSP_OWNED_MARKER, NULL);
  struct stat st;

  return fstatat (root_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode);
}

/* The marker records the version and every file the archives wrote, with
 * size and mtime, so an update can tell the files the player created or
 * changed from the ones the game shipped, and a file's content hash
 * ("F" lines; "f" when there is none), so a verify can tell a damaged file
 * from a sound one. files maps a relative path to an LspInstalledFile. */
gboolean
lsp_install_record_write (int          dir_fd,
                          const char  *version,
                          GHashTable  *files,
                          GError     **error)
{
  g_autoptr(GString) text = g_string_new (RECORD_HEADER "\n");
  GHashTableIter iter;
  gpointer key, value;

  if (version != NULL)
    g_string_append_printf (text, "version %s\n", version);
  if (files != NULL)
    {
      g_hash_table_iter_init (&iter, files);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          const LspInstalledFile *file = value;
          char hex[LSP_SHA256_HEX_LEN + 1];

          if (!file->is_link && file->has_hash)
            {
              lsp_sha256_to_hex (file->sha256, hex);
              g_string_append_printf (text, "F %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT " %s %s\n",
                                      file->size, file->mtime, hex, (const char *) key);
            }
          else
            g_string_append_printf (text, "%c %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT " %s\n",
                                    file->is_link ? 'l' : 'f', file->size, file->mtime, (const char *) key);
        }
    }

  return lsp_fs_write_atomic_at (dir_fd, LSP_OWNED_MARKER, LSP_OWNED_TMP_FILE, text->str, text->len, error);
}

/* Returns the recorded files, or NULL when the folder has no record (it was
 * installed by another tool, or before the record existed). Unsafe paths
 * and malformed lines are skipped: the record is untrusted input. */
GHashTable *
lsp_install_record_read (int    dir_fd,
                         char **out_version)
{
  g_autoptr(GHashTable) files = NULL;
  g_autofree char *data = NULL;
  g_auto(GStrv) lines = NULL;
  gsize length;

  if (out_version != NULL)
    *out_version = NULL;

  data = lsp_fs_read_small_at (dir_fd, LSP_OWNED_MARKER, RECORD_MAX_SIZE, &length, NULL);
  if (data == NULL || !g_str_has_prefix (data, RECORD_HEADER "\n"))
    return NULL;

  files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  lines = g_strsplit (data, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      const char *line = lines[i];

      if (g_str_has_prefix (line, "version ") && out_version != NULL)
        {
          g_free (*out_version);
          *out_version = g_strdup (line + strlen ("version "));
        }
      else if (g_str_has_prefix (line, "f ") || g_str_has_prefix (line, "l ") || g_str_has_prefix (line, "F "))
        {
          LspInstalledFile file = { 0 };
          char *end;
          const char *path;

          file.is_link = line[0] == 'l';
          file.size = g_ascii_strtoull (line + 2, &end, 10);
          if (*end != ' ')
            continue;
          file.mtime = g_ascii_strtoll (end + 1, &end, 10);
          if (*end != ' ')
            continue;
          path = end + 1;
          if (line[0] == 'F')
            {
              g_autofree char *hex = g_strndup (path, LSP_SHA256_HEX_LEN);

              if (!lsp_sha256_from_hex (hex, file.sha256) || path[LSP_SHA256_HEX_LEN] != ' ')
                continue;
              file.has_hash = TRUE;
              path += LSP_SHA256_HEX_LEN + 1;
            }
          if (lsp_relative_path_is_safe (path))
            g_hash_table_replace (files, g_strdup (path), g_memdup2 (&file, sizeof file));
        }
    }

  return g_steal_pointer (&files);
}
