#define G_LOG_DOMAIN "lsp-verify"

#include "config.h"

#include "lsp-verify.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lsp-error.h"
#include "lsp-fs.h"
#include "lsp-game-root.h"
#include "lsp-sha256.h"

G_DEFINE_BOXED_TYPE (LspVerifyReport, lsp_verify_report, lsp_verify_report_ref, lsp_verify_report_unref)

const char *
lsp_verify_problem_kind_to_string (LspVerifyProblemKind kind)
{
  static const char * const names[] = {
    [LSP_VERIFY_MISSING] = "missing",
    [LSP_VERIFY_RESIZED] = "resized",
    [LSP_VERIFY_CORRUPT] = "corrupt",
    [LSP_VERIFY_CHANGED] = "changed",
    [LSP_VERIFY_UNRECORDED] = "unrecorded",
  };

  g_return_val_if_fail (kind <= LSP_VERIFY_UNRECORDED, NULL);
  return names[kind];
}

const char *
lsp_verify_verdict_to_string (LspVerifyVerdict verdict)
{
  static const char * const names[] = {
    [LSP_VERIFY_NOT_CHECKED] = "not-checked",
    [LSP_VERIFY_SOUND] = "sound",
    [LSP_VERIFY_DAMAGED] = "damaged",
    [LSP_VERIFY_CANNOT_JUDGE] = "cannot-judge",
  };

  g_return_val_if_fail (verdict <= LSP_VERIFY_CANNOT_JUDGE, NULL);
  return names[verdict];
}

LspVerifyProblem *
lsp_verify_problem_new (const char           *path,
                        LspVerifyProblemKind  kind)
{
  LspVerifyProblem *problem = g_new0 (LspVerifyProblem, 1);

  problem->path = g_strdup (path);
  problem->kind = kind;
  problem->chunks = g_array_new (FALSE, FALSE, sizeof (guint));
  return problem;
}

void
lsp_verify_problem_free (LspVerifyProblem *problem)
{
  if (problem == NULL)
    return;
  g_free (problem->path);
  g_array_unref (problem->chunks);
  g_free (problem);
}

static void
report_clear (LspVerifyReport *report)
{
  g_free (report->game_id);
  g_free (report->manifest_hash);
  g_ptr_array_unref (report->payload_problems);
  g_ptr_array_unref (report->installed_problems);
}

LspVerifyReport *
lsp_verify_report_new (const char *game_id)
{
  LspVerifyReport *report = g_atomic_rc_box_new0 (LspVerifyReport);

  report->game_id = g_strdup (game_id);
  report->payload_problems = g_ptr_array_new_with_free_func ((GDestroyNotify) lsp_verify_problem_free);
  report->installed_problems = g_ptr_array_new_with_free_func ((GDestroyNotify) lsp_verify_problem_free);
  return report;
}

LspVerifyReport *
lsp_verify_report_ref (LspVerifyReport *report)
{
  return g_atomic_rc_box_acquire (report);
}

void
lsp_verify_report_unref (LspVerifyReport *report)
{
  g_atomic_rc_box_release_full (report, (GDestroyNotify) report_clear);
}

guint
lsp_verify_report_count_bad_chunks (const LspVerifyReport *report)
{
  guint n = 0;

  for (guint i = 0; i < report->payload_problems->len; i++)
    n += ((LspVerifyProblem *) g_ptr_array_index (report->payload_problems, i))->chunks->len;
  return n;
}

/* Opens a manifest path below the game root one component at a time, so
 * no link anywhere on the way is followed. */
int
lsp_verify_open_below (int          root_fd,
                       const char  *path,
                       GError     **error)
{
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);
  int dir_fd = dup (root_fd);

  for (guint i = 0; dir_fd >= 0 && parts[i] != NULL; i++)
    {
      gboolean last = parts[i + 1] == NULL;
      int fd = openat (dir_fd, parts[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (last ? 0 : O_DIRECTORY));

      close (dir_fd);
      dir_fd = fd;
    }
  if (dir_fd < 0)
    lsp_error_set_errno (error, errno, _("Cannot open %s"), path);
  return dir_fd;
}

static void
add_chunk (GArray *chunks,
           guint   chunk)
{
  g_array_append_val (chunks, chunk);
}

/* Reads every file of the manifest once, chunk by chunk, and records each
 * file that is missing, of another size or holding chunks whose hash is
 * not the manifest's. */
gboolean
lsp_verify_payload (int                    root_fd,
                    LspManifest           *manifest,
                    LspVerifyReport       *report,
                    LspVerifyProgressFunc  progress,
                    gpointer               user_data,
                    GCancellable          *cancellable,
                    GError               **error)
{
  g_autofree guint8 *buffer = g_malloc (LSP_MANIFEST_CHUNK_SIZE);
  guint64 done = 0;

  g_return_val_if_fail (manifest != NULL && report != NULL, FALSE);

  g_free (report->manifest_hash);
  report->manifest_hash = g_strdup (lsp_manifest_get_hash (manifest));
  for (guint i = 0; i < lsp_manifest_get_n_files (manifest); i++)
    {
      const LspManifestFile *file = lsp_manifest_get_file (manifest, i);
      g_autoptr(LspVerifyProblem) problem = NULL;
      struct stat st;
      int fd;

      fd = lsp_verify_open_below (root_fd, file->path, NULL);
      if (fd < 0 || fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
        {
          problem = lsp_verify_problem_new (file->path, LSP_VERIFY_MISSING);
          for (guint c = 0; c < file->n_chunks; c++)
            add_chunk (problem->chunks, c);
          if (fd >= 0)
            close (fd);
          done += file->size;
          g_ptr_array_add (report->payload_problems, g_steal_pointer (&problem));
          continue;
        }
      problem = lsp_verify_problem_new (file->path, (guint64) st.st_size != file->size ? LSP_VERIFY_RESIZED
                                                                                   : LSP_VERIFY_CORRUPT);
      for (guint c = 0; c < file->n_chunks; c++)
        {
          guint64 offset = (guint64) c * LSP_MANIFEST_CHUNK_SIZE;
          gsize length = (gsize) MIN ((guint64) LSP_MANIFEST_CHUNK_SIZE, file->size - offset);
          guint8 digest[LSP_SHA256_LEN];
          ssize_t n;

          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            {
              close (fd);
              return FALSE;
            }
          do
            n = pread (fd, buffer, length, (off_t) offset);
          while (n < 0 && errno == EINTR);
          if (n < 0 && errno != EIO)
            {
              int saved_errno = errno;

              close (fd);
              return lsp_error_set_errno (error, saved_errno, _("Cannot read %s"), file->path);
            }
          /* A short read is a file cut short; EIO is the disk failing
           * under that chunk: both are chunks to fetch again. */
          if (n != (ssize_t) length)
            add_chunk (problem->chunks, c);
          else
            {
              lsp_sha256_buffer (buffer, length, digest);
              if (memcmp (digest, file->chunk_hashes + (gsize) c * LSP_SHA256_LEN, LSP_SHA256_LEN) != 0)
                add_chunk (problem->chunks, c);
            }
          done += length;
          if (progress != NULL)
            progress (done, user_data);
        }
      close (fd);
      if (problem->chunks->len > 0 || problem->kind == LSP_VERIFY_RESIZED)
        g_ptr_array_add (report->payload_problems, g_steal_pointer (&problem));
    }
  report->bytes_checked += done;
  report->payload = report->payload_problems->len > 0 ? LSP_VERIFY_DAMAGED : LSP_VERIFY_SOUND;
  return TRUE;
}

#define DAMAGED_MAX_SIZE (256 * 1024 * 1024)

static char *
damaged_name (const char *game_id)
{
  g_autofree char *file = g_strconcat (game_id, ".json", NULL);

  return g_build_filename (LSP_DAMAGED_DIR, file, NULL);
}

static char *
damaged_path (const char *games_path,
              const char *game_id)
{
  g_autofree char *name = damaged_name (game_id);

  return g_build_filename (games_path, name, NULL);
}

/* The verdict is the manifest the payload no longer matches, kept whole:
 * whatever the scan makes of the damaged files later (a rehash into
 * another manifest), the game stays damaged until a repair brings back
 * this one. Written before anything else learns of the damage, so a crash
 * cannot put a damaged game back on the LAN at the next start. */
gboolean
lsp_verify_mark_damaged (const char   *games_path,
                         const char   *game_id,
                         LspManifest  *manifest,
                         GError      **error)
{
  g_autofree char *path = damaged_path (games_path, game_id);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(JsonNode) node = lsp_manifest_to_json (manifest);
  g_autofree char *data = json_to_string (node, FALSE);

  return lsp_fs_mkdir_p (dir, error) && lsp_fs_write_atomic (path, data, strlen (data), error);
}

void
lsp_verify_clear_damaged (const char *games_path,
                          const char *game_id)
{
  g_autofree char *path = damaged_path (games_path, game_id);

  if (unlink (path) != 0 && errno != ENOENT)
    g_warning ("Could not remove %s: %s", path, g_strerror (errno));
}

static LspManifest *
read_damaged (int          games_fd,
              const char  *game_id,
              GError     **error)
{
  g_autofree char *name = damaged_name (game_id);
  g_autofree char *data = NULL;
  g_autoptr(JsonNode) node = NULL;
  LspManifest *manifest;
  gsize length;

  data = lsp_fs_read_small_at (games_fd, name, DAMAGED_MAX_SIZE, &length, error);
  if (data == NULL || (node = json_from_string (data, error)) == NULL)
    return NULL;
  manifest = lsp_manifest_new_from_json (node, error);
  if (manifest != NULL && g_strcmp0 (lsp_manifest_get_game_id (manifest), game_id) != 0)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, _("%s is the verdict of another game"), name);
      g_clear_pointer (&manifest, lsp_manifest_unref);
    }
  return manifest;
}

/* The manifest a verify found the game's payload no longer matches, or
 * NULL (no verdict; one that is malformed proves nothing). */
LspManifest *
lsp_verify_read_damaged_at (int         games_fd,
                            const char *game_id)
{
  return read_damaged (games_fd, game_id, NULL);
}

LspManifest *
lsp_verify_load_damaged (const char  *games_path,
                         const char  *game_id,
                         GError     **error)
{
  int games_fd = open (games_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  LspManifest *manifest;

  if (games_fd < 0)
    {
      lsp_error_set_errno (error, errno, _("Cannot open %s"), games_path);
      return NULL;
    }
  manifest = read_damaged (games_fd, game_id, error);
  close (games_fd);
  return manifest;
}
