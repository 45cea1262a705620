/* lsp-udp-batch-private.h: batched UDP I/O (GSO/GRO, sendmmsg/recvmmsg) */
#pragma once

#include <glib.h>
#include <sys/socket.h>

G_BEGIN_DECLS

/* One receive call returns at most this many messages; with GRO each one
 * may carry up to 64 KiB of coalesced datagrams. */
#define LSP_UDP_RX_BATCH     16
#define LSP_UDP_RX_BUFSIZE   65536
/* A GSO send carries at most this many segments and this many bytes. */
#define LSP_UDP_GSO_MAX_SEGMENTS 64
#define LSP_UDP_GSO_MAX_BYTES    65000

typedef struct _LspUdpBatch LspUdpBatch;

typedef struct
{
  guint8                  *data;
  gsize                    length;
  gsize                    segment_size;  /* 0: one datagram; else split every segment_size bytes */
  struct sockaddr_storage  addr;
  socklen_t                addrlen;
} LspUdpMessage;

LspUdpBatch *lsp_udp_batch_new          (int                    fd);
void         lsp_udp_batch_free         (LspUdpBatch           *self);
gboolean     lsp_udp_batch_has_gso      (LspUdpBatch           *self);
gboolean     lsp_udp_batch_has_gro      (LspUdpBatch           *self);
int          lsp_udp_batch_receive      (LspUdpBatch           *self,
                                         LspUdpMessage        **messages);
gssize       lsp_udp_batch_send         (LspUdpBatch           *self,
                                         const struct sockaddr *addr,
                                         socklen_t              addrlen,
                                         const guint8          *data,
                                         gsize                  length,
                                         gsize                  segment_size);

G_END_DECLS
