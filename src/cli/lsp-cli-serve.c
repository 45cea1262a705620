#define G_LOG_DOMAIN "lanspread-peer"

#include "config.h"

#include "lsp-cli.h"

#include "lsp-catalog.h"
#include "lsp-install-recovery.h"
#include "lsp-installer.h"
#include "lsp-launcher.h"
#include "lsp-library.h"
#include "lsp-node.h"

#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The headless peer's command loop: one command per line on stdin, one JSON
 * object per line on stdout, everything on the main loop. */

typedef struct
{
  GMainLoop        *loop;
  GFile            *games_dir;
  LspCatalog       *catalog;
  LspLibrary       *library;
  LspLauncher      *launcher;
  LspInstaller     *installer;
  GDataInputStream *input;
  GCancellable     *cancellable;
  GHashTable       *running;   /* ids of games being played */
  LspIdentity      *identity;
  LspNode          *node;
  GHashTable       *peers;     /* peer_id → LspPeer we reported */
  char             *state_dir;
  char             *name;
  char            **static_peers;
  int               port;
  int               stale_seconds;
  gboolean          no_mdns;
  guint             pending;   /* install/update/uninstall not yet finished */
  gboolean          quitting;
  gboolean          stopping;
  gboolean          reading;
  int               exit_code;
} Serve;

typedef gboolean (*CommandFunc) (Serve       *serve,
                                 const char  *arg,
                                 GError     **error);

typedef struct
{
  const char  *name;
  const char  *arg_name;   /* NULL: takes no argument */
  CommandFunc  func;
  const char  *summary;
} Command;

static void read_next_line (Serve *serve);

static JsonBuilder *
event_begin (const char *name)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, name);
  return builder;
}

static void
event_end (JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  text = json_to_string (root, FALSE);
  fprintf (stdout, "%s\n", text);
  fflush (stdout);
  g_object_unref (builder);
}

static void
add_string (JsonBuilder *builder,
            const char  *member,
            const char  *value)
{
  json_builder_set_member_name (builder, member);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
add_int (JsonBuilder *builder,
         const char  *member,
         gint64       value)
{
  json_builder_set_member_name (builder, member);
  json_builder_add_int_value (builder, value);
}

static void
add_bool (JsonBuilder *builder,
          const char  *member,
          gboolean     value)
{
  json_builder_set_member_name (builder, member);
  json_builder_add_boolean_value (builder, value);
}

static void
add_strv (JsonBuilder        *builder,
          const char         *member,
          const char * const *values)
{
  json_builder_set_member_name (builder, member);
  json_builder_begin_array (builder);
  for (guint i = 0; values != NULL && values[i] != NULL; i++)
    json_builder_add_string_value (builder, values[i]);
  json_builder_end_array (builder);
}

static void
emit_error (const char *command,
            const char *id,
            const char *message)
{
  JsonBuilder *builder = event_begin ("error");

  add_string (builder, "command", command);
  add_string (builder, "id", id);
  add_string (builder, "message", message);
  event_end (builder);
}

static void
add_game (Serve        *serve,
          JsonBuilder  *builder,
          LspLocalGame *game)
{
  const char *id = lsp_local_game_get_id (game);

  json_builder_begin_object (builder);
  add_string (builder, "id", id);
  add_string (builder, "name", lsp_local_game_get_name (game));
  add_string (builder, "version", lsp_local_game_get_version (game));
  add_string (builder, "installed_version", lsp_local_game_get_installed_version (game));
  add_int (builder, "size", (gint64) lsp_local_game_get_size (game));
  add_bool (builder, "downloaded", lsp_local_game_get_downloaded (game));
  add_bool (builder, "installed", lsp_local_game_get_installed (game));
  add_bool (builder, "busy", lsp_local_game_get_busy (game));
  add_bool (builder, "running", lsp_launcher_is_running (serve->launcher, id));
  add_string (builder, "manifest_hash", lsp_local_game_get_manifest_hash (game));
  add_string (builder, "error", lsp_local_game_get_error (game));
  json_builder_end_object (builder);
}

static gboolean
cmd_games (Serve       *serve,
           const char  *arg,
           GError     **error)
{
  JsonBuilder *builder = event_begin ("games");
  GListModel *model = G_LIST_MODEL (serve->library);

  add_int (builder, "library_rev", (gint64) lsp_library_get_rev (serve->library));
  add_string (builder, "library_digest", lsp_library_get_digest (serve->library));
  json_builder_set_member_name (builder, "games");
  json_builder_begin_array (builder);
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(LspLocalGame) game = g_list_model_get_item (model, i);
      add_game (serve, builder, game);
    }
  json_builder_end_array (builder);
  event_end (builder);
  return TRUE;
}

static void
add_peer (JsonBuilder *builder,
          LspPeer     *peer,
          gboolean     with_games)
{
  json_builder_begin_object (builder);
  add_string (builder, "peer_id", lsp_peer_get_id (peer));
  add_string (builder, "hostname", lsp_peer_get_hostname (peer));
  add_string (builder, "address", lsp_peer_get_address (peer));
  add_bool (builder, "connected", lsp_peer_get_connected (peer));
  add_int (builder, "library_rev", (gint64) lsp_peer_get_library_rev (peer));
  add_int (builder, "game_count", lsp_peer_get_n_games (peer));
  if (with_games)
    {
      g_autoptr(GPtrArray) games = lsp_peer_dup_games (peer);

      json_builder_set_member_name (builder, "games");
      json_builder_begin_array (builder);
      for (guint i = 0; i < games->len; i++)
        {
          const LspGameSummary *game = g_ptr_array_index (games, i);

          json_builder_begin_object (builder);
          add_string (builder, "id", game->id);
          add_string (builder, "name", game->name);
          add_string (builder, "version", game->version);
          add_int (builder, "size", (gint64) game->size);
          add_bool (builder, "downloaded", game->downloaded);
          add_bool (builder, "installed", game->installed);
          add_string (builder, "manifest_hash", game->manifest_hash);
          add_string (builder, "availability", lsp_availability_to_string (game->availability));
          json_builder_end_object (builder);
        }
      json_builder_end_array (builder);
    }
  json_builder_end_object (builder);
}

static gboolean
cmd_peers (Serve       *serve,
           const char  *arg,
           GError     **error)
{
  JsonBuilder *builder = event_begin ("peers");
  GListModel *model = G_LIST_MODEL (serve->node);

  json_builder_set_member_name (builder, "peers");
  json_builder_begin_array (builder);
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(LspPeer) peer = g_list_model_get_item (model, i);
      add_peer (builder, peer, TRUE);
    }
  json_builder_end_array (builder);
  event_end (builder);
  return TRUE;
}

static void
add_operation (JsonBuilder  *builder,
               LspOperation *operation)
{
  add_string (builder, "id", lsp_operation_get_game_id (operation));
  add_string (builder, "kind", lsp_operation_kind_to_string (lsp_operation_get_kind (operation)));
  add_int (builder, "bytes_done", (gint64) lsp_operation_get_bytes_done (operation));
  add_int (builder, "bytes_total", (gint64) lsp_operation_get_bytes_total (operation));
  add_int (builder, "entries_done", (gint64) lsp_operation_get_entries_done (operation));
}

static gboolean
cmd_status (Serve       *serve,
            const char  *arg,
            GError     **error)
{
  JsonBuilder *builder = event_begin ("status");
  GListModel *model = G_LIST_MODEL (serve->library);
  GHashTableIter iter;
  gpointer key;

  add_int (builder, "library_rev", (gint64) lsp_library_get_rev (serve->library));
  add_bool (builder, "scanning", lsp_library_get_scanning (serve->library));
  add_int (builder, "games", g_list_model_get_n_items (model));
  json_builder_set_member_name (builder, "operations");
  json_builder_begin_array (builder);
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(LspLocalGame) game = g_list_model_get_item (model, i);
      LspOperation *operation = lsp_installer_lookup_operation (serve->installer, lsp_local_game_get_id (game));

      if (operation == NULL)
        continue;
      json_builder_begin_object (builder);
      add_operation (builder, operation);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "running");
  json_builder_begin_array (builder);
  g_hash_table_iter_init (&iter, serve->running);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    json_builder_add_string_value (builder, key);
  json_builder_end_array (builder);
  event_end (builder);
  return TRUE;
}

static void maybe_finish_quit (Serve *serve);

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
    }

  builder = event_begin (error == NULL ? "operation-done" : "operation-failed");
  add_string (builder, "id", call->id);
  add_string (builder, "kind", lsp_operation_kind_to_string (call->kind));
  if (error != NULL)
    {
      add_string (builder, "reason", error->message);
      add_bool (builder, "cancelled", g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
    }
  event_end (builder);

  call->serve->pending--;
  maybe_finish_quit (call->serve);
  g_free (call->id);
  g_free (call);
}

static gboolean
start_operation (Serve             *serve,
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
    }
  return TRUE;
}

static gboolean
cmd_install (Serve       *serve,
             const char  *arg,
             GError     **error)
{
  return start_operation (serve, LSP_OPERATION_INSTALL, arg);
}

static gboolean
cmd_update (Serve       *serve,
            const char  *arg,
            GError     **error)
{
  return start_operation (serve, LSP_OPERATION_UPDATE, arg);
}

static gboolean
cmd_uninstall (Serve       *serve,
               const char  *arg,
               GError     **error)
{
  return start_operation (serve, LSP_OPERATION_UNINSTALL, arg);
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

static gboolean cmd_help (Serve *serve, const char *arg, GError **error);

static gboolean
cmd_quit (Serve       *serve,
          const char  *arg,
          GError     **error)
{
  serve->quitting = TRUE;
  g_cancellable_cancel (serve->cancellable);
  if (serve->node != NULL)
    lsp_node_stop (serve->node, "quit");
  maybe_finish_quit (serve);
  return TRUE;
}

/* Later work (peers, download, cancel) adds rows here. */
static const Command commands[] = {
  { "games", NULL, cmd_games, "Print the library" },
  { "peers", NULL, cmd_peers, "Print the peers we are connected to and their games" },
  { "status", NULL, cmd_status, "Print operations in flight and games running" },
  { "install", "ID", cmd_install, "Install a downloaded game" },
  { "update", "ID", cmd_update, "Install the downloaded version over the installed one" },
  { "uninstall", "ID", cmd_uninstall, "Uninstall a game (its archives stay)" },
  { "play", "ID", cmd_play, "Start an installed game" },
  { "stop", "ID", cmd_stop, "Stop a running game" },
  { "help", NULL, cmd_help, "List the commands" },
  { "quit", NULL, cmd_quit, "Finish operations in flight (cancelling them) and exit" },
};

static gboolean
cmd_help (Serve       *serve,
          const char  *arg,
          GError     **error)
{
  JsonBuilder *builder = event_begin ("help");

  json_builder_set_member_name (builder, "commands");
  json_builder_begin_array (builder);
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      json_builder_begin_object (builder);
      add_string (builder, "name", commands[i].name);
      add_string (builder, "argument", commands[i].arg_name);
      add_string (builder, "summary", commands[i].summary);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  event_end (builder);
  return TRUE;
}

static void
run_command (Serve      *serve,
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
        message = g_strdup_printf ("“%s” needs %s: %s %s", name, command->arg_name, name, command->arg_name);
      else if (command->arg_name == NULL && arg != NULL)
        message = g_strdup_printf ("“%s” takes no argument", name);
      else if (serve->quitting && command->func != cmd_quit)
        message = g_strdup ("Quitting; no new commands are accepted.");
      else if (!command->func (serve, arg, &error))
        message = g_strdup (error->message);

      if (message != NULL)
        emit_error (name, arg, message);
      return;
    }

  {
    g_autofree char *message = g_strdup_printf ("Unknown command “%s”; “help” lists the commands.", name);
    emit_error (name, arg, message);
  }
}

static void
on_line (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  Serve *serve = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  gsize length;

  serve->reading = FALSE;
  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (object), result, &length, &error);
  if (line == NULL)
    {
      if (error != NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      if (error != NULL)
        {
          /* A line that is not UTF-8 is a bad command, not the end. */
          if (g_error_matches (error, G_CONVERT_ERROR, G_CONVERT_ERROR_ILLEGAL_SEQUENCE))
            {
              emit_error (NULL, NULL, "Commands must be UTF-8 text.");
              read_next_line (serve);
              return;
            }
          g_printerr ("lanspread-peer serve: cannot read commands: %s\n", error->message);
        }
      cmd_quit (serve, NULL, NULL);
      return;
    }

  run_command (serve, line);
  if (!serve->quitting)
    read_next_line (serve);
}

static void
read_next_line (Serve *serve)
{
  serve->reading = TRUE;
  g_data_input_stream_read_line_async (serve->input, G_PRIORITY_DEFAULT, serve->cancellable, on_line, serve);
}

static void
maybe_finish_quit (Serve *serve)
{
  GHashTableIter iter;
  gpointer key;

  if (!serve->quitting || serve->pending > 0)
    return;

  /* Games started here end with us; their exit events come first. */
  if (g_hash_table_size (serve->running) > 0)
    {
      if (!serve->stopping)
        {
          g_hash_table_iter_init (&iter, serve->running);
          while (g_hash_table_iter_next (&iter, &key, NULL))
            lsp_launcher_stop (serve->launcher, key, NULL);
          serve->stopping = TRUE;
        }
      return;
    }
  /* Goodbyes are hints; a moment lets them reach the wire. */
  g_timeout_add_once (200, (GSourceOnceFunc) g_main_loop_quit, serve->loop);
}

static gboolean
on_quit_signal (gpointer user_data)
{
  cmd_quit (user_data, NULL, NULL);
  return G_SOURCE_CONTINUE;
}

static void
on_library_changed (LspLibrary         *library,
                    guint64             rev,
                    const char * const *changed,
                    const char * const *removed,
                    Serve              *serve)
{
  JsonBuilder *builder = event_begin ("library-changed");

  add_int (builder, "library_rev", (gint64) rev);
  add_strv (builder, "changed", changed);
  add_strv (builder, "removed", removed);
  event_end (builder);
}

static void
on_operation_notify (LspOperation *operation,
                     GParamSpec   *pspec,
                     Serve        *serve)
{
  guint64 bytes = lsp_operation_get_bytes_done (operation);
  guint64 entries = lsp_operation_get_entries_done (operation);
  guint64 *last = g_object_get_data (G_OBJECT (operation), "lsp-serve-last");
  JsonBuilder *builder;

  if (last == NULL)
    {
      last = g_new0 (guint64, 2);
      g_object_set_data_full (G_OBJECT (operation), "lsp-serve-last", last, g_free);
    }
  /* One event per progress step, not one per changed property. */
  if (last[0] == bytes && last[1] == entries)
    return;
  last[0] = bytes;
  last[1] = entries;

  builder = event_begin ("operation-progress");
  add_operation (builder, operation);
  event_end (builder);
}

static void
on_operation_started (LspInstaller *installer,
                      LspOperation *operation,
                      Serve        *serve)
{
  JsonBuilder *builder = event_begin ("operation-started");

  add_string (builder, "id", lsp_operation_get_game_id (operation));
  add_string (builder, "kind", lsp_operation_kind_to_string (lsp_operation_get_kind (operation)));
  event_end (builder);

  g_signal_connect (operation, "notify::bytes-done", G_CALLBACK (on_operation_notify), serve);
  g_signal_connect (operation, "notify::entries-done", G_CALLBACK (on_operation_notify), serve);
}

static void
on_game_started (LspLauncher *launcher,
                 const char  *id,
                 Serve       *serve)
{
  JsonBuilder *builder = event_begin ("game-started");

  g_hash_table_add (serve->running, g_strdup (id));
  add_string (builder, "id", id);
  event_end (builder);
}

static void
on_game_exited (LspLauncher *launcher,
                const char  *id,
                int          exit_code,
                int          term_signal,
                Serve       *serve)
{
  JsonBuilder *builder = event_begin ("game-exited");

  g_hash_table_remove (serve->running, id);
  add_string (builder, "id", id);
  json_builder_set_member_name (builder, "exit_code");
  if (exit_code >= 0)
    json_builder_add_int_value (builder, exit_code);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "signal");
  if (term_signal > 0)
    json_builder_add_int_value (builder, term_signal);
  else
    json_builder_add_null_value (builder);
  event_end (builder);

  maybe_finish_quit (serve);
}

static void
on_peer_games_changed (LspPeer            *peer,
                       const char * const *changed,
                       const char * const *removed,
                       Serve              *serve)
{
  JsonBuilder *builder = event_begin ("peer-games-changed");

  add_string (builder, "peer_id", lsp_peer_get_id (peer));
  add_int (builder, "library_rev", (gint64) lsp_peer_get_library_rev (peer));
  add_strv (builder, "changed", changed);
  add_strv (builder, "removed", removed);
  event_end (builder);
}

/* Reports the difference between the node's peers and what we reported. */
static void
on_peers_changed (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  Serve      *serve)
{
  g_autoptr(GHashTable) present = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer key, value;

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(LspPeer) peer = g_list_model_get_item (model, i);
      const char *id = lsp_peer_get_id (peer);

      g_hash_table_add (present, (gpointer) id);
      if (!g_hash_table_contains (serve->peers, id))
        {
          JsonBuilder *builder = event_begin ("peer-added");

          json_builder_set_member_name (builder, "peer");
          add_peer (builder, peer, FALSE);
          event_end (builder);
          g_hash_table_insert (serve->peers, g_strdup (id), g_object_ref (peer));
          g_signal_connect (peer, "games-changed", G_CALLBACK (on_peer_games_changed), serve);
        }
    }

  g_hash_table_iter_init (&iter, serve->peers);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      if (!g_hash_table_contains (present, key))
        {
          JsonBuilder *builder = event_begin ("peer-removed");

          add_string (builder, "peer_id", key);
          event_end (builder);
          g_signal_handlers_disconnect_by_data (value, serve);
          g_hash_table_iter_remove (&iter);
        }
    }
}

static void
on_discovery_available (LspDiscovery *discovery,
                        GParamSpec   *pspec,
                        Serve        *serve)
{
  JsonBuilder *builder = event_begin ("discovery");

  add_bool (builder, "available", lsp_discovery_get_available (discovery));
  add_string (builder, "status", lsp_discovery_get_status (discovery));
  event_end (builder);
}

static gboolean
start_node (Serve   *serve,
            GError **error)
{
  g_autoptr(GError) local_error = NULL;

  serve->identity = lsp_identity_load_or_create (serve->state_dir, error);
  if (serve->identity == NULL)
    return FALSE;

  serve->node = lsp_node_new (serve->library, serve->identity, serve->name);
  if (serve->stale_seconds > 0)
    lsp_node_set_liveness (serve->node, MAX (serve->stale_seconds * 1000 / 3, 1), serve->stale_seconds * 1000);
  g_signal_connect (serve->node, "items-changed", G_CALLBACK (on_peers_changed), serve);

  if (!lsp_node_start_any (serve->node, (guint16) serve->port, error))
    return FALSE;
  for (guint i = 0; serve->static_peers != NULL && serve->static_peers[i] != NULL; i++)
    {
      if (!lsp_node_add_peer_address (serve->node, serve->static_peers[i], error))
        return FALSE;
    }

  if (!serve->no_mdns)
    {
      if (lsp_node_enable_discovery (serve->node, FALSE, &local_error))
        {
          g_signal_connect (lsp_node_get_discovery (serve->node), "notify::available",
                            G_CALLBACK (on_discovery_available), serve);
          if (!lsp_discovery_get_available (lsp_node_get_discovery (serve->node)))
            on_discovery_available (lsp_node_get_discovery (serve->node), NULL, serve);
        }
      else
        g_printerr ("lanspread-peer serve: %s; use --peer HOST:PORT to reach other peers\n", local_error->message);
    }

  return TRUE;
}

static void
on_loaded (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  Serve *serve = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *games_path = NULL;
  JsonBuilder *builder;

  if (!lsp_library_load_finish (serve->library, result, &error))
    {
      g_printerr ("lanspread-peer serve: %s\n", error->message);
      serve->exit_code = 1;
      g_main_loop_quit (serve->loop);
      return;
    }

  lsp_library_watch (serve->library);
  if (!start_node (serve, &error))
    {
      g_printerr ("lanspread-peer serve: %s\n", error->message);
      serve->exit_code = 1;
      g_main_loop_quit (serve->loop);
      return;
    }
  g_signal_connect (serve->library, "changed", G_CALLBACK (on_library_changed), serve);
  g_signal_connect (serve->installer, "operation-started", G_CALLBACK (on_operation_started), serve);
  g_signal_connect (serve->launcher, "started", G_CALLBACK (on_game_started), serve);
  g_signal_connect (serve->launcher, "exited", G_CALLBACK (on_game_exited), serve);

  games_path = g_file_get_path (serve->games_dir);
  builder = event_begin ("ready");
  add_string (builder, "games_dir", games_path);
  add_int (builder, "library_rev", (gint64) lsp_library_get_rev (serve->library));
  add_int (builder, "games", g_list_model_get_n_items (G_LIST_MODEL (serve->library)));
  add_string (builder, "peer_id", lsp_node_get_peer_id (serve->node));
  add_int (builder, "port", lsp_node_get_port (serve->node));
  event_end (builder);

  read_next_line (serve);
}

/* Recovery settles interrupted transactions before the first scan looks. */
static void
on_recovered (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Serve *serve = user_data;
  g_autoptr(GError) error = NULL;

  if (!lsp_install_recover_games_folder_finish (result, &error))
    {
      g_printerr ("lanspread-peer serve: %s\n", error->message);
      serve->exit_code = 1;
      g_main_loop_quit (serve->loop);
      return;
    }
  lsp_library_load_async (serve->library, NULL, on_loaded, serve);
}

int
lsp_cli_serve (int    argc,
               char **argv)
{
  g_autofree char *games_path = NULL;
  g_autofree char *catalog_path = NULL;
  Serve serve = { 0 };
  GOptionEntry entries[] = {
    { "games", 'g', 0, G_OPTION_ARG_FILENAME, &games_path, "The games folder", "DIR" },
    { "catalog", 'c', 0, G_OPTION_ARG_FILENAME, &catalog_path, "The game catalog (default: DIR/catalog.json)", "FILE" },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &serve.state_dir, "Where this peer keeps its identity (default: ~/.local/state/lanspread)", "DIR" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &serve.port, "The UDP port to listen on (default: any free port)", "N" },
    { "name", 'n', 0, G_OPTION_ARG_STRING, &serve.name, "The name other players see (default: the host name)", "NAME" },
    { "peer", 0, 0, G_OPTION_ARG_STRING_ARRAY, &serve.static_peers, "Connect to the peer at HOST:PORT (repeatable)", "HOST:PORT" },
    { "no-mdns", 0, 0, G_OPTION_ARG_NONE, &serve.no_mdns, "Do not announce or look for peers with mDNS", NULL },
    { "stale-seconds", 0, 0, G_OPTION_ARG_INT, &serve.stale_seconds, "Drop a peer not heard from for this long (default: 45)", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("— run a peer driven by commands on stdin");
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) stdin_stream = NULL;
  guint sigint_id, sigterm_id;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
    "Commands (one per line on stdin): games, peers, status, install ID, update ID, uninstall ID,\n"
    "play ID, stop ID, help, quit. Events are printed one JSON object per line on stdout.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "lanspread-peer serve: %s\n", error->message);
      return 2;
    }
  if (argc > 1)
    {
      fprintf (stderr, "lanspread-peer serve: unexpected argument “%s”\n", argv[1]);
      return 2;
    }
  if (serve.port < 0 || serve.port > G_MAXUINT16 || serve.stale_seconds < 0)
    {
      fprintf (stderr, "lanspread-peer serve: --port must be 0–65535 and --stale-seconds positive\n");
      return 2;
    }
  if (serve.name != NULL && !lsp_proto_hostname_is_valid (serve.name))
    {
      fprintf (stderr, "lanspread-peer serve: --name must be 1–63 bytes without control characters\n");
      return 2;
    }

  if ((status = lsp_cli_open_games ("serve", games_path, catalog_path, &serve.games_dir, &serve.catalog)) != 0)
    return status;

  if (serve.state_dir == NULL)
    serve.state_dir = g_build_filename (g_get_user_state_dir (), "lanspread", NULL);
  if (serve.name == NULL)
    serve.name = lsp_proto_sanitize_hostname (g_get_host_name ());
  serve.loop = g_main_loop_new (NULL, FALSE);
  serve.cancellable = g_cancellable_new ();
  serve.running = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  serve.peers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  serve.library = lsp_library_new (serve.games_dir, serve.catalog);
  serve.launcher = lsp_launcher_new (serve.library);
  serve.installer = lsp_installer_new (serve.library, serve.launcher);
  stdin_stream = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  serve.input = g_data_input_stream_new (stdin_stream);
  sigint_id = g_unix_signal_add (SIGINT, on_quit_signal, &serve);
  sigterm_id = g_unix_signal_add (SIGTERM, on_quit_signal, &serve);

  lsp_install_recover_games_folder_async (serve.games_dir, NULL, on_recovered, &serve);
  g_main_loop_run (serve.loop);

  /* A read cancelled by a signal-driven quit still owes its callback. */
  while (serve.reading)
    g_main_context_iteration (NULL, TRUE);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  g_signal_handlers_disconnect_by_data (serve.library, &serve);
  g_signal_handlers_disconnect_by_data (serve.installer, &serve);
  g_signal_handlers_disconnect_by_data (serve.launcher, &serve);
  if (serve.node != NULL)
    {
      g_signal_handlers_disconnect_by_data (serve.node, &serve);
      if (lsp_node_get_discovery (serve.node) != NULL)
        g_signal_handlers_disconnect_by_data (lsp_node_get_discovery (serve.node), &serve);
    }
  if (serve.peers != NULL)
    {
      GHashTableIter iter;
      gpointer peer;

      g_hash_table_iter_init (&iter, serve.peers);
      while (g_hash_table_iter_next (&iter, NULL, &peer))
        g_signal_handlers_disconnect_by_data (peer, &serve);
    }
  g_clear_pointer (&serve.peers, g_hash_table_unref);
  g_clear_object (&serve.node);
  g_clear_object (&serve.identity);
  g_clear_pointer (&serve.state_dir, g_free);
  g_clear_pointer (&serve.name, g_free);
  g_clear_pointer (&serve.static_peers, g_strfreev);
  g_clear_object (&serve.input);
  g_clear_object (&serve.installer);
  g_clear_object (&serve.launcher);
  g_clear_object (&serve.library);
  g_clear_object (&serve.catalog);
  g_clear_object (&serve.games_dir);
  g_clear_object (&serve.cancellable);
  g_clear_pointer (&serve.running, g_hash_table_unref);
  g_clear_pointer (&serve.loop, g_main_loop_unref);
  return serve.exit_code;
}
