#include "config.h"

#include <adwaita.h>
#include <string.h>

#include "lsp-application.h"
#include "lsp-test-peer.h"
#include "lsp-test-util.h"
#include "lsp-ui-test.h"
#include "lsp-window.h"

/* The Players list, against a whole peer in the test's process on
 * loopback: what we sent each player. */

/* Three chunks, so the row is seen to grow before it reaches the total. */
#define SENT_GAME_SIZE (9 * 1024 * 1024 + 123)

typedef struct
{
  GApplication *app;
  LspWindow    *window;
  LspTestPeer  *downloader;
  char         *app_id;         /* the app's peer_id, as the downloader knows it */
  char         *before;         /* the row's subtitle before the download */
  char         *after;          /* and once it is done */
  guint         uploads_shown;  /* "uploaded" emissions the row kept up with */
  char         *mismatch;       /* what the row said the first time it did not */
  gboolean      finished;
  GError       *error;
  GHashTable   *received;       /* the downloader's bytes from each source */
} SentTest;

static AdwActionRow *
find_player_row (LspWindow  *window,
                 const char *hostname)
{
  GtkListBox *list = GTK_LIST_BOX (gtk_widget_get_template_child (GTK_WIDGET (window), LSP_TYPE_WINDOW,
                                                                  "players_list"));
  GtkListBoxRow *row;

  for (int i = 0; (row = gtk_list_box_get_row_at_index (list, i)) != NULL; i++)
    {
      if (ADW_IS_ACTION_ROW (row) &&
          g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), hostname) == 0)
        return ADW_ACTION_ROW (row);
    }
  return NULL;
}

static char *
sent_suffix (guint64 bytes)
{
  g_autofree char *amount = g_format_size (bytes);

  return g_strdup_printf (" · you sent %s", amount);
}

static gboolean
says_sent (const char *subtitle,
           guint64     bytes)
{
  g_autofree char *suffix = sent_suffix (bytes);

  return subtitle != NULL && g_str_has_suffix (subtitle, suffix);
}

/* Connected after the window's handlers: the row has caught up by now. */
static void
on_sent_uploaded (LspChunkServer *server,
                  const char     *peer_id,
                  guint64         bytes,
                  SentTest       *test)
{
  g_autoptr(GHashTable) sent = lsp_chunk_server_dup_peer_bytes (server);
  guint64 *total = g_hash_table_lookup (sent, peer_id);
  AdwActionRow *row = find_player_row (test->window, "downloader");
  const char *subtitle = row != NULL ? adw_action_row_get_subtitle (row) : NULL;

  g_assert_cmpstr (peer_id, ==, lsp_identity_get_peer_id (test->downloader->identity));
  g_assert_nonnull (total);
  if (says_sent (subtitle, *total))
    test->uploads_shown++;
  else if (test->mismatch == NULL)
    test->mismatch = g_strdup_printf ("with %" G_GUINT64_FORMAT " bytes sent the row said “%s”", *total,
                                      subtitle != NULL ? subtitle : "(no row)");
}

static void
on_sent_download_finished (LspDownloadManager *downloads,
                           LspDownload        *download,
                           const GError       *error,
                           SentTest           *test)
{
  test->finished = TRUE;
  test->error = error != NULL ? g_error_copy (error) : NULL;
  test->received = lsp_download_dup_peer_bytes (download);
}

/* The downloader is connected to the app and sees its game, and the app
 * lists the downloader. */
static gboolean
ready_to_download (gpointer data)
{
  SentTest *test = data;
  GListModel *peers = G_LIST_MODEL (test->downloader->node);
  g_autoptr(LspPeer) app = g_list_model_get_n_items (peers) > 0 ? g_list_model_get_item (peers, 0) : NULL;
  const LspGameSummary *game = app != NULL ? lsp_peer_lookup_game (app, "racer") : NULL;

  if (game == NULL || game->availability != LSP_AVAILABILITY_READY ||
      lsp_node_get_connection (test->downloader->node, lsp_peer_get_id (app)) == NULL ||
      find_player_row (test->window, "downloader") == NULL)
    return FALSE;
  g_free (test->app_id);
  test->app_id = g_strdup (lsp_peer_get_id (app));
  return TRUE;
}

static gboolean
sent_download_done (gpointer data)
{
  return ((SentTest *) data)->finished;
}

/* Runs once, from the app's own main loop, which its waits iterate. */
static gboolean
drive_sent (gpointer user_data)
{
  SentTest *test = user_data;
  g_autoptr(GError) error = NULL;
  LspChunkServer *server;

  g_assert_true (lsp_test_wait_until (ready_to_download, test, 30000));
  test->before = g_strdup (adw_action_row_get_subtitle (find_player_row (test->window, "downloader")));
  server = lsp_window_get_chunk_server (test->window);
  g_signal_connect_after (server, "uploaded", G_CALLBACK (on_sent_uploaded), test);
  g_signal_connect (test->downloader->downloads, "download-finished", G_CALLBACK (on_sent_download_finished), test);
  g_assert_nonnull (lsp_download_manager_start (test->downloader->downloads, "racer", &error));
  g_assert_no_error (error);
  g_assert_true (lsp_test_wait_until (sent_download_done, test, 60000));
  g_signal_handlers_disconnect_by_data (server, test);
  g_signal_handlers_disconnect_by_data (test->downloader->downloads, test);
  test->after = g_strdup (adw_action_row_get_subtitle (find_player_row (test->window, "downloader")));
  g_application_quit (test->app);
  return G_SOURCE_REMOVE;
}

static void
on_sent_activated (GtkApplication *app,
                   SentTest       *test)
{
  test->window = LSP_WINDOW (gtk_application_get_active_window (app));
  g_idle_add (drive_sent, test);
}

/* A player downloads our game; its row counts what we sent, chunk by
 * chunk, up to what it received from us. */
static void
test_players_sent (void)
{
  static const char * const ids[] = { "racer", NULL };
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *catalog = g_build_filename (games, "catalog.json", NULL);
  g_autofree char *peer_arg = NULL;
  g_autoptr(LspApplication) app = lsp_application_new ();
  LspTestPeer downloader = { 0 };
  SentTest test = { G_APPLICATION (app), NULL, &downloader };
  g_autoptr(GHashTable) sent = NULL;
  g_autofree char *suffix = NULL;
  guint64 *received, *served;
  char *argv[] = { (char *) "lanspread", (char *) "--games", games, (char *) "--no-mdns",
                   (char *) "--peer", NULL, NULL };

  lsp_test_write_catalog (catalog, ids);
  lsp_test_make_game (games, "racer", "1.0", SENT_GAME_SIZE);
  lsp_test_peer_start (&downloader, "downloader", ids, TRUE);
  peer_arg = g_strdup_printf ("127.0.0.1:%u", downloader.port);
  argv[5] = peer_arg;

  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect_after (app, "activate", G_CALLBACK (on_sent_activated), &test);
  g_assert_true (run_app (G_APPLICATION (app), argv, 100));

  g_assert_no_error (test.error);
  /* Nothing sent before the download, so the row does not say so. */
  g_assert_nonnull (test.before);
  g_assert_null (strstr (test.before, "you sent"));
  g_assert_cmpstr (test.mismatch, ==, NULL);
  /* One emission a chunk at least, each of them shown. */
  g_assert_cmpuint (test.uploads_shown, >=, 3);
  received = g_hash_table_lookup (test.received, test.app_id);
  g_assert_nonnull (received);
  g_assert_cmpuint (*received, ==, SENT_GAME_SIZE);
  sent = lsp_chunk_server_dup_peer_bytes (lsp_window_get_chunk_server (test.window));
  served = g_hash_table_lookup (sent, lsp_identity_get_peer_id (downloader.identity));
  g_assert_nonnull (served);
  g_assert_cmpuint (*served, ==, *received);
  suffix = sent_suffix (*received);
  g_assert_nonnull (test.after);
  g_assert_cmpstr (g_strrstr (test.after, " · you sent "), ==, suffix);

  gtk_window_destroy (GTK_WINDOW (test.window));
  lsp_test_peer_clear (&downloader);
  g_clear_pointer (&test.received, g_hash_table_unref);
  g_free (test.app_id);
  g_free (test.before);
  g_free (test.after);
  lsp_test_remove_tree (games);
}

int
main (int    argc,
      char **argv)
{
  char *state = lsp_ui_test_init (&argc, &argv);

  g_test_add_func ("/ui/players/sent", test_players_sent);

  return lsp_ui_test_finish (state, g_test_run ());
}
