#define G_LOG_DOMAIN "lanspread-peer"

#include "config.h"

#include "lsp-cli-serve-private.h"

#include "lsp-cli-json.h"

/* While chunks go out, an "uploads" event at most this often. */
#define UPLOADS_EVENT_INTERVAL_MS 1000

/* What `serve` reports on its own, one JSON event per line: library
 * changes, operations, games started and ended, peers and discovery. */

static void
on_library_changed (LspLibrary         *library,
                    guint64             rev,
                    const char * const *changed,
                    const char * const *removed,
                    Serve              *serve)
{
  JsonBuilder *builder = lsp_cli_event_begin ("library-changed");

  lsp_cli_json_add_int (builder, "library_rev", (gint64) rev);
  lsp_cli_json_add_strv (builder, "changed", changed);
  lsp_cli_json_add_strv (builder, "removed", removed);
  lsp_cli_event_end (builder);
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

  builder = lsp_cli_event_begin ("operation-progress");
  lsp_cli_json_add_operation (builder, operation);
  lsp_cli_event_end (builder);
}

static void
on_operation_started (LspInstaller *installer,
                      LspOperation *operation,
                      Serve        *serve)
{
  JsonBuilder *builder = lsp_cli_event_begin ("operation-started");

  lsp_cli_json_add_string (builder, "id", lsp_operation_get_game_id (operation));
  lsp_cli_json_add_string (builder, "kind", lsp_operation_kind_to_string (lsp_operation_get_kind (operation)));
  lsp_cli_event_end (builder);

  g_signal_connect (operation, "notify::bytes-done", G_CALLBACK (on_operation_notify), serve);
  g_signal_connect (operation, "notify::entries-done", G_CALLBACK (on_operation_notify), serve);
}

/* The end of a repair's installed part, which the engine starts; other
 * operations are started by a command, whose callback reports their end
 * (lsp_cli_serve_start_operation), even when they fail before starting. */
static void
on_operation_finished (LspInstaller *installer,
                       LspOperation *operation,
                       const GError *error,
                       Serve        *serve)
{
  JsonBuilder *builder;

  if (lsp_operation_get_kind (operation) != LSP_OPERATION_REPAIR)
    return;
  builder = lsp_cli_event_begin (error == NULL ? "operation-done" : "operation-failed");
  lsp_cli_json_add_string (builder, "id", lsp_operation_get_game_id (operation));
  lsp_cli_json_add_string (builder, "kind", lsp_operation_kind_to_string (lsp_operation_get_kind (operation)));
  if (error != NULL)
    {
      lsp_cli_json_add_string (builder, "reason", error->message);
      lsp_cli_json_add_bool (builder, "cancelled", g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
    }
  lsp_cli_event_end (builder);
}

static void
on_game_started (LspLauncher *launcher,
                 const char  *id,
                 Serve       *serve)
{
  JsonBuilder *builder = lsp_cli_event_begin ("game-started");

  g_hash_table_add (serve->running, g_strdup (id));
  lsp_cli_json_add_string (builder, "id", id);
  lsp_cli_event_end (builder);
}

static void
on_game_exited (LspLauncher *launcher,
                const char  *id,
                int          exit_code,
                int          term_signal,
                Serve       *serve)
{
  JsonBuilder *builder = lsp_cli_event_begin ("game-exited");

  g_hash_table_remove (serve->running, id);
  lsp_cli_json_add_string (builder, "id", id);
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
  lsp_cli_event_end (builder);

  lsp_cli_serve_maybe_finish_quit (serve);
}

static void
on_peer_games_changed (LspPeer            *peer,
                       const char * const *changed,
                       const char * const *removed,
                       Serve              *serve)
{
  JsonBuilder *builder = lsp_cli_event_begin ("peer-games-changed");

  lsp_cli_json_add_string (builder, "peer_id", lsp_peer_get_id (peer));
  lsp_cli_json_add_int (builder, "library_rev", (gint64) lsp_peer_get_library_rev (peer));
  lsp_cli_json_add_strv (builder, "changed", changed);
  lsp_cli_json_add_strv (builder, "removed", removed);
  lsp_cli_event_end (builder);
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
          JsonBuilder *builder = lsp_cli_event_begin ("peer-added");

          json_builder_set_member_name (builder, "peer");
          lsp_cli_json_add_peer (builder, peer, FALSE);
          lsp_cli_event_end (builder);
          g_hash_table_insert (serve->peers, g_strdup (id), g_object_ref (peer));
          g_signal_connect (peer, "games-changed", G_CALLBACK (on_peer_games_changed), serve);
        }
    }

  g_hash_table_iter_init (&iter, serve->peers);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      if (!g_hash_table_contains (present, key))
        {
          JsonBuilder *builder = lsp_cli_event_begin ("peer-removed");

          lsp_cli_json_add_string (builder, "peer_id", key);
          lsp_cli_event_end (builder);
          g_signal_handlers_disconnect_by_data (value, serve);
          g_hash_table_iter_remove (&iter);
        }
    }
}

static void
on_unauthorized (LspNode    *node,
                 const char *peer_id,
                 const char *address,
                 Serve      *serve)
{
  JsonBuilder *builder = lsp_cli_event_begin ("unauthorized");

  lsp_cli_json_add_string (builder, "peer_id", peer_id);
  lsp_cli_json_add_string (builder, "address", address);
  lsp_cli_json_add_bool (builder, "have_passphrase", lsp_node_get_has_passphrase (node));
  lsp_cli_event_end (builder);
}

static void
on_peer_key_changed (LspNode    *node,
                     const char *address,
                     const char *pinned_peer_id,
                     const char *peer_id,
                     Serve      *serve)
{
  JsonBuilder *builder = lsp_cli_event_begin ("peer-key-changed");

  lsp_cli_json_add_string (builder, "address", address);
  lsp_cli_json_add_string (builder, "pinned_peer_id", pinned_peer_id);
  lsp_cli_json_add_string (builder, "peer_id", peer_id);
  lsp_cli_event_end (builder);
}

static void
on_discovery_available (LspDiscovery *discovery,
                        GParamSpec   *pspec,
                        Serve        *serve)
{
  JsonBuilder *builder = lsp_cli_event_begin ("discovery");

  lsp_cli_json_add_bool (builder, "available", lsp_discovery_get_available (discovery));
  lsp_cli_json_add_string (builder, "status", lsp_discovery_get_status (discovery));
  lsp_cli_event_end (builder);
}

static void
emit_download (const char  *event,
               LspDownload *download)
{
  JsonBuilder *builder = lsp_cli_event_begin (event);

  lsp_cli_json_add_download (builder, download);
  lsp_cli_event_end (builder);
}

#define ANNOUNCED_KEY "lsp-cli-announced"

/* download-started waits for the plan, so that it says what the download
 * fetches and what it reuses; one that waits for a player or ends before
 * that announces itself then, with bytes_to_fetch still null. */
static void
announce_download (LspDownload *download,
                   gboolean     planned_only)
{
  if (g_object_get_data (G_OBJECT (download), ANNOUNCED_KEY) != NULL ||
      (planned_only && lsp_download_get_bytes_to_fetch (download) < 0))
    return;
  g_object_set_data (G_OBJECT (download), ANNOUNCED_KEY, GINT_TO_POINTER (TRUE));
  emit_download ("download-started", download);
}

static void
on_download_planned (LspDownload *download,
                     GParamSpec  *pspec,
                     Serve       *serve)
{
  announce_download (download, TRUE);
}

/* LspDownload throttles its progress notifications; one event each. */
static void
on_download_progress (LspDownload *download,
                      GParamSpec  *pspec,
                      Serve       *serve)
{
  announce_download (download, TRUE);
  if (g_object_get_data (G_OBJECT (download), ANNOUNCED_KEY) != NULL)
    emit_download ("download-progress", download);
}

static void
on_download_phase (LspDownload *download,
                   GParamSpec  *pspec,
                   Serve       *serve)
{
  if (lsp_download_get_phase (download) != LSP_DOWNLOAD_WAITING)
    return;
  announce_download (download, FALSE);
  emit_download ("download-waiting", download);
}

static void
on_source_dropped (LspDownload *download,
                   const char  *peer_id,
                   const char  *reason,
                   Serve       *serve)
{
  JsonBuilder *builder = lsp_cli_event_begin ("source-dropped");

  lsp_cli_json_add_string (builder, "id", lsp_download_get_game_id (download));
  lsp_cli_json_add_string (builder, "peer_id", peer_id);
  lsp_cli_json_add_string (builder, "reason", reason);
  lsp_cli_event_end (builder);
}

static void
on_download_started (LspDownloadManager *downloads,
                     LspDownload        *download,
                     Serve              *serve)
{
  g_signal_connect (download, "notify::bytes-reused", G_CALLBACK (on_download_planned), serve);
  g_signal_connect (download, "notify::bytes-done", G_CALLBACK (on_download_progress), serve);
  g_signal_connect (download, "notify::phase", G_CALLBACK (on_download_phase), serve);
  g_signal_connect (download, "source-dropped", G_CALLBACK (on_source_dropped), serve);
}

static void
on_download_finished (LspDownloadManager *downloads,
                      LspDownload        *download,
                      const GError       *error,
                      Serve              *serve)
{
  const char *id = lsp_download_get_game_id (download);
  gboolean install = g_hash_table_remove (serve->install_after, id);
  JsonBuilder *builder;

  g_signal_handlers_disconnect_by_data (download, serve);
  announce_download (download, FALSE);
  if (error == NULL)
    builder = lsp_cli_event_begin ("download-done");
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    builder = lsp_cli_event_begin ("download-cancelled");
  else
    builder = lsp_cli_event_begin ("download-failed");
  lsp_cli_json_add_download (builder, download);
  if (error != NULL)
    lsp_cli_json_add_string (builder, "reason", error->message);
  lsp_cli_event_end (builder);

  if (error == NULL && install && !serve->quitting)
    lsp_cli_serve_start_operation (serve, lsp_local_game_get_installed (lsp_library_lookup (serve->library, id))
                                            ? LSP_OPERATION_UPDATE : LSP_OPERATION_INSTALL, id);
}

static gboolean
emit_uploads (gpointer user_data)
{
  Serve *serve = user_data;
  JsonBuilder *builder = lsp_cli_event_begin ("uploads");

  serve->uploads_event_id = 0;
  lsp_cli_json_add_uploads (builder, serve->chunk_server);
  lsp_cli_event_end (builder);
  return G_SOURCE_REMOVE;
}

/* One "uploads" event a second at most, while chunks go out. */
static void
on_uploaded (LspChunkServer *server,
             const char     *peer_id,
             guint64         bytes,
             Serve          *serve)
{
  if (serve->uploads_event_id == 0)
    serve->uploads_event_id = g_timeout_add (UPLOADS_EVENT_INTERVAL_MS, emit_uploads, serve);
}

/* Connected once the engine has started, so "ready" comes after the
 * objects exist and before any command runs. */
void
lsp_cli_serve_connect_events (Serve *serve)
{
  LspDiscovery *discovery = lsp_node_get_discovery (serve->node);

  g_signal_connect (serve->library, "changed", G_CALLBACK (on_library_changed), serve);
  g_signal_connect (serve->installer, "operation-started", G_CALLBACK (on_operation_started), serve);
  g_signal_connect (serve->installer, "operation-finished", G_CALLBACK (on_operation_finished), serve);
  g_signal_connect (serve->launcher, "started", G_CALLBACK (on_game_started), serve);
  g_signal_connect (serve->launcher, "exited", G_CALLBACK (on_game_exited), serve);
  g_signal_connect (serve->node, "items-changed", G_CALLBACK (on_peers_changed), serve);
  g_signal_connect (serve->node, "unauthorized", G_CALLBACK (on_unauthorized), serve);
  g_signal_connect (serve->node, "peer-key-changed", G_CALLBACK (on_peer_key_changed), serve);
  g_signal_connect (serve->downloads, "download-started", G_CALLBACK (on_download_started), serve);
  g_signal_connect (serve->downloads, "download-finished", G_CALLBACK (on_download_finished), serve);
  g_signal_connect (serve->chunk_server, "uploaded", G_CALLBACK (on_uploaded), serve);
  on_peers_changed (G_LIST_MODEL (serve->node), 0, 0, 0, serve);
  if (discovery != NULL)
    {
      g_signal_connect (discovery, "notify::available", G_CALLBACK (on_discovery_available), serve);
      if (!lsp_discovery_get_available (discovery))
        on_discovery_available (discovery, NULL, serve);
    }
}

void
lsp_cli_serve_disconnect_events (Serve *serve)
{
  GHashTableIter iter;
  gpointer peer;

  if (serve->engine == NULL || serve->node == NULL)
    return;
  g_signal_handlers_disconnect_by_data (serve->library, serve);
  g_signal_handlers_disconnect_by_data (serve->installer, serve);
  g_signal_handlers_disconnect_by_data (serve->launcher, serve);
  g_signal_handlers_disconnect_by_data (serve->node, serve);
  g_signal_handlers_disconnect_by_data (serve->downloads, serve);
  g_signal_handlers_disconnect_by_data (serve->chunk_server, serve);
  g_clear_handle_id (&serve->uploads_event_id, g_source_remove);
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (serve->downloads)); i++)
    {
      g_autoptr(LspDownload) download = g_list_model_get_item (G_LIST_MODEL (serve->downloads), i);
      g_signal_handlers_disconnect_by_data (download, serve);
    }
  if (lsp_node_get_discovery (serve->node) != NULL)
    g_signal_handlers_disconnect_by_data (lsp_node_get_discovery (serve->node), serve);
  g_hash_table_iter_init (&iter, serve->peers);
  while (g_hash_table_iter_next (&iter, NULL, &peer))
    g_signal_handlers_disconnect_by_data (peer, serve);
  g_hash_table_remove_all (serve->peers);
}
