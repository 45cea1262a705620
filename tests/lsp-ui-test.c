#include "config.h"

#include "lsp-ui-test.h"

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
