#define G_LOG_DOMAIN "lsp-download"

#include "config.h"

#include "lsp-download-private.h"

#include "lsp-chunk-buffer.h"
#include "lsp-error.h"
#include "lsp-frame-decoder.h"
#include "lsp-quic-error.h"
#include "lsp-sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The scheduler: every source gets requests up to its window, one chunk
 * per data stream; chunks are verified and written off the main loop.
 * A source's window follows its rate, so a slow peer holds few chunks and
 * the others take the rest. */

/* A source's window holds about this much of its transfer: enough to
 * cover a request's round trip and the seeder's read on a LAN. */
#define WINDOW_SECONDS 0.1
/* How much lower than the main loop the hashing threads run. */
#define WORKER_NICENESS 10
/* A source that answered "busy" is asked again after this long. */
#define BUSY_RETRY_MS  1000

void
_lsp_download_source_free (Source *source)
{
  g_clear_handle_id (&source->retry_id, g_source_remove);
  if (source->conn != NULL && source->streams_handler != 0)
    g_signal_handler_disconnect (source->conn, source->streams_handler);
  g_clear_object (&source->conn);
  g_clear_object (&source->peer);
  g_free (source->peer_id);
  g_free (source);
}

static Source *
find_source (LspDownload *self,
             const char  *peer_id)
{
  for (guint i = 0; i < self->sources->len; i++)
    {
      Source *source = g_ptr_array_index (self->sources, i);

      if (g_str_equal (source->peer_id, peer_id))
        return source;
    }
  return NULL;
}

static void
fetch_free (Fetch *fetch)
{
  if (fetch->stream != NULL)
    lsp_quic_stream_set_read_func (fetch->stream, NULL, NULL, NULL);
  g_clear_object (&fetch->stream);
  g_clear_pointer (&fetch->decoder, lsp_frame_decoder_free);
  g_clear_pointer (&fetch->data, lsp_chunk_buffer_free);
  g_free (fetch);
}

/* Ends a fetch that did not deliver: its chunk is wanted again, unless
 * another fetch of it is still going. */
static void
fetch_abandon (Fetch *fetch)
{
  LspDownload *self = fetch->download;
  Chunk *chunk = fetch->chunk;

  if (fetch->source != NULL)
    fetch->source->in_flight--;
  chunk->n_fetches--;
  if (chunk->state == CHUNK_FETCHING && chunk->n_fetches == 0)
    chunk->state = CHUNK_MISSING;
  if (fetch->stream != NULL)
    lsp_quic_stream_reset (fetch->stream, LSP_QUIC_APP_CANCELLED);
  g_ptr_array_remove_fast (self->fetches, fetch);
  fetch_free (fetch);
}

static void
drop_source (LspDownload *self,
             Source      *source,
             const char  *reason,
             gboolean     report)
{
  for (guint i = 0; i < self->fetches->len; i++)
    {
      Fetch *fetch = g_ptr_array_index (self->fetches, i);

      if (fetch->source == source)
        {
          fetch->source = NULL;
          fetch_abandon (fetch);
          i--;
        }
    }
  for (guint i = 0; i < self->chunks->len; i++)
    {
      Chunk *chunk = &g_array_index (self->chunks, Chunk, i);
      if (chunk->avoid == source)
        chunk->avoid = NULL;
    }
  if (report)
    {
      /* It sent bad data: for this download it is never asked again. */
      g_hash_table_add (self->banned, g_strdup (source->peer_id));
      _lsp_download_source_dropped (self, source->peer_id, reason);
    }
  else
    g_debug ("%s: %.12s is no longer a source: %s", self->game_id, source->peer_id, reason);
  g_ptr_array_remove (self->sources, source);
  _lsp_download_check_waiting (self);
}

/* Every connected peer that offers exactly our manifest, whole or the
 * chunks it verified of its own download, is a source; a peer whose offer
 * changed or that left is not. */
void
_lsp_download_refresh_sources (LspDownload *self)
{
  GListModel *peers = G_LIST_MODEL (self->node);

  if (self->manifest_hash == NULL || self->finishing)
    return;

  for (guint i = 0; i < self->sources->len; i++)
    {
      Source *source = g_ptr_array_index (self->sources, i);
      LspPeer *peer = lsp_node_lookup_peer (self->node, source->peer_id);
      gboolean partial;

      if (lsp_node_get_connection (self->node, source->peer_id) != source->conn || peer != source->peer ||
          !_lsp_download_peer_offers (self, peer, &partial))
        {
          drop_source (self, source, _("it left or no longer offers this version"), FALSE);
          i--;
        }
      else
        source->partial = partial;
    }

  for (guint i = 0; i < g_list_model_get_n_items (peers); i++)
    {
      g_autoptr(LspPeer) peer = g_list_model_get_item (peers, i);
      LspQuicConnection *conn = lsp_node_get_connection (self->node, lsp_peer_get_id (peer));
      gboolean partial;
      Source *source;

      if (conn == NULL || find_source (self, lsp_peer_get_id (peer)) != NULL ||
          g_hash_table_contains (self->banned, lsp_peer_get_id (peer)) ||
          !_lsp_download_peer_offers (self, peer, &partial))
        continue;

      source = g_new0 (Source, 1);
      source->download = self;
      source->serial = ++self->source_serial;
      source->peer_id = g_strdup (lsp_peer_get_id (peer));
      source->peer = g_object_ref (peer);
      source->partial = partial;
      source->conn = g_object_ref (conn);
      source->window = LSP_DOWNLOAD_MIN_WINDOW;
      source->streams_handler = g_signal_connect_swapped (conn, "streams-available",
                                                          G_CALLBACK (_lsp_download_pump), self);
      g_ptr_array_add (self->sources, source);
      if (!g_hash_table_contains (self->peer_bytes, source->peer_id))
        g_hash_table_insert (self->peer_bytes, g_strdup (source->peer_id), g_new0 (guint64, 1));
      g_debug ("%s: %.12s is a source%s", self->game_id, source->peer_id, partial ? " of some chunks" : "");
    }
  _lsp_download_check_waiting (self);
}

typedef struct
{
  char         *games_path;
  char         *game_id;
  char         *path;
  gboolean      staged;
  guint64       offset;
  guint8       *data;
  gsize         length;
  guint8        hash[LSP_SHA256_LEN];
} WriteJob;

static void
write_job_free (WriteJob *job)
{
  g_free (job->games_path);
  g_free (job->game_id);
  g_free (job->path);
  lsp_chunk_buffer_free (job->data);
  g_free (job);
}

/* Returns TRUE when written, FALSE without an error when the bytes do not
 * match the manifest, FALSE with one when writing failed. */
static void
verify_write_worker (GTask        *task,
                     gpointer      source_object,
                     gpointer      task_data,
                     GCancellable *cancellable)
{
  WriteJob *job = task_data;
  guint8 digest[LSP_SHA256_LEN];
  GError *error = NULL;
  int root_fd;

  lsp_sha256_buffer (job->data, job->length, digest);
  if (memcmp (digest, job->hash, LSP_SHA256_LEN) != 0)
    {
      g_task_return_boolean (task, FALSE);
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  root_fd = lsp_download_storage_open_payload (job->games_path, job->game_id, job->staged, &error);
  if (root_fd < 0)
    {
      g_task_return_error (task, error);
      return;
    }
  if (!lsp_download_storage_write_chunk (root_fd, job->path, job->offset, job->data, job->length, &error))
    {
      close (root_fd);
      g_prefix_error (&error, "%s: ", job->game_id);
      g_task_return_error (task, error);
      return;
    }
  close (root_fd);
  g_task_return_boolean (task, TRUE);
}

typedef struct
{
  LspDownload *download;
  Chunk       *chunk;
  char        *peer_id;
  guint        source_serial;
} WriteCall;

static void
run_write_job (gpointer data,
               gpointer user_data)
{
  GTask *task = data;
  static __thread gboolean lowered;

  /* Hashing is the bulk of a download's CPU: run below the main loop,
   * whose packets it would otherwise hold up on a busy machine (the
   * transfer stalls while the hash that waits on it runs), and below a
   * game that is playing. On Linux the nice value is per thread. */
  if (!lowered)
    {
      lowered = TRUE;
      setpriority (PRIO_PROCESS, (id_t) gettid (), getpriority (PRIO_PROCESS, (id_t) gettid ()) + WORKER_NICENESS);
    }
  verify_write_worker (task, NULL, g_task_get_task_data (task), g_task_get_cancellable (task));
  g_object_unref (task);
}

/* Hashing and writing chunks is CPU and disk work of all downloads
 * together: it runs on a pool of its own, one thread per core, so it
 * neither floods GIO's shared worker threads nor starves what else runs
 * there (a seeder's reads, manifest loads). */
static void
push_write_job (GTask *task)
{
  static GThreadPool *pool;

  if (g_once_init_enter (&pool))
    {
      GThreadPool *created = g_thread_pool_new (run_write_job, NULL, MAX ((gint) g_get_num_processors (), 2),
                                                FALSE, NULL);
      g_once_init_leave (&pool, created);
    }
  g_thread_pool_push (pool, task, NULL);
}

static void
on_chunk_written (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  WriteCall *call = user_data;
  g_autoptr(LspDownload) self = call->download;
  g_autofree char *peer_id = call->peer_id;
  guint call_serial = call->source_serial;
  Chunk *chunk = call->chunk;
  g_autoptr(GError) error = NULL;
  gboolean ok = g_task_propagate_boolean (G_TASK (result), &error);
  Source *source;

  g_free (call);
  self->workers--;
  source = find_source (self, peer_id);
  if (source != NULL && source->serial == call_serial)
    source->in_flight--;

  if (self->finishing)
    {
      _lsp_download_finish (self);
      return;
    }
  if (error != NULL)
    {
      _lsp_download_fail (self, g_steal_pointer (&error));
      return;
    }
  if (!ok)
    {
      chunk->state = chunk->n_fetches > 0 ? CHUNK_FETCHING : CHUNK_MISSING;
      chunk->avoid = source;
      g_message ("%s: chunk %u from %.12s does not match the manifest", self->game_id, chunk->index, peer_id);
      if (source != NULL && ++source->strikes >= LSP_DOWNLOAD_MAX_STRIKES)
        drop_source (self, source, _("it sent bytes that do not match the manifest"), TRUE);
      _lsp_download_pump (self);
      return;
    }

  {
    guint64 *bytes = g_hash_table_lookup (self->peer_bytes, peer_id);
    if (bytes != NULL)
      *bytes += chunk->length;
  }
  _lsp_download_chunk_done (self, chunk, source);
  _lsp_download_pump (self);
}

static void
fetch_delivered (Fetch *fetch)
{
  LspDownload *self = fetch->download;
  Chunk *chunk = fetch->chunk;
  Source *source = fetch->source;
  const LspManifestFile *file = lsp_manifest_get_file (self->manifest, chunk->file);
  gint64 elapsed = MAX (g_get_monotonic_time () - fetch->started, 1000);
  g_autoptr(GTask) task = NULL;
  WriteJob *job;
  WriteCall *call;

  self->bytes_received += chunk->length;
  if (source != NULL)
    {
      double rate = chunk->length * (double) G_USEC_PER_SEC / elapsed * source->window;

      source->rate = source->rate > 0 ? 0.7 * source->rate + 0.3 * rate : rate;
      source->window = CLAMP ((guint) (source->rate * WINDOW_SECONDS / LSP_MANIFEST_CHUNK_SIZE) + 1,
                              LSP_DOWNLOAD_MIN_WINDOW, LSP_DOWNLOAD_MAX_WINDOW);
      /* The chunk stays in the source's window until it is written, so a
       * disk or a hash that falls behind slows the requests instead of
       * piling up buffers. */
    }
  chunk->n_fetches--;

  /* In the end game the same chunk may arrive twice: the first one wins
   * and the other request is reset. */
  if (chunk->state != CHUNK_FETCHING)
    {
      if (source != NULL)
        source->in_flight--;
      g_ptr_array_remove_fast (self->fetches, fetch);
      fetch_free (fetch);
      return;
    }
  chunk->state = CHUNK_WRITING;
  for (guint i = 0; i < self->fetches->len; i++)
    {
      Fetch *other = g_ptr_array_index (self->fetches, i);

      if (other != fetch && other->chunk == chunk)
        {
          fetch_abandon (other);
          i--;
        }
    }

  job = g_new0 (WriteJob, 1);
  job->games_path = g_strdup (self->games_path);
  job->game_id = g_strdup (self->game_id);
  job->path = g_strdup (file->path);
  job->staged = self->staged;
  job->offset = chunk->offset;
  job->data = g_steal_pointer (&fetch->data);
  job->length = chunk->length;
  memcpy (job->hash, chunk->hash, LSP_SHA256_LEN);
  call = g_new0 (WriteCall, 1);
  call->download = g_object_ref (self);
  call->chunk = chunk;
  call->peer_id = g_strdup (fetch->source != NULL ? fetch->source->peer_id : "");
  call->source_serial = fetch->source != NULL ? fetch->source->serial : 0;
  g_ptr_array_remove_fast (self->fetches, fetch);
  fetch_free (fetch);

  self->workers++;
  task = g_task_new (NULL, self->stop, on_chunk_written, call);
  g_task_set_source_tag (task, fetch_delivered);
  g_task_set_task_data (task, job, (GDestroyNotify) write_job_free);
  push_write_job (g_steal_pointer (&task));
  _lsp_download_set_phase (self, LSP_DOWNLOAD_TRANSFERRING);
}

/* A source broke the protocol on a data stream: it is dropped for this
 * download, since nothing it says can be trusted. */
static void
fetch_misbehaved (Fetch      *fetch,
                  const char *reason)
{
  LspDownload *self = fetch->download;
  Source *source = fetch->source;

  if (source != NULL)
    drop_source (self, source, reason, TRUE);
  else
    fetch_abandon (fetch);
  _lsp_download_pump (self);
}

static gboolean
on_busy_retry (gpointer user_data)
{
  Source *source = user_data;

  source->retry_id = 0;
  _lsp_download_pump (source->download);
  return G_SOURCE_REMOVE;
}

static void
on_answer_error (Fetch              *fetch,
                 const LspErrorBody *error)
{
  LspDownload *self = fetch->download;
  Source *source = fetch->source;

  g_debug ("%s: %.12s refused chunk %u: %s (%s)", self->game_id,
           source != NULL ? source->peer_id : "?", fetch->chunk->index, error->message, error->code);
  fetch_abandon (fetch);
  if (source == NULL)
    return;
  if (g_str_equal (error->code, LSP_PROTO_ERROR_BUSY))
    {
      /* Its upload slots are full: it keeps being a source, with a small
       * window, and is asked again a little later. */
      source->window = LSP_DOWNLOAD_MIN_WINDOW;
      if (source->retry_id == 0)
        source->retry_id = g_timeout_add (BUSY_RETRY_MS, on_busy_retry, source);
      _lsp_download_pump (self);
      return;
    }
  drop_source (self, source, _("it no longer serves this version"), FALSE);
  _lsp_download_pump (self);
}

static void
on_fetch_read (LspQuicStream *stream,
               const guint8  *data,
               gsize          length,
               gboolean       fin,
               const GError  *error,
               gpointer       user_data)
{
  Fetch *fetch = user_data;
  LspDownload *self = fetch->download;
  Chunk *chunk = fetch->chunk;

  if (error != NULL)
    {
      g_clear_object (&fetch->stream);
      fetch_abandon (fetch);
      /* The connection may be gone: the node tells us when its peer
       * leaves; a reset stream alone leaves the source in place. */
      _lsp_download_refresh_sources (self);
      _lsp_download_pump (self);
      return;
    }

  if (!fetch->got_header)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GBytes) frame = NULL;
      g_autoptr(LspMessage) message = NULL;
      gsize used = lsp_frame_decoder_feed (fetch->decoder, data, length, &local_error);

      if (local_error != NULL)
        {
          fetch_misbehaved (fetch, local_error->message);
          return;
        }
      frame = lsp_frame_decoder_pop (fetch->decoder);
      if (frame == NULL)
        {
          if (fin)
            fetch_misbehaved (fetch, _("it ended a data stream without an answer"));
          return;
        }
      message = lsp_message_parse (g_bytes_get_data (frame, NULL), g_bytes_get_size (frame), &local_error);
      if (message != NULL && message->type == LSP_MESSAGE_ERROR)
        {
          on_answer_error (fetch, &message->error);
          return;
        }
      if (message == NULL || message->type != LSP_MESSAGE_CHUNK ||
          message->chunk.offset != chunk->offset || message->chunk.length != chunk->length)
        {
          fetch_misbehaved (fetch, _("it answered a chunk request with something else"));
          return;
        }
      fetch->got_header = TRUE;
      fetch->data = lsp_chunk_buffer_new ();
      data += used;
      length -= used;
    }

  if (length > chunk->length - fetch->filled)
    {
      fetch_misbehaved (fetch, _("it sent more bytes than the chunk has"));
      return;
    }
  memcpy (fetch->data + fetch->filled, data, length);
  fetch->filled += length;
  if (fin)
    {
      if (fetch->filled != chunk->length)
        {
          fetch_misbehaved (fetch, _("it sent fewer bytes than the chunk has"));
          return;
        }
      fetch_delivered (fetch);
    }
}

static gboolean
refresh_later (gpointer user_data)
{
  LspDownload *self = user_data;

  _lsp_download_refresh_sources (self);
  _lsp_download_pump (self);
  return G_SOURCE_REMOVE;
}

static gboolean
start_fetch (LspDownload *self,
             Source      *source,
             Chunk       *chunk)
{
  const LspManifestFile *file = lsp_manifest_get_file (self->manifest, chunk->file);
  g_autoptr(GError) error = NULL;
  g_autoptr(LspMessage) request = NULL;
  g_autoptr(GBytes) frame = NULL;
  LspQuicStream *stream;
  Fetch *fetch;

  stream = lsp_quic_connection_open_stream (source->conn, TRUE, &error);
  if (stream == NULL)
    {
      /* Out of streams until the peer raises the limit ("streams-available"),
       * or the connection is gone, and the source with it. */
      source->blocked = TRUE;
      if (!g_error_matches (error, LSP_QUIC_ERROR, LSP_QUIC_ERROR_LIMIT))
        {
          g_debug ("%s: cannot open a stream to %.12s: %s", self->game_id, source->peer_id, error->message);
          g_idle_add_full (G_PRIORITY_DEFAULT, refresh_later, g_object_ref (self), g_object_unref);
        }
      return FALSE;
    }

  fetch = g_new0 (Fetch, 1);
  fetch->download = self;
  fetch->source = source;
  fetch->chunk = chunk;
  fetch->stream = stream;
  fetch->decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_REQUEST_FRAME);
  fetch->started = g_get_monotonic_time ();
  g_ptr_array_add (self->fetches, fetch);
  source->in_flight++;
  chunk->n_fetches++;
  chunk->state = CHUNK_FETCHING;

  request = lsp_message_new_get_chunk (self->game_id, self->manifest_hash, file->path,
                                       chunk->offset, chunk->length);
  frame = lsp_message_encode (request, LSP_PROTO_MAX_REQUEST_FRAME, NULL);
  lsp_quic_stream_set_read_func (stream, on_fetch_read, fetch, NULL);
  lsp_quic_stream_write_bytes_async (stream, frame, TRUE, NULL, NULL, NULL);
  return TRUE;
}

static gboolean
on_rate_timer (gpointer user_data)
{
  LspDownload *self = user_data;

  self->rate_timer_id = 0;
  _lsp_download_pump (self);
  return G_SOURCE_REMOVE;
}

/* The download rate limit is paid when a chunk is asked for. */
static gboolean
take_download_tokens (LspDownload *self,
                      guint32      length)
{
  guint wait_ms;

  if (self->rate_limit == NULL || self->rate_timer_id != 0)
    return self->rate_timer_id == 0;
  if (lsp_rate_limit_take (self->rate_limit, length, &wait_ms))
    return TRUE;
  self->rate_timer_id = g_timeout_add (wait_ms, on_rate_timer, self);
  return FALSE;
}

void
_lsp_download_pump (LspDownload *self)
{
  gboolean progress = TRUE;

  if (self->finishing || self->manifest == NULL || !self->storage_begun ||
      self->phase == LSP_DOWNLOAD_VERIFYING || self->phase == LSP_DOWNLOAD_PLANNING)
    return;

  for (guint i = 0; i < self->sources->len; i++)
    ((Source *) g_ptr_array_index (self->sources, i))->blocked = FALSE;
  _lsp_download_count_holders (self);

  /* Round-robin, one request per source per turn, so sources share the
   * missing chunks from the start. */
  while (progress)
    {
      progress = FALSE;
      for (guint i = 0; i < self->sources->len; i++)
        {
          Source *source = g_ptr_array_index (self->sources, i);
          Chunk *chunk;

          if (source->blocked || source->retry_id != 0 || source->in_flight >= source->window)
            continue;
          chunk = _lsp_download_pick_chunk (self, source);
          if (chunk == NULL)
            continue;
          if (!take_download_tokens (self, chunk->length))
            return;
          if (start_fetch (self, source, chunk))
            progress = TRUE;
        }
    }
}

void
_lsp_download_stop_fetches (LspDownload *self)
{
  while (self->fetches->len > 0)
    fetch_abandon (g_ptr_array_index (self->fetches, self->fetches->len - 1));
}
