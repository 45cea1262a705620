/* lsp-ui-test.h: running the app under test and looking into its widgets */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* Initializes GTK for a test of the app whose state (identity, known
 * peers, passphrase) goes to a folder of the test's, not the user's, and
 * serves desktop notifications. Returns that folder, for
 * lsp_ui_test_finish() with the status of g_test_run(). */
char      *lsp_ui_test_init   (int          *argc,
                               char       ***argv);
int        lsp_ui_test_finish (char         *state,
                               int           status);

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
