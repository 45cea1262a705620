/* lsp-download-manager.h: the downloads of this peer, queued and running,
 * and removing downloaded files */
#pragma once

#include <gio/gio.h>

#include "lsp-download.h"

G_BEGIN_DECLS

#define LSP_DOWNLOAD_MANAGER_DEFAULT_MAX_RUNNING 2

#define LSP_TYPE_DOWNLOAD_MANAGER (lsp_download_manager_get_type ())
G_DECLARE_FINAL_TYPE (LspDownloadManager, lsp_download_manager, LSP, DOWNLOAD_MANAGER, GObject)

LspDownloadManager *lsp_download_manager_new              (LspNode            *node,
                                                           LspLibrary         *library);
void                lsp_download_manager_set_max_running  (LspDownloadManager *self,
                                                           guint               max_running);
void                lsp_download_manager_set_rate_limit   (LspDownloadManager *self,
                                                           guint64             bytes_per_second);
void                lsp_download_manager_set_wait_timeout (LspDownloadManager *self,
                                                           guint               seconds);
LspDownload        *lsp_download_manager_start            (LspDownloadManager *self,
                                                           const char         *game_id,
                                                           GError            **error);
LspDownload        *lsp_download_manager_repair           (LspDownloadManager *self,
                                                           const char         *game_id,
                                                           GError            **error);
gboolean            lsp_download_manager_cancel           (LspDownloadManager *self,
                                                           const char         *game_id,
                                                           GError            **error);
LspDownload        *lsp_download_manager_lookup           (LspDownloadManager *self,
                                                           const char         *game_id);
void                lsp_download_manager_resume_async     (LspDownloadManager *self,
                                                           GCancellable       *cancellable,
                                                           GAsyncReadyCallback callback,
                                                           gpointer            user_data);
gboolean            lsp_download_manager_resume_finish    (LspDownloadManager *self,
                                                           GAsyncResult       *result,
                                                           GError            **error);
void                lsp_download_manager_stop_async       (LspDownloadManager *self,
                                                           GAsyncReadyCallback callback,
                                                           gpointer            user_data);
gboolean            lsp_download_manager_stop_finish      (LspDownloadManager *self,
                                                           GAsyncResult       *result,
                                                           GError            **error);
void                lsp_download_manager_remove_async     (LspDownloadManager *self,
                                                           const char         *game_id,
                                                           GCancellable       *cancellable,
                                                           GAsyncReadyCallback callback,
                                                           gpointer            user_data);
gboolean            lsp_download_manager_remove_finish    (LspDownloadManager *self,
                                                           GAsyncResult       *result,
                                                           GError            **error);

G_END_DECLS
