#define G_LOG_DOMAIN "lsp-identity"

#include "config.h"

#include "lsp-identity.h"
#include "lsp-identity-private.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <string.h>

#include "lsp-error.h"
#include "lsp-sha256.h"

#define KEY_FILE  "identity-key.pem"
#define CERT_FILE "identity-cert.pem"

/* The certificate's one DNS name lives under this reserved top-level domain
 * (RFC 6761): it never resolves, so it cannot be mistaken for a real host. */
#define DNS_NAME_DOMAIN "lanspread.invalid"

/* GnuTLS handles are pointer typedefs: they take g_auto(), not g_autoptr(). */
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_privkey_t, gnutls_x509_privkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_pubkey_t, gnutls_pubkey_deinit, NULL)

/* Wiped before it is freed, since some hold the private key. */
static void
clear_datum (gnutls_datum_t *datum)
{
  if (datum->data != NULL)
    explicit_bzero (datum->data, datum->size);
  gnutls_free (datum->data);
  datum->data = NULL;
  datum->size = 0;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (gnutls_datum_t, clear_datum)

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

/* The SHA-256 of the DER SubjectPublicKeyInfo: the peer_id, in binary. */
static gboolean
spki_digest (gnutls_pubkey_t pubkey,
             guint8          digest[LSP_SHA256_LEN],
             GError        **error)
{
  g_auto(gnutls_datum_t) spki = { NULL, 0 };
  int rv;

  rv = gnutls_pubkey_export2 (pubkey, GNUTLS_X509_FMT_DER, &spki);
  if (!set_gnutls_error (error, rv, _("Cannot export the public key")))
    return FALSE;
  lsp_sha256_buffer (spki.data, spki.size, digest);
  return TRUE;
}

static gboolean
certificate_digest (gnutls_x509_crt_t crt,
                    guint8            digest[LSP_SHA256_LEN],
                    GError          **error)
{
  g_auto(gnutls_pubkey_t) pubkey = NULL;
  int rv;

  rv = gnutls_pubkey_init (&pubkey);
  if (rv >= 0)
    rv = gnutls_pubkey_import_x509 (pubkey, crt, 0);
  if (!set_gnutls_error (error, rv, _("Cannot read the certificate's public key")))
    return FALSE;
  return spki_digest (pubkey, digest, error);
}

static char *
peer_id_from_pubkey (gnutls_pubkey_t pubkey,
                     GError        **error)
{
  guint8 digest[LSP_SHA256_LEN];
  char hex[LSP_SHA256_HEX_LEN + 1];

  if (!spki_digest (pubkey, digest, error))
    return NULL;
  lsp_sha256_to_hex (digest, hex);
  return g_strdup (hex);
}

/* Only the key matters: TLS's CertificateVerify proves the peer holds it,
 * and the peer_id names it. The certificate's own signature, names, dates
 * and extensions are not checked (PROTOCOL.md). */
char *
lsp_peer_id_from_certificate (const gnutls_datum_t *der,
                              GError              **error)
{
  g_auto(gnutls_x509_crt_t) crt = NULL;
  g_auto(gnutls_pubkey_t) pubkey = NULL;
  int rv;

  rv = gnutls_x509_crt_init (&crt);
  if (rv >= 0)
    rv = gnutls_x509_crt_import (crt, der, GNUTLS_X509_FMT_DER);
  if (!set_gnutls_error (error, rv, _("The peer's certificate cannot be parsed")))
    return NULL;

  rv = gnutls_pubkey_init (&pubkey);
  if (rv >= 0)
    rv = gnutls_pubkey_import_x509 (pubkey, crt, 0);
  if (!set_gnutls_error (error, rv, _("The peer's public key cannot be read")))
    return NULL;
  return peer_id_from_pubkey (pubkey, error);
}

static gboolean
write_private_file (const char           *path,
                    const gnutls_datum_t *data,
                    GError              **error)
{
  return g_file_set_contents_full (path, (const char *) data->data, data->size,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

/* A DNS label holds at most 63 characters, so the 64 of the peer_id are
 * split in halves: "<first 32>.<last 32>.lanspread.invalid". */
static char *
dns_name_for_peer_id (const char *peer_id)
{
  return g_strdup_printf ("%.32s.%s." DNS_NAME_DOMAIN, peer_id, peer_id + LSP_PEER_ID_LEN / 2);
}

/* Issues the self-signed certificate for @key, and gives the SHA-256 of its
 * SubjectPublicKeyInfo in @digest. Peers look at nothing but the key; the
 * rest is what stock TLS libraries (webpki, as rustls uses it, for one)
 * require of a self-signed end-entity certificate before they look at the
 * key. PROTOCOL.md lists it all. */
static gboolean
issue_certificate (gnutls_x509_privkey_t key,
                   gnutls_datum_t       *cert_pem,
                   guint8                digest[LSP_SHA256_LEN],
                   GError              **error)
{
  g_auto(gnutls_x509_crt_t) crt = NULL;
  char peer_id[LSP_SHA256_HEX_LEN + 1];
  g_autofree char *dns_name = NULL;
  guint8 serial[16];
  int rv;

  rv = gnutls_x509_crt_init (&crt);
  if (rv >= 0)
    rv = gnutls_x509_crt_set_key (crt, key);
  if (!set_gnutls_error (error, rv, _("Cannot create the identity certificate")))
    return FALSE;
  if (!certificate_digest (crt, digest, error))
    return FALSE;
  lsp_sha256_to_hex (digest, peer_id);
  dns_name = dns_name_for_peer_id (peer_id);

  /* Positive, and a first byte that is never zero: the DER INTEGER is then
   * exactly 16 bytes, as strict parsers want it minimally encoded. */
  rv = gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial);
  serial[0] = (serial[0] & 0x3f) | 0x40;
  if (rv >= 0)
    rv = gnutls_x509_crt_set_version (crt, 3);
  if (rv >= 0)
    rv = gnutls_x509_crt_set_serial (crt, serial, sizeof serial);
  /* A day's slack for peers whose clock is behind. (time_t) -1 is RFC 5280's
   * "no well-defined expiration", 99991231235959Z: the key, not the
   * certificate, is the identity. */
  if (rv >= 0)
    rv = gnutls_x509_crt_set_activation_time (crt, time (NULL) - 24 * 3600);
  if (rv >= 0)
    rv = gnutls_x509_crt_set_expiration_time (crt, (time_t) -1);
  if (rv >= 0)
    rv = gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, "lanspread", strlen ("lanspread"));
  /* Critical, CA:FALSE, no path length: an end entity, not an authority. */
  if (rv >= 0)
    rv = gnutls_x509_crt_set_basic_constraints (crt, 0, -1);
  /* Critical; the key only ever signs TLS handshakes. */
  if (rv >= 0)
    rv = gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
  /* Every peer is a server to some and a client to others. */
  if (rv >= 0)
    rv = gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
  if (rv >= 0)
    rv = gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_CLIENT, 0);
  /* The key identifier is the peer_id in binary: RFC 5280 leaves the method
   * open, and this one lets a reader of the certificate see whose it is. */
  if (rv >= 0)
    rv = gnutls_x509_crt_set_subject_key_id (crt, digest, LSP_SHA256_LEN);
  if (rv >= 0)
    rv = gnutls_x509_crt_set_authority_key_id (crt, digest, LSP_SHA256_LEN);
  /* webpki matches server names against the subjectAltName only. */
  if (rv >= 0)
    rv = gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_DNSNAME, dns_name, strlen (dns_name),
                                               GNUTLS_FSAN_SET);
  if (rv >= 0)
    rv = gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0);
  if (!set_gnutls_error (error, rv, _("Cannot create the identity certificate")))
    return FALSE;

  rv = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, cert_pem);
  return set_gnutls_error (error, rv, _("Cannot encode the identity certificate"));
}

/* What @crt lacks of what issue_certificate() writes, or NULL when nothing.
 * @digest is the SHA-256 of its SubjectPublicKeyInfo. */
static const char *
certificate_shortcoming (gnutls_x509_crt_t crt,
                         const guint8      digest[LSP_SHA256_LEN])
{
  char peer_id[LSP_SHA256_HEX_LEN + 1];
  g_autofree char *dns_name = NULL;
  unsigned int critical = 0;
  unsigned int ca = 0;
  unsigned int usage = 0;
  int path_length = 0;
  gboolean server_auth = FALSE;
  gboolean client_auth = FALSE;
  guint8 key_id[64];
  char name[256];
  size_t size;
  int rv;

  if (gnutls_x509_crt_get_version (crt) != 3)
    return "it is not X.509 v3";
  if (gnutls_sign_get_hash_algorithm (gnutls_x509_crt_get_signature_algorithm (crt)) != GNUTLS_DIG_SHA256)
    return "it is not signed with SHA-256";

  if (gnutls_x509_crt_get_basic_constraints (crt, &critical, &ca, &path_length) != 0 || !critical || ca)
    return "it lacks a critical basicConstraints CA:FALSE";
  if (gnutls_x509_crt_get_key_usage (crt, &usage, &critical) < 0 || !critical ||
      usage != GNUTLS_KEY_DIGITAL_SIGNATURE)
    return "it lacks a critical keyUsage digitalSignature";

  for (unsigned int i = 0;; i++)
    {
      char oid[128];

      size = sizeof oid;
      rv = gnutls_x509_crt_get_key_purpose_oid (crt, i, oid, &size, &critical);
      if (rv == GNUTLS_E_SHORT_MEMORY_BUFFER)
        continue;
      if (rv < 0)
        break;
      server_auth |= strcmp (oid, GNUTLS_KP_TLS_WWW_SERVER) == 0;
      client_auth |= strcmp (oid, GNUTLS_KP_TLS_WWW_CLIENT) == 0;
    }
  if (!server_auth || !client_auth)
    return "it lacks an extendedKeyUsage serverAuth and clientAuth";

  size = sizeof key_id;
  if (gnutls_x509_crt_get_subject_key_id (crt, key_id, &size, &critical) < 0 ||
      size != LSP_SHA256_LEN || memcmp (key_id, digest, LSP_SHA256_LEN) != 0)
    return "it lacks the subjectKeyIdentifier";
  size = sizeof key_id;
  if (gnutls_x509_crt_get_authority_key_id (crt, key_id, &size, &critical) < 0 ||
      size != LSP_SHA256_LEN || memcmp (key_id, digest, LSP_SHA256_LEN) != 0)
    return "it lacks the authorityKeyIdentifier";

  lsp_sha256_to_hex (digest, peer_id);
  dns_name = dns_name_for_peer_id (peer_id);
  size = sizeof name;
  rv = gnutls_x509_crt_get_subject_alt_name (crt, 0, name, &size, &critical);
  if (rv != GNUTLS_SAN_DNSNAME || size != strlen (dns_name) || memcmp (name, dns_name, size) != 0)
    return "it lacks the subjectAltName";

  return NULL;
}

/* A fresh ECDSA P-256 key (cheap handshakes) and its certificate. */
static gboolean
create_identity (const char *key_path,
                 const char *cert_path,
                 GError    **error)
{
  g_auto(gnutls_x509_privkey_t) key = NULL;
  g_auto(gnutls_datum_t) key_pem = { NULL, 0 };
  g_auto(gnutls_datum_t) cert_pem = { NULL, 0 };
  guint8 digest[LSP_SHA256_LEN];
  int rv;

  rv = gnutls_x509_privkey_init (&key);
  if (rv >= 0)
    rv = gnutls_x509_privkey_generate (key, GNUTLS_PK_ECDSA,
                                       GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0);
  if (!set_gnutls_error (error, rv, _("Cannot generate the identity key")))
    return FALSE;
  if (!issue_certificate (key, &cert_pem, digest, error))
    return FALSE;
  rv = gnutls_x509_privkey_export2 (key, GNUTLS_X509_FMT_PEM, &key_pem);
  if (!set_gnutls_error (error, rv, _("Cannot encode the identity key")))
    return FALSE;

  /* The certificate is written last: its presence marks a complete pair. */
  return write_private_file (key_path, &key_pem, error) &&
         write_private_file (cert_path, &cert_pem, error);
}

/* Identities made before the certificate carried extensions are re-issued
 * from their key. The key file is not rewritten, so the peer_id and the
 * stateless reset secret stay what they were; the new certificate replaces
 * the old one atomically. */
static gboolean
update_certificate (const char *state_dir,
                    const char *key_path,
                    const char *cert_path,
                    GError    **error)
{
  g_autofree char *cert_data = NULL;
  g_autofree char *key_data = NULL;
  gsize cert_length = 0;
  gsize key_length = 0;
  g_auto(gnutls_x509_crt_t) crt = NULL;
  g_auto(gnutls_x509_privkey_t) key = NULL;
  g_auto(gnutls_datum_t) cert_pem = { NULL, 0 };
  gnutls_datum_t datum;
  guint8 old_digest[LSP_SHA256_LEN];
  guint8 new_digest[LSP_SHA256_LEN];
  const char *shortcoming;
  int rv;

  if (!g_file_get_contents (cert_path, &cert_data, &cert_length, error))
    return FALSE;
  datum.data = (unsigned char *) cert_data;
  datum.size = cert_length;
  rv = gnutls_x509_crt_init (&crt);
  if (rv >= 0)
    rv = gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_PEM);
  if (!set_gnutls_error (error, rv, _("The certificate cannot be parsed")))
    return FALSE;
  if (!certificate_digest (crt, old_digest, error))
    return FALSE;
  shortcoming = certificate_shortcoming (crt, old_digest);
  if (shortcoming == NULL)
    return TRUE;

  if (!g_file_get_contents (key_path, &key_data, &key_length, error))
    return FALSE;
  datum.data = (unsigned char *) key_data;
  datum.size = key_length;
  rv = gnutls_x509_privkey_init (&key);
  if (rv >= 0)
    rv = gnutls_x509_privkey_import (key, &datum, GNUTLS_X509_FMT_PEM);
  explicit_bzero (key_data, key_length);
  if (!set_gnutls_error (error, rv, _("The key cannot be parsed")))
    return FALSE;

  if (!issue_certificate (key, &cert_pem, new_digest, error))
    return FALSE;
  /* A certificate for another key would silently change the peer_id. */
  if (memcmp (old_digest, new_digest, LSP_SHA256_LEN) != 0)
    {
      g_set_error_literal (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                           _("The key does not match the certificate"));
      return FALSE;
    }
  if (!write_private_file (cert_path, &cert_pem, error))
    return FALSE;

  g_debug ("Re-issued the identity certificate in %s, as %s", state_dir, shortcoming);
  return TRUE;
}

/**
 * lsp_identity_load_or_create:
 * @state_dir: directory holding the identity; created (0700) when missing
 *
 * Loads the key pair and certificate from @state_dir, or creates them on
 * first start (files mode 0600). A certificate from an older version, which
 * lacks the extensions stock TLS libraries require, is re-issued from the
 * same key, so the peer_id does not change.
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
      g_set_error (error, LSP_ERROR, LSP_ERROR_IO, _("Cannot create the state directory “%s”: %s"),
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
                                      _("Cannot create the identity in “%s”: "), state_dir);
          return NULL;
        }
      g_debug ("Created a new identity in %s", state_dir);
    }
  else
    {
      g_autoptr(GError) local_error = NULL;

      if (!update_certificate (state_dir, key_path, cert_path, &local_error))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      _("The identity in “%s” cannot be loaded: "), state_dir);
          return NULL;
        }
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
                   _("The identity in “%s” cannot be loaded: %s"), state_dir, gnutls_strerror (rv));
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
                   _("The identity certificate in “%s” cannot be read: %s"), state_dir,
                   rv < 0 ? gnutls_strerror (rv) : _("no certificate"));
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
