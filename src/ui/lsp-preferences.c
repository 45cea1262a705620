#define G_LOG_DOMAIN "lsp-preferences"

#include "config.h"

#include "lsp-preferences.h"

#include "lsp-party-key.h"

#include <glib/gi18n.h>
#include <string.h>

/* Every row is bound to a key: a change is saved at once. Limits apply at
 * once (the window follows the keys); the games folder, the name, the
 * players by address, the listen address and the party passphrase at the
 * next start. The passphrase is not a key: it is written to a private
 * file when the user applies it. */

struct _LspPreferences
{
  AdwPreferencesWindow  parent_instance;

  GSettings            *settings;
  char                 *passphrase_file;
  GCancellable         *cancellable;
  AdwActionRow         *folder_row;
  GtkFileChooserNative *chooser;
};

G_DEFINE_FINAL_TYPE (LspPreferences, lsp_preferences, ADW_TYPE_PREFERENCES_WINDOW)

static void
update_folder_row (LspPreferences *self)
{
  g_autofree char *folder = g_settings_get_string (self->settings, "games-folder");
  g_autofree char *fallback = g_build_filename (g_get_home_dir (), "Games", "Lanspread", NULL);

  adw_action_row_set_subtitle (self->folder_row, folder[0] != '\0' ? folder : fallback);
}

static void
on_folder_chosen (GtkNativeDialog *dialog,
                  int              response,
                  LspPreferences  *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = g_file_get_path (folder);

      if (path != NULL)
        g_settings_set_string (self->settings, "games-folder", path);
    }
  g_clear_object (&self->chooser);
}

static void
choose_folder (LspPreferences *self)
{
  self->chooser = gtk_file_chooser_native_new (_("Choose the Games Folder"), GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Choose"), _("_Cancel"));
  g_signal_connect (self->chooser, "response", G_CALLBACK (on_folder_chosen), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static GtkWidget *
spin_row (LspPreferences *self,
          const char     *key,
          const char     *title,
          const char     *subtitle,
          double          max,
          double          step,
          guint           digits)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *spin = gtk_spin_button_new_with_range (0, max, step);

  gtk_spin_button_set_digits (GTK_SPIN_BUTTON (spin), digits);
  gtk_widget_set_valign (spin, GTK_ALIGN_CENTER);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), spin);
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), spin);
  gtk_accessible_update_property (GTK_ACCESSIBLE (spin), GTK_ACCESSIBLE_PROPERTY_LABEL, title, -1);
  g_settings_bind (self->settings, key, spin, "value", G_SETTINGS_BIND_DEFAULT);
  return row;
}

static gboolean
peers_to_text (GValue   *value,
               GVariant *variant,
               gpointer  user_data)
{
  g_autofree const char **peers = g_variant_get_strv (variant, NULL);

  g_value_take_string (value, g_strjoinv (", ", (char **) peers));
  return TRUE;
}

static GVariant *
text_to_peers (const GValue       *value,
               const GVariantType *type,
               gpointer            user_data)
{
  g_auto(GStrv) parts = g_strsplit_set (g_value_get_string (value), ", ", -1);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) peers = NULL;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (parts[i][0] != '\0')
        g_strv_builder_add (builder, parts[i]);
    }
  peers = g_strv_builder_end (builder);
  return g_variant_new_strv ((const char * const *) peers, -1);
}

static void
report_passphrase_saved (LspPreferences *self,
                         gboolean        saved,
                         const GError   *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self),
                                    adw_toast_new (saved ? _("The party passphrase is used from the next start")
                                                         : error->message));
}

static void
on_passphrase_written (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(LspPreferences) self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean saved = g_file_replace_contents_finish (G_FILE (object), result, NULL, &error);

  report_passphrase_saved (self, saved, error);
}

static void
on_passphrase_deleted (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(LspPreferences) self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean saved = g_file_delete_finish (G_FILE (object), result, &error) ||
                   g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);

  report_passphrase_saved (self, saved, error);
}

/* Empty removes the passphrase; anything else replaces it, in a file only
 * the user can read (the engine refuses one that others can). */
static void
apply_passphrase (AdwEntryRow    *row,
                  LspPreferences *self)
{
  const char *passphrase = gtk_editable_get_text (GTK_EDITABLE (row));
  g_autoptr(GFile) file = g_file_new_for_path (self->passphrase_file);
  g_autoptr(GError) error = NULL;

  if (passphrase[0] == '\0')
    {
      g_file_delete_async (file, G_PRIORITY_DEFAULT, self->cancellable, on_passphrase_deleted, g_object_ref (self));
      return;
    }
  if (!lsp_party_passphrase_is_valid (passphrase, &error))
    {
      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (error->message));
      return;
    }
  {
    g_autoptr(GBytes) contents = g_bytes_new (passphrase, strlen (passphrase));
    /* Private from its first byte, in the state folder the engine made. */
    g_file_replace_contents_bytes_async (file, contents, NULL, FALSE,
                                         G_FILE_CREATE_PRIVATE | G_FILE_CREATE_REPLACE_DESTINATION,
                                         self->cancellable, on_passphrase_written, g_object_ref (self));
  }
  gtk_editable_set_text (GTK_EDITABLE (row), "");
}

static void
build (LspPreferences *self)
{
  GtkWidget *page = adw_preferences_page_new ();
  GtkWidget *games = adw_preferences_group_new ();
  GtkWidget *downloads = adw_preferences_group_new ();
  GtkWidget *players = adw_preferences_group_new ();
  GtkWidget *network = adw_preferences_group_new ();
  GtkWidget *button, *row, *toggle;

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (games), _("Games"));
  adw_preferences_group_set_description (ADW_PREFERENCES_GROUP (games),
                                         _("The folder and your name take effect the next time Lanspread starts."));
  self->folder_row = ADW_ACTION_ROW (adw_action_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->folder_row), _("Games Folder"));
  button = gtk_button_new_with_mnemonic (_("_Choose…"));
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  g_signal_connect_swapped (button, "clicked", G_CALLBACK (choose_folder), self);
  adw_action_row_add_suffix (self->folder_row, button);
  adw_action_row_set_activatable_widget (self->folder_row, button);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (games), GTK_WIDGET (self->folder_row));
  update_folder_row (self);
  g_signal_connect_object (self->settings, "changed::games-folder", G_CALLBACK (update_folder_row),
                           self, G_CONNECT_SWAPPED);

  row = adw_entry_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("Your Name"));
  g_settings_bind (self->settings, "display-name", row, "text", G_SETTINGS_BIND_DEFAULT);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (games), row);

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (downloads), _("Downloads"));
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (downloads),
                             spin_row (self, "max-downloads", _("Downloads at Once"),
                                       _("More wait until one finishes"), 16, 1, 0));
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (downloads),
                             spin_row (self, "download-rate", _("Download Limit"),
                                       _("MB/s for all downloads together; 0 means no limit"), 100000, 1, 0));
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (downloads),
                             spin_row (self, "upload-rate", _("Upload Limit"),
                                       _("MB/s sent to other players; 0 means no limit"), 100000, 1, 0));
  row = adw_action_row_new ();
  toggle = gtk_switch_new ();
  gtk_widget_set_valign (toggle, GTK_ALIGN_CENTER);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("Install After Download"));
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), toggle);
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), toggle);
  g_settings_bind (self->settings, "install-after-download", toggle, "active", G_SETTINGS_BIND_DEFAULT);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (downloads), row);

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (players), _("Players by Address"));
  adw_preferences_group_set_description (ADW_PREFERENCES_GROUP (players),
                                         _("For players mDNS cannot find, like 192.168.1.20:41000, separated by "
                                           "commas; used from the next start."));
  row = adw_entry_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("Addresses"));
  g_settings_bind_with_mapping (self->settings, "peers", row, "text", G_SETTINGS_BIND_DEFAULT,
                                peers_to_text, text_to_peers, NULL, NULL);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (players), row);

  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (games));
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (downloads));
  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (network), _("Network"));
  adw_preferences_group_set_description (ADW_PREFERENCES_GROUP (network),
                                         _("A party with a passphrase sees only players who know it. "
                                           "Both are used from the next start."));
  row = adw_password_entry_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("Party Passphrase"));
  adw_entry_row_set_show_apply_button (ADW_ENTRY_ROW (row), TRUE);
  g_signal_connect_object (row, "apply", G_CALLBACK (apply_passphrase), self, 0);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (network), row);
  row = adw_entry_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("Listen Only on Address"));
  g_settings_bind (self->settings, "listen-address", row, "text", G_SETTINGS_BIND_DEFAULT);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (network), row);

  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (players));
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (network));
  adw_preferences_window_add (ADW_PREFERENCES_WINDOW (self), ADW_PREFERENCES_PAGE (page));
}

static void
lsp_preferences_dispose (GObject *object)
{
  LspPreferences *self = LSP_PREFERENCES (object);

  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (lsp_preferences_parent_class)->dispose (object);
}

static void
lsp_preferences_finalize (GObject *object)
{
  LspPreferences *self = LSP_PREFERENCES (object);

  g_clear_pointer (&self->passphrase_file, g_free);

  G_OBJECT_CLASS (lsp_preferences_parent_class)->finalize (object);
}

static void
lsp_preferences_class_init (LspPreferencesClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = lsp_preferences_dispose;
  G_OBJECT_CLASS (klass)->finalize = lsp_preferences_finalize;
}

static void
lsp_preferences_init (LspPreferences *self)
{
}

LspPreferences *
lsp_preferences_new (GtkWindow  *parent,
                     GSettings  *settings,
                     const char *passphrase_file)
{
  LspPreferences *self;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);
  g_return_val_if_fail (passphrase_file != NULL, NULL);

  self = g_object_new (LSP_TYPE_PREFERENCES, "transient-for", parent, "modal", TRUE, NULL);
  self->settings = g_object_ref (settings);
  self->passphrase_file = g_strdup (passphrase_file);
  self->cancellable = g_cancellable_new ();
  build (self);
  return self;
}
