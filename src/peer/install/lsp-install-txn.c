#define G_LOG_DOMAIN "lsp-install"

#include "config.h"

#include "lsp-install-private.h"

#include "lsp-archive.h"
#include "lsp-error.h"
#include "lsp-fs.h"
#include "lsp-game-root.h"
#include "lsp-install-record.h"
#include "lsp-util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define INTENT_MAX_SIZE (64 * 1024)

typedef struct
{
  const char         *game_id;
  const char         *root_path;
  int                 root_fd;
  const char         *step_prefix;   /* "install", "update", "uninstall" */
  LspInstallProgress *progress;
} Txn;

static void
on_extract_progress (guint64  bytes,
                     guint64  entries,
                     gpointer user_data)
{
  _lsp_install_progress_set_done (user_data, bytes, entries);
}

/* Tests name a step in LANSPREAD_CRASH_AT to kill the process exactly there,
 * the way a power cut would, and then check what recovery makes of it. */
void
_lsp_install_crash_point (const char *step)
{
  const char *at = g_getenv ("LANSPREAD_CRASH_AT");

  if (at != NULL && strcmp (at, step) == 0)
    {
      fprintf (stderr, "lanspread: crash injected at %s\n", step);
      fflush (stderr);
      abort ();
    }
}

static void
txn_crash_point (Txn        *txn,
                 const char *step)
{
  g_autofree char *name = g_strconcat (txn->step_prefix, ":", step, NULL);

  _lsp_install_crash_point (name);
}

gboolean
_lsp_install_set_errno (GError     **error,
                        int          saved_errno,
                        const char  *game_id,
                        const char  *what)
{
  /* Translators: the first %s is a failed action, like “list the folder”
   * (translated on its own), the second a game's id. */
  return lsp_error_set_errno (error, saved_errno, _("Could not %s of %s"), what, game_id);
}

static const char * const intent_names[] = {
  [LSP_INTENT_NONE] = "None",
  [LSP_INTENT_INSTALLING] = "Installing",
  [LSP_INTENT_UPDATING] = "Updating",
  [LSP_INTENT_UNINSTALLING] = "Uninstalling",
  [LSP_INTENT_REPAIRING] = "Repairing",
  [LSP_INTENT_REPAIR_SWAPPING] = "RepairSwapping",
};

const char *
_lsp_intent_to_string (LspIntent intent)
{
  return intent_names[intent];
}

/* A missing intent log means None. A malformed one is an error: it proves
 * nothing, so the caller must treat the game as None too. */
gboolean
_lsp_intent_read (int         root_fd,
                  LspIntent  *out_intent,
                  GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *data = NULL;
  JsonObject *object;
  const char *name;
  gsize length;

  *out_intent = LSP_INTENT_NONE;

  data = lsp_fs_read_small_at (root_fd, LSP_INTENT_FILE, INTENT_MAX_SIZE, &length, &local_error);
  if (data == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  if (!json_parser_load_from_data (parser, data, (gssize) length, &local_error) ||
      json_parser_get_root (parser) == NULL || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                   /* Translators: the first %s is a file name; the
                    * others add “: ” and the parser's reason, if any. */
                   _("%s is not a JSON object%s%s"), LSP_INTENT_FILE,
                   local_error ? ": " : "", local_error ? local_error->message : "");
      return FALSE;
    }

  object = json_node_get_object (json_parser_get_root (parser));
  name = json_object_get_string_member_with_default (object, "intent", NULL);
  for (guint i = 0; name != NULL && i < G_N_ELEMENTS (intent_names); i++)
    {
      if (strcmp (name, intent_names[i]) == 0)
        {
          *out_intent = (LspIntent) i;
          return TRUE;
        }
    }

  g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
               _("%s holds an unknown intent “%s”"), LSP_INTENT_FILE, name ? name : "(missing)");
  return FALSE;
}

gboolean
_lsp_intent_write (int          root_fd,
                   const char  *game_id,
                   LspIntent    intent,
                   GError     **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *data = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, game_id);
  json_builder_set_member_name (builder, "intent");
  json_builder_add_string_value (builder, intent_names[intent]);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  data = json_to_string (root, FALSE);

  return lsp_fs_write_atomic_at (root_fd, LSP_INTENT_FILE, LSP_INTENT_TMP_FILE, data, strlen (data), error);
}

gboolean
_lsp_remove_owned_dir (int          root_fd,
                       const char  *dir_name,
                       GError     **error)
{
  if (!lsp_fs_remove_tree_at (root_fd, dir_name, error))
    return FALSE;
  fsync (root_fd);
  return TRUE;
}

static gboolean
path_exists_at (int         dir_fd,
                const char *name,
                struct stat *out_st)
{
  struct stat st;

  if (fstatat (dir_fd, name, out_st ? out_st : &st, AT_SYMLINK_NOFOLLOW) == 0)
    return TRUE;
  return FALSE;
}

static gboolean
rename_at (Txn         *txn,
           const char  *from,
           const char  *to,
           GError     **error)
{
  if (renameat (txn->root_fd, from, txn->root_fd, to) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Could not rename %s/%s to %s: %s"), txn->game_id, from, to, g_strerror (saved_errno));
      return FALSE;
    }
  fsync (txn->root_fd);
  return TRUE;
}

static GPtrArray *
list_archives (Txn     *txn,
               GError **error)
{
  return _lsp_install_list_archives (txn->root_fd, txn->game_id, error);
}

GPtrArray *
_lsp_install_list_archives (int          root_fd,
                            const char  *game_id,
                            GError     **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  struct dirent *entry;
  DIR *dir;
  int fd;

  fd = dup (root_fd);
  if (fd < 0 || (dir = fdopendir (fd)) == NULL)
    {
      int saved_errno = errno;
      if (fd >= 0)
        close (fd);
      _lsp_install_set_errno (error, saved_errno, game_id, C_("failed action", "list the folder"));
      return NULL;
    }
  rewinddir (dir);
  while ((entry = readdir (dir)) != NULL)
    {
      struct stat st;

      if (!g_str_has_suffix (entry->d_name, LSP_ARCHIVE_SUFFIX))
        continue;
      if (fstatat (root_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG (st.st_mode))
        continue;
      g_ptr_array_add (names, g_strdup (entry->d_name));
    }
  closedir (dir);

  if (names->len == 0)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND,
                   _("%s has no %s archive to install from; download the game first."),
                   game_id, LSP_ARCHIVE_SUFFIX);
      return NULL;
    }

  g_ptr_array_sort (names, lsp_strcmp_ptr);
  return g_steal_pointer (&names);
}

/* Sets *out_exact_size to what the archives expand to when their headers
 * say it, 0 when only a compressed size is known. */
static gboolean
check_free_space (Txn        *txn,
                  GPtrArray  *archives,
                  guint64    *out_exact_size,
                  GError    **error)
{
  struct statvfs vfs;
  guint64 needed = 0;
  gboolean all_exact = TRUE;
  guint64 available;

  for (guint i = 0; i < archives->len; i++)
    {
      g_autofree char *path = g_build_filename (txn->root_path, g_ptr_array_index (archives, i), NULL);
      guint64 size;
      gboolean exact;

      if (!lsp_archive_measure (path, &size, &exact, error))
        return FALSE;
      needed += size;
      all_exact = all_exact && exact;
    }

  *out_exact_size = all_exact ? needed : 0;
  _lsp_install_progress_set_total (txn->progress, all_exact ? needed : 0);

  if (fstatvfs (txn->root_fd, &vfs) != 0)
    return TRUE;  /* cannot tell: extraction reports a full disk itself */

  available = (guint64) vfs.f_bavail * (guint64) vfs.f_frsize;
  if (needed > available)
    {
      g_autofree char *needed_text = g_format_size (needed);
      g_autofree char *available_text = g_format_size (available);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   all_exact ? _("Not enough disk space to install %s: it needs %s and the disk has %s free. "
                                 "Free some space and try again.")
                             : _("Not enough disk space to install %s: it needs at least %s and the disk has %s free. "
                                 "Free some space and try again."),
                   txn->game_id, needed_text, available_text);
      return FALSE;
    }
  return TRUE;
}

/* .local.installing/ with its marker first, then every archive in name
 * order; later archives override earlier ones. */
static LspExtractor *
extract_into_staging (Txn           *txn,
                      const char    *version,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_autoptr(GPtrArray) archives = NULL;
  g_autoptr(LspExtractor) extractor = NULL;
  g_autofree char *staging_path = NULL;
  guint64 exact_size;
  int staging_fd;

  if ((archives = list_archives (txn, error)) == NULL)
    return NULL;
  if (!check_free_space (txn, archives, &exact_size, error))
    return NULL;

  if (mkdirat (txn->root_fd, LSP_LOCAL_INSTALLING_DIR, 0755) != 0)
    {
      _lsp_install_set_errno (error, errno, txn->game_id, C_("failed action", "create the staging folder"));
      return NULL;
    }
  staging_fd = openat (txn->root_fd, LSP_LOCAL_INSTALLING_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (staging_fd < 0)
    {
      _lsp_install_set_errno (error, errno, txn->game_id, C_("failed action", "open the staging folder"));
      return NULL;
    }
  if (!lsp_install_record_write (staging_fd, version, NULL, error))
    {
      close (staging_fd);
      return NULL;
    }
  close (staging_fd);
  txn_crash_point (txn, "after-staging");

  staging_path = g_build_filename (txn->root_path, LSP_LOCAL_INSTALLING_DIR, NULL);
  if ((extractor = lsp_extractor_new (staging_path, error)) == NULL)
    return NULL;
  lsp_extractor_set_progress_func (extractor, on_extract_progress, txn->progress);
  lsp_extractor_set_expected_size (extractor, exact_size);

  for (guint i = 0; i < archives->len; i++)
    {
      g_autofree char *path = g_build_filename (txn->root_path, g_ptr_array_index (archives, i), NULL);

      if (!lsp_extractor_add_archive (extractor, path, cancellable, error))
        return NULL;
      if (i + 1 < archives->len)
        txn_crash_point (txn, "mid-extract");
    }
  if (!lsp_extractor_finish (extractor, error))
    return NULL;

  txn_crash_point (txn, "after-extract");
  return g_steal_pointer (&extractor);
}

/* Seals staging: the full record in the marker, everything on disk, then the
 * rename that makes it local/. */
static gboolean
commit_staging (Txn           *txn,
                const char    *version,
                LspExtractor  *extractor,
                GError       **error)
{
  int staging_fd;
  gboolean ok;

  staging_fd = openat (txn->root_fd, LSP_LOCAL_INSTALLING_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (staging_fd < 0)
    return _lsp_install_set_errno (error, errno, txn->game_id, C_("failed action", "open the staging folder"));
  ok = lsp_install_record_write (staging_fd, version, lsp_extractor_get_files (extractor), error);
  if (ok)
    syncfs (staging_fd);
  close (staging_fd);

  return ok && rename_at (txn, LSP_LOCAL_INSTALLING_DIR, LSP_LOCAL_DIR, error);
}

/* Puts things back after a failed install or update; when even that fails,
 * the intent stays so startup recovery finishes the job. */
static void
roll_back (Txn      *txn,
           gboolean  restore_backup,
           GError  **error)
{
  g_autoptr(GError) rollback_error = NULL;

  if (!_lsp_remove_owned_dir (txn->root_fd, LSP_LOCAL_INSTALLING_DIR, &rollback_error))
    goto failed;
  if (restore_backup && path_exists_at (txn->root_fd, LSP_LOCAL_BACKUP_DIR, NULL) &&
      !path_exists_at (txn->root_fd, LSP_LOCAL_DIR, NULL) &&
      !rename_at (txn, LSP_LOCAL_BACKUP_DIR, LSP_LOCAL_DIR, &rollback_error))
    goto failed;
  if (!_lsp_intent_write (txn->root_fd, txn->game_id, LSP_INTENT_NONE, &rollback_error))
    goto failed;
  return;

failed:
  if (error != NULL && *error != NULL)
    {
      char *message = g_strdup_printf ("%s (undoing it also failed: %s; Lanspread will finish undoing it at next start)",
                                       (*error)->message, rollback_error->message);
      g_free ((*error)->message);
      (*error)->message = message;
    }
}

static gboolean
run_install (Txn           *txn,
             GCancellable  *cancellable,
             GError       **error)
{
  g_autoptr(LspExtractor) extractor = NULL;
  g_autofree char *version = NULL;

  if (path_exists_at (txn->root_fd, LSP_LOCAL_DIR, NULL))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT,
                   _("%s is already installed; update or uninstall it instead."), txn->game_id);
      return FALSE;
    }
  if ((version = lsp_game_root_read_version (txn->root_fd, NULL)) == NULL)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND,
                   _("%s is not fully downloaded (no %s); download it before installing."),
                   txn->game_id, LSP_VERSION_FILE);
      return FALSE;
    }

  if (!_lsp_intent_write (txn->root_fd, txn->game_id, LSP_INTENT_INSTALLING, error))
    return FALSE;
  txn_crash_point (txn, "after-intent");

  if ((extractor = extract_into_staging (txn, version, cancellable, error)) == NULL ||
      !commit_staging (txn, version, extractor, error))
    {
      roll_back (txn, FALSE, error);
      return FALSE;
    }
  txn_crash_point (txn, "after-rename");

  if (!_lsp_intent_write (txn->root_fd, txn->game_id, LSP_INTENT_NONE, error))
    return FALSE;
  return TRUE;
}

static gboolean
run_update (Txn           *txn,
            GCancellable  *cancellable,
            GError       **error)
{
  g_autoptr(LspExtractor) extractor = NULL;
  g_autoptr(GError) cleanup_error = NULL;
  g_autofree char *version = NULL;
  struct stat st;

  if (!path_exists_at (txn->root_fd, LSP_LOCAL_DIR, &st) || !S_ISDIR (st.st_mode))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT,
                   _("%s is not installed; install it instead of updating it."), txn->game_id);
      return FALSE;
    }
  if ((version = lsp_game_root_read_version (txn->root_fd, NULL)) == NULL)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND,
                   _("%s is not fully downloaded (no %s); download the new version before updating."),
                   txn->game_id, LSP_VERSION_FILE);
      return FALSE;
    }

  if (!_lsp_intent_write (txn->root_fd, txn->game_id, LSP_INTENT_UPDATING, error))
    return FALSE;
  txn_crash_point (txn, "after-intent");

  if (!rename_at (txn, LSP_LOCAL_DIR, LSP_LOCAL_BACKUP_DIR, error))
    {
      roll_back (txn, FALSE, error);
      return FALSE;
    }
  txn_crash_point (txn, "after-backup");

  if ((extractor = extract_into_staging (txn, version, cancellable, error)) == NULL ||
      !_lsp_install_carry_over (txn->root_fd, txn->game_id, error))
    {
      roll_back (txn, TRUE, error);
      return FALSE;
    }
  txn_crash_point (txn, "after-carry");

  if (!commit_staging (txn, version, extractor, error))
    {
      roll_back (txn, TRUE, error);
      return FALSE;
    }
  txn_crash_point (txn, "after-swap");

  /* The new version is in place; a leftover backup is only garbage now, and
   * recovery removes it if we cannot. */
  if (!_lsp_remove_owned_dir (txn->root_fd, LSP_LOCAL_BACKUP_DIR, &cleanup_error))
    {
      g_warning ("Could not remove the previous install of %s: %s", txn->game_id, cleanup_error->message);
      return TRUE;
    }
  txn_crash_point (txn, "after-remove-backup");

  if (!_lsp_intent_write (txn->root_fd, txn->game_id, LSP_INTENT_NONE, error))
    return FALSE;
  return TRUE;
}

static gboolean
run_uninstall (Txn           *txn,
               GCancellable  *cancellable,
               GError       **error)
{
  struct dirent *entry;
  struct stat st;
  guint removed = 0;
  DIR *dir;
  int fd;

  if (!path_exists_at (txn->root_fd, LSP_LOCAL_DIR, &st) || !S_ISDIR (st.st_mode))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT, _("%s is not installed."), txn->game_id);
      return FALSE;
    }

  if (!_lsp_intent_write (txn->root_fd, txn->game_id, LSP_INTENT_UNINSTALLING, error))
    return FALSE;
  txn_crash_point (txn, "after-intent");

  if (!rename_at (txn, LSP_LOCAL_DIR, LSP_LOCAL_BACKUP_DIR, error))
    {
      roll_back (txn, FALSE, error);
      return FALSE;
    }
  txn_crash_point (txn, "after-backup");

  /* Past the rename the uninstall is committed: a failure from here on keeps
   * the intent, and recovery finishes deleting at next start. */
  fd = openat (txn->root_fd, LSP_LOCAL_BACKUP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || (dir = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      return _lsp_install_set_errno (error, errno, txn->game_id, C_("failed action", "open the install being removed"));
    }
  while ((entry = readdir (dir)) != NULL)
    {
      if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
        continue;
      if (!lsp_fs_remove_tree_at (dirfd (dir), entry->d_name, error))
        {
          closedir (dir);
          g_prefix_error (error, _("Uninstalling %s is incomplete; Lanspread will finish it at next start: "),
                          txn->game_id);
          return FALSE;
        }
      _lsp_install_progress_set_total (txn->progress, 0);
      _lsp_install_progress_set_done (txn->progress, 0, ++removed);
      if (removed == 1)
        txn_crash_point (txn, "mid-delete");
    }
  closedir (dir);

  if (unlinkat (txn->root_fd, LSP_LOCAL_BACKUP_DIR, AT_REMOVEDIR) != 0 && errno != ENOENT)
    return _lsp_install_set_errno (error, errno, txn->game_id, C_("failed action", "remove the backup of the previous install"));
  fsync (txn->root_fd);
  txn_crash_point (txn, "after-delete");

  return _lsp_intent_write (txn->root_fd, txn->game_id, LSP_INTENT_NONE, error);
}

gboolean
_lsp_install_run (const char          *games_path,
                  const char          *game_id,
                  LspOperationKind     kind,
                  LspInstallProgress  *progress,
                  GCancellable        *cancellable,
                  GError             **error)
{
  g_autofree char *root_path = g_build_filename (games_path, game_id, NULL);
  Txn txn = { 0 };
  gboolean ok = FALSE;
  struct stat st;

  txn.game_id = game_id;
  txn.root_path = root_path;
  txn.progress = progress;
  txn.step_prefix = lsp_operation_kind_to_string (kind);
  txn.root_fd = open (root_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (txn.root_fd < 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot open the folder of %s (%s): %s"), game_id, root_path, g_strerror (saved_errno));
      return FALSE;
    }

  /* Leftovers of an earlier run belong to startup recovery; refusing here
   * keeps a half-known state from being made worse. */
  if (path_exists_at (txn.root_fd, LSP_LOCAL_INSTALLING_DIR, &st) ||
      path_exists_at (txn.root_fd, LSP_LOCAL_BACKUP_DIR, &st))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_BUSY,
                   _("%s has a leftover %s or %s folder from an interrupted operation; "
                   "restart Lanspread so it can recover, or remove the folder by hand."),
                   game_id, LSP_LOCAL_INSTALLING_DIR, LSP_LOCAL_BACKUP_DIR);
      close (txn.root_fd);
      return FALSE;
    }

  switch (kind)
    {
    case LSP_OPERATION_INSTALL:
      ok = run_install (&txn, cancellable, error);
      break;
    case LSP_OPERATION_UPDATE:
      ok = run_update (&txn, cancellable, error);
      break;
    case LSP_OPERATION_UNINSTALL:
      ok = run_uninstall (&txn, cancellable, error);
      break;
    default:
      g_assert_not_reached ();
    }

  close (txn.root_fd);
  return ok;
}
