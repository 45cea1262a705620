#include "config.h"

#include "lsp-test-peer.h"

#include "lsp-test-util.h"

#include "lsp-frame-decoder.h"
#include "lsp-proto.h"

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

static void
on_raw_read (LspQuicStream *stream,
             const guint8  *data,
             gsize          length,
             gboolean       fin,
             const GError  *error,
             gpointer       user_data)
{
  LspTestRaw *raw = user_data;

  if (error != NULL)
    {
      raw->done = TRUE;
      return;
    }
  if (raw->answer == NULL)
    {
      gsize used = lsp_frame_decoder_feed (raw->decoder, data, length, NULL);
      g_autoptr(GBytes) frame = lsp_frame_decoder_pop (raw->decoder);

      if (frame != NULL)
        raw->answer = lsp_message_parse (g_bytes_get_data (frame, NULL), g_bytes_get_size (frame), NULL);
      data += used;
      length -= used;
    }
  g_byte_array_append (raw->bytes, data, (guint) length);
  if (fin)
    raw->done = TRUE;
}

/* A new data stream from client to server, as any client could open one:
 * its first frame is parsed into raw->answer, the bytes after it gathered
 * in raw->bytes. Returns the stream (transfer full). */
LspQuicStream *
lsp_test_raw_open (LspTestRaw  *raw,
                   LspTestPeer *client,
                   LspTestPeer *server)
{
  LspQuicConnection *conn = lsp_node_get_connection (client->node, lsp_identity_get_peer_id (server->identity));
  g_autoptr(GError) error = NULL;
  LspQuicStream *stream;

  raw->decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_FRAME);
  raw->answer = NULL;
  raw->bytes = g_byte_array_new ();
  raw->done = FALSE;
  g_assert_nonnull (conn);
  stream = lsp_quic_connection_open_stream (conn, TRUE, &error);
  g_assert_no_error (error);
  lsp_quic_stream_set_read_func (stream, on_raw_read, raw, NULL);
  return stream;
}

gboolean
lsp_test_raw_done (gpointer raw)
{
  return ((LspTestRaw *) raw)->done;
}

void
lsp_test_raw_clear (LspTestRaw    *raw,
                    LspQuicStream *stream)
{
  lsp_quic_stream_set_read_func (stream, NULL, NULL, NULL);
  lsp_frame_decoder_free (raw->decoder);
  g_clear_pointer (&raw->answer, lsp_message_unref);
  g_byte_array_unref (raw->bytes);
}

/* Sends frame on a new data stream from client to server and returns the
 * answer's Error code, or "chunk" with the bytes that followed the Chunk
 * frame appended to out_bytes (may be NULL). */
char *
lsp_test_peer_ask_raw (LspTestPeer *client,
                       LspTestPeer *server,
                       GBytes      *frame,
                       guint        timeout_ms,
                       GByteArray  *out_bytes)
{
  LspTestRaw raw;
  g_autoptr(LspQuicStream) stream = lsp_test_raw_open (&raw, client, server);
  char *code;

  lsp_quic_stream_write_bytes_async (stream, frame, TRUE, NULL, NULL, NULL);
  g_assert_true (lsp_test_wait_until (lsp_test_raw_done, &raw, timeout_ms));
  g_assert_nonnull (raw.answer);
  if (raw.answer->type == LSP_MESSAGE_ERROR)
    code = g_strdup (raw.answer->error.code);
  else
    {
      g_assert_cmpint (raw.answer->type, ==, LSP_MESSAGE_CHUNK);
      code = g_strdup ("chunk");
      if (out_bytes != NULL)
        g_byte_array_append (out_bytes, raw.bytes->data, raw.bytes->len);
    }
  lsp_test_raw_clear (&raw, stream);
  return code;
}

static void
on_outcome_finished (LspDownloadManager *manager,
                     LspDownload        *download,
                     const GError       *error,
                     LspTestOutcome     *outcome)
{
  outcome->done = TRUE;
  outcome->error = error != NULL ? g_error_copy (error) : NULL;
  outcome->peer_bytes = lsp_download_dup_peer_bytes (download);
  outcome->bytes_reused = lsp_download_get_bytes_reused (download);
  outcome->bytes_resumed = lsp_download_get_bytes_resumed (download);
  outcome->bytes_received = lsp_download_get_bytes_received (download);
  outcome->chunks_repaired = lsp_download_get_chunks_repaired (download);
}

/* Fills outcome when a download of downloads ends. */
void
lsp_test_outcome_watch (LspTestOutcome     *outcome,
                        LspDownloadManager *downloads)
{
  g_signal_connect (downloads, "download-finished", G_CALLBACK (on_outcome_finished), outcome);
}

static gboolean
outcome_done (gpointer outcome)
{
  return ((LspTestOutcome *) outcome)->done;
}

/* Until the download ended (the test fails after timeout_ms), then stops
 * watching. */
void
lsp_test_outcome_wait (LspTestOutcome     *outcome,
                       LspDownloadManager *downloads,
                       guint               timeout_ms)
{
  g_assert_true (lsp_test_wait_until (outcome_done, outcome, timeout_ms));
  g_signal_handlers_disconnect_by_data (downloads, outcome);
}

void
lsp_test_outcome_clear (LspTestOutcome *outcome)
{
  g_clear_error (&outcome->error);
  g_clear_pointer (&outcome->peer_bytes, g_hash_table_unref);
}
