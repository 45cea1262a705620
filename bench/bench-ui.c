/* bench-ui: the window with a large LAN library.
 *
 * Starts the real app on a generated folder of N downloaded games and
 * reports the time from start to the first frame painted with the grid
 * filled, and from a search's change to the first frame painted with the
 * grid narrowed, then with it cleared again. */
#include "config.h"

#include <adwaita.h>
#include <stdio.h>
#include <stdlib.h>

#include "lsp-application.h"
#include "lsp-window.h"

#define N_GAMES_DEFAULT 2000

typedef struct
{
  GApplication *app;
  GtkWindow    *window;
  GtkGridView  *grid;
  GtkEditable  *search;
  guint         n_games;
  guint         step;
  gint64        started;
  gint64        first_frame;
  gint64        search_changed;
  gint64        search_applied;
  gint64        clear_applied;
  gboolean      timed_out;
} Bench;

static GtkWidget *
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

static guint
shown (Bench *bench)
{
  GtkSelectionModel *model = gtk_grid_view_get_model (bench->grid);

  return model != NULL ? g_list_model_get_n_items (G_LIST_MODEL (model)) : 0;
}

static void
on_search_changed (Bench *bench)
{
  bench->search_changed = g_get_monotonic_time ();
}

/* Runs after each painted frame: the measurements are what a player sees. */
static void
on_after_paint (GdkFrameClock *clock,
                Bench         *bench)
{
  gint64 now = g_get_monotonic_time ();

  switch (bench->step)
    {
    case 0:   /* the grid, filled */
      if (shown (bench) < bench->n_games)
        return;
      bench->first_frame = now;
      bench->step++;
      gtk_editable_set_text (bench->search, "Game 1999");
      break;
    case 1:   /* the search, applied */
      if (bench->search_changed == 0 || shown (bench) >= bench->n_games)
        return;
      bench->search_applied = now - bench->search_changed;
      bench->search_changed = 0;
      bench->step++;
      gtk_editable_set_text (bench->search, "");
      break;
    case 2:   /* cleared again: every card back */
      if (bench->search_changed == 0 || shown (bench) < bench->n_games)
        return;
      bench->clear_applied = now - bench->search_changed;
      bench->step++;
      g_application_quit (bench->app);
      break;
    default:
      break;
    }
}

static void
on_activated (GtkApplication *app,
              Bench          *bench)
{
  GtkWidget *bar;

  bench->window = gtk_application_get_active_window (app);
  bench->grid = GTK_GRID_VIEW (find_widget (GTK_WIDGET (bench->window), GTK_TYPE_GRID_VIEW));
  bar = find_widget (GTK_WIDGET (bench->window), GTK_TYPE_SEARCH_BAR);
  bench->search = GTK_EDITABLE (find_widget (bar, GTK_TYPE_SEARCH_ENTRY));
  g_signal_connect_swapped (bench->search, "search-changed", G_CALLBACK (on_search_changed), bench);
  gtk_widget_realize (GTK_WIDGET (bench->window));
  g_signal_connect (gtk_widget_get_frame_clock (GTK_WIDGET (bench->window)), "after-paint",
                    G_CALLBACK (on_after_paint), bench);
}

static gboolean
on_timeout (gpointer user_data)
{
  Bench *bench = user_data;

  bench->timed_out = TRUE;
  g_application_quit (bench->app);
  return G_SOURCE_REMOVE;
}

static void
make_games (const char *games,
            guint       n)
{
  g_autoptr(GString) catalog = g_string_new ("{\"games\": [");
  g_autofree char *catalog_path = g_build_filename (games, "catalog.json", NULL);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *id = g_strdup_printf ("game-%04u", i);
      g_autofree char *root = g_build_filename (games, id, NULL);
      g_autofree char *archive = g_build_filename (root, "data.eti", NULL);
      g_autofree char *version = g_build_filename (root, "version.ini", NULL);

      g_string_append_printf (catalog, "%s{\"id\": \"%s\", \"name\": \"Game %u\", \"launch\": \"bin/run\"}",
                              i > 0 ? ", " : "", id, i);
      if (g_mkdir_with_parents (root, 0755) != 0 ||
          !g_file_set_contents (archive, id, -1, NULL) ||
          !g_file_set_contents (version, "1.0", -1, NULL))
        g_error ("Cannot write %s", root);
    }
  g_string_append (catalog, "]}");
  if (!g_file_set_contents (catalog_path, catalog->str, (gssize) catalog->len, NULL))
    g_error ("Cannot write %s", catalog_path);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *work = g_dir_make_tmp ("lanspread-bench-ui-XXXXXX", NULL);
  g_autofree char *games = g_build_filename (work, "games", NULL);
  g_autofree char *state = g_build_filename (work, "state", NULL);
  g_autofree char *rm = NULL;
  g_autoptr(LspApplication) app = NULL;
  Bench bench = { 0 };
  char *app_argv[] = { (char *) "lanspread", (char *) "--games", games, (char *) "--no-mdns", NULL };
  int status;

  bench.n_games = argc > 1 ? (guint) atoi (argv[1]) : N_GAMES_DEFAULT;
  g_setenv ("XDG_STATE_HOME", state, TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  make_games (games, bench.n_games);

  app = lsp_application_new ();
  bench.app = G_APPLICATION (app);
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect_after (app, "activate", G_CALLBACK (on_activated), &bench);
  g_timeout_add_seconds (120, on_timeout, &bench);
  bench.started = g_get_monotonic_time ();
  status = g_application_run (G_APPLICATION (app), 4, app_argv);

  rm = g_strdup_printf ("rm -rf '%s'", work);
  if (system (rm) != 0)
    g_warning ("Could not remove %s", work);
  if (status != 0 || bench.timed_out || bench.step < 3)
    {
      fprintf (stderr, "bench-ui: did not finish (step %u)\n", bench.step);
      return 1;
    }
  printf ("RESULT games=%u first_frame_ms=%.1f search_ms=%.1f clear_ms=%.1f\n", bench.n_games,
          (bench.first_frame - bench.started) / 1000.0, bench.search_applied / 1000.0,
          bench.clear_applied / 1000.0);
  return 0;
}
