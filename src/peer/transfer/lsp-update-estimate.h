/* lsp-update-estimate.h: how much an update would fetch, before it starts */
#pragma once

#include <gio/gio.h>

#include "lsp-library.h"
#include "lsp-node.h"

G_BEGIN_DECLS

void     lsp_update_estimate_async  (LspNode             *node,
                                     LspLibrary          *library,
                                     const char          *game_id,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
gboolean lsp_update_estimate_finish (GAsyncResult        *result,
                                     char               **out_version,
                                     guint64             *out_bytes_to_fetch,
                                     GError             **error);

G_END_DECLS
