#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lsp-application.h"
#include "lsp-preferences.h"
#include "lsp-test-util.h"
#include "lsp-ui-test.h"
#include "lsp-window.h"

/* The app and access control: the toasts that lead to the passphrase and
 * to trusting a new key, and the preferences that store the passphrase,
 * against real headless peers on loopback. */

/* ---- a party with a passphrase: the toast that leads to it, and the
 * preferences that store it ---- */

typedef struct
{
  GApplication *app;
  LspWindow    *window;
  gboolean      toasted;
} PassphraseTest;

static gboolean
pointer_cleared (gpointer data)
{
  return *(gpointer *) data == NULL;
}

static gboolean
watch_for_toast (gpointer user_data)
{
  PassphraseTest *test = user_data;

  if (test->window == NULL || !shows_text (GTK_WIDGET (test->window), "plays in a party with a passphrase"))
    return G_SOURCE_CONTINUE;
  test->toasted = TRUE;
  g_application_quit (test->app);
  return G_SOURCE_REMOVE;
}

static void
on_passphrase_test_activated (GtkApplication *app,
                              PassphraseTest *test)
{
  test->window = LSP_WINDOW (gtk_application_get_active_window (app));
  g_timeout_add (50, watch_for_toast, test);
}

static void
test_passphrase_toast (void)
{
  static const char * const ids[] = { "arena", NULL };
  g_autofree char *seeder_games = lsp_test_make_temp_dir ();
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *seeder_catalog = g_build_filename (seeder_games, "catalog.json", NULL);
  g_autofree char *catalog = g_build_filename (games, "catalog.json", NULL);
  g_autofree char *secret = g_build_filename (seeder_games, ".secret", NULL);
  g_autofree char *state = g_build_filename (seeder_games, ".state", NULL);
  g_autofree char *peer_arg = NULL;
  g_autoptr(LspApplication) app = lsp_application_new ();
  g_autoptr(GSubprocess) seeder = NULL;
  g_autoptr(GDataInputStream) events = NULL;
  g_autoptr(GError) error = NULL;
  PassphraseTest test = { G_APPLICATION (app), NULL, FALSE };
  char *argv[] = { (char *) "lanspread", (char *) "--games", games, (char *) "--no-mdns",
                   (char *) "--peer", NULL, NULL };

  lsp_test_write_catalog (seeder_catalog, ids);
  lsp_test_write_catalog (catalog, ids);
  lsp_test_write_file (secret, "only for the party", -1);
  g_assert_cmpint (g_chmod (secret, 0600), ==, 0);
  seeder = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                             g_getenv ("LANSPREAD_PEER"), "serve", "--games", seeder_games, "--state-dir", state,
                             "--no-mdns", "--passphrase-file", secret, NULL);
  g_assert_no_error (error);
  events = g_data_input_stream_new (g_subprocess_get_stdout_pipe (seeder));
  {
    g_autofree char *line = g_data_input_stream_read_line_utf8 (events, NULL, NULL, &error);
    g_autoptr(JsonParser) parser = json_parser_new ();
    JsonObject *ready;

    g_assert_no_error (error);
    g_assert_true (json_parser_load_from_data (parser, line, -1, NULL));
    ready = json_node_get_object (json_parser_get_root (parser));
    g_assert_cmpstr (json_object_get_string_member (ready, "event"), ==, "ready");
    peer_arg = g_strdup_printf ("127.0.0.1:%" G_GINT64_FORMAT, json_object_get_int_member (ready, "port"));
  }
  argv[5] = peer_arg;

  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect_after (app, "activate", G_CALLBACK (on_passphrase_test_activated), &test);
  g_assert_true (run_app (G_APPLICATION (app), argv, 30));
  g_assert_true (test.toasted);

  /* The engine's last work in flight lets go of the library before its
   * folder goes. */
  {
    LspLibrary *library = lsp_window_get_library (test.window);

    g_object_add_weak_pointer (G_OBJECT (library), (gpointer *) &library);
    gtk_window_destroy (GTK_WINDOW (test.window));
    g_assert_true (lsp_test_wait_until (pointer_cleared, &library, 20000));
  }
  g_subprocess_send_signal (seeder, SIGTERM);
  g_subprocess_wait (seeder, NULL, NULL);
  lsp_test_remove_tree (seeder_games);
  lsp_test_remove_tree (games);
}

/* A headless peer on seeder_games (its own state inside), with more
 * options; returns its port and peer_id. */
static GSubprocess *
start_peer (const char         *seeder_games,
            const char * const *extra,
            guint              *out_port,
            char              **out_peer_id)
{
  g_autofree char *state = g_build_filename (seeder_games, ".state", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GDataInputStream) events = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *line = NULL;
  GSubprocess *peer;
  JsonObject *ready;

  g_ptr_array_add (argv, (gpointer) g_getenv ("LANSPREAD_PEER"));
  for (const char * const *arg = (const char * const []) { "serve", "--games", seeder_games, "--state-dir", state,
                                                           "--no-mdns", NULL }; *arg != NULL; arg++)
    g_ptr_array_add (argv, (gpointer) *arg);
  for (guint i = 0; extra[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) extra[i]);
  g_ptr_array_add (argv, NULL);
  peer = g_subprocess_newv ((const char * const *) argv->pdata,
                            G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  events = g_data_input_stream_new (g_subprocess_get_stdout_pipe (peer));
  line = g_data_input_stream_read_line_utf8 (events, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (json_parser_load_from_data (parser, line, -1, NULL));
  ready = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (ready, "event"), ==, "ready");
  *out_port = (guint) json_object_get_int_member (ready, "port");
  *out_peer_id = g_strdup (json_object_get_string_member (ready, "peer_id"));
  return peer;
}

typedef struct
{
  GApplication *app;
  LspWindow    *window;
  char         *other_games;
  char         *address;
  GSubprocess  *first;
  GSubprocess  *other;
  char         *other_id;
  guint         step;
} KeyChangeTest;

static gboolean
drive_key_change (gpointer user_data)
{
  KeyChangeTest *test = user_data;
  LspNode *node = test->window != NULL ? lsp_window_get_node (test->window) : NULL;
  guint port;

  switch (test->step)
    {
    case 0:   /* the first peer joins; then someone else takes its address */
      if (node == NULL || g_list_model_get_n_items (G_LIST_MODEL (node)) == 0)
        return G_SOURCE_CONTINUE;
      g_subprocess_send_signal (test->first, SIGKILL);
      g_subprocess_wait (test->first, NULL, NULL);
      sscanf (strrchr (test->address, ':') + 1, "%u", &port);
      {
        g_autofree char *port_arg = g_strdup_printf ("%u", port);
        test->other = start_peer (test->other_games, (const char * const []) { "--port", port_arg, NULL },
                                  &port, &test->other_id);
      }
      test->step++;
      break;
    case 1:   /* the toast says so; the user trusts it */
      if (!shows_text (GTK_WIDGET (test->window), "has a different key than before"))
        return G_SOURCE_CONTINUE;
      gtk_widget_activate_action (GTK_WIDGET (test->window), "win.trust-peer", "s", test->address);
      test->step++;
      break;
    case 2:   /* and the new peer joins */
      for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (node)); i++)
        {
          g_autoptr(LspPeer) peer = g_list_model_get_item (G_LIST_MODEL (node), i);

          if (lsp_peer_get_connected (peer) && g_strcmp0 (lsp_peer_get_id (peer), test->other_id) == 0)
            {
              test->step++;
              g_application_quit (test->app);
              return G_SOURCE_REMOVE;
            }
        }
      return G_SOURCE_CONTINUE;
    default:
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
on_key_change_activated (GtkApplication *app,
                         KeyChangeTest  *test)
{
  test->window = LSP_WINDOW (gtk_application_get_active_window (app));
  g_timeout_add (50, drive_key_change, test);
}

/* Another key at a --peer address: a toast, and Trust connects. */
static void
test_key_changed_toast (void)
{
  static const char * const ids[] = { "arena", NULL };
  g_autofree char *first_games = lsp_test_make_temp_dir ();
  g_autofree char *other_games = lsp_test_make_temp_dir ();
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *first_catalog = g_build_filename (first_games, "catalog.json", NULL);
  g_autofree char *other_catalog = g_build_filename (other_games, "catalog.json", NULL);
  g_autofree char *catalog = g_build_filename (games, "catalog.json", NULL);
  g_autoptr(LspApplication) app = lsp_application_new ();
  KeyChangeTest test = { G_APPLICATION (app), NULL, other_games, NULL, NULL, NULL, NULL, 0 };
  char *argv[] = { (char *) "lanspread", (char *) "--games", games, (char *) "--no-mdns",
                   (char *) "--peer", NULL, NULL };
  g_autofree char *first_id = NULL;
  guint port;

  lsp_test_write_catalog (first_catalog, ids);
  lsp_test_write_catalog (other_catalog, ids);
  lsp_test_write_catalog (catalog, ids);
  test.first = start_peer (first_games, (const char * const []) { NULL }, &port, &first_id);
  test.address = g_strdup_printf ("127.0.0.1:%u", port);
  argv[5] = test.address;

  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect_after (app, "activate", G_CALLBACK (on_key_change_activated), &test);
  if (!run_app (G_APPLICATION (app), argv, 60))
    g_error ("timed out at step %u", test.step);

  {
    LspLibrary *library = lsp_window_get_library (test.window);

    g_object_add_weak_pointer (G_OBJECT (library), (gpointer *) &library);
    gtk_window_destroy (GTK_WINDOW (test.window));
    g_assert_true (lsp_test_wait_until (pointer_cleared, &library, 20000));
  }
  g_subprocess_send_signal (test.other, SIGTERM);
  g_subprocess_wait (test.other, NULL, NULL);
  g_clear_object (&test.first);
  g_clear_object (&test.other);
  g_free (test.other_id);
  g_free (test.address);
  lsp_test_remove_tree (first_games);
  lsp_test_remove_tree (other_games);
  lsp_test_remove_tree (games);
}

static gboolean
holds_passphrase (gpointer data)
{
  g_autofree char *contents = NULL;

  return g_file_get_contents (data, &contents, NULL, NULL) && g_str_equal (contents, "a long party passphrase");
}

static gboolean
file_gone (gpointer data)
{
  return !g_file_test (data, G_FILE_TEST_EXISTS);
}

/* The passphrase row writes a file only the user can read, and an empty
 * passphrase removes it. */
static void
test_passphrase_preferences (void)
{
  g_autofree char *dir = lsp_test_make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "party-passphrase", NULL);
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);
  LspPreferences *preferences = lsp_preferences_new (NULL, settings, path);
  GtkWidget *row = find_widget (GTK_WIDGET (preferences), ADW_TYPE_PASSWORD_ENTRY_ROW);
  struct stat st;

  g_assert_nonnull (row);
  gtk_editable_set_text (GTK_EDITABLE (row), "a long party passphrase");
  g_signal_emit_by_name (row, "apply");
  g_assert_true (lsp_test_wait_until (holds_passphrase, path, 10000));
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (row)), ==, "");

  g_signal_emit_by_name (row, "apply");
  g_assert_true (lsp_test_wait_until (file_gone, path, 10000));

  gtk_window_destroy (GTK_WINDOW (preferences));
  lsp_test_remove_tree (dir);
}

int
main (int    argc,
      char **argv)
{
  char *state = lsp_ui_test_init (&argc, &argv);

  g_test_add_func ("/ui/access/passphrase-preferences", test_passphrase_preferences);
  g_test_add_func ("/ui/access/passphrase-toast", test_passphrase_toast);
  g_test_add_func ("/ui/access/key-changed-toast", test_key_changed_toast);

  return lsp_ui_test_finish (state, g_test_run ());
}
