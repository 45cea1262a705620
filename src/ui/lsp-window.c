#define G_LOG_DOMAIN "lsp-window"

#include "config.h"

#include "lsp-window.h"

#include "lsp-install-recovery.h"

#include <glib/gi18n.h>

struct _LspWindow
{
  AdwApplicationWindow  parent_instance;

  LspLibrary           *library;
  GCancellable         *cancellable;

  GtkStack             *stack;
  AdwStatusPage        *status_page;
  GtkListBox           *games_list;
  GtkSpinner           *scan_spinner;
};

G_DEFINE_FINAL_TYPE (LspWindow, lsp_window, ADW_TYPE_APPLICATION_WINDOW)

static char *
describe_game (LspLocalGame *game)
{
  g_autofree char *size = g_format_size (lsp_local_game_get_size (game));
  const char *version = lsp_local_game_get_version (game);

  if (lsp_local_game_get_error (game) != NULL)
    return g_strdup (lsp_local_game_get_error (game));
  if (lsp_local_game_get_downloaded (game) && lsp_local_game_get_installed (game))
    return g_strdup_printf (_("Version %s · %s · Installed"), version, size);
  if (lsp_local_game_get_downloaded (game))
    return g_strdup_printf (_("Version %s · %s · Downloaded"), version, size);
  if (lsp_local_game_get_installed (game))
    return g_strdup (_("Installed · archives not present"));
  return g_strdup (_("Incomplete download"));
}

static void
update_row (LspLocalGame *game,
            GParamSpec   *pspec,
            GtkWidget    *row)
{
  g_autofree char *subtitle = describe_game (game);

  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
}

static GtkWidget *
create_game_row (gpointer item,
                 gpointer user_data)
{
  LspLocalGame *game = item;
  GtkWidget *row = adw_action_row_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), lsp_local_game_get_name (game));
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  gtk_widget_set_name (row, lsp_local_game_get_id (game));
  update_row (game, NULL, row);
  g_signal_connect_object (game, "notify", G_CALLBACK (update_row), row, 0);

  return row;
}

static void
update_view (LspWindow *self)
{
  guint n_games = g_list_model_get_n_items (G_LIST_MODEL (self->library));

  gtk_stack_set_visible_child_name (self->stack, n_games > 0 ? "games" : "empty");
}

static void
on_items_changed (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  LspWindow  *self)
{
  update_view (self);
}

static void
on_library_loaded (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(LspWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!lsp_library_load_finish (LSP_LIBRARY (object), result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      adw_status_page_set_title (self->status_page, _("Cannot Read the Games Folder"));
      adw_status_page_set_description (self->status_page, error->message);
      return;
    }

  lsp_library_watch (self->library);
  update_view (self);
}

/* Interrupted installs, updates and uninstalls are settled before the
 * library's first scan looks at the folder. */
static void
on_recovered (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(LspWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!lsp_install_recover_games_folder_finish (result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_warning ("Could not recover interrupted operations: %s", error->message);
    }
  lsp_library_load_async (self->library, self->cancellable, on_library_loaded, g_object_ref (self));
}

static void
show_folder_hint (LspWindow *self,
                  GFile     *games_dir)
{
  g_autofree char *path = g_file_get_parse_name (games_dir);
  g_autofree char *description =
    g_strdup_printf (_("Put games in %s, or wait for other players on the network."), path);

  adw_status_page_set_description (self->status_page, description);
}

static void
lsp_window_dispose (GObject *object)
{
  LspWindow *self = LSP_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->library);

  gtk_widget_dispose_template (GTK_WIDGET (self), LSP_TYPE_WINDOW);

  G_OBJECT_CLASS (lsp_window_parent_class)->dispose (object);
}

static void
lsp_window_class_init (LspWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = lsp_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/org/lanspread/Lanspread/lsp-window.ui");
  gtk_widget_class_bind_template_child (widget_class, LspWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, LspWindow, status_page);
  gtk_widget_class_bind_template_child (widget_class, LspWindow, games_list);
  gtk_widget_class_bind_template_child (widget_class, LspWindow, scan_spinner);
}

static void
lsp_window_init (LspWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
}

LspWindow *
lsp_window_new (LspApplication *application,
                GFile          *games_dir,
                GFile          *catalog_file)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspCatalog) catalog = NULL;
  LspWindow *self;

  g_return_val_if_fail (LSP_IS_APPLICATION (application), NULL);

  self = g_object_new (LSP_TYPE_WINDOW, "application", application, NULL);
  show_folder_hint (self, games_dir);

  catalog = lsp_catalog_new_from_file (catalog_file, NULL, &error);
  if (catalog == NULL)
    {
      adw_status_page_set_title (self->status_page, _("Cannot Read the Game Catalog"));
      adw_status_page_set_description (self->status_page, error->message);
      return self;
    }

  self->library = lsp_library_new (games_dir, catalog);
  g_object_bind_property (self->library, "scanning", self->scan_spinner, "spinning", G_BINDING_SYNC_CREATE);
  gtk_list_box_bind_model (self->games_list, G_LIST_MODEL (self->library), create_game_row, NULL, NULL);
  g_signal_connect_object (self->library, "items-changed", G_CALLBACK (on_items_changed), self, 0);
  lsp_install_recover_games_folder_async (games_dir, self->cancellable, on_recovered, g_object_ref (self));

  return self;
}

LspLibrary *
lsp_window_get_library (LspWindow *self)
{
  g_return_val_if_fail (LSP_IS_WINDOW (self), NULL);
  return self->library;
}
