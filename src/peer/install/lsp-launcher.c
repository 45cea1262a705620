#define G_LOG_DOMAIN "lsp-launcher"

#include "config.h"

#include "lsp-launcher.h"

#include "lsp-error.h"
#include "lsp-game-root.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* A game gets this long to quit after Stop before it is killed. */
#define STOP_GRACE_SECONDS 5

struct _LspLauncher
{
  GObject       parent_instance;

  LspLibrary   *library;
  GHashTable   *processes;  /* game id → Process */
};

G_DEFINE_FINAL_TYPE (LspLauncher, lsp_launcher, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_LIBRARY,
  PROP_N_RUNNING,
  N_PROPS
};

enum {
  STARTED,
  EXITED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

typedef struct
{
  GSubprocess *subprocess;
  GPid         pid;
  guint        kill_id;
} Process;

static void
process_free (Process *process)
{
  g_clear_handle_id (&process->kill_id, g_source_remove);
  g_clear_object (&process->subprocess);
  g_free (process);
}

typedef struct
{
  LspLauncher *self;
  char        *game_id;
} WaitData;

static void
on_exited (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  WaitData *data = user_data;
  g_autoptr(LspLauncher) self = data->self;
  g_autofree char *game_id = data->game_id;
  GSubprocess *subprocess = G_SUBPROCESS (object);
  g_autoptr(GError) error = NULL;
  int exit_code = -1;
  int term_signal = 0;

  g_free (data);

  if (!g_subprocess_wait_finish (subprocess, result, &error))
    g_warning ("Lost track of %s: %s", game_id, error->message);
  else if (g_subprocess_get_if_exited (subprocess))
    exit_code = g_subprocess_get_exit_status (subprocess);
  else if (g_subprocess_get_if_signaled (subprocess))
    term_signal = g_subprocess_get_term_sig (subprocess);

  g_hash_table_remove (self->processes, game_id);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_RUNNING]);
  g_signal_emit (self, signals[EXITED], 0, game_id, exit_code, term_signal);
}

/* Its own session, so Stop reaches the processes the game starts too. */
static void
child_setup (gpointer user_data)
{
  setsid ();
}

static gboolean
set_error (GError    **error,
           gint        code,
           const char *format,
           ...) G_GNUC_PRINTF (3, 4);

static gboolean
set_error (GError    **error,
           gint        code,
           const char *format,
           ...)
{
  va_list args;

  va_start (args, format);
  if (error != NULL)
    *error = g_error_new_valist (LSP_ERROR, code, format, args);
  va_end (args);
  return FALSE;
}

/* The catalog's launch command, parsed without a shell: the program is a
 * path inside local/, Windows programs go through wine. */
static GStrv
build_argv (LspLauncher  *self,
            const char   *game_id,
            const char   *local_path,
            GError      **error)
{
  const LspCatalogEntry *entry = lsp_catalog_lookup (lsp_library_get_catalog (self->library), game_id);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GError) parse_error = NULL;
  g_auto(GStrv) argv = NULL;
  g_autofree char *program = NULL;
  g_autofree char *lower = NULL;
  int argc;

  if (entry->launch == NULL || entry->launch[0] == '\0')
    {
      set_error (error, LSP_ERROR_INVALID_DATA,
                 _("%s cannot start: its catalog entry has no “launch” command. Add one to the catalog."),
                 game_id);
      return NULL;
    }
  if (!g_shell_parse_argv (entry->launch, &argc, &argv, &parse_error))
    {
      set_error (error, LSP_ERROR_INVALID_DATA,
                 _("%s cannot start: its launch command “%s” cannot be read (%s). Fix it in the catalog."),
                 game_id, entry->launch, parse_error->message);
      return NULL;
    }
  if (!lsp_relative_path_is_safe (argv[0]))
    {
      set_error (error, LSP_ERROR_INVALID_DATA,
                 _("%s cannot start: its launch command must name a program inside the installed game, "
                 "not “%s”. Fix it in the catalog."), game_id, argv[0]);
      return NULL;
    }

  program = g_build_filename (local_path, argv[0], NULL);
  if (!g_file_test (program, G_FILE_TEST_IS_REGULAR))
    {
      set_error (error, LSP_ERROR_NOT_FOUND,
                 _("%s cannot start: its program %s is missing from the installed game. Reinstall the game."),
                 game_id, argv[0]);
      return NULL;
    }

  lower = g_ascii_strdown (argv[0], -1);
  if (g_str_has_suffix (lower, ".exe") || g_str_has_suffix (lower, ".bat"))
    {
      g_autofree char *wine = g_find_program_in_path ("wine");

      if (wine == NULL)
        {
          set_error (error, LSP_ERROR_NOT_FOUND,
                     _("%s is a Windows game (%s) and wine is not installed. Install wine to play it."),
                     game_id, argv[0]);
          return NULL;
        }
      g_strv_builder_add (builder, wine);
    }
  else if (!g_file_test (program, G_FILE_TEST_IS_EXECUTABLE))
    {
      set_error (error, LSP_ERROR_INVALID_DATA,
                 _("%s cannot start: its program %s is not executable. Reinstall the game."),
                 game_id, argv[0]);
      return NULL;
    }

  g_strv_builder_add (builder, program);
  for (int i = 1; i < argc; i++)
    g_strv_builder_add (builder, argv[i]);
  return g_strv_builder_end (builder);
}

gboolean
lsp_launcher_play (LspLauncher  *self,
                   const char   *game_id,
                   GError      **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) subprocess = NULL;
  g_autoptr(GError) spawn_error = NULL;
  g_autofree char *games_path = NULL;
  g_autofree char *local_path = NULL;
  g_auto(GStrv) argv = NULL;
  const char *identifier;
  WaitData *data;
  Process *process;
  int out_fd;

  g_return_val_if_fail (LSP_IS_LAUNCHER (self), FALSE);
  g_return_val_if_fail (game_id != NULL, FALSE);

  if (lsp_catalog_lookup (lsp_library_get_catalog (self->library), game_id) == NULL)
    return set_error (error, LSP_ERROR_NOT_FOUND, _("There is no game “%s” in the catalog."), game_id);
  if (g_hash_table_contains (self->processes, game_id))
    return set_error (error, LSP_ERROR_BUSY, _("%s is already running."), game_id);
  if (lsp_library_is_operation_active (self->library, game_id))
    return set_error (error, LSP_ERROR_BUSY,
                      _("%s cannot start while it is being installed, updated or removed; wait for that to finish."),
                      game_id);

  /* The folder, not the library's last scan, says whether it is installed:
   * the rescan after an install may still be on its way. */
  games_path = g_file_get_path (lsp_library_get_games_dir (self->library));
  local_path = g_build_filename (games_path, game_id, LSP_LOCAL_DIR, NULL);
  if (!g_file_test (local_path, G_FILE_TEST_IS_DIR))
    return set_error (error, LSP_ERROR_INVALID_ARGUMENT, _("%s is not installed; install it first."), game_id);
  if ((argv = build_argv (self, game_id, local_path, error)) == NULL)
    return FALSE;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_set_cwd (launcher, local_path);
  g_subprocess_launcher_setenv (launcher, "LANSPREAD_GAME_ID", game_id, TRUE);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  /* The game's output goes to our stderr: stdout may be a protocol stream
   * (the headless peer's events). */
  out_fd = dup (STDERR_FILENO);
  if (out_fd >= 0)
    g_subprocess_launcher_take_stdout_fd (launcher, out_fd);

  subprocess = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv, &spawn_error);
  if (subprocess == NULL)
    return set_error (error, LSP_ERROR_IO, _("Could not start %s (%s): %s"), game_id, argv[0], spawn_error->message);

  process = g_new0 (Process, 1);
  process->subprocess = g_object_ref (subprocess);
  /* NULL once the game has already exited; the wait below still reports it. */
  identifier = g_subprocess_get_identifier (subprocess);
  process->pid = identifier != NULL ? (GPid) g_ascii_strtoll (identifier, NULL, 10) : 0;
  g_hash_table_insert (self->processes, g_strdup (game_id), process);

  data = g_new0 (WaitData, 1);
  data->self = g_object_ref (self);
  data->game_id = g_strdup (game_id);
  g_subprocess_wait_async (subprocess, NULL, on_exited, data);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_RUNNING]);
  g_signal_emit (self, signals[STARTED], 0, game_id);
  return TRUE;
}

static gboolean
on_kill_timeout (gpointer user_data)
{
  Process *process = user_data;

  process->kill_id = 0;
  if (process->pid > 0)
    kill (-process->pid, SIGKILL);
  g_subprocess_force_exit (process->subprocess);
  return G_SOURCE_REMOVE;
}

/* SIGTERM to the game's whole process group, SIGKILL if it is still there
 * after a grace period. "exited" tells when it is gone. */
gboolean
lsp_launcher_stop (LspLauncher  *self,
                   const char   *game_id,
                   GError      **error)
{
  Process *process;

  g_return_val_if_fail (LSP_IS_LAUNCHER (self), FALSE);
  g_return_val_if_fail (game_id != NULL, FALSE);

  process = g_hash_table_lookup (self->processes, game_id);
  if (process == NULL)
    return set_error (error, LSP_ERROR_NOT_FOUND, _("%s is not running."), game_id);

  if (process->pid > 0 && kill (-process->pid, SIGTERM) != 0)
    g_subprocess_send_signal (process->subprocess, SIGTERM);
  if (process->kill_id == 0)
    process->kill_id = g_timeout_add_seconds (STOP_GRACE_SECONDS, on_kill_timeout, process);
  return TRUE;
}

gboolean
lsp_launcher_is_running (LspLauncher *self,
                         const char  *game_id)
{
  g_return_val_if_fail (LSP_IS_LAUNCHER (self), FALSE);
  return g_hash_table_contains (self->processes, game_id);
}

guint
lsp_launcher_get_n_running (LspLauncher *self)
{
  g_return_val_if_fail (LSP_IS_LAUNCHER (self), 0);
  return g_hash_table_size (self->processes);
}

static void
lsp_launcher_dispose (GObject *object)
{
  LspLauncher *self = LSP_LAUNCHER (object);

  g_clear_object (&self->library);

  G_OBJECT_CLASS (lsp_launcher_parent_class)->dispose (object);
}

static void
lsp_launcher_finalize (GObject *object)
{
  LspLauncher *self = LSP_LAUNCHER (object);

  g_clear_pointer (&self->processes, g_hash_table_unref);

  G_OBJECT_CLASS (lsp_launcher_parent_class)->finalize (object);
}

static void
lsp_launcher_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  LspLauncher *self = LSP_LAUNCHER (object);

  switch (prop_id)
    {
    case PROP_LIBRARY:
      g_value_set_object (value, self->library);
      break;
    case PROP_N_RUNNING:
      g_value_set_uint (value, g_hash_table_size (self->processes));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lsp_launcher_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  LspLauncher *self = LSP_LAUNCHER (object);

  switch (prop_id)
    {
    case PROP_LIBRARY:
      self->library = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lsp_launcher_class_init (LspLauncherClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lsp_launcher_dispose;
  object_class->finalize = lsp_launcher_finalize;
  object_class->get_property = lsp_launcher_get_property;
  object_class->set_property = lsp_launcher_set_property;

  properties[PROP_LIBRARY] =
    g_param_spec_object ("library", NULL, NULL, LSP_TYPE_LIBRARY,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_N_RUNNING] =
    g_param_spec_uint ("n-running", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * LspLauncher::started:
   * @game_id: the game now running
   */
  signals[STARTED] =
    g_signal_new ("started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * LspLauncher::exited:
   * @game_id: the game that ended
   * @exit_code: its exit status, or -1 when a signal ended it
   * @term_signal: the signal that ended it, or 0
   */
  signals[EXITED] =
    g_signal_new ("exited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_INT, G_TYPE_INT);
}

static void
lsp_launcher_init (LspLauncher *self)
{
  self->processes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) process_free);
}

LspLauncher *
lsp_launcher_new (LspLibrary *library)
{
  g_return_val_if_fail (LSP_IS_LIBRARY (library), NULL);

  return g_object_new (LSP_TYPE_LAUNCHER, "library", library, NULL);
}
