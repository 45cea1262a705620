#pragma once

#include "lsp-quic-private.h"

G_BEGIN_DECLS

/* The connection IDs of connections that ended, still routed for their
 * closing or draining period (RFC 9000 §10.2): without them, packets the
 * peer sent before it heard of the end would hit unknown IDs and be
 * answered with a stateless reset, which the peer may see first and
 * report instead of the real reason. Owned by the endpoint, which sends
 * for it. */
typedef struct _LspQuicClosingSet LspQuicClosingSet;

LspQuicClosingSet *lsp_quic_closing_set_new          (LspQuicEndpoint   *endpoint,
                                                      GMainContext      *context);
void               lsp_quic_closing_set_free         (LspQuicClosingSet *self);
void               lsp_quic_closing_set_add          (LspQuicClosingSet *self,
                                                      GPtrArray         *cids,
                                                      GBytes            *close_packet,
                                                      const LspSockaddr *remote,
                                                      socklen_t          remote_len,
                                                      gboolean           unsent,
                                                      gboolean           amplification_limited,
                                                      gint64             period_us);
gboolean           lsp_quic_closing_set_answer       (LspQuicClosingSet *self,
                                                      const LspCid      *cid,
                                                      gsize              length);
void               lsp_quic_closing_set_send_unsent  (LspQuicClosingSet *self);
guint              lsp_quic_closing_set_get_length   (LspQuicClosingSet *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LspQuicClosingSet, lsp_quic_closing_set_free)

G_END_DECLS
