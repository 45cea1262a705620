/* lsp-node-private.h: what the files of LspNode share */
#pragma once

#include "lsp-node.h"

#include "lsp-frame-decoder.h"
#include "lsp-known-peers.h"
#include "lsp-party-key.h"
#include "lsp-proto.h"
#include "lsp-quic-endpoint.h"

G_BEGIN_DECLS

/* QUIC application error codes of the connections we close
 * (PROTOCOL.md, "Streams and closing"): 1 after a fatal Error or when a
 * peer goes quiet, 2 on shutdown, ours or the peer's (its Goodbye). */
#define APP_ERROR_CLOSE    1
#define APP_ERROR_SHUTDOWN 2
/* A peer may send this many control frames per second (with bursts up to
 * FRAME_BURST) before it is dropped as a flood. */
#define FRAME_RATE  200
#define FRAME_BURST 1000
/* Library answers to one peer are at most this often; requests in between
 * are answered together. */
#define LIBRARY_ANSWER_INTERVAL_MS 1000
/* A peer that does not answer a GetManifest for this long is given up on. */
#define MANIFEST_FETCH_TIMEOUT_SECONDS 30
/* Manifests being read for one peer at once, and for all peers; more
 * requests are told “busy”. The first keeps one peer from making everyone
 * else busy, the second bounds the memory many peers can make us hold. */
#define MAX_MANIFEST_LOADS_PER_PEER 4
#define MAX_MANIFEST_LOADS          64
/* Control frames above this size are parsed in a worker, so a large
 * snapshot or manifest never stalls the main loop. */
#define INLINE_PARSE_MAX (64 * 1024)
/* Workers parsing large frames at once, for the whole node: a JSON tree
 * within the parse budgets can cost over 100 MB, and a crowd of peers
 * must not multiply it. Other sessions wait their turn. */
#define MAX_LARGE_PARSES 2
/* Bytes of ours a peer may leave unread on its control stream, beyond
 * what QUIC flow control lets through: room for the largest snapshot and
 * the largest manifest at once. A peer over it is dropped. */
#define CONTROL_QUEUE_MAX (2 * LSP_PROTO_MAX_FRAME)

typedef struct _Session Session;
typedef struct _PublishedChunks PublishedChunks;

typedef struct
{
  guint64  from_rev;
  guint64  to_rev;
  GStrv    changed;
  GStrv    removed;
} HistoryEntry;

typedef struct
{
  char               *key;       /* "host:port" as given */
  GInetSocketAddress *address;
  guint               retry_ms;
  guint               retry_id;
  Session            *session;   /* while connected */
  gboolean            connecting;
  char               *reported_key;  /* the other peer_id we last reported answering here */
} StaticPeer;

struct _LspNode
{
  GObject          parent_instance;

  LspLibrary      *library;
  LspIdentity     *identity;
  GBytes          *party_key;      /* NULL: the party has no passphrase */
  char            *hostname;
  LspQuicEndpoint *endpoint;
  LspDiscovery    *discovery;
  GCancellable    *cancellable;

  GPtrArray       *sessions;       /* Session, owned */
  GHashTable      *peers;          /* peer_id → LspPeer */
  GPtrArray       *peer_list;      /* LspPeer, the GListModel, in arrival order */
  GPtrArray       *static_peers;   /* StaticPeer */
  GHashTable      *dialing;        /* peer_ids being dialled after discovery */
  GHashTable      *unauthorized;   /* peer_ids that LspNode::unauthorized reported */
  GQueue           dial_queue;     /* peer_ids waiting for a dial slot, oldest first */
  GHashTable      *dial_waiting;   /* the same, to look them up */

  GQueue           history;        /* HistoryEntry, oldest first */
  guint64          history_rev;    /* the library rev the history ends at */
  guint            push_id;

  guint            manifest_loads;
  GHashTable      *manifest_loads_by_peer;  /* peer_id → loads, while any */
  guint            large_parses;    /* parse workers running */
  GQueue           parse_waiting;   /* Session, waiting for a parse worker */
  guint            idle_ping_ms;
  guint            stale_ms;
  guint            hello_timeout_ms;
  guint            proto_min;
  guint            proto_max;
  gboolean         stopping;
  guint            goodbyes_pending;
  GPtrArray       *stop_tasks;     /* GTask of lsp_node_stop_async */
  guint            stop_timeout_id;

  gboolean         swarm;           /* we list the "swarm" feature */
  GHashTable      *published;       /* game_id → PublishedChunks */
  guint            chunks_flush_id;
};

struct _Session
{
  LspNode           *node;
  LspQuicConnection *conn;
  LspQuicStream     *control;
  LspFrameDecoder   *decoder;
  LspPeer           *peer;          /* once the handshake is done */
  StaticPeer        *static_peer;   /* when we dialled a --peer address */
  gboolean           is_client;
  gboolean           established;
  LspMessage        *awaiting_auth;  /* their Hello/HelloAck, until their Auth proves the passphrase */
  gboolean           closing;
  guint64            sent_rev;      /* our revision this peer has been brought to */
  gint64             last_received;
  guint64            ping_nonce;
  gboolean           ping_outstanding;
  guint              liveness_id;
  guint              hello_timeout_id;
  guint              close_id;
  char              *close_reason;
  double             frame_budget;
  gint64             budget_time;
  gint64             last_library_answer;
  guint              library_answer_id;
  gboolean           pending_has_since;
  guint64            pending_since_rev;
  guint64            close_code;        /* APP_ERROR_CLOSE unless a Goodbye or a shutdown */
  GQueue             manifest_fetches;  /* GTask, oldest first; only the oldest is asked */
  guint              manifest_timeout_id;
  GCancellable      *cancellable;       /* cancelled when the session is freed */
  gboolean           parsing;           /* a frame waits for or is in a parse worker; reading is paused */
  gboolean           parse_running;     /* ... in a worker, counted in large_parses */
  GBytes            *parse_waiting;     /* ... waiting for one, in the node's parse_waiting */
  GByteArray        *held;              /* control bytes that arrived meanwhile */
  gboolean           held_fin;
  gboolean           swarm;             /* both list the "swarm" feature */
};

/* lsp-node-chunks.c */
void _lsp_published_chunks_free (PublishedChunks *published);
void _lsp_session_send_published (Session *session);
void _lsp_session_handle_have (Session *session, const LspHaveBody *have);

/* lsp-node-dial.c */
void _lsp_node_dial_static_peer (LspNode *self, StaticPeer *static_peer);
void _lsp_node_on_peer_found (LspDiscovery *discovery, const LspDiscoveredPeer *found, LspNode *self);
void _lsp_node_schedule_static_retry (StaticPeer *static_peer);

/* lsp-node-library.c */
void _lsp_node_history_entry_free (HistoryEntry *entry);
char * _lsp_node_listen_addr (LspNode *self);
LspMessage * _lsp_node_new_delta_since (LspNode *self, guint64 since_rev);
LspMessage * _lsp_node_new_hello (LspNode *self, LspMessageType type);
LspMessage * _lsp_node_new_snapshot (LspNode *self);
LspMessage * _lsp_node_new_summary (LspNode *self);
void _lsp_node_on_library_changed (LspLibrary *library, guint64 rev, const char * const *changed, const char * const *removed, LspNode *self);

/* lsp-node-manifest.c */
void _lsp_session_answer_get_manifest (Session *session, const LspManifestBody *request);
void _lsp_session_answer_manifest_fetch (Session *session, const LspManifestBody *answer);
void _lsp_session_drop_manifest_fetches (Session *session);
void _lsp_session_fetch_manifest (Session *session, GTask *task);
void _lsp_session_refuse_manifest_fetch (Session *session, const LspErrorBody *error);

/* lsp-node-session.c */
void _lsp_session_fail (Session *session, const char *code, const char *detail);
void _lsp_session_handle_message (Session *session, LspMessage *message);
void _lsp_session_on_write_done (GObject *object, GAsyncResult *result, gpointer user_data);
void _lsp_session_write_frame (Session *session, GBytes *frame);
void _lsp_node_on_incoming_connection (LspQuicEndpoint *endpoint, LspQuicConnection *conn, LspNode *self);
void _lsp_session_send_message (Session *session, LspMessage *message);
void _lsp_session_close (Session *session, const char *reason);
void _lsp_session_free (Session *session);
Session * _lsp_session_new (LspNode *self, LspQuicConnection *conn, gboolean is_client);
void _lsp_session_say_goodbye (Session *session, const char *reason);
void _lsp_session_start_liveness (Session *session);

/* lsp-node-session-frames.c */
void _lsp_session_attach_control (Session *session, LspQuicStream *stream);
void _lsp_session_clear_frames (Session *session);

/* lsp-node.c */
enum {
  NODE_SIGNAL_DATA_STREAM,
  NODE_SIGNAL_PEER_KEY_CHANGED,
  NODE_SIGNAL_UNAUTHORIZED,
  NODE_N_SIGNALS
};
extern guint _lsp_node_signals[NODE_N_SIGNALS];
void _lsp_node_goodbyes_sent (LspNode *self);
void _lsp_node_report_unauthorized (LspNode *self, const char *peer_id, const char *address);
void _lsp_node_add_peer_to_model (LspNode *self, LspPeer *peer);
void _lsp_node_remove_peer (LspNode *self, LspPeer *peer, const char *reason);

G_END_DECLS
