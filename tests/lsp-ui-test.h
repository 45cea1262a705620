/* lsp-ui-test.h: running the app under test and looking into its widgets */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* Runs the app until it quits, or at most @seconds; FALSE if it had to be
 * stopped. */
gboolean   run_app     (GApplication *app,
                        char        **argv,
                        guint         seconds);
GtkWidget *find_widget (GtkWidget    *widget,
                        GType         type);
/* Whether a label at or below @widget shows @text. */
gboolean   shows_text  (GtkWidget    *widget,
                        const char   *text);

G_END_DECLS
