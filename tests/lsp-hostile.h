/* lsp-hostile.h: a real node on loopback, and a hostile peer that speaks
 * the protocol through the engine's own QUIC transport but says what it
 * likes; helpers of tests/test-hostile-peers.c */
#pragma once

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-glib/glib-watch.h>

#include "lsp-frame-decoder.h"
#include "lsp-node-private.h"
#include "lsp-proto.h"
#include "lsp-quic-endpoint.h"

G_BEGIN_DECLS

/* A library digest no test peer has. */
extern const char other_digest[];

typedef struct
{
  char        *games;
  char        *state;
  LspLibrary  *library;
  LspIdentity *identity;
  LspNode     *node;
  GBytes      *party_key;   /* set before it starts: its party's passphrase */
} TestPeer;

typedef struct
{
  TestPeer *viewer;
  TestPeer *seen;
} Sync;

typedef struct
{
  char            *state;
  LspIdentity     *identity;
  LspQuicEndpoint *endpoint;
} Attacker;

typedef struct
{
  LspQuicConnection *conn;
  GError            *connect_error;
  gboolean           connect_done;
  LspQuicStream     *control;
  LspFrameDecoder   *decoder;
  GPtrArray         *received;   /* LspMessage */
  gboolean           finished;
} Attack;

typedef struct
{
  TestPeer *target;
  Attacker *attacker;
  guint     n_games;
} PeerGames;

typedef struct
{
  LspQuicConnection *conn;
  GError            *error;
  gboolean           done;
} Dial;

typedef struct
{
  AvahiGLibPoll   *poll;
  AvahiClient     *client;
  GPtrArray       *groups;   /* AvahiEntryGroup */
  guint            established;
} FakeServices;

GInetSocketAddress *loopback_address (const char *host, guint16 port);
void test_peer_make_dirs (TestPeer *peer);
void test_peer_start (TestPeer *peer, const char *name, const char *host, gboolean watch);
void test_peer_init_at (TestPeer *peer, const char *name, const char *host);
void test_peer_init (TestPeer *peer, const char *name);
void test_peer_clear (TestPeer *peer);
GInetSocketAddress *address_of (TestPeer *peer);
gboolean is_synced (gpointer data);
void assert_honest_peer_syncs (TestPeer *target);
void attacker_init (Attacker *attacker);
void attacker_clear (Attacker *attacker);
Attack *attack_new (Attacker *attacker, TestPeer *target);
void attack_free (Attack *attack);
void attack_send (Attack *attack, LspMessage *message);
/* The read function of an attack's control stream: collects what the target says. */
void on_attack_read (LspQuicStream *stream, const guint8 *data, gsize length, gboolean fin, const GError *error, gpointer user_data);
void attack_say_hello (Attack *attack, Attacker *attacker, guint64 library_rev, const char *library_digest);
guint count_received (Attack *attack, LspMessageType type);
void attack_wait_for (Attack *attack, LspMessageType type, guint count);
gboolean attack_is_finished (gpointer data);
GPtrArray *make_games (const char *prefix, guint first, guint count);
LspPeer *attacker_peer (TestPeer *target, Attacker *attacker);
gboolean peer_has_games (gpointer data);
Attack *attack_with_library (Attacker *attacker, TestPeer *target, guint n_games);
void dial (LspQuicEndpoint *from, LspQuicEndpoint *to, Dial *result);
void dial_clear (Dial *result);
LspQuicEndpoint *endpoint_at (const char *state, const char *host);
void fake_services_init (FakeServices *fakes);
void fake_service_add (FakeServices *fakes, const char *name, guint16 port, const char *peer_id);
void fake_services_wait (FakeServices *fakes);
void fake_services_clear (FakeServices *fakes);
void enable_discovery (TestPeer *peer);

G_END_DECLS
