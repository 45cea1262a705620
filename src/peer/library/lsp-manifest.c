#define G_LOG_DOMAIN "lsp-manifest"

#include "config.h"

#include "lsp-manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lsp-error.h"
#include "lsp-game-root.h"

#define READ_BLOCK_SIZE (1024 * 1024)
#define MANIFEST_FILE_MAX_SIZE (256 * 1024 * 1024)

struct _LspManifest
{
  char      *game_id;
  char      *version;
  guint32    chunk_size;
  guint64    total_size;
  GPtrArray *files;  /* LspManifestFile, sorted by path */
  char       hash[LSP_SHA256_HEX_LEN + 1];
};

G_DEFINE_BOXED_TYPE (LspManifest, lsp_manifest, lsp_manifest_ref, lsp_manifest_unref)

static void
manifest_file_free (LspManifestFile *file)
{
  g_free (file->path);
  g_free (file->chunk_hashes);
  g_free (file);
}

static void
manifest_clear (LspManifest *self)
{
  g_free (self->game_id);
  g_free (self->version);
  g_ptr_array_unref (self->files);
}

static LspManifest *
manifest_new (const char *game_id,
              const char *version,
              guint32     chunk_size)
{
  LspManifest *self = g_atomic_rc_box_new0 (LspManifest);

  self->game_id = g_strdup (game_id);
  self->version = g_strdup (version);
  self->chunk_size = chunk_size;
  self->files = g_ptr_array_new_with_free_func ((GDestroyNotify) manifest_file_free);

  return self;
}

LspManifest *
lsp_manifest_ref (LspManifest *self)
{
  return g_atomic_rc_box_acquire (self);
}

void
lsp_manifest_unref (LspManifest *self)
{
  g_atomic_rc_box_release_full (self, (GDestroyNotify) manifest_clear);
}

static guint
chunk_count (guint64 size,
             guint32 chunk_size)
{
  return (guint) ((size + chunk_size - 1) / chunk_size);
}

static void
hash_put_u32 (LspSha256 *sha,
              guint32    value)
{
  guint32 be = GUINT32_TO_BE (value);
  lsp_sha256_update (sha, &be, sizeof be);
}

static void
hash_put_u64 (LspSha256 *sha,
              guint64    value)
{
  guint64 be = GUINT64_TO_BE (value);
  lsp_sha256_update (sha, &be, sizeof be);
}

static void
hash_put_string (LspSha256  *sha,
                 const char *value)
{
  gsize len = strlen (value);

  hash_put_u32 (sha, (guint32) len);
  lsp_sha256_update (sha, value, len);
}

/* The canonical encoding that manifest_hash names; PROTOCOL.md describes it
 * byte for byte, so every peer computes the same name for the same content. */
static void
manifest_compute_hash (LspManifest *self)
{
  g_autoptr(LspSha256) sha = lsp_sha256_new ();
  guint8 digest[LSP_SHA256_LEN];
  static const char magic[] = "lanspread-manifest";

  lsp_sha256_update (sha, magic, sizeof magic);  /* with its NUL */
  hash_put_u32 (sha, LSP_MANIFEST_FORMAT);
  hash_put_u32 (sha, self->chunk_size);
  hash_put_string (sha, self->game_id);
  hash_put_string (sha, self->version);
  hash_put_u32 (sha, self->files->len);

  self->total_size = 0;
  for (guint i = 0; i < self->files->len; i++)
    {
      const LspManifestFile *file = g_ptr_array_index (self->files, i);

      hash_put_string (sha, file->path);
      hash_put_u64 (sha, file->size);
      lsp_sha256_update (sha, file->chunk_hashes, (gsize) file->n_chunks * LSP_SHA256_LEN);
      self->total_size += file->size;
    }

  lsp_sha256_finish (sha, digest);
  lsp_sha256_to_hex (digest, self->hash);
}

static int
compare_files_by_path (gconstpointer a,
                       gconstpointer b)
{
  const LspManifestFile *fa = *(const LspManifestFile * const *) a;
  const LspManifestFile *fb = *(const LspManifestFile * const *) b;

  return strcmp (fa->path, fb->path);
}

static gboolean
set_errno_error (GError    **error,
                 int         saved_errno,
                 const char *what,
                 const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               /* Translators: the first %s is a failed action, like “open”
                * (translated on its own), then a file name and the system's reason. */
               _("Could not %s “%s”: %s"), what, path, g_strerror (saved_errno));
  return FALSE;
}

/* Collects regular files below dir_fd. Symbolic links, sockets, devices and
 * the reserved names at the top level are not game payload and are skipped. */
static gboolean
collect_files (int          dir_fd,
               const char  *prefix,
               guint        depth,
               GPtrArray   *files,
               GError     **error)
{
  struct dirent *entry;
  DIR *dir;
  int fd;

  if (depth > LSP_MANIFEST_MAX_DEPTH)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                   _("Folders are nested more than %d levels deep at “%s”"),
                   LSP_MANIFEST_MAX_DEPTH, prefix);
      return FALSE;
    }

  fd = dup (dir_fd);
  if (fd < 0)
    return set_errno_error (error, errno, C_("failed action", "open"), prefix[0] ? prefix : ".");
  dir = fdopendir (fd);
  if (dir == NULL)
    {
      int saved_errno = errno;
      close (fd);
      return set_errno_error (error, saved_errno, C_("failed action", "list"), prefix[0] ? prefix : ".");
    }
  rewinddir (dir);

  while ((entry = readdir (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      struct stat st;

      if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
        continue;
      if (depth == 0 && lsp_game_child_is_reserved (entry->d_name))
        continue;

      path = prefix[0] ? g_strconcat (prefix, "/", entry->d_name, NULL) : g_strdup (entry->d_name);
      if (!lsp_relative_path_is_safe (path))
        {
          g_debug ("Skipping “%s”: not a portable path", path);
          continue;
        }

      if (fstatat (dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        {
          int saved_errno = errno;
          closedir (dir);
          return set_errno_error (error, saved_errno, C_("failed action", "inspect"), path);
        }

      if (S_ISDIR (st.st_mode))
        {
          gboolean ok;
          int child_fd = openat (dir_fd, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

          if (child_fd < 0)
            {
              int saved_errno = errno;
              closedir (dir);
              return set_errno_error (error, saved_errno, C_("failed action", "open"), path);
            }
          ok = collect_files (child_fd, path, depth + 1, files, error);
          close (child_fd);
          if (!ok)
            {
              closedir (dir);
              return FALSE;
            }
        }
      else if (S_ISREG (st.st_mode))
        {
          LspManifestFile *file;

          if (files->len >= LSP_MANIFEST_MAX_FILES)
            {
              closedir (dir);
              g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                           _("The game has more than %d files"), LSP_MANIFEST_MAX_FILES);
              return FALSE;
            }
          file = g_new0 (LspManifestFile, 1);
          file->path = g_steal_pointer (&path);
          file->size = (guint64) st.st_size;
          g_ptr_array_add (files, file);
        }
      else
        {
          g_debug ("Skipping “%s”: not a regular file or folder", path);
        }
    }

  closedir (dir);
  return TRUE;
}

static gboolean
hash_file (int               root_fd,
           LspManifestFile  *file,
           guint32           chunk_size,
           guint8           *buffer,
           LspSha256        *sha,
           GCancellable     *cancellable,
           GError          **error)
{
  guint64 offset = 0;
  guint chunk = 0;
  guint64 chunk_filled = 0;
  struct stat st;
  int fd;

  file->n_chunks = chunk_count (file->size, chunk_size);
  file->chunk_hashes = g_malloc0 ((gsize) file->n_chunks * LSP_SHA256_LEN + 1);

  fd = openat (root_fd, file->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return set_errno_error (error, errno, C_("failed action", "open"), file->path);
  posix_fadvise (fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  while (offset < file->size)
    {
      gsize want = (gsize) MIN ((guint64) READ_BLOCK_SIZE, file->size - offset);
      ssize_t n;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          close (fd);
          return FALSE;
        }

      want = (gsize) MIN ((guint64) want, chunk_size - chunk_filled);
      n = read (fd, buffer, want);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;
          close (fd);
          return set_errno_error (error, saved_errno, C_("failed action", "read"), file->path);
        }
      if (n == 0)
        break;

      lsp_sha256_update (sha, buffer, (gsize) n);
      offset += (guint64) n;
      chunk_filled += (guint64) n;
      if (chunk_filled == chunk_size || offset == file->size)
        {
          lsp_sha256_finish (sha, file->chunk_hashes + (gsize) chunk * LSP_SHA256_LEN);
          chunk++;
          chunk_filled = 0;
        }
    }

  if (fstat (fd, &st) != 0 || offset != file->size || (guint64) st.st_size != file->size)
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                   _("“%s” changed while it was being hashed"), file->path);
      return FALSE;
    }

  close (fd);
  return TRUE;
}

/* Walks and hashes a game root. Blocking: call it from a worker thread. */
LspManifest *
lsp_manifest_build (int            root_fd,
                    const char    *game_id,
                    const char    *version,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(LspManifest) self = NULL;
  g_autoptr(LspSha256) sha = NULL;
  g_autofree guint8 *buffer = NULL;

  g_return_val_if_fail (lsp_game_id_is_valid (game_id), NULL);
  g_return_val_if_fail (lsp_version_is_valid (version), NULL);

  self = manifest_new (game_id, version, LSP_MANIFEST_CHUNK_SIZE);
  if (!collect_files (root_fd, "", 0, self->files, error))
    return NULL;
  g_ptr_array_sort (self->files, compare_files_by_path);

  buffer = g_malloc (READ_BLOCK_SIZE);
  sha = lsp_sha256_new ();
  for (guint i = 0; i < self->files->len; i++)
    {
      if (!hash_file (root_fd, g_ptr_array_index (self->files, i), self->chunk_size,
                      buffer, sha, cancellable, error))
        return NULL;
    }

  manifest_compute_hash (self);
  return g_steal_pointer (&self);
}

/* Whether the files below root_fd are exactly the manifest's, by path
 * and size, as the builder would find them; nothing is read or hashed. */
gboolean
lsp_manifest_matches_tree (LspManifest *self,
                           int          root_fd)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func ((GDestroyNotify) manifest_file_free);

  if (!collect_files (root_fd, "", 0, files, NULL) || files->len != self->files->len)
    return FALSE;
  g_ptr_array_sort (files, compare_files_by_path);
  for (guint i = 0; i < files->len; i++)
    {
      const LspManifestFile *found = g_ptr_array_index (files, i);
      const LspManifestFile *expected = g_ptr_array_index (self->files, i);

      if (strcmp (found->path, expected->path) != 0 || found->size != expected->size)
        return FALSE;
    }
  return TRUE;
}

/* A path that is a file and also the folder of another file ("a" and
 * "a/b") cannot be written: the download would fail half-way, or replace
 * one with the other. In byte order, the paths below "a/" follow each
 * other, and the first path at or after "a/" is one of them if any is.
 * files must be sorted by path. */
static gboolean
find_file_that_is_a_folder (GPtrArray   *files,
                            const char **out_file,
                            const char **out_inner)
{
  for (guint i = 0; i < files->len; i++)
    {
      const LspManifestFile *file = g_ptr_array_index (files, i);
      g_autofree char *folder = g_strconcat (file->path, "/", NULL);
      guint low = i + 1, high = files->len;
      const LspManifestFile *first_after;

      while (low < high)
        {
          guint mid = low + (high - low) / 2;
          const LspManifestFile *other = g_ptr_array_index (files, mid);

          if (strcmp (other->path, folder) < 0)
            low = mid + 1;
          else
            high = mid;
        }
      if (low == files->len)
        continue;
      first_after = g_ptr_array_index (files, low);
      if (g_str_has_prefix (first_after->path, folder))
        {
          *out_file = file->path;
          *out_inner = first_after->path;
          return TRUE;
        }
    }
  return FALSE;
}

G_GNUC_PRINTF (2, 3)
static LspManifest *
invalid (GError    **error,
         const char *format,
         ...)
{
  va_list args;

  va_start (args, format);
  lsp_error_set_invalid_valist (error, _("Invalid manifest: "), "", format, args);
  va_end (args);
  return NULL;
}

static const char *
get_string_member (JsonObject *object,
                   const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
get_int_member (JsonObject *object,
                const char *member,
                gint64     *out)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (node);
  return TRUE;
}

/* Parses a manifest from a peer or from our cache. Everything is checked,
 * and the hash is recomputed: a manifest is only accepted under its name. */
LspManifest *
lsp_manifest_new_from_json (JsonNode  *node,
                            GError   **error)
{
  g_autoptr(LspManifest) self = NULL;
  g_autoptr(GHashTable) seen = NULL;
  const char *game_id, *version, *claimed_hash, *file_path, *inner_path;
  JsonObject *object;
  JsonNode *files_node;
  JsonArray *files;
  gint64 format, chunk_size;
  guint n_files;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return invalid (error, _("not an object"));
  object = json_node_get_object (node);

  if (!get_int_member (object, "format", &format) || format != LSP_MANIFEST_FORMAT)
    return invalid (error, _("unsupported format (expected %d)"), LSP_MANIFEST_FORMAT);
  game_id = get_string_member (object, "game_id");
  if (!lsp_game_id_is_valid (game_id))
    return invalid (error, _("field “game_id” is missing or invalid"));
  version = get_string_member (object, "version");
  if (!lsp_version_is_valid (version))
    return invalid (error, _("field “version” is missing or invalid"));
  if (!get_int_member (object, "chunk_size", &chunk_size) || chunk_size != LSP_MANIFEST_CHUNK_SIZE)
    return invalid (error, _("field “chunk_size” must be %u"), LSP_MANIFEST_CHUNK_SIZE);
  claimed_hash = get_string_member (object, "manifest_hash");

  files_node = json_object_get_member (object, "files");
  if (files_node == NULL || !JSON_NODE_HOLDS_ARRAY (files_node))
    return invalid (error, _("field “files” must be an array"));
  files = json_node_get_array (files_node);
  n_files = json_array_get_length (files);
  if (n_files > LSP_MANIFEST_MAX_FILES)
    return invalid (error, _("more than %d files"), LSP_MANIFEST_MAX_FILES);

  self = manifest_new (game_id, version, (guint32) chunk_size);
  seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < n_files; i++)
    {
      JsonNode *file_node = json_array_get_element (files, i);
      LspManifestFile *file;
      JsonObject *file_object;
      JsonNode *chunks_node;
      JsonArray *chunks;
      const char *path;
      g_autofree char *first = NULL;
      gint64 size;

      if (!JSON_NODE_HOLDS_OBJECT (file_node))
        return invalid (error, _("files[%u] is not an object"), i);
      file_object = json_node_get_object (file_node);

      path = get_string_member (file_object, "path");
      if (!lsp_relative_path_is_safe (path))
        return invalid (error, _("files[%u].path is missing or unsafe"), i);
      first = g_strndup (path, strcspn (path, "/"));
      if (lsp_game_child_is_reserved (first))
        return invalid (error, _("files[%u].path “%s” is a reserved name"), i, path);
      if (g_hash_table_contains (seen, path))
        return invalid (error, _("files[%u].path “%s” appears twice"), i, path);

      if (!get_int_member (file_object, "size", &size) || size < 0 ||
          (guint64) size > LSP_MANIFEST_MAX_FILE_SIZE)
        return invalid (error, _("files[%u].size is missing or out of range"), i);

      chunks_node = json_object_get_member (file_object, "chunks");
      if (chunks_node == NULL || !JSON_NODE_HOLDS_ARRAY (chunks_node))
        return invalid (error, _("files[%u].chunks must be an array"), i);
      chunks = json_node_get_array (chunks_node);
      if (json_array_get_length (chunks) != chunk_count ((guint64) size, self->chunk_size))
        return invalid (error, _("files[%u] has %u chunk hashes, its size needs %u"), i,
                        json_array_get_length (chunks), chunk_count ((guint64) size, self->chunk_size));

      file = g_new0 (LspManifestFile, 1);
      file->path = g_strdup (path);
      file->size = (guint64) size;
      file->n_chunks = json_array_get_length (chunks);
      file->chunk_hashes = g_malloc0 ((gsize) file->n_chunks * LSP_SHA256_LEN + 1);
      g_ptr_array_add (self->files, file);
      g_hash_table_add (seen, file->path);

      for (guint c = 0; c < file->n_chunks; c++)
        {
          JsonNode *hash_node = json_array_get_element (chunks, c);

          if (!JSON_NODE_HOLDS_VALUE (hash_node) || json_node_get_value_type (hash_node) != G_TYPE_STRING ||
              !lsp_sha256_from_hex (json_node_get_string (hash_node), file->chunk_hashes + (gsize) c * LSP_SHA256_LEN))
            return invalid (error, _("files[%u].chunks[%u] is not a SHA-256 in lowercase hex"), i, c);
        }
    }

  g_ptr_array_sort (self->files, compare_files_by_path);
  if (find_file_that_is_a_folder (self->files, &file_path, &inner_path))
    return invalid (error, _("“%s” is a file and also the folder of “%s”"), file_path, inner_path);
  manifest_compute_hash (self);

  if (claimed_hash != NULL && strcmp (claimed_hash, self->hash) != 0)
    return invalid (error, _("its content does not match manifest_hash %s"), claimed_hash);

  return g_steal_pointer (&self);
}

JsonNode *
lsp_manifest_to_json (LspManifest *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "format");
  json_builder_add_int_value (builder, LSP_MANIFEST_FORMAT);
  json_builder_set_member_name (builder, "game_id");
  json_builder_add_string_value (builder, self->game_id);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, self->version);
  json_builder_set_member_name (builder, "chunk_size");
  json_builder_add_int_value (builder, self->chunk_size);
  json_builder_set_member_name (builder, "manifest_hash");
  json_builder_add_string_value (builder, self->hash);
  json_builder_set_member_name (builder, "files");
  json_builder_begin_array (builder);
  for (guint i = 0; i < self->files->len; i++)
    {
      const LspManifestFile *file = g_ptr_array_index (self->files, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "path");
      json_builder_add_string_value (builder, file->path);
      json_builder_set_member_name (builder, "size");
      json_builder_add_int_value (builder, (gint64) file->size);
      json_builder_set_member_name (builder, "chunks");
      json_builder_begin_array (builder);
      for (guint c = 0; c < file->n_chunks; c++)
        {
          char hex[LSP_SHA256_HEX_LEN + 1];

          lsp_sha256_to_hex (file->chunk_hashes + (gsize) c * LSP_SHA256_LEN, hex);
          json_builder_add_string_value (builder, hex);
        }
      json_builder_end_array (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

const char *
lsp_manifest_get_hash (LspManifest *self)
{
  return self->hash;
}

const char *
lsp_manifest_get_game_id (LspManifest *self)
{
  return self->game_id;
}

const char *
lsp_manifest_get_version (LspManifest *self)
{
  return self->version;
}

guint32
lsp_manifest_get_chunk_size (LspManifest *self)
{
  return self->chunk_size;
}

guint64
lsp_manifest_get_total_size (LspManifest *self)
{
  return self->total_size;
}

guint
lsp_manifest_get_n_files (LspManifest *self)
{
  return self->files->len;
}

const LspManifestFile *
lsp_manifest_get_file (LspManifest *self,
                       guint        index)
{
  g_return_val_if_fail (index < self->files->len, NULL);

  return g_ptr_array_index (self->files, index);
}

const LspManifestFile *
lsp_manifest_lookup_file (LspManifest *self,
                          const char  *path)
{
  guint lo = 0, hi = self->files->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      const LspManifestFile *file = g_ptr_array_index (self->files, mid);
      int cmp = strcmp (path, file->path);

      if (cmp == 0)
        return file;
      if (cmp < 0)
        hi = mid;
      else
        lo = mid + 1;
    }

  return NULL;
}

/* The library keeps the manifests of the games it holds here (and prunes
 * the others). */
char *
lsp_manifest_cache_path (const char *games_path,
                         const char *manifest_hash)
{
  g_autofree char *name = g_strconcat (manifest_hash, ".json", NULL);

  return g_build_filename (games_path, LSP_STATE_DIR, "manifests", name, NULL);
}

/* A manifest kept on disk under its hash: validated like one from the
 * network, and refused if it is not the one its name says. */
LspManifest *
lsp_manifest_load_file (const char  *path,
                        const char  *manifest_hash,
                        GError     **error)
{
  g_autofree char *data = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(LspManifest) manifest = NULL;
  gsize length;

  if (!g_file_get_contents (path, &data, &length, error))
    return NULL;
  if (length > MANIFEST_FILE_MAX_SIZE || (node = json_from_string (data, error)) == NULL ||
      (manifest = lsp_manifest_new_from_json (node, error)) == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, _("The cached manifest %s is too large"), path);
      return NULL;
    }
  if (!g_str_equal (lsp_manifest_get_hash (manifest), manifest_hash))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, _("The cached manifest %s is not %s"), path, manifest_hash);
      return NULL;
    }
  return g_steal_pointer (&manifest);
}
