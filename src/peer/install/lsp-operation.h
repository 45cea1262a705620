/* lsp-operation.h: one install, update, uninstall, verify or repair in flight, for the UI */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  LSP_OPERATION_INSTALL,
  LSP_OPERATION_UPDATE,
  LSP_OPERATION_UNINSTALL,
  LSP_OPERATION_VERIFY,
  LSP_OPERATION_REPAIR,
} LspOperationKind;

#define LSP_TYPE_OPERATION_KIND (lsp_operation_kind_get_type ())
GType lsp_operation_kind_get_type (void);

#define LSP_TYPE_OPERATION (lsp_operation_get_type ())
G_DECLARE_FINAL_TYPE (LspOperation, lsp_operation, LSP, OPERATION, GObject)

const char       *lsp_operation_kind_to_string    (LspOperationKind  kind);

const char       *lsp_operation_get_game_id       (LspOperation     *self);
LspOperationKind  lsp_operation_get_kind          (LspOperation     *self);
guint64           lsp_operation_get_bytes_done    (LspOperation     *self);
guint64           lsp_operation_get_bytes_total   (LspOperation     *self);
guint64           lsp_operation_get_entries_done  (LspOperation     *self);
gboolean          lsp_operation_get_active        (LspOperation     *self);
GCancellable     *lsp_operation_get_cancellable   (LspOperation     *self);
void              lsp_operation_cancel            (LspOperation     *self);

G_END_DECLS
