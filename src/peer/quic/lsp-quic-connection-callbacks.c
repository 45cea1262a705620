#define G_LOG_DOMAIN "lsp-quic-connection"

#include "config.h"

#include "lsp-quic-connection.h"

#include <glib/gi18n-lib.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <string.h>

#include "lsp-identity-private.h"
#include "lsp-quic-connection-private.h"
#include "lsp-quic-error.h"

/* The ngtcp2 callbacks and the TLS session of a connection. They run
 * inside ngtcp2 calls, so they only record what happened or queue work
 * (see lsp-quic-connection.c); they never re-enter ngtcp2's write path or
 * free the connection. */

/* TLS 1.3 only; AES-128-GCM first because GnuTLS's ChaCha20 is three times
 * slower on the CPUs we measured. */
#define TLS_PRIORITY \
  "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:" \
  "+CHACHA20-POLY1305:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:" \
  "%DISABLE_TLS13_COMPAT_MODE"

static ngtcp2_conn *
get_conn (ngtcp2_crypto_conn_ref *ref)
{
  LspQuicConnection *self = ref->user_data;
  return self->conn;
}

void
lsp_quic_rand (uint8_t                *dest,
         size_t                  destlen,
         const ngtcp2_rand_ctx  *rand_ctx)
{
  if (gnutls_rnd (GNUTLS_RND_RANDOM, dest, destlen) != 0)
    g_error ("GnuTLS cannot provide random bytes");
}

void
lsp_quic_connection_register_cid (LspQuicConnection *self,
              const ngtcp2_cid  *cid)
{
  g_ptr_array_add (self->cids, g_memdup2 (cid, sizeof *cid));
  lsp_quic_endpoint_add_cid (self->endpoint, cid, self);
}

static int
get_new_connection_id_cb (ngtcp2_conn *conn,
                          ngtcp2_cid  *cid,
                          uint8_t     *token,
                          size_t       cidlen,
                          void        *user_data)
{
  LspQuicConnection *self = user_data;

  if (gnutls_rnd (GNUTLS_RND_RANDOM, cid->data, cidlen) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  cid->datalen = cidlen;
  lsp_quic_endpoint_reset_token (self->endpoint, cid, token);
  lsp_quic_connection_register_cid (self, cid);
  return 0;
}

static int
remove_connection_id_cb (ngtcp2_conn      *conn,
                         const ngtcp2_cid *cid,
                         void             *user_data)
{
  LspQuicConnection *self = user_data;

  for (guint i = 0; i < self->cids->len; i++)
    if (ngtcp2_cid_eq (self->cids->pdata[i], cid))
      {
        lsp_quic_endpoint_remove_cid (self->endpoint, cid);
        g_ptr_array_remove_index_fast (self->cids, i);
        break;
      }
  return 0;
}

static int
handshake_completed_cb (ngtcp2_conn *conn,
                        void        *user_data)
{
  LspQuicConnection *self = user_data;
  gnutls_datum_t alpn = { NULL, 0 };

  if (self->peer_id == NULL)
    {
      g_free (self->verify_error);
      self->verify_error = g_strdup (_("The peer presented no certificate"));
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
  if (gnutls_alpn_get_selected_protocol (self->session, &alpn) != 0 ||
      alpn.size != strlen (self->alpn) ||
      memcmp (alpn.data, self->alpn, alpn.size) != 0)
    {
      g_free (self->verify_error);
      self->verify_error = g_strdup_printf (_("The peer does not speak %s"), self->alpn);
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
  self->handshake_pending = TRUE;
  return 0;
}

static int
recv_stateless_reset_cb (ngtcp2_conn                       *conn,
                         const ngtcp2_pkt_stateless_reset  *sr,
                         void                              *user_data)
{
  LspQuicConnection *self = user_data;

  self->stateless_reset = TRUE;
  return 0;
}

LspQuicStream *
lsp_quic_connection_add_stream (LspQuicConnection *self,
            gint64             id,
            gboolean           local)
{
  LspQuicStream *stream = lsp_quic_stream_new_internal (self, id, local);

  g_hash_table_insert (self->streams, &stream->id, stream);
  ngtcp2_conn_set_stream_user_data (self->conn, id, stream);
  return stream;
}

static int
stream_open_cb (ngtcp2_conn *conn,
                int64_t      stream_id,
                void        *user_data)
{
  LspQuicConnection *self = user_data;
  LspQuicStream *stream = lsp_quic_connection_add_stream (self, stream_id, FALSE);

  g_ptr_array_add (self->incoming, g_object_ref (stream));
  return 0;
}

void
lsp_quic_connection_credit (LspQuicConnection *self,
        gint64             stream_id,
        gsize              length)
{
  if (length == 0 || self->conn == NULL)
    return;
  ngtcp2_conn_extend_max_stream_offset (self->conn, stream_id, length);
  ngtcp2_conn_extend_max_offset (self->conn, length);
}

static int
recv_stream_data_cb (ngtcp2_conn    *conn,
                     uint32_t        flags,
                     int64_t         stream_id,
                     uint64_t        offset,
                     const uint8_t  *data,
                     size_t          datalen,
                     void           *user_data,
                     void           *stream_user_data)
{
  LspQuicConnection *self = user_data;
  LspQuicStream *stream = stream_user_data;
  gsize n = datalen;

  if (stream != NULL)
    n = lsp_quic_stream_deliver (stream, data, datalen, (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);
  lsp_quic_connection_credit (self, stream_id, n);
  return 0;
}

static int
acked_stream_data_offset_cb (ngtcp2_conn *conn,
                             int64_t      stream_id,
                             uint64_t     offset,
                             uint64_t     datalen,
                             void        *user_data,
                             void        *stream_user_data)
{
  LspQuicStream *stream = stream_user_data;

  if (stream != NULL)
    lsp_quic_stream_acked (stream, offset, datalen);
  return 0;
}

void
lsp_quic_connection_unqueue_stream (LspQuicConnection *self,
                LspQuicStream     *stream)
{
  if (stream->in_send_queue)
    {
      g_queue_unlink (&self->send_queue, &stream->send_link);
      stream->in_send_queue = FALSE;
    }
}

static GError *
stream_error_new (gint64      stream_id,
                  guint64     app_error_code,
                  const char *what)
{
  return g_error_new (LSP_QUIC_ERROR, LSP_QUIC_ERROR_STREAM_RESET,
                      /* Translators: the first %s is what the peer did, like “reset”
                       * (translated on its own), then a stream number and an error code. */
                      _("The peer %s stream %" PRId64 " (error code %" PRIu64 ")"),
                      what, stream_id, app_error_code);
}

static int
stream_close_cb (ngtcp2_conn *conn,
                 uint32_t     flags,
                 int64_t      stream_id,
                 uint64_t     app_error_code,
                 void        *user_data,
                 void        *stream_user_data)
{
  LspQuicConnection *self = user_data;
  LspQuicStream *stream = stream_user_data;
  g_autoptr(GError) error = NULL;
  gboolean remote = ((stream_id & 0x1) == 0) == self->is_server;

  /* ngtcp2 0.12 leaves the peer's stream credit to us: each stream the
   * peer opened that is now gone allows it one more. */
  if (remote)
    {
      if ((stream_id & 0x2) == 0)
        ngtcp2_conn_extend_max_streams_bidi (conn, 1);
      else
        ngtcp2_conn_extend_max_streams_uni (conn, 1);
    }

  if (stream == NULL)
    return 0;

  g_object_ref (stream);
  lsp_quic_connection_unqueue_stream (self, stream);
  if (!stream->read_done || lsp_quic_stream_has_pending (stream))
    {
      error = stream_error_new (stream_id, app_error_code, C_("what the peer did to a stream", "closed"));
      lsp_quic_stream_fail (stream, error);
    }
  stream->connection = NULL;
  stream->write_closed = TRUE;
  g_hash_table_remove (self->streams, &stream_id);
  g_object_unref (stream);
  return 0;
}

static int
stream_reset_cb (ngtcp2_conn *conn,
                 int64_t      stream_id,
                 uint64_t     final_size,
                 uint64_t     app_error_code,
                 void        *user_data,
                 void        *stream_user_data)
{
  LspQuicStream *stream = stream_user_data;

  if (stream != NULL && !stream->read_done)
    {
      g_autoptr(GError) error = stream_error_new (stream_id, app_error_code, C_("what the peer did to a stream", "reset"));
      lsp_quic_stream_fail_read (stream, error);
    }
  return 0;
}

static int
stream_stop_sending_cb (ngtcp2_conn *conn,
                        int64_t      stream_id,
                        uint64_t     app_error_code,
                        void        *user_data,
                        void        *stream_user_data)
{
  LspQuicConnection *self = user_data;
  LspQuicStream *stream = stream_user_data;

  if (stream != NULL && !stream->write_closed)
    {
      g_autoptr(GError) error = stream_error_new (stream_id, app_error_code, C_("what the peer did to a stream", "stopped reading"));

      lsp_quic_connection_unqueue_stream (self, stream);
      lsp_quic_stream_write_failed (stream, error, self->completed);
      ngtcp2_conn_shutdown_stream_write (conn, stream_id, app_error_code);
    }
  return 0;
}

static int
extend_max_stream_data_cb (ngtcp2_conn *conn,
                           int64_t      stream_id,
                           uint64_t     max_data,
                           void        *user_data,
                           void        *stream_user_data)
{
  LspQuicConnection *self = user_data;
  LspQuicStream *stream = stream_user_data;

  if (stream != NULL)
    {
      stream->blocked = FALSE;
      if (lsp_quic_stream_has_pending (stream) && !stream->in_send_queue)
        {
          g_queue_push_tail_link (&self->send_queue, &stream->send_link);
          stream->in_send_queue = TRUE;
        }
    }
  return 0;
}

static int
extend_max_local_streams_cb (ngtcp2_conn *conn,
                             uint64_t     max_streams,
                             void        *user_data)
{
  LspQuicConnection *self = user_data;

  self->streams_available = TRUE;
  return 0;
}

const ngtcp2_callbacks lsp_quic_client_callbacks = {
  .client_initial = ngtcp2_crypto_client_initial_cb,
  .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
  .handshake_completed = handshake_completed_cb,
  .encrypt = ngtcp2_crypto_encrypt_cb,
  .decrypt = ngtcp2_crypto_decrypt_cb,
  .hp_mask = ngtcp2_crypto_hp_mask_cb,
  .recv_stream_data = recv_stream_data_cb,
  .acked_stream_data_offset = acked_stream_data_offset_cb,
  .stream_open = stream_open_cb,
  .stream_close = stream_close_cb,
  .recv_stateless_reset = recv_stateless_reset_cb,
  .recv_retry = ngtcp2_crypto_recv_retry_cb,
  .extend_max_local_streams_bidi = extend_max_local_streams_cb,
  .extend_max_local_streams_uni = extend_max_local_streams_cb,
  .rand = lsp_quic_rand,
  .get_new_connection_id = get_new_connection_id_cb,
  .remove_connection_id = remove_connection_id_cb,
  .update_key = ngtcp2_crypto_update_key_cb,
  .stream_reset = stream_reset_cb,
  .extend_max_stream_data = extend_max_stream_data_cb,
  .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
  .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
  .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
  .stream_stop_sending = stream_stop_sending_cb,
  .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
};

const ngtcp2_callbacks lsp_quic_server_callbacks = {
  .recv_client_initial = ngtcp2_crypto_recv_client_initial_cb,
  .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
  .handshake_completed = handshake_completed_cb,
  .encrypt = ngtcp2_crypto_encrypt_cb,
  .decrypt = ngtcp2_crypto_decrypt_cb,
  .hp_mask = ngtcp2_crypto_hp_mask_cb,
  .recv_stream_data = recv_stream_data_cb,
  .acked_stream_data_offset = acked_stream_data_offset_cb,
  .stream_open = stream_open_cb,
  .stream_close = stream_close_cb,
  .recv_stateless_reset = recv_stateless_reset_cb,
  .extend_max_local_streams_bidi = extend_max_local_streams_cb,
  .extend_max_local_streams_uni = extend_max_local_streams_cb,
  .rand = lsp_quic_rand,
  .get_new_connection_id = get_new_connection_id_cb,
  .remove_connection_id = remove_connection_id_cb,
  .update_key = ngtcp2_crypto_update_key_cb,
  .stream_reset = stream_reset_cb,
  .extend_max_stream_data = extend_max_stream_data_cb,
  .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
  .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
  .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
  .stream_stop_sending = stream_stop_sending_cb,
  .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
};

/* TLS ------------------------------------------------------------------- */

/* Runs during the handshake on both sides: derives the peer_id from the
 * key in the peer's certificate and enforces the pin. That the peer holds
 * the key is for GnuTLS to prove, with the CertificateVerify signature. */
static int
verify_peer_cb (gnutls_session_t session)
{
  ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr (session);
  LspQuicConnection *self = ref->user_data;
  const gnutls_datum_t *certs;
  unsigned int n_certs = 0;
  g_autoptr(GError) error = NULL;
  g_autofree char *peer_id = NULL;

  certs = gnutls_certificate_get_peers (session, &n_certs);
  if (certs == NULL || n_certs == 0)
    {
      g_free (self->verify_error);
      self->verify_error = g_strdup (_("The peer presented no certificate"));
      return GNUTLS_E_CERTIFICATE_ERROR;
    }

  peer_id = lsp_peer_id_from_certificate (&certs[0], &error);
  if (peer_id == NULL)
    {
      g_free (self->verify_error);
      self->verify_error = g_strdup (error->message);
      return GNUTLS_E_CERTIFICATE_ERROR;
    }

  if (self->expected_peer_id != NULL && strcmp (peer_id, self->expected_peer_id) != 0)
    {
      g_free (self->verify_error);
      self->verify_error = g_strdup_printf (_("The peer at %s is not the expected peer: its key has "
                                            "peer_id %.*s…, but %.*s… was expected"),
                                            self->address_key,
                                            LSP_PEER_ID_SHORT_LEN, peer_id,
                                            LSP_PEER_ID_SHORT_LEN, self->expected_peer_id);
      self->peer_mismatch = TRUE;
      return GNUTLS_E_CERTIFICATE_ERROR;
    }

  g_free (self->peer_id);
  self->peer_id = g_steal_pointer (&peer_id);
  return 0;
}

gboolean
lsp_quic_connection_setup_tls (LspQuicConnection *self,
           GError           **error)
{
  LspIdentity *identity = lsp_quic_endpoint_get_identity (self->endpoint);
  gnutls_datum_t alpn;
  int rv;

  self->alpn = g_strdup (lsp_quic_endpoint_get_alpn (self->endpoint));
  alpn.data = (unsigned char *) self->alpn;
  alpn.size = strlen (self->alpn);

  rv = gnutls_init (&self->session, self->is_server ? GNUTLS_SERVER : GNUTLS_CLIENT);
  if (rv == 0)
    rv = self->is_server ? ngtcp2_crypto_gnutls_configure_server_session (self->session)
                         : ngtcp2_crypto_gnutls_configure_client_session (self->session);
  if (rv == 0)
    rv = gnutls_priority_set_direct (self->session, TLS_PRIORITY, NULL);
  if (rv == 0)
    rv = gnutls_credentials_set (self->session, GNUTLS_CRD_CERTIFICATE,
                                 lsp_identity_get_credentials (identity));
  if (rv == 0)
    rv = gnutls_alpn_set_protocols (self->session, &alpn, 1, GNUTLS_ALPN_MANDATORY);
  if (rv != 0)
    {
      g_set_error (error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_HANDSHAKE,
                   _("Cannot set up TLS: %s"), rv < 0 ? gnutls_strerror (rv) : _("ngtcp2 refused the session"));
      return FALSE;
    }

  /* Both sides authenticate: the server learns the client's peer_id too. */
  if (self->is_server)
    gnutls_certificate_server_set_request (self->session, GNUTLS_CERT_REQUIRE);
  gnutls_session_set_verify_function (self->session, verify_peer_cb);
  self->conn_ref.get_conn = get_conn;
  self->conn_ref.user_data = self;
  gnutls_session_set_ptr (self->session, &self->conn_ref);
  return TRUE;
}
