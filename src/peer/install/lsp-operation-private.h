/* lsp-operation-private.h: how LspInstaller drives an LspOperation */
#pragma once

#include "lsp-operation.h"

G_BEGIN_DECLS

LspOperation *_lsp_operation_new          (const char       *game_id,
                                           LspOperationKind  kind,
                                           GCancellable     *cancellable);
void          _lsp_operation_set_progress (LspOperation     *self,
                                           guint64           bytes_done,
                                           guint64           bytes_total,
                                           guint64           entries_done);
void          _lsp_operation_set_finished (LspOperation     *self);

G_END_DECLS
