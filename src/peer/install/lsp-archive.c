#define G_LOG_DOMAIN "lsp-archive"

#include "config.h"

#include "lsp-archive.h"

#include "lsp-error.h"
#include "lsp-game-root.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define READ_BLOCK_SIZE      (64 * 1024)
#define PROGRESS_EVERY_BYTES (8 * 1024 * 1024)

struct _LspExtractor
{
  char                   *target_path;
  int                     target_fd;

  /* Archives list their entries folder by folder, so keeping the last
   * parent folder open saves walking the path for almost every entry. */
  char                   *parent_path;
  int                     parent_fd;

  GHashTable             *files;   /* path → LspInstalledFile */
  GHashTable             *only;    /* paths to extract, or NULL for all */
  GPtrArray              *links;   /* paths of symbolic links, checked at the end */
  guint64                 bytes;
  guint64                 entries;
  guint64                 reported_bytes;

  guint64                 headers;          /* read from all archives, extracted or not */
  guint                   max_archive_entries;
  guint                   max_entries;
  guint64                 expected_bytes;   /* to be written in all, or 0: unknown */
  guint64                 space_check_bytes;
  guint64                 min_free_bytes;
  guint64                 next_space_check; /* at this many bytes written */
  LspExtractProgressFunc  progress_func;
  gpointer                progress_data;
};

static struct archive *
archive_reader_new (void)
{
  struct archive *a = archive_read_new ();

  archive_read_support_filter_all (a);
  archive_read_support_format_all (a);
  return a;
}

static gboolean
set_unreadable_error (GError         **error,
                      const char      *archive_path,
                      struct archive  *a)
{
  const char *detail = archive_error_string (a);

  g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
               _("Cannot read the archive %s: %s. The file is damaged, incomplete or not an archive; "
               "remove it and download the game again."),
               archive_path, detail != NULL ? detail : _("unknown format"));
  return FALSE;
}

G_GNUC_PRINTF (4, 5)
static gboolean
set_unsafe_error (GError    **error,
                  const char *archive_path,
                  const char *entry_path,
                  const char *format,
                  ...)
{
  /* Translators: the reason that follows completes the sentence, like
   * "The archive X is unsafe: entry “Y” has no name." */
  g_autofree char *where = g_strdup_printf (_("The archive %s is unsafe: entry “%s” "), archive_path, entry_path);
  va_list args;

  va_start (args, format);
  lsp_error_set_invalid_valist (error, where,
                                _(". Nothing was installed; ask whoever shared the game for a clean archive."),
                                format, args);
  va_end (args);
  return FALSE;
}

static gboolean
set_write_error (GError    **error,
                 int         saved_errno,
                 const char *archive_path,
                 const char *entry_path)
{
  if (saved_errno == ENOSPC || saved_errno == EFBIG || saved_errno == EDQUOT)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                 _("Not enough disk space to extract %s (writing “%s”: %s). "
                 "Free some space on the games folder's disk and install again."),
                 archive_path, entry_path, g_strerror (saved_errno));
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                 _("Could not extract “%s” from %s: %s"),
                 entry_path, archive_path, g_strerror (saved_errno));
  return FALSE;
}

gboolean
lsp_archive_measure (const char  *archive_path,
                     guint64     *out_size,
                     gboolean    *out_exact,
                     GError     **error)
{
  struct archive *a = archive_reader_new ();
  struct archive_entry *entry;
  guint64 total = 0;
  gboolean exact = TRUE;
  struct stat st;
  int r;

  *out_size = 0;
  *out_exact = FALSE;

  if (stat (archive_path, &st) != 0)
    {
      int saved_errno = errno;
      archive_read_free (a);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot open the archive %s: %s"), archive_path, g_strerror (saved_errno));
      return FALSE;
    }

  if (archive_read_open_filename (a, archive_path, READ_BLOCK_SIZE) != ARCHIVE_OK)
    {
      set_unreadable_error (error, archive_path, a);
      archive_read_free (a);
      return FALSE;
    }

  while ((r = archive_read_next_header (a, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN)
    {
      /* Sizes of a compressed stream are only known by decompressing all of
       * it; the compressed size is then the best cheap lower bound. */
      if (archive_filter_code (a, 0) != ARCHIVE_FILTER_NONE)
        {
          archive_read_free (a);
          *out_size = (guint64) st.st_size;
          return TRUE;
        }
      if (archive_entry_size_is_set (entry) && archive_entry_size (entry) > 0)
        total += (guint64) archive_entry_size (entry);
      /* A streamed zip entry says its size only after its data. */
      else if (!archive_entry_size_is_set (entry) && archive_entry_filetype (entry) == AE_IFREG)
        exact = FALSE;
    }

  if (r != ARCHIVE_EOF)
    {
      set_unreadable_error (error, archive_path, a);
      archive_read_free (a);
      return FALSE;
    }

  archive_read_free (a);
  *out_size = total;
  *out_exact = exact;
  return TRUE;
}

LspExtractor *
lsp_extractor_new (const char  *target_path,
                   GError     **error)
{
  LspExtractor *self;
  int fd;

  fd = open (target_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot open the folder %s to extract into: %s"), target_path, g_strerror (saved_errno));
      return NULL;
    }

  self = g_new0 (LspExtractor, 1);
  self->target_path = g_strdup (target_path);
  self->target_fd = fd;
  self->parent_fd = -1;
  self->files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->links = g_ptr_array_new_with_free_func (g_free);
  self->max_archive_entries = LSP_ARCHIVE_MAX_ENTRIES;
  self->max_entries = LSP_EXTRACT_MAX_ENTRIES;
  self->space_check_bytes = LSP_EXTRACT_SPACE_CHECK_BYTES;
  self->min_free_bytes = LSP_EXTRACT_MIN_FREE_BYTES;
  self->next_space_check = self->space_check_bytes;
  return self;
}

void
lsp_extractor_free (LspExtractor *self)
{
  if (self == NULL)
    return;
  if (self->parent_fd >= 0)
    close (self->parent_fd);
  close (self->target_fd);
  g_free (self->parent_path);
  g_free (self->target_path);
  g_hash_table_unref (self->files);
  g_clear_pointer (&self->only, g_hash_table_unref);
  g_ptr_array_unref (self->links);
  g_free (self);
}

void
lsp_extractor_set_progress_func (LspExtractor           *self,
                                 LspExtractProgressFunc  func,
                                 gpointer                user_data)
{
  self->progress_func = func;
  self->progress_data = user_data;
}

GHashTable *
lsp_extractor_get_files (LspExtractor *self)
{
  return self->files;
}

guint64
lsp_extractor_get_bytes (LspExtractor *self)
{
  return self->bytes;
}

guint64
lsp_extractor_get_entries (LspExtractor *self)
{
  return self->entries;
}

/* The archives' exact uncompressed size (lsp_archive_measure()), so the
 * disk must keep room for what is still to come. No file writes past its
 * declared size, so neither does the whole. */
void
lsp_extractor_set_expected_size (LspExtractor *self,
                                 guint64       bytes)
{
  self->expected_bytes = bytes;
}

/* Defaults LSP_ARCHIVE_MAX_ENTRIES and LSP_EXTRACT_MAX_ENTRIES; tests
 * make them small rather than build huge archives. */
void
lsp_extractor_set_entry_limits (LspExtractor *self,
                                guint         per_archive,
                                guint         in_all)
{
  self->max_archive_entries = per_archive;
  self->max_entries = in_all;
}

/* Defaults LSP_EXTRACT_SPACE_CHECK_BYTES and LSP_EXTRACT_MIN_FREE_BYTES,
 * sized for real disks; tests scale them to a small file system. */
void
lsp_extractor_set_space_check (LspExtractor *self,
                               guint64       every_bytes,
                               guint64       min_free_bytes)
{
  g_return_if_fail (every_bytes > 0);

  self->space_check_bytes = every_bytes;
  self->min_free_bytes = min_free_bytes;
  self->next_space_check = self->bytes + every_bytes;
}

/* The check before extraction trusted the archives' headers, or had only
 * the compressed size; a compressed stream that expands without end, or
 * another program filling the disk, is caught here before the disk is
 * full for everyone. */
static gboolean
check_space_left (LspExtractor  *self,
                  const char    *archive_path,
                  GError       **error)
{
  g_autofree char *written_text = NULL;
  g_autofree char *free_text = NULL;
  struct statvfs vfs;
  guint64 available;

  self->next_space_check = self->bytes + self->space_check_bytes;
  if (fstatvfs (self->target_fd, &vfs) != 0)
    return TRUE;  /* cannot tell: a full disk still fails the write */
  available = (guint64) vfs.f_bavail * (guint64) vfs.f_frsize;
  free_text = g_format_size (available);

  if (self->expected_bytes > 0)
    {
      guint64 still_to_write = self->expected_bytes - MIN (self->bytes, self->expected_bytes);
      g_autofree char *still_text = g_format_size (still_to_write);

      if (available >= still_to_write)
        return TRUE;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   _("Not enough disk space to extract %s: %s still to write and only %s left free, "
                     "as something else is filling the disk. Free some space and install again."),
                   archive_path, still_text, free_text);
      return FALSE;
    }

  if (available >= self->min_free_bytes)
    return TRUE;
  written_text = g_format_size (self->bytes);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
               _("Not enough disk space to extract %s: it expanded to %s so far and only %s is left free. "
                 "Free some space on the games folder's disk and install again."),
               archive_path, written_text, free_text);
  return FALSE;
}

static void
report_progress (LspExtractor *self)
{
  self->reported_bytes = self->bytes;
  if (self->progress_func != NULL)
    self->progress_func (self->bytes, self->entries, self->progress_data);
}

/* "./a/b/" → "a/b", and "a\b" → "a/b" (archives made by Windows tools);
 * absolute paths are left alone so the safety check rejects them. Returns an
 * empty string for the archive's root itself. */
static char *
normalize_entry_path (const char *raw_path)
{
  g_autofree char *copy = g_strdelimit (g_strdup (raw_path), "\\", '/');
  const char *raw = copy;
  gsize len;

  while (raw[0] == '.' && raw[1] == '/')
    {
      raw += 2;
      while (raw[0] == '/')
        raw++;
    }
  if (strcmp (raw, ".") == 0)
    raw = "";

  len = strlen (raw);
  while (len > 1 && raw[len - 1] == '/')
    len--;
  if (len == 1 && raw[0] == '/')
    return g_strdup ("/");
  return g_strndup (raw, len);
}

/* Opens (creating what is missing) the folder rel_dir below the target,
 * refusing to pass through anything that is not a real folder, so no entry
 * can be written through a symbolic link. */
static int
open_dir_path (LspExtractor  *self,
               const char    *rel_dir,
               gboolean       create,
               const char    *archive_path,
               const char    *entry_path,
               GError       **error)
{
  g_auto(GStrv) components = NULL;
  int fd;

  fd = dup (self->target_fd);
  if (fd < 0)
    {
      set_write_error (error, errno, archive_path, entry_path);
      return -1;
    }
  if (rel_dir[0] == '\0')
    return fd;

  components = g_strsplit (rel_dir, "/", -1);
  for (guint i = 0; components[i] != NULL; i++)
    {
      int next = openat (fd, components[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

      if (next < 0 && errno == ENOENT && create)
        {
          if (mkdirat (fd, components[i], 0755) != 0 && errno != EEXIST)
            {
              int saved_errno = errno;
              close (fd);
              set_write_error (error, saved_errno, archive_path, entry_path);
              return -1;
            }
          next = openat (fd, components[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
      if (next < 0)
        {
          int saved_errno = errno;
          close (fd);
          if (saved_errno == ELOOP || saved_errno == ENOTDIR)
            set_unsafe_error (error, archive_path, entry_path,
                              _("goes through “%s”, which is not a folder (a symbolic link or a file)"),
                              components[i]);
          else
            set_write_error (error, saved_errno, archive_path, entry_path);
          return -1;
        }
      close (fd);
      fd = next;
    }
  return fd;
}

static int
open_parent (LspExtractor  *self,
             const char    *rel_dir,
             const char    *archive_path,
             const char    *entry_path,
             GError       **error)
{
  int fd;

  if (self->parent_fd >= 0 && g_strcmp0 (self->parent_path, rel_dir) == 0)
    return self->parent_fd;

  fd = open_dir_path (self, rel_dir, TRUE, archive_path, entry_path, error);
  if (fd < 0)
    return -1;
  if (self->parent_fd >= 0)
    close (self->parent_fd);
  g_free (self->parent_path);
  self->parent_path = g_strdup (rel_dir);
  self->parent_fd = fd;
  return fd;
}

/* Makes room for a new non-folder entry where an earlier one (from this or
 * an earlier archive) may stand: later archives override earlier ones. */
static gboolean
clear_slot (int          parent_fd,
            const char  *base,
            const char  *archive_path,
            const char  *entry_path,
            GError     **error)
{
  struct stat st;

  if (fstatat (parent_fd, base, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return TRUE;
  if (S_ISDIR (st.st_mode))
    return set_unsafe_error (error, archive_path, entry_path, _("would replace a folder of the same name"));
  if (unlinkat (parent_fd, base, 0) != 0 && errno != ENOENT)
    return set_write_error (error, errno, archive_path, entry_path);
  return TRUE;
}

/* Whether a link target, read from the link's own folder, stays inside the
 * target folder by its spelling alone. */
static gboolean
link_target_stays_inside (const char *entry_path,
                          const char *target)
{
  g_auto(GStrv) parts = NULL;
  int depth = 0;

  if (target[0] == '\0' || target[0] == '/')
    return FALSE;

  for (const char *p = entry_path; *p; p++)
    depth += *p == '/';

  parts = g_strsplit (target, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (parts[i][0] == '\0' || strcmp (parts[i], ".") == 0)
        continue;
      if (strcmp (parts[i], "..") == 0)
        {
          if (--depth < 0)
            return FALSE;
        }
      else
        depth++;
    }
  return TRUE;
}

static gboolean
write_file (LspExtractor          *self,
            struct archive        *a,
            struct archive_entry  *entry,
            int                    parent_fd,
            const char            *base,
            const char            *path,
            mode_t                 perms,
            const char            *archive_path,
            GCancellable          *cancellable,
            GError               **error)
{
  static const guint8 zeros[READ_BLOCK_SIZE];
  g_autoptr(LspSha256) sha = lsp_sha256_new ();
  gboolean hashed = TRUE;  /* the blocks came in order, so the hash is the content's */
  LspInstalledFile *record;
  struct timespec times[2];
  guint64 end = 0;
  int fd;

  if (!clear_slot (parent_fd, base, archive_path, path, error))
    return FALSE;

  fd = openat (parent_fd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perms);
  if (fd < 0)
    return set_write_error (error, errno, archive_path, path);

  for (;;)
    {
      const void *buffer;
      size_t size;
      la_int64_t offset;
      int r = archive_read_data_block (a, &buffer, &size, &offset);

      if (r == ARCHIVE_EOF)
        break;
      if (r < ARCHIVE_WARN)
        {
          close (fd);
          return set_unreadable_error (error, archive_path, a);
        }
      /* libarchive hands out what a (sparse) map or a compressed stream
       * holds, even past the size the header declares. */
      if (archive_entry_size_is_set (entry) && offset >= 0 &&
          (guint64) offset + size > (guint64) archive_entry_size (entry))
        {
          g_autofree char *declared = g_format_size_full ((guint64) archive_entry_size (entry),
                                                          G_FORMAT_SIZE_LONG_FORMAT);
          close (fd);
          return set_unsafe_error (error, archive_path, path, _("expands beyond the %s its header declares"),
                                   declared);
        }

      for (size_t done = 0; done < size;)
        {
          ssize_t n = pwrite (fd, (const char *) buffer + done, size - done, (off_t) offset + (off_t) done);

          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            {
              int saved_errno = n < 0 ? errno : ENOSPC;
              close (fd);
              return set_write_error (error, saved_errno, archive_path, path);
            }
          done += (size_t) n;
        }

      /* The content hash costs no second read: it is taken from the
       * blocks as they are written, holes as the zeros they read as. */
      if ((guint64) offset < end)
        hashed = FALSE;
      for (guint64 gap = (guint64) offset - MIN (end, (guint64) offset); hashed && gap > 0;)
        {
          gsize n = (gsize) MIN (gap, (guint64) sizeof zeros);

          lsp_sha256_update (sha, zeros, n);
          gap -= n;
        }
      if (hashed)
        lsp_sha256_update (sha, buffer, size);
      end = MAX (end, (guint64) offset + size);
      self->bytes += size;
      if (self->bytes >= self->next_space_check && !check_space_left (self, archive_path, error))
        {
          close (fd);
          return FALSE;
        }
      if (self->bytes - self->reported_bytes >= PROGRESS_EVERY_BYTES)
        {
          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            {
              close (fd);
              return FALSE;
            }
          report_progress (self);
        }
    }

  /* A sparse file's trailing hole is not in any data block. */
  if (archive_entry_size_is_set (entry) && (guint64) archive_entry_size (entry) > end)
    {
      for (guint64 gap = (guint64) archive_entry_size (entry) - end; hashed && gap > 0;)
        {
          gsize n = (gsize) MIN (gap, (guint64) sizeof zeros);

          lsp_sha256_update (sha, zeros, n);
          gap -= n;
        }
      end = (guint64) archive_entry_size (entry);
      if (ftruncate (fd, (off_t) end) != 0)
        {
          int saved_errno = errno;
          close (fd);
          return set_write_error (error, saved_errno, archive_path, path);
        }
    }

  times[0].tv_sec = times[1].tv_sec = archive_entry_mtime (entry);
  times[0].tv_nsec = times[1].tv_nsec = archive_entry_mtime_nsec (entry);
  futimens (fd, times);

  /* close() is where some file systems report that the disk is full. */
  if (close (fd) != 0)
    return set_write_error (error, errno, archive_path, path);

  record = g_new0 (LspInstalledFile, 1);
  record->size = end;
  record->mtime = (gint64) archive_entry_mtime (entry);
  record->has_hash = hashed;
  lsp_sha256_finish (sha, record->sha256);
  g_hash_table_replace (self->files, g_strdup (path), record);
  return TRUE;
}

static gboolean
write_hardlink (LspExtractor  *self,
                const char    *raw_source,
                int            parent_fd,
                const char    *base,
                const char    *path,
                const char    *archive_path,
                GError       **error)
{
  g_autofree char *source = normalize_entry_path (raw_source);
  g_autofree char *source_dir = NULL;
  g_autofree char *source_base = NULL;
  LspInstalledFile *source_record;
  struct stat st;
  gboolean ok = TRUE;
  int source_fd;

  if (!lsp_relative_path_is_safe (source))
    return set_unsafe_error (error, archive_path, path, _("is a hard link to “%s”, outside the game folder"), raw_source);

  source_dir = g_path_get_dirname (source);
  source_base = g_path_get_basename (source);
  source_fd = open_dir_path (self, strcmp (source_dir, ".") == 0 ? "" : source_dir, FALSE,
                             archive_path, path, error);
  if (source_fd < 0)
    return FALSE;

  if (fstatat (source_fd, source_base, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG (st.st_mode))
    ok = set_unsafe_error (error, archive_path, path,
                           _("is a hard link to “%s”, which is not a file extracted before it"), source);
  else if (!clear_slot (parent_fd, base, archive_path, path, error))
    ok = FALSE;
  else if (linkat (source_fd, source_base, parent_fd, base, 0) != 0)
    ok = set_write_error (error, errno, archive_path, path);
  close (source_fd);

  if (ok && (source_record = g_hash_table_lookup (self->files, source)) != NULL)
    g_hash_table_replace (self->files, g_strdup (path), g_memdup2 (source_record, sizeof *source_record));
  return ok;
}

static gboolean
extract_entry (LspExtractor          *self,
               struct archive        *a,
               struct archive_entry  *entry,
               const char            *archive_path,
               GCancellable          *cancellable,
               GError               **error)
{
  const char *raw = archive_entry_pathname_utf8 (entry);
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  const char *hardlink = archive_entry_hardlink_utf8 (entry);
  mode_t type = archive_entry_filetype (entry);
  mode_t mode = archive_entry_perm (entry) | (archive_entry_mode (entry) & (S_ISUID | S_ISGID));
  char *slash;
  int parent_fd;

  if (raw == NULL)
    raw = archive_entry_pathname (entry);
  if (raw == NULL)
    return set_unsafe_error (error, archive_path, "(unnamed)", _("has no name"));

  path = normalize_entry_path (raw);
  if (path[0] == '\0')
    return TRUE;
  if (!g_utf8_validate (path, -1, NULL))
    return set_unsafe_error (error, archive_path, raw, _("has a name that is not valid UTF-8"));
  if (!lsp_relative_path_is_safe (path))
    return set_unsafe_error (error, archive_path, raw,
                             _("is an absolute path or leaves the game folder through “..”"));
  if (strcmp (path, LSP_OWNED_MARKER) == 0 || g_str_has_prefix (path, LSP_OWNED_MARKER "/"))
    return set_unsafe_error (error, archive_path, raw, _("uses a name reserved for Lanspread"));
  if ((mode & (S_ISUID | S_ISGID)) != 0)
    return set_unsafe_error (error, archive_path, raw, _("has the setuid or setgid bit set"));
  if (hardlink == NULL)
    hardlink = archive_entry_hardlink (entry);
  if (hardlink == NULL && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
    return set_unsafe_error (error, archive_path, raw, _("is a device node, FIFO or socket"));

  /* A repair wants a few files: the rest is read past, and folders are
   * made on the way to what is wanted. */
  if (self->only != NULL && (type == AE_IFDIR || !g_hash_table_contains (self->only, path)))
    return TRUE;

  slash = strrchr (path, '/');
  dir = slash != NULL ? g_strndup (path, (gsize) (slash - path)) : g_strdup ("");
  base = g_strdup (slash != NULL ? slash + 1 : path);

  parent_fd = open_parent (self, dir, archive_path, raw, error);
  if (parent_fd < 0)
    return FALSE;

  self->entries++;

  if (hardlink != NULL)
    {
      g_hash_table_remove (self->files, path);
      return write_hardlink (self, hardlink, parent_fd, base, path, archive_path, error);
    }

  switch (type)
    {
    case AE_IFDIR:
      {
        struct stat st;

        if (mkdirat (parent_fd, base, (mode & 0777) | 0700) != 0)
          {
            if (errno != EEXIST)
              return set_write_error (error, errno, archive_path, path);
            if (fstatat (parent_fd, base, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR (st.st_mode))
              return set_unsafe_error (error, archive_path, raw, _("is a folder where a file or link already stands"));
          }
        return TRUE;
      }

    case AE_IFLNK:
      {
        const char *target = archive_entry_symlink_utf8 (entry);

        if (target == NULL)
          target = archive_entry_symlink (entry);
        if (target == NULL || !link_target_stays_inside (path, target))
          return set_unsafe_error (error, archive_path, raw,
                                   _("is a symbolic link pointing outside the game folder (to “%s”)"),
                                   target != NULL ? target : "");
        g_hash_table_remove (self->files, path);
        if (!clear_slot (parent_fd, base, archive_path, path, error))
          return FALSE;
        if (symlinkat (target, parent_fd, base) != 0)
          return set_write_error (error, errno, archive_path, path);
        g_ptr_array_add (self->links, g_strdup (path));
        {
          LspInstalledFile *record = g_new0 (LspInstalledFile, 1);

          record->size = strlen (target);
          record->mtime = (gint64) archive_entry_mtime (entry);
          record->is_link = TRUE;
          g_hash_table_replace (self->files, g_strdup (path), record);
        }
        return TRUE;
      }

    default:
      return write_file (self, a, entry, parent_fd, base, path, (mode & 0777) | 0600,
                         archive_path, cancellable, error);
    }
}

/* Adds to paths (owned strings) the files and links the archive ships, by
 * the names an extraction writes them under; folders are left out. Only
 * headers are read, though a compressed archive is decompressed to find
 * them. */
gboolean
lsp_archive_list_files (const char    *archive_path,
                        GHashTable    *paths,
                        GCancellable  *cancellable,
                        GError       **error)
{
  struct archive *a = archive_reader_new ();
  struct archive_entry *entry;
  int r;

  if (archive_read_open_filename (a, archive_path, READ_BLOCK_SIZE) != ARCHIVE_OK)
    {
      set_unreadable_error (error, archive_path, a);
      archive_read_free (a);
      return FALSE;
    }
  while ((r = archive_read_next_header (a, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN)
    {
      const char *raw = archive_entry_pathname_utf8 (entry);
      char *path;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          archive_read_free (a);
          return FALSE;
        }
      if (raw == NULL)
        raw = archive_entry_pathname (entry);
      if (raw == NULL || archive_entry_filetype (entry) == AE_IFDIR)
        continue;
      path = normalize_entry_path (raw);
      if (path[0] == '\0' || !lsp_relative_path_is_safe (path))
        g_free (path);
      else
        g_hash_table_add (paths, path);
    }
  if (r != ARCHIVE_EOF)
    {
      set_unreadable_error (error, archive_path, a);
      archive_read_free (a);
      return FALSE;
    }
  archive_read_free (a);
  return TRUE;
}

/* Extracts only the files and links at these relative paths. */
void
lsp_extractor_set_only (LspExtractor *self,
                        GHashTable   *paths)
{
  g_clear_pointer (&self->only, g_hash_table_unref);
  self->only = paths != NULL ? g_hash_table_ref (paths) : NULL;
}

gboolean
lsp_extractor_add_archive (LspExtractor  *self,
                           const char    *archive_path,
                           GCancellable  *cancellable,
                           GError       **error)
{
  struct archive *a = archive_reader_new ();
  struct archive_entry *entry;
  guint archive_entries = 0;
  gboolean ok = TRUE;
  int r;

  if (archive_read_open_filename (a, archive_path, READ_BLOCK_SIZE) != ARCHIVE_OK)
    {
      set_unreadable_error (error, archive_path, a);
      archive_read_free (a);
      return FALSE;
    }

  while (ok)
    {
      r = archive_read_next_header (a, &entry);
      if (r == ARCHIVE_EOF)
        break;
      if (r == ARCHIVE_WARN)
        g_debug ("%s: %s", archive_path, archive_error_string (a));
      else if (r != ARCHIVE_OK)
        {
          ok = set_unreadable_error (error, archive_path, a);
          break;
        }

      /* Counted as read, extracted or not: each one costs a header's
       * work, and most of them an inode. */
      self->headers++;
      if (++archive_entries > self->max_archive_entries)
        {
          g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                       _("The archive %s has more than %u entries, more than any game needs. "
                         "Nothing was installed; ask whoever shared the game for a clean archive."),
                       archive_path, self->max_archive_entries);
          ok = FALSE;
        }
      else if (self->headers > self->max_entries)
        {
          g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                       _("The game's archives have more than %u entries in all (reached in %s), more than any "
                         "game needs. Nothing was installed; ask whoever shared the game for clean archives."),
                       self->max_entries, archive_path);
          ok = FALSE;
        }
      else if (g_cancellable_set_error_if_cancelled (cancellable, error))
        ok = FALSE;
      else
        ok = extract_entry (self, a, entry, archive_path, cancellable, error);
      report_progress (self);
    }

  archive_read_free (a);
  return ok;
}

/* More links than this on one path is a loop, as the kernel's ELOOP. */
#define MAX_LINK_HOPS 40

/* remaining is a stack: its last element is the next component. */
static void
push_components (GPtrArray  *remaining,
                 const char *path)
{
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);

  for (guint i = g_strv_length (parts); i > 0; i--)
    {
      if (parts[i - 1][0] != '\0' && strcmp (parts[i - 1], ".") != 0)
        g_ptr_array_add (remaining, g_strdup (parts[i - 1]));
    }
}

/* Walks path below the target folder as the kernel would, following
 * links, and says whether every step stays inside. A name that does not
 * exist is taken by its spelling: a link that dangles now must not lead
 * out later, once the folder is renamed to local/ or the player adds
 * files (an archive's link through "../local/…" resolves only then). */
static gboolean
path_stays_inside (int         target_fd,
                   const char *path)
{
  g_autoptr(GPtrArray) stack = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) remaining = g_ptr_array_new_with_free_func (g_free);
  gboolean exists = TRUE;
  guint hops = 0;

  push_components (remaining, path);
  while (remaining->len > 0)
    {
      g_autofree char *component = g_ptr_array_steal_index (remaining, remaining->len - 1);
      g_autofree char *relative = NULL;
      char target[PATH_MAX];
      struct stat st;
      ssize_t n;

      if (strcmp (component, "..") == 0)
        {
          if (stack->len == 0)
            return FALSE;
          g_ptr_array_remove_index (stack, stack->len - 1);
          continue;
        }
      g_ptr_array_add (stack, g_steal_pointer (&component));
      if (!exists)
        continue;

      g_ptr_array_add (stack, NULL);
      relative = g_strjoinv ("/", (char **) stack->pdata);
      g_ptr_array_remove_index (stack, stack->len - 1);
      if (fstatat (target_fd, relative, &st, AT_SYMLINK_NOFOLLOW) != 0)
        {
          exists = FALSE;
          continue;
        }
      if (!S_ISLNK (st.st_mode))
        continue;
      if (++hops > MAX_LINK_HOPS)
        return FALSE;
      n = readlinkat (target_fd, relative, target, sizeof target - 1);
      if (n <= 0 || target[0] == '/')
        return FALSE;
      target[n] = '\0';
      /* The link's target is walked from the link's own folder. */
      g_ptr_array_remove_index (stack, stack->len - 1);
      push_components (remaining, target);
    }
  return TRUE;
}

/* Each link's spelling was checked as it was written, but a chain of
 * links can still lead out (a link to "." followed by ".."): walk every
 * link through the links it meets. */
gboolean
lsp_extractor_finish (LspExtractor  *self,
                      GError       **error)
{
  for (guint i = 0; i < self->links->len; i++)
    {
      const char *path = g_ptr_array_index (self->links, i);

      if (!path_stays_inside (self->target_fd, path))
        {
          g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                       _("The game's archives are unsafe: the symbolic link “%s” leads outside the game folder. "
                       "Nothing was installed; ask whoever shared the game for a clean archive."), path);
          return FALSE;
        }
    }

  return TRUE;
}
