/* lsp-peer.h: one remote peer, keyed by peer_id */
#pragma once

#include <gio/gio.h>

#include "lsp-proto.h"

G_BEGIN_DECLS

#define LSP_TYPE_PEER (lsp_peer_get_type ())
G_DECLARE_FINAL_TYPE (LspPeer, lsp_peer, LSP, PEER, GObject)

LspPeer              *lsp_peer_new                 (const char           *peer_id);
const char           *lsp_peer_get_id              (LspPeer              *self);
const char           *lsp_peer_get_hostname        (LspPeer              *self);
void                  lsp_peer_set_hostname        (LspPeer              *self,
                                                    const char           *hostname);
const char           *lsp_peer_get_address         (LspPeer              *self);
void                  lsp_peer_set_address         (LspPeer              *self,
                                                    const char           *address);
gboolean              lsp_peer_get_connected       (LspPeer              *self);
void                  lsp_peer_set_connected       (LspPeer              *self,
                                                    gboolean              connected);
const char           *lsp_peer_get_known_as        (LspPeer              *self);
void                  lsp_peer_set_known_as        (LspPeer              *self,
                                                    const char           *known_as);
gint64                lsp_peer_get_last_seen       (LspPeer              *self);
void                  lsp_peer_touch               (LspPeer              *self);

/* Library sync state: what we last accepted from this peer. */
gboolean              lsp_peer_get_has_library     (LspPeer              *self);
guint64               lsp_peer_get_library_rev     (LspPeer              *self);
const char           *lsp_peer_get_library_digest  (LspPeer              *self);
guint                 lsp_peer_get_n_games         (LspPeer              *self);
const LspGameSummary *lsp_peer_lookup_game         (LspPeer              *self,
                                                    const char           *game_id);
GPtrArray            *lsp_peer_dup_games           (LspPeer              *self);
void                  lsp_peer_replace_library     (LspPeer              *self,
                                                    guint64               library_rev,
                                                    const char           *library_digest,
                                                    GPtrArray            *games);
guint                 lsp_peer_count_after_delta   (LspPeer              *self,
                                                    const LspLibraryDeltaBody *delta);
void                  lsp_peer_apply_delta         (LspPeer              *self,
                                                    const LspLibraryDeltaBody *delta);
void                  lsp_peer_forget_library      (LspPeer              *self);

/* What it serves of its downloads in progress (the "swarm" feature). */
void                  lsp_peer_apply_have          (LspPeer              *self,
                                                    const LspHaveBody    *have);
guint                 lsp_peer_get_n_chunks_held   (LspPeer              *self,
                                                    const char           *game_id,
                                                    const char           *manifest_hash);
const guint8         *lsp_peer_peek_chunks_held    (LspPeer              *self,
                                                    const char           *game_id,
                                                    const char           *manifest_hash,
                                                    guint                *out_chunk_count);
void                  lsp_peer_forget_chunks       (LspPeer              *self);

/* Counters for tests and benchmarks. */
guint                 lsp_peer_get_n_snapshots     (LspPeer              *self);
guint                 lsp_peer_get_n_deltas        (LspPeer              *self);

G_END_DECLS
