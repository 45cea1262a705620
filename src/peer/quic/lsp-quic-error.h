/* lsp-quic-error.h: errors of the QUIC transport */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LSP_QUIC_ERROR (lsp_quic_error_quark ())

typedef enum {
  LSP_QUIC_ERROR_HANDSHAKE,         /* TLS or QUIC handshake failed */
  LSP_QUIC_ERROR_PEER_MISMATCH,     /* the peer's key is not the pinned peer_id */
  LSP_QUIC_ERROR_HANDSHAKE_TIMEOUT, /* the handshake did not finish in time */
  LSP_QUIC_ERROR_IDLE_TIMEOUT,      /* nothing heard from the peer for too long */
  LSP_QUIC_ERROR_PEER_CLOSED,       /* the peer closed the connection */
  LSP_QUIC_ERROR_PEER_RESET,        /* the peer sent a stateless reset */
  LSP_QUIC_ERROR_CLOSED,            /* closed locally */
  LSP_QUIC_ERROR_STREAM_RESET,      /* the peer reset or stopped the stream */
  LSP_QUIC_ERROR_LIMIT,             /* a documented limit was reached */
  LSP_QUIC_ERROR_PROTOCOL,          /* QUIC protocol or internal transport error */
  LSP_QUIC_ERROR_NETWORK,           /* the socket failed */
} LspQuicErrorCode;

/* Application error codes carried in CONNECTION_CLOSE and RESET_STREAM. */
typedef enum {
  LSP_QUIC_APP_NO_ERROR  = 0x0,
  LSP_QUIC_APP_CANCELLED = 0x1,
  LSP_QUIC_APP_SHUTDOWN  = 0x2,
  LSP_QUIC_APP_INTERNAL  = 0x3,
} LspQuicAppError;

GQuark lsp_quic_error_quark (void);

G_END_DECLS
