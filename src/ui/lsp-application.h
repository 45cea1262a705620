/* lsp-application.h: the Lanspread GTK application */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define LSP_TYPE_APPLICATION (lsp_application_get_type ())
G_DECLARE_FINAL_TYPE (LspApplication, lsp_application, LSP, APPLICATION, AdwApplication)

LspApplication *lsp_application_new (void);

G_END_DECLS
