#include "config.h"

#include "lsp-test-peer.h"

#include "lsp-test-util.h"

/* swarm FALSE: the node does not list the feature, like a peer from
 * before it. Liveness is short, so a peer that is gone is noticed soon. */
void
lsp_test_peer_start (LspTestPeer        *peer,
                     const char         *name,
                     const char * const *catalog_ids,
                     gboolean            swarm)
{
  g_autoptr(LspCatalog) catalog = lsp_test_catalog_new (catalog_ids);
  g_autoptr(GFile) dir = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) bind = g_inet_socket_address_new (loopback, peer->port);
  g_autoptr(GError) error = NULL;

  if (peer->games == NULL)
    peer->games = lsp_test_make_temp_dir ();
  if (peer->state == NULL)
    peer->state = lsp_test_make_temp_dir ();
  dir = g_file_new_for_path (peer->games);
  peer->library = lsp_library_new (dir, catalog);
  lsp_test_load_library (peer->library);
  lsp_library_watch (peer->library);
  peer->identity = lsp_identity_load_or_create (peer->state, &error);
  g_assert_no_error (error);
  peer->node = lsp_node_new (peer->library, peer->identity, name);
  lsp_node_set_swarm (peer->node, swarm);
  lsp_node_set_liveness (peer->node, 500, 3000);
  lsp_node_start (peer->node, G_INET_SOCKET_ADDRESS (bind), &error);
  g_assert_no_error (error);
  peer->port = lsp_node_get_port (peer->node);
  peer->server = lsp_chunk_server_new (peer->node, peer->library);
  peer->downloads = lsp_download_manager_new (peer->node, peer->library);
}

static gboolean
flag_set (gpointer data)
{
  return *(gboolean *) data;
}

static void
on_manager_stopped (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_assert_true (lsp_download_manager_stop_finish (LSP_DOWNLOAD_MANAGER (object), result, NULL));
  *(gboolean *) user_data = TRUE;
}

static gboolean
library_gone (gpointer data)
{
  return *(LspLibrary **) data == NULL;
}

void
lsp_test_peer_stop_downloads (LspTestPeer *peer)
{
  gboolean stopped = FALSE;

  lsp_download_manager_stop_async (peer->downloads, on_manager_stopped, &stopped);
  g_assert_true (lsp_test_wait_until (flag_set, &stopped, 20000));
}

/* Drops the peer without a Goodbye, as when its process is killed, and
 * waits until nothing holds its library: Goodbyes, refusals and answers
 * in flight still do for a moment, and only then may its folder go. */
void
lsp_test_peer_vanish (LspTestPeer *peer)
{
  g_clear_object (&peer->downloads);
  g_clear_object (&peer->server);
  g_clear_object (&peer->node);
  g_clear_object (&peer->identity);
  g_object_add_weak_pointer (G_OBJECT (peer->library), (gpointer *) &peer->library);
  g_object_unref (peer->library);
  g_assert_true (lsp_test_wait_until (library_gone, &peer->library, 20000));
}

void
lsp_test_peer_stop (LspTestPeer *peer)
{
  lsp_test_peer_stop_downloads (peer);
  lsp_node_stop (peer->node, "test over");
  lsp_test_peer_vanish (peer);
}

void
lsp_test_peer_clear (LspTestPeer *peer)
{
  if (peer->node != NULL)
    lsp_test_peer_stop (peer);
  lsp_test_remove_tree (peer->games);
  lsp_test_remove_tree (peer->state);
  g_clear_pointer (&peer->games, g_free);
  g_clear_pointer (&peer->state, g_free);
}
