#define G_LOG_DOMAIN "lanspread-peer"

#include "config.h"

#include "lsp-cli.h"

#include "lsp-cli-json.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

#include "lsp-catalog.h"
#include "lsp-library.h"

typedef struct
{
  GMainLoop *loop;
  GError    *error;
} LoadState;

static void
on_loaded (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  LoadState *state = user_data;

  lsp_library_load_finish (LSP_LIBRARY (object), result, &state->error);
  g_main_loop_quit (state->loop);
}

static void
print_json (LspLibrary *library)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (builder);
  lsp_cli_json_add_library (builder, library, NULL);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  text = json_to_string (root, TRUE);
  printf ("%s\n", text);
}

static void
print_table (LspLibrary *library)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (library));

  /* Translators: the column headings of “lanspread-peer scan”. */
  printf ("%-24s %-12s %12s  %-10s %-9s\n", _("ID"), _("VERSION"), _("SIZE"), _("DOWNLOADED"), _("INSTALLED"));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(LspLocalGame) game = g_list_model_get_item (G_LIST_MODEL (library), i);
      g_autofree char *size = g_format_size (lsp_local_game_get_size (game));

      printf ("%-24s %-12s %12s  %-10s %-9s%s%s\n",
              lsp_local_game_get_id (game),
              lsp_local_game_get_version (game) ? lsp_local_game_get_version (game) : "-",
              size,
              lsp_local_game_get_downloaded (game) ? _("yes") : _("no"),
              lsp_local_game_get_installed (game) ? _("yes") : _("no"),
              lsp_local_game_get_error (game) ? _("  error: ") : "",
              lsp_local_game_get_error (game) ? lsp_local_game_get_error (game) : "");
    }
}

int
lsp_cli_scan (int    argc,
              char **argv)
{
  g_autofree char *games_path = NULL;
  g_autofree char *catalog_path = NULL;
  gboolean as_json = FALSE;
  GOptionEntry entries[] = {
    { "games", 'g', 0, G_OPTION_ARG_FILENAME, &games_path, N_("The games folder"), N_("DIR") },
    { "catalog", 'c', 0, G_OPTION_ARG_FILENAME, &catalog_path, N_("The game catalog (default: DIR/catalog.json)"), N_("FILE") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &as_json, N_("Print JSON"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (N_("— scan a games folder"));
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) games_dir = NULL;
  g_autoptr(LspCatalog) catalog = NULL;
  g_autoptr(LspLibrary) library = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  LoadState state = { 0 };
  int status;

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "lanspread-peer scan: %s\n", error->message);
      return 2;
    }
  if (argc > 1)
    {
      fprintf (stderr, _("lanspread-peer scan: unexpected argument “%s”\n"), argv[1]);
      return 2;
    }
  if ((status = lsp_cli_open_games ("scan", games_path, catalog_path, &games_dir, &catalog)) != 0)
    return status;

  library = lsp_library_new (games_dir, catalog);
  loop = g_main_loop_new (NULL, FALSE);
  state.loop = loop;
  lsp_library_load_async (library, NULL, on_loaded, &state);
  g_main_loop_run (loop);

  if (state.error != NULL)
    {
      fprintf (stderr, "lanspread-peer scan: %s\n", state.error->message);
      g_error_free (state.error);
      return 1;
    }

  if (as_json)
    print_json (library);
  else
    print_table (library);

  return 0;
}
