#define G_LOG_DOMAIN "lanspread-peer"

#include "config.h"

#include "lsp-cli.h"

#include "lsp-cli-json.h"
#include "lsp-cli-serve-private.h"
#include "lsp-party-key.h"
#include "lsp-proto.h"

#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <glib/gi18n-lib.h>
#include <stdio.h>
#include <unistd.h>

/* The headless peer's command loop: one command per line on stdin, one JSON
 * object per line on stdout, everything on the main loop. */

static void read_next_line (Serve *serve);

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
              lsp_cli_emit_error (NULL, NULL, _("Commands must be UTF-8 text."));
              read_next_line (serve);
              return;
            }
          g_printerr (_("lanspread-peer serve: cannot read commands: %s\n"), error->message);
        }
      lsp_cli_serve_quit (serve, NULL, NULL);
      return;
    }

  lsp_cli_serve_run_command (serve, line);
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
on_engine_stopped (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Serve *serve = user_data;

  lsp_engine_stop_finish (LSP_ENGINE (object), result, NULL);
  g_main_loop_quit (serve->loop);
}

void
lsp_cli_serve_maybe_finish_quit (Serve *serve)
{
  GHashTableIter iter;
  gpointer key;

  if (!serve->quitting || serve->pending > 0 || serve->stopping)
    return;

  /* Games started here end with us; their exit events come first. */
  if (g_hash_table_size (serve->running) > 0)
    {
      if (!serve->launcher_stopping)
        {
          g_hash_table_iter_init (&iter, serve->running);
          while (g_hash_table_iter_next (&iter, &key, NULL))
            lsp_launcher_stop (serve->launcher, key, NULL);
          serve->launcher_stopping = TRUE;
        }
      return;
    }
  serve->stopping = TRUE;
  lsp_engine_stop_async (serve->engine, "quit", on_engine_stopped, serve);
}

gboolean
lsp_cli_serve_quit (Serve       *serve,
                    const char  *arg,
                    GError     **error)
{
  serve->quitting = TRUE;
  g_cancellable_cancel (serve->cancellable);
  lsp_cli_serve_maybe_finish_quit (serve);
  return TRUE;
}

static gboolean
on_quit_signal (gpointer user_data)
{
  lsp_cli_serve_quit (user_data, NULL, NULL);
  return G_SOURCE_CONTINUE;
}

static void
on_engine_warning (LspEngine  *engine,
                   const char *message,
                   Serve      *serve)
{
  g_printerr ("lanspread-peer serve: %s\n", message);
}

static void
on_started (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Serve *serve = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *games_path = NULL;
  JsonBuilder *builder;

  if (!lsp_engine_start_finish (serve->engine, result, &error))
    {
      g_printerr ("lanspread-peer serve: %s\n", error->message);
      serve->exit_code = 1;
      g_main_loop_quit (serve->loop);
      return;
    }

  serve->library = lsp_engine_get_library (serve->engine);
  serve->launcher = lsp_engine_get_launcher (serve->engine);
  serve->installer = lsp_engine_get_installer (serve->engine);
  serve->node = lsp_engine_get_node (serve->engine);
  serve->downloads = lsp_engine_get_downloads (serve->engine);
  serve->chunk_server = lsp_engine_get_chunk_server (serve->engine);
  lsp_cli_serve_connect_events (serve);

  games_path = g_file_get_path (lsp_engine_get_games_dir (serve->engine));
  builder = lsp_cli_event_begin ("ready");
  lsp_cli_json_add_string (builder, "games_dir", games_path);
  lsp_cli_json_add_int (builder, "library_rev", (gint64) lsp_library_get_rev (serve->library));
  lsp_cli_json_add_int (builder, "games", g_list_model_get_n_items (G_LIST_MODEL (serve->library)));
  lsp_cli_json_add_string (builder, "peer_id", lsp_node_get_peer_id (serve->node));
  lsp_cli_json_add_int (builder, "port", lsp_node_get_port (serve->node));
  lsp_cli_event_end (builder);

  read_next_line (serve);
}

int
lsp_cli_serve (int    argc,
               char **argv)
{
  g_autofree char *games_path = NULL;
  g_autofree char *catalog_path = NULL;
  g_autofree char *state_dir = NULL;
  g_autofree char *name = NULL;
  g_autofree char *passphrase_path = NULL;
  g_autofree char *listen_address = NULL;
  g_autoptr(LspPassphrase) passphrase = NULL;
  g_auto(GStrv) static_peers = NULL;
  int port = 0, stale_seconds = 0;
  int upload_slots = 0, upload_slots_per_peer = 0, max_downloads = 0, wait_seconds = 0;
  double upload_mbps = 0, download_mbps = 0;
  gboolean no_mdns = FALSE, no_swarm = FALSE;
  Serve serve = { 0 };
  GOptionEntry entries[] = {
    { "games", 'g', 0, G_OPTION_ARG_FILENAME, &games_path, N_("The games folder"), N_("DIR") },
    { "catalog", 'c', 0, G_OPTION_ARG_FILENAME, &catalog_path, N_("The game catalog (default: DIR/catalog.json)"), N_("FILE") },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir, N_("Where this peer keeps its identity (default: ~/.local/state/lanspread)"), N_("DIR") },
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, N_("The UDP port to listen on (default: any free port)"), N_("N") },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen_address, N_("Listen on this IP address only (default: every address)"), N_("ADDRESS") },
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name, N_("The name other players see (default: the host name)"), N_("NAME") },
    { "peer", 0, 0, G_OPTION_ARG_STRING_ARRAY, &static_peers, N_("Connect to the peer at HOST:PORT (repeatable)"), N_("HOST:PORT") },
    { "passphrase-file", 0, 0, G_OPTION_ARG_FILENAME, &passphrase_path, N_("Only players who know the party passphrase in FILE (private to you, chmod 600) may connect"), N_("FILE") },
    { "no-mdns", 0, 0, G_OPTION_ARG_NONE, &no_mdns, N_("Do not announce or look for peers with mDNS"), NULL },
    { "no-swarm", 0, 0, G_OPTION_ARG_NONE, &no_swarm, N_("Share no part of a download before it is complete, and download from complete copies only"), NULL },
    { "stale-seconds", 0, 0, G_OPTION_ARG_INT, &stale_seconds, N_("Drop a peer not heard from for this long (default: 45)"), N_("N") },
    { "upload-slots", 0, 0, G_OPTION_ARG_INT, &upload_slots, N_("Chunks served at once, to all peers (default: 16)"), N_("N") },
    { "upload-slots-per-peer", 0, 0, G_OPTION_ARG_INT, &upload_slots_per_peer, N_("Chunks served at once to one peer (default: 4)"), N_("N") },
    { "upload-rate", 0, 0, G_OPTION_ARG_DOUBLE, &upload_mbps, N_("Serve at most this many MB/s (default: no limit)"), N_("MB/S") },
    { "download-rate", 0, 0, G_OPTION_ARG_DOUBLE, &download_mbps, N_("Download at most this many MB/s, all downloads together (default: no limit)"), N_("MB/S") },
    { "max-downloads", 0, 0, G_OPTION_ARG_INT, &max_downloads, N_("Downloads running at once; more wait (default: 2)"), N_("N") },
    { "download-wait-seconds", 0, 0, G_OPTION_ARG_INT, &wait_seconds, N_("Give up a download that has had no source for this long (default: 300)"), N_("N") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (N_("— run a peer driven by commands on stdin"));
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) stdin_stream = NULL;
  g_autoptr(GFile) games_dir = NULL;
  g_autoptr(GFile) catalog_file = NULL;
  LspEngineConfig config = { 0 };
  guint sigint_id, sigterm_id;
  int status;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  /* Translators: the command names and “ID” are typed as they are; keep them. */
  g_option_context_set_description (context,
    N_("Commands (one per line on stdin): games, peers, status, download ID [--install], cancel ID,\n"
       "remove ID, install ID, update ID, uninstall ID, play ID, stop ID, help, quit.\n"
       "Events are printed one JSON object per line on stdout."));
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "lanspread-peer serve: %s\n", error->message);
      return 2;
    }
  if (argc > 1)
    {
      fprintf (stderr, _("lanspread-peer serve: unexpected argument “%s”\n"), argv[1]);
      return 2;
    }
  if (port < 0 || port > G_MAXUINT16 || stale_seconds < 0)
    {
      fprintf (stderr, _("lanspread-peer serve: --port must be 0–65535 and --stale-seconds positive\n"));
      return 2;
    }
  if (upload_slots < 0 || upload_slots_per_peer < 0 || max_downloads < 0 || wait_seconds < 0 ||
      upload_mbps < 0 || upload_mbps > 1e6 || download_mbps < 0 || download_mbps > 1e6)
    {
      fprintf (stderr, _("lanspread-peer serve: slots, downloads, seconds and the upload rate must be positive\n"));
      return 2;
    }
  if (name != NULL && !lsp_proto_hostname_is_valid (name))
    {
      fprintf (stderr, _("lanspread-peer serve: --name must be 1–63 bytes without control characters\n"));
      return 2;
    }
  if (listen_address != NULL && !g_hostname_is_ip_address (listen_address))
    {
      fprintf (stderr, _("lanspread-peer serve: --listen must be an IP address of this machine, not “%s”\n"),
               listen_address);
      return 2;
    }
  for (guint i = 0; static_peers != NULL && static_peers[i] != NULL; i++)
    {
      if (!lsp_node_parse_peer_address (static_peers[i], NULL, &error))
        {
          fprintf (stderr, "lanspread-peer serve: --peer: %s\n", error->message);
          return 2;
        }
    }
  /* Read now, at start, so a mistake in the file stops us before we join
   * the LAN; the passphrase itself never goes on the command line, where
   * every user's ps would show it. */
  if (passphrase_path != NULL && (passphrase = lsp_party_passphrase_load (passphrase_path, &error)) == NULL)
    {
      fprintf (stderr, "lanspread-peer serve: --passphrase-file: %s\n", error->message);
      return 2;
    }
  if ((status = lsp_cli_resolve_games ("serve", games_path, catalog_path, &games_dir, &catalog_file)) != 0)
    return status;

  config.games_dir = games_dir;
  config.catalog_file = catalog_file;
  config.state_dir = state_dir;
  config.hostname = name;
  config.port = (guint16) port;
  config.listen_address = listen_address;
  config.static_peers = (const char * const *) static_peers;
  config.use_mdns = !no_mdns;
  config.no_swarm = no_swarm;
  config.stale_seconds = (guint) stale_seconds;
  config.upload_slots = (guint) upload_slots;
  config.upload_slots_per_peer = (guint) upload_slots_per_peer;
  config.upload_rate = (guint64) (upload_mbps * 1e6);
  config.download_rate = (guint64) (download_mbps * 1e6);
  config.max_downloads = (guint) max_downloads;
  config.wait_seconds = (guint) wait_seconds;
  config.passphrase = passphrase;
  serve.engine = lsp_engine_new (&config);
  g_signal_connect (serve.engine, "warning", G_CALLBACK (on_engine_warning), &serve);

  serve.loop = g_main_loop_new (NULL, FALSE);
  serve.cancellable = g_cancellable_new ();
  serve.running = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  serve.peers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  serve.install_after = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  stdin_stream = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  serve.input = g_data_input_stream_new (stdin_stream);
  sigint_id = g_unix_signal_add (SIGINT, on_quit_signal, &serve);
  sigterm_id = g_unix_signal_add (SIGTERM, on_quit_signal, &serve);

  lsp_engine_start_async (serve.engine, serve.cancellable, on_started, &serve);
  g_main_loop_run (serve.loop);

  /* A read cancelled by a signal-driven quit still owes its callback. */
  while (serve.reading)
    g_main_context_iteration (NULL, TRUE);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  lsp_cli_serve_disconnect_events (&serve);
  g_signal_handlers_disconnect_by_data (serve.engine, &serve);
  g_clear_pointer (&serve.peers, g_hash_table_unref);
  g_clear_pointer (&serve.install_after, g_hash_table_unref);
  g_clear_object (&serve.input);
  g_clear_object (&serve.engine);
  g_clear_object (&serve.cancellable);
  g_clear_pointer (&serve.running, g_hash_table_unref);
  g_clear_pointer (&serve.loop, g_main_loop_unref);
  return serve.exit_code;
}
