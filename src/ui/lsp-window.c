#define G_LOG_DOMAIN "lsp-window"

#include "config.h"

#include "lsp-window.h"

#include "lsp-engine.h"
#include "lsp-game-card.h"
#include "lsp-game-details.h"

#include <glib/gi18n.h>
#include <string.h>

struct _LspWindow
{
  AdwApplicationWindow  parent_instance;

  LspEngine            *engine;
  GSettings            *settings;
  LspLibrary           *library;   /* the engine's, once they exist */
  LspNode              *node;
  LspLanLibrary        *lan;
  GCancellable         *cancellable;

  GtkStack             *stack;
  AdwStatusPage        *status_page;
  GtkGridView          *games_grid;
  GtkWidget            *details;
  GtkButton            *back_button;
  GtkButton            *choose_folder_button;
  GtkFileChooserNative *chooser;
  GtkToggleButton      *search_button;
  GtkSearchBar         *search_bar;
  GtkSearchEntry       *search_entry;
  GtkDropDown          *filter_dropdown;
  GtkCustomFilter      *filter;
  GtkSpinner           *scan_spinner;
  AdwWindowTitle       *window_title;
  AdwToastOverlay      *toasts;
  GtkMenuButton        *players_button;
  GtkLabel             *players_count;
  GtkStack             *players_stack;
  GtkListBox           *players_list;
};

G_DEFINE_FINAL_TYPE (LspWindow, lsp_window, ADW_TYPE_APPLICATION_WINDOW)

/* The filter menu, in its order. */
typedef enum {
  SHOW_ALL,
  SHOW_INSTALLED,
  SHOW_DOWNLOADING,
  SHOW_UPDATES,
  SHOW_ON_THE_LAN,
} ShowWhich;

static gboolean
matches_search (LspLanGame *game,
                const char *text)
{
  g_autofree char *needle = NULL;
  g_autofree char *name = NULL;

  if (text == NULL || text[0] == '\0')
    return TRUE;
  needle = g_utf8_casefold (text, -1);
  name = g_utf8_casefold (lsp_lan_game_get_name (game), -1);
  return strstr (name, needle) != NULL || strstr (lsp_lan_game_get_id (game), needle) != NULL;
}

static gboolean
filter_game (gpointer item,
             gpointer user_data)
{
  LspWindow *self = user_data;
  LspLanGame *game = item;
  LspLanGameState state = lsp_lan_game_get_state (game);

  if (!matches_search (game, gtk_editable_get_text (GTK_EDITABLE (self->search_entry))))
    return FALSE;
  switch ((ShowWhich) gtk_drop_down_get_selected (self->filter_dropdown))
    {
    case SHOW_INSTALLED:
      return state == LSP_LAN_GAME_INSTALLED;
    case SHOW_DOWNLOADING:
      return lsp_download_manager_lookup (lsp_engine_get_downloads (self->engine), lsp_lan_game_get_id (game)) != NULL;
    case SHOW_UPDATES:
      return lsp_lan_game_get_update_available (game);
    case SHOW_ON_THE_LAN:
      return lsp_lan_game_get_n_sources (game) > 0;
    case SHOW_ALL:
    default:
      return TRUE;
    }
}

static void
refilter (LspWindow *self)
{
  if (self->filter != NULL)
    gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
}

static void
setup_card (GtkSignalListItemFactory *factory,
            GtkListItem              *item,
            LspWindow                *self)
{
  gtk_list_item_set_child (item, lsp_game_card_new ());
  gtk_list_item_set_activatable (item, TRUE);
}

static void
bind_card (GtkSignalListItemFactory *factory,
           GtkListItem              *item,
           LspWindow                *self)
{
  lsp_game_card_bind (LSP_GAME_CARD (gtk_list_item_get_child (item)), self->engine,
                      LSP_LAN_GAME (gtk_list_item_get_item (item)));
}

static void
unbind_card (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             LspWindow                *self)
{
  lsp_game_card_unbind (LSP_GAME_CARD (gtk_list_item_get_child (item)));
}

static void
update_view (LspWindow *self)
{
  guint n_games = self->lan != NULL ? g_list_model_get_n_items (G_LIST_MODEL (self->lan)) : 0;

  /* The details stay up while the LAN changes underneath. */
  if (lsp_game_details_get_game (LSP_GAME_DETAILS (self->details)) != NULL)
    return;
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
update_player_row (LspPeer    *peer,
                   GParamSpec *pspec,
                   GtkWidget  *row)
{
  LspChunkServer *server = g_object_get_data (G_OBJECT (row), "lsp-chunk-server");
  g_autoptr(GHashTable) sent = server != NULL ? lsp_chunk_server_dup_peer_bytes (server) : NULL;
  guint64 *bytes = sent != NULL ? g_hash_table_lookup (sent, lsp_peer_get_id (peer)) : NULL;
  guint n_games = lsp_peer_get_n_games (peer);
  const char *known_as = lsp_peer_get_known_as (peer);
  g_autofree char *subtitle =
    g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s · %u game · %s", "%s · %u games · %s", n_games),
                     lsp_peer_get_address (peer) != NULL ? lsp_peer_get_address (peer) : "?", n_games,
                     lsp_peer_get_connected (peer) ? _("connected") : _("reconnecting"));

  /* Met before with this key: the same player, whatever it is called now. */
  if (known_as != NULL && g_strcmp0 (known_as, lsp_peer_get_hostname (peer)) == 0)
    {
      g_autofree char *plain = g_steal_pointer (&subtitle);
      subtitle = g_strdup_printf (_("%s · known"), plain);
    }
  else if (known_as != NULL)
    {
      g_autofree char *plain = g_steal_pointer (&subtitle);
      subtitle = g_strdup_printf (_("%s · known as %s"), plain, known_as);
    }

  /* What we uploaded to this player, from the games we have and the
   * parts of the ones we are downloading. */
  if (bytes != NULL)
    {
      g_autofree char *amount = g_format_size (*bytes);
      g_autofree char *with_sent = g_strdup_printf (_("%s · you sent %s"), subtitle, amount);

      g_free (subtitle);
      subtitle = g_steal_pointer (&with_sent);
    }
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row),
                                 lsp_peer_get_hostname (peer) != NULL ? lsp_peer_get_hostname (peer) : _("A player"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
}

static void
on_player_games_changed (LspPeer            *peer,
                         const char * const *changed,
                         const char * const *removed,
                         GtkWidget          *row)
{
  update_player_row (peer, NULL, row);
}

static void
on_player_uploaded (LspChunkServer *server,
                    const char     *peer_id,
                    guint64         bytes,
                    GtkWidget      *row)
{
  LspPeer *peer = g_object_get_data (G_OBJECT (row), "lsp-peer");

  if (g_str_equal (peer_id, lsp_peer_get_id (peer)))
    update_player_row (peer, NULL, row);
}

static GtkWidget *
create_player_row (gpointer item,
                   gpointer user_data)
{
  LspWindow *self = user_data;
  LspChunkServer *server = lsp_engine_get_chunk_server (self->engine);
  LspPeer *peer = item;
  GtkWidget *row = adw_action_row_new ();

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  g_object_set_data_full (G_OBJECT (row), "lsp-peer", g_object_ref (peer), g_object_unref);
  if (server != NULL)
    {
      g_object_set_data_full (G_OBJECT (row), "lsp-chunk-server", g_object_ref (server), g_object_unref);
      g_signal_connect_object (server, "uploaded", G_CALLBACK (on_player_uploaded), row, 0);
    }
  update_player_row (peer, NULL, row);
  g_signal_connect_object (peer, "notify", G_CALLBACK (update_player_row), row, 0);
  g_signal_connect_object (peer, "games-changed", G_CALLBACK (on_player_games_changed), row, 0);
  return row;
}

static void
update_players (LspWindow *self)
{
  guint n_peers = g_list_model_get_n_items (G_LIST_MODEL (self->node));
  g_autofree char *subtitle = NULL;
  g_autofree char *count = g_strdup_printf ("%u", n_peers);
  g_autofree char *players = NULL;

  gtk_label_set_label (self->players_count, count);
  gtk_stack_set_visible_child_name (self->players_stack, n_peers > 0 ? "list" : "none");
  players = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u other player", "%u other players", n_peers), n_peers);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->players_button), GTK_ACCESSIBLE_PROPERTY_LABEL, players, -1);

  if (n_peers == 0)
    subtitle = g_strdup (_("No other players yet"));
  else
    subtitle = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u other player", "%u other players", n_peers), n_peers);
  adw_window_title_set_subtitle (self->window_title, subtitle);
}

static void
on_peers_changed (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  LspWindow  *self)
{
  update_players (self);
}

static void
on_discovery_available (LspDiscovery *discovery,
                        GParamSpec   *pspec,
                        LspWindow    *self)
{
  if (!lsp_discovery_get_available (discovery))
    adw_toast_overlay_add_toast (self->toasts,
                                 adw_toast_new (_("Cannot look for players: avahi-daemon is not running. "
                                                  "Players added by address still work.")));
}

static void
on_engine_warning (LspEngine  *engine,
                   const char *message,
                   LspWindow  *self)
{
  adw_toast_overlay_add_toast (self->toasts, adw_toast_new (message));
}

/* A peer that wants a passphrase we lack (or refused ours): the toast
 * leads to where it is entered. */
static void
on_unauthorized (LspNode    *node,
                 const char *peer_id,
                 const char *address,
                 LspWindow  *self)
{
  g_autofree char *title = NULL;
  AdwToast *toast;

  if (lsp_node_get_has_passphrase (node))
    title = g_strdup_printf (_("The player at %s refused your party passphrase"), address);
  else
    title = g_strdup_printf (_("The player at %s plays in a party with a passphrase"), address);
  toast = adw_toast_new (title);
  adw_toast_set_button_label (toast, _("_Passphrase…"));
  adw_toast_set_action_name (toast, "app.preferences");
  adw_toast_set_timeout (toast, 0);
  adw_toast_overlay_add_toast (self->toasts, toast);
}

/* Another key at an address the user added: not connected to unless the
 * user says the player is who they think. */
static void
on_peer_key_changed (LspNode    *node,
                     const char *address,
                     const char *pinned_peer_id,
                     const char *peer_id,
                     LspWindow  *self)
{
  g_autofree char *title = g_strdup_printf (_("The player at %s has a different key than before; "
                                              "not connecting"), address);
  AdwToast *toast = adw_toast_new (title);

  adw_toast_set_button_label (toast, _("_Trust"));
  adw_toast_set_action_name (toast, "win.trust-peer");
  adw_toast_set_action_target_value (toast, g_variant_new_string (address));
  adw_toast_set_timeout (toast, 0);
  adw_toast_overlay_add_toast (self->toasts, toast);
}

static void
trust_peer_activated (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  LspWindow *self = LSP_WINDOW (widget);
  g_autoptr(GError) error = NULL;

  if (self->node != NULL && !lsp_node_trust_peer_address (self->node, g_variant_get_string (parameter, NULL), &error))
    adw_toast_overlay_add_toast (self->toasts, adw_toast_new (error->message));
}

static void
on_library_created (LspEngine  *engine,
                    GParamSpec *pspec,
                    LspWindow  *self)
{
  self->library = lsp_engine_get_library (engine);
  g_object_bind_property (self->library, "scanning", self->scan_spinner, "spinning", G_BINDING_SYNC_CREATE);
}

/* The limits follow the preferences at once. */
static void
apply_settings (LspWindow *self)
{
  lsp_download_manager_set_max_running (lsp_engine_get_downloads (self->engine),
                                        g_settings_get_uint (self->settings, "max-downloads"));
  lsp_download_manager_set_rate_limit (lsp_engine_get_downloads (self->engine),
                                       (guint64) (g_settings_get_double (self->settings, "download-rate") * 1e6));
  lsp_chunk_server_set_rate_limit (lsp_engine_get_chunk_server (self->engine),
                                   (guint64) (g_settings_get_double (self->settings, "upload-rate") * 1e6));
}

/* Says so on the desktop when the window is not where the player looks. */
static void
notify_done (LspWindow  *self,
             const char *id,
             const char *title)
{
  g_autoptr(GNotification) notification = NULL;

  if (gtk_window_is_active (GTK_WINDOW (self)))
    return;
  notification = g_notification_new (title);
  g_application_send_notification (G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self))), id, notification);
}

static void
report_failure (LspWindow    *self,
                const GError *error)
{
  if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    adw_toast_overlay_add_toast (self->toasts, adw_toast_new (error->message));
}

static void
on_install_done (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(LspWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  lsp_installer_install_finish (LSP_INSTALLER (object), result, &error);
  report_failure (self, error);
}

static void
on_update_done (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(LspWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  lsp_installer_update_finish (LSP_INSTALLER (object), result, &error);
  report_failure (self, error);
}

static void
on_download_finished (LspDownloadManager *downloads,
                      LspDownload        *download,
                      const GError       *error,
                      LspWindow          *self)
{
  const char *id = lsp_download_get_game_id (download);
  LspLanGame *game = lsp_lan_library_lookup (self->lan, id);
  g_autofree char *title = NULL;
  LspLocalGame *local;

  if (error != NULL)
    {
      report_failure (self, error);
      return;
    }
  title = g_strdup_printf (_("%s is downloaded"), game != NULL ? lsp_lan_game_get_name (game) : id);
  notify_done (self, id, title);
  if (!g_settings_get_boolean (self->settings, "install-after-download"))
    return;
  local = lsp_library_lookup (lsp_engine_get_library (self->engine), id);
  if (local != NULL && lsp_local_game_get_installed (local))
    lsp_installer_update_async (lsp_engine_get_installer (self->engine), id, NULL, on_update_done, g_object_ref (self));
  else
    lsp_installer_install_async (lsp_engine_get_installer (self->engine), id, NULL, on_install_done, g_object_ref (self));
}

static void
on_operation_finished (LspInstaller *installer,
                       LspOperation *operation,
                       const GError *error,
                       LspWindow    *self)
{
  const char *id = lsp_operation_get_game_id (operation);
  LspLanGame *game = lsp_lan_library_lookup (self->lan, id);
  g_autofree char *title = NULL;

  if (error != NULL || lsp_operation_get_kind (operation) == LSP_OPERATION_UNINSTALL)
    return;
  title = g_strdup_printf (_("%s is installed"), game != NULL ? lsp_lan_game_get_name (game) : id);
  notify_done (self, id, title);
}

static void
on_lan_created (LspEngine  *engine,
                GParamSpec *pspec,
                LspWindow  *self)
{
  self->node = lsp_engine_get_node (engine);
  self->lan = lsp_engine_get_lan_library (engine);
  {
    g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();
    GtkExpression *name = gtk_property_expression_new (LSP_TYPE_LAN_GAME, NULL, "name");
    GtkSorter *sorter = GTK_SORTER (gtk_string_sorter_new (name));
    GtkFilterListModel *filtered;
    GtkSortListModel *sorted;
    g_autoptr(GtkNoSelection) selection = NULL;

    /* Search and the filter narrow the model; no widget is rebuilt. */
    self->filter = gtk_custom_filter_new (filter_game, self, NULL);
    filtered = gtk_filter_list_model_new (g_object_ref (G_LIST_MODEL (self->lan)), g_object_ref (GTK_FILTER (self->filter)));
    sorted = gtk_sort_list_model_new (G_LIST_MODEL (filtered), sorter);
    selection = gtk_no_selection_new (G_LIST_MODEL (sorted));
    /* A game's state changes with our library, the downloads and the
     * peers' libraries; the filter is asked again then. */
    g_signal_connect_object (lsp_engine_get_downloads (self->engine), "items-changed",
                             G_CALLBACK (refilter), self, G_CONNECT_SWAPPED);
    g_signal_connect_object (lsp_engine_get_library (self->engine), "changed",
                             G_CALLBACK (refilter), self, G_CONNECT_SWAPPED);
    g_signal_connect_object (self->node, "items-changed", G_CALLBACK (refilter), self, G_CONNECT_SWAPPED);

    g_signal_connect_object (factory, "setup", G_CALLBACK (setup_card), self, 0);
    g_signal_connect_object (factory, "bind", G_CALLBACK (bind_card), self, 0);
    g_signal_connect_object (factory, "unbind", G_CALLBACK (unbind_card), self, 0);
    gtk_grid_view_set_factory (self->games_grid, factory);
    gtk_grid_view_set_model (self->games_grid, GTK_SELECTION_MODEL (selection));
  }
  g_signal_connect_object (self->lan, "items-changed", G_CALLBACK (on_items_changed), self, 0);
  g_signal_connect_object (self->node, "items-changed", G_CALLBACK (on_peers_changed), self, 0);
  g_signal_connect_object (self->node, "unauthorized", G_CALLBACK (on_unauthorized), self, 0);
  g_signal_connect_object (self->node, "peer-key-changed", G_CALLBACK (on_peer_key_changed), self, 0);
  gtk_list_box_bind_model (self->players_list, G_LIST_MODEL (self->node), create_player_row, self, NULL);
  g_signal_connect_object (lsp_engine_get_downloads (engine), "download-finished",
                           G_CALLBACK (on_download_finished), self, 0);
  g_signal_connect_object (lsp_engine_get_installer (engine), "operation-finished",
                           G_CALLBACK (on_operation_finished), self, 0);
  g_signal_connect_object (self->settings, "changed", G_CALLBACK (apply_settings), self, G_CONNECT_SWAPPED);
  update_players (self);
}

static void
on_engine_started (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(LspWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  LspDiscovery *discovery;

  if (!lsp_engine_start_finish (self->engine, result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      if (g_error_matches (error, LSP_ENGINE_ERROR, LSP_ENGINE_ERROR_NETWORK))
        adw_toast_overlay_add_toast (self->toasts, adw_toast_new (error->message));
      else
        {
          adw_status_page_set_title (self->status_page,
                                     g_error_matches (error, LSP_ENGINE_ERROR, LSP_ENGINE_ERROR_CATALOG)
                                       ? _("Cannot Read the Game Catalog")
                                       : _("Cannot Read the Games Folder"));
          adw_status_page_set_description (self->status_page, error->message);
          /* The first start, or a folder that moved: offer to pick one. */
          gtk_widget_set_visible (GTK_WIDGET (self->choose_folder_button), TRUE);
          return;
        }
    }

  discovery = self->node != NULL ? lsp_node_get_discovery (self->node) : NULL;
  if (discovery != NULL)
    {
      g_signal_connect_object (discovery, "notify::available", G_CALLBACK (on_discovery_available), self, 0);
      on_discovery_available (discovery, NULL, self);
    }
  update_view (self);
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

/* A card's background opens its details; its buttons act at once. */
static void
on_game_activated (GtkGridView *grid,
                   guint        position,
                   LspWindow   *self)
{
  g_autoptr(LspLanGame) game = g_list_model_get_item (G_LIST_MODEL (gtk_grid_view_get_model (grid)), position);

  if (game == NULL)
    return;
  lsp_game_details_show (LSP_GAME_DETAILS (self->details), self->engine, game);
  gtk_stack_set_visible_child_name (self->stack, "details");
  gtk_widget_set_visible (GTK_WIDGET (self->back_button), TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->search_button), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->filter_dropdown), FALSE);
}

static void
back_activated (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  LspWindow *self = LSP_WINDOW (widget);

  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->stack), "details") != 0)
    return;
  lsp_game_details_clear (LSP_GAME_DETAILS (self->details));
  gtk_widget_set_visible (GTK_WIDGET (self->back_button), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->search_button), TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->filter_dropdown), TRUE);
  update_view (self);
}

static void
on_folder_chosen (GtkNativeDialog *dialog,
                  int              response,
                  LspWindow       *self)
{
  g_autoptr(GFile) folder = NULL;
  g_autofree char *path = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
  g_clear_object (&self->chooser);
  if (folder == NULL || (path = g_file_get_path (folder)) == NULL)
    return;
  /* The folder is the setting; the app starts over on it. */
  g_settings_set_string (self->settings, "games-folder", path);
  g_action_group_activate_action (G_ACTION_GROUP (gtk_window_get_application (GTK_WINDOW (self))), "reopen", NULL);
}

static void
choose_folder_activated (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *parameter)
{
  LspWindow *self = LSP_WINDOW (widget);

  self->chooser = gtk_file_chooser_native_new (_("Choose the Games Folder"), GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Choose"), _("_Cancel"));
  g_signal_connect (self->chooser, "response", G_CALLBACK (on_folder_chosen), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
search_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  LspWindow *self = LSP_WINDOW (widget);

  gtk_search_bar_set_search_mode (self->search_bar, TRUE);
  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

static void
toast_activated (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  LspWindow *self = LSP_WINDOW (widget);

  adw_toast_overlay_add_toast (self->toasts, adw_toast_new (g_variant_get_string (parameter, NULL)));
}

static void
lsp_window_dispose (GObject *object)
{
  LspWindow *self = LSP_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  /* The cards let go of the engine first, and nothing of it calls back
   * into a window going away. */
  gtk_grid_view_set_model (self->games_grid, NULL);
  if (self->details != NULL)
    lsp_game_details_clear (LSP_GAME_DETAILS (self->details));
  gtk_list_box_bind_model (self->players_list, NULL, NULL, NULL, NULL);
  if (self->engine != NULL)
    g_signal_handlers_disconnect_by_data (self->engine, self);
  if (self->node != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->node, self);
      if (lsp_node_get_discovery (self->node) != NULL)
        g_signal_handlers_disconnect_by_data (lsp_node_get_discovery (self->node), self);
    }
  if (self->lan != NULL)
    g_signal_handlers_disconnect_by_data (self->lan, self);
  self->lan = NULL;
  self->node = NULL;
  self->library = NULL;
  g_clear_object (&self->engine);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->filter);
  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->settings);

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
  gtk_widget_class_bind_template_child (widget_class, LspWindow, games_grid);
  gtk_widget_class_bind_template_child (widget_class, LspWindow, search_bar);
  gtk_widget_class_bind_template_child (widget_class, LspWindow, back_button);
  gtk_widget_class_bind_template_child (widget_class, LspWindow, choose_folder_button);
  gtk_widget_class_install_action (widget_class, "win.choose-folder", NULL, choose_folder_activated);
  gtk_widget_class_bind_template_child (widget_class, LspWindow, search_button);
  gtk_widget_class_install_action (widget_class, "win.back", NULL, back_activated);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Left, GDK_ALT_MASK, "win.back", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "win.back", NULL);
  gtk_widget_class_bind_template_child (widget_class, LspWindow, players_button);
  gtk_widget_class_bind_template_child (widget_class, LspWindow, players_count);
  gtk_widget_class_bind_template_child (widget_class, LspWindow, players_stack);
  gtk_widget_class_bind_template_child (widget_class, LspWindow, players_list);
  gtk_widget_class_bind_template_child (widget_class, LspWindow, search_entry);
  gtk_widget_class_bind_template_child (widget_class, LspWindow, filter_dropdown);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK, "win.search", NULL);
  gtk_widget_class_install_action (widget_class, "win.search", NULL, search_activated);

  gtk_widget_class_install_action (widget_class, "win.toast", "s", toast_activated);
  gtk_widget_class_install_action (widget_class, "win.trust-peer", "s", trust_peer_activated);
  gtk_widget_class_bind_template_child (widget_class, LspWindow, scan_spinner);
  gtk_widget_class_bind_template_child (widget_class, LspWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, LspWindow, toasts);
}

static void
lsp_window_init (LspWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_search_bar_set_key_capture_widget (self->search_bar, GTK_WIDGET (self));
  self->details = lsp_game_details_new ();
  gtk_stack_add_named (self->stack, self->details, "details");
  g_signal_connect (self->games_grid, "activate", G_CALLBACK (on_game_activated), self);
  gtk_search_bar_connect_entry (self->search_bar, GTK_EDITABLE (self->search_entry));
  g_signal_connect_swapped (self->search_entry, "search-changed", G_CALLBACK (refilter), self);
  g_signal_connect_swapped (self->filter_dropdown, "notify::selected", G_CALLBACK (refilter), self);
  self->cancellable = g_cancellable_new ();
}

LspWindow *
lsp_window_new (LspApplication *application,
                GFile          *games_dir,
                GFile          *catalog_file)
{
  g_autofree char *state_dir = NULL;
  g_autofree char *passphrase_file = NULL;
  g_autofree char *listen_address = NULL;
  g_autofree char *name = NULL;
  g_auto(GStrv) peers = NULL;
  LspEngineConfig config = { 0 };
  LspWindow *self;

  g_return_val_if_fail (LSP_IS_APPLICATION (application), NULL);

  self = g_object_new (LSP_TYPE_WINDOW, "application", application, NULL);
  show_folder_hint (self, games_dir);

  state_dir = lsp_application_dup_state_dir (application);
  peers = lsp_application_dup_peers (application);
  config.games_dir = games_dir;
  config.catalog_file = catalog_file;
  config.state_dir = state_dir;
  config.port = lsp_application_get_port (application);
  config.static_peers = (const char * const *) peers;
  config.use_mdns = lsp_application_get_use_mdns (application);
  self->settings = g_object_ref (lsp_application_get_settings (application));
  name = g_settings_get_string (self->settings, "display-name");
  config.hostname = name[0] != '\0' ? name : NULL;
  config.max_downloads = g_settings_get_uint (self->settings, "max-downloads");
  config.download_rate = (guint64) (g_settings_get_double (self->settings, "download-rate") * 1e6);
  config.upload_rate = (guint64) (g_settings_get_double (self->settings, "upload-rate") * 1e6);
  listen_address = g_settings_get_string (self->settings, "listen-address");
  config.listen_address = listen_address[0] != '\0' ? listen_address : NULL;
  passphrase_file = lsp_application_dup_passphrase_file (application);
  config.passphrase_file = passphrase_file;
  self->engine = lsp_engine_new (&config);
  g_signal_connect_object (self->engine, "warning", G_CALLBACK (on_engine_warning), self, 0);
  g_signal_connect_object (self->engine, "notify::library", G_CALLBACK (on_library_created), self, 0);
  g_signal_connect_object (self->engine, "notify::lan-library", G_CALLBACK (on_lan_created), self, 0);
  lsp_engine_start_async (self->engine, self->cancellable, on_engine_started, g_object_ref (self));

  return self;
}

LspNode *
lsp_window_get_node (LspWindow *self)
{
  g_return_val_if_fail (LSP_IS_WINDOW (self), NULL);
  return self->node;
}

LspLibrary *
lsp_window_get_library (LspWindow *self)
{
  g_return_val_if_fail (LSP_IS_WINDOW (self), NULL);
  return self->library;
}

/* NULL until the engine has joined the LAN. */
LspChunkServer *
lsp_window_get_chunk_server (LspWindow *self)
{
  g_return_val_if_fail (LSP_IS_WINDOW (self), NULL);
  return self->engine != NULL ? lsp_engine_get_chunk_server (self->engine) : NULL;
}
