/* lsp-cli.h: the subcommands of the headless peer */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

int lsp_cli_scan (int    argc,
                  char **argv);

int lsp_cli_serve (int    argc,
                   char **argv);

G_END_DECLS
