/* lsp-quic-connection.h: one authenticated QUIC connection to a peer */
#pragma once

#include <gio/gio.h>

#include "lsp-quic-stream.h"

G_BEGIN_DECLS

/* Streams either side may open at once; further opens fail with
 * LSP_QUIC_ERROR_LIMIT until streams close. */
#define LSP_QUIC_MAX_STREAMS_BIDI 256
#define LSP_QUIC_MAX_STREAMS_UNI  256

#define LSP_TYPE_QUIC_CONNECTION (lsp_quic_connection_get_type ())

G_DECLARE_FINAL_TYPE (LspQuicConnection, lsp_quic_connection, LSP, QUIC_CONNECTION, GObject)

const char         *lsp_quic_connection_get_peer_id        (LspQuicConnection  *self);
GInetSocketAddress *lsp_quic_connection_get_remote_address (LspQuicConnection  *self);
gboolean            lsp_quic_connection_is_server          (LspQuicConnection  *self);
gboolean            lsp_quic_connection_is_closed          (LspQuicConnection  *self);
LspQuicStream      *lsp_quic_connection_open_stream        (LspQuicConnection  *self,
                                                            gboolean            bidirectional,
                                                            GError            **error);
void                lsp_quic_connection_close              (LspQuicConnection  *self,
                                                            guint64             app_error_code,
                                                            const char         *reason);

G_END_DECLS
