#include "config.h"

#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lsp-error.h"
#include "lsp-identity.h"
#include "lsp-known-peers.h"
#include "lsp-quic-endpoint.h"
#include "lsp-sha256.h"
#include "lsp-test-util.h"

/* The transport is protocol-neutral: its tests speak an ALPN of their own. */
#define TEST_ALPN "lanspread-test/1"

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
  LspQuicEndpoint *endpoint = lsp_quic_endpoint_new (identity, TEST_ALPN, G_INET_SOCKET_ADDRESS (addr), &error);

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
  g_assert_cmpuint (g_inet_socket_address_get_port (lsp_quic_connection_get_remote_address (conn)), ==,
                    lsp_quic_endpoint_get_port (f->server));

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

/* Large transfer ------------------------------------------------------- */

#define CHUNK_SIZE    (1024 * 1024)
#define MAX_IN_FLIGHT 4

/* A cheap deterministic byte stream, so both ends know nothing but what
 * went over the wire. */
static void
fill_pattern (guint8  *buf,
              gsize    length,
              guint64 *state)
{
  guint64 x = *state;

  for (gsize i = 0; i + 8 <= length; i += 8)
    {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      memcpy (buf + i, &x, 8);
    }
  *state = x;
}

typedef struct
{
  LspQuicStream *stream;
  LspSha256     *sha;
  guint64        state;
  gsize          total;
  gsize          queued;
  guint          in_flight;
  gboolean       all_queued;
  gboolean       write_failed;
  GError        *error;
} Sender;

static void sender_pump (Sender *s);

static void
on_chunk_written (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Sender *s = user_data;
  g_autoptr(GError) error = NULL;

  s->in_flight--;
  if (!lsp_quic_stream_write_bytes_finish (LSP_QUIC_STREAM (source), result, &error))
    {
      if (s->error == NULL)
        s->error = g_steal_pointer (&error);
      s->write_failed = TRUE;
      return;
    }
  sender_pump (s);
}

/* Keeps a few writes in flight: each completes once QUIC took its bytes,
 * which is the backpressure. */
static void
sender_pump (Sender *s)
{
  while (!s->write_failed && s->queued < s->total && s->in_flight < MAX_IN_FLIGHT)
    {
      gsize n = MIN (CHUNK_SIZE, s->total - s->queued);
      guint8 *buf = g_malloc (n);
      g_autoptr(GBytes) bytes = NULL;

      fill_pattern (buf, n, &s->state);
      lsp_sha256_update (s->sha, buf, n);
      bytes = g_bytes_new_take (buf, n);
      s->queued += n;
      s->in_flight++;
      g_assert_cmpuint (lsp_quic_stream_get_queued_bytes (s->stream), <=, LSP_QUIC_STREAM_MAX_QUEUED);
      lsp_quic_stream_write_bytes_async (s->stream, bytes, s->queued == s->total, NULL,
                                         on_chunk_written, s);
    }
  if (s->queued == s->total)
    s->all_queued = TRUE;
}

/* Server side of the big transfer: hashes the data, answers the digest on
 * the same stream, and checks the digest the client sends on a uni stream. */
typedef struct
{
  LspSha256 *sha;
  gsize      received;
  guint8     digest[LSP_SHA256_LEN];
  gboolean   data_done;
  GByteArray *claimed;
  gboolean   claimed_done;
} HashServer;

static void
hash_server_read (LspQuicStream *stream,
                  const guint8  *data,
                  gsize          length,
                  gboolean       fin,
                  const GError  *error,
                  gpointer       user_data)
{
  HashServer *h = user_data;

  g_assert_no_error (error);
  lsp_sha256_update (h->sha, data, length);
  h->received += length;
  if (fin)
    {
      g_autoptr(GBytes) reply = NULL;

      lsp_sha256_finish (h->sha, h->digest);
      reply = g_bytes_new (h->digest, sizeof h->digest);
      lsp_quic_stream_write_bytes_async (stream, reply, TRUE, NULL, NULL, NULL);
      h->data_done = TRUE;
    }
}

static void
claimed_read (LspQuicStream *stream,
              const guint8  *data,
              gsize          length,
              gboolean       fin,
              const GError  *error,
              gpointer       user_data)
{
  HashServer *h = user_data;

  g_assert_no_error (error);
  g_byte_array_append (h->claimed, data, (guint) length);
  if (fin)
    h->claimed_done = TRUE;
}

static void
on_hash_stream (LspQuicConnection *conn,
                LspQuicStream     *stream,
                gpointer           user_data)
{
  if (lsp_quic_stream_is_bidirectional (stream))
    lsp_quic_stream_set_read_func (stream, hash_server_read, user_data, NULL);
  else
    lsp_quic_stream_set_read_func (stream, claimed_read, user_data, NULL);
}

static void
on_hash_connection (LspQuicEndpoint   *endpoint,
                    LspQuicConnection *conn,
                    gpointer           user_data)
{
  g_signal_connect (conn, "incoming-stream", G_CALLBACK (on_hash_stream), user_data);
}

static void
test_large_transfer (Fixture       *f,
                     gconstpointer  data)
{
  const gsize total = 256 * 1024 * 1024;
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  g_autoptr(LspQuicStream) uni = NULL;
  g_autoptr(GBytes) claimed = NULL;
  HashServer h = { lsp_sha256_new (), 0, { 0 }, FALSE, g_byte_array_new (), FALSE };
  Sender s = { NULL, lsp_sha256_new (), 0x9e3779b97f4a7c15ull, total };
  Sink sink = { g_byte_array_new () };
  guint8 sent_digest[LSP_SHA256_LEN];

  g_signal_connect (f->server, "incoming-connection", G_CALLBACK (on_hash_connection), &h);
  conn = connect_sync (f->client, f->server, NULL, &error);
  g_assert_no_error (error);

  s.stream = lsp_quic_connection_open_stream (conn, TRUE, &error);
  g_assert_no_error (error);
  lsp_quic_stream_set_read_func (s.stream, sink_read, &sink, NULL);
  sender_pump (&s);
  wait_for_flag (&sink.done, 240000, "256 MiB to go through");
  g_assert_no_error (s.error);
  g_assert_no_error (sink.error);
  g_assert_true (s.all_queued);
  g_assert_true (h.data_done);
  g_assert_cmpuint (h.received, ==, total);

  /* Client side: the server's digest of what it received matches ours. */
  lsp_sha256_finish (s.sha, sent_digest);
  g_assert_cmpmem (sink.data->data, sink.data->len, sent_digest, sizeof sent_digest);

  /* Server side: our digest, sent separately, matches what it computed. */
  uni = lsp_quic_connection_open_stream (conn, FALSE, &error);
  g_assert_no_error (error);
  claimed = g_bytes_new (sent_digest, sizeof sent_digest);
  lsp_quic_stream_write_bytes_async (uni, claimed, TRUE, NULL, NULL, NULL);
  wait_for_flag (&h.claimed_done, 10000, "the digest on the uni stream");
  g_assert_cmpmem (h.claimed->data, h.claimed->len, h.digest, sizeof h.digest);

  g_clear_object (&s.stream);
  lsp_sha256_free (s.sha);
  lsp_sha256_free (h.sha);
  g_byte_array_unref (h.claimed);
  sink_clear (&sink);
}

/* Parallel streams ----------------------------------------------------- */

#define N_PARALLEL 100
#define PARALLEL_SIZE (64 * 1024 + 17)

static void
test_parallel_streams (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  LspQuicStream *streams[N_PARALLEL];
  Sink sinks[N_PARALLEL];
  GBytes *payloads[N_PARALLEL];

  g_signal_connect (f->server, "incoming-connection", G_CALLBACK (on_echo_connection), NULL);
  conn = connect_sync (f->client, f->server, NULL, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < N_PARALLEL; i++)
    {
      guint8 *buf = g_malloc (PARALLEL_SIZE);
      guint64 state = 1000 + i;

      fill_pattern (buf, PARALLEL_SIZE, &state);
      payloads[i] = g_bytes_new_take (buf, PARALLEL_SIZE);
      memset (&sinks[i], 0, sizeof sinks[i]);
      sinks[i].data = g_byte_array_new ();
      streams[i] = lsp_quic_connection_open_stream (conn, TRUE, &error);
      g_assert_no_error (error);
      lsp_quic_stream_set_read_func (streams[i], sink_read, &sinks[i], NULL);
      lsp_quic_stream_write_bytes_async (streams[i], payloads[i], TRUE, NULL, NULL, NULL);
    }

  for (guint i = 0; i < N_PARALLEL; i++)
    {
      gsize size;
      const guint8 *expected = g_bytes_get_data (payloads[i], &size);

      wait_for_flag (&sinks[i].done, 30000, "a parallel stream's echo");
      g_assert_no_error (sinks[i].error);
      g_assert_cmpmem (sinks[i].data->data, sinks[i].data->len, expected, size);
    }

  /* Distinct stream IDs, all on one connection. */
  g_assert_cmpuint (f->server_conns->len, ==, 1);
  for (guint i = 1; i < N_PARALLEL; i++)
    g_assert_cmpint (lsp_quic_stream_get_id (streams[i]), >, lsp_quic_stream_get_id (streams[i - 1]));

  for (guint i = 0; i < N_PARALLEL; i++)
    {
      g_object_unref (streams[i]);
      g_bytes_unref (payloads[i]);
      sink_clear (&sinks[i]);
    }
}

/* Bulk streams ---------------------------------------------------------- */

#define BULK_SIZE    (1024 * 1024)
#define BULK_STREAMS 4

/* When each stream's first byte and its end arrived, counted in reads
 * over all streams of the connection. */
typedef struct
{
  guint    n_reads;
  guint    first[BULK_STREAMS];
  guint    end[BULK_STREAMS];
  guint    n_ended;
  gboolean done;
} Arrivals;

static void
arrival_read (LspQuicStream *stream,
              const guint8  *data,
              gsize          length,
              gboolean       fin,
              const GError  *error,
              gpointer       user_data)
{
  Arrivals *arrivals = user_data;
  guint index = (guint) (lsp_quic_stream_get_id (stream) / 4);

  g_assert_no_error (error);
  g_assert_cmpuint (index, <, BULK_STREAMS);
  arrivals->n_reads++;
  if (arrivals->first[index] == 0 && length > 0)
    arrivals->first[index] = arrivals->n_reads;
  if (fin)
    {
      arrivals->end[index] = arrivals->n_reads;
      arrivals->done = ++arrivals->n_ended == BULK_STREAMS;
    }
}

static void
on_arrival_stream (LspQuicConnection *conn,
                   LspQuicStream     *stream,
                   gpointer           user_data)
{
  lsp_quic_stream_set_read_func (stream, arrival_read, user_data, NULL);
}

static void
on_arrival_connection (LspQuicEndpoint   *endpoint,
                       LspQuicConnection *conn,
                       gpointer           user_data)
{
  g_signal_connect (conn, "incoming-stream", G_CALLBACK (on_arrival_stream), user_data);
}

/* Bulk streams go one after another, each whole before the next starts;
 * a stream that is not bulk goes before them. */
static void
test_bulk_streams (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  g_autoptr(GBytes) payload = g_bytes_new_take (g_malloc0 (BULK_SIZE), BULK_SIZE);
  g_autoptr(GBytes) small = g_bytes_new_static ("interactive", 11);
  LspQuicStream *streams[BULK_STREAMS];
  Arrivals arrivals = { 0 };

  g_signal_connect (f->server, "incoming-connection", G_CALLBACK (on_arrival_connection), &arrivals);
  conn = connect_sync (f->client, f->server, NULL, &error);
  g_assert_no_error (error);

  /* Streams 0, 1 and 2 are bulk; 3, queued last, is not. */
  for (guint i = 0; i < BULK_STREAMS; i++)
    {
      streams[i] = lsp_quic_connection_open_stream (conn, TRUE, &error);
      g_assert_no_error (error);
      g_assert_cmpint (lsp_quic_stream_get_id (streams[i]), ==, 4 * i);
      lsp_quic_stream_set_bulk (streams[i], i < BULK_STREAMS - 1);
      lsp_quic_stream_write_bytes_async (streams[i], i < BULK_STREAMS - 1 ? payload : small, TRUE,
                                         NULL, NULL, NULL);
    }
  wait_for_flag (&arrivals.done, 30000, "every stream's end");

  g_assert_cmpuint (arrivals.end[3], <, arrivals.first[0]);
  g_assert_cmpuint (arrivals.end[0], <, arrivals.first[1]);
  g_assert_cmpuint (arrivals.end[1], <, arrivals.first[2]);
  for (guint i = 0; i < BULK_STREAMS; i++)
    g_object_unref (streams[i]);
}

/* Peer killed mid-transfer -------------------------------------------- */

#define KILL_IDLE_TIMEOUT_MS 1500

/* The child is a bare receiver that reports its port through a pipe and
 * then just reads until it is killed. */
static void
child_server (const char *state_dir,
              int         port_fd)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspIdentity) identity = NULL;
  g_autoptr(LspQuicEndpoint) endpoint = NULL;
  GMainContext *context = g_main_context_new ();
  HashServer *h;
  guint16 port;

  /* The parent's sources live on the global default context; the child
   * must never dispatch them. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  g_main_context_push_thread_default (context);
  identity = lsp_identity_load_or_create (state_dir, &error);
  g_assert_no_error (error);
  endpoint = make_endpoint (identity, "127.0.0.1");
  lsp_quic_endpoint_set_idle_timeout (endpoint, KILL_IDLE_TIMEOUT_MS);
  h = g_new0 (HashServer, 1);
  h->sha = lsp_sha256_new ();
  h->claimed = g_byte_array_new ();
  g_signal_connect (endpoint, "incoming-connection", G_CALLBACK (on_hash_connection), h);
  port = lsp_quic_endpoint_get_port (endpoint);
  if (write (port_fd, &port, sizeof port) != sizeof port)
    _exit (2);
  for (;;)
    g_main_context_iteration (context, TRUE);
}

static pid_t
spawn_child_server (const char *state_dir,
                    guint16    *port)
{
  int fds[2];
  pid_t pid;

  g_assert_cmpint (pipe (fds), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      close (fds[0]);
      child_server (state_dir, fds[1]);
      _exit (0);
    }
  close (fds[1]);
  g_assert_cmpint (read (fds[0], port, sizeof *port), ==, sizeof *port);
  close (fds[0]);
  return pid;
}

typedef struct
{
  gboolean done;
  GError  *error;
} Closed;

static void
on_closed (LspQuicConnection *conn,
           const GError      *error,
           gpointer           user_data)
{
  Closed *c = user_data;

  c->error = g_error_copy (error);
  c->done = TRUE;
}

static void
test_peer_killed (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = NULL;
  g_autofree char *child_dir = g_build_filename (f->dir, "child", NULL);
  Sender s = { NULL, lsp_sha256_new (), 42, (gsize) 4 * 1024 * 1024 * 1024 };
  Closed closed = { 0 };
  ConnectResult r = { 0 };
  guint16 port = 0;
  pid_t pid;
  gint64 killed_at, noticed_at;
  int status;

  pid = spawn_child_server (child_dir, &port);

  lsp_quic_endpoint_set_idle_timeout (f->client, KILL_IDLE_TIMEOUT_MS);
  addr = g_inet_socket_address_new (loopback, port);
  lsp_quic_endpoint_connect_async (f->client, G_INET_SOCKET_ADDRESS (addr), NULL, NULL, on_connected, &r);
  wait_for_flag (&r.done, 20000, "the handshake with the child");
  g_assert_no_error (r.error);
  conn = r.conn;
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed), &closed);

  s.stream = lsp_quic_connection_open_stream (conn, TRUE, &error);
  g_assert_no_error (error);
  sender_pump (&s);
  {
    gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

    while (s.queued < 16 * CHUNK_SIZE && !closed.done && g_get_monotonic_time () < deadline)
      g_main_context_iteration (NULL, TRUE);
    g_assert_false (closed.done);
    g_assert_cmpuint (s.queued, >=, 16 * CHUNK_SIZE);
  }

  kill (pid, SIGKILL);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  killed_at = g_get_monotonic_time ();

  wait_for_flag (&closed.done, KILL_IDLE_TIMEOUT_MS * 4, "the connection to notice the dead peer");
  noticed_at = g_get_monotonic_time ();
  g_assert_error (closed.error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_IDLE_TIMEOUT);
  g_assert_cmpint ((noticed_at - killed_at) / 1000, <=, KILL_IDLE_TIMEOUT_MS + 1000);
  g_assert_true (lsp_quic_connection_is_closed (conn));

  /* The pending write failed with the same reason instead of hanging. */
  while (s.in_flight > 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (s.error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_IDLE_TIMEOUT);
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->client), ==, 0);

  g_clear_object (&s.stream);
  g_clear_error (&s.error);
  lsp_sha256_free (s.sha);
  g_clear_error (&closed.error);
}

/* Cancel and timeouts ---------------------------------------------------- */

static GSocket *
silent_socket (GInetSocketAddress **address)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);

  g_assert_no_error (error);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  *address = G_INET_SOCKET_ADDRESS (g_socket_get_local_address (socket, &error));
  g_assert_no_error (error);
  return socket;
}

static gboolean
cancel_later (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel_connect (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autoptr(GSocket) silent = silent_socket (&address);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  ConnectResult r = { 0 };
  gint64 cancelled_at;

  lsp_quic_endpoint_connect_async (f->client, address, NULL, cancellable, on_connected, &r);
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->client), ==, 1);
  g_timeout_add (300, cancel_later, cancellable);
  while (!g_cancellable_is_cancelled (cancellable))
    g_main_context_iteration (NULL, TRUE);
  cancelled_at = g_get_monotonic_time ();
  wait_for_flag (&r.done, 5000, "the cancelled connect");

  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (r.conn);
  /* "At once": well below any timeout the transport has. */
  g_assert_cmpint ((g_get_monotonic_time () - cancelled_at) / 1000, <, 500);
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->client), ==, 0);
  g_clear_error (&r.error);
}

static void
test_handshake_timeout (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autoptr(GSocket) silent = silent_socket (&address);
  ConnectResult r = { 0 };

  lsp_quic_endpoint_set_handshake_timeout (f->client, 700);
  lsp_quic_endpoint_connect_async (f->client, address, NULL, NULL, on_connected, &r);
  wait_for_flag (&r.done, 5000, "the handshake timeout");
  g_assert_error (r.error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_HANDSHAKE_TIMEOUT);
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->client), ==, 0);
  g_clear_error (&r.error);
}

/* Identity and pinning ------------------------------------------------- */

static void
test_pin_mismatch (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspIdentity) other = make_identity (f->dir, "other");
  g_autoptr(LspQuicConnection) conn = NULL;

  conn = connect_sync (f->client, f->server, lsp_identity_get_peer_id (other), &error);
  g_assert_null (conn);
  g_assert_error (error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_PEER_MISMATCH);
  g_assert_nonnull (strstr (error->message, lsp_identity_get_short_id (other)));
  g_assert_nonnull (strstr (error->message, lsp_identity_get_short_id (f->server_id)));
  g_assert_false (lsp_known_peers_contains (lsp_quic_endpoint_get_known_peers (f->client),
                                            lsp_identity_get_peer_id (f->server_id)));

  /* The refusal reaches the server: it reports no connection and drops
   * its half-open state. */
  lsp_test_run_for (300);
  g_assert_cmpuint (f->server_conns->len, ==, 0);
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->server), ==, 0);

  /* The right pin still works. */
  g_clear_error (&error);
  conn = connect_sync (f->client, f->server, lsp_identity_get_peer_id (f->server_id), &error);
  g_assert_no_error (error);
  g_assert_nonnull (conn);
}

static void
test_identity_persistent (void)
{
  g_autofree char *dir = lsp_test_make_temp_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(LspIdentity) first = make_identity (dir, "state");
  g_autoptr(LspIdentity) second = make_identity (dir, "state");
  g_autoptr(LspIdentity) other = make_identity (dir, "other");
  g_autofree char *key = g_build_filename (dir, "state", "identity-key.pem", NULL);
  g_autofree char *cert = g_build_filename (dir, "state", "identity-cert.pem", NULL);
  g_autofree char *state = g_build_filename (dir, "state", NULL);
  g_autofree char *short_id = NULL;
  struct stat st;

  g_assert_true (lsp_peer_id_is_valid (lsp_identity_get_peer_id (first)));
  g_assert_cmpstr (lsp_identity_get_peer_id (first), ==, lsp_identity_get_peer_id (second));
  g_assert_cmpstr (lsp_identity_get_peer_id (first), !=, lsp_identity_get_peer_id (other));
  short_id = lsp_peer_id_shorten (lsp_identity_get_peer_id (first));
  g_assert_cmpstr (short_id, ==, lsp_identity_get_short_id (first));
  g_assert_cmpuint (strlen (short_id), ==, LSP_PEER_ID_SHORT_LEN);
  g_assert_cmpint (stat (key, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (stat (cert, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  /* A damaged identity is an error, not a silently new identity. */
  lsp_test_write_file (cert, "not a certificate", -1);
  g_assert_null (lsp_identity_load_or_create (state, &error));
  g_assert_nonnull (error);
  lsp_test_remove_tree (dir);
}

/* The identity certificate ---------------------------------------------- */

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_privkey_t, gnutls_x509_privkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_pubkey_t, gnutls_pubkey_deinit, NULL)

/* Frees the certificates the list took over, too. */
static void
trust_list_free (gnutls_x509_trust_list_t list)
{
  gnutls_x509_trust_list_deinit (list, 1);
}
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_trust_list_t, trust_list_free, NULL)

static gnutls_x509_crt_t
read_certificate (const char *path)
{
  g_autofree char *pem = lsp_test_read_file (path);
  gnutls_datum_t datum;
  gnutls_x509_crt_t crt = NULL;

  g_assert_nonnull (pem);
  datum.data = (unsigned char *) pem;
  datum.size = strlen (pem);
  g_assert_cmpint (gnutls_x509_crt_init (&crt), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
  return crt;
}

/* Worked out here rather than asked of the identity: hex SHA-256 of the DER
 * SubjectPublicKeyInfo. */
static char *
spki_hex (gnutls_x509_crt_t crt)
{
  g_auto(gnutls_pubkey_t) pubkey = NULL;
  gnutls_datum_t spki = { NULL, 0 };
  guint8 digest[LSP_SHA256_LEN];
  char hex[LSP_SHA256_HEX_LEN + 1];

  g_assert_cmpint (gnutls_pubkey_init (&pubkey), ==, 0);
  g_assert_cmpint (gnutls_pubkey_import_x509 (pubkey, crt, 0), ==, 0);
  g_assert_cmpint (gnutls_pubkey_export2 (pubkey, GNUTLS_X509_FMT_DER, &spki), ==, 0);
  lsp_sha256_buffer (spki.data, spki.size, digest);
  gnutls_free (spki.data);
  lsp_sha256_to_hex (digest, hex);
  return g_strdup (hex);
}

static char *
hex_of (const guint8 *data,
        gsize         size)
{
  GString *hex = g_string_new (NULL);

  for (gsize i = 0; i < size; i++)
    g_string_append_printf (hex, "%02x", data[i]);
  return g_string_free (hex, FALSE);
}

static char *
expected_dns_name (const char *peer_id)
{
  return g_strdup_printf ("%.32s.%s.lanspread.invalid", peer_id, peer_id + 32);
}

/* Everything the certificate must carry for webpki and OpenSSL's strict
 * mode to take it as a self-signed end-entity certificate. */
static void
assert_certificate_complete (const char *path,
                             const char *peer_id)
{
  g_auto(gnutls_x509_crt_t) crt = read_certificate (path);
  g_autofree char *spki = spki_hex (crt);
  g_autofree char *dns_name = expected_dns_name (peer_id);
  g_autofree char *hex = NULL;
  gnutls_datum_t dn = { NULL, 0 };
  unsigned int critical = 99;
  unsigned int ca = 99;
  unsigned int usage = 0;
  int path_length = 0;
  guint8 buffer[256];
  char text[256];
  size_t size;
  time_t now = time (NULL);
  time_t activation;
  guint n_extensions = 0;
  guint seen = 0;

  g_assert_cmpstr (spki, ==, peer_id);
  g_assert_cmpint (gnutls_x509_crt_get_version (crt), ==, 3);
  g_assert_cmpint (gnutls_x509_crt_get_signature_algorithm (crt), ==, GNUTLS_SIGN_ECDSA_SHA256);

  size = sizeof buffer;
  g_assert_cmpint (gnutls_x509_crt_get_serial (crt, buffer, &size), ==, 0);
  g_assert_cmpuint (size, ==, 16);
  g_assert_cmpuint (buffer[0] & 0x80, ==, 0);
  g_assert_cmpuint (buffer[0], !=, 0);

  activation = gnutls_x509_crt_get_activation_time (crt);
  g_assert_cmpint (activation, <=, now - 24 * 3600);
  g_assert_cmpint (activation, >=, now - 24 * 3600 - 600);
  /* 9999-12-31T23:59:59Z, RFC 5280's "no well-defined expiration". */
  g_assert_cmpint (gnutls_x509_crt_get_expiration_time (crt), ==, G_GINT64_CONSTANT (253402300799));

  g_assert_cmpint (gnutls_x509_crt_get_dn3 (crt, &dn, 0), ==, 0);
  g_assert_cmpstr ((const char *) dn.data, ==, "CN=lanspread");
  gnutls_free (dn.data);
  g_assert_cmpint (gnutls_x509_crt_get_issuer_dn3 (crt, &dn, 0), ==, 0);
  g_assert_cmpstr ((const char *) dn.data, ==, "CN=lanspread");
  gnutls_free (dn.data);

  /* basicConstraints: critical, CA:FALSE, no pathLenConstraint. */
  g_assert_cmpint (gnutls_x509_crt_get_basic_constraints (crt, &critical, &ca, &path_length), ==, 0);
  g_assert_cmpuint (critical, ==, 1);
  g_assert_cmpuint (ca, ==, 0);
  g_assert_cmpint (path_length, ==, -1);

  /* keyUsage: critical, digitalSignature and nothing else. */
  g_assert_cmpint (gnutls_x509_crt_get_key_usage (crt, &usage, &critical), >=, 0);
  g_assert_cmpuint (critical, ==, 1);
  g_assert_cmpuint (usage, ==, GNUTLS_KEY_DIGITAL_SIGNATURE);

  /* extendedKeyUsage: serverAuth then clientAuth, not critical. */
  size = sizeof text;
  g_assert_cmpint (gnutls_x509_crt_get_key_purpose_oid (crt, 0, text, &size, &critical), ==, 0);
  g_assert_cmpstr (text, ==, GNUTLS_KP_TLS_WWW_SERVER);
  g_assert_cmpuint (critical, ==, 0);
  size = sizeof text;
  g_assert_cmpint (gnutls_x509_crt_get_key_purpose_oid (crt, 1, text, &size, &critical), ==, 0);
  g_assert_cmpstr (text, ==, GNUTLS_KP_TLS_WWW_CLIENT);
  size = sizeof text;
  g_assert_cmpint (gnutls_x509_crt_get_key_purpose_oid (crt, 2, text, &size, &critical), ==,
                   GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);

  /* subjectKeyIdentifier: the peer_id in binary, not critical. */
  size = sizeof buffer;
  critical = 99;
  g_assert_cmpint (gnutls_x509_crt_get_subject_key_id (crt, buffer, &size, &critical), ==, 0);
  g_assert_cmpuint (critical, ==, 0);
  hex = hex_of (buffer, size);
  g_assert_cmpstr (hex, ==, peer_id);
  g_clear_pointer (&hex, g_free);

  /* authorityKeyIdentifier: the same, as the certificate signs itself; a
   * keyIdentifier only, no issuer name and serial. */
  size = sizeof buffer;
  critical = 99;
  g_assert_cmpint (gnutls_x509_crt_get_authority_key_id (crt, buffer, &size, &critical), ==, 0);
  g_assert_cmpuint (critical, ==, 0);
  hex = hex_of (buffer, size);
  g_assert_cmpstr (hex, ==, peer_id);
  {
    size_t serial_size = sizeof buffer;
    unsigned int type = 0;

    size = sizeof text;
    g_assert_cmpint (gnutls_x509_crt_get_authority_key_gn_serial (crt, 0, text, &size, &type, buffer,
                                                                  &serial_size, NULL),
                     ==, GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
  }

  /* subjectAltName: one DNS name (criticality checked below: this getter
   * leaves it unset). */
  size = sizeof text;
  g_assert_cmpint (gnutls_x509_crt_get_subject_alt_name (crt, 0, text, &size, &critical), ==,
                   GNUTLS_SAN_DNSNAME);
  g_assert_cmpstr (text, ==, dns_name);
  size = sizeof text;
  g_assert_cmpint (gnutls_x509_crt_get_subject_alt_name (crt, 1, text, &size, &critical), ==,
                   GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);

  /* Each extension once, critical as RFC 5280 and webpki want it, and
   * nothing else: webpki refuses a critical extension it does not know. */
  for (unsigned int i = 0;; i++)
    {
      static const struct { const char *oid; unsigned int critical; } expected[] = {
        { "2.5.29.19", 1 },  /* basicConstraints */
        { "2.5.29.15", 1 },  /* keyUsage */
        { "2.5.29.37", 0 },  /* extendedKeyUsage */
        { "2.5.29.14", 0 },  /* subjectKeyIdentifier */
        { "2.5.29.35", 0 },  /* authorityKeyIdentifier */
        { "2.5.29.17", 0 },  /* subjectAltName */
      };
      guint k;
      int rv;

      size = sizeof text;
      critical = 99;
      rv = gnutls_x509_crt_get_extension_info (crt, i, text, &size, &critical);
      if (rv == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        break;
      g_assert_cmpint (rv, ==, 0);
      for (k = 0; k < G_N_ELEMENTS (expected) && strcmp (text, expected[k].oid) != 0; k++)
        ;
      g_assert_cmpuint (k, <, G_N_ELEMENTS (expected));
      g_assert_cmpuint (critical, ==, expected[k].critical);
      g_assert_cmpuint (seen & (1u << k), ==, 0);
      seen |= 1u << k;
      n_extensions++;
    }
  g_assert_cmpuint (n_extensions, ==, 6);
}

/* GnuTLS as a TLS client would check it: the certificate as its own trust
 * anchor, the DNS name and each key purpose. */
static void
assert_gnutls_accepts (const char *path,
                       const char *peer_id)
{
  g_autofree char *dns_name = expected_dns_name (peer_id);
  const char *purposes[] = { GNUTLS_KP_TLS_WWW_SERVER, GNUTLS_KP_TLS_WWW_CLIENT };

  for (guint i = 0; i < G_N_ELEMENTS (purposes); i++)
    {
      g_auto(gnutls_x509_trust_list_t) list = NULL;
      g_auto(gnutls_x509_crt_t) crt = read_certificate (path);
      gnutls_x509_crt_t anchor = read_certificate (path);
      gnutls_typed_vdata_st data[2] = {
        { GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *) purposes[i], 0 },
        { GNUTLS_DT_DNS_HOSTNAME, (unsigned char *) dns_name, 0 },
      };
      unsigned int status = 99;

      g_assert_cmpint (gnutls_x509_trust_list_init (&list, 0), ==, 0);
      g_assert_cmpint (gnutls_x509_trust_list_add_cas (list, &anchor, 1, 0), ==, 1);
      g_assert_cmpint (gnutls_x509_trust_list_verify_crt2 (list, &crt, 1, data, i == 0 ? 2 : 1, 0,
                                                           &status, NULL),
                       ==, 0);
      g_assert_cmpuint (status, ==, 0);
    }
}

/* An identity as versions before the extensions wrote it: the same kind of
 * key, and a v3 certificate that has none. */
static char *
write_old_identity (const char *state_dir)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *key_path = g_build_filename (state_dir, "identity-key.pem", NULL);
  g_autofree char *cert_path = g_build_filename (state_dir, "identity-cert.pem", NULL);
  g_auto(gnutls_x509_privkey_t) key = NULL;
  g_auto(gnutls_x509_crt_t) crt = NULL;
  gnutls_datum_t key_pem = { NULL, 0 };
  gnutls_datum_t cert_pem = { NULL, 0 };
  guint8 serial[16];

  g_assert_cmpint (g_mkdir_with_parents (state_dir, 0700), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_init (&key), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_generate (key, GNUTLS_PK_ECDSA,
                                                 GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0),
                   ==, 0);
  g_assert_cmpint (gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial), ==, 0);
  serial[0] &= 0x7f;
  g_assert_cmpint (gnutls_x509_crt_init (&crt), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_version (crt, 3), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_serial (crt, serial, sizeof serial), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_activation_time (crt, time (NULL) - 24 * 3600), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_expiration_time (crt, (time_t) -1), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, "lanspread",
                                                  strlen ("lanspread")),
                   ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_key (crt, key), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0), ==, 0);

  g_assert_cmpint (gnutls_x509_privkey_export2 (key, GNUTLS_X509_FMT_PEM, &key_pem), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &cert_pem), ==, 0);
  g_file_set_contents_full (key_path, (const char *) key_pem.data, key_pem.size,
                            G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error);
  g_assert_no_error (error);
  g_file_set_contents_full (cert_path, (const char *) cert_pem.data, cert_pem.size,
                            G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error);
  g_assert_no_error (error);
  gnutls_free (key_pem.data);
  gnutls_free (cert_pem.data);
  return spki_hex (crt);
}

static void
test_identity_certificate (void)
{
  g_autofree char *dir = lsp_test_make_temp_dir ();
  g_autoptr(LspIdentity) identity = make_identity (dir, "state");
  g_autofree char *cert = g_build_filename (dir, "state", "identity-cert.pem", NULL);
  g_autofree char *before = lsp_test_read_file (cert);
  g_autofree char *after = NULL;

  assert_certificate_complete (cert, lsp_identity_get_peer_id (identity));
  assert_gnutls_accepts (cert, lsp_identity_get_peer_id (identity));

  /* A complete certificate is left as it is. */
  g_clear_object (&identity);
  identity = make_identity (dir, "state");
  after = lsp_test_read_file (cert);
  g_assert_cmpstr (before, ==, after);
  lsp_test_remove_tree (dir);
}

typedef struct
{
  LspQuicEndpoint *server;
  LspIdentity     *client;
} KnownPeerWait;

static gboolean
server_knows_client (gpointer data)
{
  KnownPeerWait *wait = data;

  return lsp_known_peers_contains (lsp_quic_endpoint_get_known_peers (wait->server),
                                   lsp_identity_get_peer_id (wait->client));
}

static void
test_identity_reissued (void)
{
  g_autofree char *dir = lsp_test_make_temp_dir ();
  g_autofree char *state = g_build_filename (dir, "state", NULL);
  g_autofree char *key = g_build_filename (state, "identity-key.pem", NULL);
  g_autofree char *cert = g_build_filename (state, "identity-cert.pem", NULL);
  g_autofree char *peer_id = write_old_identity (state);
  g_autofree char *old_key = lsp_test_read_file (key);
  g_autofree char *old_cert = lsp_test_read_file (cert);
  g_autofree char *new_key = NULL;
  g_autofree char *new_cert = NULL;
  g_autofree char *again = NULL;
  g_autoptr(LspIdentity) identity = NULL;
  struct stat st;

  identity = make_identity (dir, "state");
  g_assert_cmpstr (lsp_identity_get_peer_id (identity), ==, peer_id);
  new_key = lsp_test_read_file (key);
  new_cert = lsp_test_read_file (cert);
  g_assert_cmpstr (new_key, ==, old_key);
  g_assert_cmpstr (new_cert, !=, old_cert);
  assert_certificate_complete (cert, peer_id);
  assert_gnutls_accepts (cert, peer_id);
  g_assert_cmpint (stat (cert, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (stat (key, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  /* Once is enough. */
  g_clear_object (&identity);
  identity = make_identity (dir, "state");
  g_assert_cmpstr (lsp_identity_get_peer_id (identity), ==, peer_id);
  again = lsp_test_read_file (cert);
  g_assert_cmpstr (again, ==, new_cert);

  /* A peer that was upgraded and one that is new still shake hands, each
   * authenticating the other. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(LspIdentity) fresh = make_identity (dir, "fresh");
    g_autoptr(LspQuicEndpoint) server = make_endpoint (identity, "127.0.0.1");
    g_autoptr(LspQuicEndpoint) client = make_endpoint (fresh, "127.0.0.1");
    g_autoptr(LspQuicConnection) conn = connect_sync (client, server, peer_id, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (lsp_quic_connection_get_peer_id (conn), ==, peer_id);
    /* The server finishes its half of the handshake a flight later. */
    g_assert_true (lsp_test_wait_until (server_knows_client, &(KnownPeerWait) { server, fresh }, 10000));
    g_clear_object (&conn);
    g_clear_object (&client);
    g_clear_object (&server);
    drain_main_context ();
  }
  lsp_test_remove_tree (dir);
}

/* An old certificate beside a key that is not its own is an error: issuing
 * one for the key would hand the peer another peer_id. */
static void
test_identity_reissue_mismatch (void)
{
  g_autofree char *dir = lsp_test_make_temp_dir ();
  g_autofree char *state = g_build_filename (dir, "state", NULL);
  g_autofree char *other = g_build_filename (dir, "other", NULL);
  g_autofree char *cert = g_build_filename (state, "identity-cert.pem", NULL);
  g_autofree char *other_key = g_build_filename (other, "identity-key.pem", NULL);
  g_autofree char *key = g_build_filename (state, "identity-key.pem", NULL);
  g_autofree char *peer_id = write_old_identity (state);
  g_autofree char *other_id = write_old_identity (other);
  g_autofree char *old_cert = lsp_test_read_file (cert);
  g_autofree char *contents = lsp_test_read_file (other_key);
  g_autofree char *after = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LspIdentity) identity = NULL;

  lsp_test_write_file (key, contents, -1);
  identity = lsp_identity_load_or_create (state, &error);
  g_assert_null (identity);
  g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "does not match"));
  after = lsp_test_read_file (cert);
  g_assert_cmpstr (after, ==, old_cert);
  lsp_test_remove_tree (dir);
}

/* OpenSSL is a verifier of its own; -x509_strict holds the certificate to
 * RFC 5280's rules on extensions, -check_ss_sig checks its signature. */
static gboolean
openssl_verify (const char *path,
                const char *purpose,
                const char *dns_name,
                char      **output)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;
  const char *argv[] = {
    "openssl", "verify", "-x509_strict", "-check_ss_sig", "-purpose", purpose,
    "-verify_hostname", dns_name, "-CAfile", path, path, NULL,
  };

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  *output = g_strconcat (out, err, NULL);
  g_test_message ("openssl verify -x509_strict -check_ss_sig -purpose %s -verify_hostname %s: %s",
                  purpose, dns_name, *output);
  return g_spawn_check_wait_status (status, NULL);
}

static void
test_identity_openssl (void)
{
  g_autofree char *openssl = g_find_program_in_path ("openssl");
  g_autofree char *dir = NULL;
  g_autofree char *cert = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *dns_name = NULL;
  g_autoptr(LspIdentity) identity = NULL;
  const char *purposes[] = { "sslserver", "sslclient" };

  if (openssl == NULL)
    {
      g_test_skip ("openssl is not installed");
      return;
    }

  dir = lsp_test_make_temp_dir ();
  identity = make_identity (dir, "state");
  cert = g_build_filename (dir, "state", "identity-cert.pem", NULL);
  expected = g_strconcat (cert, ": OK\n", NULL);
  dns_name = expected_dns_name (lsp_identity_get_peer_id (identity));
  for (guint i = 0; i < G_N_ELEMENTS (purposes); i++)
    {
      g_autofree char *output = NULL;

      g_assert_true (openssl_verify (cert, purposes[i], dns_name, &output));
      g_assert_cmpstr (output, ==, expected);
    }

  /* The check has teeth: the name must match. */
  {
    g_autofree char *output = NULL;

    g_assert_false (openssl_verify (cert, "sslserver", "lanspread.invalid", &output));
  }
  lsp_test_remove_tree (dir);
}

/* Robustness ---------------------------------------------------------- */

static GSocket *
raw_socket (const char *host)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (host);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (inet, 0);
  GSocket *socket = g_socket_new (g_inet_address_get_family (inet), G_SOCKET_TYPE_DATAGRAM,
                                  G_SOCKET_PROTOCOL_UDP, &error);

  g_assert_no_error (error);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (socket, FALSE);
  return socket;
}

static void
send_to (GSocket         *socket,
         LspQuicEndpoint *endpoint,
         const guint8    *data,
         gsize            length)
{
  g_autoptr(GInetSocketAddress) addr = endpoint_address (endpoint);
  g_autoptr(GError) error = NULL;

  g_socket_send_to (socket, G_SOCKET_ADDRESS (addr), (const char *) data, length, NULL, &error);
  g_assert_no_error (error);
}

/* Waits up to timeout_ms for one datagram; returns its length or -1. */
static gssize
receive_reply (GSocket *socket,
               guint8  *buf,
               gsize    size,
               guint    timeout_ms)
{
  g_autoptr(GSource) readable = g_socket_create_source (socket, G_IO_IN, NULL);
  gboolean timed_out = FALSE;
  guint timeout_id;

  /* The server runs on this main context: iterate it until the socket is
   * readable, instead of sleeping. */
  g_source_set_dummy_callback (readable);
  g_source_attach (readable, NULL);
  timeout_id = g_timeout_add (timeout_ms, on_wait_timeout, &timed_out);
  while (!timed_out)
    {
      gssize n = g_socket_receive (socket, (char *) buf, size, NULL, NULL);

      if (n >= 0)
        {
          g_source_destroy (readable);
          g_source_remove (timeout_id);
          return n;
        }
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_destroy (readable);
  if (!timed_out)
    g_source_remove (timeout_id);
  return -1;
}

static void
drain_socket (GSocket *socket)
{
  guint8 buf[2048];

  while (g_socket_receive (socket, (char *) buf, sizeof buf, NULL, NULL) >= 0)
    ;
}

static void
echo_roundtrip (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  g_autoptr(LspQuicStream) stream = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("still alive", 11);
  Sink sink = { g_byte_array_new () };

  conn = connect_sync (f->client, f->server, lsp_identity_get_peer_id (f->server_id), &error);
  g_assert_no_error (error);
  stream = lsp_quic_connection_open_stream (conn, TRUE, &error);
  g_assert_no_error (error);
  lsp_quic_stream_set_read_func (stream, sink_read, &sink, NULL);
  lsp_quic_stream_write_bytes_async (stream, message, TRUE, NULL, NULL, NULL);
  wait_for_flag (&sink.done, 10000, "the echo");
  g_assert_no_error (sink.error);
  g_assert_cmpmem (sink.data->data, sink.data->len, "still alive", 11);
  sink_clear (&sink);
}

static void
test_garbage (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GSocket) raw = raw_socket ("127.0.0.1");
  g_autoptr(GRand) rand = g_rand_new_with_seed (4);
  guint8 buf[1500];

  g_signal_connect (f->server, "incoming-connection", G_CALLBACK (on_echo_connection), NULL);

  for (guint i = 0; i < 3000; i++)
    {
      gsize length = (gsize) g_rand_int_range (rand, 0, sizeof buf + 1);

      for (gsize j = 0; j < length; j++)
        buf[j] = (guint8) g_rand_int (rand);
      switch (i % 4)
        {
        case 1:
          /* A QUIC v1 long header with garbage after it, cut anywhere. */
          if (length > 6)
            {
              buf[0] = 0xc0 | (buf[0] & 0x0f);
              buf[1] = 0; buf[2] = 0; buf[3] = 0; buf[4] = 1;
              buf[5] = (guint8) (buf[5] % 21);
            }
          break;
        case 2:
          /* A short header aimed at no connection. */
          if (length > 0)
            buf[0] = 0x40 | (buf[0] & 0x3f);
          break;
        default:
          break;
        }
      send_to (raw, f->server, buf, length);
      if (i % 64 == 0)
        g_main_context_iteration (NULL, FALSE);
    }
  drain_main_context ();

  /* A real client Initial, captured by pointing a connect at the raw
   * socket, then replayed truncated at every length and with flipped bits. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocketAddress) raw_addr = g_socket_get_local_address (raw, &error);
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();
    ConnectResult r = { 0 };
    guint8 initial[2048];
    gssize n;

    g_assert_no_error (error);
    drain_socket (raw);
    lsp_quic_endpoint_connect_async (f->client, G_INET_SOCKET_ADDRESS (raw_addr), NULL, cancellable,
                                     on_connected, &r);
    /* Skip the server's late replies to the garbage: Initials are padded
     * to at least 1200 bytes. */
    do
      n = receive_reply (raw, initial, sizeof initial, 5000);
    while (n >= 0 && n < 1200);
    g_assert_cmpint (n, >=, 1200);
    g_cancellable_cancel (cancellable);
    wait_for_flag (&r.done, 5000, "the cancelled capture connect");
    g_clear_error (&r.error);

    for (gssize len = 1; len < n; len += 3)
      send_to (raw, f->server, initial, (gsize) len);
    for (guint i = 0; i < 500; i++)
      {
        guint8 copy[2048];

        memcpy (copy, initial, (gsize) n);
        copy[g_rand_int_range (rand, 0, (gint32) n)] ^= (guint8) (1u << g_rand_int_range (rand, 0, 8));
        send_to (raw, f->server, copy, (gsize) n);
        if (i % 64 == 0)
          g_main_context_iteration (NULL, FALSE);
      }
    drain_main_context ();
    /* Replays of one Initial share one DCID, so at most one half-open
     * connection (plus whatever the random bytes above created). */
    g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->server), <=, LSP_QUIC_MAX_HANDSHAKES_PER_ADDRESS);
  }

  echo_roundtrip (f);
  drain_socket (raw);
}

static void
test_version_negotiation (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GSocket) raw = raw_socket ("127.0.0.1");
  guint8 packet[1200] = { 0 };
  guint8 reply[2048];
  gssize n;

  /* A long header in an unknown version, padded to a full Initial. */
  packet[0] = 0xc0;
  packet[1] = 0x1a; packet[2] = 0x2a; packet[3] = 0x3a; packet[4] = 0x4a;
  packet[5] = 8;
  memset (packet + 6, 0xab, 8);
  packet[14] = 4;
  memset (packet + 15, 0xcd, 4);
  send_to (raw, f->server, packet, sizeof packet);

  n = receive_reply (raw, reply, sizeof reply, 5000);
  g_assert_cmpint (n, >=, 7 + 8 + 4 + 4);
  g_assert_true (reply[0] & 0x80);
  g_assert_cmpmem (reply + 1, 4, "\0\0\0\0", 4);   /* version 0: negotiation */
  g_assert_cmpuint (reply[5], ==, 4);              /* echoes our SCID as DCID */
  g_assert_cmpmem (reply + 6, 4, packet + 15, 4);
  {
    gsize off = 6 + 4;
    gsize scid_len = reply[off];
    gboolean has_v1 = FALSE;

    g_assert_cmpmem (reply + off + 1, scid_len, packet + 6, 8);
    for (off = off + 1 + scid_len; off + 4 <= (gsize) n; off += 4)
      if (memcmp (reply + off, "\0\0\0\1", 4) == 0)
        has_v1 = TRUE;
    g_assert_true (has_v1);
  }
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->server), ==, 0);
}

static void
test_stateless_reset (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GSocket) raw = raw_socket ("127.0.0.1");
  guint8 packet[100];
  guint8 reply[2048];
  gssize n;

  /* A 1-RTT packet for a connection the server does not have. */
  memset (packet, 0x5a, sizeof packet);
  packet[0] = 0x41;
  send_to (raw, f->server, packet, sizeof packet);
  n = receive_reply (raw, reply, sizeof reply, 5000);
  g_assert_cmpint (n, >=, 1 + 16 + 4 + 16);
  g_assert_cmpint (n, <, (gssize) sizeof packet);
  g_assert_cmpuint (reply[0] & 0xc0, ==, 0x40);

  /* Too short to answer without risking a reset loop: silence. */
  send_to (raw, f->server, packet, 30);
  n = receive_reply (raw, reply, sizeof reply, 300);
  g_assert_cmpint (n, ==, -1);
}

/* The server loses its state (process killed) and comes back on the same
 * port with the same identity: it answers the client's next packet with a
 * stateless reset, which ends the connection at once instead of after the
 * idle timeout. */
static void
test_peer_restarted (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  g_autoptr(LspQuicStream) stream = NULL;
  g_autoptr(LspIdentity) child_id = NULL;
  g_autoptr(LspQuicEndpoint) reborn = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("anyone?", 7);
  g_autofree char *child_dir = g_build_filename (f->dir, "child", NULL);
  Closed closed = { 0 };
  ConnectResult r = { 0 };
  Sink sink = { g_byte_array_new () };
  guint16 port = 0;
  pid_t pid;
  int status;

  pid = spawn_child_server (child_dir, &port);
  addr = g_inet_socket_address_new (loopback, port);
  lsp_quic_endpoint_connect_async (f->client, G_INET_SOCKET_ADDRESS (addr), NULL, NULL, on_connected, &r);
  wait_for_flag (&r.done, 20000, "the handshake with the child");
  g_assert_no_error (r.error);
  conn = r.conn;
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed), &closed);
  lsp_test_run_for (100);

  kill (pid, SIGKILL);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);

  child_id = lsp_identity_load_or_create (child_dir, &error);
  g_assert_no_error (error);
  reborn = lsp_quic_endpoint_new (child_id, TEST_ALPN, G_INET_SOCKET_ADDRESS (addr), &error);
  g_assert_no_error (error);

  stream = lsp_quic_connection_open_stream (conn, TRUE, &error);
  g_assert_no_error (error);
  lsp_quic_stream_set_read_func (stream, sink_read, &sink, NULL);
  lsp_quic_stream_write_bytes_async (stream, message, TRUE, NULL, NULL, NULL);
  wait_for_flag (&closed.done, 5000, "the stateless reset");
  g_assert_error (closed.error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_PEER_RESET);
  g_assert_true (sink.done);
  g_assert_error (sink.error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_PEER_RESET);
  g_clear_error (&closed.error);
  sink_clear (&sink);
}

static void
test_close_reason (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  Closed server_closed = { 0 };
  Closed client_closed = { 0 };

  conn = connect_sync (f->client, f->server, NULL, &error);
  g_assert_no_error (error);
  while (f->server_conns->len == 0)
    g_main_context_iteration (NULL, TRUE);
  g_signal_connect (f->server_conns->pdata[0], "closed", G_CALLBACK (on_closed), &server_closed);
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed), &client_closed);

  lsp_quic_connection_close (conn, 42, "game over");
  g_assert_true (client_closed.done);
  g_assert_error (client_closed.error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_CLOSED);
  g_assert_true (lsp_quic_connection_is_closed (conn));
  g_assert_null (lsp_quic_connection_open_stream (conn, TRUE, &error));
  g_assert_error (error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_CLOSED);

  wait_for_flag (&server_closed.done, 5000, "the server to see the close");
  g_assert_error (server_closed.error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_PEER_CLOSED);
  g_assert_nonnull (strstr (server_closed.error->message, "42"));
  g_assert_nonnull (strstr (server_closed.error->message, "game over"));
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->server), ==, 0);
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->client), ==, 0);
  g_clear_error (&server_closed.error);
  g_clear_error (&client_closed.error);
}

/* Closing and draining ------------------------------------------------- */

/* A UDP relay between the client and the server that can lose what the
 * server sends, so a test decides which of its datagrams the client sees. */
typedef struct
{
  GSocket        *front;         /* the client talks to this one */
  GSocket        *back;          /* this one talks to the server */
  GSocketAddress *client;        /* where front last heard from */
  GSocketAddress *server;
  GSource        *front_source;
  GSource        *back_source;
  gboolean        drop_from_server;
  guint           dropped;
  guint           relayed_from_server;
  guint           from_client;
  GBytes         *last_from_client;
} Relay;

static gboolean
relay_from_client (GSocket      *socket,
                   GIOCondition  condition,
                   gpointer      user_data)
{
  Relay *relay = user_data;
  guint8 buf[65536];
  GSocketAddress *from = NULL;
  gssize n;

  while ((n = g_socket_receive_from (socket, &from, (char *) buf, sizeof buf, NULL, NULL)) >= 0)
    {
      g_clear_object (&relay->client);
      relay->client = g_steal_pointer (&from);
      relay->from_client++;
      g_clear_pointer (&relay->last_from_client, g_bytes_unref);
      relay->last_from_client = g_bytes_new (buf, (gsize) n);
      g_socket_send_to (relay->back, relay->server, (const char *) buf, (gsize) n, NULL, NULL);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
relay_from_server (GSocket      *socket,
                   GIOCondition  condition,
                   gpointer      user_data)
{
  Relay *relay = user_data;
  guint8 buf[65536];
  gssize n;

  while ((n = g_socket_receive (socket, (char *) buf, sizeof buf, NULL, NULL)) >= 0)
    {
      if (relay->drop_from_server || relay->client == NULL)
        {
          relay->dropped++;
          continue;
        }
      relay->relayed_from_server++;
      g_socket_send_to (relay->front, relay->client, (const char *) buf, (gsize) n, NULL, NULL);
    }
  return G_SOURCE_CONTINUE;
}

static void
relay_init (Relay           *relay,
            LspQuicEndpoint *server)
{
  relay->front = raw_socket ("127.0.0.1");
  relay->back = raw_socket ("127.0.0.1");
  relay->server = G_SOCKET_ADDRESS (endpoint_address (server));
  relay->front_source = g_socket_create_source (relay->front, G_IO_IN, NULL);
  g_source_set_callback (relay->front_source, G_SOURCE_FUNC (relay_from_client), relay, NULL);
  g_source_attach (relay->front_source, NULL);
  relay->back_source = g_socket_create_source (relay->back, G_IO_IN, NULL);
  g_source_set_callback (relay->back_source, G_SOURCE_FUNC (relay_from_server), relay, NULL);
  g_source_attach (relay->back_source, NULL);
}

static void
relay_clear (Relay *relay)
{
  g_source_destroy (relay->front_source);
  g_source_destroy (relay->back_source);
  g_clear_pointer (&relay->front_source, g_source_unref);
  g_clear_pointer (&relay->back_source, g_source_unref);
  g_clear_object (&relay->front);
  g_clear_object (&relay->back);
  g_clear_object (&relay->client);
  g_clear_object (&relay->server);
  g_clear_pointer (&relay->last_from_client, g_bytes_unref);
}

static gboolean
no_closing_left (gpointer data)
{
  Fixture *f = data;

  return lsp_quic_endpoint_get_n_closing (f->server) == 0 &&
         lsp_quic_endpoint_get_n_closing (f->client) == 0;
}

/* The server closes after a fatal application error, and its
 * CONNECTION_CLOSE is lost. The client, not knowing, sends on a stream: the
 * server, in its closing period, must answer with the same
 * CONNECTION_CLOSE (RFC 9000 §10.2.1), not with a stateless reset, so the
 * client learns the real reason. Both sides then forget the connection
 * once their closing (server) and draining (client) periods are over. */
static void
test_closing_period (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  g_autoptr(LspQuicStream) stream = NULL;
  g_autoptr(GSocketAddress) front = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("anyone?", 7);
  LspQuicConnection *server_conn;
  Closed server_closed = { 0 };
  Closed client_closed = { 0 };
  Sink sink = { g_byte_array_new () };
  ConnectResult r = { 0 };
  Relay relay = { 0 };

  relay_init (&relay, f->server);
  front = g_socket_get_local_address (relay.front, &error);
  g_assert_no_error (error);
  lsp_quic_endpoint_connect_async (f->client, G_INET_SOCKET_ADDRESS (front),
                                   lsp_identity_get_peer_id (f->server_id), NULL, on_connected, &r);
  wait_for_flag (&r.done, 20000, "the handshake through the relay");
  g_assert_no_error (r.error);
  conn = r.conn;
  while (f->server_conns->len == 0)
    g_main_context_iteration (NULL, TRUE);
  server_conn = f->server_conns->pdata[0];
  g_signal_connect (server_conn, "closed", G_CALLBACK (on_closed), &server_closed);
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed), &client_closed);
  /* Let the last handshake packets and their ACKs settle, so the client
   * has nothing in flight and only sends when told to. */
  lsp_test_run_for (200);
  g_assert_cmpuint (lsp_quic_endpoint_get_n_closing (f->server), ==, 0);

  relay.drop_from_server = TRUE;
  lsp_quic_connection_close (server_conn, 1, "protocol error");
  /* For the layers above the connection is gone at once, as before. */
  g_assert_true (server_closed.done);
  g_assert_error (server_closed.error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_CLOSED);
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->server), ==, 0);
  g_assert_cmpuint (lsp_quic_endpoint_get_n_closing (f->server), ==, 1);
  while (relay.dropped == 0)
    g_main_context_iteration (NULL, TRUE);
  relay.drop_from_server = FALSE;
  g_assert_false (client_closed.done);

  stream = lsp_quic_connection_open_stream (conn, TRUE, &error);
  g_assert_no_error (error);
  lsp_quic_stream_set_read_func (stream, sink_read, &sink, NULL);
  lsp_quic_stream_write_bytes_async (stream, message, TRUE, NULL, NULL, NULL);
  wait_for_flag (&client_closed.done, 5000, "the client to learn of the close");
  g_assert_error (client_closed.error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_PEER_CLOSED);
  g_assert_nonnull (strstr (client_closed.error->message, "code 1"));
  g_assert_nonnull (strstr (client_closed.error->message, "protocol error"));
  g_assert_true (sink.done);
  g_assert_error (sink.error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_PEER_CLOSED);
  g_assert_cmpuint (relay.relayed_from_server, >, 0);

  /* The client drains: the connection is gone for it too, but its
   * connection IDs stay routed, silently, for a while. */
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->client), ==, 0);
  g_assert_cmpuint (lsp_quic_endpoint_get_n_closing (f->client), ==, 1);

  /* Replays of the client's last packet: the closing server answers only
   * a few of them (the 1st, 2nd, 4th… it got), and the draining client
   * answers none of those answers, not even with a stateless reset. */
  {
    gsize size;
    const guint8 *last = g_bytes_get_data (relay.last_from_client, &size);
    guint replies_before = relay.relayed_from_server;
    guint client_before = relay.from_client;
    guint replies;

    for (guint i = 0; i < 64; i++)
      g_socket_send_to (relay.back, relay.server, (const char *) last, size, NULL, NULL);
    drain_main_context ();
    lsp_test_run_for (20);
    drain_main_context ();
    /* Still inside both periods, or the counts below mean nothing. */
    g_assert_cmpuint (lsp_quic_endpoint_get_n_closing (f->server), ==, 1);
    g_assert_cmpuint (lsp_quic_endpoint_get_n_closing (f->client), ==, 1);
    replies = relay.relayed_from_server - replies_before;
    g_assert_cmpuint (replies, >=, 1);
    g_assert_cmpuint (replies, <=, 7);
    g_assert_cmpuint (relay.from_client, ==, client_before);
  }
  g_assert_true (lsp_test_wait_until (no_closing_left, f, 10000));
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->server), ==, 0);

  g_clear_error (&server_closed.error);
  g_clear_error (&client_closed.error);
  sink_clear (&sink);
  relay_clear (&relay);
}

/* Server side of the reset test: remembers how its stream ended. */
static void
on_sink_stream (LspQuicConnection *conn,
                LspQuicStream     *stream,
                gpointer           user_data)
{
  lsp_quic_stream_set_read_func (stream, sink_read, user_data, NULL);
}

static void
on_sink_connection (LspQuicEndpoint   *endpoint,
                    LspQuicConnection *conn,
                    gpointer           user_data)
{
  g_signal_connect (conn, "incoming-stream", G_CALLBACK (on_sink_stream), user_data);
}

typedef struct
{
  gboolean done;
  GError  *error;
} WriteResult;

static void
on_written (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  WriteResult *w = user_data;

  lsp_quic_stream_write_bytes_finish (LSP_QUIC_STREAM (source), result, &w->error);
  w->done = TRUE;
}

static void
test_stream_reset (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  g_autoptr(LspQuicStream) stream = NULL;
  g_autoptr(GBytes) hello = g_bytes_new_static ("partial", 7);
  g_autoptr(GBytes) more = g_bytes_new_static ("never", 5);
  Sink server_sink = { g_byte_array_new () };
  WriteResult w = { 0 };

  g_signal_connect (f->server, "incoming-connection", G_CALLBACK (on_sink_connection), &server_sink);
  conn = connect_sync (f->client, f->server, NULL, &error);
  g_assert_no_error (error);
  stream = lsp_quic_connection_open_stream (conn, TRUE, &error);
  g_assert_no_error (error);
  lsp_quic_stream_write_bytes_async (stream, hello, FALSE, NULL, on_written, &w);
  wait_for_flag (&w.done, 5000, "the first write");
  g_assert_no_error (w.error);
  while (server_sink.data->len < 7)
    g_main_context_iteration (NULL, TRUE);

  lsp_quic_stream_reset (stream, 7);
  wait_for_flag (&server_sink.done, 5000, "the server to see the reset");
  g_assert_error (server_sink.error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_STREAM_RESET);
  g_assert_false (server_sink.fin);

  /* Writing after the reset fails cleanly; the connection lives on. */
  w.done = FALSE;
  lsp_quic_stream_write_bytes_async (stream, more, TRUE, NULL, on_written, &w);
  wait_for_flag (&w.done, 5000, "the refused write");
  g_assert_error (w.error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_CLOSED);
  g_assert_false (lsp_quic_connection_is_closed (conn));
  g_clear_error (&w.error);
  sink_clear (&server_sink);
}

static void
on_paused_stream (LspQuicConnection *conn,
                  LspQuicStream     *stream,
                  gpointer           user_data)
{
  lsp_quic_stream_set_read_func (stream, sink_read, user_data, NULL);
  lsp_quic_stream_set_reading_paused (stream, TRUE);
}

static void
on_paused_connection (LspQuicEndpoint   *endpoint,
                      LspQuicConnection *conn,
                      gpointer           user_data)
{
  g_signal_connect (conn, "incoming-stream", G_CALLBACK (on_paused_stream), user_data);
}

/* A write cancelled while the peer's window is full resets the stream. */
static void
test_write_cancel (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  g_autoptr(LspQuicStream) stream = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GBytes) big = NULL;
  Sink server_sink = { g_byte_array_new () };
  WriteResult w = { 0 };

  g_signal_connect (f->server, "incoming-connection", G_CALLBACK (on_paused_connection), &server_sink);
  conn = connect_sync (f->client, f->server, NULL, &error);
  g_assert_no_error (error);
  stream = lsp_quic_connection_open_stream (conn, TRUE, &error);
  g_assert_no_error (error);

  /* The server must know the stream before we give up on it. */
  {
    g_autoptr(GBytes) first = g_bytes_new_static ("first", 5);
    lsp_quic_stream_write_bytes_async (stream, first, FALSE, NULL, on_written, &w);
    wait_for_flag (&w.done, 5000, "the first write");
    g_assert_no_error (w.error);
    while (server_sink.data->len < 5)
      g_main_context_iteration (NULL, TRUE);
    w.done = FALSE;
  }

  /* More than the stream window, which the paused reader never extends:
   * the write stays blocked by flow control until we cancel it. */
  big = g_bytes_new_take (g_malloc0 (48 * 1024 * 1024), 48 * 1024 * 1024);
  lsp_quic_stream_write_bytes_async (stream, big, TRUE, cancellable, on_written, &w);
  lsp_test_run_for (500);
  g_assert_false (w.done);
  g_assert_cmpuint (server_sink.data->len, <=, 16 * 1024 * 1024 + 5);
  g_assert_cmpuint (lsp_quic_stream_get_queued_bytes (stream), >=, 32 * 1024 * 1024 - 5);
  g_cancellable_cancel (cancellable);
  wait_for_flag (&w.done, 5000, "the cancelled write");
  g_assert_error (w.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  wait_for_flag (&server_sink.done, 5000, "the server to see the reset");
  g_assert_error (server_sink.error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_STREAM_RESET);
  g_clear_error (&w.error);
  sink_clear (&server_sink);
}

/* Reading paused by a slow consumer holds the sender at the stream window;
 * resuming lets the rest through. */
typedef struct
{
  Sink           sink;
  LspQuicStream *stream;
} PausedServer;

static void
on_paused_stream_keep (LspQuicConnection *conn,
                       LspQuicStream     *stream,
                       gpointer           user_data)
{
  PausedServer *p = user_data;

  p->stream = g_object_ref (stream);
  lsp_quic_stream_set_read_func (stream, sink_read, &p->sink, NULL);
  lsp_quic_stream_set_reading_paused (stream, TRUE);
}

static void
on_paused_connection_keep (LspQuicEndpoint   *endpoint,
                           LspQuicConnection *conn,
                           gpointer           user_data)
{
  g_signal_connect (conn, "incoming-stream", G_CALLBACK (on_paused_stream_keep), user_data);
}

static void
test_pause_resume (Fixture       *f,
                   gconstpointer  data)
{
  const gsize total = 40 * 1024 * 1024;
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  g_autoptr(LspQuicStream) stream = NULL;
  g_autoptr(GBytes) payload = g_bytes_new_take (g_malloc0 (total), total);
  PausedServer p = { { g_byte_array_new () }, NULL };
  WriteResult w = { 0 };

  g_signal_connect (f->server, "incoming-connection", G_CALLBACK (on_paused_connection_keep), &p);
  conn = connect_sync (f->client, f->server, NULL, &error);
  g_assert_no_error (error);
  stream = lsp_quic_connection_open_stream (conn, TRUE, &error);
  g_assert_no_error (error);
  lsp_quic_stream_write_bytes_async (stream, payload, TRUE, NULL, on_written, &w);

  lsp_test_run_for (500);
  g_assert_nonnull (p.stream);
  g_assert_false (w.done);
  g_assert_false (p.sink.done);
  g_assert_cmpuint (p.sink.data->len, >, 0);
  g_assert_cmpuint (p.sink.data->len, <=, 16 * 1024 * 1024);

  lsp_quic_stream_set_reading_paused (p.stream, FALSE);
  wait_for_flag (&p.sink.done, 30000, "the rest after resuming");
  g_assert_no_error (p.sink.error);
  g_assert_cmpuint (p.sink.data->len, ==, total);
  wait_for_flag (&w.done, 5000, "the write to complete");
  g_assert_no_error (w.error);

  g_clear_object (&p.stream);
  sink_clear (&p.sink);
}

/* The accepting side opens a stream too: either side can start a
 * control channel. */
static void
on_greeting_connection (LspQuicEndpoint   *endpoint,
                        LspQuicConnection *conn,
                        gpointer           user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicStream) stream = lsp_quic_connection_open_stream (conn, FALSE, &error);
  g_autoptr(GBytes) hello = g_bytes_new_static ("welcome", 7);

  g_assert_no_error (error);
  g_assert_true (lsp_quic_stream_is_local (stream));
  g_assert_false (lsp_quic_stream_is_bidirectional (stream));
  lsp_quic_stream_write_bytes_async (stream, hello, TRUE, NULL, NULL, NULL);
}

static void
test_server_opens_stream (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  Sink sink = { g_byte_array_new () };

  g_signal_connect (f->server, "incoming-connection", G_CALLBACK (on_greeting_connection), NULL);
  conn = connect_sync (f->client, f->server, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (conn, "incoming-stream", G_CALLBACK (on_sink_stream), &sink);
  wait_for_flag (&sink.done, 5000, "the server's greeting");
  g_assert_no_error (sink.error);
  g_assert_cmpmem (sink.data->data, sink.data->len, "welcome", 7);
  sink_clear (&sink);
}

static void
count_signal (guint *counter)
{
  (*counter)++;
}

/* Streams beyond the concurrent limit open as earlier ones close: a
 * long-lived connection is not limited to 256 streams in total. */
static void
test_stream_credit (Fixture       *f,
                    gconstpointer  data)
{
  const guint total = 3 * LSP_QUIC_MAX_STREAMS_BIDI + 10;
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  guint n_available = 0;

  g_signal_connect (f->server, "incoming-connection", G_CALLBACK (on_echo_connection), NULL);
  conn = connect_sync (f->client, f->server, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect_swapped (conn, "streams-available", G_CALLBACK (count_signal), &n_available);

  for (guint i = 0; i < total; i++)
    {
      g_autoptr(LspQuicStream) stream = NULL;
      g_autoptr(GBytes) message = g_bytes_new_static ("ping", 4);
      Sink sink = { g_byte_array_new () };
      gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

      /* The peer's MAX_STREAMS may still be on its way. */
      while ((stream = lsp_quic_connection_open_stream (conn, TRUE, &error)) == NULL &&
             g_error_matches (error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_LIMIT) &&
             g_get_monotonic_time () < deadline)
        {
          g_clear_error (&error);
          g_main_context_iteration (NULL, TRUE);
        }
      g_assert_no_error (error);
      lsp_quic_stream_set_read_func (stream, sink_read, &sink, NULL);
      lsp_quic_stream_write_bytes_async (stream, message, TRUE, NULL, NULL, NULL);
      wait_for_flag (&sink.done, 10000, "an echo");
      g_assert_no_error (sink.error);
      g_assert_cmpmem (sink.data->data, sink.data->len, "ping", 4);
      sink_clear (&sink);
    }
  g_assert_cmpuint (n_available, >, 0);
  g_signal_handlers_disconnect_by_data (conn, &n_available);
}

/* A quiet connection between live peers outlasts the idle timeout. */
static void
test_keep_alive (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  Closed closed = { 0 };

  lsp_quic_endpoint_set_idle_timeout (f->client, 600);
  lsp_quic_endpoint_set_idle_timeout (f->server, 600);
  g_signal_connect (f->server, "incoming-connection", G_CALLBACK (on_echo_connection), NULL);
  conn = connect_sync (f->client, f->server, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed), &closed);

  lsp_test_run_for (3000);
  g_assert_false (closed.done);
  g_assert_false (lsp_quic_connection_is_closed (conn));
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->server), ==, 1);
  echo_roundtrip (f);
  g_signal_handlers_disconnect_by_data (conn, &closed);
}

/* Many connection attempts: all succeed up to the limits, and all state is
 * released when they close. */
static void
test_many_connections (Fixture       *f,
                       gconstpointer  data)
{
  const guint total = 600;
  const guint parallel = 24;
  g_autoptr(GInetSocketAddress) addr = endpoint_address (f->server);
  ConnectResult *results = g_new0 (ConnectResult, total);
  guint started = 0, finished = 0;

  g_assert_cmpuint (parallel, <=, LSP_QUIC_MAX_HANDSHAKES_PER_ADDRESS);
  while (finished < total)
    {
      gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

      while (started < total && started - finished < parallel)
        lsp_quic_endpoint_connect_async (f->client, addr, NULL, NULL, on_connected, &results[started++]);
      while (!results[finished].done && g_get_monotonic_time () < deadline)
        g_main_context_iteration (NULL, TRUE);
      g_assert_true (results[finished].done);
      g_assert_no_error (results[finished].error);
      /* The client's last handshake flight goes out after connect
       * completes; wait for the server to see it before closing. */
      while (f->server_conns->len <= finished && g_get_monotonic_time () < deadline)
        g_main_context_iteration (NULL, TRUE);
      g_assert_cmpuint (f->server_conns->len, >, finished);
      lsp_quic_connection_close (results[finished].conn, 0, NULL);
      g_clear_object (&results[finished].conn);
      finished++;
    }

  lsp_test_run_for (200);
  g_assert_cmpuint (f->server_conns->len, ==, total);
  g_ptr_array_set_size (f->server_conns, 0);
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->client), ==, 0);
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->server), ==, 0);
  g_free (results);
}

/* Connect completes before the client's last handshake flight has reached
 * the server: closing right away must still not overtake that flight, or
 * the server never learns of the connection. */
static void
test_close_after_connect (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;

  conn = connect_sync (f->client, f->server, NULL, &error);
  g_assert_no_error (error);
  lsp_quic_connection_close (conn, 0, NULL);
  lsp_test_run_for (200);
  g_assert_cmpuint (f->server_conns->len, ==, 1);
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->server), ==, 0);
}

/* A flood of Initials from one address: the per-address handshake limit
 * bounds the half-open state, and the handshake timeout clears it. */
static void
test_handshake_flood (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(LspIdentity) id = make_identity (f->dir, "flood");
  g_autoptr(LspQuicEndpoint) flooder = make_endpoint (id, "127.0.0.1");
  g_autoptr(GInetSocketAddress) addr = endpoint_address (f->server);
  const guint attempts = 2000;
  ConnectResult *results = g_new0 (ConnectResult, attempts);
  gboolean all_done = FALSE;

  lsp_quic_endpoint_set_handshake_timeout (flooder, 1500);
  lsp_quic_endpoint_set_handshake_timeout (f->server, 1000);
  for (guint i = 0; i < attempts; i++)
    lsp_quic_endpoint_connect_async (flooder, addr, NULL, NULL, on_connected, &results[i]);
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (flooder), <=, LSP_QUIC_MAX_CONNECTIONS);

  {
    gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
    while (!all_done && g_get_monotonic_time () < deadline)
      {
        g_main_context_iteration (NULL, TRUE);
        g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->server), <=,
                          LSP_QUIC_MAX_HANDSHAKES_PER_ADDRESS + f->server_conns->len);
        all_done = TRUE;
        for (guint i = 0; i < attempts && all_done; i++)
          all_done = results[i].done;
      }
  }
  g_assert_true (all_done);

  for (guint i = 0; i < attempts; i++)
    {
      if (results[i].conn != NULL)
        lsp_quic_connection_close (results[i].conn, 0, NULL);
      g_clear_object (&results[i].conn);
      g_clear_error (&results[i].error);
    }
  g_ptr_array_set_size (f->server_conns, 0);
  lsp_test_run_for (1500);
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (f->server), ==, 0);
  g_assert_cmpuint (lsp_quic_endpoint_get_n_connections (flooder), ==, 0);
  g_free (results);

  /* And the server still serves. */
  g_signal_connect (f->server, "incoming-connection", G_CALLBACK (on_echo_connection), NULL);
  echo_roundtrip (f);
}

static gboolean
have_ipv6_loopback (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_DATAGRAM,
                                            G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr(GInetAddress) inet = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (inet, 0);

  return socket != NULL && g_socket_bind (socket, addr, FALSE, NULL);
}

static void
test_ipv6 (void)
{
  Fixture f = { 0 };

  if (!have_ipv6_loopback ())
    {
      g_test_skip ("no IPv6 loopback here");
      return;
    }
  fixture_setup (&f, "::1");
  g_signal_connect (f.server, "incoming-connection", G_CALLBACK (on_echo_connection), NULL);
  echo_roundtrip (&f);
  fixture_teardown (&f, NULL);
}

/* An endpoint on the IPv6 wildcard also reaches and serves IPv4 peers. */
static void
test_dual_stack (void)
{
  Fixture f = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(LspQuicConnection) conn = NULL;
  g_autoptr(GInetAddress) loopback4 = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) target = NULL;
  g_autoptr(LspQuicEndpoint) v4_client = NULL;
  ConnectResult r = { 0 };

  if (!have_ipv6_loopback ())
    {
      g_test_skip ("no IPv6 here");
      return;
    }
  fixture_setup (&f, "::");
  g_signal_connect (f.server, "incoming-connection", G_CALLBACK (on_echo_connection), NULL);
  v4_client = make_endpoint (f.client_id, "127.0.0.1");
  target = g_inet_socket_address_new (loopback4, lsp_quic_endpoint_get_port (f.server));
  lsp_quic_endpoint_connect_async (v4_client, G_INET_SOCKET_ADDRESS (target), NULL, NULL, on_connected, &r);
  wait_for_flag (&r.done, 10000, "the IPv4 handshake with a dual-stack endpoint");
  g_assert_no_error (r.error);
  conn = r.conn;
  lsp_quic_connection_close (conn, 0, NULL);
  g_clear_object (&v4_client);
  fixture_teardown (&f, NULL);
}

static char *
fake_peer_id (guint i)
{
  g_autofree char *seed = g_strdup_printf ("peer %u", i);

  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, seed, -1);
}

typedef struct
{
  const char *path;
  guint       expected;
} SavedPeers;

static gboolean
saved_peers_reached (gpointer data)
{
  SavedPeers *saved = data;
  g_autoptr(LspKnownPeers) reloaded = lsp_known_peers_new (saved->path);

  return lsp_known_peers_get_size (reloaded) == saved->expected;
}

/* Records are saved off the main loop, a burst in few writes, and what is
 * recorded just before the store goes away is not lost. */
static void
test_known_peers_saved (void)
{
  g_autofree char *dir = lsp_test_make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "known-peers", NULL);
  g_autoptr(LspKnownPeers) known = lsp_known_peers_new (path);
  g_autoptr(LspKnownPeers) reloaded = NULL;
  g_autofree char *last = fake_peer_id (200);
  SavedPeers saved = { path, 200 };
  struct stat st;

  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *peer_id = fake_peer_id (i);
      lsp_known_peers_record (known, peer_id, "127.0.0.1:4000");
    }
  /* Recording wrote nothing yet: the main loop was not reached. */
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_true (lsp_test_wait_until (saved_peers_reached, &saved, 10000));
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  lsp_known_peers_record (known, last, NULL);
  g_clear_object (&known);
  reloaded = lsp_known_peers_new (path);
  g_assert_true (lsp_known_peers_contains (reloaded, last));
  g_assert_cmpuint (lsp_known_peers_get_size (reloaded), ==, 201);
  lsp_test_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/quic/handshake-echo", Fixture, NULL, fixture_setup, test_handshake_echo, fixture_teardown);
  g_test_add ("/quic/large-transfer", Fixture, NULL, fixture_setup, test_large_transfer, fixture_teardown);
  g_test_add ("/quic/parallel-streams", Fixture, NULL, fixture_setup, test_parallel_streams, fixture_teardown);
  g_test_add ("/quic/bulk-streams", Fixture, NULL, fixture_setup, test_bulk_streams, fixture_teardown);
  g_test_add ("/quic/peer-killed", Fixture, NULL, fixture_setup, test_peer_killed, fixture_teardown);
  g_test_add ("/quic/cancel-connect", Fixture, NULL, fixture_setup, test_cancel_connect, fixture_teardown);
  g_test_add ("/quic/handshake-timeout", Fixture, NULL, fixture_setup, test_handshake_timeout, fixture_teardown);
  g_test_add ("/quic/pin-mismatch", Fixture, NULL, fixture_setup, test_pin_mismatch, fixture_teardown);
  g_test_add ("/quic/garbage", Fixture, NULL, fixture_setup, test_garbage, fixture_teardown);
  g_test_add ("/quic/version-negotiation", Fixture, NULL, fixture_setup, test_version_negotiation, fixture_teardown);
  g_test_add ("/quic/stateless-reset", Fixture, NULL, fixture_setup, test_stateless_reset, fixture_teardown);
  g_test_add ("/quic/peer-restarted", Fixture, NULL, fixture_setup, test_peer_restarted, fixture_teardown);
  g_test_add ("/quic/close-reason", Fixture, NULL, fixture_setup, test_close_reason, fixture_teardown);
  g_test_add ("/quic/closing-period", Fixture, NULL, fixture_setup, test_closing_period, fixture_teardown);
  g_test_add ("/quic/stream-reset", Fixture, NULL, fixture_setup, test_stream_reset, fixture_teardown);
  g_test_add ("/quic/write-cancel", Fixture, NULL, fixture_setup, test_write_cancel, fixture_teardown);
  g_test_add ("/quic/pause-resume", Fixture, NULL, fixture_setup, test_pause_resume, fixture_teardown);
  g_test_add ("/quic/server-opens-stream", Fixture, NULL, fixture_setup, test_server_opens_stream, fixture_teardown);
  g_test_add ("/quic/stream-credit", Fixture, NULL, fixture_setup, test_stream_credit, fixture_teardown);
  g_test_add ("/quic/keep-alive", Fixture, NULL, fixture_setup, test_keep_alive, fixture_teardown);
  g_test_add ("/quic/close-after-connect", Fixture, NULL, fixture_setup, test_close_after_connect, fixture_teardown);
  g_test_add ("/quic/many-connections", Fixture, NULL, fixture_setup, test_many_connections, fixture_teardown);
  g_test_add ("/quic/handshake-flood", Fixture, NULL, fixture_setup, test_handshake_flood, fixture_teardown);
  g_test_add_func ("/quic/ipv6", test_ipv6);
  g_test_add_func ("/quic/dual-stack", test_dual_stack);
  g_test_add_func ("/quic/identity-persistent", test_identity_persistent);
  g_test_add_func ("/quic/identity-certificate", test_identity_certificate);
  g_test_add_func ("/quic/identity-reissued", test_identity_reissued);
  g_test_add_func ("/quic/identity-reissue-mismatch", test_identity_reissue_mismatch);
  g_test_add_func ("/quic/identity-openssl", test_identity_openssl);
  g_test_add_func ("/quic/known-peers-saved", test_known_peers_saved);

  return g_test_run ();
}
