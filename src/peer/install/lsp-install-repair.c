#define G_LOG_DOMAIN "lsp-install"

#include "config.h"

#include "lsp-install-private.h"

#include "lsp-archive.h"
#include "lsp-error.h"
#include "lsp-fs.h"
#include "lsp-game-root.h"
#include "lsp-install-record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Repair of an installed game (worker-thread code): only the shipped files
 * a verify finds missing or changed are extracted again, into
 * .local.installing/, and then moved into local/ one by one.
 *
 *   intent Repairing       staging being filled: a crash drops it (old state)
 *   intent RepairSwapping  staging complete: a crash rolls the moves forward
 *                          (_lsp_install_repair_swap), so it ends repaired
 *
 * The player's files are not in the install record, so they are never
 * looked at; a shipped file the player changed (its size or mtime is not
 * the recorded one, which is how an update tells it) is kept beside the
 * restored one as NAME.lanspread-old, exactly as an update keeps it. */

#define COMPARE_BLOCK (256 * 1024)

static void
crash_point (const char *step)
{
  g_autofree char *name = g_strconcat ("repair:", step, NULL);

  _lsp_install_crash_point (name);
}

static gboolean
player_changed (const struct stat      *st,
                const LspInstalledFile *shipped)
{
  if (shipped == NULL)
    return TRUE;
  if (shipped->is_link)
    return !S_ISLNK (st->st_mode) || (guint64) st->st_size != shipped->size;
  return !S_ISREG (st->st_mode) || (guint64) st->st_size != shipped->size ||
         (gint64) st->st_mtim.tv_sec != shipped->mtime;
}

/* Whether two regular files hold the same bytes, read block by block. */
static gboolean
same_content (int         a_dir,
              int         b_dir,
              const char *name)
{
  g_autofree guint8 *a_block = g_malloc (COMPARE_BLOCK);
  g_autofree guint8 *b_block = g_malloc (COMPARE_BLOCK);
  struct stat a_st, b_st;
  gboolean same = FALSE;
  int a_fd = openat (a_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  int b_fd = openat (b_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

  if (a_fd >= 0 && b_fd >= 0 && fstat (a_fd, &a_st) == 0 && fstat (b_fd, &b_st) == 0 &&
      S_ISREG (a_st.st_mode) && S_ISREG (b_st.st_mode) && a_st.st_size == b_st.st_size)
    {
      ssize_t n;

      same = TRUE;
      while (same && (n = read (a_fd, a_block, COMPARE_BLOCK)) > 0)
        same = read (b_fd, b_block, (size_t) n) == n && memcmp (a_block, b_block, (size_t) n) == 0;
      if (n < 0)
        same = FALSE;
    }
  if (a_fd >= 0)
    close (a_fd);
  if (b_fd >= 0)
    close (b_fd);
  return same;
}

/* Makes room for name in to_fd: a player's version is kept as
 * NAME.lanspread-old, a damaged shipped one is replaced, and so is an
 * unrecorded file that already holds what the archives ship. */
static gboolean
clear_place (int                     from_fd,
             int                     to_fd,
             const char             *name,
             const LspInstalledFile *shipped,
             gboolean                want_dir,
             GError                **error)
{
  g_autofree char *kept = NULL;
  struct stat st;

  if (fstatat (to_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return TRUE;
  if (want_dir && S_ISDIR (st.st_mode))
    return TRUE;
  if (!want_dir && !S_ISDIR (st.st_mode) && !player_changed (&st, shipped))
    return TRUE;  /* the rename replaces it */
  if (!want_dir && shipped == NULL && S_ISREG (st.st_mode) && same_content (from_fd, to_fd, name))
    return TRUE;
  kept = g_strconcat (name, LSP_PLAYER_COPY_SUFFIX, NULL);
  if (!lsp_fs_remove_tree_at (to_fd, kept, error))
    return FALSE;
  if (renameat (to_fd, name, to_fd, kept) != 0)
    return lsp_error_set_errno (error, errno, _("Cannot keep the player's %s"), name);
  return TRUE;
}

static gboolean
swap_dir (int          from_fd,
          int          to_fd,
          const char  *prefix,
          GHashTable  *record,
          guint       *moved,
          GError     **error)
{
  struct dirent *entry;
  gboolean ok = TRUE;
  DIR *dir;
  int fd = dup (from_fd);

  if (fd < 0 || (dir = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      return lsp_error_set_errno (error, errno, _("Cannot list the repaired files"));
    }
  while (ok && (entry = readdir (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      struct stat st;

      if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0 ||
          (prefix[0] == '\0' && strcmp (entry->d_name, LSP_OWNED_MARKER) == 0))
        continue;
      if (fstatat (dirfd (dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        continue;
      path = prefix[0] ? g_strconcat (prefix, "/", entry->d_name, NULL) : g_strdup (entry->d_name);
      if (S_ISDIR (st.st_mode))
        {
          int sub_from, sub_to;

          if (!clear_place (dirfd (dir), to_fd, entry->d_name, NULL, TRUE, error))
            break;
          if (mkdirat (to_fd, entry->d_name, 0755) != 0 && errno != EEXIST)
            {
              ok = lsp_error_set_errno (error, errno, _("Cannot create %s"), path);
              break;
            }
          sub_from = openat (dirfd (dir), entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          sub_to = openat (to_fd, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          ok = sub_from >= 0 && sub_to >= 0 ? swap_dir (sub_from, sub_to, path, record, moved, error)
                                            : lsp_error_set_errno (error, errno, _("Cannot open %s"), path);
          if (sub_from >= 0)
            close (sub_from);
          if (sub_to >= 0)
            close (sub_to);
          continue;
        }
      ok = clear_place (dirfd (dir), to_fd, entry->d_name, g_hash_table_lookup (record, path), FALSE, error);
      if (ok && renameat (dirfd (dir), entry->d_name, to_fd, entry->d_name) != 0)
        ok = lsp_error_set_errno (error, errno, _("Cannot put the repaired %s in place"), path);
      if (ok && ++*moved == 1)
        crash_point ("mid-swap");
    }
  closedir (dir);
  fsync (to_fd);
  return ok;
}

/* Moves whatever is left in a complete staging folder into local/; run by
 * the repair and, after a crash, by recovery: each move is a rename, so
 * running it again only finishes what is left. */
gboolean
_lsp_install_repair_swap (int          root_fd,
                          const char  *game_id,
                          GError     **error)
{
  g_autoptr(GHashTable) record = NULL;
  guint moved = 0;
  gboolean ok;
  int from_fd, to_fd;

  from_fd = openat (root_fd, LSP_LOCAL_INSTALLING_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (from_fd < 0)
    return errno == ENOENT || _lsp_install_set_errno (error, errno, game_id, C_("failed action", "open the staging folder"));
  to_fd = openat (root_fd, LSP_LOCAL_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (to_fd < 0)
    {
      close (from_fd);
      return _lsp_install_set_errno (error, errno, game_id, C_("failed action", "open the installed game"));
    }
  record = lsp_install_record_read (to_fd, NULL);
  if (record == NULL)
    record = g_hash_table_new (g_str_hash, g_str_equal);
  ok = swap_dir (from_fd, to_fd, "", record, &moved, error);
  close (to_fd);
  close (from_fd);
  if (!ok)
    g_prefix_error (error, _("Repairing %s is incomplete; Lanspread will finish it at next start: "), game_id);
  return ok;
}

static gboolean
extract_missing (int           root_fd,
                 const char   *root_path,
                 const char   *game_id,
                 GHashTable   *wanted,
                 guint64       wanted_size,
                 LspInstallProgress *progress,
                 GHashTable  **out_extracted,
                 GCancellable *cancellable,
                 GError      **error)
{
  g_autoptr(GPtrArray) archives = NULL;
  g_autoptr(LspExtractor) extractor = NULL;
  g_autofree char *staging_path = g_build_filename (root_path, LSP_LOCAL_INSTALLING_DIR, NULL);
  GHashTable *extracted;
  GHashTableIter iter;
  gpointer key;
  int staging_fd;

  if ((archives = _lsp_install_list_archives (root_fd, game_id, error)) == NULL)
    return FALSE;
  if (mkdirat (root_fd, LSP_LOCAL_INSTALLING_DIR, 0755) != 0)
    return _lsp_install_set_errno (error, errno, game_id, C_("failed action", "create the staging folder"));
  staging_fd = openat (root_fd, LSP_LOCAL_INSTALLING_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (staging_fd < 0)
    return _lsp_install_set_errno (error, errno, game_id, C_("failed action", "open the staging folder"));
  if (!lsp_install_record_write (staging_fd, NULL, NULL, error))
    {
      close (staging_fd);
      return FALSE;
    }
  crash_point ("after-staging");

  if ((extractor = lsp_extractor_new (staging_path, error)) == NULL)
    {
      close (staging_fd);
      return FALSE;
    }
  lsp_extractor_set_only (extractor, wanted);
  lsp_extractor_set_expected_size (extractor, wanted_size);
  for (guint i = 0; i < archives->len; i++)
    {
      g_autofree char *path = g_build_filename (root_path, g_ptr_array_index (archives, i), NULL);

      if (!lsp_extractor_add_archive (extractor, path, cancellable, error))
        {
          close (staging_fd);
          return FALSE;
        }
    }
  if (!lsp_extractor_finish (extractor, error))
    {
      close (staging_fd);
      return FALSE;
    }

  extracted = lsp_extractor_get_files (extractor);
  g_hash_table_iter_init (&iter, wanted);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      if (!g_hash_table_contains (extracted, key))
        {
          close (staging_fd);
          g_set_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND,
                       _("The archives of %s no longer ship %s; download the game again, then update it."),
                       game_id, (const char *) key);
          return FALSE;
        }
    }
  syncfs (staging_fd);
  close (staging_fd);
  _lsp_install_progress_set_done (progress, lsp_extractor_get_bytes (extractor), lsp_extractor_get_entries (extractor));
  *out_extracted = g_hash_table_ref (extracted);
  crash_point ("after-extract");
  return TRUE;
}

/* Files that were in local/ unrecorded are the game's again: the record
 * lists them now, so the next verify finds them sound. A crash before
 * this leaves them unrecorded, and a repair records them then. */
static gboolean
record_unrecorded (int                    root_fd,
                   const char            *game_id,
                   const char            *installed_version,
                   const LspVerifyReport *report,
                   GHashTable            *extracted,
                   GError               **error)
{
  g_autoptr(GHashTable) record = NULL;
  g_autofree char *version = NULL;
  gboolean changed = FALSE, ok;
  int local_fd;

  local_fd = openat (root_fd, LSP_LOCAL_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (local_fd < 0)
    return _lsp_install_set_errno (error, errno, game_id, C_("failed action", "open the installed game"));
  record = lsp_install_record_read (local_fd, &version);
  for (guint i = 0; record != NULL && i < report->installed_problems->len; i++)
    {
      const LspVerifyProblem *problem = g_ptr_array_index (report->installed_problems, i);
      const LspInstalledFile *file = g_hash_table_lookup (extracted, problem->path);

      if (problem->kind != LSP_VERIFY_UNRECORDED || file == NULL)
        continue;
      g_hash_table_replace (record, g_strdup (problem->path), g_memdup2 (file, sizeof *file));
      changed = TRUE;
    }
  ok = !changed || lsp_install_record_write (local_fd, version != NULL ? version : installed_version, record, error);
  close (local_fd);
  return ok;
}

static void
roll_back (int          root_fd,
           const char  *game_id)
{
  g_autoptr(GError) error = NULL;

  if (!_lsp_remove_owned_dir (root_fd, LSP_LOCAL_INSTALLING_DIR, &error) ||
      !_lsp_intent_write (root_fd, game_id, LSP_INTENT_NONE, &error))
    g_warning ("Could not undo the repair of %s; Lanspread will at next start: %s", game_id, error->message);
}

/* Returns what the verify found, every problem of which is now fixed. */
LspVerifyReport *
_lsp_install_repair (const char          *games_path,
                     const char          *game_id,
                     LspInstallProgress  *progress,
                     GCancellable        *cancellable,
                     GError             **error)
{
  g_autofree char *root_path = g_build_filename (games_path, game_id, NULL);
  g_autoptr(LspVerifyReport) report = lsp_verify_report_new (game_id);
  g_autoptr(GHashTable) record = NULL;
  g_autoptr(GHashTable) wanted = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) extracted = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *version = NULL;
  g_autofree char *installed_version = NULL;
  guint64 wanted_size = 0;
  struct stat st;
  int root_fd, local_fd;

  root_fd = open (root_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root_fd < 0)
    {
      _lsp_install_set_errno (error, errno, game_id, C_("failed action", "open the game folder"));
      return NULL;
    }
  if (fstatat (root_fd, LSP_LOCAL_INSTALLING_DIR, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
      fstatat (root_fd, LSP_LOCAL_BACKUP_DIR, &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_BUSY,
                   _("%s has a leftover %s or %s folder from an interrupted operation; "
                     "restart Lanspread so it can recover, or remove the folder by hand."),
                   game_id, LSP_LOCAL_INSTALLING_DIR, LSP_LOCAL_BACKUP_DIR);
      close (root_fd);
      return NULL;
    }
  version = lsp_game_root_read_version (root_fd, NULL);
  local_fd = openat (root_fd, LSP_LOCAL_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (local_fd >= 0)
    {
      g_autoptr(GHashTable) installed = lsp_install_record_read (local_fd, &installed_version);

      close (local_fd);
    }
  /* Without a record (installed_version NULL) the verify says it cannot judge. */
  if (local_fd < 0 || version == NULL || (installed_version != NULL && g_strcmp0 (version, installed_version) != 0))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT,
                   local_fd < 0 ? _("%s is not installed, so there is nothing to repair; install it instead.")
                   : version == NULL ? _("%s is not downloaded here, so it cannot be extracted again; download it first.")
                   : _("The installed %s is not the version downloaded here; update it instead of repairing it."),
                   game_id);
      close (root_fd);
      return NULL;
    }

  record = _lsp_install_verify_local (root_fd, report, progress, 0, cancellable, &local_error);
  if (local_error != NULL || report->installed == LSP_VERIFY_CANNOT_JUDGE)
    {
      if (local_error != NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                     _("%s was installed without a record of its files (by another tool, or an older "
                       "Lanspread), so Lanspread cannot tell what to repair; uninstall and install it again."),
                     game_id);
      close (root_fd);
      return NULL;
    }
  if (report->installed == LSP_VERIFY_SOUND)
    {
      close (root_fd);
      report->repaired = TRUE;
      return g_steal_pointer (&report);
    }

  /* The record says how large each file is, so the extraction's space
   * checks know how much is still to come. */
  for (guint i = 0; i < report->installed_problems->len; i++)
    {
      const char *path = ((LspVerifyProblem *) g_ptr_array_index (report->installed_problems, i))->path;
      const LspInstalledFile *file = g_hash_table_lookup (record, path);

      g_hash_table_add (wanted, (gpointer) path);
      if (file != NULL && !file->is_link)
        wanted_size += file->size;
    }

  if (!_lsp_intent_write (root_fd, game_id, LSP_INTENT_REPAIRING, error))
    {
      close (root_fd);
      return NULL;
    }
  crash_point ("after-intent");
  if (!extract_missing (root_fd, root_path, game_id, wanted, wanted_size, progress, &extracted, cancellable, error))
    {
      roll_back (root_fd, game_id);
      close (root_fd);
      return NULL;
    }

  /* From here on the repair finishes, now or at the next start. */
  if (!_lsp_intent_write (root_fd, game_id, LSP_INTENT_REPAIR_SWAPPING, error))
    {
      roll_back (root_fd, game_id);
      close (root_fd);
      return NULL;
    }
  crash_point ("before-swap");
  if (!_lsp_install_repair_swap (root_fd, game_id, error) ||
      !_lsp_remove_owned_dir (root_fd, LSP_LOCAL_INSTALLING_DIR, error))
    {
      close (root_fd);
      return NULL;
    }
  crash_point ("after-swap");
  if (!record_unrecorded (root_fd, game_id, installed_version, report, extracted, error) ||
      !_lsp_intent_write (root_fd, game_id, LSP_INTENT_NONE, error))
    {
      close (root_fd);
      return NULL;
    }
  close (root_fd);
  report->repaired = TRUE;
  return g_steal_pointer (&report);
}
