#define G_LOG_DOMAIN "lsp-udp"

#include "config.h"

#include "lsp-udp-batch-private.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/uio.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif

struct _LspUdpBatch
{
  int            fd;
  gboolean       gso;
  gboolean       gro;
  guint8        *rx_buffers;
  LspUdpMessage  rx[LSP_UDP_RX_BATCH];
  struct mmsghdr rx_hdr[LSP_UDP_RX_BATCH];
  struct iovec   rx_iov[LSP_UDP_RX_BATCH];
  union {
    char           buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  }              rx_control[LSP_UDP_RX_BATCH];
};

/* Probing with setsockopt/getsockopt tells whether the running kernel has
 * UDP GSO and GRO; a send that still fails with EIO (no checksum offload on
 * the route) turns GSO off for good. */
LspUdpBatch *
lsp_udp_batch_new (int fd)
{
  LspUdpBatch *self = g_new0 (LspUdpBatch, 1);
#if defined(UDP_SEGMENT) || defined(UDP_GRO)
  int one = 1;
#endif

  self->fd = fd;
#ifdef UDP_SEGMENT
  {
    int value = 0;
    socklen_t len = sizeof value;
    self->gso = getsockopt (fd, SOL_UDP, UDP_SEGMENT, &value, &len) == 0;
  }
#endif
#ifdef UDP_GRO
  self->gro = setsockopt (fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
#endif

  self->rx_buffers = g_malloc (LSP_UDP_RX_BATCH * LSP_UDP_RX_BUFSIZE);
  for (guint i = 0; i < LSP_UDP_RX_BATCH; i++)
    self->rx[i].data = self->rx_buffers + i * LSP_UDP_RX_BUFSIZE;

  return self;
}

void
lsp_udp_batch_free (LspUdpBatch *self)
{
  if (self == NULL)
    return;
  g_free (self->rx_buffers);
  g_free (self);
}

gboolean
lsp_udp_batch_has_gso (LspUdpBatch *self)
{
  return self->gso;
}

gboolean
lsp_udp_batch_has_gro (LspUdpBatch *self)
{
  return self->gro;
}

/* Returns the number of messages read (0 when the socket is drained), or -1
 * with errno set. */
int
lsp_udp_batch_receive (LspUdpBatch    *self,
                       LspUdpMessage **messages)
{
  int n;

  for (guint i = 0; i < LSP_UDP_RX_BATCH; i++)
    {
      struct msghdr *msg = &self->rx_hdr[i].msg_hdr;

      self->rx_iov[i].iov_base = self->rx[i].data;
      self->rx_iov[i].iov_len = LSP_UDP_RX_BUFSIZE;
      memset (msg, 0, sizeof *msg);
      msg->msg_name = &self->rx[i].addr;
      msg->msg_namelen = sizeof self->rx[i].addr;
      msg->msg_iov = &self->rx_iov[i];
      msg->msg_iovlen = 1;
      msg->msg_control = self->rx_control[i].buf;
      msg->msg_controllen = sizeof self->rx_control[i].buf;
    }

  do
    n = recvmmsg (self->fd, self->rx_hdr, LSP_UDP_RX_BATCH, MSG_DONTWAIT, NULL);
  while (n < 0 && errno == EINTR);

  if (n < 0)
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;

  for (int i = 0; i < n; i++)
    {
      struct msghdr *msg = &self->rx_hdr[i].msg_hdr;
      LspUdpMessage *m = &self->rx[i];

      m->length = self->rx_hdr[i].msg_len;
      m->addrlen = msg->msg_namelen;
      m->segment_size = 0;
      if (msg->msg_flags & MSG_TRUNC)
        m->length = 0;  /* never hand on a datagram we did not read whole */
#ifdef UDP_GRO
      for (struct cmsghdr *c = CMSG_FIRSTHDR (msg); c != NULL; c = CMSG_NXTHDR (msg, c))
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO)
          {
            int size;
            memcpy (&size, CMSG_DATA (c), sizeof size);
            if (size > 0 && (gsize) size < m->length)
              m->segment_size = (gsize) size;
          }
#endif
    }

  *messages = self->rx;
  return n;
}

static gssize
send_one (LspUdpBatch           *self,
          const struct sockaddr *addr,
          socklen_t              addrlen,
          const guint8          *data,
          gsize                  length,
          gsize                  segment_size)
{
  union {
    char           buf[CMSG_SPACE (sizeof (guint16))];
    struct cmsghdr align;
  } control;
  struct iovec iov = { (void *) data, length };
  struct msghdr msg = {
    .msg_name = (void *) addr,
    .msg_namelen = addrlen,
    .msg_iov = &iov,
    .msg_iovlen = 1,
  };
  ssize_t n;

#ifdef UDP_SEGMENT
  if (length > segment_size)
    {
      guint16 size = (guint16) segment_size;
      struct cmsghdr *c;

      memset (&control, 0, sizeof control);
      msg.msg_control = control.buf;
      msg.msg_controllen = sizeof control.buf;
      c = CMSG_FIRSTHDR (&msg);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN (sizeof size);
      memcpy (CMSG_DATA (c), &size, sizeof size);
    }
#endif

  do
    n = sendmsg (self->fd, &msg, 0);
  while (n < 0 && errno == EINTR);

  return n;
}

static gssize
send_mmsg (LspUdpBatch           *self,
           const struct sockaddr *addr,
           socklen_t              addrlen,
           const guint8          *data,
           gsize                  length,
           gsize                  segment_size)
{
  struct mmsghdr hdr[LSP_UDP_GSO_MAX_SEGMENTS];
  struct iovec iov[LSP_UDP_GSO_MAX_SEGMENTS];
  guint n_segments = 0;
  gsize sent = 0;
  int n;

  for (gsize off = 0; off < length && n_segments < LSP_UDP_GSO_MAX_SEGMENTS; off += segment_size)
    {
      iov[n_segments].iov_base = (void *) (data + off);
      iov[n_segments].iov_len = MIN (segment_size, length - off);
      memset (&hdr[n_segments], 0, sizeof hdr[n_segments]);
      hdr[n_segments].msg_hdr.msg_name = (void *) addr;
      hdr[n_segments].msg_hdr.msg_namelen = addrlen;
      hdr[n_segments].msg_hdr.msg_iov = &iov[n_segments];
      hdr[n_segments].msg_hdr.msg_iovlen = 1;
      n_segments++;
    }

  do
    n = sendmmsg (self->fd, hdr, n_segments, 0);
  while (n < 0 && errno == EINTR);

  if (n < 0)
    return -1;
  for (int i = 0; i < n; i++)
    sent += iov[i].iov_len;
  return (gssize) sent;
}

/**
 * lsp_udp_batch_send:
 * @segment_size: every datagram but the last has this size
 *
 * Sends @length bytes as datagrams of @segment_size to one address with as
 * few system calls as the kernel allows. Returns the number of bytes sent
 * (whole datagrams; less than @length when the socket buffer filled up), or
 * -1 with errno set (EAGAIN when nothing could be sent).
 */
gssize
lsp_udp_batch_send (LspUdpBatch           *self,
                    const struct sockaddr *addr,
                    socklen_t              addrlen,
                    const guint8          *data,
                    gsize                  length,
                    gsize                  segment_size)
{
  g_assert (segment_size > 0);

  if (self->gso && length > segment_size)
    {
      gssize n = send_one (self, addr, addrlen, data, length, segment_size);

      if (n >= 0 || (errno != EIO && errno != EINVAL && errno != ENOPROTOOPT))
        return n;
      g_debug ("UDP GSO is not usable here (%s); falling back to sendmmsg", g_strerror (errno));
      self->gso = FALSE;
    }

  if (length <= segment_size)
    return send_one (self, addr, addrlen, data, length, segment_size);
  return send_mmsg (self, addr, addrlen, data, length, segment_size);
}
