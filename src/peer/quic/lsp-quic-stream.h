/* lsp-quic-stream.h: one QUIC stream, with backpressured writes */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Bytes a stream accepts in writes that have not yet been handed to QUIC;
 * a write beyond it fails with LSP_QUIC_ERROR_LIMIT. */
#define LSP_QUIC_STREAM_MAX_QUEUED (64 * 1024 * 1024)

typedef struct _LspQuicConnection LspQuicConnection;

#define LSP_TYPE_QUIC_STREAM (lsp_quic_stream_get_type ())

G_DECLARE_FINAL_TYPE (LspQuicStream, lsp_quic_stream, LSP, QUIC_STREAM, GObject)

/**
 * LspQuicStreamReadFunc:
 * @data: received bytes, valid only during the call
 * @fin: the peer finished the stream; no more calls follow
 * @error: set (and @data empty) when the stream or its connection failed;
 *   no more calls follow
 *
 * Called on the main context for every piece of stream data, in order.
 */
typedef void (*LspQuicStreamReadFunc) (LspQuicStream *stream,
                                       const guint8  *data,
                                       gsize          length,
                                       gboolean       fin,
                                       const GError  *error,
                                       gpointer       user_data);

gint64              lsp_quic_stream_get_id             (LspQuicStream         *self);
gboolean            lsp_quic_stream_is_bidirectional   (LspQuicStream         *self);
gboolean            lsp_quic_stream_is_local           (LspQuicStream         *self);
LspQuicConnection  *lsp_quic_stream_get_connection     (LspQuicStream         *self);
gboolean            lsp_quic_stream_is_write_closed    (LspQuicStream         *self);
gsize               lsp_quic_stream_get_queued_bytes   (LspQuicStream         *self);
void                lsp_quic_stream_set_bulk           (LspQuicStream         *self,
                                                        gboolean               bulk);
void                lsp_quic_stream_set_read_func      (LspQuicStream         *self,
                                                        LspQuicStreamReadFunc  func,
                                                        gpointer               user_data,
                                                        GDestroyNotify         destroy);
void                lsp_quic_stream_set_reading_paused (LspQuicStream         *self,
                                                        gboolean               paused);
void                lsp_quic_stream_write_bytes_async  (LspQuicStream         *self,
                                                        GBytes                *bytes,
                                                        gboolean               fin,
                                                        GCancellable          *cancellable,
                                                        GAsyncReadyCallback    callback,
                                                        gpointer               user_data);
gboolean            lsp_quic_stream_write_bytes_finish (LspQuicStream         *self,
                                                        GAsyncResult          *result,
                                                        GError               **error);
void                lsp_quic_stream_shutdown_write     (LspQuicStream         *self);
void                lsp_quic_stream_reset              (LspQuicStream         *self,
                                                        guint64                app_error_code);

G_END_DECLS
