/* lsp-quic-private.h: internals shared by the endpoint, connection and stream */
#pragma once

#include <ngtcp2/ngtcp2.h>
#include <sys/socket.h>

#include "lsp-quic-connection.h"
#include "lsp-quic-endpoint.h"
#include "lsp-quic-stream.h"

G_BEGIN_DECLS

/* Every connection ID we issue has this length, so short-header packets
 * can be routed by their first LSP_QUIC_CID_LEN bytes after the flags. */
#define LSP_QUIC_CID_LEN 16

/* Flow control: initial windows, and the ceilings auto-tuning may reach. */
#define LSP_QUIC_CONN_WINDOW        (32 * 1024 * 1024)
#define LSP_QUIC_STREAM_WINDOW      (16 * 1024 * 1024)
#define LSP_QUIC_MAX_CONN_WINDOW    (128 * 1024 * 1024)
#define LSP_QUIC_MAX_STREAM_WINDOW  (64 * 1024 * 1024)

/* A connection that ended keeps its connection IDs routed for three PTOs
 * (RFC 9000 §10.2), but never less than this: on a LAN the PTO is a few
 * tens of milliseconds, less than a busy peer's main loop may stall. */
#define LSP_QUIC_MIN_CLOSING_PERIOD_MS 250

/* One service call writes at most this many GSO batches before yielding to
 * the main loop, so one busy connection cannot starve the others. */
#define LSP_QUIC_MAX_BATCHES_PER_SERVICE 16

/* A datagram not routed by connection ID is offered to at most this many
 * connections with its source address as a possible stateless reset. */
#define LSP_QUIC_MAX_RESET_OFFERS 4

typedef union
{
  struct sockaddr         sa;
  struct sockaddr_in      in;
  struct sockaddr_in6     in6;
  struct sockaddr_storage storage;
} LspSockaddr;

typedef struct
{
  guint8 length;
  guint8 data[NGTCP2_MAX_CIDLEN];
} LspCid;

guint         lsp_quic_cid_hash                   (gconstpointer           key);
gboolean      lsp_quic_cid_equal                  (gconstpointer           a,
                                                   gconstpointer           b);

/* Endpoint side */
GMainContext *lsp_quic_endpoint_get_context       (LspQuicEndpoint        *self);
guint8       *lsp_quic_endpoint_get_tx_buffer     (LspQuicEndpoint        *self,
                                                   gsize                  *size);
gboolean      lsp_quic_endpoint_send              (LspQuicEndpoint        *self,
                                                   LspQuicConnection      *conn,
                                                   const struct sockaddr  *addr,
                                                   socklen_t               addrlen,
                                                   const guint8           *data,
                                                   gsize                   length,
                                                   gsize                   segment_size);
gboolean      lsp_quic_endpoint_can_send          (LspQuicEndpoint        *self);
void          lsp_quic_endpoint_send_datagram     (LspQuicEndpoint        *self,
                                                   const LspSockaddr      *addr,
                                                   socklen_t               addr_len,
                                                   const guint8           *data,
                                                   gsize                   length);
void          lsp_quic_endpoint_add_cid           (LspQuicEndpoint        *self,
                                                   const ngtcp2_cid       *cid,
                                                   LspQuicConnection      *conn);
void          lsp_quic_endpoint_remove_cid        (LspQuicEndpoint        *self,
                                                   const ngtcp2_cid       *cid);
void          lsp_quic_endpoint_reset_token       (LspQuicEndpoint        *self,
                                                   const ngtcp2_cid       *cid,
                                                   guint8                 *token);
void          lsp_quic_endpoint_add_closing       (LspQuicEndpoint        *self,
                                                   GPtrArray              *cids,
                                                   GBytes                 *close_packet,
                                                   const LspSockaddr      *remote,
                                                   socklen_t               remote_len,
                                                   gboolean                unsent,
                                                   gboolean                amplification_limited,
                                                   gint64                  period_us);
void          lsp_quic_endpoint_connection_done   (LspQuicEndpoint        *self,
                                                   LspQuicConnection      *conn);
void          lsp_quic_endpoint_connection_ready  (LspQuicEndpoint        *self,
                                                   LspQuicConnection      *conn);
void          lsp_quic_endpoint_set_max_connections (LspQuicEndpoint      *self,
                                                   guint                   max_connections);
/* How many times a datagram was handed to a connection as a possible
 * stateless reset (each is a decryption attempt), for tests. */
guint64       lsp_quic_endpoint_get_n_stray_offers (LspQuicEndpoint       *self);

/* Connection side */
LspQuicConnection *lsp_quic_connection_new_client    (LspQuicEndpoint       *endpoint,
                                                      const LspSockaddr     *local,
                                                      socklen_t              local_len,
                                                      const LspSockaddr     *remote,
                                                      socklen_t              remote_len,
                                                      const char            *expected_peer_id,
                                                      GError               **error);
LspQuicConnection *lsp_quic_connection_new_server    (LspQuicEndpoint       *endpoint,
                                                      const LspSockaddr     *local,
                                                      socklen_t              local_len,
                                                      const LspSockaddr     *remote,
                                                      socklen_t              remote_len,
                                                      const ngtcp2_pkt_hd   *hd,
                                                      GError               **error);
void               lsp_quic_connection_handle_packet (LspQuicConnection     *self,
                                                      const LspSockaddr     *remote,
                                                      socklen_t              remote_len,
                                                      const guint8          *data,
                                                      gsize                  length,
                                                      gboolean               stray);
void               lsp_quic_connection_start_connect (LspQuicConnection     *self,
                                                      GTask                 *task);
void               lsp_quic_connection_schedule      (LspQuicConnection     *self);
GSource           *lsp_quic_timer_source_new         (const char            *name,
                                                      GSourceFunc            callback,
                                                      gpointer               user_data,
                                                      GMainContext          *context);
void               lsp_quic_connection_flush         (LspQuicConnection     *self);
gboolean           lsp_quic_connection_is_handshaking(LspQuicConnection     *self);
const char        *lsp_quic_connection_get_address_key (LspQuicConnection   *self);
const LspSockaddr *lsp_quic_connection_get_remote    (LspQuicConnection     *self);
void               lsp_quic_connection_stream_ready  (LspQuicConnection     *self,
                                                      LspQuicStream         *stream);
void               lsp_quic_connection_stream_credit (LspQuicConnection     *self,
                                                      LspQuicStream         *stream,
                                                      gsize                  length);
void               lsp_quic_connection_stream_reset  (LspQuicConnection     *self,
                                                      LspQuicStream         *stream,
                                                      guint64                app_error_code);
gboolean           lsp_quic_connection_check_open    (LspQuicConnection     *self,
                                                      GError               **error);

/* Stream side */
typedef struct
{
  GBytes  *bytes;
  gsize    sent;         /* bytes handed to ngtcp2 */
  guint64  offset;       /* stream offset of the first byte */
  gboolean fin;
  GTask   *task;         /* completed once every byte was handed to ngtcp2 */
  GSource *cancel_source;
} LspQuicChunk;

/* Write results are collected while ngtcp2 state is being walked and handed
 * to callers afterwards, so a callback that writes again cannot re-enter. */
typedef struct
{
  GTask  *task;
  GError *error;
} LspQuicCompletion;

GPtrArray *lsp_quic_completions_new (void);
void       lsp_quic_completions_run (GPtrArray *completions);

struct _LspQuicStream
{
  GObject               parent_instance;

  LspQuicConnection    *connection;   /* weak: cleared when the connection ends */
  gint64                id;
  gboolean              local;

  /* sending */
  GQueue                chunks;       /* LspQuicChunk, oldest unacked first */
  GList                *send_cursor;  /* first chunk not handed to ngtcp2 whole */
  guint64               write_offset; /* end of the last queued chunk */
  guint64               acked_offset;
  gsize                 queued;       /* bytes not yet handed to ngtcp2 */
  gboolean              fin_queued;
  gboolean              fin_sent;
  gboolean              write_closed; /* reset, stopped or connection gone */
  GList                 send_link;    /* link in the connection's send queue */
  gboolean              in_send_queue;
  gboolean              blocked;
  gboolean              bulk;

  /* receiving */
  LspQuicStreamReadFunc read_func;
  gpointer              read_data;
  GDestroyNotify        read_destroy;
  GByteArray           *early;        /* data that arrived before a read func */
  gboolean              early_fin;
  GError               *early_error;  /* the end, if it came before a read func */
  gboolean              read_done;
  gboolean              paused;
  gsize                 uncredited;   /* delivered while paused */
};

LspQuicStream *lsp_quic_stream_new_internal  (LspQuicConnection *connection,
                                              gint64             id,
                                              gboolean           local);
gsize          lsp_quic_stream_deliver       (LspQuicStream     *self,
                                              const guint8      *data,
                                              gsize              length,
                                              gboolean           fin);
void           lsp_quic_stream_fail          (LspQuicStream     *self,
                                              const GError      *error);
void           lsp_quic_stream_fail_read     (LspQuicStream     *self,
                                              const GError      *error);
gsize          lsp_quic_stream_get_send_vec  (LspQuicStream     *self,
                                              ngtcp2_vec        *vec,
                                              gsize              max_vec,
                                              gboolean          *fin);
void           lsp_quic_stream_consumed      (LspQuicStream     *self,
                                              gsize              length,
                                              gboolean           fin_written,
                                              GPtrArray         *completed);
void           lsp_quic_stream_acked         (LspQuicStream     *self,
                                              guint64            offset,
                                              guint64            length);
gboolean       lsp_quic_stream_has_pending   (LspQuicStream     *self);
void           lsp_quic_stream_write_failed  (LspQuicStream     *self,
                                              const GError      *error,
                                              GPtrArray         *completed);

G_END_DECLS
