/* lsp-download-private.h: what the files of LspDownload share */
#pragma once

#include "lsp-download.h"

#include "lsp-download-storage.h"
#include "lsp-frame-decoder.h"
#include "lsp-manifest.h"
#include "lsp-rate-limit.h"

G_BEGIN_DECLS

typedef enum {
  CHUNK_MISSING,
  CHUNK_FETCHING,   /* requested from one source, or two in the end game */
  CHUNK_WRITING,    /* received, being verified and written */
  CHUNK_HELD,       /* copied from a chunk of the same hash once that one is done */
  CHUNK_DONE,
} ChunkState;

typedef struct _Source Source;

typedef struct
{
  guint          index;
  guint          file;
  guint64        offset;
  guint32        length;
  const guint8  *hash;
  ChunkState     state;
  guint          n_fetches;
  Source        *avoid;      /* sent bad bytes for it: ask someone else first */
} Chunk;

struct _Source
{
  LspDownload       *download;
  guint              serial;       /* tells a source from a later one of the same peer */
  char              *peer_id;
  LspQuicConnection *conn;
  gulong             streams_handler;
  guint              window;
  guint              in_flight;
  guint              strikes;
  double             rate;         /* bytes per second, smoothed */
  guint              retry_id;     /* backing off after "busy" */
  gboolean           blocked;      /* out of streams until the peer raises its limit */
  LspPeer           *peer;
  gboolean           partial;      /* serves only the chunks of its own download */
  const guint8      *held;         /* partial: its bitmap, looked up again at each pump */
  guint              n_held_bits;
};

typedef struct
{
  LspDownload     *download;
  Source          *source;       /* NULL once the source is gone */
  Chunk           *chunk;
  LspQuicStream   *stream;
  LspFrameDecoder *decoder;
  gboolean         got_header;
  guint8          *data;
  gsize            filled;
  gint64           started;
} Fetch;

struct _LspDownload
{
  GObject           parent_instance;

  LspNode          *node;
  LspLibrary       *library;
  char             *game_id;
  char             *games_path;
  gboolean          repair;         /* fetch only what no longer verifies, of the manifest we have */
  guint             n_repaired;     /* chunks a repair found bad */
  char             *previous_hash;  /* an update: the manifest of the version we have */
  gboolean          staged;         /* an update: changed files are built in the staging folder */
  GTask            *task;
  GCancellable     *stop;           /* cancels our workers */
  gulong            cancel_handler;
  GCancellable     *external;

  LspDownloadPhase  phase;
  char             *version;
  char             *manifest_hash;
  LspManifest      *manifest;
  GArray           *chunks;         /* Chunk */
  guint             n_done;
  GPtrArray        *sources;        /* Source */
  GPtrArray        *fetches;        /* Fetch */
  GHashTable       *peer_bytes;     /* peer_id → guint64 *, every source ever */
  GPtrArray        *watched_peers;  /* LspPeer whose games-changed we follow */
  guint             workers;        /* verify/write workers in flight */
  gboolean          lock_held;
  gboolean          storage_begun;
  gboolean          finishing;      /* no new work starts */
  gboolean          ending;         /* the commit or the sweep has begun */
  gboolean          suspended;      /* stopping with the peer: keep the payload for the next start */
  gboolean          cancel_requested; /* the player's cancel wins over a later suspend */
  GCancellable     *commit_cancellable;  /* a cancel while committing */
  GError           *failure;
  gboolean          manifest_fetching;

  LspDownloadState *state;
  gboolean          state_saving;
  gboolean          state_dirty;
  gint64            state_saved_at;
  guint             state_timer_id;

  guint64           bytes_done;
  guint64           bytes_total;
  guint64           bytes_resumed;
  guint64           bytes_reused;   /* copied or kept from local chunks of the same hash */
  gboolean          prepared;       /* what is there and what to fetch is known */
  GHashTable       *twins;          /* hash → GPtrArray of Chunk held back until the first of them is done */
  guint64           bytes_held;     /* of the chunks held or being copied */
  guint64           bytes_received;
  gboolean          resumed;
  double            rate;
  gint64            rate_time;
  guint64           rate_bytes;
  gint64            notified_at;
  guint             notify_timer_id;
  guint             wait_seconds;
  guint             wait_id;
  LspRateLimit     *rate_limit;     /* shared by the manager's downloads; may be NULL */
  guint             source_serial;
  guint             manifest_retry_id;
  gboolean          manifest_busy;  /* a peer that has it was busy: ask again */
  GHashTable       *banned;         /* peer_ids that sent bad data: never a source again */
  guint             rate_timer_id;
  gboolean          publishing;     /* our verified chunks are served while we run */
  GArray           *holders;        /* guint per chunk: partial sources holding it, per pump */
};

enum {
  PROP_0,
  PROP_GAME_ID,
  PROP_VERSION,
  PROP_PHASE,
  PROP_BYTES_DONE,
  PROP_BYTES_TOTAL,
  PROP_RATE,
  PROP_ETA,
  PROP_RESUMED,
  PROP_BYTES_REUSED,
  PROP_N_SOURCES,
  N_PROPS
};

extern GParamSpec *_lsp_download_properties[N_PROPS];

/* lsp-download.c */
void     _lsp_download_set_phase        (LspDownload  *self,
                                         LspDownloadPhase phase);
void     _lsp_download_fail             (LspDownload  *self,
                                         GError       *error);
void     _lsp_download_chunk_done       (LspDownload  *self,
                                         Chunk        *chunk,
                                         Source       *source);
void     _lsp_download_chunk_reused     (LspDownload  *self,
                                         Chunk        *chunk);
void     _lsp_download_progress_changed (LspDownload  *self);
void     _lsp_download_source_dropped   (LspDownload  *self,
                                         const char   *peer_id,
                                         const char   *reason);
void     _lsp_download_check_waiting    (LspDownload  *self);
void     _lsp_download_notify_progress  (LspDownload  *self);
void     _lsp_download_on_cancelled     (GCancellable *cancellable,
                                         LspDownload  *self);

/* lsp-download-plan.c */
void     _lsp_download_choose_target    (LspDownload  *self);
void     _lsp_download_prepare          (LspDownload  *self);
gboolean _lsp_download_find_target      (LspNode      *node,
                                         const char   *game_id,
                                         char        **out_version,
                                         char        **out_manifest_hash);

/* lsp-download-reuse.c */

/* What the prepare step has reused so far, reported to the download on
 * its main context as it goes. */
typedef struct
{
  GMainContext *context;
  LspDownload  *download;
  guint64       bytes;
  gint64        reported_at;
} LspReuseProgress;

void      _lsp_download_reuse_progress_init  (LspReuseProgress *progress,
                                              LspDownload      *download);
void      _lsp_download_reuse_progress_clear (LspReuseProgress *progress);

/* (worker threads) */
gboolean *_lsp_download_reuse_keep_in_place (int               root_fd,
                                             LspManifest      *manifest,
                                             LspManifest      *previous,
                                             LspDownloadState *state,
                                             LspDownloadState *reused,
                                             LspReuseProgress *progress,
                                             GCancellable     *cancellable,
                                             GError          **error);
gboolean  _lsp_download_reuse_copy          (int               root_fd,
                                             int               payload_fd,
                                             LspManifest      *manifest,
                                             LspManifest      *previous,
                                             const gboolean   *staged,
                                             LspDownloadState *state,
                                             LspDownloadState *reused,
                                             LspReuseProgress *progress,
                                             GCancellable     *cancellable,
                                             GError          **error);

/* (main thread) */

void      _lsp_download_reuse_hold_twins    (LspDownload      *self);
void      _lsp_download_reuse_twins         (LspDownload      *self,
                                             Chunk            *done);

/* lsp-download-end.c */
void     _lsp_download_finish           (LspDownload  *self);

/* lsp-download-fetch.c */
void     _lsp_download_refresh_sources  (LspDownload  *self);
void     _lsp_download_pump             (LspDownload  *self);
void     _lsp_download_stop_fetches     (LspDownload  *self);
void     _lsp_download_source_free      (Source       *source);

/* lsp-download-swarm.c */
void     _lsp_download_publish          (LspDownload  *self);
void     _lsp_download_publish_chunk    (LspDownload  *self,
                                         Chunk        *chunk);
void     _lsp_download_withdraw         (LspDownload  *self);
gboolean _lsp_download_peer_offers      (LspDownload  *self,
                                         LspPeer      *peer,
                                         gboolean     *out_partial);
void     _lsp_download_count_holders    (LspDownload  *self);
Chunk   *_lsp_download_pick_chunk       (LspDownload  *self,
                                         Source       *source);

G_END_DECLS
