#define G_LOG_DOMAIN "lsp-util"

#include "config.h"

#include "lsp-util.h"

#include <string.h>

int
lsp_strcmp_ptr (gconstpointer a,
                gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* Characters that move the cursor, end a line or reorder text: a log
 * viewer, a terminal or a label would let them forge or hide what is
 * around them. */
static gboolean
is_unsafe_char (gunichar c)
{
  return c < 0x20 || (c >= 0x7f && c < 0xa0) ||
         c == 0x200e || c == 0x200f ||             /* left-to-right and right-to-left marks */
         (c >= 0x2028 && c <= 0x202e) ||           /* line and paragraph separators, bidi embeddings */
         (c >= 0x2066 && c <= 0x2069);             /* bidi isolates */
}

/**
 * lsp_escape_untrusted:
 * @text: (nullable): what a peer sent, any bytes
 * @length: its length, or -1 when it ends at a NUL
 *
 * Text from the network made safe to log or show: \n, \r and \t as
 * those two characters, other control and bidi characters as \u{XXXX},
 * NUL and bytes that are not UTF-8 as \xNN. Everything else is kept, so
 * an honest name reads as it was sent.
 *
 * Returns: (transfer full): valid UTF-8 without control characters
 */
char *
lsp_escape_untrusted (const char *text,
                      gssize      length)
{
  GString *out;
  const char *end;

  if (text == NULL)
    return g_strdup ("(null)");
  if (length < 0)
    length = (gssize) strlen (text);
  out = g_string_sized_new ((gsize) length);
  end = text + length;

  while (text < end)
    {
      gunichar c = g_utf8_get_char_validated (text, end - text);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02x", (guint8) *text);
          text++;
          continue;
        }
      if (c == '\n')
        g_string_append (out, "\\n");
      else if (c == '\r')
        g_string_append (out, "\\r");
      else if (c == '\t')
        g_string_append (out, "\\t");
      else if (is_unsafe_char (c))
        g_string_append_printf (out, "\\u{%04x}", c);
      else
        g_string_append_unichar (out, c);
      text = g_utf8_next_char (text);
    }
  return g_string_free (out, FALSE);
}
