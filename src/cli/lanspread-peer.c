/* lanspread-peer: the headless peer, for machines without a desktop and for
 * scripted scenario tests. */
#define G_LOG_DOMAIN "lanspread-peer"

#include "config.h"

#include <glib/gi18n-lib.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "lsp-cli.h"

static const struct {
  const char *name;
  int       (*run) (int argc, char **argv);
  const char *summary;
} commands[] = {
  { "scan", lsp_cli_scan, N_("Scan a games folder and print its library") },
  { "serve", lsp_cli_serve, N_("Run a peer driven by commands on stdin, events on stdout") },
};

static void
print_usage (FILE *stream)
{
  fprintf (stream, _("Usage: lanspread-peer COMMAND [OPTION…]\n\nCommands:\n"));
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (stream, "  %-8s %s\n", commands[i].name, _(commands[i].summary));
  fprintf (stream, _("\nRun “lanspread-peer COMMAND --help” for the options of a command.\n"));
}

int
main (int    argc,
      char **argv)
{
  const char *localedir = g_getenv ("LANSPREAD_LOCALEDIR");

  /* LANSPREAD_LOCALEDIR is for the tests, which run before the catalogs
   * are installed: they point it at the build tree's. */
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (argc < 2)
    {
      print_usage (stderr);
      return 2;
    }

  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "help") == 0)
    {
      print_usage (stdout);
      return 0;
    }

  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("lanspread-peer %s\n", PACKAGE_VERSION);
      return 0;
    }

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      if (strcmp (argv[1], commands[i].name) == 0)
        return commands[i].run (argc - 1, argv + 1);
    }

  fprintf (stderr, _("lanspread-peer: unknown command “%s”\n\n"), argv[1]);
  print_usage (stderr);
  return 2;
}
