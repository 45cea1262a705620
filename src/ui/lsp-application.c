#define G_LOG_DOMAIN "lsp-application"

#include "config.h"

#include "lsp-application.h"

#include <glib/gi18n.h>

#include "lsp-preferences.h"
#include "lsp-window.h"

struct _LspApplication
{
  AdwApplication  parent_instance;

  GSettings      *settings;
  char           *games_path;    /* from --games, overrides the setting */
  char           *catalog_path;  /* from --catalog */
  char          **peers;         /* from --peer, added to the setting's */
  gboolean        no_mdns;
};

G_DEFINE_FINAL_TYPE (LspApplication, lsp_application, ADW_TYPE_APPLICATION)

static GFile *
resolve_games_dir (LspApplication *self)
{
  g_autofree char *configured = NULL;

  if (self->games_path != NULL)
    return g_file_new_for_commandline_arg (self->games_path);

  configured = g_settings_get_string (self->settings, "games-folder");
  if (configured[0] != '\0')
    return g_file_new_for_path (configured);

  return g_file_new_build_filename (g_get_home_dir (), "Games", "Lanspread", NULL);
}

static GFile *
resolve_catalog_file (LspApplication *self,
                      GFile          *games_dir)
{
  g_autofree char *configured = NULL;

  if (self->catalog_path != NULL)
    return g_file_new_for_commandline_arg (self->catalog_path);

  configured = g_settings_get_string (self->settings, "catalog-file");
  if (configured[0] != '\0')
    return g_file_new_for_path (configured);

  return g_file_get_child (games_dir, "catalog.json");
}

static void
lsp_application_activate (GApplication *app)
{
  LspApplication *self = LSP_APPLICATION (app);
  g_autoptr(GFile) games_dir = NULL;
  g_autoptr(GFile) catalog_file = NULL;
  GtkWindow *window;

  window = gtk_application_get_active_window (GTK_APPLICATION (app));
  if (window == NULL)
    {
      games_dir = resolve_games_dir (self);
      catalog_file = resolve_catalog_file (self, games_dir);
      window = GTK_WINDOW (lsp_window_new (self, games_dir, catalog_file));
    }

  gtk_window_present (window);
}

static int
lsp_application_handle_local_options (GApplication *app,
                                      GVariantDict *options)
{
  LspApplication *self = LSP_APPLICATION (app);

  g_variant_dict_lookup (options, "games", "^ay", &self->games_path);
  g_variant_dict_lookup (options, "catalog", "^ay", &self->catalog_path);
  g_variant_dict_lookup (options, "peer", "^as", &self->peers);
  self->no_mdns = g_variant_dict_contains (options, "no-mdns");

  return -1;
}

static void
lsp_application_startup (GApplication *app)
{
  LspApplication *self = LSP_APPLICATION (app);
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *preferences_accels[] = { "<Control>comma", NULL };
  static const char *shortcuts_accels[] = { "<Control>question", NULL };

  G_APPLICATION_CLASS (lsp_application_parent_class)->startup (app);

  self->settings = g_settings_new (APP_ID);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.preferences", preferences_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.shortcuts", shortcuts_accels);
}

static void
quit_activated (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static void
about_activated (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       user_data)
{
  GtkApplication *app = GTK_APPLICATION (user_data);
  static const char *developers[] = { "The Lanspread authors", NULL };

  adw_show_about_window (gtk_application_get_active_window (app),
                         "application-name", _("Lanspread"),
                         "application-icon", APP_ID,
                         "version", PACKAGE_VERSION,
                         "comments", _("Share and play games at LAN parties, with no server and no internet"),
                         "license-type", GTK_LICENSE_GPL_3_0,
                         "developers", developers,
                         NULL);
}

/* A new window on the games folder now set (the first-run choice): the
 * command line's --games gives way to it. */
static void
reopen_activated (GSimpleAction *action,
                  GVariant      *parameter,
                  gpointer       user_data)
{
  LspApplication *self = user_data;
  GtkWindow *old = gtk_application_get_active_window (GTK_APPLICATION (self));

  g_clear_pointer (&self->games_path, g_free);
  g_application_hold (G_APPLICATION (self));
  if (old != NULL)
    gtk_window_destroy (old);
  g_application_activate (G_APPLICATION (self));
  g_application_release (G_APPLICATION (self));
}

static void
preferences_activated (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  LspApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));

  g_autofree char *passphrase_file = lsp_application_dup_passphrase_file (self);

  gtk_window_present (GTK_WINDOW (lsp_preferences_new (parent, self->settings, passphrase_file)));
}

static void
shortcuts_activated (GSimpleAction *action,
                     GVariant      *parameter,
                     gpointer       user_data)
{
  GtkApplication *app = user_data;
  g_autoptr(GtkBuilder) builder = gtk_builder_new_from_resource ("/org/lanspread/Lanspread/lsp-shortcuts.ui");
  GtkWindow *window = GTK_WINDOW (gtk_builder_get_object (builder, "shortcuts"));

  gtk_window_set_transient_for (window, gtk_application_get_active_window (app));
  gtk_window_present (window);
}

GSettings *
lsp_application_get_settings (LspApplication *self)
{
  g_return_val_if_fail (LSP_IS_APPLICATION (self), NULL);
  return self->settings;
}

static void
lsp_application_finalize (GObject *object)
{
  LspApplication *self = LSP_APPLICATION (object);

  g_clear_object (&self->settings);
  g_clear_pointer (&self->games_path, g_free);
  g_clear_pointer (&self->catalog_path, g_free);
  g_clear_pointer (&self->peers, g_strfreev);

  G_OBJECT_CLASS (lsp_application_parent_class)->finalize (object);
}

static void
lsp_application_class_init (LspApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->finalize = lsp_application_finalize;
  app_class->activate = lsp_application_activate;
  app_class->startup = lsp_application_startup;
  app_class->handle_local_options = lsp_application_handle_local_options;
}

static void
lsp_application_init (LspApplication *self)
{
  static const GActionEntry actions[] = {
    { "quit", quit_activated },
    { "about", about_activated },
    { "preferences", preferences_activated },
    { "reopen", reopen_activated },
    { "shortcuts", shortcuts_activated },
  };
  static const GOptionEntry options[] = {
    { "games", 'g', 0, G_OPTION_ARG_FILENAME, NULL, N_("Use DIR as the games folder"), N_("DIR") },
    { "catalog", 'c', 0, G_OPTION_ARG_FILENAME, NULL, N_("Read the game catalog from FILE"), N_("FILE") },
    { "peer", 0, 0, G_OPTION_ARG_STRING_ARRAY, NULL, N_("Connect to the player at HOST:PORT"), N_("HOST:PORT") },
    { "no-mdns", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Do not announce or look for players with mDNS"), NULL },
    { NULL }
  };

  g_action_map_add_action_entries (G_ACTION_MAP (self), actions, G_N_ELEMENTS (actions), self);
  g_application_add_main_option_entries (G_APPLICATION (self), options);
}

GStrv
lsp_application_dup_peers (LspApplication *self)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) configured = NULL;

  g_return_val_if_fail (LSP_IS_APPLICATION (self), NULL);

  configured = g_settings_get_strv (self->settings, "peers");
  g_strv_builder_addv (builder, (const char **) configured);
  if (self->peers != NULL)
    g_strv_builder_addv (builder, (const char **) self->peers);
  return g_strv_builder_end (builder);
}

guint16
lsp_application_get_port (LspApplication *self)
{
  g_return_val_if_fail (LSP_IS_APPLICATION (self), 0);
  return (guint16) g_settings_get_uint (self->settings, "port");
}

gboolean
lsp_application_get_use_mdns (LspApplication *self)
{
  g_return_val_if_fail (LSP_IS_APPLICATION (self), FALSE);
  return !self->no_mdns;
}

char *
lsp_application_dup_state_dir (LspApplication *self)
{
  return g_build_filename (g_get_user_state_dir (), "lanspread", NULL);
}

/* The party passphrase lives beside the identity, private like it, and
 * not in GSettings, which other programs of the user read freely. */
char *
lsp_application_dup_passphrase_file (LspApplication *self)
{
  g_autofree char *state_dir = lsp_application_dup_state_dir (self);

  return g_build_filename (state_dir, "party-passphrase", NULL);
}

LspApplication *
lsp_application_new (void)
{
  return g_object_new (LSP_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/org/lanspread/Lanspread",
                       NULL);
}
