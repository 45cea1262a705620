/* lsp-test-peer.h: a whole peer in the test's process — library, node on
 * loopback, chunk server, download manager — for the transfer tests */
#pragma once

#include "lsp-chunk-server.h"
#include "lsp-download-manager.h"
#include "lsp-frame-decoder.h"
#include "lsp-identity.h"
#include "lsp-library.h"
#include "lsp-node.h"
#include "lsp-proto.h"

G_BEGIN_DECLS

typedef struct
{
  char               *games;     /* made when NULL at the first start */
  char               *state;     /* likewise */
  guint16             port;      /* 0: any; the node's port once started, kept for a restart */
  LspLibrary         *library;
  LspIdentity        *identity;
  LspNode            *node;
  LspChunkServer     *server;
  LspDownloadManager *downloads;
} LspTestPeer;

void lsp_test_peer_start (LspTestPeer        *peer,
                          const char         *name,
                          const char * const *catalog_ids,
                          gboolean            swarm);
void lsp_test_peer_stop_downloads (LspTestPeer *peer);
void lsp_test_peer_vanish (LspTestPeer       *peer);
void lsp_test_peer_stop  (LspTestPeer        *peer);
void lsp_test_peer_clear (LspTestPeer        *peer);
/* One data stream's answer, read as a client that asks what it likes. */
typedef struct
{
  LspFrameDecoder *decoder;
  LspMessage      *answer;   /* the first frame, parsed */
  GByteArray      *bytes;    /* what came after it */
  gboolean         done;     /* the stream ended or failed */
} LspTestRaw;

LspQuicStream *lsp_test_raw_open  (LspTestRaw    *raw,
                                   LspTestPeer   *client,
                                   LspTestPeer   *server);
gboolean       lsp_test_raw_done  (gpointer       raw);
void           lsp_test_raw_clear (LspTestRaw    *raw,
                                   LspQuicStream *stream);

/* How a download ended, as its manager's "download-finished" reported it. */
typedef struct
{
  gboolean    done;
  GError     *error;
  GHashTable *peer_bytes;        /* peer_id → guint64 *: what each source gave */
  guint64     bytes_reused;
  guint64     bytes_resumed;
  guint64     bytes_received;
  guint       chunks_repaired;
} LspTestOutcome;

void lsp_test_outcome_watch (LspTestOutcome     *outcome,
                             LspDownloadManager *downloads);
void lsp_test_outcome_wait  (LspTestOutcome     *outcome,
                             LspDownloadManager *downloads,
                             guint               timeout_ms);
void lsp_test_outcome_clear (LspTestOutcome     *outcome);

char *lsp_test_peer_ask_raw (LspTestPeer     *client,
                             LspTestPeer     *server,
                             GBytes          *frame,
                             guint            timeout_ms,
                             GByteArray      *out_bytes);

G_END_DECLS
