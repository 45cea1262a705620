#define G_LOG_DOMAIN "lsp-chunk-server"

#include "config.h"

#include "lsp-chunk-server-private.h"

#include "lsp-chunk-buffer.h"
#include "lsp-download-storage.h"
#include "lsp-error.h"
#include "lsp-frame-decoder.h"
#include "lsp-game-root.h"
#include "lsp-rate-limit.h"
#include "lsp-upload-slots.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* At most this many manifests are kept in memory for checking requests. */
#define MAX_CACHED_MANIFESTS 8
/* A request waits at most about this long behind ones for chunks that
 * were served less often. */
#define MAX_WAIT_US (10 * G_TIME_SPAN_SECOND)
/* How many chunks' serve counts are kept; they are dropped when idle. */
#define MAX_COUNTED_CHUNKS 65536

typedef struct _Request Request;

struct _LspChunkServer
{
  GObject         parent_instance;

  LspNode        *node;
  LspLibrary     *library;
  char           *games_path;
  GCancellable   *cancellable;
  GHashTable     *manifests;        /* manifest_hash → LspManifest */
  GQueue          waiting;          /* Request, checked and waiting for a slot */
  GHashTable     *active_per_peer;  /* peer_id → GUINT_TO_POINTER (n) */
  guint           n_active;
  LspUploadSlots  slots;
  GHashTable     *times_served;     /* chunk key → GUINT_TO_POINTER (n), to swarming peers */
  LspRateLimit    rate_limit;
  guint           rate_timer_id;
  guint64         bytes_served;
  GHashTable     *peer_bytes;       /* peer_id → guint64 *, every peer served */
};

G_DEFINE_FINAL_TYPE (LspChunkServer, lsp_chunk_server, G_TYPE_OBJECT)

enum {
  UPLOADED,
  N_SIGNALS
};

static guint upload_signals[N_SIGNALS];

struct _Request
{
  LspChunkServer  *server;          /* strong while the request lives */
  LspQuicStream   *stream;
  char            *peer_id;
  LspFrameDecoder *decoder;
  LspMessage      *message;         /* the GetChunk, once read */
  GCancellable    *cancellable;     /* cancelled when the stream fails */
  gboolean         answered;
  gboolean         holds_slot;
  gboolean         partial;         /* from a download in progress */
  LspManifest     *manifest;        /* once checked */
  char            *chunk_key;       /* manifest, path and offset, once checked */
  gint64           queued_at;
};

static void try_start_waiting (LspChunkServer *self);

static void
request_free (Request *request)
{
  if (request->stream != NULL)
    lsp_quic_stream_set_read_func (request->stream, NULL, NULL, NULL);
  g_clear_object (&request->stream);
  g_clear_pointer (&request->decoder, lsp_frame_decoder_free);
  g_clear_pointer (&request->message, lsp_message_unref);
  g_clear_pointer (&request->manifest, lsp_manifest_unref);
  g_clear_object (&request->cancellable);
  g_free (request->peer_id);
  g_free (request->chunk_key);
  g_clear_object (&request->server);
  g_free (request);
}

static guint
active_for_peer (LspChunkServer *self,
                 const char     *peer_id)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (self->active_per_peer, peer_id));
}

static void
release_slot (Request *request)
{
  LspChunkServer *self = request->server;
  guint n;

  if (!request->holds_slot)
    return;
  request->holds_slot = FALSE;
  if (--self->n_active == 0)
    lsp_upload_slots_idle (&self->slots, g_get_monotonic_time ());
  n = active_for_peer (self, request->peer_id);
  if (n <= 1)
    g_hash_table_remove (self->active_per_peer, request->peer_id);
  else
    g_hash_table_insert (self->active_per_peer, g_strdup (request->peer_id), GUINT_TO_POINTER (n - 1));
  try_start_waiting (self);
  if (self->n_active == 0 && g_queue_is_empty (&self->waiting))
    g_hash_table_remove_all (self->times_served);
}

static void
request_finish (Request *request)
{
  release_slot (request);
  request_free (request);
}

static void
on_answer_written (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Request *request = user_data;
  g_autoptr(GError) error = NULL;

  if (lsp_quic_stream_write_bytes_finish (LSP_QUIC_STREAM (object), result, &error))
    lsp_upload_slots_sent (&request->server->slots, request->message->chunk.length, g_get_monotonic_time ());
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("Chunk answer to %.12s failed: %s", request->peer_id, error->message);
  request_finish (request);
}

/* Refusals end the stream, never the connection (PROTOCOL.md). */
G_GNUC_PRINTF (3, 4)
static void
refuse (Request    *request,
        const char *code,
        const char *format,
        ...)
{
  g_autoptr(LspMessage) error = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GBytes) frame = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_debug ("Refusing a chunk to %.12s: %s", request->peer_id, text);

  request->answered = TRUE;
  error = lsp_message_new_error (code, FALSE, "%s", text);
  frame = lsp_message_encode (error, LSP_PROTO_MAX_FRAME, NULL);
  lsp_quic_stream_write_bytes_async (request->stream, frame, TRUE, request->cancellable,
                                     on_answer_written, request);
}

/* The one place that says whether a game may be served: it is in our
 * catalog, downloaded (version.ini), not found damaged by a verify, under
 * no operation, and has the manifest asked for. LSP_ERROR_BUSY means "ask again later". */
gboolean
lsp_transfer_can_serve (LspLibrary  *library,
                        const char  *game_id,
                        const char  *manifest_hash,
                        GError     **error)
{
  LspLocalGame *game;

  g_return_val_if_fail (LSP_IS_LIBRARY (library), FALSE);

  game = lsp_game_id_is_valid (game_id) ? lsp_library_lookup (library, game_id) : NULL;
  if (game == NULL || !lsp_local_game_get_downloaded (game))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND, "%s is not downloaded here", game_id);
      return FALSE;
    }
  /* Serving what a verify found damaged would spread the damage. */
  if (lsp_local_game_get_damaged (game))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND, "%s is damaged here until it is repaired", game_id);
      return FALSE;
    }
  if (lsp_local_game_get_busy (game) || lsp_library_is_operation_active (library, game_id))
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_BUSY, "%s is busy here; ask again later", game_id);
      return FALSE;
    }
  if (g_strcmp0 (lsp_local_game_get_manifest_hash (game), manifest_hash) != 0)
    {
      g_set_error (error, LSP_ERROR, LSP_ERROR_NOT_FOUND, "%s is not here under manifest %s",
                   game_id, manifest_hash);
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  char    *games_path;
  char    *game_id;
  char    *path;
  guint64  offset;
  guint32  length;
} ReadJob;

static void
read_job_free (ReadJob *job)
{
  g_free (job->games_path);
  g_free (job->game_id);
  g_free (job->path);
  g_free (job);
}

static void
read_worker (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  ReadJob *job = task_data;
  g_autoptr(GBytes) bytes = NULL;
  guint8 *data;
  GError *error = NULL;
  struct stat st;
  gsize done = 0;
  int root_fd, fd;

  root_fd = lsp_download_storage_open_root (job->games_path, job->game_id, FALSE, &error);
  if (root_fd < 0)
    {
      g_task_return_error (task, error);
      return;
    }
  fd = lsp_download_storage_open_file (root_fd, job->path, O_RDONLY, &error);
  close (root_fd);
  if (fd < 0)
    {
      g_task_return_error (task, error);
      return;
    }
  if (fstat (fd, &st) != 0 || (guint64) st.st_size < job->offset + job->length)
    {
      close (fd);
      g_task_return_new_error (task, LSP_ERROR, LSP_ERROR_NOT_FOUND, "%s changed on disk", job->path);
      return;
    }
  data = lsp_chunk_buffer_new ();
  bytes = lsp_chunk_buffer_to_bytes (data, job->length);
  while (done < job->length)
    {
      ssize_t n = pread (fd, data + done, job->length - done, (off_t) (job->offset + done));

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved_errno = n < 0 ? errno : EIO;
          close (fd);
          lsp_error_set_errno (&error, saved_errno, "Cannot read %s", job->path);
          g_task_return_error (task, error);
          return;
        }
      done += (gsize) n;
    }
  close (fd);
  g_task_return_pointer (task, g_steal_pointer (&bytes),
                         (GDestroyNotify) g_bytes_unref);
}

static void
count_peer_bytes (LspChunkServer *self,
                  const char     *peer_id,
                  gsize           length)
{
  guint64 *bytes = g_hash_table_lookup (self->peer_bytes, peer_id);

  if (bytes == NULL)
    {
      bytes = g_new0 (guint64, 1);
      g_hash_table_insert (self->peer_bytes, g_strdup (peer_id), bytes);
    }
  *bytes += length;
  g_signal_emit (self, upload_signals[UPLOADED], 0, peer_id, (guint64) length);
}

static void
on_chunk_read (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  Request *request = user_data;
  LspChunkServer *self = request->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = g_task_propagate_pointer (G_TASK (result), &error);
  g_autoptr(LspMessage) header = NULL;
  g_autoptr(GBytes) frame = NULL;

  if (data == NULL)
    {
      const LspChunkBody *chunk = &request->message->chunk;

      /* The refusal is in English for the peer; our error is in the
       * user's language, so it goes to our log only. */
      if (g_cancellable_is_cancelled (request->cancellable))
        request_finish (request);
      else
        {
          g_debug ("Cannot read %s of %s for %.12s: %s", chunk->path, chunk->game_id, request->peer_id, error->message);
          refuse (request, g_error_matches (error, LSP_ERROR, LSP_ERROR_NOT_FOUND)
                             ? LSP_PROTO_ERROR_NOT_FOUND : LSP_PROTO_ERROR_INTERNAL,
                  "Cannot read %s of %s here", chunk->path, chunk->game_id);
        }
      return;
    }

  if (lsp_quic_stream_is_write_closed (request->stream))
    {
      request_finish (request);
      return;
    }
  /* A download withdrawn while the bytes were read (cancelled, failed)
   * may be sweeping its files: what was read is not sent. */
  if (request->partial)
    {
      if (!_lsp_chunk_server_partial_allows (self->node, request->manifest, &request->message->chunk, &error))
        {
          refuse (request, LSP_PROTO_ERROR_NOT_FOUND, "%s", error->message);
          return;
        }
    }
  request->answered = TRUE;
  header = lsp_message_new_chunk (request->message->chunk.offset, request->message->chunk.length);
  frame = lsp_message_encode (header, LSP_PROTO_MAX_FRAME, NULL);
  self->bytes_served += g_bytes_get_size (data);
  count_peer_bytes (self, request->peer_id, g_bytes_get_size (data));
  /* The frame and the bytes are two writes on one stream; QUIC keeps them
   * in order and the bytes are not copied. */
  lsp_quic_stream_set_bulk (request->stream, TRUE);
  lsp_quic_stream_write_bytes_async (request->stream, frame, FALSE, request->cancellable, NULL, NULL);
  lsp_quic_stream_write_bytes_async (request->stream, data, TRUE, request->cancellable,
                                     on_answer_written, request);
}

static guint
times_served (LspChunkServer *self,
              Request        *request)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (self->times_served, request->chunk_key));
}

/* Counts serves to peers that pass chunks on (they announced what they
 * hold of this manifest): what went to them once reaches the others
 * without this uplink. */
static void
count_serve (LspChunkServer *self,
             Request        *request)
{
  const LspChunkBody *chunk = &request->message->chunk;
  LspPeer *peer = lsp_node_lookup_peer (self->node, request->peer_id);
  guint n;

  if (peer == NULL || lsp_peer_peek_chunks_held (peer, chunk->game_id, chunk->manifest_hash, &n) == NULL)
    return;
  if (g_hash_table_size (self->times_served) >= MAX_COUNTED_CHUNKS)
    g_hash_table_remove_all (self->times_served);
  g_hash_table_insert (self->times_served, g_strdup (request->chunk_key),
                       GUINT_TO_POINTER (times_served (self, request) + 1));
}

static void
start_read (Request *request)
{
  LspChunkServer *self = request->server;
  const LspChunkBody *chunk = &request->message->chunk;
  g_autoptr(GTask) task = g_task_new (NULL, request->cancellable, on_chunk_read, request);
  ReadJob *job = g_new0 (ReadJob, 1);
  guint n = active_for_peer (self, request->peer_id);

  request->holds_slot = TRUE;
  if (self->n_active++ == 0)
    lsp_upload_slots_busy (&self->slots, g_get_monotonic_time ());
  g_hash_table_insert (self->active_per_peer, g_strdup (request->peer_id), GUINT_TO_POINTER (n + 1));
  count_serve (self, request);

  job->games_path = g_strdup (self->games_path);
  job->game_id = g_strdup (chunk->game_id);
  job->path = g_strdup (chunk->path);
  job->offset = chunk->offset;
  job->length = chunk->length;
  g_task_set_source_tag (task, start_read);
  g_task_set_task_data (task, job, (GDestroyNotify) read_job_free);
  g_task_run_in_thread (task, read_worker);
}

static gboolean
on_rate_timer (gpointer user_data)
{
  LspChunkServer *self = user_data;

  self->rate_timer_id = 0;
  try_start_waiting (self);
  return G_SOURCE_REMOVE;
}

/* Returns whether length bytes may go now; otherwise a timer wakes the
 * queue when they may. */
static gboolean
take_tokens (LspChunkServer *self,
             guint32         length)
{
  guint wait_ms;

  if (lsp_rate_limit_take (&self->rate_limit, length, &wait_ms))
    return TRUE;
  if (self->rate_timer_id == 0)
    self->rate_timer_id = g_timeout_add (wait_ms, on_rate_timer, self);
  return FALSE;
}

/* The next request to start, of the peers under their share of slots:
 * one that waited too long, the oldest first; otherwise one for the
 * chunk served least often to swarming peers, so that a seeder's uplink
 * carries each chunk once, early, and the swarm passes it on; among
 * those, the peer with the fewest chunks in flight and its oldest
 * request, so the uplink is shared per peer and not per request (a
 * downloader that queued many requests does not crowd out one that
 * queued few). Requests their downloader gave up on (STOP_SENDING after
 * its FIN) are dropped on the way. */
static GList *
next_waiting (LspChunkServer *self)
{
  GList *best = NULL;
  guint best_served = G_MAXUINT;
  guint best_active = G_MAXUINT;
  guint per_peer = lsp_upload_slots_per_peer (&self->slots);
  gint64 now = g_get_monotonic_time ();

  for (GList *l = self->waiting.head, *next; l != NULL; l = next)
    {
      Request *request = l->data;
      guint active = active_for_peer (self, request->peer_id);
      guint served;

      next = l->next;
      if (lsp_quic_stream_is_write_closed (request->stream))
        {
          g_queue_delete_link (&self->waiting, l);
          request_finish (request);
          continue;
        }
      if (active >= per_peer)
        continue;
      if (now - request->queued_at > MAX_WAIT_US)
        return l;
      served = times_served (self, request);
      if (served < best_served || (served == best_served && active < best_active))
        {
          best = l;
          best_served = served;
          best_active = active;
        }
    }
  return best;
}

static void
try_start_waiting (LspChunkServer *self)
{
  GList *l;

  while (self->n_active < lsp_upload_slots_total (&self->slots) && (l = next_waiting (self)) != NULL)
    {
      Request *request = l->data;

      if (!take_tokens (self, request->message->chunk.length))
        return;
      g_queue_delete_link (&self->waiting, l);
      start_read (request);
    }
}

static void
check_request (Request     *request,
               LspManifest *manifest)
{
  LspChunkServer *self = request->server;
  const LspChunkBody *chunk = &request->message->chunk;
  const LspManifestFile *file = lsp_manifest_lookup_file (manifest, chunk->path);
  g_autoptr(GError) error = NULL;

  /* The game may have changed while its manifest was loading. */
  if (request->partial)
    {
      if (!_lsp_chunk_server_partial_allows (self->node, manifest, chunk, &error))
        {
          refuse (request, LSP_PROTO_ERROR_NOT_FOUND, "%s", error->message);
          return;
        }
    }
  else if (!lsp_transfer_can_serve (self->library, chunk->game_id, chunk->manifest_hash, &error))
    {
      refuse (request, g_error_matches (error, LSP_ERROR, LSP_ERROR_BUSY) ? LSP_PROTO_ERROR_BUSY
                                                                          : LSP_PROTO_ERROR_NOT_FOUND,
              "%s", error->message);
      return;
    }
  if (file == NULL)
    {
      refuse (request, LSP_PROTO_ERROR_NOT_FOUND, "%s has no file “%s”", chunk->game_id, chunk->path);
      return;
    }
  if (chunk->offset > file->size || chunk->length > file->size - chunk->offset)
    {
      refuse (request, LSP_PROTO_ERROR_NOT_FOUND, "%s is %" G_GUINT64_FORMAT " bytes; "
              "%" G_GUINT64_FORMAT "+%u is outside it", chunk->path, file->size, chunk->offset, chunk->length);
      return;
    }
  if (g_queue_get_length (&self->waiting) >= LSP_CHUNK_SERVER_MAX_QUEUED)
    {
      refuse (request, LSP_PROTO_ERROR_BUSY, "Too many chunk requests are waiting; ask again later");
      return;
    }
  request->manifest = lsp_manifest_ref (manifest);
  request->chunk_key = g_strdup_printf ("%s/%s@%" G_GUINT64_FORMAT, chunk->manifest_hash, chunk->path, chunk->offset);
  request->queued_at = g_get_monotonic_time ();
  g_queue_push_tail (&self->waiting, request);
  try_start_waiting (self);
}

static void
manifest_load_worker (GTask        *task,
                      gpointer      source_object,
                      gpointer      task_data,
                      GCancellable *cancellable)
{
  const char * const *args = task_data;
  GError *error = NULL;
  LspManifest *manifest = lsp_manifest_cache_load (args[0], args[1], &error);

  if (manifest == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, manifest, (GDestroyNotify) lsp_manifest_unref);
}

static void
on_manifest_loaded (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Request *request = user_data;
  LspChunkServer *self = request->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(LspManifest) manifest = g_task_propagate_pointer (G_TASK (result), &error);

  if (g_cancellable_is_cancelled (request->cancellable))
    {
      request_finish (request);
      return;
    }
  if (manifest == NULL)
    {
      g_debug ("Cannot load the manifest of %s: %s", request->message->chunk.game_id, error->message);
      refuse (request, LSP_PROTO_ERROR_NOT_FOUND, "The manifest of %s is not available here",
              request->message->chunk.game_id);
      return;
    }
  if (g_hash_table_size (self->manifests) >= MAX_CACHED_MANIFESTS)
    g_hash_table_remove_all (self->manifests);
  g_hash_table_insert (self->manifests, g_strdup (lsp_manifest_get_hash (manifest)), lsp_manifest_ref (manifest));
  check_request (request, manifest);
}

static void
handle_request (Request *request)
{
  LspChunkServer *self = request->server;
  const LspChunkBody *chunk = &request->message->chunk;
  g_autoptr(GError) error = NULL;
  LspManifest *manifest;
  g_autoptr(GTask) task = NULL;
  char **args;

  /* A download in progress holds the game's operation, so the rule for
   * complete games says busy; what it verified is served by its own rule. */
  if (lsp_node_has_published (self->node, chunk->game_id, chunk->manifest_hash))
    request->partial = TRUE;
  else if (!lsp_transfer_can_serve (self->library, chunk->game_id, chunk->manifest_hash, &error))
    {
      refuse (request, g_error_matches (error, LSP_ERROR, LSP_ERROR_BUSY) ? LSP_PROTO_ERROR_BUSY
                                                                          : LSP_PROTO_ERROR_NOT_FOUND,
              "%s", error->message);
      return;
    }
  manifest = g_hash_table_lookup (self->manifests, chunk->manifest_hash);
  if (manifest != NULL)
    {
      check_request (request, manifest);
      return;
    }

  task = g_task_new (NULL, request->cancellable, on_manifest_loaded, request);
  args = g_new0 (char *, 3);
  args[0] = g_strdup (self->games_path);
  args[1] = g_strdup (chunk->manifest_hash);
  g_task_set_source_tag (task, handle_request);
  g_task_set_task_data (task, args, (GDestroyNotify) g_strfreev);
  g_task_run_in_thread (task, manifest_load_worker);
}

static void
on_request_read (LspQuicStream *stream,
                 const guint8  *data,
                 gsize          length,
                 gboolean       fin,
                 const GError  *error,
                 gpointer       user_data)
{
  Request *request = user_data;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GBytes) frame = NULL;

  if (error != NULL)
    {
      /* The downloader gave up on this chunk: whatever is in flight for
       * it stops, and the request ends with its last callback. */
      GList *waiting = g_queue_find (&request->server->waiting, request);

      g_cancellable_cancel (request->cancellable);
      if (waiting != NULL)
        {
          g_queue_delete_link (&request->server->waiting, waiting);
          request_finish (request);
        }
      else if (request->message == NULL)
        request_finish (request);
      return;
    }
  /* One request per stream: once it is read, whatever follows is ignored
   * (the stage that owns the request answers it, once). */
  if (request->message != NULL)
    return;

  lsp_frame_decoder_feed (request->decoder, data, length, &local_error);
  if (local_error != NULL)
    {
      request->message = lsp_message_new_chunk (0, 1);
      refuse (request, LSP_PROTO_ERROR_BAD_FRAME, "%s", local_error->message);
      return;
    }
  frame = lsp_frame_decoder_pop (request->decoder);
  if (frame == NULL)
    {
      if (fin)
        {
          request->message = lsp_message_new_chunk (0, 1);
          refuse (request, LSP_PROTO_ERROR_BAD_FRAME, "The stream ended before a whole GetChunk frame");
        }
      return;
    }
  request->message = lsp_message_parse (g_bytes_get_data (frame, NULL), g_bytes_get_size (frame), &local_error);
  if (request->message == NULL || request->message->type != LSP_MESSAGE_GET_CHUNK)
    {
      /* A placeholder, so later bytes are not taken for a request. */
      g_clear_pointer (&request->message, lsp_message_unref);
      request->message = lsp_message_new_chunk (0, 1);
      refuse (request, LSP_PROTO_ERROR_BAD_MESSAGE, "A data stream must start with a GetChunk%s%s",
              local_error != NULL ? ": " : "", local_error != NULL ? local_error->message : "");
      return;
    }
  handle_request (request);
}

static gboolean
on_data_stream (LspNode        *node,
                LspPeer        *peer,
                LspQuicStream  *stream,
                LspChunkServer *self)
{
  Request *request = g_new0 (Request, 1);

  request->server = g_object_ref (self);
  request->stream = g_object_ref (stream);
  request->peer_id = g_strdup (lsp_peer_get_id (peer));
  request->decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_REQUEST_FRAME);
  request->cancellable = g_cancellable_new ();
  g_signal_connect_object (self->cancellable, "cancelled", G_CALLBACK (g_cancellable_cancel),
                           request->cancellable, G_CONNECT_SWAPPED);
  lsp_quic_stream_set_read_func (stream, on_request_read, request, NULL);
  return TRUE;
}

guint64
lsp_chunk_server_get_bytes_served (LspChunkServer *self)
{
  g_return_val_if_fail (LSP_IS_CHUNK_SERVER (self), 0);
  return self->bytes_served;
}

/**
 * lsp_chunk_server_dup_peer_bytes:
 *
 * Returns: (transfer full): peer_id → guint64 * of the bytes sent to each
 * peer since the server started
 */
GHashTable *
lsp_chunk_server_dup_peer_bytes (LspChunkServer *self)
{
  GHashTable *copy;
  GHashTableIter iter;
  gpointer key, value;

  g_return_val_if_fail (LSP_IS_CHUNK_SERVER (self), NULL);

  copy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_iter_init (&iter, self->peer_bytes);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (copy, g_strdup (key), g_memdup2 (value, sizeof (guint64)));
  return copy;
}

/* Chunks being read or sent to peer_id now. */
guint
lsp_chunk_server_get_n_active_for_peer (LspChunkServer *self,
                                        const char     *peer_id)
{
  g_return_val_if_fail (LSP_IS_CHUNK_SERVER (self), 0);
  return active_for_peer (self, peer_id);
}

guint
lsp_chunk_server_get_n_active (LspChunkServer *self)
{
  g_return_val_if_fail (LSP_IS_CHUNK_SERVER (self), 0);
  return self->n_active;
}

/* Requests checked and waiting for a slot or for the rate limit. */
guint
lsp_chunk_server_get_n_waiting (LspChunkServer *self)
{
  g_return_val_if_fail (LSP_IS_CHUNK_SERVER (self), 0);
  return g_queue_get_length (&self->waiting);
}

void
lsp_chunk_server_set_slots (LspChunkServer *self,
                            guint           total,
                            guint           per_peer)
{
  g_return_if_fail (LSP_IS_CHUNK_SERVER (self));
  g_return_if_fail (total > 0 && per_peer > 0);

  lsp_upload_slots_set_limits (&self->slots, total, per_peer);
  try_start_waiting (self);
}

/* 0 removes the limit. */
void
lsp_chunk_server_set_rate_limit (LspChunkServer *self,
                                 guint64         bytes_per_second)
{
  g_return_if_fail (LSP_IS_CHUNK_SERVER (self));

  lsp_rate_limit_init (&self->rate_limit, bytes_per_second);
  g_clear_handle_id (&self->rate_timer_id, g_source_remove);
  try_start_waiting (self);
}

static void
lsp_chunk_server_dispose (GObject *object)
{
  LspChunkServer *self = LSP_CHUNK_SERVER (object);

  g_cancellable_cancel (self->cancellable);
  if (self->node != NULL)
    g_signal_handlers_disconnect_by_data (self->node, self);
  g_clear_handle_id (&self->rate_timer_id, g_source_remove);
  g_clear_object (&self->node);
  g_clear_object (&self->library);

  G_OBJECT_CLASS (lsp_chunk_server_parent_class)->dispose (object);
}

static void
lsp_chunk_server_finalize (GObject *object)
{
  LspChunkServer *self = LSP_CHUNK_SERVER (object);

  g_assert (g_queue_is_empty (&self->waiting));
  g_clear_pointer (&self->manifests, g_hash_table_unref);
  g_clear_pointer (&self->active_per_peer, g_hash_table_unref);
  g_clear_pointer (&self->peer_bytes, g_hash_table_unref);
  g_clear_pointer (&self->times_served, g_hash_table_unref);
  g_clear_pointer (&self->games_path, g_free);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (lsp_chunk_server_parent_class)->finalize (object);
}

static void
lsp_chunk_server_class_init (LspChunkServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lsp_chunk_server_dispose;
  object_class->finalize = lsp_chunk_server_finalize;

  /**
   * LspChunkServer::uploaded:
   * @peer_id: who got the chunk
   * @bytes: its length
   *
   * A chunk went to a peer.
   */
  upload_signals[UPLOADED] =
    g_signal_new ("uploaded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_UINT64);
}

static void
lsp_chunk_server_init (LspChunkServer *self)
{
  self->cancellable = g_cancellable_new ();
  self->manifests = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) lsp_manifest_unref);
  self->active_per_peer = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->peer_bytes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  lsp_upload_slots_init (&self->slots, LSP_CHUNK_SERVER_DEFAULT_SLOTS, LSP_CHUNK_SERVER_DEFAULT_SLOTS_PER_PEER);
  self->times_served = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  lsp_rate_limit_init (&self->rate_limit, 0);
}

LspChunkServer *
lsp_chunk_server_new (LspNode    *node,
                      LspLibrary *library)
{
  LspChunkServer *self;

  g_return_val_if_fail (LSP_IS_NODE (node), NULL);
  g_return_val_if_fail (LSP_IS_LIBRARY (library), NULL);

  self = g_object_new (LSP_TYPE_CHUNK_SERVER, NULL);
  self->node = g_object_ref (node);
  self->library = g_object_ref (library);
  self->games_path = g_file_get_path (lsp_library_get_games_dir (library));
  g_signal_connect_object (node, "data-stream", G_CALLBACK (on_data_stream), self, 0);
  return self;
}
