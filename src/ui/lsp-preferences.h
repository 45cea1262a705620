/* lsp-preferences.h: the preferences window, on the app's GSettings */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define LSP_TYPE_PREFERENCES (lsp_preferences_get_type ())
G_DECLARE_FINAL_TYPE (LspPreferences, lsp_preferences, LSP, PREFERENCES, AdwPreferencesWindow)

LspPreferences *lsp_preferences_new (GtkWindow  *parent,
                                     GSettings  *settings,
                                     const char *passphrase_file);

G_END_DECLS
