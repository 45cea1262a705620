#define G_LOG_DOMAIN "lanspread-peer"

#include "config.h"

#include "lsp-cli-serve-private.h"

#include "lsp-cli-json.h"

#include <glib/gi18n-lib.h>
#include <glib/gi18n-lib.h>
#include <string.h>

/* The commands of `serve`, one per line on stdin. */

static gboolean
cmd_games (Serve       *serve,
           const char  *arg,
           GError     **error)
{
  JsonBuilder *builder = lsp_cli_event_begin ("games");

  lsp_cli_json_add_library (builder, serve->library, serve->launcher);
  lsp_cli_event_end (builder);
  return TRUE;
}

static gboolean
cmd_peers (Serve       *serve,
           const char  *arg,
           GError     **error)
{
  JsonBuilder *builder = lsp_cli_event_begin ("peers");
  GListModel *model = G_LIST_MODEL (serve->node);

  json_builder_set_member_name (builder, "peers");
  json_builder_begin_array (builder);
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(LspPeer) peer = g_list_model_get_item (model, i);
      lsp_cli_json_add_peer (builder, peer, TRUE);
    }
  json_builder_end_array (builder);
  lsp_cli_event_end (builder);
  return TRUE;
}

static gboolean
cmd_status (Serve       *serve,
            const char  *arg,
            GError     **error)
{
  JsonBuilder *builder = lsp_cli_event_begin ("status");
  GListModel *model = G_LIST_MODEL (serve->library);
  GHashTableIter iter;
  gpointer key;

  lsp_cli_json_add_int (builder, "library_rev", (gint64) lsp_library_get_rev (serve->library));
  lsp_cli_json_add_bool (builder, "scanning", lsp_library_get_scanning (serve->library));
  lsp_cli_json_add_int (builder, "games", g_list_model_get_n_items (model));
  json_builder_set_member_name (builder, "operations");
  json_builder_begin_array (builder);
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(LspLocalGame) game = g_list_model_get_item (model, i);
      LspOperation *operation = lsp_installer_lookup_operation (serve->installer, lsp_local_game_get_id (game));

      if (operation == NULL)
        continue;
      json_builder_begin_object (builder);
      lsp_cli_json_add_operation (builder, operation);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "downloads");
  json_builder_begin_array (builder);
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (serve->downloads)); i++)
    {
      g_autoptr(LspDownload) download = g_list_model_get_item (G_LIST_MODEL (serve->downloads), i);

      json_builder_begin_object (builder);
      lsp_cli_json_add_download (builder, download);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  lsp_cli_json_add_uploads (builder, serve->chunk_server);
  json_builder_set_member_name (builder, "running");
  json_builder_begin_array (builder);
  g_hash_table_iter_init (&iter, serve->running);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    json_builder_add_string_value (builder, key);
  json_builder_end_array (builder);
  lsp_cli_event_end (builder);
  return TRUE;
}

typedef struct
{
  Serve            *serve;
  LspOperationKind  kind;
  char             *id;
} OperationCall;

static void
on_operation_done (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  OperationCall *call = user_data;
  LspInstaller *installer = LSP_INSTALLER (object);
  g_autoptr(GError) error = NULL;
  g_autoptr(LspVerifyReport) report = NULL;
  JsonBuilder *builder;

  switch (call->kind)
    {
    case LSP_OPERATION_INSTALL:
      lsp_installer_install_finish (installer, result, &error);
      break;
    case LSP_OPERATION_UPDATE:
      lsp_installer_update_finish (installer, result, &error);
      break;
    case LSP_OPERATION_UNINSTALL:
      lsp_installer_uninstall_finish (installer, result, &error);
      break;
    case LSP_OPERATION_VERIFY:
      report = lsp_installer_verify_finish (installer, result, &error);
      break;
    case LSP_OPERATION_REPAIR:
      g_assert_not_reached ();  /* the engine runs repairs: cmd_repair */
    }

  builder = lsp_cli_event_begin (error == NULL ? "operation-done" : "operation-failed");
  lsp_cli_json_add_string (builder, "id", call->id);
  lsp_cli_json_add_string (builder, "kind", lsp_operation_kind_to_string (call->kind));
  if (error != NULL)
    {
      lsp_cli_json_add_string (builder, "reason", error->message);
      lsp_cli_json_add_bool (builder, "cancelled", g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
    }
  lsp_cli_event_end (builder);
  if (report != NULL)
    {
      builder = lsp_cli_event_begin ("verified");
      lsp_cli_json_add_verify_report (builder, report);
      lsp_cli_event_end (builder);
    }

  call->serve->pending--;
  lsp_cli_serve_maybe_finish_quit (call->serve);
  g_free (call->id);
  g_free (call);
}

void
lsp_cli_serve_start_operation (Serve             *serve,
                               LspOperationKind   kind,
                               const char        *id)
{
  OperationCall *call = g_new0 (OperationCall, 1);

  call->serve = serve;
  call->kind = kind;
  call->id = g_strdup (id);
  serve->pending++;

  switch (kind)
    {
    case LSP_OPERATION_INSTALL:
      lsp_installer_install_async (serve->installer, id, serve->cancellable, on_operation_done, call);
      break;
    case LSP_OPERATION_UPDATE:
      lsp_installer_update_async (serve->installer, id, serve->cancellable, on_operation_done, call);
      break;
    case LSP_OPERATION_UNINSTALL:
      lsp_installer_uninstall_async (serve->installer, id, serve->cancellable, on_operation_done, call);
      break;
    case LSP_OPERATION_VERIFY:
      lsp_installer_verify_async (serve->installer, id, serve->cancellable, on_operation_done, call);
      break;
    case LSP_OPERATION_REPAIR:
      g_assert_not_reached ();  /* the engine runs repairs: cmd_repair */
    }
}

static gboolean
cmd_install (Serve       *serve,
             const char  *arg,
             GError     **error)
{
  lsp_cli_serve_start_operation (serve, LSP_OPERATION_INSTALL, arg);
  return TRUE;
}

static gboolean
cmd_update (Serve       *serve,
            const char  *arg,
            GError     **error)
{
  lsp_cli_serve_start_operation (serve, LSP_OPERATION_UPDATE, arg);
  return TRUE;
}

static gboolean
cmd_uninstall (Serve       *serve,
               const char  *arg,
               GError     **error)
{
  lsp_cli_serve_start_operation (serve, LSP_OPERATION_UNINSTALL, arg);
  return TRUE;
}

static gboolean
cmd_verify (Serve       *serve,
            const char  *arg,
            GError     **error)
{
  lsp_cli_serve_start_operation (serve, LSP_OPERATION_VERIFY, arg);
  return TRUE;
}

typedef struct
{
  Serve *serve;
  char  *id;
} RepairCall;

static void
on_repaired (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  RepairCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(LspVerifyReport) report = NULL;
  guint64 bytes_received = 0;
  guint chunks = 0;
  JsonBuilder *builder;

  report = lsp_engine_repair_finish (LSP_ENGINE (object), result, &chunks, &bytes_received, &error);
  if (report == NULL)
    lsp_cli_emit_error ("repair", call->id, error->message);
  else
    {
      builder = lsp_cli_event_begin ("repaired");
      lsp_cli_json_add_string (builder, "id", call->id);
      lsp_cli_json_add_int (builder, "chunks", chunks);
      lsp_cli_json_add_int (builder, "bytes_received", (gint64) bytes_received);
      json_builder_set_member_name (builder, "restored");
      json_builder_begin_array (builder);
      for (guint i = 0; i < report->installed_problems->len; i++)
        {
          LspVerifyProblem *problem = g_ptr_array_index (report->installed_problems, i);

          json_builder_begin_object (builder);
          lsp_cli_json_add_string (builder, "path", problem->path);
          lsp_cli_json_add_string (builder, "problem", lsp_verify_problem_kind_to_string (problem->kind));
          json_builder_end_object (builder);
        }
      json_builder_end_array (builder);
      lsp_cli_event_end (builder);
    }
  call->serve->pending--;
  lsp_cli_serve_maybe_finish_quit (call->serve);
  g_free (call->id);
  g_free (call);
}

/* The payload first, a download of only the chunks that do not verify
 * (download events); then, once the archives are sound, the installed
 * game (operation events, kind repair); "repaired" says what both fixed. */
static gboolean
cmd_repair (Serve       *serve,
            const char  *arg,
            GError     **error)
{
  RepairCall *call = g_new0 (RepairCall, 1);

  call->serve = serve;
  call->id = g_strdup (arg);
  serve->pending++;
  lsp_engine_repair_async (serve->engine, arg, serve->cancellable, on_repaired, call);
  return TRUE;
}

static gboolean
cmd_play (Serve       *serve,
          const char  *arg,
          GError     **error)
{
  return lsp_launcher_play (serve->launcher, arg, error);
}

static gboolean
cmd_stop (Serve       *serve,
          const char  *arg,
          GError     **error)
{
  return lsp_launcher_stop (serve->launcher, arg, error);
}

/* "download ID" or "download ID --install". */
static gboolean
cmd_download (Serve       *serve,
              const char  *arg,
              GError     **error)
{
  g_auto(GStrv) words = g_strsplit_set (arg, " \t", -1);
  const char *id = words[0];
  gboolean install = FALSE;

  for (guint i = 1; words[i] != NULL; i++)
    {
      if (g_str_equal (words[i], "--install"))
        install = TRUE;
      else if (words[i][0] != '\0')
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
                       _("“download” takes an ID and optionally --install, not “%s”"), words[i]);
          return FALSE;
        }
    }
  if (lsp_download_manager_start (serve->downloads, id, error) == NULL)
    return FALSE;
  if (install)
    g_hash_table_add (serve->install_after, g_strdup (id));
  return TRUE;
}

static gboolean
cmd_cancel (Serve       *serve,
            const char  *arg,
            GError     **error)
{
  return lsp_download_manager_cancel (serve->downloads, arg, error);
}

static void
on_removed (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autofree char *id = user_data;
  g_autoptr(GError) error = NULL;

  if (!lsp_download_manager_remove_finish (LSP_DOWNLOAD_MANAGER (object), result, &error))
    lsp_cli_emit_error ("remove", id, error->message);
  else
    {
      JsonBuilder *builder = lsp_cli_event_begin ("removed");

      lsp_cli_json_add_string (builder, "id", id);
      lsp_cli_event_end (builder);
    }
}

static gboolean
cmd_remove (Serve       *serve,
            const char  *arg,
            GError     **error)
{
  lsp_download_manager_remove_async (serve->downloads, arg, NULL, on_removed, g_strdup (arg));
  return TRUE;
}

static gboolean
cmd_trust (Serve       *serve,
           const char  *arg,
           GError     **error)
{
  JsonBuilder *builder;

  if (!lsp_node_trust_peer_address (serve->node, arg, error))
    return FALSE;
  builder = lsp_cli_event_begin ("trusted");
  lsp_cli_json_add_string (builder, "address", arg);
  lsp_cli_event_end (builder);
  return TRUE;
}

static gboolean cmd_help (Serve *serve, const char *arg, GError **error);


static const Command commands[] = {
  { "games", NULL, cmd_games, N_("Print the library") },
  { "peers", NULL, cmd_peers, N_("Print the peers we are connected to and their games") },
  { "status", NULL, cmd_status, N_("Print operations and downloads in flight and games running") },
  { "download", "ID", cmd_download, N_("Download a game from the peers that have it (add --install to install it then)") },
  { "cancel", "ID", cmd_cancel, N_("Cancel a download; its partial files are removed") },
  { "remove", "ID", cmd_remove, N_("Remove a downloaded game's files (not when installed)") },
  { "install", "ID", cmd_install, N_("Install a downloaded game") },
  { "update", "ID", cmd_update, N_("Install the downloaded version over the installed one") },
  { "uninstall", "ID", cmd_uninstall, N_("Uninstall a game (its archives stay)") },
  { "verify", "ID", cmd_verify, N_("Check a game's files against its manifest and install record") },
  { "repair", "ID", cmd_repair, N_("Fetch again only a game's chunks that do not verify, then restore its installed files") },
  { "play", "ID", cmd_play, N_("Start an installed game") },
  { "stop", "ID", cmd_stop, N_("Stop a running game") },
  { "trust", "HOST:PORT", cmd_trust, N_("Accept the new key of the peer at a --peer address after a peer-key-changed event") },
  { "help", NULL, cmd_help, N_("List the commands") },
  { "quit", NULL, lsp_cli_serve_quit, N_("Finish operations in flight (cancelling them) and exit") },
};

static gboolean
cmd_help (Serve       *serve,
          const char  *arg,
          GError     **error)
{
  JsonBuilder *builder = lsp_cli_event_begin ("help");

  json_builder_set_member_name (builder, "commands");
  json_builder_begin_array (builder);
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      json_builder_begin_object (builder);
      lsp_cli_json_add_string (builder, "name", commands[i].name);
      lsp_cli_json_add_string (builder, "argument", commands[i].arg_name);
      lsp_cli_json_add_string (builder, "summary", _(commands[i].summary));
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  lsp_cli_event_end (builder);
  return TRUE;
}

void
lsp_cli_serve_run_command (Serve      *serve,
                           const char *line)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  g_autofree char *arg = NULL;
  const char *space;

  while (g_ascii_isspace (*line))
    line++;
  if (*line == '\0' || *line == '#')
    return;

  space = strpbrk (line, " \t");
  name = space ? g_strndup (line, (gsize) (space - line)) : g_strdup (line);
  arg = space ? g_strstrip (g_strdup (space)) : NULL;
  if (arg != NULL && *arg == '\0')
    g_clear_pointer (&arg, g_free);

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      const Command *command = &commands[i];
      g_autofree char *message = NULL;

      if (strcmp (command->name, name) != 0)
        continue;

      if (command->arg_name != NULL && arg == NULL)
        /* Translators: a command, what it needs (“ID”), then how to type it. */
        message = g_strdup_printf (_("“%s” needs %s: %s %s"), name, command->arg_name, name, command->arg_name);
      else if (command->arg_name == NULL && arg != NULL)
        message = g_strdup_printf (_("“%s” takes no argument"), name);
      else if (serve->quitting && command->func != lsp_cli_serve_quit)
        message = g_strdup (_("Quitting; no new commands are accepted."));
      else if (!command->func (serve, arg, &error))
        message = g_strdup (error->message);

      if (message != NULL)
        lsp_cli_emit_error (name, arg, message);
      return;
    }

  {
    g_autofree char *message = g_strdup_printf (_("Unknown command “%s”; “help” lists the commands."), name);
    lsp_cli_emit_error (name, arg, message);
  }
}
