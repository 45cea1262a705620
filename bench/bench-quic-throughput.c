/* bench-quic-throughput: one stream of N bytes over loopback through our
 * QUIC transport, sender and receiver in separate processes (as the
 * reference programs run), the receiver discarding the data. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lsp-fs.h"
#include "lsp-proto.h"
#include "lsp-identity.h"
#include "lsp-quic-endpoint.h"

#define WRITE_SIZE    (4 * 1024 * 1024)
#define MAX_IN_FLIGHT 4

typedef struct
{
  GMainLoop *loop;
  guint64    received;
} Receiver;

static void
receiver_read (LspQuicStream *stream,
               const guint8  *data,
               gsize          length,
               gboolean       fin,
               const GError  *error,
               gpointer       user_data)
{
  Receiver *r = user_data;

  if (error != NULL)
    {
      g_printerr ("receiver: %s\n", error->message);
      g_main_loop_quit (r->loop);
      return;
    }
  r->received += length;
  if (fin)
    {
      guint64 n = GUINT64_TO_BE (r->received);
      g_autoptr(GBytes) reply = g_bytes_new (&n, sizeof n);
      lsp_quic_stream_write_bytes_async (stream, reply, TRUE, NULL, NULL, NULL);
    }
}

static void
on_receiver_stream (LspQuicConnection *conn,
                    LspQuicStream     *stream,
                    gpointer           user_data)
{
  lsp_quic_stream_set_read_func (stream, receiver_read, user_data, NULL);
}

static void
on_receiver_closed (LspQuicConnection *conn,
                    const GError      *error,
                    gpointer           user_data)
{
  Receiver *r = user_data;
  g_main_loop_quit (r->loop);
}

static void
on_receiver_connection (LspQuicEndpoint   *endpoint,
                        LspQuicConnection *conn,
                        gpointer           user_data)
{
  g_signal_connect (conn, "incoming-stream", G_CALLBACK (on_receiver_stream), user_data);
  g_signal_connect (conn, "closed", G_CALLBACK (on_receiver_closed), user_data);
}

static int
run_receiver (const char *state_dir,
              int         port_fd)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspIdentity) identity = lsp_identity_load_or_create (state_dir, &error);
  g_autoptr(LspQuicEndpoint) endpoint = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (loopback, 0);
  Receiver r = { g_main_loop_new (NULL, FALSE), 0 };
  guint16 port;

  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (identity == NULL)
    {
      g_printerr ("receiver: %s\n", error->message);
      return 1;
    }
  endpoint = lsp_quic_endpoint_new (identity, LSP_PROTO_ALPN, G_INET_SOCKET_ADDRESS (addr), &error);
  if (endpoint == NULL)
    {
      g_printerr ("receiver: %s\n", error->message);
      return 1;
    }
  g_signal_connect (endpoint, "incoming-connection", G_CALLBACK (on_receiver_connection), &r);
  port = lsp_quic_endpoint_get_port (endpoint);
  if (write (port_fd, &port, sizeof port) != sizeof port)
    return 1;
  close (port_fd);
  g_main_loop_run (r.loop);
  g_main_loop_unref (r.loop);
  return 0;
}

typedef struct
{
  GMainLoop     *loop;
  LspQuicStream *stream;
  GBytes        *block;
  guint64        total;
  guint64        queued;
  guint          in_flight;
  GByteArray    *reply;
  gboolean       done;
  GError        *error;
} Sender;

static void pump (Sender *s);

static void
on_written (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Sender *s = user_data;

  s->in_flight--;
  if (!lsp_quic_stream_write_bytes_finish (LSP_QUIC_STREAM (source), result, s->error == NULL ? &s->error : NULL))
    {
      g_main_loop_quit (s->loop);
      return;
    }
  pump (s);
}

static void
pump (Sender *s)
{
  while (s->queued < s->total && s->in_flight < MAX_IN_FLIGHT)
    {
      gsize n = (gsize) MIN ((guint64) WRITE_SIZE, s->total - s->queued);
      g_autoptr(GBytes) bytes = g_bytes_new_from_bytes (s->block, 0, n);

      s->queued += n;
      s->in_flight++;
      lsp_quic_stream_write_bytes_async (s->stream, bytes, s->queued == s->total, NULL, on_written, s);
    }
}

static void
sender_read (LspQuicStream *stream,
             const guint8  *data,
             gsize          length,
             gboolean       fin,
             const GError  *error,
             gpointer       user_data)
{
  Sender *s = user_data;

  if (error != NULL)
    {
      if (s->error == NULL)
        s->error = g_error_copy (error);
      g_main_loop_quit (s->loop);
      return;
    }
  g_byte_array_append (s->reply, data, (guint) length);
  if (fin)
    {
      s->done = TRUE;
      g_main_loop_quit (s->loop);
    }
}

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  LspQuicConnection **conn = user_data;
  g_autoptr(GError) error = NULL;

  *conn = lsp_quic_endpoint_connect_finish (LSP_QUIC_ENDPOINT (source), result, &error);
  if (*conn == NULL)
    {
      g_printerr ("connect: %s\n", error->message);
      exit (1);
    }
}

static void
remove_state (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *parent = g_path_get_dirname (path);
  g_autofree char *name = g_path_get_basename (path);
  int fd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0 || !lsp_fs_remove_tree_at (fd, name, &error))
    g_printerr ("Cannot remove %s: %s\n", path, error != NULL ? error->message : g_strerror (errno));
  if (fd >= 0)
    close (fd);
}

static double
cpu_seconds (int who)
{
  struct rusage ru;

  getrusage (who, &ru);
  return (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         (double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int
main (int   argc,
      char *argv[])
{
  gint64 size = 1024 * 1024 * 1024;
  g_autofree char *state = NULL;
  g_autoptr(GError) error = NULL;
  GOptionEntry entries[] = {
    { "size", 's', 0, G_OPTION_ARG_INT64, &size, "Bytes to send (default 1 GiB)", "BYTES" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- QUIC throughput over loopback");
  g_autoptr(LspIdentity) identity = NULL;
  g_autoptr(LspQuicEndpoint) endpoint = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) local = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) remote = NULL;
  g_autofree char *receiver_dir = NULL;
  g_autofree char *sender_dir = NULL;
  LspQuicConnection *conn = NULL;
  Sender s = { 0 };
  guint8 *block;
  int fds[2];
  guint16 port = 0;
  pid_t pid;
  int status;
  gint64 start, end;
  double cpu_before, cpu_sender, cpu_receiver, seconds, gib;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || size <= 0)
    {
      g_printerr ("%s\n", error != NULL ? error->message : "--size must be positive");
      return 2;
    }

  state = g_dir_make_tmp ("lanspread-bench-XXXXXX", &error);
  if (state == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  receiver_dir = g_build_filename (state, "receiver", NULL);
  sender_dir = g_build_filename (state, "sender", NULL);

  if (pipe (fds) != 0)
    return 1;
  pid = fork ();
  if (pid == 0)
    {
      close (fds[0]);
      _exit (run_receiver (receiver_dir, fds[1]));
    }
  close (fds[1]);
  if (read (fds[0], &port, sizeof port) != sizeof port)
    {
      g_printerr ("the receiver did not start\n");
      return 1;
    }
  close (fds[0]);

  identity = lsp_identity_load_or_create (sender_dir, &error);
  if (identity != NULL)
    endpoint = lsp_quic_endpoint_new (identity, LSP_PROTO_ALPN, G_INET_SOCKET_ADDRESS (local), &error);
  if (endpoint == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  remote = g_inet_socket_address_new (loopback, port);
  lsp_quic_endpoint_connect_async (endpoint, G_INET_SOCKET_ADDRESS (remote), NULL, NULL, on_connected, &conn);
  while (conn == NULL)
    g_main_context_iteration (NULL, TRUE);

  /* Incompressible data, generated once and sent over and over. */
  block = g_malloc (WRITE_SIZE);
  gnutls_rnd (GNUTLS_RND_NONCE, block, WRITE_SIZE);
  s.block = g_bytes_new_take (block, WRITE_SIZE);
  s.loop = g_main_loop_new (NULL, FALSE);
  s.total = (guint64) size;
  s.reply = g_byte_array_new ();
  s.stream = lsp_quic_connection_open_stream (conn, TRUE, &error);
  if (s.stream == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  lsp_quic_stream_set_read_func (s.stream, sender_read, &s, NULL);

  cpu_before = cpu_seconds (RUSAGE_SELF);
  start = g_get_monotonic_time ();
  pump (&s);
  g_main_loop_run (s.loop);
  end = g_get_monotonic_time ();
  cpu_sender = cpu_seconds (RUSAGE_SELF) - cpu_before;

  if (!s.done || s.reply->len != 8)
    {
      g_printerr ("transfer failed: %s\n", s.error != NULL ? s.error->message : "no reply");
      return 1;
    }
  {
    guint64 got;
    memcpy (&got, s.reply->data, 8);
    if (GUINT64_FROM_BE (got) != s.total)
      {
        g_printerr ("receiver got %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes\n",
                    GUINT64_FROM_BE (got), s.total);
        return 1;
      }
  }

  lsp_quic_connection_close (conn, 0, "done");
  waitpid (pid, &status, 0);
  cpu_receiver = cpu_seconds (RUSAGE_CHILDREN);

  seconds = (end - start) / 1e6;
  gib = (double) s.total / (1024.0 * 1024.0 * 1024.0);
  printf ("lanspread QUIC: %" G_GUINT64_FORMAT " bytes in %.3f s = %.0f MB/s; "
          "CPU %.2f s/GiB (sender %.2f s, receiver %.2f s)\n",
          s.total, seconds, s.total / seconds / 1e6,
          (cpu_sender + cpu_receiver) / gib, cpu_sender, cpu_receiver);
  printf ("RESULT mbps=%.0f cpu_per_gib=%.2f\n", s.total / seconds / 1e6, (cpu_sender + cpu_receiver) / gib);

  g_clear_object (&s.stream);
  g_bytes_unref (s.block);
  g_byte_array_unref (s.reply);
  g_main_loop_unref (s.loop);
  g_object_unref (conn);
  g_clear_object (&endpoint);
  remove_state (state);
  return 0;
}
