#include "config.h"

#include <adwaita.h>

#include "lsp-application.h"
#include "lsp-game-card.h"
#include "lsp-test-util.h"
#include "lsp-window.h"

typedef struct
{
  GApplication *app;
  LspWindow    *window;
  GPtrArray    *titles;
  gboolean      timed_out;
  guint         expected_rows;
} WindowTest;

static void
find_cards (GtkWidget *widget,
            GPtrArray *cards)
{
  if (LSP_IS_GAME_CARD (widget))
    {
      g_ptr_array_add (cards, widget);
      return;
    }
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    find_cards (child, cards);
}

static int
compare_cards (gconstpointer a,
               gconstpointer b)
{
  LspGameCard *x = *(LspGameCard **) a, *y = *(LspGameCard **) b;

  return g_strcmp0 (lsp_lan_game_get_name (lsp_game_card_get_game (x)),
                    lsp_lan_game_get_name (lsp_game_card_get_game (y)));
}

/* The bound cards, sorted by name. */
static GPtrArray *
list_cards (WindowTest *test)
{
  GPtrArray *cards = g_ptr_array_new ();

  find_cards (GTK_WIDGET (test->window), cards);
  for (guint i = 0; i < cards->len; i++)
    {
      if (lsp_game_card_get_game (g_ptr_array_index (cards, i)) == NULL)
        g_ptr_array_remove_index (cards, i--);
    }
  g_ptr_array_sort (cards, compare_cards);
  return cards;
}

static void
collect_titles (WindowTest *test)
{
  g_autoptr(GPtrArray) cards = list_cards (test);

  for (guint i = 0; i < cards->len; i++)
    {
      LspGameCard *card = g_ptr_array_index (cards, i);

      g_ptr_array_add (test->titles, g_strdup_printf ("%s|%s", lsp_lan_game_get_name (lsp_game_card_get_game (card)),
                                                      lsp_game_card_get_status (card)));
    }
}

static guint
count_rows (WindowTest *test)
{
  g_autoptr(GPtrArray) cards = list_cards (test);

  return cards->len;
}

/* The window fills its list once the library is loaded and the node is
 * up; the test looks until the expected rows are there. */
static gboolean
check_rows (gpointer user_data)
{
  WindowTest *test = user_data;

  if (test->window == NULL || count_rows (test) < test->expected_rows)
    return G_SOURCE_CONTINUE;
  collect_titles (test);
  g_application_quit (test->app);
  return G_SOURCE_REMOVE;
}

static void
on_activated (GtkApplication *app,
              WindowTest     *test)
{
  test->window = LSP_WINDOW (gtk_application_get_active_window (app));
  g_timeout_add (50, check_rows, test);
}

static gboolean
on_timeout (gpointer user_data)
{
  WindowTest *test = user_data;

  test->timed_out = TRUE;
  g_application_quit (test->app);
  return G_SOURCE_REMOVE;
}

static void
test_lists_library (void)
{
  static const char * const ids[] = { "arena", "racer", "absent", NULL };
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *catalog = g_build_filename (games, "catalog.json", NULL);
  g_autofree char *local = g_build_filename (games, "racer", "local", NULL);
  g_autoptr(LspApplication) app = lsp_application_new ();
  WindowTest test = { G_APPLICATION (app), NULL, g_ptr_array_new_with_free_func (g_free), FALSE, 2 };
  char *argv[] = { (char *) "lanspread", (char *) "--games", games, (char *) "--no-mdns", NULL };
  guint timeout;

  lsp_test_write_catalog (catalog, ids);
  lsp_test_make_game (games, "arena", "1.0", 2048);
  g_assert_cmpint (g_mkdir_with_parents (local, 0755), ==, 0);

  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect_after (app, "activate", G_CALLBACK (on_activated), &test);
  timeout = g_timeout_add_seconds (30, on_timeout, &test);

  g_assert_cmpint (g_application_run (G_APPLICATION (app), 4, argv), ==, 0);
  g_assert_false (test.timed_out);
  g_source_remove (timeout);

  g_assert_cmpuint (test.titles->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (test.titles, 0), ==, "Game arena|Downloaded · Version 1.0 · 2.0\u00a0kB");
  g_assert_cmpstr (g_ptr_array_index (test.titles, 1), ==, "Game racer|Installed");

  if (test.window != NULL)
    gtk_window_destroy (GTK_WINDOW (test.window));
  g_ptr_array_unref (test.titles);
  lsp_test_remove_tree (games);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *state = lsp_test_make_temp_dir ();
  int status;

  /* The identity goes to a folder of the test's, not the user's; GLib
   * reads this once, so it is set before anything asks. */
  g_setenv ("XDG_STATE_HOME", state, TRUE);
  gtk_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ui/window/lists-library", test_lists_library);

  status = g_test_run ();
  lsp_test_remove_tree (state);
  return status;
}
