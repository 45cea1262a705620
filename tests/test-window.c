#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>

#include "lsp-application.h"
#include "lsp-game-card.h"
#include "lsp-game-details.h"
#include "lsp-test-util.h"
#include "lsp-ui-test.h"
#include "lsp-window.h"

typedef struct
{
  GApplication *app;
  LspWindow    *window;
  GPtrArray    *titles;
  guint         expected_rows;
  guint         step;
  guint         searched;
  guint         filtered;
  guint         dialogs;
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
static guint
count_toplevels (GType type)
{
  g_autoptr(GList) windows = gtk_window_list_toplevels ();
  guint n = 0;

  for (GList *l = windows; l != NULL; l = l->next)
    {
      if (G_TYPE_CHECK_INSTANCE_TYPE (l->data, type))
        {
          n++;
          gtk_window_destroy (l->data);
        }
    }
  return n;
}

static gboolean
arena_has_cover (WindowTest *test)
{
  g_autoptr(GPtrArray) cards = list_cards (test);

  for (guint i = 0; i < cards->len; i++)
    {
      LspGameCard *card = g_ptr_array_index (cards, i);

      if (g_str_equal (lsp_lan_game_get_id (lsp_game_card_get_game (card)), "arena"))
        return adw_avatar_get_custom_image (ADW_AVATAR (find_widget (GTK_WIDGET (card), ADW_TYPE_AVATAR))) != NULL;
    }
  return FALSE;
}

/* A card's buttons as a screen reader meets them: buttons, named after
 * what they do and to which game. */
static void
assert_card_accessible (WindowTest *test,
                        const char *game_id,
                        const char *primary_description)
{
  g_autoptr(GPtrArray) cards = list_cards (test);

  for (guint i = 0; i < cards->len; i++)
    {
      GtkWidget *card = g_ptr_array_index (cards, i);
      LspLanGame *game = lsp_game_card_get_game (LSP_GAME_CARD (card));
      g_autofree char *more = NULL;
      GtkAccessible *primary, *menu, *cancel;

      if (!g_str_equal (lsp_lan_game_get_id (game), game_id))
        continue;
      primary = GTK_ACCESSIBLE (gtk_widget_get_template_child (card, LSP_TYPE_GAME_CARD, "primary_button"));
      menu = GTK_ACCESSIBLE (gtk_widget_get_template_child (card, LSP_TYPE_GAME_CARD, "menu_button"));
      cancel = GTK_ACCESSIBLE (gtk_widget_get_template_child (card, LSP_TYPE_GAME_CARD, "cancel_button"));
      more = g_strdup_printf ("More actions for %s", lsp_lan_game_get_name (game));
      gtk_test_accessible_assert_role (primary, GTK_ACCESSIBLE_ROLE_BUTTON);
      gtk_test_accessible_assert_property (primary, GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, primary_description);
      gtk_test_accessible_assert_role (menu, GTK_ACCESSIBLE_ROLE_BUTTON);
      gtk_test_accessible_assert_property (menu, GTK_ACCESSIBLE_PROPERTY_LABEL, more);
      gtk_test_accessible_assert_role (cancel, GTK_ACCESSIBLE_ROLE_BUTTON);
      g_assert_true (gtk_widget_get_focusable (GTK_WIDGET (primary)));
      return;
    }
  g_assert_not_reached ();
}

/* Tab, as a keyboard user presses it, from wherever the focus is: TRUE if
 * it reaches @target (or a widget inside it) within @presses. */
static gboolean
tab_reaches (GtkWidget *window,
             GtkWidget *target,
             guint      presses)
{
  for (guint i = 0; i < presses; i++)
    {
      GtkWidget *focus;

      gtk_widget_child_focus (window, GTK_DIR_TAB_FORWARD);
      focus = gtk_root_get_focus (GTK_ROOT (window));
      if (focus != NULL && (focus == target || gtk_widget_is_ancestor (focus, target)))
        return TRUE;
    }
  return FALSE;
}

/* From the window, Tab walks into the grid and through a card's actions. */
static void
assert_card_reachable (WindowTest *test,
                       const char *game_id)
{
  g_autoptr(GPtrArray) cards = list_cards (test);

  for (guint i = 0; i < cards->len; i++)
    {
      GtkWidget *card = g_ptr_array_index (cards, i);

      if (!g_str_equal (lsp_lan_game_get_id (lsp_game_card_get_game (LSP_GAME_CARD (card))), game_id))
        continue;
      g_assert_true (tab_reaches (GTK_WIDGET (test->window),
                                  GTK_WIDGET (gtk_widget_get_template_child (card, LSP_TYPE_GAME_CARD, "primary_button")),
                                  40));
      g_assert_true (tab_reaches (GTK_WIDGET (test->window),
                                  GTK_WIDGET (gtk_widget_get_template_child (card, LSP_TYPE_GAME_CARD, "menu_button")),
                                  3));
      return;
    }
  g_assert_not_reached ();
}

/* Games the grid shows: its model, filtered and sorted; widgets for them
 * come with the next layout. */
static guint
count_shown (WindowTest *test)
{
  GtkGridView *grid = GTK_GRID_VIEW (find_widget (GTK_WIDGET (test->window), GTK_TYPE_GRID_VIEW));

  return g_list_model_get_n_items (G_LIST_MODEL (gtk_grid_view_get_model (grid)));
}

/* The window fills its grid once the library is loaded and the node is
 * up; then search and the filter narrow it. */
static gboolean
check_rows (gpointer user_data)
{
  WindowTest *test = user_data;
  GtkEditable *search;
  GtkDropDown *filter;

  if (test->window == NULL || count_rows (test) < test->expected_rows)
    return G_SOURCE_CONTINUE;
  /* The search bar's entry, not the filter menu's own. */
  search = GTK_EDITABLE (find_widget (find_widget (GTK_WIDGET (test->window), GTK_TYPE_SEARCH_BAR),
                                      GTK_TYPE_SEARCH_ENTRY));
  filter = GTK_DROP_DOWN (find_widget (GTK_WIDGET (test->window), GTK_TYPE_DROP_DOWN));
  switch (test->step++)
    {
    case 0:
      /* The catalog's cover replaces the initials once it is loaded. */
      if (!arena_has_cover (test))
        {
          test->step--;
          return G_SOURCE_CONTINUE;
        }
      collect_titles (test);
      assert_card_accessible (test, "arena", "Install Game arena");
      assert_card_accessible (test, "racer", "Play Game racer");
      assert_card_reachable (test, "arena");
      gtk_editable_set_text (search, "RAC");
      test->expected_rows = 0;
      return G_SOURCE_CONTINUE;
    case 1:   /* the search applies after the entry's short delay */
      test->searched = count_shown (test);
      if (test->searched != 1)
        {
          test->step--;
          return G_SOURCE_CONTINUE;
        }
      gtk_editable_set_text (search, "");
      gtk_drop_down_set_selected (filter, 1);   /* Installed */
      return G_SOURCE_CONTINUE;
    case 2:
      test->filtered = count_shown (test);
      if (test->filtered != 1)
        {
          test->step--;
          return G_SOURCE_CONTINUE;
        }
      g_action_group_activate_action (G_ACTION_GROUP (test->app), "preferences", NULL);
      g_action_group_activate_action (G_ACTION_GROUP (test->app), "shortcuts", NULL);
      return G_SOURCE_CONTINUE;
    default:
      /* Preferences and the shortcuts window open from the app's actions. */
      test->dialogs = count_toplevels (ADW_TYPE_PREFERENCES_WINDOW) + count_toplevels (GTK_TYPE_SHORTCUTS_WINDOW);
      g_application_quit (test->app);
      return G_SOURCE_REMOVE;
    }
}

static void
on_activated (GtkApplication *app,
              WindowTest     *test)
{
  test->window = LSP_WINDOW (gtk_application_get_active_window (app));
  g_timeout_add (50, check_rows, test);
}

/* The test catalog, with a cover for arena: a small PNG beside it. */
static void
write_cover_catalog (const char *catalog,
                     const char *games)
{
  static const guint8 pixel[] = { 0x20, 0x60, 0xc0, 0xff };
  g_autoptr(GBytes) bytes = g_bytes_new_static (pixel, sizeof pixel);
  g_autoptr(GdkTexture) texture = gdk_memory_texture_new (1, 1, GDK_MEMORY_R8G8B8A8, bytes, 4);
  g_autofree char *png = g_build_filename (games, "arena.png", NULL);

  g_assert_true (gdk_texture_save_to_png (texture, png));
  lsp_test_write_file (catalog,
                       "{\"games\": ["
                       "{\"id\": \"arena\", \"name\": \"Game arena\", \"launch\": \"bin/arena\", \"cover\": \"arena.png\"}, "
                       "{\"id\": \"racer\", \"name\": \"Game racer\", \"launch\": \"bin/racer\"}, "
                       "{\"id\": \"absent\", \"name\": \"Game absent\", \"launch\": \"bin/absent\"}]}", -1);
}

static void
test_lists_library (void)
{
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *catalog = g_build_filename (games, "catalog.json", NULL);
  g_autofree char *local = g_build_filename (games, "racer", "local", NULL);
  g_autoptr(LspApplication) app = lsp_application_new ();
  WindowTest test = { G_APPLICATION (app), NULL, g_ptr_array_new_with_free_func (g_free), 2, 0, 0, 0, 0 };
  char *argv[] = { (char *) "lanspread", (char *) "--games", games, (char *) "--no-mdns", NULL };

  write_cover_catalog (catalog, games);
  lsp_test_make_game (games, "arena", "1.0", 2048);
  g_assert_cmpint (g_mkdir_with_parents (local, 0755), ==, 0);

  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect_after (app, "activate", G_CALLBACK (on_activated), &test);
  g_assert_true (run_app (G_APPLICATION (app), argv, 30));

  g_assert_cmpuint (test.titles->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (test.titles, 0), ==, "Game arena|Downloaded · Version 1.0 · 2.0\u00a0kB");
  g_assert_cmpstr (g_ptr_array_index (test.titles, 1), ==, "Game racer|Installed");
  /* Search matches names case-insensitively; the filter shows installed games. */
  g_assert_cmpuint (test.searched, ==, 1);
  g_assert_cmpuint (test.filtered, ==, 1);
  g_assert_cmpuint (test.dialogs, ==, 2);

  if (test.window != NULL)
    gtk_window_destroy (GTK_WINDOW (test.window));
  g_ptr_array_unref (test.titles);
  lsp_test_remove_tree (games);
}

/* ---- Download, Cancel, Install and Play from a card, against a real
 * headless peer on loopback ---- */

typedef struct
{
  GApplication *app;
  LspWindow    *window;
  GSubprocess  *seeder;
  char         *games;
  char         *marker;
  guint         step;
  char         *failure;
  gboolean      details_drawn;
} CardTest;

static LspGameCard *
find_card (LspWindow  *window,
           const char *game_id)
{
  g_autoptr(GPtrArray) cards = g_ptr_array_new ();

  find_cards (GTK_WIDGET (window), cards);
  for (guint i = 0; i < cards->len; i++)
    {
      LspGameCard *card = g_ptr_array_index (cards, i);
      LspLanGame *game = lsp_game_card_get_game (card);

      if (game != NULL && g_strcmp0 (lsp_lan_game_get_id (game), game_id) == 0)
        return card;
    }
  return NULL;
}

static gboolean
card_offers (LspGameCard *card,
             const char  *label)
{
  return card != NULL && g_strcmp0 (lsp_game_card_get_action_label (card), label) == 0;
}

/* Saves what the window shows, as a test artefact beside the test log. */
static void
save_screenshot (LspWindow  *window,
                 const char *name)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (GTK_WIDGET (window));
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *path = g_build_filename (g_getenv ("G_TEST_BUILDDIR") ? g_getenv ("G_TEST_BUILDDIR") : ".",
                                            name, NULL);
  int width = gtk_widget_get_width (GTK_WIDGET (window));
  int height = gtk_widget_get_height (GTK_WIDGET (window));

  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  if (node == NULL)
    return;
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (window)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (!gdk_texture_save_to_png (texture, path))
    g_test_message ("could not save %s", path);
  else
    g_test_message ("screenshot: %s", path);
}

/* Answers the open confirmation dialog, if there is one. */
static gboolean
confirm_dialog (void)
{
  g_autoptr(GList) windows = gtk_window_list_toplevels ();

  for (GList *l = windows; l != NULL; l = l->next)
    {
      if (ADW_IS_MESSAGE_DIALOG (l->data) && gtk_widget_get_visible (l->data))
        {
          adw_message_dialog_response (l->data, "confirm");
          gtk_window_destroy (l->data);
          return TRUE;
        }
    }
  return FALSE;
}

/* One step at a time, each once the card shows what the last one led to. */
static gboolean
drive_card (gpointer user_data)
{
  CardTest *test = user_data;
  LspGameCard *card = test->window != NULL ? find_card (test->window, "racer") : NULL;
  g_autofree char *root = g_build_filename (test->games, "racer", NULL);
  g_autofree char *local = g_build_filename (test->games, "racer", "local", NULL);
  g_autofree char *script = g_build_filename (local, "bin", "racer", NULL);
  GtkWidget *details = test->window != NULL ? find_widget (GTK_WIDGET (test->window), LSP_TYPE_GAME_DETAILS) : NULL;
  GtkWidget *details_card = details != NULL ? find_widget (details, LSP_TYPE_GAME_CARD) : NULL;

  switch (test->step)
    {
    case 0:   /* the seeder's game appears, to download */
      if (!card_offers (card, "_Download"))
        return G_SOURCE_CONTINUE;
      gtk_widget_activate_action (GTK_WIDGET (card), "card.primary", NULL);
      test->step++;
      break;
    case 1:   /* downloading (slowly): open its details */
      if (!gtk_widget_get_visible (GTK_WIDGET (card)) || lsp_game_card_get_action_label (card) != NULL)
        return G_SOURCE_CONTINUE;
      g_signal_emit_by_name (find_widget (GTK_WIDGET (test->window), GTK_TYPE_GRID_VIEW), "activate", 0);
      test->step = 10;
      break;
    case 10:  /* the details: the game, who has it, and Cancel from there */
      {
        if (details == NULL || !gtk_widget_get_mapped (details) || gtk_widget_get_width (details) == 0 ||
            details_card == NULL || lsp_game_details_get_game (LSP_GAME_DETAILS (details)) == NULL)
          return G_SOURCE_CONTINUE;
        if (!test->details_drawn)
          {
            /* One frame with the details laid out, for the screenshot. */
            test->details_drawn = TRUE;
            return G_SOURCE_CONTINUE;
          }
        save_screenshot (test->window, "details-view.png");
        gtk_widget_activate_action (GTK_WIDGET (details_card), "card.cancel", NULL);
        gtk_widget_activate_action (GTK_WIDGET (test->window), "win.back", NULL);
        test->step = 2;
      }
      break;
    case 2:   /* back to the grid and to Download, nothing left on disk; download again */
      if (!card_offers (card, "_Download"))
        return G_SOURCE_CONTINUE;
      if (g_file_test (root, G_FILE_TEST_EXISTS))
        {
          test->failure = g_strdup ("the cancelled download left files behind");
          g_application_quit (test->app);
          return G_SOURCE_REMOVE;
        }
      save_screenshot (test->window, "main-window.png");
      gtk_widget_activate_action (GTK_WIDGET (card), "card.primary", NULL);
      test->step++;
      break;
    case 3:   /* downloaded: install */
      if (!card_offers (card, "_Install"))
        return G_SOURCE_CONTINUE;
      gtk_widget_activate_action (GTK_WIDGET (card), "card.primary", NULL);
      test->step++;
      break;
    case 4:   /* installed: a shipped file goes missing; its details */
      if (!card_offers (card, "_Play"))
        return G_SOURCE_CONTINUE;
      g_assert_cmpint (g_unlink (script), ==, 0);
      g_signal_emit_by_name (find_widget (GTK_WIDGET (test->window), GTK_TYPE_GRID_VIEW), "activate", 0);
      test->step = 20;
      break;
    case 20:  /* Verify Files from the card's menu, in the details */
      if (details == NULL || !gtk_widget_get_mapped (details) || lsp_game_details_get_game (LSP_GAME_DETAILS (details)) == NULL)
        return G_SOURCE_CONTINUE;
      gtk_widget_activate_action (GTK_WIDGET (details_card), "card.verify", NULL);
      test->step++;
      break;
    case 21:  /* the details name the missing file; repair it */
      if (strstr (lsp_game_details_get_files_status (LSP_GAME_DETAILS (details)), "bin/racer (missing)") == NULL)
        return G_SOURCE_CONTINUE;
      gtk_widget_activate_action (GTK_WIDGET (details_card), "card.repair", NULL);
      test->step++;
      break;
    case 22:  /* repaired, from the archive on disk: back to the grid */
      if (!g_str_has_prefix (lsp_game_details_get_files_status (LSP_GAME_DETAILS (details)), "Repaired 1 file") ||
          !g_file_test (script, G_FILE_TEST_IS_EXECUTABLE))
        return G_SOURCE_CONTINUE;
      gtk_widget_activate_action (GTK_WIDGET (test->window), "win.back", NULL);
      test->step++;
      break;
    case 23:  /* play */
      if (!card_offers (card, "_Play"))
        return G_SOURCE_CONTINUE;
      gtk_widget_activate_action (GTK_WIDGET (card), "card.primary", NULL);
      test->step = 5;
      break;
    case 5:   /* the game ran and wrote its marker, and ended: uninstall */
      if (!g_file_test (test->marker, G_FILE_TEST_EXISTS) || !card_offers (card, "_Play"))
        return G_SOURCE_CONTINUE;
      gtk_widget_activate_action (GTK_WIDGET (card), "card.uninstall", NULL);
      test->step++;
      break;
    case 6:   /* it asks first */
      if (!confirm_dialog ())
        return G_SOURCE_CONTINUE;
      test->step++;
      break;
    case 7:   /* uninstalled: the files stay, so Install again; remove them */
      if (!card_offers (card, "_Install") || g_file_test (local, G_FILE_TEST_EXISTS))
        return G_SOURCE_CONTINUE;
      gtk_widget_activate_action (GTK_WIDGET (card), "card.remove-files", NULL);
      test->step++;
      break;
    case 8:
      if (!confirm_dialog ())
        return G_SOURCE_CONTINUE;
      test->step++;
      break;
    case 9:   /* gone from disk; the seeder still has it */
      if (!card_offers (card, "_Download") || g_file_test (root, G_FILE_TEST_EXISTS))
        return G_SOURCE_CONTINUE;
      g_application_quit (test->app);
      return G_SOURCE_REMOVE;
    default:
      g_assert_not_reached ();
    }
  return G_SOURCE_CONTINUE;
}

static void
on_card_test_activated (GtkApplication *app,
                        CardTest       *test)
{
  test->window = LSP_WINDOW (gtk_application_get_active_window (app));
  g_timeout_add (50, drive_card, test);
}

/* Starts `lanspread-peer serve` on seeder_games, slowed down so a cancel
 * has time to happen, and returns its port. */
static GSubprocess *
start_seeder (const char *seeder_games,
              guint      *out_port)
{
  g_autofree char *state = g_build_filename (seeder_games, ".state", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) events = NULL;
  GSubprocess *seeder;

  seeder = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                             g_getenv ("LANSPREAD_PEER"), "serve", "--games", seeder_games, "--state-dir", state,
                             "--no-mdns", "--upload-rate", "2", NULL);
  g_assert_no_error (error);
  events = g_data_input_stream_new (g_subprocess_get_stdout_pipe (seeder));
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line_utf8 (events, NULL, NULL, &error);
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonObject *object;

      g_assert_no_error (error);
      g_assert_nonnull (line);
      g_assert_true (json_parser_load_from_data (parser, line, -1, NULL));
      object = json_node_get_object (json_parser_get_root (parser));
      if (g_strcmp0 (json_object_get_string_member (object, "event"), "ready") == 0)
        {
          *out_port = (guint) json_object_get_int_member (object, "port");
          return seeder;
        }
    }
}

static void
test_card_actions (void)
{
  static const char * const ids[] = { "racer", NULL };
  g_autofree char *seeder_games = lsp_test_make_temp_dir ();
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *seeder_catalog = g_build_filename (seeder_games, "catalog.json", NULL);
  g_autofree char *catalog = g_build_filename (games, "catalog.json", NULL);
  g_autofree char *archive = g_build_filename (seeder_games, "racer", "racer.eti", NULL);
  g_autofree char *padding = g_build_filename (seeder_games, "racer", "padding.bin", NULL);
  g_autofree char *version = g_build_filename (seeder_games, "racer", "version.ini", NULL);
  g_autofree char *marker = g_build_filename (games, "racer", "local", "played", NULL);
  g_autofree char *script = g_strdup ("#!/bin/sh\necho yes > played\n");
  g_autofree char *peer_arg = NULL;
  g_autoptr(LspApplication) app = lsp_application_new ();
  CardTest test = { G_APPLICATION (app), NULL, NULL, games, marker, 0, NULL, FALSE };
  const LspTestEntry entries[] = { { "bin/racer", 'f', script, 0755 } };
  char *argv[7];
  guint port = 0;

  lsp_test_write_catalog (seeder_catalog, ids);
  lsp_test_write_catalog (catalog, ids);
  lsp_test_write_archive (archive, "tar", entries, G_N_ELEMENTS (entries));
  /* 12 MiB at 2 MB/s: the download lasts long enough to be cancelled. */
  lsp_test_write_random_file (padding, 12 * 1024 * 1024, 3);
  lsp_test_write_file (version, "2.0", -1);
  test.seeder = start_seeder (seeder_games, &port);
  peer_arg = g_strdup_printf ("127.0.0.1:%u", port);

  argv[0] = (char *) "lanspread";
  argv[1] = (char *) "--games";
  argv[2] = games;
  argv[3] = (char *) "--no-mdns";
  argv[4] = (char *) "--peer";
  argv[5] = peer_arg;
  argv[6] = NULL;
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect_after (app, "activate", G_CALLBACK (on_card_test_activated), &test);
  if (!run_app (G_APPLICATION (app), argv, 60))
    {
      LspGameCard *card = test.window != NULL ? find_card (test.window, "racer") : NULL;

      if (card != NULL)
        g_test_message ("the card says “%s” and offers “%s”", lsp_game_card_get_status (card),
                        lsp_game_card_get_action_label (card));
      g_error ("timed out at step %u", test.step);
    }
  g_assert_null (test.failure);

  if (test.window != NULL)
    gtk_window_destroy (GTK_WINDOW (test.window));
  g_subprocess_send_signal (test.seeder, SIGTERM);
  g_subprocess_wait (test.seeder, NULL, NULL);
  g_clear_object (&test.seeder);
  lsp_test_remove_tree (games);
  lsp_test_remove_tree (seeder_games);
}

/* ---- an update says how much it fetches ---- */

typedef struct
{
  GApplication *app;
  const char   *label;
  gboolean      offered;
} UpdateSize;

static gboolean
wait_update_size (gpointer user_data)
{
  UpdateSize *test = user_data;
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (test->app));
  LspGameCard *card = window != NULL ? find_card (LSP_WINDOW (window), "racer") : NULL;

  if (!card_offers (card, test->label))
    return G_SOURCE_CONTINUE;
  test->offered = TRUE;
  g_application_quit (test->app);
  return G_SOURCE_REMOVE;
}

static void
on_update_size_activated (GtkApplication *app,
                          UpdateSize     *test)
{
  g_timeout_add (50, wait_update_size, test);
}

/* Version 2.0 adds one file to the 1.0 we have: the button counts only it. */
static void
test_update_size (void)
{
  static const char * const ids[] = { "racer", NULL };
  g_autofree char *seeder_games = lsp_test_make_temp_dir ();
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *added = g_build_filename (seeder_games, "racer", "added.bin", NULL);
  g_autofree char *peer_arg = NULL;
  g_autoptr(GSubprocess) seeder = NULL;
  g_autoptr(LspApplication) app = lsp_application_new ();
  g_autofree char *size = g_format_size (1500 * 1000);
  g_autofree char *label = g_strdup_printf ("_Update (%s to download)", size);
  UpdateSize test = { G_APPLICATION (app), label, FALSE };
  const char * const folders[] = { seeder_games, games };
  char *argv[7];
  guint port = 0;
  GtkWindow *window;

  for (guint i = 0; i < G_N_ELEMENTS (folders); i++)
    {
      g_autofree char *catalog = g_build_filename (folders[i], "catalog.json", NULL);
      g_autofree char *padding = g_build_filename (folders[i], "racer", "padding.bin", NULL);
      g_autofree char *version = g_build_filename (folders[i], "racer", "version.ini", NULL);

      lsp_test_write_catalog (catalog, ids);
      lsp_test_write_random_file (padding, 12 * 1024 * 1024, 3);
      lsp_test_write_file (version, i == 0 ? "2.0" : "1.0", -1);
    }
  lsp_test_write_random_file (added, 1500 * 1000, 9);
  seeder = start_seeder (seeder_games, &port);
  peer_arg = g_strdup_printf ("127.0.0.1:%u", port);

  argv[0] = (char *) "lanspread";
  argv[1] = (char *) "--games";
  argv[2] = games;
  argv[3] = (char *) "--no-mdns";
  argv[4] = (char *) "--peer";
  argv[5] = peer_arg;
  argv[6] = NULL;
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect_after (app, "activate", G_CALLBACK (on_update_size_activated), &test);
  if (!run_app (G_APPLICATION (app), argv, 60))
    {
      window = gtk_application_get_active_window (GTK_APPLICATION (app));
      if (window != NULL && find_card (LSP_WINDOW (window), "racer") != NULL)
        g_test_message ("the card offers “%s”", lsp_game_card_get_action_label (find_card (LSP_WINDOW (window), "racer")));
      g_error ("the card never offered “%s”", test.label);
    }
  g_assert_true (test.offered);

  window = gtk_application_get_active_window (GTK_APPLICATION (app));
  if (window != NULL)
    gtk_window_destroy (window);
  g_subprocess_send_signal (seeder, SIGTERM);
  g_subprocess_wait (seeder, NULL, NULL);
  lsp_test_remove_tree (games);
  lsp_test_remove_tree (seeder_games);
}

/* ---- first run: no games folder yet ---- */

typedef struct
{
  GApplication *app;
  const char   *games;
  guint         step;
  gboolean      offered;
} FirstRun;

static gboolean
drive_first_run (gpointer user_data)
{
  FirstRun *test = user_data;
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (test->app));
  GtkWidget *button;
  g_autoptr(GPtrArray) cards = NULL;

  if (window == NULL)
    return G_SOURCE_CONTINUE;
  switch (test->step)
    {
    case 0:   /* the folder is missing: a page offers to choose one */
      button = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (window), LSP_TYPE_WINDOW,
                                                          "choose_folder_button"));
      test->offered = button != NULL && gtk_widget_get_mapped (button);
      if (!test->offered)
        return G_SOURCE_CONTINUE;
      /* What choosing does: the setting, and the app starts over on it. */
      g_settings_set_string (lsp_application_get_settings (LSP_APPLICATION (test->app)), "games-folder", test->games);
      g_action_group_activate_action (G_ACTION_GROUP (test->app), "reopen", NULL);
      test->step++;
      return G_SOURCE_CONTINUE;
    default:  /* the new window shows the folder's game */
      cards = g_ptr_array_new ();
      find_cards (GTK_WIDGET (window), cards);
      if (cards->len == 0 || lsp_game_card_get_game (g_ptr_array_index (cards, 0)) == NULL)
        return G_SOURCE_CONTINUE;
      g_application_quit (test->app);
      return G_SOURCE_REMOVE;
    }
}

static void
test_first_run (void)
{
  static const char * const ids[] = { "arena", NULL };
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *catalog = g_build_filename (games, "catalog.json", NULL);
  g_autofree char *missing = g_build_filename (games, "not-there", NULL);
  g_autoptr(LspApplication) app = lsp_application_new ();
  FirstRun test = { G_APPLICATION (app), games, 0, FALSE };
  char *argv[] = { (char *) "lanspread", (char *) "--games", missing, (char *) "--no-mdns", NULL };

  lsp_test_write_catalog (catalog, ids);
  lsp_test_make_game (games, "arena", "1.0", 2048);
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_timeout_add (50, drive_first_run, &test);
  g_assert_true (run_app (G_APPLICATION (app), argv, 30));
  g_assert_true (test.offered);
  g_settings_reset (lsp_application_get_settings (app), "games-folder");
  g_assert_cmpuint (count_toplevels (LSP_TYPE_WINDOW), ==, 1);
  lsp_test_remove_tree (games);
}

/* ---- a second launch presents the first window ---- */

typedef struct
{
  GApplication *app;
  char         *games;
  guint         activations;
  gboolean      second_exited;
  GError       *second_error;
} InstanceTest;

static void
on_second_exited (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  InstanceTest *test = user_data;

  g_subprocess_wait_check_finish (G_SUBPROCESS (object), result, &test->second_error);
  test->second_exited = TRUE;
  if (test->activations >= 2 || test->second_error != NULL)
    g_application_quit (test->app);
}

static void
on_instance_activated (GApplication *app,
                       InstanceTest *test)
{
  g_autoptr(GSubprocess) second = NULL;
  g_autoptr(GError) error = NULL;

  if (++test->activations > 1)
    {
      if (test->second_exited)
        g_application_quit (app);
      return;
    }
  second = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, g_getenv ("LANSPREAD_APP"),
                             "--games", test->games, "--no-mdns", NULL);
  g_assert_no_error (error);
  g_subprocess_wait_check_async (second, NULL, on_second_exited, test);
}

static void
test_single_instance (void)
{
  g_autofree char *games = lsp_test_make_temp_dir ();
  g_autofree char *catalog = g_build_filename (games, "catalog.json", NULL);
  static const char * const ids[] = { "arena", NULL };
  g_autoptr(LspApplication) app = lsp_application_new ();
  InstanceTest test = { G_APPLICATION (app), games, 0, FALSE, NULL };
  char *argv[] = { (char *) "lanspread", (char *) "--games", games, (char *) "--no-mdns", NULL };

  lsp_test_write_catalog (catalog, ids);
  g_signal_connect_after (app, "activate", G_CALLBACK (on_instance_activated), &test);
  g_assert_true (run_app (G_APPLICATION (app), argv, 60));
  /* The second process handed over and ended; this one was activated
   * again and still has its one window. */
  g_assert_no_error (test.second_error);
  g_assert_true (test.second_exited);
  g_assert_cmpuint (test.activations, ==, 2);
  g_assert_cmpuint (count_toplevels (LSP_TYPE_WINDOW), ==, 1);
  lsp_test_remove_tree (games);
}

int
main (int    argc,
      char **argv)
{
  char *state = lsp_ui_test_init (&argc, &argv);

  g_test_add_func ("/ui/window/lists-library", test_lists_library);
  g_test_add_func ("/ui/window/card-actions", test_card_actions);
  g_test_add_func ("/ui/window/update-size", test_update_size);
  g_test_add_func ("/ui/window/first-run", test_first_run);
  g_test_add_func ("/ui/window/single-instance", test_single_instance);

  return lsp_ui_test_finish (state, g_test_run ());
}
