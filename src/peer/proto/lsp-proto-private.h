/* lsp-proto-private.h: internals shared by the split files of the codec */
#pragma once

#include "lsp-proto.h"

G_BEGIN_DECLS

/* Field rules (lsp-proto-rules.c); the "is_valid" ones fit LspProtoStringCheck. */
gboolean  _lsp_proto_listen_addr_is_valid  (const char *listen_addr);
gboolean  _lsp_proto_feature_is_valid      (const char *feature);
gboolean  _lsp_proto_error_code_is_valid   (const char *code);
gboolean  _lsp_proto_game_name_is_valid    (const char *name);
gboolean  _lsp_proto_reason_is_valid       (const char *reason);
gboolean  _lsp_proto_message_text_is_valid (const char *message);
gboolean  _lsp_proto_payload_path_is_valid (const char *path);
gboolean  _lsp_proto_base64_is_valid       (const char *text);
char     *_lsp_proto_utf8_truncate         (const char *text,
                                            gsize       max_len);
char     *_lsp_proto_sanitize_display_text (const char *text,
                                            gsize       max_len);

/* The linear pre-scan of a received frame (lsp-proto-scan.c): budgets,
 * depth, trailing text and escaped NULs, and the top-level "type". */
typedef struct
{
  guint    values;          /* every JSON value, containers included */
  guint    containers;      /* objects and arrays */
  char     type_name[32];   /* the top-level "type"; empty when absent, escaped or too long */
} LspProtoScan;

gboolean  _lsp_proto_scan                  (const guint8  *payload,
                                            gsize          length,
                                            LspProtoScan  *scan,
                                            GError       **error);

/* Reading a received object (lsp-proto-json.c). A failed read sets *error,
 * naming message, prefix and field, and returns FALSE or NULL. */
typedef struct
{
  const char  *message;  /* "Hello", "LibrarySnapshot" */
  const char  *prefix;   /* "games[3]." for nested objects, or "" */
  JsonObject  *object;
  GError     **error;
  guint        known;    /* members of object a getter asked for */
} LspProtoReader;

typedef gboolean (*LspProtoStringCheck) (const char *value);

gboolean   _lsp_proto_field_error  (LspProtoReader       *r,
                                    const char           *field,
                                    const char           *format,
                                    ...) G_GNUC_PRINTF (3, 4);
JsonNode  *_lsp_proto_get_member   (LspProtoReader       *r,
                                    const char           *field);
gboolean   _lsp_proto_node_is_type (JsonNode             *node,
                                    GType                 type);
gboolean   _lsp_proto_read_string  (LspProtoReader       *r,
                                    const char           *field,
                                    gboolean              required,
                                    LspProtoStringCheck   check,
                                    const char           *rule,
                                    char                **out);
gboolean   _lsp_proto_read_int     (LspProtoReader       *r,
                                    const char           *field,
                                    gboolean              required,
                                    gint64                min,
                                    gint64                max,
                                    gboolean             *out_present,
                                    guint64              *out);
gboolean   _lsp_proto_read_bool    (LspProtoReader       *r,
                                    const char           *field,
                                    gboolean              required,
                                    gboolean             *out);
gboolean   _lsp_proto_read_text    (LspProtoReader       *r,
                                    const char           *field,
                                    gboolean              required,
                                    LspProtoStringCheck   check,
                                    const char           *rule,
                                    char                **out);
gboolean   _lsp_proto_check_unknown (LspProtoReader      *r,
                                     guint                 also_known);
JsonArray *_lsp_proto_read_array   (LspProtoReader       *r,
                                    const char           *field,
                                    guint                 max_len);

/* Game summaries inside messages (lsp-game-summary.c); prefix names the
 * entry in errors, as in "games[3].". */
void             _lsp_game_summary_build (JsonBuilder           *builder,
                                          const LspGameSummary  *summary);
LspGameSummary  *_lsp_game_summary_read  (const char            *message,
                                          const char            *prefix,
                                          JsonNode              *node,
                                          GError               **error);
GPtrArray       *_lsp_game_summaries_new (void);

/* Messages (lsp-proto.c) */
LspMessage      *_lsp_message_new              (LspMessageType  type);
LspMessageType   _lsp_message_type_from_string (const char     *name);

G_END_DECLS
