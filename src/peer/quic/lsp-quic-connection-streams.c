#define G_LOG_DOMAIN "lsp-quic-connection"

#include "config.h"

#include "lsp-quic-connection.h"

#include <glib/gi18n-lib.h>
#include <inttypes.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "lsp-quic-connection-private.h"
#include "lsp-quic-error.h"
#include "lsp-quic-private.h"

/* What streams ask of their connection: room to send, credit, reset, and
 * new streams. */

gboolean
lsp_quic_connection_check_open (LspQuicConnection *self,
                                GError           **error)
{
  if (self->closed || self->close_requested)
    {
      g_set_error (error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_CLOSED,
                   _("The connection with %s is closed"), self->address_key);
      return FALSE;
    }
  return TRUE;
}

void
lsp_quic_connection_stream_ready (LspQuicConnection *self,
                                  LspQuicStream     *stream)
{
  lsp_quic_connection_queue_stream (self, stream);
  lsp_quic_connection_schedule (self);
}

void
lsp_quic_connection_stream_credit (LspQuicConnection *self,
                                   LspQuicStream     *stream,
                                   gsize              length)
{
  if (self->closed)
    return;
  lsp_quic_connection_credit (self, stream->id, length);
  lsp_quic_connection_schedule (self);
}

void
lsp_quic_connection_stream_reset (LspQuicConnection *self,
                                  LspQuicStream     *stream,
                                  guint64            app_error_code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicStream) hold = g_object_ref (stream);

  if (self->closed)
    return;

  error = g_error_new (app_error_code == LSP_QUIC_APP_CANCELLED ? G_IO_ERROR : LSP_QUIC_ERROR,
                       app_error_code == LSP_QUIC_APP_CANCELLED ? G_IO_ERROR_CANCELLED : LSP_QUIC_ERROR_CLOSED,
                       _("Stream %" PRId64 " was reset locally (code %" PRIu64 ")"),
                       stream->id, app_error_code);
  lsp_quic_connection_unqueue_stream (self, stream);
  lsp_quic_stream_write_failed (stream, error, self->completed);
  stream->read_done = TRUE;
  ngtcp2_conn_shutdown_stream (self->conn, stream->id, app_error_code);
  if (!self->in_ngtcp2)
    lsp_quic_completions_run (self->completed);
  lsp_quic_connection_schedule (self);
}

/**
 * lsp_quic_connection_open_stream:
 *
 * Returns: (transfer full): a new stream, or %NULL when the connection is
 *   closed or the peer allows no more streams right now
 */
LspQuicStream *
lsp_quic_connection_open_stream (LspQuicConnection  *self,
                                 gboolean            bidirectional,
                                 GError            **error)
{
  int64_t id;
  int rv;

  g_return_val_if_fail (LSP_IS_QUIC_CONNECTION (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!lsp_quic_connection_check_open (self, error))
    return NULL;

  rv = bidirectional ? ngtcp2_conn_open_bidi_stream (self->conn, &id, NULL)
                     : ngtcp2_conn_open_uni_stream (self->conn, &id, NULL);
  if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED)
    {
      g_set_error (error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_LIMIT,
                   bidirectional ? _("%s allows no more bidirectional streams until some close")
                                 : _("%s allows no more unidirectional streams until some close"),
                   self->address_key);
      return NULL;
    }
  if (rv != 0)
    {
      g_set_error (error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_PROTOCOL,
                   _("Cannot open a stream to %s: %s"), self->address_key, ngtcp2_strerror (rv));
      return NULL;
    }

  return g_object_ref (lsp_quic_connection_add_stream (self, id, TRUE));
}
