#define G_LOG_DOMAIN "lsp-proto"

#include "config.h"

#include "lsp-proto.h"

#include "lsp-game-root.h"
#include "lsp-proto-private.h"
#include "lsp-sha256.h"

#include <string.h>

/* The value rules of PROTOCOL.md, kept together because messages, game
 * summaries and discovery all check against them. */

static gboolean
is_lower_hex (const char *s,
              gsize       len)
{
  if (s == NULL || strlen (s) != len)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      if (!g_ascii_isdigit (s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
        return FALSE;
    }
  return TRUE;
}

gboolean
lsp_proto_hex_digest_is_valid (const char *hex)
{
  return is_lower_hex (hex, LSP_SHA256_HEX_LEN);
}

/* Display text: valid UTF-8 without control characters, so it cannot forge
 * log lines or confuse a terminal. */
static gboolean
display_text_is_valid (const char *text,
                       gsize       max_len)
{
  gsize len;

  if (text == NULL)
    return FALSE;
  len = strlen (text);
  if (len == 0 || len > max_len || !g_utf8_validate (text, (gssize) len, NULL))
    return FALSE;
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
        return FALSE;
    }
  return TRUE;
}

gboolean
lsp_proto_hostname_is_valid (const char *hostname)
{
  return display_text_is_valid (hostname, LSP_PROTO_MAX_HOSTNAME_LEN);
}

static gboolean
token_is_valid (const char *token,
                gsize       max_len,
                const char *extra)
{
  gsize len;

  if (token == NULL)
    return FALSE;
  len = strlen (token);
  if (len == 0 || len > max_len)
    return FALSE;
  for (const char *p = token; *p; p++)
    {
      if (!(*p >= 'a' && *p <= 'z') && strchr (extra, *p) == NULL)
        return FALSE;
    }
  return TRUE;
}

gboolean
_lsp_proto_feature_is_valid (const char *feature)
{
  return token_is_valid (feature, LSP_PROTO_MAX_FEATURE_LEN, "0123456789_-");
}

/* Standard base64 with padding; empty is valid (no bytes). */
gboolean
_lsp_proto_base64_is_valid (const char *text)
{
  gsize len = strlen (text);
  gsize padding = 0;

  if (len % 4 != 0)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];

      if (c == '=')
        {
          if (i < len - 2 || ++padding > 2)
            return FALSE;
        }
      else if (padding > 0 || !(g_ascii_isalnum (c) || c == '+' || c == '/'))
        return FALSE;
    }
  return TRUE;
}

gboolean
_lsp_proto_error_code_is_valid (const char *code)
{
  return token_is_valid (code, LSP_PROTO_MAX_CODE_LEN, "_");
}

static gboolean
parse_port (const char *text,
            guint16    *out_port)
{
  guint64 port;

  if (text[0] == '\0' || text[0] == '0' || strlen (text) > 5)
    return FALSE;
  for (const char *p = text; *p; p++)
    {
      if (!g_ascii_isdigit (*p))
        return FALSE;
    }
  port = g_ascii_strtoull (text, NULL, 10);
  if (port == 0 || port > G_MAXUINT16)
    return FALSE;
  *out_port = (guint16) port;
  return TRUE;
}

/* "192.0.2.7:41000" or "[::1]:41000": an IP literal, never a host name,
 * because a name would make us resolve whatever a peer tells us to. */
gboolean
lsp_proto_parse_listen_addr (const char  *listen_addr,
                             char       **out_host,
                             guint16     *out_port)
{
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) address = NULL;
  const char *port_text;
  guint16 port;

  if (listen_addr == NULL || strlen (listen_addr) > 64)
    return FALSE;

  if (listen_addr[0] == '[')
    {
      const char *close = strstr (listen_addr, "]:");

      if (close == NULL)
        return FALSE;
      host = g_strndup (listen_addr + 1, (gsize) (close - listen_addr - 1));
      port_text = close + 2;
      if (strchr (host, ':') == NULL)
        return FALSE;
    }
  else
    {
      const char *colon = strrchr (listen_addr, ':');

      if (colon == NULL)
        return FALSE;
      host = g_strndup (listen_addr, (gsize) (colon - listen_addr));
      port_text = colon + 1;
      if (strchr (host, ':') != NULL)
        return FALSE;
    }

  address = g_inet_address_new_from_string (host);
  if (address == NULL || !parse_port (port_text, &port))
    return FALSE;

  if (out_host != NULL)
    *out_host = g_steal_pointer (&host);
  if (out_port != NULL)
    *out_port = port;
  return TRUE;
}

/* Both sides speak every version in [min, max]; the connection uses the
 * highest one they share. */
gboolean
lsp_proto_negotiate_version (guint  our_min,
                             guint  our_max,
                             guint  their_min,
                             guint  their_max,
                             guint *out_version)
{
  guint version = MIN (our_max, their_max);

  if (version < our_min || version < their_min)
    return FALSE;
  if (out_version != NULL)
    *out_version = version;
  return TRUE;
}

/* The first path component names a game root child; reserved ones such as
 * local/ are never payload. */
gboolean
_lsp_proto_payload_path_is_valid (const char *path)
{
  g_autofree char *first = NULL;

  if (!lsp_relative_path_is_safe (path))
    return FALSE;
  first = g_strndup (path, strcspn (path, "/"));
  return !lsp_game_child_is_reserved (first);
}

/* Cuts at a character boundary, for messages we build from local text. */
char *
_lsp_proto_utf8_truncate (const char *text,
                          gsize       max_len)
{
  const char *end;

  if (text == NULL)
    return NULL;
  if (!g_utf8_validate (text, -1, &end))
    return g_strndup (text, MIN ((gsize) (end - text), max_len));
  if (strlen (text) <= max_len)
    return g_strdup (text);
  end = text + max_len;
  while (end > text && (((guchar) *end) & 0xc0) == 0x80)
    end--;
  return g_strndup (text, (gsize) (end - text));
}

gboolean
_lsp_proto_listen_addr_is_valid (const char *listen_addr)
{
  return lsp_proto_parse_listen_addr (listen_addr, NULL, NULL);
}

gboolean
_lsp_proto_game_name_is_valid (const char *name)
{
  return display_text_is_valid (name, LSP_PROTO_MAX_NAME_LEN);
}

gboolean
_lsp_proto_reason_is_valid (const char *reason)
{
  return display_text_is_valid (reason, LSP_PROTO_MAX_REASON_LEN);
}

gboolean
_lsp_proto_message_text_is_valid (const char *message)
{
  return strlen (message) <= LSP_PROTO_MAX_MESSAGE_LEN;
}

char *
_lsp_proto_sanitize_display_text (const char *text,
                                  gsize       max_len)
{
  g_autofree char *cut = _lsp_proto_utf8_truncate (text, max_len);
  GString *out = g_string_new (NULL);

  for (const char *p = cut; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
        g_string_append_c (out, ' ');
      else
        g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

/* A display name that passes lsp_proto_hostname_is_valid, from whatever the
 * system or the user gave us (a 64-byte Linux hostname, a name with a tab). */
char *
lsp_proto_sanitize_hostname (const char *text)
{
  g_autofree char *clean = _lsp_proto_sanitize_display_text (text != NULL ? text : "", LSP_PROTO_MAX_HOSTNAME_LEN);

  g_strstrip (clean);
  if (clean[0] == '\0')
    return g_strdup ("lanspread");
  return g_steal_pointer (&clean);
}
