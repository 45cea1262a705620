/* lsp-cli-peer.h: the real lanspread-peer binary driven through its stdin
 * command loop, its JSON events read back; helpers of the CLI tests */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define GAME "game1"

typedef struct
{
  char             *games;
  GSubprocess      *process;
  GOutputStream    *stdin_pipe;
  GDataInputStream *events;
} Peer;

void        peer_start_with   (Peer *peer, const char *crash_at, const char * const *extra);
void        peer_start        (Peer *peer, const char *crash_at);
void        peer_send         (Peer *peer, const char *command);
JsonObject *peer_expect       (Peer *peer, const char *name);
void        peer_expect_ok    (Peer *peer, const char *name);
void        peer_close        (Peer *peer);
void        peer_quit         (Peer *peer);
void        make_game         (Peer *peer);
/* g_test_add fixtures: a games folder with GAME in it. */
void        setup             (Peer *peer, gconstpointer data);
void        teardown          (Peer *peer, gconstpointer data);
char       *expect_ready      (Peer *peer, guint *port);
void        expect_peer_added (Peer *peer, const char *peer_id);
void        expect_peer_game  (Peer *peer, const char *peer_id, const char *game_id, const char *list);

G_END_DECLS
