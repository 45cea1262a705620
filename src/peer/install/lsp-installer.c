#define G_LOG_DOMAIN "lsp-installer"

#include "config.h"

#include "lsp-installer.h"

#include "lsp-error.h"
#include "lsp-game-root.h"
#include "lsp-install-private.h"
#include "lsp-launcher.h"
#include "lsp-operation-private.h"

#include <glib/gi18n-lib.h>

struct _LspInstaller
{
  GObject      parent_instance;

  LspLibrary  *library;
  LspLauncher *launcher;
  char        *games_path;
  GHashTable  *running;  /* game id → Running */
  GHashTable  *reports;  /* game id → LspVerifyReport of its last verify or repair */
};

G_DEFINE_FINAL_TYPE (LspInstaller, lsp_installer, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_LIBRARY,
  PROP_LAUNCHER,
  N_PROPS
};

enum {
  OPERATION_STARTED,
  OPERATION_FINISHED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

typedef struct
{
  LspOperation       *operation;
  LspInstallProgress *progress;
  GTask              *task;      /* the caller's */
} Running;

typedef struct
{
  char               *games_path;
  char               *game_id;
  LspOperationKind    kind;
  LspInstallProgress *progress;
  char               *manifest_hash;  /* verify: what the payload is checked against */
} Job;

static void
running_free (Running *running)
{
  g_clear_object (&running->operation);
  g_clear_pointer (&running->progress, _lsp_install_progress_unref);
  g_clear_object (&running->task);
  g_free (running);
}

static void
job_free (Job *job)
{
  g_free (job->games_path);
  g_free (job->game_id);
  g_free (job->manifest_hash);
  g_clear_pointer (&job->progress, _lsp_install_progress_unref);
  g_free (job);
}

static void
operation_worker (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  Job *job = task_data;
  GError *error = NULL;

  if (job->kind == LSP_OPERATION_VERIFY || job->kind == LSP_OPERATION_REPAIR)
    {
      LspVerifyReport *report = job->kind == LSP_OPERATION_VERIFY
        ? _lsp_install_verify (job->games_path, job->game_id, job->manifest_hash, job->progress, cancellable, &error)
        : _lsp_install_repair (job->games_path, job->game_id, job->progress, cancellable, &error);

      if (report != NULL)
        g_task_return_pointer (task, report, (GDestroyNotify) lsp_verify_report_unref);
      else
        g_task_return_error (task, error);
      return;
    }
  if (_lsp_install_run (job->games_path, job->game_id, job->kind, job->progress, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* An operation's end, held until the library shows the game as it now is. */
typedef struct
{
  LspInstaller    *installer;
  GTask           *task;
  LspOperation    *operation;
  LspVerifyReport *report;
  GError          *error;
} Ending;

static void
on_refreshed (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Ending *ending = user_data;
  g_autoptr(LspInstaller) self = ending->installer;
  g_autoptr(GTask) task = ending->task;
  g_autoptr(LspOperation) operation = ending->operation;
  g_autoptr(LspVerifyReport) report = ending->report;
  g_autoptr(GError) error = ending->error;

  g_free (ending);
  lsp_library_refresh_finish (LSP_LIBRARY (object), result, NULL);
  _lsp_operation_set_finished (operation);
  g_signal_emit (self, signals[OPERATION_FINISHED], 0, operation, error);

  if (error != NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else if (report != NULL)
    g_task_return_pointer (task, g_steal_pointer (&report), (GDestroyNotify) lsp_verify_report_unref);
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_operation_done (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(LspInstaller) self = LSP_INSTALLER (object);
  Job *job = g_task_get_task_data (G_TASK (result));
  Ending *ending = g_new0 (Ending, 1);
  Running *running;

  if (job->kind == LSP_OPERATION_VERIFY || job->kind == LSP_OPERATION_REPAIR)
    ending->report = g_task_propagate_pointer (G_TASK (result), &ending->error);
  else
    g_task_propagate_boolean (G_TASK (result), &ending->error);

  running = g_hash_table_lookup (self->running, job->game_id);
  g_assert (running != NULL);
  _lsp_install_progress_flush (running->progress);
  ending->task = g_steal_pointer (&running->task);
  ending->operation = g_object_ref (running->operation);
  g_hash_table_remove (self->running, job->game_id);

  lsp_library_end_operation (self->library, job->game_id);
  if (ending->report != NULL)
    g_hash_table_replace (self->reports, g_strdup (job->game_id), lsp_verify_report_ref (ending->report));
  /* Whoever hears of the end sees the game as it now is (installed,
   * uninstalled, repaired), not the state from before. */
  ending->installer = g_object_ref (self);
  lsp_library_refresh_async (self->library, NULL, on_refreshed, ending);
}

static void
start_operation (LspInstaller        *self,
                 LspOperationKind     kind,
                 const char          *game_id,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data,
                 gpointer             source_tag)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) worker = NULL;
  g_autoptr(GError) error = NULL;
  Running *running;
  Job *job;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);

  if (!lsp_game_id_is_valid (game_id) ||
      lsp_catalog_lookup (lsp_library_get_catalog (self->library), game_id) == NULL)
    {
      g_task_return_new_error (task, LSP_ERROR, LSP_ERROR_NOT_FOUND,
                               _("There is no game “%s” in the catalog."), game_id);
      return;
    }
  if (kind != LSP_OPERATION_INSTALL && kind != LSP_OPERATION_VERIFY && self->launcher != NULL &&
      lsp_launcher_is_running (self->launcher, game_id))
    {
      g_task_return_new_error (task, LSP_ERROR, LSP_ERROR_BUSY,
                               kind == LSP_OPERATION_UPDATE ? _("%s is running; quit the game before you update it.")
                                                            : _("%s is running; quit the game before you uninstall it."),
                               game_id);
      return;
    }
  if ((kind == LSP_OPERATION_INSTALL || kind == LSP_OPERATION_UPDATE || kind == LSP_OPERATION_REPAIR) &&
      lsp_library_lookup (self->library, game_id) != NULL &&
      lsp_local_game_get_damaged (lsp_library_lookup (self->library, game_id)))
    {
      /* Extracting damaged archives would install the damage. */
      if (kind == LSP_OPERATION_REPAIR)
        g_task_return_new_error (task, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                                 _("The downloaded files of %s are damaged, and the installed game is restored "
                                   "from them; repair the download first."), game_id);
      else
        g_task_return_new_error (task, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                                 kind == LSP_OPERATION_UPDATE
                                 ? _("The downloaded files of %s are damaged; repair them before you update it.")
                                 : _("The downloaded files of %s are damaged; repair them before you install it."),
                                 game_id);
      return;
    }
  if (!lsp_library_begin_operation (self->library, game_id, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  running = g_new0 (Running, 1);
  running->operation = _lsp_operation_new (game_id, kind, cancellable);
  running->progress = _lsp_install_progress_new (running->operation);
  running->task = g_steal_pointer (&task);
  g_hash_table_insert (self->running, g_strdup (game_id), running);

  job = g_new0 (Job, 1);
  job->games_path = g_strdup (self->games_path);
  job->game_id = g_strdup (game_id);
  job->kind = kind;
  if (kind == LSP_OPERATION_VERIFY)
    {
      LspLocalGame *game = lsp_library_lookup (self->library, game_id);

      /* What the library serves is what the payload must match. */
      if (game != NULL && lsp_local_game_get_downloaded (game))
        job->manifest_hash = g_strdup (lsp_local_game_get_reference_hash (game));
    }
  job->progress = _lsp_install_progress_ref (running->progress);

  g_signal_emit (self, signals[OPERATION_STARTED], 0, running->operation);

  worker = g_task_new (g_object_ref (self), lsp_operation_get_cancellable (running->operation),
                       on_operation_done, NULL);
  g_task_set_source_tag (worker, start_operation);
  g_task_set_task_data (worker, job, (GDestroyNotify) job_free);
  g_task_run_in_thread (worker, operation_worker);
}

void
lsp_installer_install_async (LspInstaller        *self,
                             const char          *game_id,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (LSP_IS_INSTALLER (self));
  g_return_if_fail (game_id != NULL);

  start_operation (self, LSP_OPERATION_INSTALL, game_id, cancellable, callback, user_data,
                   lsp_installer_install_async);
}

gboolean
lsp_installer_install_finish (LspInstaller  *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
lsp_installer_update_async (LspInstaller        *self,
                            const char          *game_id,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (LSP_IS_INSTALLER (self));
  g_return_if_fail (game_id != NULL);

  start_operation (self, LSP_OPERATION_UPDATE, game_id, cancellable, callback, user_data,
                   lsp_installer_update_async);
}

gboolean
lsp_installer_update_finish (LspInstaller  *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
lsp_installer_uninstall_async (LspInstaller        *self,
                               const char          *game_id,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (LSP_IS_INSTALLER (self));
  g_return_if_fail (game_id != NULL);

  start_operation (self, LSP_OPERATION_UNINSTALL, game_id, cancellable, callback, user_data,
                   lsp_installer_uninstall_async);
}

gboolean
lsp_installer_uninstall_finish (LspInstaller  *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * lsp_installer_verify_async:
 *
 * Reads the game's files again, off the main loop: a downloaded payload
 * against its manifest (a damaged one is no longer served until it is
 * repaired), an installed game against its install record. Writes nothing
 * of the game.
 */
void
lsp_installer_verify_async (LspInstaller        *self,
                            const char          *game_id,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (LSP_IS_INSTALLER (self));
  g_return_if_fail (game_id != NULL);

  start_operation (self, LSP_OPERATION_VERIFY, game_id, cancellable, callback, user_data,
                   lsp_installer_verify_async);
}

/**
 * lsp_installer_verify_finish:
 *
 * Returns: (transfer full): what the verify found, or %NULL with @error
 */
LspVerifyReport *
lsp_installer_verify_finish (LspInstaller  *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * lsp_installer_repair_async:
 *
 * Extracts again, from the downloaded archives, only the shipped files of
 * the installed game that are missing or changed, as a crash-safe
 * transaction; the player's own files stay, and a shipped file the player
 * changed is kept as NAME.lanspread-old, as an update keeps it. Repair a
 * damaged payload first (lsp_download_manager_repair()).
 */
void
lsp_installer_repair_async (LspInstaller        *self,
                            const char          *game_id,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (LSP_IS_INSTALLER (self));
  g_return_if_fail (game_id != NULL);

  start_operation (self, LSP_OPERATION_REPAIR, game_id, cancellable, callback, user_data,
                   lsp_installer_repair_async);
}

/**
 * lsp_installer_repair_finish:
 *
 * Returns: (transfer full): what was found, all of it now fixed, or %NULL
 *   with @error
 */
LspVerifyReport *
lsp_installer_repair_finish (LspInstaller  *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * lsp_installer_lookup_report:
 *
 * Returns: (transfer none) (nullable): what the last verify or repair of
 *   @game_id found, if one ran since the start
 */
LspVerifyReport *
lsp_installer_lookup_report (LspInstaller *self,
                             const char   *game_id)
{
  g_return_val_if_fail (LSP_IS_INSTALLER (self), NULL);

  return g_hash_table_lookup (self->reports, game_id);
}

LspOperation *
lsp_installer_lookup_operation (LspInstaller *self,
                                const char   *game_id)
{
  Running *running;

  g_return_val_if_fail (LSP_IS_INSTALLER (self), NULL);

  running = g_hash_table_lookup (self->running, game_id);
  return running != NULL ? running->operation : NULL;
}

LspLibrary *
lsp_installer_get_library (LspInstaller *self)
{
  g_return_val_if_fail (LSP_IS_INSTALLER (self), NULL);
  return self->library;
}

static void
lsp_installer_constructed (GObject *object)
{
  LspInstaller *self = LSP_INSTALLER (object);

  G_OBJECT_CLASS (lsp_installer_parent_class)->constructed (object);

  g_assert (self->library != NULL);
  self->games_path = g_file_get_path (lsp_library_get_games_dir (self->library));
}

/* Running workers hold a reference, so dispose only runs once they are all
 * done; there is nothing left to cancel here. */
static void
lsp_installer_dispose (GObject *object)
{
  LspInstaller *self = LSP_INSTALLER (object);

  g_clear_object (&self->launcher);
  g_clear_object (&self->library);

  G_OBJECT_CLASS (lsp_installer_parent_class)->dispose (object);
}

static void
lsp_installer_finalize (GObject *object)
{
  LspInstaller *self = LSP_INSTALLER (object);

  g_clear_pointer (&self->running, g_hash_table_unref);
  g_clear_pointer (&self->reports, g_hash_table_unref);
  g_clear_pointer (&self->games_path, g_free);

  G_OBJECT_CLASS (lsp_installer_parent_class)->finalize (object);
}

static void
lsp_installer_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  LspInstaller *self = LSP_INSTALLER (object);

  switch (prop_id)
    {
    case PROP_LIBRARY:
      g_value_set_object (value, self->library);
      break;
    case PROP_LAUNCHER:
      g_value_set_object (value, self->launcher);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lsp_installer_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  LspInstaller *self = LSP_INSTALLER (object);

  switch (prop_id)
    {
    case PROP_LIBRARY:
      self->library = g_value_dup_object (value);
      break;
    case PROP_LAUNCHER:
      self->launcher = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lsp_installer_class_init (LspInstallerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = lsp_installer_constructed;
  object_class->dispose = lsp_installer_dispose;
  object_class->finalize = lsp_installer_finalize;
  object_class->get_property = lsp_installer_get_property;
  object_class->set_property = lsp_installer_set_property;

  properties[PROP_LIBRARY] =
    g_param_spec_object ("library", NULL, NULL, LSP_TYPE_LIBRARY,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LAUNCHER] =
    g_param_spec_object ("launcher", NULL, NULL, LSP_TYPE_LAUNCHER,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * LspInstaller::operation-started:
   * @operation: the new operation; bind to its progress properties
   */
  signals[OPERATION_STARTED] =
    g_signal_new ("operation-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, LSP_TYPE_OPERATION);
  /**
   * LspInstaller::operation-finished:
   * @operation: the operation, no longer active
   * @error: (nullable): why it failed, or %NULL on success
   */
  signals[OPERATION_FINISHED] =
    g_signal_new ("operation-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, LSP_TYPE_OPERATION, G_TYPE_ERROR);
}

static void
lsp_installer_init (LspInstaller *self)
{
  self->running = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) running_free);
  self->reports = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) lsp_verify_report_unref);
}

LspInstaller *
lsp_installer_new (LspLibrary  *library,
                   LspLauncher *launcher)
{
  g_return_val_if_fail (LSP_IS_LIBRARY (library), NULL);
  g_return_val_if_fail (launcher == NULL || LSP_IS_LAUNCHER (launcher), NULL);

  return g_object_new (LSP_TYPE_INSTALLER, "library", library, "launcher", launcher, NULL);
}
