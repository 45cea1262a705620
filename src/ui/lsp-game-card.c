#define G_LOG_DOMAIN "lsp-game-card"

#include "config.h"

#include "lsp-game-card.h"

#include "lsp-game-root.h"
#include "lsp-update-estimate.h"

#include <glib/gi18n.h>

/* The card shows one game and offers the one action its state calls for:
 * Download → (progress, Cancel) → Install → Play (→ Stop), Update when a
 * newer version is downloaded or on the LAN. Everything it shows comes
 * from engine signals; it never touches the disk or the network. */

typedef enum {
  CARD_ACTION_NONE,
  CARD_ACTION_DOWNLOAD,
  CARD_ACTION_DOWNLOAD_UPDATE,
  CARD_ACTION_INSTALL,
  CARD_ACTION_UPDATE,
  CARD_ACTION_PLAY,
  CARD_ACTION_STOP,
} CardAction;

struct _LspGameCard
{
  GtkWidget       parent_instance;

  GtkWidget      *box;
  AdwAvatar      *cover;
  GtkLabel       *name_label;
  GtkLabel       *status_label;
  GtkProgressBar *progress;
  GtkButton      *primary_button;
  GtkButton      *cancel_button;
  GtkMenuButton  *menu_button;

  LspEngine      *engine;
  LspLanGame     *game;
  LspDownload    *download;    /* the game's, while one runs */
  LspOperation   *operation;   /* the game's install/update/uninstall, while one runs */
  CardAction      action;
  GCancellable   *cover_cancellable;
  GCancellable   *estimate_cancellable;
  char           *estimate_asked;   /* the newest version whose delta was asked for */
  char           *delta_version;    /* the version delta_bytes is for */
  guint64         delta_bytes;      /* what updating to it fetches, from the manifests */
};

G_DEFINE_FINAL_TYPE (LspGameCard, lsp_game_card, GTK_TYPE_WIDGET)

static void update_card (LspGameCard *self);

static void
toast (LspGameCard *self,
       const char  *message)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "win.toast", "s", message);
}

static char *
describe_download (LspDownload *download)
{
  guint64 total = lsp_download_get_bytes_total (download);
  guint percent = total > 0 ? (guint) (lsp_download_get_bytes_done (download) * 100 / total) : 0;
  g_autofree char *rate = g_format_size (lsp_download_get_rate (download));
  gint64 eta = lsp_download_get_eta (download);

  if (lsp_download_get_repair (download) && lsp_download_get_phase (download) <= LSP_DOWNLOAD_PLANNING)
    return g_strdup (_("Checking files…"));
  switch (lsp_download_get_phase (download))
    {
    case LSP_DOWNLOAD_QUEUED:
      return g_strdup (_("Waiting for other downloads"));
    case LSP_DOWNLOAD_PLANNING:
    case LSP_DOWNLOAD_CONNECTING:
      return g_strdup (_("Starting download…"));
    case LSP_DOWNLOAD_WAITING:
      return g_strdup (_("Waiting for a player who has it"));
    case LSP_DOWNLOAD_VERIFYING:
      return g_strdup (_("Finishing…"));
    case LSP_DOWNLOAD_TRANSFERRING:
    default:
      if (eta >= 0)
        /* Translators: percent done, speed (like "110 MB"), seconds left */
        return g_strdup_printf (_("%u%% · %s/s · %u s left"), percent, rate, (guint) MIN (eta, G_MAXUINT));
      return g_strdup_printf (_("%u%% · %s/s"), percent, rate);
    }
}

static char *
describe_game (LspGameCard *self,
               CardAction   action)
{
  LspLanGame *game = self->game;
  g_autofree char *size = g_format_size (lsp_lan_game_get_size (game));
  const char *local = lsp_lan_game_get_local_version (game);
  const char *newest = lsp_lan_game_get_newest_version (game);
  guint n_sources = lsp_lan_game_get_n_sources (game);
  LspLocalGame *here = lsp_library_lookup (lsp_engine_get_library (self->engine), lsp_lan_game_get_id (game));
  gboolean damaged = here != NULL && lsp_local_game_get_damaged (here);

  switch (action)
    {
    case CARD_ACTION_STOP:
      return g_strdup (_("Running"));
    case CARD_ACTION_UPDATE:
    case CARD_ACTION_DOWNLOAD_UPDATE:
      return g_strdup_printf (_("Version %s · %s available"), local != NULL ? local : "?", newest);
    case CARD_ACTION_PLAY:
      if (damaged)
        return g_strdup (_("Damaged files · repair them from the menu"));
      return local != NULL ? g_strdup_printf (_("Installed · Version %s"), local) : g_strdup (_("Installed"));
    case CARD_ACTION_INSTALL:
      if (damaged)
        return g_strdup (_("Damaged files · repair them from the menu"));
      return g_strdup_printf (_("Downloaded · Version %s · %s"), local != NULL ? local : "?", size);
    case CARD_ACTION_DOWNLOAD:
    case CARD_ACTION_NONE:
    default:
      if (n_sources == 0)
        return g_strdup (_("No player can share it right now"));
      return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Version %s · %s · %u player",
                                           "Version %s · %s · %u players", n_sources),
                              newest, size, n_sources);
    }
}

/* What the game's state calls for, when no download or operation runs. */
static CardAction
choose_action (LspGameCard *self)
{
  const char *id = lsp_lan_game_get_id (self->game);
  LspLocalGame *local = lsp_library_lookup (lsp_engine_get_library (self->engine), id);
  const char *downloaded = local != NULL ? lsp_local_game_get_version (local) : NULL;
  const char *installed = local != NULL ? lsp_local_game_get_installed_version (local) : NULL;

  if (lsp_launcher_is_running (lsp_engine_get_launcher (self->engine), id))
    return CARD_ACTION_STOP;
  switch (lsp_lan_game_get_state (self->game))
    {
    case LSP_LAN_GAME_INSTALLED:
      if (downloaded != NULL && installed != NULL && lsp_local_game_get_downloaded (local) &&
          lsp_version_compare (downloaded, installed) > 0)
        return CARD_ACTION_UPDATE;
      if (lsp_lan_game_get_update_available (self->game) && lsp_lan_game_get_n_sources (self->game) > 0)
        return CARD_ACTION_DOWNLOAD_UPDATE;
      return CARD_ACTION_PLAY;
    case LSP_LAN_GAME_DOWNLOADED:
      if (lsp_lan_game_get_update_available (self->game) && lsp_lan_game_get_n_sources (self->game) > 0)
        return CARD_ACTION_DOWNLOAD_UPDATE;
      return CARD_ACTION_INSTALL;
    case LSP_LAN_GAME_REMOTE:
    default:
      return lsp_lan_game_get_n_sources (self->game) > 0 ? CARD_ACTION_DOWNLOAD : CARD_ACTION_NONE;
    }
}

static const char *
action_label (CardAction action)
{
  switch (action)
    {
    case CARD_ACTION_DOWNLOAD:
      return _("_Download");
    case CARD_ACTION_DOWNLOAD_UPDATE:
    case CARD_ACTION_UPDATE:
      return _("_Update");
    case CARD_ACTION_INSTALL:
      return _("_Install");
    case CARD_ACTION_PLAY:
      return _("_Play");
    case CARD_ACTION_STOP:
      return _("_Stop");
    case CARD_ACTION_NONE:
    default:
      return _("_Download");
    }
}

static void
set_download (LspGameCard *self,
              LspDownload *download)
{
  if (self->download == download)
    return;
  if (self->download != NULL)
    g_signal_handlers_disconnect_by_data (self->download, self);
  g_set_object (&self->download, download);
  if (download != NULL)
    g_signal_connect_object (download, "notify", G_CALLBACK (update_card), self, G_CONNECT_SWAPPED);
}

static void
set_operation (LspGameCard  *self,
               LspOperation *operation)
{
  if (self->operation == operation)
    return;
  if (self->operation != NULL)
    g_signal_handlers_disconnect_by_data (self->operation, self);
  g_set_object (&self->operation, operation);
  if (operation != NULL)
    g_signal_connect_object (operation, "notify", G_CALLBACK (update_card), self, G_CONNECT_SWAPPED);
}

static void
on_estimated (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(LspGameCard) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *version = NULL;
  guint64 bytes = 0;

  if (!lsp_update_estimate_finish (result, &version, &bytes, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_debug ("No update size: %s", error->message);
          g_clear_object (&self->estimate_cancellable);
        }
      return;
    }
  g_clear_object (&self->estimate_cancellable);
  g_free (self->delta_version);
  self->delta_version = g_steal_pointer (&version);
  self->delta_bytes = bytes;
  update_card (self);
}

/* Asks once per newest version what an update to it would fetch, for the
 * button to say. */
static void
estimate_update (LspGameCard *self)
{
  const char *newest = lsp_lan_game_get_newest_version (self->game);
  LspNode *node = lsp_engine_get_node (self->engine);

  if (node == NULL || self->estimate_cancellable != NULL || g_strcmp0 (self->estimate_asked, newest) == 0)
    return;
  g_free (self->estimate_asked);
  self->estimate_asked = g_strdup (newest);
  self->estimate_cancellable = g_cancellable_new ();
  lsp_update_estimate_async (node, lsp_engine_get_library (self->engine), lsp_lan_game_get_id (self->game),
                             self->estimate_cancellable, on_estimated, g_object_ref (self));
}

static void
update_card (LspGameCard *self)
{
  const char *id;
  g_autofree char *status = NULL;
  g_autofree char *name_label = NULL;
  g_autoptr(GString) verb = NULL;
  gboolean busy = FALSE;

  if (self->game == NULL || self->engine == NULL)
    return;
  id = lsp_lan_game_get_id (self->game);
  set_download (self, lsp_download_manager_lookup (lsp_engine_get_downloads (self->engine), id));
  set_operation (self, lsp_installer_lookup_operation (lsp_engine_get_installer (self->engine), id));
  if (self->operation != NULL && !lsp_operation_get_active (self->operation))
    set_operation (self, NULL);

  gtk_label_set_label (self->name_label, lsp_lan_game_get_name (self->game));
  adw_avatar_set_text (self->cover, lsp_lan_game_get_name (self->game));

  if (self->download != NULL)
    {
      guint64 total = lsp_download_get_bytes_total (self->download);

      busy = TRUE;
      status = describe_download (self->download);
      gtk_progress_bar_set_fraction (self->progress,
                                     total > 0 ? (double) lsp_download_get_bytes_done (self->download) / total : 0);
    }
  else if (self->operation != NULL)
    {
      guint64 total = lsp_operation_get_bytes_total (self->operation);

      busy = TRUE;
      switch (lsp_operation_get_kind (self->operation))
        {
        case LSP_OPERATION_INSTALL:
          status = g_strdup (_("Installing…"));
          break;
        case LSP_OPERATION_UPDATE:
          status = g_strdup (_("Updating…"));
          break;
        case LSP_OPERATION_VERIFY:
          status = g_strdup (_("Checking files…"));
          break;
        case LSP_OPERATION_REPAIR:
          status = g_strdup (_("Repairing files…"));
          break;
        case LSP_OPERATION_UNINSTALL:
        default:
          status = g_strdup (_("Uninstalling…"));
          break;
        }
      if (total > 0)
        gtk_progress_bar_set_fraction (self->progress, (double) lsp_operation_get_bytes_done (self->operation) / total);
      else
        gtk_progress_bar_pulse (self->progress);
    }
  else
    {
      self->action = choose_action (self);
      status = describe_game (self, self->action);
      if (self->action == CARD_ACTION_DOWNLOAD_UPDATE)
        estimate_update (self);
      if (self->action == CARD_ACTION_DOWNLOAD_UPDATE &&
          g_strcmp0 (self->delta_version, lsp_lan_game_get_newest_version (self->game)) == 0)
        {
          g_autofree char *size = g_format_size (self->delta_bytes);
          g_autofree char *label = g_strdup_printf (_("_Update (%s to download)"), size);

          gtk_button_set_label (self->primary_button, label);
        }
      else
        gtk_button_set_label (self->primary_button, action_label (self->action));
      gtk_button_set_use_underline (self->primary_button, TRUE);
    }

  gtk_label_set_label (self->status_label, status);
  gtk_widget_set_visible (GTK_WIDGET (self->progress), busy);
  gtk_widget_set_visible (GTK_WIDGET (self->primary_button), !busy);
  gtk_widget_set_visible (GTK_WIDGET (self->cancel_button), self->download != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "card.primary", !busy && self->action != CARD_ACTION_NONE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "card.cancel", self->download != NULL);
  {
    LspLocalGame *local = lsp_library_lookup (lsp_engine_get_library (self->engine), id);
    gboolean here = local != NULL && (lsp_local_game_get_downloaded (local) || lsp_local_game_get_installed (local));
    gboolean running = lsp_launcher_is_running (lsp_engine_get_launcher (self->engine), id);

    LspVerifyReport *report = lsp_installer_lookup_report (lsp_engine_get_installer (self->engine), id);
    gboolean damaged = (local != NULL && lsp_local_game_get_damaged (local)) ||
                       (report != NULL && report->installed == LSP_VERIFY_DAMAGED);

    gtk_widget_action_set_enabled (GTK_WIDGET (self), "card.open-folder", here);
    gtk_widget_action_set_enabled (GTK_WIDGET (self), "card.verify", !busy && here);
    gtk_widget_action_set_enabled (GTK_WIDGET (self), "card.repair", !busy && !running && damaged);
    gtk_widget_action_set_enabled (GTK_WIDGET (self), "card.uninstall",
                                   !busy && !running && local != NULL && lsp_local_game_get_installed (local));
    gtk_widget_action_set_enabled (GTK_WIDGET (self), "card.remove-files",
                                   !busy && local != NULL && lsp_local_game_get_downloaded (local) &&
                                   !lsp_local_game_get_installed (local));
    gtk_widget_set_visible (GTK_WIDGET (self->menu_button), here);
  }

  /* Screen readers hear which game a button acts on, and the verb without
   * its mnemonic underscore. */
  verb = g_string_new (gtk_button_get_label (self->primary_button));
  g_string_replace (verb, "_", "", 1);
  name_label = g_strdup_printf ("%s %s", verb->str, lsp_lan_game_get_name (self->game));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->primary_button),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, name_label, -1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->cover),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, lsp_lan_game_get_name (self->game), -1);
  {
    g_autofree char *more = g_strdup_printf (_("More actions for %s"), lsp_lan_game_get_name (self->game));
    gtk_accessible_update_property (GTK_ACCESSIBLE (self->menu_button), GTK_ACCESSIBLE_PROPERTY_LABEL, more, -1);
  }
}

static void
on_installed (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(LspGameCard) self = user_data;
  g_autoptr(GError) error = NULL;
  LspInstaller *installer = LSP_INSTALLER (object);

  if (!lsp_installer_install_finish (installer, result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    toast (self, error->message);
  update_card (self);
}

static void
on_updated (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(LspGameCard) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!lsp_installer_update_finish (LSP_INSTALLER (object), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    toast (self, error->message);
  update_card (self);
}

static void
primary_activated (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  LspGameCard *self = LSP_GAME_CARD (widget);
  g_autoptr(GError) error = NULL;
  const char *id;

  if (self->game == NULL || self->engine == NULL)
    return;
  id = lsp_lan_game_get_id (self->game);
  switch (self->action)
    {
    case CARD_ACTION_DOWNLOAD:
    case CARD_ACTION_DOWNLOAD_UPDATE:
      lsp_download_manager_start (lsp_engine_get_downloads (self->engine), id, &error);
      break;
    case CARD_ACTION_INSTALL:
      lsp_installer_install_async (lsp_engine_get_installer (self->engine), id, NULL, on_installed, g_object_ref (self));
      break;
    case CARD_ACTION_UPDATE:
      lsp_installer_update_async (lsp_engine_get_installer (self->engine), id, NULL, on_updated, g_object_ref (self));
      break;
    case CARD_ACTION_PLAY:
      lsp_launcher_play (lsp_engine_get_launcher (self->engine), id, &error);
      break;
    case CARD_ACTION_STOP:
      lsp_launcher_stop (lsp_engine_get_launcher (self->engine), id, &error);
      break;
    case CARD_ACTION_NONE:
    default:
      break;
    }
  if (error != NULL)
    toast (self, error->message);
  update_card (self);
}

static void
on_uninstalled (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(LspGameCard) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!lsp_installer_uninstall_finish (LSP_INSTALLER (object), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    toast (self, error->message);
  update_card (self);
}

static void
on_verified (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(LspGameCard) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(LspVerifyReport) report = lsp_installer_verify_finish (LSP_INSTALLER (object), result, &error);

  if (report == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    toast (self, error->message);
  update_card (self);
}

static void
on_repaired (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(LspGameCard) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(LspVerifyReport) report = lsp_engine_repair_finish (LSP_ENGINE (object), result, NULL, NULL, &error);

  if (report == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    toast (self, error->message);
  update_card (self);
}

static void
verify_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  LspGameCard *self = LSP_GAME_CARD (widget);

  lsp_installer_verify_async (lsp_engine_get_installer (self->engine), lsp_lan_game_get_id (self->game), NULL,
                              on_verified, g_object_ref (self));
  update_card (self);
}

static void
repair_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  LspGameCard *self = LSP_GAME_CARD (widget);

  lsp_engine_repair_async (self->engine, lsp_lan_game_get_id (self->game), NULL, on_repaired, g_object_ref (self));
  update_card (self);
}

static void
on_removed (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(LspGameCard) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!lsp_download_manager_remove_finish (LSP_DOWNLOAD_MANAGER (object), result, &error))
    toast (self, error->message);
  update_card (self);
}

static void
on_confirmed (AdwMessageDialog *dialog,
              const char       *response,
              LspGameCard      *self)
{
  const char *action = g_object_get_data (G_OBJECT (dialog), "lsp-action");
  const char *id;

  if (g_strcmp0 (response, "confirm") != 0 || self->game == NULL || self->engine == NULL)
    return;
  id = lsp_lan_game_get_id (self->game);
  if (g_str_equal (action, "uninstall"))
    lsp_installer_uninstall_async (lsp_engine_get_installer (self->engine), id, NULL,
                                   on_uninstalled, g_object_ref (self));
  else
    lsp_download_manager_remove_async (lsp_engine_get_downloads (self->engine), id, NULL,
                                       on_removed, g_object_ref (self));
}

/* Destructive actions ask first. */
static void
confirm (LspGameCard *self,
         const char  *action,
         const char  *heading,
         const char  *body,
         const char  *verb)
{
  GtkWindow *window = GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self)));
  AdwMessageDialog *dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (window, heading, body));

  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "confirm", verb, NULL);
  adw_message_dialog_set_response_appearance (dialog, "confirm", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "lsp-action", g_strdup (action), g_free);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_confirmed), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
uninstall_activated (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  LspGameCard *self = LSP_GAME_CARD (widget);
  g_autofree char *heading = g_strdup_printf (_("Uninstall %s?"), lsp_lan_game_get_name (self->game));

  confirm (self, "uninstall", heading,
           _("The installed game and everything in its folder, saved games included, are removed. "
             "Its downloaded files stay, so it can be installed again."),
           _("_Uninstall"));
}

static void
remove_files_activated (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  LspGameCard *self = LSP_GAME_CARD (widget);
  g_autofree char *heading = g_strdup_printf (_("Remove the files of %s?"), lsp_lan_game_get_name (self->game));

  confirm (self, "remove-files", heading,
           _("The downloaded game is deleted from this computer. You can download it again from "
             "a player who has it."),
           _("_Remove Files"));
}

static void
open_folder_activated (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  LspGameCard *self = LSP_GAME_CARD (widget);
  g_autoptr(GFile) folder = g_file_get_child (lsp_library_get_games_dir (lsp_engine_get_library (self->engine)),
                                              lsp_lan_game_get_id (self->game));
  g_autofree char *uri = g_file_get_uri (folder);

  gtk_show_uri (GTK_WINDOW (gtk_widget_get_root (widget)), uri, GDK_CURRENT_TIME);
}

static void
cancel_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  LspGameCard *self = LSP_GAME_CARD (widget);
  g_autoptr(GError) error = NULL;

  if (self->game == NULL || self->engine == NULL)
    return;
  if (!lsp_download_manager_cancel (lsp_engine_get_downloads (self->engine), lsp_lan_game_get_id (self->game), &error))
    toast (self, error->message);
}

static void
on_engine_changed (LspGameCard *self)
{
  update_card (self);
}

static void
cover_worker (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  GError *error = NULL;
  GdkTexture *texture = gdk_texture_new_from_file (task_data, &error);

  if (texture == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, texture, g_object_unref);
}

static void
on_cover_loaded (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(LspGameCard) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) texture = g_task_propagate_pointer (G_TASK (result), &error);

  if (texture != NULL)
    adw_avatar_set_custom_image (self->cover, GDK_PAINTABLE (texture));
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("No cover: %s", error->message);
}

/* The catalog's cover, read and decoded off the main loop; until then,
 * and without one, the initials on a colour of the game's own. */
static void
load_cover (LspGameCard *self)
{
  LspCatalog *catalog = lsp_library_get_catalog (lsp_engine_get_library (self->engine));
  const LspCatalogEntry *entry = lsp_catalog_lookup (catalog, lsp_lan_game_get_id (self->game));
  g_autoptr(GFile) folder = NULL;
  g_autoptr(GTask) task = NULL;

  adw_avatar_set_custom_image (self->cover, NULL);
  if (entry == NULL || entry->cover == NULL || lsp_catalog_get_file (catalog) == NULL)
    return;
  folder = g_file_get_parent (lsp_catalog_get_file (catalog));
  self->cover_cancellable = g_cancellable_new ();
  task = g_task_new (NULL, self->cover_cancellable, on_cover_loaded, g_object_ref (self));
  g_task_set_source_tag (task, load_cover);
  g_task_set_task_data (task, g_file_get_child (folder, entry->cover), g_object_unref);
  g_task_run_in_thread (task, cover_worker);
}

void
lsp_game_card_bind (LspGameCard *self,
                    LspEngine   *engine,
                    LspLanGame  *game)
{
  g_return_if_fail (LSP_IS_GAME_CARD (self));
  g_return_if_fail (LSP_IS_ENGINE (engine));
  g_return_if_fail (LSP_IS_LAN_GAME (game));

  lsp_game_card_unbind (self);
  self->engine = g_object_ref (engine);
  self->game = g_object_ref (game);
  g_signal_connect_object (game, "notify", G_CALLBACK (on_engine_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (lsp_engine_get_downloads (engine), "items-changed",
                           G_CALLBACK (on_engine_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (lsp_engine_get_installer (engine), "operation-started",
                           G_CALLBACK (on_engine_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (lsp_engine_get_installer (engine), "operation-finished",
                           G_CALLBACK (on_engine_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (lsp_engine_get_launcher (engine), "started",
                           G_CALLBACK (on_engine_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (lsp_engine_get_launcher (engine), "exited",
                           G_CALLBACK (on_engine_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (lsp_engine_get_library (engine), "changed",
                           G_CALLBACK (on_engine_changed), self, G_CONNECT_SWAPPED);
  update_card (self);
  load_cover (self);
}

void
lsp_game_card_unbind (LspGameCard *self)
{
  g_return_if_fail (LSP_IS_GAME_CARD (self));

  g_cancellable_cancel (self->cover_cancellable);
  g_clear_object (&self->cover_cancellable);
  g_cancellable_cancel (self->estimate_cancellable);
  g_clear_object (&self->estimate_cancellable);
  g_clear_pointer (&self->estimate_asked, g_free);
  g_clear_pointer (&self->delta_version, g_free);
  set_download (self, NULL);
  set_operation (self, NULL);
  if (self->engine != NULL)
    {
      g_signal_handlers_disconnect_by_data (lsp_engine_get_downloads (self->engine), self);
      g_signal_handlers_disconnect_by_data (lsp_engine_get_installer (self->engine), self);
      g_signal_handlers_disconnect_by_data (lsp_engine_get_launcher (self->engine), self);
      g_signal_handlers_disconnect_by_data (lsp_engine_get_library (self->engine), self);
    }
  if (self->game != NULL)
    g_signal_handlers_disconnect_by_data (self->game, self);
  g_clear_object (&self->engine);
  g_clear_object (&self->game);
}

LspLanGame *
lsp_game_card_get_game (LspGameCard *self)
{
  g_return_val_if_fail (LSP_IS_GAME_CARD (self), NULL);
  return self->game;
}

/* What the card says of the game, as shown. */
const char *
lsp_game_card_get_status (LspGameCard *self)
{
  g_return_val_if_fail (LSP_IS_GAME_CARD (self), NULL);
  return gtk_label_get_label (self->status_label);
}

/* The main button's label while it is shown, else NULL. */
const char *
lsp_game_card_get_action_label (LspGameCard *self)
{
  g_return_val_if_fail (LSP_IS_GAME_CARD (self), NULL);
  if (!gtk_widget_get_visible (GTK_WIDGET (self->primary_button)) ||
      !gtk_widget_is_sensitive (GTK_WIDGET (self->primary_button)))
    return NULL;
  return gtk_button_get_label (self->primary_button);
}

static void
lsp_game_card_dispose (GObject *object)
{
  LspGameCard *self = LSP_GAME_CARD (object);

  lsp_game_card_unbind (self);
  gtk_widget_dispose_template (GTK_WIDGET (self), LSP_TYPE_GAME_CARD);

  G_OBJECT_CLASS (lsp_game_card_parent_class)->dispose (object);
}

static void
lsp_game_card_class_init (LspGameCardClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = lsp_game_card_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/org/lanspread/Lanspread/lsp-game-card.ui");
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "gamecard");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
  gtk_widget_class_bind_template_child (widget_class, LspGameCard, box);
  gtk_widget_class_bind_template_child (widget_class, LspGameCard, cover);
  gtk_widget_class_bind_template_child (widget_class, LspGameCard, name_label);
  gtk_widget_class_bind_template_child (widget_class, LspGameCard, status_label);
  gtk_widget_class_bind_template_child (widget_class, LspGameCard, progress);
  gtk_widget_class_bind_template_child (widget_class, LspGameCard, primary_button);
  gtk_widget_class_bind_template_child (widget_class, LspGameCard, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, LspGameCard, menu_button);

  gtk_widget_class_install_action (widget_class, "card.primary", NULL, primary_activated);
  gtk_widget_class_install_action (widget_class, "card.cancel", NULL, cancel_activated);
  gtk_widget_class_install_action (widget_class, "card.uninstall", NULL, uninstall_activated);
  gtk_widget_class_install_action (widget_class, "card.remove-files", NULL, remove_files_activated);
  gtk_widget_class_install_action (widget_class, "card.open-folder", NULL, open_folder_activated);
  gtk_widget_class_install_action (widget_class, "card.verify", NULL, verify_activated);
  gtk_widget_class_install_action (widget_class, "card.repair", NULL, repair_activated);
}

static void
lsp_game_card_init (LspGameCard *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "card.primary", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "card.cancel", FALSE);
}

GtkWidget *
lsp_game_card_new (void)
{
  return g_object_new (LSP_TYPE_GAME_CARD, NULL);
}
