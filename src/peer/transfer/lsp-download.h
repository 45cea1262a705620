/* lsp-download.h: one download of one game, from every peer that has it */
#pragma once

#include <gio/gio.h>

#include "lsp-library.h"
#include "lsp-node.h"

G_BEGIN_DECLS

/* How long a download waits with no source before it gives up. */
#define LSP_DOWNLOAD_DEFAULT_WAIT_SECONDS   300
/* Chunk requests one source may have in flight, adapted to its rate. */
#define LSP_DOWNLOAD_MIN_WINDOW             2
#define LSP_DOWNLOAD_MAX_WINDOW             8
/* A source that sends this many chunks with wrong bytes is dropped. */
#define LSP_DOWNLOAD_MAX_STRIKES            2

typedef enum {
  LSP_DOWNLOAD_QUEUED,
  LSP_DOWNLOAD_PLANNING,
  LSP_DOWNLOAD_CONNECTING,
  LSP_DOWNLOAD_TRANSFERRING,
  LSP_DOWNLOAD_VERIFYING,
  LSP_DOWNLOAD_WAITING,       /* no source right now; resumes when one comes */
  LSP_DOWNLOAD_DONE,
  LSP_DOWNLOAD_FAILED,
  LSP_DOWNLOAD_CANCELLED,
} LspDownloadPhase;

#define LSP_TYPE_DOWNLOAD (lsp_download_get_type ())
G_DECLARE_FINAL_TYPE (LspDownload, lsp_download, LSP, DOWNLOAD, GObject)

const char       *lsp_download_phase_to_string   (LspDownloadPhase  phase);

LspDownload      *lsp_download_new               (LspNode          *node,
                                                  LspLibrary       *library,
                                                  const char       *game_id);
LspDownload      *lsp_download_new_repair        (LspNode          *node,
                                                  LspLibrary       *library,
                                                  const char       *game_id);
void              lsp_download_set_wait_timeout  (LspDownload      *self,
                                                  guint             seconds);
void              lsp_download_run_async         (LspDownload      *self,
                                                  GCancellable     *cancellable,
                                                  GAsyncReadyCallback callback,
                                                  gpointer          user_data);
gboolean          lsp_download_run_finish        (LspDownload      *self,
                                                  GAsyncResult     *result,
                                                  GError          **error);
void              lsp_download_cancel            (LspDownload      *self);
void              lsp_download_suspend           (LspDownload      *self);

const char       *lsp_download_get_game_id       (LspDownload      *self);
const char       *lsp_download_get_version       (LspDownload      *self);
LspDownloadPhase  lsp_download_get_phase         (LspDownload      *self);
guint64           lsp_download_get_bytes_done    (LspDownload      *self);
guint64           lsp_download_get_bytes_total   (LspDownload      *self);
guint64           lsp_download_get_bytes_resumed (LspDownload      *self);
guint64           lsp_download_get_rate          (LspDownload      *self);
gint64            lsp_download_get_eta           (LspDownload      *self);
gboolean          lsp_download_get_resumed       (LspDownload      *self);
guint             lsp_download_get_n_sources     (LspDownload      *self);
GHashTable       *lsp_download_dup_peer_bytes    (LspDownload      *self);
guint64           lsp_download_get_bytes_received (LspDownload     *self);
guint64           lsp_download_get_bytes_reused  (LspDownload      *self);
gint64            lsp_download_get_bytes_to_fetch (LspDownload     *self);
gboolean          lsp_download_get_repair        (LspDownload      *self);
guint             lsp_download_get_chunks_repaired (LspDownload    *self);

G_END_DECLS
