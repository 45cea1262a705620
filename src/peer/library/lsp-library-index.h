/* lsp-library-index.h: the fingerprint-cached scan index, <games>/.lanspread/index.json */
#pragma once

#include <gio/gio.h>

#include "lsp-scan.h"

G_BEGIN_DECLS

#define LSP_LIBRARY_INDEX_FORMAT    1
#define LSP_LIBRARY_INDEX_MAX_BYTES (64 * 1024 * 1024)

/* records: game id → LspGameRecord */
GHashTable *lsp_library_index_load (const char  *path,
                                    guint64     *out_library_rev,
                                    GError     **error);
gboolean    lsp_library_index_save (const char  *path,
                                    guint64      library_rev,
                                    GHashTable  *records,
                                    GError     **error);

G_END_DECLS
