#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "lsp-test-util.h"

typedef struct
{
  int   status;
  char *out;
  char *err;
} RunResult;

static void
run_result_clear (RunResult *result)
{
  g_free (result->out);
  g_free (result->err);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RunResult, run_result_clear)

static RunResult
run_peer_with (GSubprocessLauncher *launcher,
               const char * const  *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  RunResult result = { 0 };
  const char *peer = g_getenv ("LANSPREAD_PEER");

  g_assert_nonnull (peer);
  g_ptr_array_add (argv, (gpointer) peer);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &result.out, &result.err, &error);
  g_assert_no_error (error);
  result.status = g_subprocess_get_exit_status (process);
  return result;
}

static RunResult
run_peer (const char * const *args)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);

  return run_peer_with (launcher, args);
}

static JsonObject *
find_game (JsonArray  *games,
           const char *id)
{
  for (guint i = 0; i < json_array_get_length (games); i++)
    {
      JsonObject *game = json_array_get_object_element (games, i);
      if (g_strcmp0 (json_object_get_string_member (game, "id"), id) == 0)
        return game;
    }
  return NULL;
}

static void
test_json (void)
{
  static const char * const ids[] = { "alpha", "beta", NULL };
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *catalog = g_build_filename (games, "catalog.json", NULL);
  g_autofree char *local = g_build_filename (games, "beta", "local", NULL);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(RunResult) result = { 0 };
  JsonObject *game;
  JsonArray *list;

  lsp_test_write_catalog (catalog, ids);
  lsp_test_make_game (games, "alpha", "1.2", 4321);
  g_assert_cmpint (g_mkdir_with_parents (local, 0755), ==, 0);

  result = run_peer ((const char * const []) { "scan", "--games", games, "--json", NULL });
  g_assert_cmpint (result.status, ==, 0);

  root = json_from_string (result.out, &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (root), "library_rev"), >, 0);
  list = json_object_get_array_member (json_node_get_object (root), "games");
  g_assert_cmpuint (json_array_get_length (list), ==, 2);

  game = find_game (list, "alpha");
  g_assert_nonnull (game);
  g_assert_cmpstr (json_object_get_string_member (game, "name"), ==, "Game alpha");
  g_assert_cmpstr (json_object_get_string_member (game, "version"), ==, "1.2");
  g_assert_cmpint (json_object_get_int_member (game, "size"), ==, 4321);
  g_assert_true (json_object_get_boolean_member (game, "downloaded"));
  g_assert_false (json_object_get_boolean_member (game, "installed"));
  g_assert_cmpuint (strlen (json_object_get_string_member (game, "manifest_hash")), ==, 64);

  game = find_game (list, "beta");
  g_assert_nonnull (game);
  g_assert_false (json_object_get_boolean_member (game, "downloaded"));
  g_assert_true (json_object_get_boolean_member (game, "installed"));
  g_assert_true (json_node_is_null (json_object_get_member (game, "manifest_hash")));

  lsp_test_remove_tree (games);
}

static void
test_bad_arguments (void)
{
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *catalog = g_build_filename (games, "catalog.json", NULL);
  g_autofree char *missing = g_build_filename (games, "missing", NULL);

  {
    g_auto(RunResult) result = run_peer ((const char * const []) { "scan", "--json", NULL });
    g_assert_cmpint (result.status, ==, 2);
    g_assert_nonnull (strstr (result.err, "--games"));
  }
  {
    g_auto(RunResult) result = run_peer ((const char * const []) { "frobnicate", NULL });
    g_assert_cmpint (result.status, ==, 2);
    g_assert_nonnull (strstr (result.err, "unknown command"));
  }
  {
    g_auto(RunResult) result = run_peer ((const char * const []) { "scan", "--games", missing, NULL });
    g_assert_cmpint (result.status, ==, 1);
    g_assert_nonnull (strstr (result.err, missing));
  }
  {
    g_auto(RunResult) result = { 0 };

    lsp_test_write_file (catalog, "{\"games\": [{\"id\": \"a\"}]}", -1);
    result = run_peer ((const char * const []) { "scan", "--games", games, NULL });
    g_assert_cmpint (result.status, ==, 1);
    g_assert_nonnull (strstr (result.err, "catalog.json"));
    g_assert_nonnull (strstr (result.err, "“name” is missing"));
    g_assert_cmpstr (result.out, ==, "");
  }

  lsp_test_remove_tree (games);
}

/* The CLI's own errors and the engine's come out in German. */
static void
test_german (void)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *catalog = g_build_filename (games, "catalog.json", NULL);
  g_autofree char *missing = g_build_filename (games, "missing", NULL);

  lsp_test_launcher_set_german (launcher);
  {
    g_auto(RunResult) result = run_peer_with (launcher, (const char * const []) { "scan", "--games", missing, NULL });
    g_autofree char *expected = g_strdup_printf ("lanspread-peer scan: der Spieleordner %s existiert nicht "
                                                 "oder ist kein Ordner\n", missing);
    g_assert_cmpint (result.status, ==, 1);
    g_assert_cmpstr (result.err, ==, expected);
  }
  {
    g_auto(RunResult) result = { 0 };
    g_autofree char *expected = NULL;

    lsp_test_write_file (catalog, "{\"games\": [{\"id\": \"a\"}]}", -1);
    result = run_peer_with (launcher, (const char * const []) { "scan", "--games", games, NULL });
    expected = g_strdup_printf ("lanspread-peer scan: Katalog %s: games[0]: Feld „name“ fehlt. "
                                "Korrigieren Sie die Katalogdatei und versuchen Sie es erneut.\n", catalog);
    g_assert_cmpint (result.status, ==, 1);
    g_assert_cmpstr (result.err, ==, expected);
  }

  lsp_test_remove_tree (games);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cli/scan/json", test_json);
  g_test_add_func ("/cli/scan/bad-arguments", test_bad_arguments);
  g_test_add_func ("/cli/scan/german", test_german);

  return g_test_run ();
}
