#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lsp-identity.h"
#include "lsp-quic-endpoint.h"
#include "lsp-sha256.h"
#include "lsp-test-util.h"

/* Fixture: a server and a client endpoint on loopback, each with its own
 * identity in its own state directory. */
typedef struct
{
  char              *dir;
  LspIdentity       *server_id;
  LspIdentity       *client_id;
  LspQuicEndpoint   *server;
  LspQuicEndpoint   *client;
  GPtrArray         *server_conns;
} Fixture;

static LspIdentity *
make_identity (const char *dir,
               const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (dir, name, NULL);
  LspIdentity *identity = lsp_identity_load_or_create (path, &error);

  g_assert_no_error (error);
  return identity;
}

static LspQuicEndpoint *
make_endpoint (LspIdentity *identity,
               const char  *host)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (host);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (inet, 0);
  LspQuicEndpoint *endpoint = lsp_quic_endpoint_new (identity, G_INET_SOCKET_ADDRESS (addr), &error);

  g_assert_no_error (error);
  return endpoint;
}

static GInetSocketAddress *
endpoint_address (LspQuicEndpoint *endpoint)
{
  return g_object_ref (lsp_quic_endpoint_get_local_address (endpoint));
}

static void
on_server_connection (LspQuicEndpoint   *endpoint,
                      LspQuicConnection *conn,
                      gpointer           user_data)
{
  Fixture *f = user_data;
  g_ptr_array_add (f->server_conns, g_object_ref (conn));
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  const char *host = data != NULL ? data : "127.0.0.1";

  f->dir = lsp_test_make_temp_dir ();
  f->server_id = make_identity (f->dir, "server");
  f->client_id = make_identity (f->dir, "client");
  f->server = make_endpoint (f->server_id, host);
  f->client = make_endpoint (f->client_id, host);
  f->server_conns = g_ptr_array_new_with_free_func (g_object_unref);
  g_signal_connect (f->server, "incoming-connection", G_CALLBACK (on_server_connection), f);
}

static void
drain_main_context (void)
{
  for (guint i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_pointer (&f->server_conns, g_ptr_array_unref);
  g_clear_object (&f->client);
  g_clear_object (&f->server);
  drain_main_context ();
  g_clear_object (&f->server_id);
  g_clear_object (&f->client_id);
  lsp_test_remove_tree (f->dir);
  g_free (f->dir);
}

static gboolean
on_wait_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the main loop until *flag is set; fails the test after
 * timeout_ms so that a hang is a failure, never a stuck run. */
static void
wait_for_flag (const gboolean *flag,
               guint           timeout_ms,
               const char     *what)
{
  gboolean timed_out = FALSE;
  guint source = g_timeout_add (timeout_ms, on_wait_timeout, &timed_out);

  while (!*flag && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (source);
  if (!*flag)
    g_error ("Timed out after %u ms waiting for %s", timeout_ms, what);
}

typedef struct
{
  gboolean           done;
  LspQuicConnection *conn;
  GError            *error;
} ConnectResult;

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  ConnectResult *r = user_data;

  r->conn = lsp_quic_endpoint_connect_finish (LSP_QUIC_ENDPOINT (source), result, &r->error);
  r->done = TRUE;
}

static LspQuicConnection *
connect_sync (LspQuicEndpoint *client,
              LspQuicEndpoint *server,
              const char      *expected_peer_id,
              GError         **error)
{
  g_autoptr(GInetSocketAddress) addr = endpoint_address (server);
  ConnectResult r = { 0 };

  lsp_quic_endpoint_connect_async (client, addr, expected_peer_id, NULL, on_connected, &r);
  wait_for_flag (&r.done, 20000, "the handshake");
  if (r.error != NULL)
    g_propagate_error (error, r.error);
  return r.conn;
}

/* Echo server --------------------------------------------------------- */

static void
echo_read (LspQuicStream *stream,
           const guint8  *data,
           gsize          length,
           gboolean       fin,
           const GError  *error,
           gpointer       user_data)
{
  if (error != NULL)
    return;
  if (length > 0 || fin)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (data, length);
      lsp_quic_stream_write_bytes_async (stream, bytes, fin, NULL, NULL, NULL);
    }
}

static void
on_echo_stream (LspQuicConnection *conn,
                LspQuicStream     *stream,
                gpointer           user_data)
{
  lsp_quic_stream_set_read_func (stream, echo_read, NULL, NULL);
}

static void
on_echo_connection (LspQuicEndpoint   *endpoint,
                    LspQuicConnection *conn,
                    gpointer           user_data)
{
  g_signal_connect (conn, "incoming-stream", G_CALLBACK (on_echo_stream), NULL);
}

/* Collects what a stream receives. */
typedef struct
{
  GByteArray *data;
  gboolean    fin;
  gboolean    done;
  GError     *error;
} Sink;

static void
sink_read (LspQuicStream *stream,
           const guint8  *data,
           gsize          length,
           gboolean       fin,
           const GError  *error,
           gpointer       user_data)
{
  Sink *sink = user_data;

  g_byte_array_append (sink->data, data, (guint) length);
  if (error != NULL)
    sink->error = g_error_copy (error);
  sink->fin = fin;
  if (fin || error != NULL)
    sink->done = TRUE;
}

static void
sink_clear (Sink *sink)
{
  g_clear_pointer (&sink->data, g_byte_array_unref);
  g_clear_error (&sink->error);
}

static void
test_handshake_echo (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  g_autoptr(LspQuicStream) stream = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("hello, lanspread", 16);
  Sink sink = { g_byte_array_new () };
  LspKnownPeers *known;

  g_signal_connect (f->server, "incoming-connection", G_CALLBACK (on_echo_connection), NULL);

  conn = connect_sync (f->client, f->server, lsp_identity_get_peer_id (f->server_id), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lsp_quic_connection_get_peer_id (conn), ==, lsp_identity_get_peer_id (f->server_id));
  g_assert_false (lsp_quic_connection_is_server (conn));

  stream = lsp_quic_connection_open_stream (conn, TRUE, &error);
  g_assert_no_error (error);
  lsp_quic_stream_set_read_func (stream, sink_read, &sink, NULL);
  lsp_quic_stream_write_bytes_async (stream, message, TRUE, NULL, NULL, NULL);
  wait_for_flag (&sink.done, 10000, "the echo");

  g_assert_no_error (sink.error);
  g_assert_true (sink.fin);
  g_assert_cmpmem (sink.data->data, sink.data->len, "hello, lanspread", 16);

  /* The server authenticated the client too, and both remember each other. */
  g_assert_cmpuint (f->server_conns->len, ==, 1);
  g_assert_cmpstr (lsp_quic_connection_get_peer_id (f->server_conns->pdata[0]), ==,
                   lsp_identity_get_peer_id (f->client_id));
  known = lsp_quic_endpoint_get_known_peers (f->client);
  g_assert_true (lsp_known_peers_contains (known, lsp_identity_get_peer_id (f->server_id)));
  known = lsp_quic_endpoint_get_known_peers (f->server);
  g_assert_true (lsp_known_peers_contains (known, lsp_identity_get_peer_id (f->client_id)));

  sink_clear (&sink);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/quic/handshake-echo", Fixture, NULL, fixture_setup, test_handshake_echo, fixture_teardown);

  return g_test_run ();
}
