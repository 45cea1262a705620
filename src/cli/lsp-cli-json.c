#define G_LOG_DOMAIN "lanspread-peer"

#include "config.h"

#include "lsp-cli-json.h"

#include "lsp-proto.h"

#include <stdio.h>
#include <string.h>

void
lsp_cli_json_add_string (JsonBuilder *builder,
                         const char  *member,
                         const char  *value)
{
  json_builder_set_member_name (builder, member);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

void
lsp_cli_json_add_int (JsonBuilder *builder,
                      const char  *member,
                      gint64       value)
{
  json_builder_set_member_name (builder, member);
  json_builder_add_int_value (builder, value);
}

void
lsp_cli_json_add_bool (JsonBuilder *builder,
                       const char  *member,
                       gboolean     value)
{
  json_builder_set_member_name (builder, member);
  json_builder_add_boolean_value (builder, value);
}

void
lsp_cli_json_add_strv (JsonBuilder        *builder,
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
add_local_game (JsonBuilder  *builder,
                LspLocalGame *game,
                LspLauncher  *launcher)
{
  const char *id = lsp_local_game_get_id (game);

  json_builder_begin_object (builder);
  lsp_cli_json_add_string (builder, "id", id);
  lsp_cli_json_add_string (builder, "name", lsp_local_game_get_name (game));
  lsp_cli_json_add_string (builder, "version", lsp_local_game_get_version (game));
  lsp_cli_json_add_string (builder, "installed_version", lsp_local_game_get_installed_version (game));
  lsp_cli_json_add_int (builder, "size", (gint64) lsp_local_game_get_size (game));
  lsp_cli_json_add_bool (builder, "downloaded", lsp_local_game_get_downloaded (game));
  lsp_cli_json_add_bool (builder, "installed", lsp_local_game_get_installed (game));
  lsp_cli_json_add_bool (builder, "damaged", lsp_local_game_get_damaged (game));
  lsp_cli_json_add_bool (builder, "busy", lsp_local_game_get_busy (game));
  lsp_cli_json_add_bool (builder, "running", launcher != NULL && lsp_launcher_is_running (launcher, id));
  lsp_cli_json_add_string (builder, "manifest_hash", lsp_local_game_get_manifest_hash (game));
  lsp_cli_json_add_string (builder, "error", lsp_local_game_get_error (game));
  json_builder_end_object (builder);
}

/* The library's revision, digest and games; launcher (may be NULL) tells
 * which games are running. */
void
lsp_cli_json_add_library (JsonBuilder *builder,
                          LspLibrary  *library,
                          LspLauncher *launcher)
{
  GListModel *model = G_LIST_MODEL (library);

  lsp_cli_json_add_int (builder, "library_rev", (gint64) lsp_library_get_rev (library));
  lsp_cli_json_add_string (builder, "library_digest", lsp_library_get_digest (library));
  json_builder_set_member_name (builder, "games");
  json_builder_begin_array (builder);
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(LspLocalGame) game = g_list_model_get_item (model, i);
      add_local_game (builder, game, launcher);
    }
  json_builder_end_array (builder);
}

/* A peer's games are printed as the protocol carries them. */
void
lsp_cli_json_add_peer (JsonBuilder *builder,
                       LspPeer     *peer,
                       gboolean     with_games)
{
  json_builder_begin_object (builder);
  lsp_cli_json_add_string (builder, "peer_id", lsp_peer_get_id (peer));
  lsp_cli_json_add_string (builder, "hostname", lsp_peer_get_hostname (peer));
  lsp_cli_json_add_string (builder, "address", lsp_peer_get_address (peer));
  lsp_cli_json_add_bool (builder, "connected", lsp_peer_get_connected (peer));
  lsp_cli_json_add_string (builder, "known_as", lsp_peer_get_known_as (peer));
  lsp_cli_json_add_int (builder, "library_rev", (gint64) lsp_peer_get_library_rev (peer));
  lsp_cli_json_add_int (builder, "game_count", lsp_peer_get_n_games (peer));
  if (with_games)
    {
      g_autoptr(GPtrArray) games = lsp_peer_dup_games (peer);

      json_builder_set_member_name (builder, "games");
      json_builder_begin_array (builder);
      for (guint i = 0; i < games->len; i++)
        json_builder_add_value (builder, lsp_game_summary_to_json (g_ptr_array_index (games, i)));
      json_builder_end_array (builder);
    }
  json_builder_end_object (builder);
}

void
lsp_cli_json_add_operation (JsonBuilder  *builder,
                            LspOperation *operation)
{
  lsp_cli_json_add_string (builder, "id", lsp_operation_get_game_id (operation));
  lsp_cli_json_add_string (builder, "kind", lsp_operation_kind_to_string (lsp_operation_get_kind (operation)));
  lsp_cli_json_add_int (builder, "bytes_done", (gint64) lsp_operation_get_bytes_done (operation));
  lsp_cli_json_add_int (builder, "bytes_total", (gint64) lsp_operation_get_bytes_total (operation));
  lsp_cli_json_add_int (builder, "entries_done", (gint64) lsp_operation_get_entries_done (operation));
}

/* A download's members: where it is, how fast, and who gave how much. */
void
lsp_cli_json_add_download (JsonBuilder *builder,
                           LspDownload *download)
{
  g_autoptr(GHashTable) peers = lsp_download_dup_peer_bytes (download);
  GHashTableIter iter;
  gpointer key, value;

  lsp_cli_json_add_string (builder, "id", lsp_download_get_game_id (download));
  lsp_cli_json_add_string (builder, "version", lsp_download_get_version (download));
  lsp_cli_json_add_string (builder, "phase", lsp_download_phase_to_string (lsp_download_get_phase (download)));
  lsp_cli_json_add_int (builder, "bytes_done", (gint64) lsp_download_get_bytes_done (download));
  lsp_cli_json_add_int (builder, "bytes_total", (gint64) lsp_download_get_bytes_total (download));
  lsp_cli_json_add_int (builder, "bytes_resumed", (gint64) lsp_download_get_bytes_resumed (download));
  lsp_cli_json_add_int (builder, "bytes_received", (gint64) lsp_download_get_bytes_received (download));
  lsp_cli_json_add_int (builder, "bytes_reused", (gint64) lsp_download_get_bytes_reused (download));
  json_builder_set_member_name (builder, "bytes_to_fetch");
  if (lsp_download_get_bytes_to_fetch (download) >= 0)
    json_builder_add_int_value (builder, lsp_download_get_bytes_to_fetch (download));
  else
    json_builder_add_null_value (builder);
  lsp_cli_json_add_int (builder, "rate", (gint64) lsp_download_get_rate (download));
  lsp_cli_json_add_int (builder, "eta", lsp_download_get_eta (download));
  lsp_cli_json_add_bool (builder, "resumed", lsp_download_get_resumed (download));
  lsp_cli_json_add_int (builder, "sources", lsp_download_get_n_sources (download));
  json_builder_set_member_name (builder, "peers");
  json_builder_begin_object (builder);
  g_hash_table_iter_init (&iter, peers);
  while (g_hash_table_iter_next (&iter, &key, &value))
    lsp_cli_json_add_int (builder, key, (gint64) *(guint64 *) value);
  json_builder_end_object (builder);
}

/* What this peer sent to whom: an "uploads" array of peer_id, bytes (since
 * the start) and active (chunks being read or sent now). */
void
lsp_cli_json_add_uploads (JsonBuilder    *builder,
                          LspChunkServer *server)
{
  g_autoptr(GHashTable) peers = lsp_chunk_server_dup_peer_bytes (server);
  g_autoptr(GList) ids = g_list_sort (g_hash_table_get_keys (peers), (GCompareFunc) strcmp);

  lsp_cli_json_add_int (builder, "bytes_served", (gint64) lsp_chunk_server_get_bytes_served (server));
  json_builder_set_member_name (builder, "uploads");
  json_builder_begin_array (builder);
  for (GList *l = ids; l != NULL; l = l->next)
    {
      json_builder_begin_object (builder);
      lsp_cli_json_add_string (builder, "peer_id", l->data);
      lsp_cli_json_add_int (builder, "bytes", (gint64) *(guint64 *) g_hash_table_lookup (peers, l->data));
      lsp_cli_json_add_int (builder, "active", lsp_chunk_server_get_n_active_for_peer (server, l->data));
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
}

JsonBuilder *
lsp_cli_event_begin (const char *name)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, name);
  return builder;
}

void
lsp_cli_event_end (JsonBuilder *builder)
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

void
lsp_cli_emit_error (const char *command,
                    const char *id,
                    const char *message)
{
  JsonBuilder *builder = lsp_cli_event_begin ("error");

  lsp_cli_json_add_string (builder, "command", command);
  lsp_cli_json_add_string (builder, "id", id);
  lsp_cli_json_add_string (builder, "message", message);
  lsp_cli_event_end (builder);
}

static void
add_problems (JsonBuilder *builder,
              const char  *member,
              GPtrArray   *problems,
              gboolean     with_chunks)
{
  json_builder_set_member_name (builder, member);
  json_builder_begin_array (builder);
  for (guint i = 0; i < problems->len; i++)
    {
      LspVerifyProblem *problem = g_ptr_array_index (problems, i);

      json_builder_begin_object (builder);
      lsp_cli_json_add_string (builder, "path", problem->path);
      lsp_cli_json_add_string (builder, "problem", lsp_verify_problem_kind_to_string (problem->kind));
      if (with_chunks)
        {
          json_builder_set_member_name (builder, "chunks");
          json_builder_begin_array (builder);
          for (guint c = 0; c < problem->chunks->len; c++)
            json_builder_add_int_value (builder, g_array_index (problem->chunks, guint, c));
          json_builder_end_array (builder);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
}

/* What a verify found: a verdict and the files behind it for the payload
 * and for the installed game. */
void
lsp_cli_json_add_verify_report (JsonBuilder     *builder,
                                LspVerifyReport *report)
{
  lsp_cli_json_add_string (builder, "id", report->game_id);
  lsp_cli_json_add_string (builder, "payload", lsp_verify_verdict_to_string (report->payload));
  lsp_cli_json_add_string (builder, "manifest_hash", report->manifest_hash);
  add_problems (builder, "payload_problems", report->payload_problems, TRUE);
  lsp_cli_json_add_string (builder, "installed", lsp_verify_verdict_to_string (report->installed));
  add_problems (builder, "installed_problems", report->installed_problems, FALSE);
  lsp_cli_json_add_int (builder, "bytes_checked", (gint64) report->bytes_checked);
}
