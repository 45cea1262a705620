#define G_LOG_DOMAIN "lsp-proto"

#include "config.h"

#include "lsp-proto.h"

#include "lsp-error.h"
#include "lsp-proto-private.h"
#include "lsp-util.h"

#include <stdarg.h>
#include <string.h>

/* Reading a received JSON object field by field: each getter checks type
 * and range, and a failure names the message and the field so the peer's
 * Error answer and our log say what was wrong. */

gboolean
_lsp_proto_field_error (LspProtoReader *r,
                        const char     *field,
                        const char     *format,
                        ...)
{
  g_autofree char *detail = NULL;
  va_list args;

  va_start (args, format);
  detail = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (r->error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
               "%s: field “%s%s” %s", r->message, r->prefix, field, detail);
  return FALSE;
}

/* Absent and null both mean "not set". */
JsonNode *
_lsp_proto_get_member (LspProtoReader *r,
                       const char     *field)
{
  JsonNode *node = json_object_get_member (r->object, field);

  if (node != NULL)
    r->known++;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return node;
}

gboolean
_lsp_proto_node_is_type (JsonNode *node,
                         GType     type)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

gboolean
_lsp_proto_read_string (LspProtoReader       *r,
                        const char           *field,
                        gboolean              required,
                        LspProtoStringCheck   check,
                        const char           *rule,
                        char                **out)
{
  JsonNode *node = _lsp_proto_get_member (r, field);
  const char *value;

  *out = NULL;
  if (node == NULL)
    return required ? _lsp_proto_field_error (r, field, "is missing") : TRUE;
  if (!_lsp_proto_node_is_type (node, G_TYPE_STRING))
    return _lsp_proto_field_error (r, field, "must be a string");
  value = json_node_get_string (node);
  if (!check (value))
    return _lsp_proto_field_error (r, field, "is not %s", rule);
  *out = g_strdup (value);
  return TRUE;
}

/* Unknown members are ignored, so a later version may add optional
 * fields, but only a few per object: a peer gains nothing from more than
 * the allowance but our time. Call it after every getter; also_known
 * counts members read without one ("type"). */
gboolean
_lsp_proto_check_unknown (LspProtoReader *r,
                          guint           also_known)
{
  guint members = json_object_get_size (r->object);
  guint unknown = members - MIN (members, r->known + also_known);
  gsize prefix_len = strlen (r->prefix);

  if (unknown <= LSP_PROTO_MAX_UNKNOWN_MEMBERS)
    return TRUE;
  /* The prefix names a nested entry as "games[3]."; without its dot. */
  g_set_error (r->error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
               "%s: %s%.*s has %u unknown members; at most %d are allowed", r->message,
               prefix_len > 0 ? "entry " : "the message", (int) MAX (prefix_len, 1) - 1, r->prefix,
               unknown, LSP_PROTO_MAX_UNKNOWN_MEMBERS);
  return FALSE;
}

/* Free text a peer sends for people to read (a hostname, a game name, an
 * error message, a Goodbye reason) is escaped here, where it enters the
 * engine, rather than where it is shown: it is shown in many places (the
 * log, the CLI's events, GError messages, the app's labels), and a new
 * one must not be able to forget it. The rule check sees the text as
 * sent; the result is what lsp_escape_untrusted makes of it. */
gboolean
_lsp_proto_read_text (LspProtoReader       *r,
                      const char           *field,
                      gboolean              required,
                      LspProtoStringCheck   check,
                      const char           *rule,
                      char                **out)
{
  g_autofree char *value = NULL;

  if (!_lsp_proto_read_string (r, field, required, check, rule, &value))
    return FALSE;
  *out = value != NULL ? lsp_escape_untrusted (value, -1) : NULL;
  return TRUE;
}

gboolean
_lsp_proto_read_int (LspProtoReader *r,
                     const char     *field,
                     gboolean        required,
                     gint64          min,
                     gint64          max,
                     gboolean       *out_present,
                     guint64        *out)
{
  JsonNode *node = _lsp_proto_get_member (r, field);
  gint64 value;

  if (out_present != NULL)
    *out_present = FALSE;
  if (node == NULL)
    return required ? _lsp_proto_field_error (r, field, "is missing") : TRUE;
  if (!_lsp_proto_node_is_type (node, G_TYPE_INT64))
    return _lsp_proto_field_error (r, field, "must be an integer");
  value = json_node_get_int (node);
  if (value < min || value > max)
    return _lsp_proto_field_error (r, field, "is %" G_GINT64_FORMAT ", out of range %" G_GINT64_FORMAT "–%" G_GINT64_FORMAT,
                                   value, min, max);
  if (out_present != NULL)
    *out_present = TRUE;
  *out = (guint64) value;
  return TRUE;
}

gboolean
_lsp_proto_read_bool (LspProtoReader *r,
                      const char     *field,
                      gboolean        required,
                      gboolean       *out)
{
  JsonNode *node = _lsp_proto_get_member (r, field);

  if (node == NULL)
    return required ? _lsp_proto_field_error (r, field, "is missing") : TRUE;
  if (!_lsp_proto_node_is_type (node, G_TYPE_BOOLEAN))
    return _lsp_proto_field_error (r, field, "must be true or false");
  *out = json_node_get_boolean (node);
  return TRUE;
}

JsonArray *
_lsp_proto_read_array (LspProtoReader *r,
                       const char     *field,
                       guint           max_len)
{
  JsonNode *node = _lsp_proto_get_member (r, field);
  JsonArray *array;

  if (node == NULL)
    {
      _lsp_proto_field_error (r, field, "is missing");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      _lsp_proto_field_error (r, field, "must be an array");
      return NULL;
    }
  array = json_node_get_array (node);
  if (json_array_get_length (array) > max_len)
    {
      _lsp_proto_field_error (r, field, "has %u entries, more than %u", json_array_get_length (array), max_len);
      return NULL;
    }
  return array;
}
