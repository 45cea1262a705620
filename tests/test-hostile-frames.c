#include "config.h"

#include <stdio.h>
#include <string.h>
#if !defined(__SANITIZE_ADDRESS__)
#include <malloc.h>
#endif

#include "lsp-frame-decoder.h"
#include "lsp-node.h"
#include "lsp-quic-endpoint.h"
#include "lsp-error.h"
#include "lsp-test-util.h"
#include "lsp-util.h"

/* Hostile control frames against a real LspNode on loopback: the hostile
 * peer is a real QUIC connection from the engine's own transport, and
 * after each attack an honest peer must still sync with the victim. */

static const char * const catalog_ids[] = { "alpha", "beta", "gamma", NULL };
#define EMPTY_DIGEST "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
static const char empty_digest[] = EMPTY_DIGEST;

/* Every log line of the process, so a test can read what a peer made us
 * log. */
static GPtrArray *logged;

static GLogWriterOutput
record_log (GLogLevelFlags   log_level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "MESSAGE"))
        g_ptr_array_add (logged, fields[i].length < 0 ? g_strdup (fields[i].value)
                                                      : g_strndup (fields[i].value, (gsize) fields[i].length));
    }
  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

/* The last log line with this text in it, or NULL. */
static const char *
find_logged (const char *text)
{
  for (guint i = logged->len; i > 0; i--)
    {
      const char *line = g_ptr_array_index (logged, i - 1);
      if (strstr (line, text) != NULL)
        return line;
    }
  return NULL;
}

static gboolean
is_logged (gpointer text)
{
  return find_logged (text) != NULL;
}

typedef struct
{
  char        *games;
  char        *state;
  LspLibrary  *library;
  LspIdentity *identity;
  LspNode     *node;
} TestPeer;

static void
test_peer_init (TestPeer   *peer,
                const char *name)
{
  g_autoptr(LspCatalog) catalog = lsp_test_catalog_new (catalog_ids);
  g_autoptr(GFile) dir = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) bind = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GError) error = NULL;

  peer->games = lsp_test_make_temp_dir ();
  peer->state = lsp_test_make_temp_dir ();
  dir = g_file_new_for_path (peer->games);
  peer->library = lsp_library_new (dir, catalog);
  lsp_test_load_library (peer->library);
  lsp_library_watch (peer->library);
  peer->identity = lsp_identity_load_or_create (peer->state, &error);
  g_assert_no_error (error);
  peer->node = lsp_node_new (peer->library, peer->identity, name);
  lsp_node_set_liveness (peer->node, 500, 3000);
  g_assert_true (lsp_node_start (peer->node, G_INET_SOCKET_ADDRESS (bind), &error));
  g_assert_no_error (error);
}

static void
test_peer_clear (TestPeer *peer)
{
  g_clear_object (&peer->node);
  g_clear_object (&peer->identity);
  g_clear_object (&peer->library);
  lsp_test_remove_tree (peer->games);
  lsp_test_remove_tree (peer->state);
  g_free (peer->games);
  g_free (peer->state);
}

typedef struct
{
  TestPeer   *viewer;
  TestPeer   *seen;
  const char *game_id;
} SeeGame;

static gboolean
sees_game (gpointer data)
{
  SeeGame *see = data;
  LspPeer *peer = lsp_node_lookup_peer (see->viewer->node, lsp_node_get_peer_id (see->seen->node));

  return peer != NULL && lsp_peer_get_connected (peer) && lsp_peer_lookup_game (peer, see->game_id) != NULL;
}

/* The victim A and an honest B that sees A's games. */
typedef struct
{
  TestPeer victim;
  TestPeer honest;
} Lan;

static void
lan_init (Lan *lan)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = NULL;
  SeeGame see = { &lan->honest, &lan->victim, "alpha" };

  test_peer_init (&lan->victim, "victim");
  test_peer_init (&lan->honest, "honest");
  lsp_test_make_game (lan->victim.games, "alpha", "1.0", 1000);
  lsp_test_wait_idle (lan->victim.library);
  address = g_inet_socket_address_new (loopback, lsp_node_get_port (lan->victim.node));
  lsp_node_add_static_peer (lan->honest.node, G_INET_SOCKET_ADDRESS (address));
  g_assert_true (lsp_test_wait_until (sees_game, &see, 20000));
}

/* The victim still serves the honest peer: a new game reaches it. */
static void
lan_check_honest (Lan        *lan,
                  const char *new_game)
{
  SeeGame see = { &lan->honest, &lan->victim, new_game };

  lsp_test_make_game (lan->victim.games, new_game, "1.0", 10);
  g_assert_true (lsp_test_wait_until (sees_game, &see, 20000));
}

static void
lan_clear (Lan *lan)
{
  test_peer_clear (&lan->honest);
  test_peer_clear (&lan->victim);
}

typedef struct
{
  char              *state;
  LspIdentity       *identity;
  LspQuicEndpoint   *endpoint;
  LspQuicConnection *conn;
  LspQuicStream     *stream;
  GString           *received;
  gboolean           finished;
} Hostile;

static void
on_hostile_connected (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  Hostile *hostile = user_data;
  g_autoptr(GError) error = NULL;

  hostile->conn = lsp_quic_endpoint_connect_finish (LSP_QUIC_ENDPOINT (object), result, &error);
  g_assert_no_error (error);
}

static void
on_hostile_read (LspQuicStream *stream,
                 const guint8  *data,
                 gsize          length,
                 gboolean       fin,
                 const GError  *error,
                 gpointer       user_data)
{
  Hostile *hostile = user_data;

  g_string_append_len (hostile->received, (const char *) data, (gssize) length);
  if (fin || error != NULL)
    hostile->finished = TRUE;
}

static gboolean
hostile_connected (gpointer data)
{
  return ((Hostile *) data)->conn != NULL;
}

static gboolean
hostile_finished (gpointer data)
{
  return ((Hostile *) data)->finished;
}

static void
hostile_send_message (Hostile    *hostile,
                      LspMessage *message)
{
  g_autoptr(LspMessage) owned = message;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) frame = lsp_message_encode (owned, LSP_PROTO_MAX_FRAME, &error);

  g_assert_no_error (error);
  lsp_quic_stream_write_bytes_async (hostile->stream, frame, FALSE, NULL, NULL, NULL);
}

/* A real connection to the victim with its control stream open; with
 * hostname, it says Hello first. */
static Hostile *
hostile_new (TestPeer   *target,
             const char *hostname)
{
  Hostile *hostile = g_new0 (Hostile, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) bind = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) target_address = g_inet_socket_address_new (loopback, lsp_node_get_port (target->node));

  hostile->state = lsp_test_make_temp_dir ();
  hostile->identity = lsp_identity_load_or_create (hostile->state, &error);
  g_assert_no_error (error);
  hostile->endpoint = lsp_quic_endpoint_new (hostile->identity, LSP_PROTO_ALPN, G_INET_SOCKET_ADDRESS (bind), &error);
  g_assert_no_error (error);
  hostile->received = g_string_new (NULL);
  lsp_quic_endpoint_connect_async (hostile->endpoint, G_INET_SOCKET_ADDRESS (target_address), NULL, NULL,
                                   on_hostile_connected, hostile);
  g_assert_true (lsp_test_wait_until (hostile_connected, hostile, 10000));
  hostile->stream = lsp_quic_connection_open_stream (hostile->conn, TRUE, &error);
  g_assert_no_error (error);
  lsp_quic_stream_set_read_func (hostile->stream, on_hostile_read, hostile, NULL);

  if (hostname != NULL)
    {
      static const char * const no_features[] = { NULL };

      hostile_send_message (hostile, lsp_message_new_hello (LSP_MESSAGE_HELLO, lsp_identity_get_peer_id (hostile->identity),
                                                            "127.0.0.1:9", 0, empty_digest, no_features, hostname));
    }
  return hostile;
}

static gboolean
hostile_received (Hostile    *hostile,
                  const char *text)
{
  return memmem (hostile->received->str, hostile->received->len, text, strlen (text)) != NULL;
}

/* The victim answered with a fatal Error of this code and closed. */
static void
hostile_wait_dropped (Hostile    *hostile,
                      const char *code)
{
  g_autofree char *code_member = g_strdup_printf ("\"code\":\"%s\"", code);

  g_assert_true (lsp_test_wait_until (hostile_finished, hostile, 60000));
  g_assert_true (hostile_received (hostile, code_member));
  g_assert_true (hostile_received (hostile, "\"fatal\":true"));
}

static void
hostile_free (Hostile *hostile)
{
  lsp_quic_stream_set_read_func (hostile->stream, NULL, NULL, NULL);
  g_clear_object (&hostile->stream);
  g_clear_object (&hostile->conn);
  g_clear_object (&hostile->endpoint);
  g_clear_object (&hostile->identity);
  lsp_test_remove_tree (hostile->state);
  g_free (hostile->state);
  g_string_free (hostile->received, TRUE);
  g_free (hostile);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Hostile, hostile_free)

/* The codec alone: what a hostile frame costs before and while it is
 * parsed. */

#if defined(__SANITIZE_ADDRESS__)
/* AddressSanitizer replaces malloc, and mallinfo2 with it; its runtime
 * counts instead (sanitizer/allocator_interface.h, not always installed). */
size_t __sanitizer_get_current_allocated_bytes (void);
#endif

/* Bytes the process has allocated and not freed. */
static gsize
allocated_bytes (void)
{
#if defined(__SANITIZE_ADDRESS__)
  return __sanitizer_get_current_allocated_bytes ();
#else
  struct mallinfo2 info = mallinfo2 ();
  return info.uordblks + info.hblkhd;
#endif
}

/* A header that claims 16 MiB and then a trickle costs what came, not
 * what was claimed; the full frame still arrives whole. */
static void
test_frame_allocates_as_bytes_arrive (void)
{
  g_autoptr(LspFrameDecoder) decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_FRAME);
  g_autofree guint8 *payload = g_malloc (LSP_PROTO_MAX_FRAME);
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GError) error = NULL;
  const guint8 *bytes;
  gsize before, size, fed = 0;

  memset (payload, ' ', LSP_PROTO_MAX_FRAME);
  frame = lsp_frame_encode (payload, LSP_PROTO_MAX_FRAME);
  bytes = g_bytes_get_data (frame, &size);

  before = allocated_bytes ();
  fed = lsp_frame_decoder_feed (decoder, bytes, LSP_PROTO_FRAME_HEADER_LEN + 1000, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (fed, ==, LSP_PROTO_FRAME_HEADER_LEN + 1000);
  g_assert_cmpuint (allocated_bytes () - before, <, 64 * 1024);

  while (fed < size)
    fed += lsp_frame_decoder_feed (decoder, bytes + fed, MIN (size - fed, 100000), &error);
  g_assert_no_error (error);
  {
    g_autoptr(GBytes) received = lsp_frame_decoder_pop (decoder);
    g_assert_nonnull (received);
    g_assert_cmpmem (g_bytes_get_data (received, NULL), g_bytes_get_size (received), payload, LSP_PROTO_MAX_FRAME);
  }
}

/* Parses text that must fail with this error and message fragment. */
static void
assert_refused (const GString *text,
                GQuark         domain,
                int            code,
                const char    *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspMessage) message = lsp_message_parse ((const guint8 *) text->str, text->len, &error);

  g_assert_null (message);
  g_assert_error (error, domain, code);
  if (strstr (error->message, fragment) == NULL)
    g_error ("“%s” does not mention “%s”", error->message, fragment);
}

/* text, with copies of item appended to it up to length bytes (white space
 * for the rest), then suffix. */
static GString *
padded (const char *prefix,
        const char *item,
        gsize       length,
        const char *suffix)
{
  GString *text = g_string_new (prefix);

  while (text->len + strlen (item) + strlen (suffix) <= length)
    g_string_append (text, item);
  while (text->len + strlen (suffix) < length)
    g_string_append_c (text, ' ');
  g_string_append (text, suffix);
  return text;
}

/* The budgets of the pre-scan: a type's size, members per object, and
 * the values a JSON tree would hold, all before json-glib builds one. */
static void
test_parse_budgets (void)
{
  /* Only snapshots, deltas and manifests may be large; a small message
   * or one of unknown type is refused by its size alone. */
  {
    g_autoptr(GString) ping = padded ("{\"type\":\"Ping\",\"nonce\":1,\"x\":[", "{},", LSP_PROTO_MAX_SMALL_FRAME + 1, "{}]}");
    g_autoptr(GString) unknown = padded ("{\"type\":\"Future\",\"x\":\"", "a", LSP_PROTO_MAX_SMALL_FRAME + 1, "\"}");
    g_autoptr(GString) untyped = padded ("{\"x\":\"", "a", LSP_PROTO_MAX_SMALL_FRAME + 1, "\"}");
    g_autoptr(GString) small = padded ("{\"type\":\"Ping\",\"nonce\":1,\"x\":\"", "a", LSP_PROTO_MAX_SMALL_FRAME, "\"}");
    g_autoptr(GError) error = NULL;
    g_autoptr(LspMessage) message = NULL;

    assert_refused (ping, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "over the limit of 16384 bytes for Ping");
    assert_refused (unknown, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "for Future");
    assert_refused (untyped, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "unknown type");
    /* json-glib keeps the last of repeated members: so does the limit. */
    {
      g_autoptr(GString) twice = padded ("{\"type\":\"Manifest\",\"type\":\"P\\u0069ng\",\"nonce\":1,\"x\":\"", "a",
                                         LSP_PROTO_MAX_SMALL_FRAME + 1, "\"}");
      assert_refused (twice, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "unknown type");
    }
    message = lsp_message_parse ((const guint8 *) small->str, small->len, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (message->ping.nonce, ==, 1);
  }

  /* 32 members in one object pass the scan, 33 do not, at any depth. A
   * message of unknown type is not read further, so nothing else limits
   * its members. */
  {
    g_autoptr(GString) ok = g_string_new ("{\"type\":\"Future\",\"nonce\":2");
    g_autoptr(GString) top = NULL;
    g_autoptr(GString) nested = g_string_new ("{\"type\":\"Ping\",\"nonce\":2,\"x\":{\"a\":0");
    g_autoptr(GError) error = NULL;
    g_autoptr(LspMessage) message = NULL;

    for (guint i = 2; i < LSP_PROTO_MAX_MEMBERS; i++)
      g_string_append_printf (ok, ",\"extra%u\":[0]", i);
    top = g_string_new_len (ok->str, (gssize) ok->len);
    g_string_append_c (ok, '}');
    message = lsp_message_parse ((const guint8 *) ok->str, ok->len, &error);
    g_assert_no_error (error);
    g_assert_cmpint (message->type, ==, LSP_MESSAGE_UNKNOWN);
    g_string_append (top, ",\"one_more\":0}");
    assert_refused (top, LSP_ERROR, LSP_ERROR_INVALID_DATA, "more than 32 members");
    for (guint i = 1; i <= LSP_PROTO_MAX_MEMBERS; i++)
      g_string_append_printf (nested, ",\"m%u\":0", i);
    g_string_append (nested, "}}");
    assert_refused (nested, LSP_ERROR, LSP_ERROR_INVALID_DATA, "more than 32 members");
  }

  /* A manifest may be large, but not a frame of empty containers or of
   * tiny values, which cost a tree far larger than any honest manifest. */
  {
    g_autoptr(GString) containers = padded ("{\"type\":\"Manifest\",\"x\":[", "[],", 3 * (LSP_PROTO_MAX_CONTAINERS + 100), "[]]}");
    g_autoptr(GString) values = padded ("{\"type\":\"Manifest\",\"x\":[", "1,", 2 * (LSP_PROTO_MAX_VALUES + 100), "1]}");

    assert_refused (containers, LSP_ERROR, LSP_ERROR_INVALID_DATA, "objects and arrays");
    assert_refused (values, LSP_ERROR, LSP_ERROR_INVALID_DATA, "JSON values");
  }
}

/* A known message or a game summary may carry 8 members it does not
 * know, for later versions' optional fields, and no more. */
static void
test_unknown_members (void)
{
  g_autoptr(GString) ping = g_string_new ("{\"type\":\"Ping\",\"nonce\":5");
  g_autoptr(GString) game = g_string_new ("{\"id\":\"q3\",\"name\":\"Quake\",\"size\":1,\"downloaded\":false,"
                                          "\"installed\":false,\"availability\":\"local_only\",\"version\":null");
  g_autoptr(GError) error = NULL;
  g_autoptr(LspMessage) message = NULL;
  g_autoptr(GString) snapshot = NULL;

  for (guint i = 0; i < LSP_PROTO_MAX_UNKNOWN_MEMBERS; i++)
    {
      g_string_append_printf (ping, ",\"later%u\":%u", i, i);
      g_string_append_printf (game, ",\"later%u\":%u", i, i);
    }
  {
    g_autoptr(GString) text = g_string_new_len (ping->str, (gssize) ping->len);

    g_string_append_c (text, '}');
    message = lsp_message_parse ((const guint8 *) text->str, text->len, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (message->ping.nonce, ==, 5);
  }
  g_string_append (ping, ",\"one_more\":0}");
  assert_refused (ping, LSP_ERROR, LSP_ERROR_INVALID_DATA, "Ping: the message has 9 unknown members; at most 8");

  g_string_append (game, ",\"one_more\":0}");
  snapshot = g_string_new ("{\"type\":\"LibrarySnapshot\",\"peer_id\":\"" "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" "\",\"library_rev\":1,"
                           "\"library_digest\":\"" EMPTY_DIGEST "\",\"games\":[");
  g_string_append_printf (snapshot, "%s]}", game->str);
  assert_refused (snapshot, LSP_ERROR, LSP_ERROR_INVALID_DATA, "LibrarySnapshot: entry games[0] has 9 unknown members");
}

static void
test_escape_untrusted (void)
{
  static const struct {
    const char *text;
    gssize      length;
    const char *escaped;
  } cases[] = {
    { "Quake III Arena", -1, "Quake III Arena" },
    { "Café 東京 AC\\DC", -1, "Café 東京 AC\\DC" },
    { "a\nb\rc\td", -1, "a\\nb\\rc\\td" },
    { "\x1b[2J\x7f", -1, "\\u{001b}[2J\\u{007f}" },
    { "next\xc2\x85line", -1, "next\\u{0085}line" },
    { "evil\xe2\x80\xaeman", -1, "evil\\u{202e}man" },
    { "para\xe2\x80\xa9graph", -1, "para\\u{2029}graph" },
    { "bad\xff\xc3", -1, "bad\\xff\\xc3" },
    { "nul\0after", 9, "nul\\x00after" },
    { NULL, -1, "(null)" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *escaped = lsp_escape_untrusted (cases[i].text, cases[i].length);

      g_assert_cmpstr (escaped, ==, cases[i].escaped);
      g_assert_true (g_utf8_validate (escaped, -1, NULL));
    }
}

/* Against a real node. */

/* A frame of exactly frame_len payload bytes: prefix, then "{}," up to the
 * end, white space for the rest, then suffix. */
static GBytes *
padded_frame (const char *prefix,
              const char *suffix,
              gsize       frame_len)
{
  gsize prefix_len = strlen (prefix), suffix_len = strlen (suffix);
  guint8 *frame = g_malloc (LSP_PROTO_FRAME_HEADER_LEN + frame_len);
  guint8 *payload = frame + LSP_PROTO_FRAME_HEADER_LEN;
  gsize fill = frame_len - prefix_len - suffix_len;

  frame[0] = (guint8) (frame_len >> 24);
  frame[1] = (guint8) (frame_len >> 16);
  frame[2] = (guint8) (frame_len >> 8);
  frame[3] = (guint8) frame_len;
  memcpy (payload, prefix, prefix_len);
  for (gsize i = 0; i + 3 <= fill; i += 3)
    memcpy (payload + prefix_len + i, "{},", 3);
  memset (payload + prefix_len + fill - fill % 3, ' ', fill % 3);
  memcpy (payload + frame_len - suffix_len, suffix, suffix_len);
  return g_bytes_new_take (frame, LSP_PROTO_FRAME_HEADER_LEN + frame_len);
}

/* The peak resident set since the last reset, in bytes. */
static gsize
peak_rss (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "VmHWM:");
  g_assert_nonnull (line);
  return (gsize) g_ascii_strtoull (line + strlen ("VmHWM:"), NULL, 10) * 1024;
}

/* Writing 5 to clear_refs resets VmHWM to the current resident set. */
static void
reset_peak_rss (void)
{
  FILE *clear_refs = fopen ("/proc/self/clear_refs", "w");

  g_assert_nonnull (clear_refs);
  g_assert_cmpint (fputs ("5", clear_refs), >=, 0);
  g_assert_cmpint (fclose (clear_refs), ==, 0);
}

/* A valid 16 MiB Ping whose extra member holds millions of empty objects
 * would cost json-glib about a hundred times its size: it is refused from
 * its type and size before any tree is built, and the session ends. */
static void
test_huge_ping (void)
{
  Lan lan = { 0 };
  g_autoptr(Hostile) hostile = NULL;
  g_autoptr(GBytes) frame = NULL;
  gsize frame_len = LSP_PROTO_MAX_FRAME - 2, before, growth;

  lan_init (&lan);
  hostile = hostile_new (&lan.victim, "hostile");
  frame = padded_frame ("{\"type\":\"Ping\",\"nonce\":7,\"x\":[", "{}]}", frame_len);

  reset_peak_rss ();
  before = peak_rss ();
  lsp_quic_stream_write_bytes_async (hostile->stream, frame, FALSE, NULL, NULL, NULL);
  hostile_wait_dropped (hostile, "frame_too_large");
  growth = peak_rss () - before;
  g_test_message ("Peak RSS grew by %" G_GSIZE_FORMAT " KiB for a %" G_GSIZE_FORMAT " KiB frame",
                  growth / 1024, frame_len / 1024);
  /* The victim buffers the frame once, in a buffer that doubles as it
   * fills (twice the frame when freed blocks stay resident, as under
   * AddressSanitizer), and QUIC holds at most a flow-control window of
   * it: a few times the frame, where a JSON tree of it took gigabytes. */
  g_assert_cmpuint (growth, <, 6 * frame_len);

  lan_check_honest (&lan, "beta");
  lan_clear (&lan);
}

/* Before the handshake only a Hello is welcome, and it is small: a large
 * frame is refused from its header, before it is buffered. */
static void
test_large_frame_before_hello (void)
{
  Lan lan = { 0 };
  g_autoptr(Hostile) hostile = NULL;
  g_autoptr(GBytes) frame = NULL;

  lan_init (&lan);
  hostile = hostile_new (&lan.victim, NULL);
  frame = padded_frame ("{\"type\":\"GetLibrary\",\"x\":[", "{}]}", 1024 * 1024 - 2);
  lsp_quic_stream_write_bytes_async (hostile->stream, frame, FALSE, NULL, NULL, NULL);
  hostile_wait_dropped (hostile, "frame_too_large");

  lan_check_honest (&lan, "beta");
  lan_clear (&lan);
}

/* A frame with more members in one object than any message has. */
static void
test_many_members (void)
{
  Lan lan = { 0 };
  g_autoptr(Hostile) hostile = NULL;
  g_autoptr(GString) ping = g_string_new ("{\"type\":\"Ping\",\"nonce\":7");
  g_autoptr(GBytes) frame = NULL;

  for (guint i = 0; i < 40; i++)
    g_string_append_printf (ping, ",\"extra%u\":0", i);
  g_string_append_c (ping, '}');
  frame = lsp_frame_encode (ping->str, ping->len);

  lan_init (&lan);
  hostile = hostile_new (&lan.victim, "hostile");
  lsp_quic_stream_write_bytes_async (hostile->stream, frame, FALSE, NULL, NULL, NULL);
  hostile_wait_dropped (hostile, "bad_message");
  g_assert_false (hostile_received (hostile, "\"type\":\"Pong\""));

  lan_check_honest (&lan, "beta");
  lan_clear (&lan);
}

static gboolean
got_pong_4242 (gpointer data)
{
  return hostile_received (data, "\"nonce\":4242");
}

static gboolean
has_games (gpointer data)
{
  gpointer *args = data;
  LspPeer *peer = lsp_node_lookup_peer (args[0], args[1]);

  return peer != NULL && lsp_peer_get_n_games (peer) == GPOINTER_TO_UINT (args[2]);
}

/* Snapshots too large to parse on the main loop go to workers, a few at
 * once for the node, and the frames after each wait for it: five peers
 * send one at the same time, and each one's Ping is answered after its
 * snapshot was applied. */
static void
test_large_frames_keep_order (void)
{
  Lan lan = { 0 };
  g_autoptr(GPtrArray) games = g_ptr_array_new_with_free_func ((GDestroyNotify) lsp_game_summary_free);
  Hostile *hostiles[5];
  const guint n_games = 1000;

  for (guint i = 0; i < n_games; i++)
    {
      g_autofree char *id = g_strdup_printf ("game%04u", i);
      g_autofree char *name = g_strdup_printf ("A game with a rather long display name, number %u", i);
      g_ptr_array_add (games, lsp_game_summary_new_for_game (id, name, 1000 + i, TRUE, FALSE, "1.0", empty_digest));
    }

  lan_init (&lan);
  for (guint h = 0; h < G_N_ELEMENTS (hostiles); h++)
    hostiles[h] = hostile_new (&lan.victim, "sender");
  for (guint h = 0; h < G_N_ELEMENTS (hostiles); h++)
    {
      g_autoptr(LspMessage) snapshot = lsp_message_new_library_snapshot (lsp_identity_get_peer_id (hostiles[h]->identity),
                                                                         1, empty_digest, games);
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) frame = lsp_message_encode (snapshot, LSP_PROTO_MAX_FRAME, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (g_bytes_get_size (frame), >, 64 * 1024);
      lsp_quic_stream_write_bytes_async (hostiles[h]->stream, frame, FALSE, NULL, NULL, NULL);
      hostile_send_message (hostiles[h], lsp_message_new_ping (LSP_MESSAGE_PING, 4242));
    }

  for (guint h = 0; h < G_N_ELEMENTS (hostiles); h++)
    {
      gpointer args[3] = { lan.victim.node, (gpointer) lsp_identity_get_peer_id (hostiles[h]->identity),
                           GUINT_TO_POINTER (n_games) };

      g_assert_true (lsp_test_wait_until (got_pong_4242, hostiles[h], 20000));
      g_assert_true (has_games (args));
    }

  for (guint h = 0; h < G_N_ELEMENTS (hostiles); h++)
    hostile_free (hostiles[h]);
  lan_check_honest (&lan, "beta");
  lan_clear (&lan);
}

static gboolean
peer_has_game (gpointer data)
{
  gpointer *args = data;
  LspPeer *peer = lsp_node_lookup_peer (args[0], args[1]);

  return peer != NULL && lsp_peer_lookup_game (peer, args[2]) != NULL;
}

/* What a peer says reaches our log, its model and GError messages with
 * its line breaks, escape sequences and bidi controls made visible, so it
 * cannot forge log lines or disguise its name. */
static void
test_escaped_text (void)
{
  Lan lan = { 0 };
  g_autoptr(Hostile) hostile = NULL;
  g_autoptr(GPtrArray) games = g_ptr_array_new_with_free_func ((GDestroyNotify) lsp_game_summary_free);
  const char *line;
  const LspGameSummary *game;
  gpointer args[3];
  LspPeer *peer;

  lan_init (&lan);
  hostile = hostile_new (&lan.victim, "evil\u202eman");
  args[0] = lan.victim.node;
  args[1] = (gpointer) lsp_identity_get_peer_id (hostile->identity);
  args[2] = (gpointer) "omega";

  g_ptr_array_add (games, lsp_game_summary_new_for_game ("omega", "Omega\u2028forged", 1, FALSE, TRUE, NULL, NULL));
  hostile_send_message (hostile, lsp_message_new_library_snapshot (args[1], 1, empty_digest, games));
  hostile_send_message (hostile, lsp_message_new_error ("internal", FALSE, "%s",
                                                        "oops\nlsp-node-WARNING **: forged\x1b[2J"));
  g_assert_true (lsp_test_wait_until (is_logged, (gpointer) "reports internal", 20000));
  line = find_logged ("reports internal");
  g_assert_null (strchr (line, '\n'));
  g_assert_null (strchr (line, '\x1b'));
  g_assert_nonnull (strstr (line, "oops\\nlsp-node-WARNING **: forged\\u{001b}[2J"));

  peer = lsp_node_lookup_peer (lan.victim.node, args[1]);
  g_assert_nonnull (peer);
  g_assert_cmpstr (lsp_peer_get_hostname (peer), ==, "evil\\u{202e}man");
  g_assert_true (lsp_test_wait_until (peer_has_game, args, 20000));
  game = lsp_peer_lookup_game (peer, "omega");
  g_assert_cmpstr (game->name, ==, "Omega\\u{2028}forged");

  /* The reason phrase of its CONNECTION_CLOSE reaches the "left" line. */
  lsp_quic_connection_close (hostile->conn, 1, "bye\nlsp-node-WARNING **: forged");
  g_assert_true (lsp_test_wait_until (is_logged, (gpointer) "bye\\nlsp-node", 20000));
  line = find_logged ("bye\\nlsp-node");
  g_assert_nonnull (strstr (line, "left"));
  g_assert_null (strchr (line, '\n'));

  lan_check_honest (&lan, "beta");
  lan_clear (&lan);
}

static void
on_hostile_closed (LspQuicConnection *conn,
                   const GError      *error,
                   gpointer           user_data)
{
  char **closed_by = user_data;

  g_free (*closed_by);
  *closed_by = g_strdup (error != NULL ? error->message : "closed without an error");
}

static gboolean
has_text (gpointer data)
{
  return *(char **) data != NULL;
}

/* A peer that asks for manifests and never reads the answers cannot make
 * the victim queue them without end: it is dropped. */
static void
test_unread_answers (void)
{
  Lan lan = { 0 };
  g_autoptr(Hostile) hostile = NULL;
  g_autofree char *closed_by = NULL;
  g_autofree char *manifest_hash = NULL;
  g_autofree char *padding = g_strnfill (200, 'p');

  lan_init (&lan);
  /* A game whose manifest is over a megabyte: 4,000 files with long names. */
  for (guint i = 0; i < 4000; i++)
    {
      g_autofree char *name = g_strdup_printf ("%04u-%s", i, padding);
      g_autofree char *path = g_build_filename (lan.victim.games, "gamma", "data", name, NULL);
      lsp_test_write_file (path, "x", 1);
    }
  lsp_test_make_game (lan.victim.games, "gamma", "1.0", 10);
  lsp_test_wait_idle (lan.victim.library);
  manifest_hash = g_strdup (lsp_local_game_get_manifest_hash (lsp_library_lookup (lan.victim.library, "gamma")));
  g_assert_nonnull (manifest_hash);

  hostile = hostile_new (&lan.victim, "hostile");
  /* It never reads: what the victim sends waits in its flow-control window. */
  lsp_quic_stream_set_read_func (hostile->stream, NULL, NULL, NULL);
  g_signal_connect (hostile->conn, "closed", G_CALLBACK (on_hostile_closed), &closed_by);

  /* Four requests at a time, as many as the victim loads at once. Nothing
   * it sends can tell the hostile peer that an answer went out, so it asks
   * again whenever a round finds the connection still open. */
  for (guint round = 0; round < 300 && closed_by == NULL; round++)
    {
      for (guint i = 0; i < 4; i++)
        hostile_send_message (hostile, lsp_message_new_get_manifest ("gamma", manifest_hash));
      lsp_test_wait_until (has_text, &closed_by, 100);
    }
  g_assert_nonnull (closed_by);
  g_assert_nonnull (strstr (closed_by, "does not read its control stream"));
  g_signal_handlers_disconnect_by_data (hostile->conn, &closed_by);

  lan_check_honest (&lan, "beta");
  lan_clear (&lan);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Every attack makes the victim warn that it drops the attacker. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  logged = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (record_log, NULL, NULL);

  g_test_add_func ("/peer/hostile-frames/codec/allocates-as-bytes-arrive", test_frame_allocates_as_bytes_arrive);
  g_test_add_func ("/peer/hostile-frames/codec/parse-budgets", test_parse_budgets);
  g_test_add_func ("/peer/hostile-frames/codec/unknown-members", test_unknown_members);
  g_test_add_func ("/peer/hostile-frames/codec/escape-untrusted", test_escape_untrusted);
  g_test_add_func ("/peer/hostile-frames/huge-ping", test_huge_ping);
  g_test_add_func ("/peer/hostile-frames/large-frame-before-hello", test_large_frame_before_hello);
  g_test_add_func ("/peer/hostile-frames/many-members", test_many_members);
  g_test_add_func ("/peer/hostile-frames/large-frames-keep-order", test_large_frames_keep_order);
  g_test_add_func ("/peer/hostile-frames/escaped-text", test_escaped_text);
  g_test_add_func ("/peer/hostile-frames/unread-answers", test_unread_answers);

  return g_test_run ();
}
