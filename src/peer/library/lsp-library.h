/* lsp-library.h: the local games folder: scan, index, watch, revision */
#pragma once

#include <gio/gio.h>

#include "lsp-catalog.h"
#include "lsp-local-game.h"
#include "lsp-types.h"

G_BEGIN_DECLS

/* How often a full scan runs to catch what file monitors missed. */
#define LSP_LIBRARY_FALLBACK_SCAN_SECONDS 300

#define LSP_TYPE_LIBRARY (lsp_library_get_type ())
G_DECLARE_FINAL_TYPE (LspLibrary, lsp_library, LSP, LIBRARY, GObject)

LspLibrary   *lsp_library_new                  (GFile               *games_dir,
                                                LspCatalog          *catalog);
void          lsp_library_load_async           (LspLibrary          *self,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
gboolean      lsp_library_load_finish          (LspLibrary          *self,
                                                GAsyncResult        *result,
                                                GError             **error);
void          lsp_library_refresh_async        (LspLibrary          *self,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
gboolean      lsp_library_refresh_finish       (LspLibrary          *self,
                                                GAsyncResult        *result,
                                                GError             **error);
void          lsp_library_watch                (LspLibrary          *self);
void          lsp_library_rescan_game          (LspLibrary          *self,
                                                const char          *game_id);
void          lsp_library_add_verified_manifest (LspLibrary         *self,
                                                 LspManifest        *manifest);

gboolean      lsp_library_begin_operation      (LspLibrary          *self,
                                                const char          *game_id,
                                                GError             **error);
void          lsp_library_end_operation        (LspLibrary          *self,
                                                const char          *game_id);
gboolean      lsp_library_is_operation_active  (LspLibrary          *self,
                                                const char          *game_id);

GFile        *lsp_library_get_games_dir        (LspLibrary          *self);
LspCatalog   *lsp_library_get_catalog          (LspLibrary          *self);
guint64       lsp_library_get_rev              (LspLibrary          *self);
const char   *lsp_library_get_digest           (LspLibrary          *self);
gboolean      lsp_library_get_scanning         (LspLibrary          *self);
LspLocalGame *lsp_library_lookup               (LspLibrary          *self,
                                                const char          *game_id);

/* Counters for tests and benchmarks. */
guint         lsp_library_get_n_games_hashed   (LspLibrary          *self);
guint         lsp_library_get_n_scans          (LspLibrary          *self);
guint         lsp_library_get_n_events_dropped (LspLibrary          *self);

G_END_DECLS
