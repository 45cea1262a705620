/* lsp-test-peer.h: a whole peer in the test's process — library, node on
 * loopback, chunk server, download manager — for the transfer tests */
#pragma once

#include "lsp-chunk-server.h"
#include "lsp-download-manager.h"
#include "lsp-identity.h"
#include "lsp-library.h"
#include "lsp-node.h"

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

G_END_DECLS
