/* lsp-application.h: the Lanspread GTK application */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define LSP_TYPE_APPLICATION (lsp_application_get_type ())
G_DECLARE_FINAL_TYPE (LspApplication, lsp_application, LSP, APPLICATION, AdwApplication)

LspApplication *lsp_application_new             (void);
GStrv           lsp_application_dup_peers       (LspApplication *self);
guint16         lsp_application_get_port        (LspApplication *self);
gboolean        lsp_application_get_use_mdns    (LspApplication *self);
char           *lsp_application_dup_state_dir   (LspApplication *self);
char           *lsp_application_dup_passphrase_file (LspApplication *self);
GSettings      *lsp_application_get_settings    (LspApplication *self);

G_END_DECLS
