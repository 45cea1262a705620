/* lsp-proto-private.h: internals shared by the split files of the codec */
#pragma once

#include "lsp-proto.h"

G_BEGIN_DECLS

/* Field rules (lsp-proto-rules.c); the "is_valid" ones fit read_string. */
gboolean  _lsp_proto_listen_addr_is_valid  (const char *listen_addr);
gboolean  _lsp_proto_feature_is_valid      (const char *feature);
gboolean  _lsp_proto_error_code_is_valid   (const char *code);
gboolean  _lsp_proto_game_name_is_valid    (const char *name);
gboolean  _lsp_proto_reason_is_valid       (const char *reason);
gboolean  _lsp_proto_message_text_is_valid (const char *message);
gboolean  _lsp_proto_payload_path_is_valid (const char *path);
char     *_lsp_proto_utf8_truncate         (const char *text,
                                            gsize       max_len);
char     *_lsp_proto_sanitize_display_text (const char *text,
                                            gsize       max_len);

G_END_DECLS
