#define G_LOG_DOMAIN "lsp-install-recovery"

#include "config.h"

#include "lsp-install-recovery.h"

#include "lsp-game-root.h"
#include "lsp-install-private.h"
#include "lsp-install-record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static gboolean
is_present (int         root_fd,
            const char *name)
{
  struct stat st;

  return fstatat (root_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static gboolean
is_directory (int         root_fd,
              const char *name)
{
  struct stat st;

  return fstatat (root_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode);
}

static gboolean
restore_backup (int          root_fd,
                const char  *game_id,
                GError     **error)
{
  if (renameat (root_fd, LSP_LOCAL_BACKUP_DIR, root_fd, LSP_LOCAL_DIR) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Could not restore the previous install of %s: %s"), game_id, g_strerror (saved_errno));
      return FALSE;
    }
  fsync (root_fd);
  g_message ("Restored the previous install of %s after an interrupted operation", game_id);
  return TRUE;
}

static gboolean
remove_dir (int          root_fd,
            const char  *game_id,
            const char  *name,
            GError     **error)
{
  if (!is_present (root_fd, name))
    return TRUE;
  g_message ("Removing %s/%s left by an interrupted operation", game_id, name);
  return _lsp_remove_owned_dir (root_fd, name, error);
}

/* Rolls one game root forward or back to a consistent state. The intent
 * proves that the reserved folders are ours even when the marker inside was
 * never flushed; with intent None only folders holding the marker are
 * touched, and markerless ones (another tool's) are left alone.
 *
 *   intent        observed                      outcome
 *   Installing    local/                        installed (rename happened)
 *   Installing    no local/                     not installed (staging dropped)
 *   Updating      local/ and backup             new version (backup dropped)
 *   Updating      backup only                   old version (backup restored)
 *   Updating      local/ only                   unchanged or finished
 *   Uninstalling  backup                        uninstalled (backup dropped)
 *   Uninstalling  local/ only                   still installed
 *   Repairing     staging                       as before the repair (staging dropped)
 *   RepairSwapping staging                      repaired (the moves finished)
 *   None          owned staging                 dropped
 *   None          owned backup, no local/       restored
 *   None          owned backup and local/       dropped
 */
gboolean
lsp_install_recover_game (int          games_fd,
                          const char  *game_id,
                          GError     **error)
{
  g_autoptr(GError) intent_error = NULL;
  LspIntent intent = LSP_INTENT_NONE;
  gboolean has_local, has_backup;
  gboolean ok = TRUE;
  int root_fd;

  root_fd = openat (games_fd, game_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root_fd < 0)
    {
      if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
        return TRUE;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   _("Cannot open the folder of %s: %s"), game_id, g_strerror (errno));
      return FALSE;
    }

  unlinkat (root_fd, LSP_INTENT_TMP_FILE, 0);

  if (!_lsp_intent_read (root_fd, &intent, &intent_error))
    {
      g_warning ("Ignoring the intent log of %s: %s", game_id, intent_error->message);
      intent = LSP_INTENT_NONE;
    }

  if (intent == LSP_INTENT_NONE)
    {
      if (is_present (root_fd, LSP_LOCAL_INSTALLING_DIR) &&
          lsp_install_record_present (root_fd, LSP_LOCAL_INSTALLING_DIR))
        ok = remove_dir (root_fd, game_id, LSP_LOCAL_INSTALLING_DIR, error);

      if (ok && is_directory (root_fd, LSP_LOCAL_BACKUP_DIR) &&
          lsp_install_record_present (root_fd, LSP_LOCAL_BACKUP_DIR))
        {
          if (is_present (root_fd, LSP_LOCAL_DIR))
            ok = remove_dir (root_fd, game_id, LSP_LOCAL_BACKUP_DIR, error);
          else
            ok = restore_backup (root_fd, game_id, error);
        }
      close (root_fd);
      return ok;
    }

  g_message ("Recovering %s from an interrupted %s", game_id, _lsp_intent_to_string (intent));

  /* A repair whose staging was complete finishes; any other staging is
   * dropped, which leaves a repair's game as it was before. */
  if (intent == LSP_INTENT_REPAIR_SWAPPING && is_directory (root_fd, LSP_LOCAL_DIR))
    ok = _lsp_install_repair_swap (root_fd, game_id, error);
  if (ok)
    ok = remove_dir (root_fd, game_id, LSP_LOCAL_INSTALLING_DIR, error);
  has_local = is_present (root_fd, LSP_LOCAL_DIR);
  has_backup = is_present (root_fd, LSP_LOCAL_BACKUP_DIR);

  if (ok && has_backup)
    {
      switch (intent)
        {
        case LSP_INTENT_UPDATING:
          if (has_local)
            ok = remove_dir (root_fd, game_id, LSP_LOCAL_BACKUP_DIR, error);
          else
            ok = restore_backup (root_fd, game_id, error);
          break;
        case LSP_INTENT_UNINSTALLING:
          ok = remove_dir (root_fd, game_id, LSP_LOCAL_BACKUP_DIR, error);
          break;
        case LSP_INTENT_INSTALLING:
        case LSP_INTENT_REPAIRING:
        case LSP_INTENT_REPAIR_SWAPPING:
          /* These never make a backup: only a marker makes it ours. */
          if (lsp_install_record_present (root_fd, LSP_LOCAL_BACKUP_DIR))
            ok = has_local ? remove_dir (root_fd, game_id, LSP_LOCAL_BACKUP_DIR, error)
                           : restore_backup (root_fd, game_id, error);
          break;
        case LSP_INTENT_NONE:
        default:
          g_assert_not_reached ();
        }
    }

  /* Only a fully consistent root may drop its intent; otherwise the next
   * start tries again. */
  if (ok)
    ok = _lsp_intent_write (root_fd, game_id, LSP_INTENT_NONE, error);

  close (root_fd);
  return ok;
}

gboolean
lsp_install_recover_games_folder (const char    *games_path,
                                  GCancellable  *cancellable,
                                  GError       **error)
{
  struct dirent *entry;
  DIR *dir;
  int games_fd, list_fd;

  games_fd = open (games_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  list_fd = games_fd >= 0 ? dup (games_fd) : -1;
  if (list_fd < 0 || (dir = fdopendir (list_fd)) == NULL)
    {
      int saved_errno = errno;
      if (list_fd >= 0)
        close (list_fd);
      if (games_fd >= 0)
        close (games_fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Could not open the games folder %s: %s. Check that it exists and is readable."),
                   games_path, g_strerror (saved_errno));
      return FALSE;
    }

  while ((entry = readdir (dir)) != NULL)
    {
      g_autoptr(GError) local_error = NULL;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          closedir (dir);
          close (games_fd);
          return FALSE;
        }
      if (!lsp_game_id_is_valid (entry->d_name))
        continue;
      /* One broken game must not keep the others from recovering. */
      if (!lsp_install_recover_game (games_fd, entry->d_name, &local_error))
        g_warning ("Could not recover %s: %s", entry->d_name, local_error->message);
    }

  closedir (dir);
  close (games_fd);
  return TRUE;
}

static void
recover_worker (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  GError *error = NULL;

  if (lsp_install_recover_games_folder (task_data, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* Run it before the library's first scan, so the scan sees settled game
 * roots (LspLibrary does not call it itself: the app and the headless peer
 * chain the two explicitly). */
void
lsp_install_recover_games_folder_async (GFile               *games_dir,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (G_IS_FILE (games_dir));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, lsp_install_recover_games_folder_async);
  g_task_set_task_data (task, g_file_get_path (games_dir), g_free);
  g_task_run_in_thread (task, recover_worker);
}

gboolean
lsp_install_recover_games_folder_finish (GAsyncResult  *result,
                                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
