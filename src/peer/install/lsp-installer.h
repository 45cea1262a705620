/* lsp-installer.h: install, update and uninstall games as crash-safe
 * transactions, and verify and repair them */
#pragma once

#include <gio/gio.h>

#include "lsp-library.h"
#include "lsp-operation.h"
#include "lsp-types.h"
#include "lsp-verify.h"

G_BEGIN_DECLS

#define LSP_TYPE_INSTALLER (lsp_installer_get_type ())
G_DECLARE_FINAL_TYPE (LspInstaller, lsp_installer, LSP, INSTALLER, GObject)

LspInstaller *lsp_installer_new               (LspLibrary          *library,
                                               LspLauncher         *launcher);
void          lsp_installer_install_async     (LspInstaller        *self,
                                               const char          *game_id,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
gboolean      lsp_installer_install_finish    (LspInstaller        *self,
                                               GAsyncResult        *result,
                                               GError             **error);
void          lsp_installer_update_async      (LspInstaller        *self,
                                               const char          *game_id,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
gboolean      lsp_installer_update_finish     (LspInstaller        *self,
                                               GAsyncResult        *result,
                                               GError             **error);
void          lsp_installer_uninstall_async   (LspInstaller        *self,
                                               const char          *game_id,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
gboolean      lsp_installer_uninstall_finish  (LspInstaller        *self,
                                               GAsyncResult        *result,
                                               GError             **error);
void          lsp_installer_verify_async      (LspInstaller        *self,
                                               const char          *game_id,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
LspVerifyReport *lsp_installer_verify_finish  (LspInstaller        *self,
                                               GAsyncResult        *result,
                                               GError             **error);
void          lsp_installer_repair_async      (LspInstaller        *self,
                                               const char          *game_id,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
LspVerifyReport *lsp_installer_repair_finish  (LspInstaller        *self,
                                               GAsyncResult        *result,
                                               GError             **error);
LspVerifyReport *lsp_installer_lookup_report  (LspInstaller        *self,
                                               const char          *game_id);
LspOperation *lsp_installer_lookup_operation  (LspInstaller        *self,
                                               const char          *game_id);
LspLibrary   *lsp_installer_get_library       (LspInstaller        *self);

G_END_DECLS
