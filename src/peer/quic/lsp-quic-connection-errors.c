#define G_LOG_DOMAIN "lsp-quic-connection"

#include "config.h"

#include "lsp-quic-connection.h"

#include <glib/gi18n-lib.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "lsp-quic-connection-private.h"
#include "lsp-quic-error.h"
#include "lsp-quic-private.h"
#include "lsp-util.h"

/* ngtcp2's error codes as errors a user can read. */

/* The reason phrase of the peer's CONNECTION_CLOSE, as ": reason" to
 * append to a message, escaped: it is any bytes the peer chose. */
static char *
close_reason_suffix (const ngtcp2_connection_close_error *ccerr)
{
  g_autofree char *reason = NULL;

  if (ccerr->reasonlen == 0)
    return g_strdup ("");
  reason = lsp_escape_untrusted ((const char *) ccerr->reason, (gssize) ccerr->reasonlen);
  return g_strconcat (": ", reason, NULL);
}

/* What ngtcp2's @rv means for the user, said in words. */
GError *
lsp_quic_connection_error_from_liberr (LspQuicConnection *self,
                                       int                rv)
{
  ngtcp2_connection_close_error ccerr;
  g_autofree char *reason = NULL;

  switch (rv)
    {
    case NGTCP2_ERR_IDLE_CLOSE:
      return g_error_new (LSP_QUIC_ERROR, LSP_QUIC_ERROR_IDLE_TIMEOUT,
                          _("Nothing was heard from %s for longer than the idle timeout"),
                          self->address_key);
    case NGTCP2_ERR_HANDSHAKE_TIMEOUT:
      return g_error_new (LSP_QUIC_ERROR, LSP_QUIC_ERROR_HANDSHAKE_TIMEOUT,
                          _("The QUIC handshake with %s did not finish within %u ms"),
                          self->address_key, lsp_quic_endpoint_get_handshake_timeout (self->endpoint));
    case NGTCP2_ERR_DRAINING:
    case NGTCP2_ERR_CLOSING:
      if (self->stateless_reset)
        return g_error_new (LSP_QUIC_ERROR, LSP_QUIC_ERROR_PEER_RESET,
                            _("%s no longer knows this connection (stateless reset)"), self->address_key);
      ngtcp2_conn_get_connection_close_error (self->conn, &ccerr);
      reason = close_reason_suffix (&ccerr);
      if (ccerr.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION)
        return g_error_new (LSP_QUIC_ERROR, LSP_QUIC_ERROR_PEER_CLOSED,
                            _("%s closed the connection (code %" PRIu64 "%s)"),
                            self->address_key, ccerr.error_code, reason);
      if (ccerr.error_code >= 0x100 && ccerr.error_code < 0x200)
        return g_error_new (LSP_QUIC_ERROR, LSP_QUIC_ERROR_HANDSHAKE,
                            _("%s refused the TLS handshake (alert “%s”)"), self->address_key,
                            gnutls_alert_get_name ((gnutls_alert_description_t) (ccerr.error_code - 0x100)));
      return g_error_new (LSP_QUIC_ERROR, LSP_QUIC_ERROR_PEER_CLOSED,
                          _("%s closed the connection (transport error 0x%" PRIx64 "%s)"),
                          self->address_key, ccerr.error_code, reason);
    case NGTCP2_ERR_CRYPTO:
    case NGTCP2_ERR_CALLBACK_FAILURE:
      if (self->verify_error != NULL)
        return g_error_new (LSP_QUIC_ERROR,
                            self->peer_mismatch ? LSP_QUIC_ERROR_PEER_MISMATCH : LSP_QUIC_ERROR_HANDSHAKE,
                            "%s", self->verify_error);
      if (rv == NGTCP2_ERR_CRYPTO)
        return g_error_new (LSP_QUIC_ERROR, LSP_QUIC_ERROR_HANDSHAKE,
                            _("The TLS handshake with %s failed (alert “%s”)"), self->address_key,
                            gnutls_alert_get_name ((gnutls_alert_description_t) ngtcp2_conn_get_tls_alert (self->conn)));
      G_GNUC_FALLTHROUGH;
    default:
      return g_error_new (LSP_QUIC_ERROR, LSP_QUIC_ERROR_PROTOCOL,
                          _("QUIC error on the connection with %s: %s"), self->address_key, ngtcp2_strerror (rv));
    }
}
