#define G_LOG_DOMAIN "lsp-identity"

#include "config.h"

#include "lsp-identity.h"
#include "lsp-identity-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <string.h>

#include "lsp-error.h"
#include "lsp-sha256.h"

#define KEY_FILE  "identity-key.pem"
#define CERT_FILE "identity-cert.pem"

struct _LspIdentity
{
  GObject                          parent_instance;

  char                            *state_dir;
  char                            *peer_id;
  char                            *short_id;
  gnutls_certificate_credentials_t credentials;
  guint8                           secret[LSP_IDENTITY_SECRET_LEN];
};

G_DEFINE_FINAL_TYPE (LspIdentity, lsp_identity, G_TYPE_OBJECT)

static void
lsp_identity_finalize (GObject *object)
{
  LspIdentity *self = LSP_IDENTITY (object);

  g_clear_pointer (&self->state_dir, g_free);
  g_clear_pointer (&self->peer_id, g_free);
  g_clear_pointer (&self->short_id, g_free);
  g_clear_pointer (&self->credentials, gnutls_certificate_free_credentials);

  G_OBJECT_CLASS (lsp_identity_parent_class)->finalize (object);
}

static void
lsp_identity_class_init (LspIdentityClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = lsp_identity_finalize;
}

static void
lsp_identity_init (LspIdentity *self)
{
}

static gboolean
set_gnutls_error (GError    **error,
                  int         rv,
                  const char *what)
{
  if (rv >= 0)
    return TRUE;
  g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, "%s: %s", what, gnutls_strerror (rv));
  return FALSE;
}

static char *
peer_id_from_pubkey (gnutls_pubkey_t pubkey,
                     GError        **error)
{
  gnutls_datum_t spki = { NULL, 0 };
  guint8 digest[LSP_SHA256_LEN];
  char hex[LSP_SHA256_HEX_LEN + 1];
  int rv;

  rv = gnutls_pubkey_export2 (pubkey, GNUTLS_X509_FMT_DER, &spki);
  if (!set_gnutls_error (error, rv, "Cannot export the public key"))
    return NULL;
  lsp_sha256_buffer (spki.data, spki.size, digest);
  gnutls_free (spki.data);
  lsp_sha256_to_hex (digest, hex);
  return g_strdup (hex);
}

char *
lsp_peer_id_from_certificate (const gnutls_datum_t *der,
                              GError              **error)
{
  gnutls_x509_crt_t crt = NULL;
  gnutls_pubkey_t pubkey = NULL;
  unsigned int status = 0;
  char *peer_id = NULL;
  int rv;

  rv = gnutls_x509_crt_init (&crt);
  if (rv >= 0)
    rv = gnutls_x509_crt_import (crt, der, GNUTLS_X509_FMT_DER);
  if (!set_gnutls_error (error, rv, "The peer's certificate cannot be parsed"))
    goto out;

  /* Identities are self-signed; a certificate that does not verify against
   * its own key was tampered with. Clocks at a LAN party are not trusted. */
  rv = gnutls_x509_crt_verify (crt, &crt, 1, GNUTLS_VERIFY_DISABLE_TIME_CHECKS, &status);
  if (!set_gnutls_error (error, rv, "The peer's certificate cannot be verified"))
    goto out;
  if (status != 0)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                   "The peer's certificate is not validly self-signed (status 0x%x)", status);
      goto out;
    }

  rv = gnutls_pubkey_init (&pubkey);
  if (rv >= 0)
    rv = gnutls_pubkey_import_x509 (pubkey, crt, 0);
  if (!set_gnutls_error (error, rv, "The peer's public key cannot be read"))
    goto out;
  peer_id = peer_id_from_pubkey (pubkey, error);

out:
  g_clear_pointer (&pubkey, gnutls_pubkey_deinit);
  g_clear_pointer (&crt, gnutls_x509_crt_deinit);
  return peer_id;
}

static gboolean
write_private_file (const char           *path,
                    const gnutls_datum_t *data,
                    GError              **error)
{
  return g_file_set_contents_full (path, (const char *) data->data, data->size,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

/* A fresh ECDSA P-256 key (cheap handshakes) and a self-signed certificate
 * that never expires: the key, not the certificate, is the identity. */
static gboolean
create_identity (const char *key_path,
                 const char *cert_path,
                 GError    **error)
{
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t key_pem = { NULL, 0 };
  gnutls_datum_t cert_pem = { NULL, 0 };
  guint8 serial[16];
  gboolean ok = FALSE;
  int rv;

  rv = gnutls_x509_privkey_init (&key);
  if (rv >= 0)
    rv = gnutls_x509_privkey_generate (key, GNUTLS_PK_ECDSA,
                                       GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0);
  if (!set_gnutls_error (error, rv, "Cannot generate the identity key"))
    goto out;

  rv = gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial);
  serial[0] &= 0x7f;
  if (rv >= 0)
    rv = gnutls_x509_crt_init (&crt);
  if (rv >= 0)
    rv = gnutls_x509_crt_set_version (crt, 3);
  if (rv >= 0)
    rv = gnutls_x509_crt_set_serial (crt, serial, sizeof serial);
  if (rv >= 0)
    rv = gnutls_x509_crt_set_activation_time (crt, time (NULL) - 24 * 3600);
  if (rv >= 0)
    rv = gnutls_x509_crt_set_expiration_time (crt, (time_t) -1);
  if (rv >= 0)
    rv = gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, "lanspread", strlen ("lanspread"));
  if (rv >= 0)
    rv = gnutls_x509_crt_set_key (crt, key);
  if (rv >= 0)
    rv = gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0);
  if (!set_gnutls_error (error, rv, "Cannot create the identity certificate"))
    goto out;

  rv = gnutls_x509_privkey_export2 (key, GNUTLS_X509_FMT_PEM, &key_pem);
  if (rv >= 0)
    rv = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &cert_pem);
  if (!set_gnutls_error (error, rv, "Cannot encode the identity"))
    goto out;

  /* The certificate is written last: its presence marks a complete pair. */
  ok = write_private_file (key_path, &key_pem, error) &&
       write_private_file (cert_path, &cert_pem, error);

out:
  gnutls_free (key_pem.data);
  gnutls_free (cert_pem.data);
  g_clear_pointer (&crt, gnutls_x509_crt_deinit);
  g_clear_pointer (&key, gnutls_x509_privkey_deinit);
  return ok;
}

/**
 * lsp_identity_load_or_create:
 * @state_dir: directory holding the identity; created (0700) when missing
 *
 * Loads the key pair and certificate from @state_dir, or creates them on
 * first start (files mode 0600).
 */
LspIdentity *
lsp_identity_load_or_create (const char  *state_dir,
                             GError     **error)
{
  g_autoptr(LspIdentity) self = NULL;
  g_autofree char *key_path = NULL;
  g_autofree char *cert_path = NULL;
  gnutls_x509_crt_t *crts = NULL;
  unsigned int n_crts = 0;
  gnutls_pubkey_t pubkey = NULL;
  int rv;

  g_return_val_if_fail (state_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_mkdir_with_parents (state_dir, 0700) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, LSP_ERROR, LSP_ERROR_IO, "Cannot create the state directory “%s”: %s",
                   state_dir, g_strerror (saved_errno));
      return NULL;
    }

  key_path = g_build_filename (state_dir, KEY_FILE, NULL);
  cert_path = g_build_filename (state_dir, CERT_FILE, NULL);

  if (!g_file_test (cert_path, G_FILE_TEST_EXISTS))
    {
      g_autoptr(GError) local_error = NULL;

      if (!create_identity (key_path, cert_path, &local_error))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "Cannot create the identity in “%s”: ", state_dir);
          return NULL;
        }
      g_debug ("Created a new identity in %s", state_dir);
    }

  self = g_object_new (LSP_TYPE_IDENTITY, NULL);
  self->state_dir = g_strdup (state_dir);

  /* Stateless reset tokens derive from this secret; tying it to the key
   * lets a restarted peer reset connections it lost with the restart. */
  {
    g_autofree char *key_data = NULL;
    gsize key_length = 0;
    g_autoptr(LspSha256) sha = NULL;

    if (!g_file_get_contents (key_path, &key_data, &key_length, error))
      return NULL;
    sha = lsp_sha256_new ();
    lsp_sha256_update (sha, "lanspread stateless reset", strlen ("lanspread stateless reset"));
    lsp_sha256_update (sha, key_data, key_length);
    lsp_sha256_finish (sha, self->secret);
    explicit_bzero (key_data, key_length);
  }

  rv = gnutls_certificate_allocate_credentials (&self->credentials);
  if (rv >= 0)
    rv = gnutls_certificate_set_x509_key_file2 (self->credentials, cert_path, key_path,
                                                GNUTLS_X509_FMT_PEM, NULL, 0);
  if (rv < 0)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                   "The identity in “%s” cannot be loaded: %s", state_dir, gnutls_strerror (rv));
      return NULL;
    }

  rv = gnutls_certificate_get_x509_crt (self->credentials, 0, &crts, &n_crts);
  if (rv >= 0 && n_crts > 0)
    {
      rv = gnutls_pubkey_init (&pubkey);
      if (rv >= 0)
        rv = gnutls_pubkey_import_x509 (pubkey, crts[0], 0);
    }
  for (unsigned int i = 0; i < n_crts; i++)
    gnutls_x509_crt_deinit (crts[i]);
  gnutls_free (crts);
  if (rv < 0 || n_crts == 0)
    {
      g_clear_pointer (&pubkey, gnutls_pubkey_deinit);
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                   "The identity certificate in “%s” cannot be read: %s", state_dir,
                   rv < 0 ? gnutls_strerror (rv) : "no certificate");
      return NULL;
    }

  self->peer_id = peer_id_from_pubkey (pubkey, error);
  gnutls_pubkey_deinit (pubkey);
  if (self->peer_id == NULL)
    return NULL;
  self->short_id = lsp_peer_id_shorten (self->peer_id);

  return g_steal_pointer (&self);
}

const char *
lsp_identity_get_peer_id (LspIdentity *self)
{
  g_return_val_if_fail (LSP_IS_IDENTITY (self), NULL);
  return self->peer_id;
}

const char *
lsp_identity_get_short_id (LspIdentity *self)
{
  g_return_val_if_fail (LSP_IS_IDENTITY (self), NULL);
  return self->short_id;
}

const char *
lsp_identity_get_state_dir (LspIdentity *self)
{
  g_return_val_if_fail (LSP_IS_IDENTITY (self), NULL);
  return self->state_dir;
}

gnutls_certificate_credentials_t
lsp_identity_get_credentials (LspIdentity *self)
{
  g_assert (LSP_IS_IDENTITY (self));
  return self->credentials;
}

const guint8 *
lsp_identity_get_secret (LspIdentity *self)
{
  g_assert (LSP_IS_IDENTITY (self));
  return self->secret;
}
