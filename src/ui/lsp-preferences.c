#define G_LOG_DOMAIN "lsp-preferences"

#include "config.h"

#include "lsp-preferences.h"

#include <glib/gi18n.h>

/* Every row is bound to a key: a change is saved at once. Limits apply at
 * once (the window follows the keys); the games folder, the name and the
 * players by address at the next start. */

struct _LspPreferences
{
  AdwPreferencesWindow  parent_instance;

  GSettings            *settings;
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
build (LspPreferences *self)
{
  GtkWidget *page = adw_preferences_page_new ();
  GtkWidget *games = adw_preferences_group_new ();
  GtkWidget *downloads = adw_preferences_group_new ();
  GtkWidget *players = adw_preferences_group_new ();
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
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (players));
  adw_preferences_window_add (ADW_PREFERENCES_WINDOW (self), ADW_PREFERENCES_PAGE (page));
}

static void
lsp_preferences_dispose (GObject *object)
{
  LspPreferences *self = LSP_PREFERENCES (object);

  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (lsp_preferences_parent_class)->dispose (object);
}

static void
lsp_preferences_class_init (LspPreferencesClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = lsp_preferences_dispose;
}

static void
lsp_preferences_init (LspPreferences *self)
{
}

LspPreferences *
lsp_preferences_new (GtkWindow *parent,
                     GSettings *settings)
{
  LspPreferences *self;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  self = g_object_new (LSP_TYPE_PREFERENCES, "transient-for", parent, "modal", TRUE, NULL);
  self->settings = g_object_ref (settings);
  build (self);
  return self;
}
