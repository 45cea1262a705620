/* lsp-cli-json.h: how the headless peer prints its objects as JSON */
#pragma once

#include <json-glib/json-glib.h>

#include "lsp-chunk-server.h"
#include "lsp-download.h"
#include "lsp-launcher.h"
#include "lsp-library.h"
#include "lsp-operation.h"
#include "lsp-peer.h"
#include "lsp-verify.h"

G_BEGIN_DECLS

void         lsp_cli_json_add_string    (JsonBuilder        *builder,
                                         const char         *member,
                                         const char         *value);
void         lsp_cli_json_add_int       (JsonBuilder        *builder,
                                         const char         *member,
                                         gint64              value);
void         lsp_cli_json_add_bool      (JsonBuilder        *builder,
                                         const char         *member,
                                         gboolean            value);
void         lsp_cli_json_add_strv      (JsonBuilder        *builder,
                                         const char         *member,
                                         const char * const *values);

void         lsp_cli_json_add_library   (JsonBuilder        *builder,
                                         LspLibrary         *library,
                                         LspLauncher        *launcher);
void         lsp_cli_json_add_peer      (JsonBuilder        *builder,
                                         LspPeer            *peer,
                                         gboolean            with_games);
void         lsp_cli_json_add_operation (JsonBuilder        *builder,
                                         LspOperation       *operation);
void         lsp_cli_json_add_download  (JsonBuilder        *builder,
                                         LspDownload        *download);

/* An event: one JSON object on one line of stdout. */
void         lsp_cli_json_add_uploads   (JsonBuilder        *builder,
                                         LspChunkServer     *server);
void         lsp_cli_json_add_verify_report (JsonBuilder    *builder,
                                             LspVerifyReport *report);
JsonBuilder *lsp_cli_event_begin        (const char         *name);
void         lsp_cli_event_end          (JsonBuilder        *builder);
void         lsp_cli_emit_error         (const char         *command,
                                         const char         *id,
                                         const char         *message);

G_END_DECLS
