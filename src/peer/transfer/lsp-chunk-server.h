/* lsp-chunk-server.h: answers peers' chunk requests (PROTOCOL.md, "Data
 * streams") from our downloaded games */
#pragma once

#include <gio/gio.h>

#include "lsp-library.h"
#include "lsp-node.h"

G_BEGIN_DECLS

#define LSP_CHUNK_SERVER_DEFAULT_SLOTS          16
#define LSP_CHUNK_SERVER_DEFAULT_SLOTS_PER_PEER 4
/* Requests waiting for a slot; more are refused "busy". */
#define LSP_CHUNK_SERVER_MAX_QUEUED             256

#define LSP_TYPE_CHUNK_SERVER (lsp_chunk_server_get_type ())
G_DECLARE_FINAL_TYPE (LspChunkServer, lsp_chunk_server, LSP, CHUNK_SERVER, GObject)

LspChunkServer *lsp_chunk_server_new              (LspNode        *node,
                                                   LspLibrary     *library);
void            lsp_chunk_server_set_slots        (LspChunkServer *self,
                                                   guint           total,
                                                   guint           per_peer);
void            lsp_chunk_server_set_rate_limit   (LspChunkServer *self,
                                                   guint64         bytes_per_second);
guint64         lsp_chunk_server_get_bytes_served (LspChunkServer *self);
guint           lsp_chunk_server_get_n_active     (LspChunkServer *self);
guint           lsp_chunk_server_get_n_active_for_peer (LspChunkServer *self,
                                                        const char     *peer_id);
GHashTable     *lsp_chunk_server_dup_peer_bytes   (LspChunkServer *self);
guint           lsp_chunk_server_get_n_waiting    (LspChunkServer *self);

gboolean        lsp_transfer_can_serve            (LspLibrary     *library,
                                                   const char     *game_id,
                                                   const char     *manifest_hash,
                                                   GError        **error);

G_END_DECLS
