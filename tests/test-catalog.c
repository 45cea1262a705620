#include "config.h"

#include <string.h>

#include "lsp-catalog.h"
#include "lsp-error.h"
#include "lsp-test-util.h"

static LspCatalog *
parse (const char *json,
       GError    **error)
{
  return lsp_catalog_new_from_data (json, strlen (json), "catalog.json", error);
}

static void
test_valid (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspCatalog) catalog = parse (
    "{\"games\": ["
    "  {\"id\": \"quake3\", \"name\": \"Quake III\", \"description\": \"Arena shooter\","
    "   \"genre\": \"Shooter\", \"max_players\": 16, \"launch\": \"quake3 +set fs_game baseq3\"},"
    "  {\"id\": \"aoe2\", \"name\": \"Age of Empires II\"}"
    "]}", &error);
  const LspCatalogEntry *entry;

  g_assert_no_error (error);
  g_assert_cmpuint (lsp_catalog_get_n_games (catalog), ==, 2);
  entry = lsp_catalog_lookup (catalog, "quake3");
  g_assert_nonnull (entry);
  g_assert_cmpstr (entry->name, ==, "Quake III");
  g_assert_cmpstr (entry->genre, ==, "Shooter");
  g_assert_cmpuint (entry->max_players, ==, 16);
  g_assert_cmpstr (entry->launch, ==, "quake3 +set fs_game baseq3");
  entry = lsp_catalog_lookup (catalog, "aoe2");
  g_assert_null (entry->description);
  g_assert_cmpuint (entry->max_players, ==, 0);
  g_assert_null (lsp_catalog_lookup (catalog, "doom"));
}

static void
test_invalid (void)
{
  static const struct {
    const char *json;
    const char *expected_fragment;
  } cases[] = {
    { "not json", "not valid JSON" },
    { "[]", "top level must be an object" },
    { "{}", "“games” is missing" },
    { "{\"games\": {}}", "“games” is missing or is not an array" },
    { "{\"games\": [42]}", "games[0]: entry must be an object" },
    { "{\"games\": [{\"name\": \"x\"}]}", "games[0]: field “id” is missing" },
    { "{\"games\": [{\"id\": 5, \"name\": \"x\"}]}", "games[0]: field “id” must be a string" },
    { "{\"games\": [{\"id\": \"../etc\", \"name\": \"x\"}]}", "games[0]: id “../etc” is not valid" },
    { "{\"games\": [{\"id\": \".hidden\", \"name\": \"x\"}]}", "is not valid" },
    { "{\"games\": [{\"id\": \"a\", \"name\": \"\"}]}", "games[0]: field “name” is empty" },
    { "{\"games\": [{\"id\": \"a\", \"name\": \"A\", \"max_players\": \"4\"}]}", "“max_players” must be an integer" },
    { "{\"games\": [{\"id\": \"a\", \"name\": \"A\", \"max_players\": 0}]}", "“max_players” must be between" },
    { "{\"games\": [{\"id\": \"a\", \"name\": \"A\", \"max_players\": 2.5}]}", "“max_players” must be an integer" },
    { "{\"games\": [{\"id\": \"a\", \"name\": \"A\", \"launch\": \"run \\\"unterminated\"}]}", "“launch” cannot be parsed" },
    { "{\"games\": [{\"id\": \"a\", \"name\": \"A\", \"cover\": \"/etc/passwd\"}]}", "“cover” must be a relative path" },
    { "{\"games\": [{\"id\": \"a\", \"name\": \"A\"}, {\"id\": \"b\", \"name\": \"B\"}, {\"id\": \"a\", \"name\": \"A2\"}]}",
      "games[2]: id “a” appears more than once" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(LspCatalog) catalog = parse (cases[i].json, &error);

      g_test_message ("case %u: %s", i, cases[i].json);
      g_assert_null (catalog);
      g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
      g_assert_nonnull (strstr (error->message, "catalog.json"));
      if (strstr (error->message, cases[i].expected_fragment) == NULL)
        g_error ("case %u: “%s” does not mention “%s”", i, error->message, cases[i].expected_fragment);
    }
}

static void
test_missing_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = lsp_test_make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "nope.json", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(LspCatalog) catalog = lsp_catalog_new_from_file (file, NULL, &error);

  g_assert_null (catalog);
  g_assert_error (error, LSP_ERROR, LSP_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "nope.json"));
  lsp_test_remove_tree (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/peer/catalog/valid", test_valid);
  g_test_add_func ("/peer/catalog/invalid", test_invalid);
  g_test_add_func ("/peer/catalog/missing-file", test_missing_file);

  return g_test_run ();
}
