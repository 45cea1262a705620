#define G_LOG_DOMAIN "lsp-install-verify"

#include "config.h"

#include "lsp-install-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <unistd.h>

#include "lsp-archive.h"
#include "lsp-error.h"
#include "lsp-game-root.h"
#include "lsp-install-record.h"
#include "lsp-manifest.h"
#include "lsp-util.h"

#include <string.h>
#include <sys/stat.h>

#define READ_BLOCK_SIZE (1024 * 1024)

/* Verify (worker-thread code): nothing of the game is written, only the
 * verdict on its payload, which decides whether it may be served. */

typedef struct
{
  LspInstallProgress *progress;
  guint64             base;     /* bytes of earlier parts */
} VerifyProgress;

static void
on_payload_progress (guint64  bytes_done,
                     gpointer user_data)
{
  VerifyProgress *state = user_data;

  _lsp_install_progress_set_done (state->progress, state->base + bytes_done, 0);
}

static gboolean
verify_payload (const char      *games_path,
                const char      *game_id,
                const char      *manifest_hash,
                LspVerifyReport *report,
                VerifyProgress  *progress,
                GCancellable    *cancellable,
                GError         **error)
{
  g_autofree char *manifest_path = lsp_manifest_cache_path (games_path, manifest_hash);
  g_autofree char *root_path = g_build_filename (games_path, game_id, NULL);
  g_autoptr(LspManifest) manifest = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean ok;
  int root_fd;

  /* A damaged game is checked against its verdict's manifest, which the
   * library's cache may no longer hold. */
  manifest = lsp_verify_load_damaged (games_path, game_id, NULL);
  if (manifest != NULL && g_strcmp0 (lsp_manifest_get_hash (manifest), manifest_hash) != 0)
    g_clear_pointer (&manifest, lsp_manifest_unref);
  if (manifest == NULL)
    manifest = lsp_manifest_load_file (manifest_path, manifest_hash, &local_error);
  if (manifest == NULL)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND,
                   _("The manifest of %s is not available to check it against (%s); "
                     "restart the peer so the library hashes the game again."), game_id, local_error->message);
      return FALSE;
    }
  root_fd = open (root_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root_fd < 0)
    return _lsp_install_set_errno (error, errno, game_id, C_("failed action", "open the game folder"));

  _lsp_install_progress_set_total (progress->progress, lsp_manifest_get_total_size (manifest));
  ok = lsp_verify_payload (root_fd, manifest, report, on_payload_progress, progress, cancellable, error);
  close (root_fd);
  if (!ok)
    return FALSE;
  progress->base += lsp_manifest_get_total_size (manifest);

  if (report->payload == LSP_VERIFY_DAMAGED)
    return lsp_verify_mark_damaged (games_path, game_id, manifest, error);
  lsp_verify_clear_damaged (games_path, game_id);
  return TRUE;
}

static gboolean
hash_file (int            fd,
           guint8         digest[LSP_SHA256_LEN],
           guint64       *done,
           VerifyProgress *progress,
           GCancellable  *cancellable,
           GError       **error)
{
  g_autoptr(LspSha256) sha = lsp_sha256_new ();
  g_autofree guint8 *buffer = g_malloc (READ_BLOCK_SIZE);

  for (;;)
    {
      ssize_t n = read (fd, buffer, READ_BLOCK_SIZE);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return FALSE;
      if (n == 0)
        break;
      lsp_sha256_update (sha, buffer, (gsize) n);
      *done += (guint64) n;
      _lsp_install_progress_set_done (progress->progress, progress->base + *done, 0);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
    }
  lsp_sha256_finish (sha, digest);
  return TRUE;
}

/* What one shipped file is now: missing, changed (another type, size or
 * content) or as the install wrote it (-1). */
static int
check_installed_file (int                     local_fd,
                      const char             *path,
                      const LspInstalledFile *shipped,
                      guint64                *done,
                      VerifyProgress         *progress,
                      GCancellable           *cancellable,
                      GError                **error)
{
  guint8 digest[LSP_SHA256_LEN];
  struct stat st;
  gboolean same;
  int fd;

  if (fstatat (local_fd, path, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return LSP_VERIFY_MISSING;
  if (shipped->is_link)
    return S_ISLNK (st.st_mode) && (guint64) st.st_size == shipped->size ? -1 : LSP_VERIFY_CHANGED;
  if (!S_ISREG (st.st_mode) || (guint64) st.st_size != shipped->size)
    return LSP_VERIFY_CHANGED;
  fd = lsp_verify_open_below (local_fd, path, NULL);
  if (fd < 0)
    return LSP_VERIFY_CHANGED;  /* a link on the way: not what the install wrote */
  same = hash_file (fd, digest, done, progress, cancellable, error) &&
         memcmp (digest, shipped->sha256, LSP_SHA256_LEN) == 0;
  close (fd);
  if (error != NULL && *error != NULL)
    return -2;
  return same ? -1 : LSP_VERIFY_CHANGED;
}

/* Files the archives ship that sit in local/ but are not in the record
 * (left by an interrupted operation or another tool, or a player's file
 * where the game ships one): not the game's as installed, so a repair
 * puts the shipped one back, keeping the other beside it. Judged only
 * when the archives are the installed version; every other unrecorded
 * file is the player's and never looked at. */
static gboolean
find_unrecorded (int               root_fd,
                 int               local_fd,
                 GHashTable       *record,
                 const char       *installed_version,
                 LspVerifyReport  *report,
                 GCancellable     *cancellable,
                 GError          **error)
{
  g_autoptr(GHashTable) shipped = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) archives = NULL;
  g_autoptr(GPtrArray) found = g_ptr_array_new ();
  g_autofree char *version = lsp_game_root_read_version (root_fd, NULL);
  GHashTableIter iter;
  gpointer key;

  if (version == NULL || g_strcmp0 (version, installed_version) != 0)
    return TRUE;
  archives = _lsp_install_list_archives (root_fd, report->game_id, error);
  if (archives == NULL)
    return FALSE;
  for (guint i = 0; i < archives->len; i++)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/fd/%d/%s", root_fd,
                                               (const char *) g_ptr_array_index (archives, i));

      if (!lsp_archive_list_files (path, shipped, cancellable, error))
        return FALSE;
    }
  g_hash_table_iter_init (&iter, shipped);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      struct stat st;

      if (!g_hash_table_contains (record, key) && strcmp (key, LSP_OWNED_MARKER) != 0 &&
          fstatat (local_fd, key, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR (st.st_mode))
        g_ptr_array_add (found, key);
    }
  g_ptr_array_sort (found, lsp_strcmp_ptr);
  for (guint i = 0; i < found->len; i++)
    g_ptr_array_add (report->installed_problems,
                     lsp_verify_problem_new (g_ptr_array_index (found, i), LSP_VERIFY_UNRECORDED));
  return TRUE;
}

/* local/ against its install record: every shipped file, in path order.
 * The player's files are not in the record, so they are never looked at;
 * an install without a record, or with one from before content hashes,
 * cannot be judged. Returns the record (path → LspInstalledFile). */
GHashTable *
_lsp_install_verify_local (int                 root_fd,
                           LspVerifyReport    *report,
                           LspInstallProgress *progress,
                           guint64             progress_base,
                           GCancellable       *cancellable,
                           GError            **error)
{
  VerifyProgress state = { progress, progress_base };
  g_autoptr(GHashTable) files = NULL;
  g_autoptr(GPtrArray) paths = NULL;
  g_autofree char *installed_version = NULL;
  guint64 total = 0, done = 0;
  GHashTableIter iter;
  gpointer key, value;
  int local_fd;

  local_fd = openat (root_fd, LSP_LOCAL_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (local_fd < 0)
    {
      report->installed = LSP_VERIFY_NOT_CHECKED;
      return NULL;
    }
  files = lsp_install_record_read (local_fd, &installed_version);
  paths = g_ptr_array_new ();
  if (files != NULL)
    {
      g_hash_table_iter_init (&iter, files);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          const LspInstalledFile *shipped = value;

          if (!shipped->is_link && !shipped->has_hash)
            g_clear_pointer (&files, g_hash_table_unref);
          if (files == NULL)
            break;
          g_ptr_array_add (paths, key);
          total += shipped->is_link ? 0 : shipped->size;
        }
    }
  if (files == NULL)
    {
      close (local_fd);
      report->installed = LSP_VERIFY_CANNOT_JUDGE;
      return NULL;
    }

  g_ptr_array_sort (paths, lsp_strcmp_ptr);
  _lsp_install_progress_set_total (progress, progress_base + total);
  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = g_ptr_array_index (paths, i);
      int kind = check_installed_file (local_fd, path, g_hash_table_lookup (files, path), &done, &state,
                                       cancellable, error);

      if (kind == -2)
        {
          close (local_fd);
          return NULL;
        }
      if (kind >= 0)
        g_ptr_array_add (report->installed_problems, lsp_verify_problem_new (path, (LspVerifyProblemKind) kind));
    }
  if (!find_unrecorded (root_fd, local_fd, files, installed_version, report, cancellable, error))
    {
      close (local_fd);
      return NULL;
    }
  close (local_fd);
  report->bytes_checked += done;
  report->installed = report->installed_problems->len > 0 ? LSP_VERIFY_DAMAGED : LSP_VERIFY_SOUND;
  return g_steal_pointer (&files);
}

LspVerifyReport *
_lsp_install_verify (const char          *games_path,
                     const char          *game_id,
                     const char          *manifest_hash,
                     LspInstallProgress  *progress,
                     GCancellable        *cancellable,
                     GError             **error)
{
  g_autoptr(LspVerifyReport) report = lsp_verify_report_new (game_id);
  g_autofree char *root_path = g_build_filename (games_path, game_id, NULL);
  g_autoptr(GHashTable) files = NULL;
  g_autoptr(GError) local_error = NULL;
  VerifyProgress state = { progress, 0 };
  int root_fd;

  if (manifest_hash != NULL &&
      !verify_payload (games_path, game_id, manifest_hash, report, &state, cancellable, error))
    return NULL;

  root_fd = open (root_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root_fd < 0)
    {
      _lsp_install_set_errno (error, errno, game_id, C_("failed action", "open the game folder"));
      return NULL;
    }
  files = _lsp_install_verify_local (root_fd, report, progress, state.base, cancellable, &local_error);
  close (root_fd);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return g_steal_pointer (&report);
}
