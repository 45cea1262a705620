#include "config.h"

#include "lsp-ui-test.h"

#include "lsp-test-util.h"

#include <string.h>

typedef struct
{
  GApplication *app;
  gboolean      timed_out;
} Deadline;

static gboolean
on_deadline (gpointer user_data)
{
  Deadline *deadline = user_data;

  deadline->timed_out = TRUE;
  g_application_quit (deadline->app);
  return G_SOURCE_REMOVE;
}

/* Runs the app until it quits, or at most @seconds; FALSE if it had to be
 * stopped. */
gboolean
run_app (GApplication *app,
         char        **argv,
         guint         seconds)
{
  Deadline deadline = { app, FALSE };
  guint id = g_timeout_add_seconds (seconds, on_deadline, &deadline);

  g_assert_cmpint (g_application_run (app, (int) g_strv_length (argv), argv), ==, 0);
  if (!deadline.timed_out)
    g_source_remove (id);
  return !deadline.timed_out;
}

GtkWidget *
find_widget (GtkWidget *widget,
             GType      type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget (child, type);
      if (found != NULL)
        return found;
    }
  return NULL;
}

gboolean
shows_text (GtkWidget  *widget,
            const char *text)
{
  if (GTK_IS_LABEL (widget) && strstr (gtk_label_get_label (GTK_LABEL (widget)), text) != NULL)
    return TRUE;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    {
      if (shows_text (child, text))
        return TRUE;
    }
  return FALSE;
}

char *
lsp_ui_test_init (int    *argc,
                  char ***argv)
{
  char *state = lsp_test_make_temp_dir ();

  /* GLib reads this once, so it is set before anything asks. */
  g_setenv ("XDG_STATE_HOME", state, TRUE);
  gtk_test_init (argc, argv, NULL);
  lsp_test_serve_notifications ();
  return state;
}

int
lsp_ui_test_finish (char *state,
                    int   status)
{
  lsp_test_remove_tree (state);
  g_free (state);
  return status;
}
