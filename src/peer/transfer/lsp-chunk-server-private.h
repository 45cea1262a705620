/* lsp-chunk-server-private.h: what the files of LspChunkServer share */
#pragma once

#include "lsp-chunk-server.h"

#include "lsp-manifest.h"
#include "lsp-proto.h"

G_BEGIN_DECLS

/* lsp-chunk-server-partial.c */
gboolean _lsp_chunk_server_partial_allows (LspNode             *node,
                                           LspManifest         *manifest,
                                           const LspChunkBody  *chunk,
                                           GError             **error);

G_END_DECLS
