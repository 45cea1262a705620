/* lsp-proto.h: the peer protocol's messages and their JSON form (PROTOCOL.md) */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "lsp-game-summary.h"
#include "lsp-manifest.h"
#include "lsp-peer-id.h"
#include "lsp-types.h"

G_BEGIN_DECLS

#define LSP_PROTO_ALPN                "lanspread/1"
#define LSP_PROTO_VERSION             1
#define LSP_PROTO_MIN_VERSION         1
#define LSP_PROTO_MAX_VERSION_VALUE   65535

#define LSP_PROTO_FRAME_HEADER_LEN    4
#define LSP_PROTO_MIN_FRAME           2
#define LSP_PROTO_MAX_FRAME           (16u * 1024 * 1024)
#define LSP_PROTO_MAX_REQUEST_FRAME   (64u * 1024)
#define LSP_PROTO_MAX_SMALL_FRAME     (16u * 1024)
#define LSP_PROTO_MAX_DEPTH           32
/* Parse budgets, checked before any JSON tree is built. An object has at
 * most 10 known members; the rest is room for later optional fields. The
 * largest honest frame is a manifest of LSP_MANIFEST_MAX_FILES files: an
 * object, a path, a size and a chunk array each, plus the chunk hashes
 * that fit in the frame. */
#define LSP_PROTO_MAX_MEMBERS         32
#define LSP_PROTO_MAX_UNKNOWN_MEMBERS 8
#define LSP_PROTO_MAX_CONTAINERS      (2u * LSP_MANIFEST_MAX_FILES + 1024)
#define LSP_PROTO_MAX_VALUES          (4u * LSP_MANIFEST_MAX_FILES + LSP_PROTO_MAX_FRAME / 64)
#define LSP_PROTO_MAX_GAMES           10000
#define LSP_PROTO_MAX_INT             ((G_GINT64_CONSTANT (1) << 53) - 1)
#define LSP_PROTO_MAX_FEATURES        32
#define LSP_PROTO_MAX_FEATURE_LEN     32
#define LSP_PROTO_MAX_NAME_LEN        256
#define LSP_PROTO_MAX_HOSTNAME_LEN    63
#define LSP_PROTO_MAX_MESSAGE_LEN     1024
#define LSP_PROTO_MAX_REASON_LEN      256
#define LSP_PROTO_MAX_CODE_LEN        32
#define LSP_PROTO_PEER_ID_LEN         64

/* The "swarm" feature (PROTOCOL.md, "Swarm: chunks of a download in
 * progress"). A Have frame holds the bitmap of a manifest of at most
 * LSP_PROTO_MAX_HAVE_CHUNKS chunks (a 1 TiB game), or at most
 * LSP_PROTO_MAX_HAVE_ADDED chunk indices; a receiver follows at most
 * LSP_PROTO_MAX_HAVE_GAMES partial games per peer. */
#define LSP_PROTO_FEATURE_SWARM       "swarm"
#define LSP_PROTO_MAX_HAVE_FRAME      (64u * 1024)
#define LSP_PROTO_MAX_HAVE_CHUNKS     262144
#define LSP_PROTO_MAX_HAVE_ADDED      1024
#define LSP_PROTO_MAX_HAVE_GAMES      16

/* Liveness and sync timing (PROTOCOL.md, "Liveness" and "Library sync"). */
#define LSP_PROTO_IDLE_PING_SECONDS   15
#define LSP_PROTO_STALE_SECONDS       45
#define LSP_PROTO_DELTA_HISTORY       64

/* Error codes of the Error message. */
#define LSP_PROTO_ERROR_BAD_FRAME            "bad_frame"
#define LSP_PROTO_ERROR_FRAME_TOO_LARGE      "frame_too_large"
#define LSP_PROTO_ERROR_BAD_MESSAGE          "bad_message"
#define LSP_PROTO_ERROR_UNKNOWN_TYPE         "unknown_type"
#define LSP_PROTO_ERROR_INCOMPATIBLE_VERSION "incompatible_version"
#define LSP_PROTO_ERROR_NOT_FOUND            "not_found"
#define LSP_PROTO_ERROR_BUSY                 "busy"
#define LSP_PROTO_ERROR_TOO_LARGE            "too_large"
#define LSP_PROTO_ERROR_INTERNAL             "internal"
#define LSP_PROTO_ERROR_UNAUTHORIZED         "unauthorized"

/* The feature a peer lists in Hello/HelloAck when its party has a
 * passphrase; both sides then prove it with an Auth message. */
#define LSP_PROTO_FEATURE_AUTH               "auth"

typedef enum {
  LSP_MESSAGE_UNKNOWN,
  LSP_MESSAGE_HELLO,
  LSP_MESSAGE_HELLO_ACK,
  LSP_MESSAGE_GET_LIBRARY,
  LSP_MESSAGE_LIBRARY_SUMMARY,
  LSP_MESSAGE_LIBRARY_SNAPSHOT,
  LSP_MESSAGE_LIBRARY_DELTA,
  LSP_MESSAGE_GET_MANIFEST,
  LSP_MESSAGE_MANIFEST,
  LSP_MESSAGE_PING,
  LSP_MESSAGE_PONG,
  LSP_MESSAGE_GOODBYE,
  LSP_MESSAGE_ERROR,
  LSP_MESSAGE_GET_CHUNK,
  LSP_MESSAGE_CHUNK,
  LSP_MESSAGE_AUTH,
  LSP_MESSAGE_HAVE,
} LspMessageType;

typedef struct
{
  char     *peer_id;
  guint     proto_ver;
  guint     min_proto_ver;
  char     *listen_addr;
  guint64   library_rev;
  char     *library_digest;
  char    **features;
  char     *hostname;
} LspHelloBody;

typedef struct
{
  gboolean  has_since_rev;
  guint64   since_rev;
} LspGetLibraryBody;

typedef struct
{
  char     *peer_id;
  guint64   library_rev;
  char     *library_digest;
  guint     game_count;
} LspLibrarySummaryBody;

typedef struct
{
  char      *peer_id;
  guint64    library_rev;
  char      *library_digest;
  GPtrArray *games;        /* LspGameSummary */
} LspLibrarySnapshotBody;

typedef struct
{
  char      *peer_id;
  guint64    from_rev;
  guint64    to_rev;
  char      *library_digest;
  guint      game_count;
  GPtrArray *added;        /* LspGameSummary */
  GPtrArray *updated;      /* LspGameSummary */
  char     **removed;      /* game ids */
} LspLibraryDeltaBody;

typedef struct
{
  char        *game_id;
  char        *manifest_hash;
  LspManifest *manifest;   /* only in Manifest */
} LspManifestBody;

typedef struct
{
  guint64 nonce;
} LspPingBody;

typedef struct
{
  char *peer_id;
  char *reason;            /* may be NULL */
} LspGoodbyeBody;

typedef struct
{
  char     *code;
  char     *message;
  gboolean  fatal;
} LspErrorBody;

typedef struct
{
  char    *game_id;        /* GetChunk only */
  char    *manifest_hash;  /* GetChunk only */
  char    *path;           /* GetChunk only */
  guint64  offset;
  guint32  length;
} LspChunkBody;

typedef struct
{
  char    *proof;          /* 64 lowercase hex characters */
} LspAuthBody;
/* Which chunks of a manifest the sender holds verified and serves: the
 * whole set (bitmap, replacing what was known; chunk_count 0 and an empty
 * bitmap once it serves none), or chunks added to it. */
typedef struct
{
  char    *game_id;
  char    *manifest_hash;
  guint    chunk_count;
  GBytes  *bitmap;         /* ceil (chunk_count / 8) bytes, bit i of byte i / 8 from the low end; or NULL */
  GArray  *added;          /* guint32 chunk indices below chunk_count; or NULL */
} LspHaveBody;

typedef struct _LspMessage LspMessage;

struct _LspMessage
{
  LspMessageType type;
  char          *type_name;  /* as received; the only field of an unknown message */
  union {
    LspHelloBody           hello;      /* Hello, HelloAck */
    LspGetLibraryBody      get_library;
    LspLibrarySummaryBody  summary;
    LspLibrarySnapshotBody snapshot;
    LspLibraryDeltaBody    delta;
    LspManifestBody        manifest;   /* GetManifest, Manifest */
    LspPingBody            ping;       /* Ping, Pong */
    LspGoodbyeBody         goodbye;
    LspErrorBody           error;
    LspChunkBody           chunk;      /* GetChunk, Chunk */
    LspAuthBody            auth;
    LspHaveBody            have;
  };
};

#define LSP_TYPE_MESSAGE (lsp_message_get_type ())
GType        lsp_message_get_type               (void) G_GNUC_CONST;
LspMessage  *lsp_message_ref                    (LspMessage        *self);
void         lsp_message_unref                  (LspMessage        *self);
const char  *lsp_message_type_to_string         (LspMessageType     type);

LspMessage  *lsp_message_new_hello              (LspMessageType     type,
                                                 const char        *peer_id,
                                                 const char        *listen_addr,
                                                 guint64            library_rev,
                                                 const char        *library_digest,
                                                 const char * const *features,
                                                 const char        *hostname);
LspMessage  *lsp_message_new_get_library        (gboolean           has_since_rev,
                                                 guint64            since_rev);
LspMessage  *lsp_message_new_library_summary    (const char        *peer_id,
                                                 guint64            library_rev,
                                                 const char        *library_digest,
                                                 guint              game_count);
LspMessage  *lsp_message_new_library_snapshot   (const char        *peer_id,
                                                 guint64            library_rev,
                                                 const char        *library_digest,
                                                 GPtrArray         *games);
LspMessage  *lsp_message_new_library_delta      (const char        *peer_id,
                                                 guint64            from_rev,
                                                 guint64            to_rev,
                                                 const char        *library_digest,
                                                 guint              game_count,
                                                 GPtrArray         *added,
                                                 GPtrArray         *updated,
                                                 const char * const *removed);
LspMessage  *lsp_message_new_get_manifest       (const char        *game_id,
                                                 const char        *manifest_hash);
LspMessage  *lsp_message_new_manifest           (LspManifest       *manifest);
LspMessage  *lsp_message_new_ping               (LspMessageType     type,
                                                 guint64            nonce);
LspMessage  *lsp_message_new_goodbye            (const char        *peer_id,
                                                 const char        *reason);
LspMessage  *lsp_message_new_error              (const char        *code,
                                                 gboolean           fatal,
                                                 const char        *format,
                                                 ...) G_GNUC_PRINTF (3, 4);
LspMessage  *lsp_message_new_get_chunk          (const char        *game_id,
                                                 const char        *manifest_hash,
                                                 const char        *path,
                                                 guint64            offset,
                                                 guint32            length);
LspMessage  *lsp_message_new_chunk              (guint64            offset,
                                                 guint32            length);
LspMessage  *lsp_message_new_auth               (const char        *proof);
LspMessage  *lsp_message_new_have_bitmap        (const char        *game_id,
                                                 const char        *manifest_hash,
                                                 guint              chunk_count,
                                                 const guint8      *bitmap);
LspMessage  *lsp_message_new_have_added         (const char        *game_id,
                                                 const char        *manifest_hash,
                                                 guint              chunk_count,
                                                 const guint32     *added,
                                                 guint              n_added);

JsonNode    *lsp_message_to_json                (LspMessage        *self);
GBytes      *lsp_message_encode                 (LspMessage        *self,
                                                 gsize              max_frame,
                                                 GError           **error);
gsize        lsp_proto_max_frame_for_type       (LspMessageType     type);
JsonNode    *lsp_proto_parse_payload            (const guint8      *payload,
                                                 gsize              length,
                                                 GError           **error);
LspMessage  *lsp_message_new_from_json          (JsonNode          *node,
                                                 GError           **error);
LspMessage  *lsp_message_parse                  (const guint8      *payload,
                                                 gsize              length,
                                                 GError           **error);

gboolean     lsp_proto_hex_digest_is_valid      (const char        *hex);
gboolean     lsp_proto_hostname_is_valid        (const char        *hostname);
char        *lsp_proto_sanitize_hostname        (const char        *text);
gboolean     lsp_proto_parse_listen_addr        (const char        *listen_addr,
                                                 char             **out_host,
                                                 guint16           *out_port);
gboolean     lsp_proto_negotiate_version        (guint              our_min,
                                                 guint              our_max,
                                                 guint              their_min,
                                                 guint              their_max,
                                                 guint             *out_version);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LspMessage, lsp_message_unref)

G_END_DECLS
