#define G_LOG_DOMAIN "lanspread-peer"

#include "config.h"

#include "lsp-cli.h"

#include <glib/gi18n-lib.h>
#include <stdio.h>

/* The games folder and catalog file every subcommand works on. Returns 0,
 * or the exit status after saying on stderr what is wrong. */
int
lsp_cli_resolve_games (const char  *command,
                       const char  *games_path,
                       const char  *catalog_path,
                       GFile      **out_games_dir,
                       GFile      **out_catalog_file)
{
  g_autoptr(GFile) games_dir = NULL;

  if (games_path == NULL)
    {
      /* Translators: the %s is the subcommand, like “scan”. */
      fprintf (stderr, _("lanspread-peer %s: --games DIR is required\n"), command);
      return 2;
    }

  games_dir = g_file_new_for_commandline_arg (games_path);
  if (g_file_query_file_type (games_dir, G_FILE_QUERY_INFO_NONE, NULL) != G_FILE_TYPE_DIRECTORY)
    {
      fprintf (stderr, _("lanspread-peer %s: the games folder %s does not exist or is not a folder\n"),
               command, games_path);
      return 1;
    }

  *out_catalog_file = catalog_path != NULL ? g_file_new_for_commandline_arg (catalog_path)
                                           : g_file_get_child (games_dir, "catalog.json");
  *out_games_dir = g_steal_pointer (&games_dir);
  return 0;
}

/* Like lsp_cli_resolve_games(), and reads the catalog too. */
int
lsp_cli_open_games (const char  *command,
                    const char  *games_path,
                    const char  *catalog_path,
                    GFile      **out_games_dir,
                    LspCatalog **out_catalog)
{
  g_autoptr(GFile) games_dir = NULL;
  g_autoptr(GFile) catalog_file = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  if ((status = lsp_cli_resolve_games (command, games_path, catalog_path, &games_dir, &catalog_file)) != 0)
    return status;
  *out_catalog = lsp_catalog_new_from_file (catalog_file, NULL, &error);
  if (*out_catalog == NULL)
    {
      fprintf (stderr, "lanspread-peer %s: %s\n", command, error->message);
      return 1;
    }
  *out_games_dir = g_steal_pointer (&games_dir);
  return 0;
}
