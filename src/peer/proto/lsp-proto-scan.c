#define G_LOG_DOMAIN "lsp-proto"

#include "config.h"

#include "lsp-proto-private.h"

#include "lsp-error.h"

#include <string.h>

/* A received frame is read once, linearly and without building anything,
 * before json-glib sees it: json-glib spends a few hundred bytes per value
 * (an empty object is a node, an object and a hash table), so a 16 MiB
 * frame of "{}," would cost over a gigabyte and seconds of parsing. The scan
 * counts what the tree would hold and finds the top-level "type", so the
 * budgets and the limit of that type apply before anything is built.
 * json-glib's parser also recurses once per nesting level, accepts text
 * after the top-level value, which PROTOCOL.md forbids, and turns "\u0000"
 * into a NUL that would cut a C string short after validation saw only its
 * first part: the scan refuses all three. It does not check the syntax;
 * json-glib does, on text that is known to be cheap to parse. */

typedef struct
{
  gboolean is_object;
  gboolean want_key;   /* objects: the next string is a member name */
  guint    members;
} Level;

static gboolean
scan_fail (GError     **error,
           int          code,
           const char  *format,
           ...) G_GNUC_PRINTF (3, 4);

static gboolean
scan_fail (GError     **error,
           int          code,
           const char  *format,
           ...)
{
  va_list args;

  if (error == NULL)
    return FALSE;
  va_start (args, format);
  *error = g_error_new_valist (LSP_ERROR, code, format, args);
  va_end (args);
  return FALSE;
}

/* A frame over its type's limit is a frame_too_large
 * (G_IO_ERROR_MESSAGE_TOO_LARGE); it is checked as soon as the type is
 * known, so an oversized frame costs no more of the scan than its start. */
static gboolean
check_type_limit (const LspProtoScan  *scan,
                  gsize                length,
                  GError             **error)
{
  gsize limit = lsp_proto_max_frame_for_type (_lsp_message_type_from_string (scan->type_name));

  if (length <= limit)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
               "Frame of %" G_GSIZE_FORMAT " bytes is over the limit of %" G_GSIZE_FORMAT " bytes for %s",
               length, limit, scan->type_name[0] != '\0' ? scan->type_name : "a message of unknown type");
  return FALSE;
}

static gboolean
is_scalar_char (guint8 c)
{
  return g_ascii_isalnum (c) || c == '-' || c == '+' || c == '.';
}

gboolean
_lsp_proto_scan (const guint8  *payload,
                 gsize          length,
                 LspProtoScan  *scan,
                 GError       **error)
{
  Level levels[LSP_PROTO_MAX_DEPTH + 1];
  guint depth = 0;
  gboolean opened = FALSE, in_string = FALSE, escaped = FALSE, in_scalar = FALSE;
  gboolean string_is_key = FALSE, string_escaped = FALSE, next_is_type = FALSE, found_type = FALSE;
  gsize string_start = 0;

  memset (scan, 0, sizeof *scan);

  for (gsize i = 0; i < length; i++)
    {
      guint8 c = payload[i];

      if (in_string)
        {
          if (escaped)
            {
              escaped = FALSE;
              if (c == 'u' && length - i > 4 && memcmp (payload + i + 1, "0000", 4) == 0)
                return scan_fail (error, LSP_ERROR_INVALID_DATA,
                                  "Frame contains an escaped NUL character (\\u0000)");
            }
          else if (c == '\\')
            escaped = string_escaped = TRUE;
          else if (c == '"')
            {
              const guint8 *text = payload + string_start;
              gsize text_len = i - string_start;

              in_string = FALSE;
              /* Only an unescaped "type" names the message; any other
               * spelling leaves the type unknown, which gets the small
               * limit. */
              if (string_is_key)
                next_is_type = depth == 1 && !string_escaped && text_len == 4 && memcmp (text, "type", 4) == 0;
              else if (next_is_type)
                {
                  next_is_type = FALSE;
                  found_type = TRUE;
                  /* A repeated "type" counts as json-glib reads it: the last one. */
                  scan->type_name[0] = '\0';
                  if (!string_escaped && text_len < sizeof scan->type_name)
                    {
                      memcpy (scan->type_name, text, text_len);
                      scan->type_name[text_len] = '\0';
                    }
                  if (!check_type_limit (scan, length, error))
                    return FALSE;
                }
            }
          continue;
        }

      if (in_scalar && !is_scalar_char (c))
        in_scalar = FALSE;
      if (opened && depth == 0)
        {
          if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return scan_fail (error, LSP_ERROR_INVALID_DATA,
                              "Frame is not valid JSON: text follows the top-level value");
          continue;
        }

      if (c == '"')
        {
          Level *level = depth > 0 ? &levels[depth - 1] : NULL;

          in_string = TRUE;
          string_escaped = FALSE;
          string_start = i + 1;
          string_is_key = level != NULL && level->is_object && level->want_key;
          if (string_is_key)
            {
              level->want_key = FALSE;
              if (++level->members > LSP_PROTO_MAX_MEMBERS)
                return scan_fail (error, LSP_ERROR_INVALID_DATA,
                                  "Frame has an object of more than %d members", LSP_PROTO_MAX_MEMBERS);
              continue;
            }
        }
      else if (c == '{' || c == '[')
        {
          if (depth == LSP_PROTO_MAX_DEPTH)
            return scan_fail (error, LSP_ERROR_INVALID_DATA,
                              "Frame nests JSON deeper than %d levels", LSP_PROTO_MAX_DEPTH);
          opened = TRUE;
          levels[depth].is_object = c == '{';
          levels[depth].want_key = c == '{';
          levels[depth].members = 0;
          depth++;
          if (++scan->containers > LSP_PROTO_MAX_CONTAINERS)
            return scan_fail (error, LSP_ERROR_INVALID_DATA,
                              "Frame has more than %u objects and arrays", LSP_PROTO_MAX_CONTAINERS);
        }
      else if (c == '}' || c == ']')
        {
          if (depth > 0)
            depth--;
          continue;
        }
      else if (c == ',')
        {
          if (depth > 0 && levels[depth - 1].is_object)
            levels[depth - 1].want_key = TRUE;
          continue;
        }
      else if (!is_scalar_char (c) || in_scalar)
        continue;
      else
        in_scalar = TRUE;

      /* A value starts here: a string, a container or a scalar. */
      if (c != '"')
        next_is_type = FALSE;
      if (++scan->values > LSP_PROTO_MAX_VALUES)
        return scan_fail (error, LSP_ERROR_INVALID_DATA,
                          "Frame has more than %u JSON values", LSP_PROTO_MAX_VALUES);
    }

  return found_type || check_type_limit (scan, length, error);
}
