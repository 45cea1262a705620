#define G_LOG_DOMAIN "lsp-party-key"

#include "config.h"

#include "lsp-party-key.h"

#include "lsp-error.h"
#include "lsp-quic-connection-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <gnutls/crypto.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every peer derives the same key from the same passphrase without
 * talking, so the salt is a fixed label rather than random. */
#define KDF_SALT        "lanspread party passphrase v1"
#define EXPORTER_LABEL  "EXPORTER-lanspread-auth"
#define PROOF_LABEL     "lanspread auth v1"
#define EXPORTER_LEN    32

gboolean
lsp_party_passphrase_is_valid (const char  *passphrase,
                               GError     **error)
{
  gsize length = passphrase != NULL ? strlen (passphrase) : 0;

  if (length == 0)
    {
      g_set_error_literal (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT,
                           _("The party passphrase is empty; write one, or leave the passphrase out"));
      return FALSE;
    }
  if (length > LSP_PARTY_PASSPHRASE_MAX_LEN)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT,
                   _("The party passphrase is longer than %u bytes; choose a shorter one"),
                   LSP_PARTY_PASSPHRASE_MAX_LEN);
      return FALSE;
    }
  if (!g_utf8_validate (passphrase, -1, NULL))
    {
      g_set_error_literal (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT,
                           _("The party passphrase is not UTF-8 text"));
      return FALSE;
    }
  return TRUE;
}

/* The file is a secret like a private key: one that others may read is
 * refused rather than used, so the mistake is noticed. One line break at
 * the end, as editors write it, is not part of the passphrase. */
char *
lsp_party_passphrase_load (const char  *path,
                           GError     **error)
{
  g_autoptr(LspPassphrase) text = NULL;
  g_autofree char *display = g_filename_display_name (path);
  struct stat st;
  gssize got;
  gsize length;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);

  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Cannot open the passphrase file “%s”: %s"), display, g_strerror (saved));
      return NULL;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_close (fd, NULL);
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT,
                   _("The passphrase file “%s” is not a regular file"), display);
      return NULL;
    }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    {
      g_close (fd, NULL);
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT,
                   _("The passphrase file “%s” can be read or changed by other users; "
                     "make it private with “chmod 600”"), display);
      return NULL;
    }
  if (st.st_size > LSP_PARTY_PASSPHRASE_MAX_LEN + 2)
    {
      g_close (fd, NULL);
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT,
                   _("The passphrase file “%s” is larger than %u bytes; it must hold just the passphrase"),
                   display, LSP_PARTY_PASSPHRASE_MAX_LEN);
      return NULL;
    }

  /* One byte more than allowed, to notice a file that grew since fstat. */
  text = g_malloc0 (LSP_PARTY_PASSPHRASE_MAX_LEN + 4);
  do
    got = read (fd, text, LSP_PARTY_PASSPHRASE_MAX_LEN + 3);
  while (got < 0 && errno == EINTR);
  if (got < 0)
    {
      int saved = errno;
      g_close (fd, NULL);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Cannot read the passphrase file “%s”: %s"), display, g_strerror (saved));
      return NULL;
    }
  g_close (fd, NULL);

  length = (gsize) got;
  if (memchr (text, '\0', length) != NULL)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT,
                   _("The passphrase file “%s” is not text"), display);
      return NULL;
    }
  if (length > 0 && text[length - 1] == '\n')
    text[--length] = '\0';
  if (length > 0 && text[length - 1] == '\r')
    text[--length] = '\0';

  if (!lsp_party_passphrase_is_valid (text, error))
    {
      g_prefix_error (error, "%s: ", display);
      return NULL;
    }
  return g_steal_pointer (&text);
}

GBytes *
lsp_party_key_derive (const char  *passphrase,
                      GError     **error)
{
  g_autofree guint8 *key = NULL;
  gnutls_datum_t secret, salt;
  int rv;

  if (!lsp_party_passphrase_is_valid (passphrase, error))
    return NULL;

  secret.data = (unsigned char *) passphrase;
  secret.size = (unsigned int) strlen (passphrase);
  salt.data = (unsigned char *) KDF_SALT;
  salt.size = sizeof KDF_SALT - 1;
  key = g_malloc (LSP_PARTY_KEY_LEN);
  rv = gnutls_pbkdf2 (GNUTLS_MAC_SHA256, &secret, &salt, LSP_PARTY_KDF_ITERATIONS, key, LSP_PARTY_KEY_LEN);
  if (rv < 0)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_IO,
                   _("Cannot derive a key from the party passphrase: %s"), gnutls_strerror (rv));
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&key), LSP_PARTY_KEY_LEN);
}

/* A passphrase stays secret after use, too: it is wiped before it is
 * freed. */
void
lsp_party_passphrase_free (char *passphrase)
{
  if (passphrase == NULL)
    return;
  explicit_bzero (passphrase, strlen (passphrase));
  g_free (passphrase);
}

/* The proof covers keying material exported from this connection's TLS
 * session, which only its two ends know, so a proof seen on one
 * connection is worthless on any other; and it names sender and receiver,
 * so a peer cannot reflect the other's proof back at it. */
static gboolean
compute_proof (GBytes             *key,
               LspQuicConnection  *conn,
               const char         *sender_id,
               const char         *receiver_id,
               guint8              out[LSP_PARTY_KEY_LEN],
               GError            **error)
{
  guint8 exported[EXPORTER_LEN];
  g_autoptr(GByteArray) input = g_byte_array_new ();
  gsize key_len;
  const guint8 *key_data = g_bytes_get_data (key, &key_len);
  int rv;

  if (conn->session == NULL)
    {
      g_set_error_literal (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT, "the connection has no TLS session");
      return FALSE;
    }
  rv = gnutls_prf_rfc5705 (conn->session, sizeof EXPORTER_LABEL - 1, EXPORTER_LABEL,
                           0, NULL, sizeof exported, (char *) exported);
  if (rv < 0)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_IO, "cannot export keying material: %s", gnutls_strerror (rv));
      return FALSE;
    }

  g_byte_array_append (input, (const guint8 *) PROOF_LABEL, sizeof PROOF_LABEL - 1);
  g_byte_array_append (input, exported, sizeof exported);
  g_byte_array_append (input, (const guint8 *) sender_id, strlen (sender_id));
  g_byte_array_append (input, (const guint8 *) receiver_id, strlen (receiver_id));
  rv = gnutls_hmac_fast (GNUTLS_MAC_SHA256, key_data, key_len, input->data, input->len, out);
  explicit_bzero (exported, sizeof exported);
  if (rv < 0)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_IO, "cannot compute the proof: %s", gnutls_strerror (rv));
      return FALSE;
    }
  return TRUE;
}

char *
lsp_party_key_prove (GBytes             *key,
                     LspQuicConnection  *conn,
                     const char         *sender_id,
                     const char         *receiver_id,
                     GError            **error)
{
  guint8 mac[LSP_PARTY_KEY_LEN];
  GString *hex;

  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (LSP_IS_QUIC_CONNECTION (conn), NULL);
  g_return_val_if_fail (sender_id != NULL && receiver_id != NULL, NULL);

  if (!compute_proof (key, conn, sender_id, receiver_id, mac, error))
    return NULL;
  hex = g_string_sized_new (2 * sizeof mac);
  for (gsize i = 0; i < sizeof mac; i++)
    g_string_append_printf (hex, "%02x", mac[i]);
  return g_string_free (hex, FALSE);
}

gboolean
lsp_party_key_check (GBytes            *key,
                     LspQuicConnection *conn,
                     const char        *sender_id,
                     const char        *receiver_id,
                     const char        *proof)
{
  g_autofree char *expected = NULL;
  guint8 difference = 0;

  g_return_val_if_fail (proof != NULL, FALSE);

  expected = lsp_party_key_prove (key, conn, sender_id, receiver_id, NULL);
  if (expected == NULL || strlen (proof) != strlen (expected))
    return FALSE;
  /* Compared in constant time: how long a wrong proof took to refuse
   * must not tell how much of it was right. */
  for (gsize i = 0; expected[i] != '\0'; i++)
    difference |= (guint8) (expected[i] ^ proof[i]);
  return difference == 0;
}
