#define G_LOG_DOMAIN "lsp-quic-stream"

#include "config.h"

#include "lsp-quic-stream.h"

#include "lsp-quic-error.h"
#include "lsp-quic-private.h"

#include <glib/gi18n-lib.h>
#include <inttypes.h>

G_DEFINE_FINAL_TYPE (LspQuicStream, lsp_quic_stream, G_TYPE_OBJECT)

static void
completion_free (LspQuicCompletion *completion)
{
  g_clear_object (&completion->task);
  g_clear_error (&completion->error);
  g_free (completion);
}

GPtrArray *
lsp_quic_completions_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) completion_free);
}

void
lsp_quic_completions_run (GPtrArray *completions)
{
  gsize n = 0;
  g_autofree gpointer *items = NULL;

  if (completions->len == 0)
    return;
  /* Callbacks may queue new completions into the same array. */
  items = g_ptr_array_steal (completions, &n);

  for (gsize i = 0; i < n; i++)
    {
      LspQuicCompletion *completion = items[i];

      if (completion->error != NULL)
        g_task_return_error (completion->task, g_steal_pointer (&completion->error));
      else
        g_task_return_boolean (completion->task, TRUE);
      completion_free (completion);
    }
}

static void
chunk_complete (LspQuicChunk *chunk,
                const GError *error,
                GPtrArray    *completed)
{
  LspQuicCompletion *completion;

  if (chunk->cancel_source != NULL)
    {
      g_source_destroy (chunk->cancel_source);
      g_clear_pointer (&chunk->cancel_source, g_source_unref);
    }
  if (chunk->task == NULL)
    return;

  completion = g_new0 (LspQuicCompletion, 1);
  completion->task = g_steal_pointer (&chunk->task);
  completion->error = error != NULL ? g_error_copy (error) : NULL;
  g_ptr_array_add (completed, completion);
}

static void
chunk_free (LspQuicChunk *chunk)
{
  g_assert (chunk->task == NULL);
  g_clear_pointer (&chunk->bytes, g_bytes_unref);
  g_free (chunk);
}

static void
lsp_quic_stream_dispose (GObject *object)
{
  LspQuicStream *self = LSP_QUIC_STREAM (object);

  if (self->read_destroy != NULL)
    self->read_destroy (self->read_data);
  self->read_destroy = NULL;
  self->read_func = NULL;

  G_OBJECT_CLASS (lsp_quic_stream_parent_class)->dispose (object);
}

static void
lsp_quic_stream_finalize (GObject *object)
{
  LspQuicStream *self = LSP_QUIC_STREAM (object);

  /* Every pending write's task holds a reference to the stream, so only
   * chunks whose writes completed can be left here. */
  g_queue_clear_full (&self->chunks, (GDestroyNotify) chunk_free);
  g_clear_pointer (&self->early, g_byte_array_unref);
  g_clear_error (&self->early_error);

  G_OBJECT_CLASS (lsp_quic_stream_parent_class)->finalize (object);
}

static void
lsp_quic_stream_class_init (LspQuicStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lsp_quic_stream_dispose;
  object_class->finalize = lsp_quic_stream_finalize;
}

static void
lsp_quic_stream_init (LspQuicStream *self)
{
  g_queue_init (&self->chunks);
  self->send_link.data = self;
}

LspQuicStream *
lsp_quic_stream_new_internal (LspQuicConnection *connection,
                              gint64             id,
                              gboolean           local)
{
  LspQuicStream *self = g_object_new (LSP_TYPE_QUIC_STREAM, NULL);

  self->connection = connection;
  self->id = id;
  self->local = local;
  /* A unidirectional stream has only one direction to use. */
  if (!lsp_quic_stream_is_bidirectional (self))
    {
      if (local)
        self->read_done = TRUE;
      else
        self->write_closed = TRUE;
    }
  return self;
}

gint64
lsp_quic_stream_get_id (LspQuicStream *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_STREAM (self), -1);
  return self->id;
}

gboolean
lsp_quic_stream_is_bidirectional (LspQuicStream *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_STREAM (self), FALSE);
  return (self->id & 0x2) == 0;
}

gboolean
lsp_quic_stream_is_local (LspQuicStream *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_STREAM (self), FALSE);
  return self->local;
}

/* Whether nothing can be written any more: finished, reset, or the peer
 * asked us to stop sending (STOP_SENDING) or the connection ended. */
gboolean
lsp_quic_stream_is_write_closed (LspQuicStream *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_STREAM (self), TRUE);
  return self->write_closed || self->fin_queued || self->connection == NULL;
}

/**
 * lsp_quic_stream_get_connection:
 *
 * Returns: (transfer none) (nullable): the connection, or %NULL once it
 *   has ended
 */
LspQuicConnection *
lsp_quic_stream_get_connection (LspQuicStream *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_STREAM (self), NULL);
  return self->connection;
}

gsize
lsp_quic_stream_get_queued_bytes (LspQuicStream *self)
{
  g_return_val_if_fail (LSP_IS_QUIC_STREAM (self), 0);
  return self->queued;
}

/* Returns the number of bytes the connection may credit back to the peer
 * right away: what was handed to the reader, unless reading is paused. */
gsize
lsp_quic_stream_deliver (LspQuicStream *self,
                         const guint8  *data,
                         gsize          length,
                         gboolean       fin)
{
  /* No reference is taken for the read function (an atomic pair per
   * packet, measurably slow on the receive path): this runs inside
   * ngtcp2_conn_read_pkt, where the connection holds itself and defers
   * closing, so its stream table keeps the stream alive. */
  if (self->read_done)
    return length;

  if (self->read_func == NULL)
    {
      /* Not credited: the peer's flow-control window bounds this buffer. */
      if (self->early == NULL)
        self->early = g_byte_array_new ();
      g_byte_array_append (self->early, data, (guint) length);
      self->early_fin = fin;
      if (fin)
        self->read_done = TRUE;
      self->uncredited += length;
      return 0;
    }

  if (fin)
    self->read_done = TRUE;
  self->read_func (self, data, length, fin, NULL, self->read_data);

  if (self->paused)
    {
      self->uncredited += length;
      return 0;
    }
  return length;
}

/**
 * lsp_quic_stream_set_bulk:
 *
 * Bulk streams (a chunk answer, say) are sent one after another, in the
 * order they got data to send, after every other stream that has some.
 * Interleaving them packet by packet would finish all of them late and
 * at once: the receiver could hash and write none of them meanwhile, and
 * the requests it makes as each one ends would come in bursts.
 */
void
lsp_quic_stream_set_bulk (LspQuicStream *self,
                          gboolean       bulk)
{
  g_return_if_fail (LSP_IS_QUIC_STREAM (self));

  self->bulk = bulk;
}

/**
 * lsp_quic_stream_set_read_func:
 *
 * Sets the function that receives this stream's data. Data that arrived
 * before is delivered at once. Set it from the "incoming-stream" handler or
 * right after opening the stream.
 */
void
lsp_quic_stream_set_read_func (LspQuicStream         *self,
                               LspQuicStreamReadFunc  func,
                               gpointer               user_data,
                               GDestroyNotify         destroy)
{
  g_return_if_fail (LSP_IS_QUIC_STREAM (self));

  if (self->read_destroy != NULL)
    self->read_destroy (self->read_data);
  self->read_func = func;
  self->read_data = user_data;
  self->read_destroy = destroy;

  if (func != NULL && self->early_error != NULL && self->early == NULL)
    {
      g_autoptr(GError) error = g_steal_pointer (&self->early_error);
      g_autoptr(LspQuicStream) hold = g_object_ref (self);

      func (self, NULL, 0, FALSE, error, user_data);
      return;
    }

  if (func != NULL && self->early != NULL)
    {
      g_autoptr(GByteArray) early = g_steal_pointer (&self->early);
      g_autoptr(LspQuicStream) hold = g_object_ref (self);
      gsize length = early->len;

      if (self->early_fin)
        self->read_done = TRUE;
      func (self, early->data, early->len, self->early_fin, NULL, user_data);
      if (!self->paused && self->connection != NULL)
        {
          self->uncredited -= length;
          lsp_quic_connection_stream_credit (self->connection, self, length);
        }
      if (self->early_error != NULL && self->read_func == func)
        {
          g_autoptr(GError) error = g_steal_pointer (&self->early_error);
          func (self, NULL, 0, FALSE, error, user_data);
        }
    }
}

/**
 * lsp_quic_stream_set_reading_paused:
 *
 * While paused, data is still delivered but not credited back to the peer,
 * so the peer stops sending once the stream's flow-control window is used
 * up. Use it when the consumer (a disk writer) falls behind.
 */
void
lsp_quic_stream_set_reading_paused (LspQuicStream *self,
                                    gboolean       paused)
{
  g_return_if_fail (LSP_IS_QUIC_STREAM (self));

  if (self->paused == !!paused)
    return;
  self->paused = !!paused;
  if (!paused && self->uncredited > 0 && self->early == NULL && self->connection != NULL)
    {
      gsize length = self->uncredited;

      self->uncredited = 0;
      lsp_quic_connection_stream_credit (self->connection, self, length);
    }
}

/* Ends reading with @error and fails every pending write: the stream or
 * its connection is gone. */
void
lsp_quic_stream_fail (LspQuicStream *self,
                      const GError  *error)
{
  g_autoptr(LspQuicStream) hold = g_object_ref (self);
  g_autoptr(GPtrArray) completed = lsp_quic_completions_new ();

  lsp_quic_stream_write_failed (self, error, completed);
  lsp_quic_stream_fail_read (self, error);
  lsp_quic_completions_run (completed);
}

/* Ends reading with @error; kept for the read func if none is set yet. */
void
lsp_quic_stream_fail_read (LspQuicStream *self,
                           const GError  *error)
{
  g_autoptr(LspQuicStream) hold = g_object_ref (self);

  if (self->read_done)
    return;
  self->read_done = TRUE;
  if (self->read_func != NULL)
    self->read_func (self, NULL, 0, FALSE, error, self->read_data);
  else
    self->early_error = g_error_copy (error);
}

void
lsp_quic_stream_write_failed (LspQuicStream *self,
                              const GError  *error,
                              GPtrArray     *completed)
{
  LspQuicChunk *chunk;

  self->write_closed = TRUE;
  while ((chunk = g_queue_pop_head (&self->chunks)) != NULL)
    {
      chunk_complete (chunk, error, completed);
      chunk_free (chunk);
    }
  self->send_cursor = NULL;
  self->queued = 0;
}

static void
on_write_cancelled (GCancellable *cancellable,
                    gpointer      user_data)
{
  LspQuicStream *self = user_data;

  if (self->connection != NULL && !self->write_closed)
    lsp_quic_connection_stream_reset (self->connection, self, LSP_QUIC_APP_CANCELLED);
}

/**
 * lsp_quic_stream_write_bytes_async:
 * @bytes: data to send; kept (not copied) until the peer acknowledges it
 * @fin: finish the stream after @bytes
 * @cancellable: cancelling resets the stream (RESET_STREAM, code
 *   %LSP_QUIC_APP_CANCELLED) and fails every pending write
 *
 * Queues @bytes and completes once all of them were handed to QUIC, which
 * happens as fast as flow and congestion control allow: a caller that
 * waits for each write (or keeps a few in flight) is backpressured.
 */
void
lsp_quic_stream_write_bytes_async (LspQuicStream       *self,
                                   GBytes              *bytes,
                                   gboolean             fin,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  LspQuicChunk *chunk;
  gsize length;

  g_return_if_fail (LSP_IS_QUIC_STREAM (self));
  g_return_if_fail (bytes != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lsp_quic_stream_write_bytes_async);
  length = g_bytes_get_size (bytes);

  if (g_task_return_error_if_cancelled (task))
    return;
  if (self->connection == NULL || !lsp_quic_connection_check_open (self->connection, &error))
    {
      if (error == NULL)
        error = g_error_new (LSP_QUIC_ERROR, LSP_QUIC_ERROR_CLOSED, _("The connection is closed"));
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (self->write_closed || self->fin_queued)
    {
      g_task_return_new_error (task, LSP_QUIC_ERROR, LSP_QUIC_ERROR_CLOSED,
                               _("Stream %" PRId64 " is closed for writing"), self->id);
      return;
    }
  if (self->queued + length > LSP_QUIC_STREAM_MAX_QUEUED)
    {
      g_task_return_new_error (task, LSP_QUIC_ERROR, LSP_QUIC_ERROR_LIMIT,
                               _("Stream %" PRId64 " already has %zu"
                               " bytes queued; wait for earlier writes before writing more"),
                               self->id, self->queued);
      return;
    }

  chunk = g_new0 (LspQuicChunk, 1);
  chunk->bytes = g_bytes_ref (bytes);
  chunk->offset = self->write_offset;
  chunk->fin = fin;
  chunk->task = g_steal_pointer (&task);
  if (cancellable != NULL)
    {
      chunk->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (chunk->cancel_source, G_SOURCE_FUNC (on_write_cancelled), self, NULL);
      g_source_attach (chunk->cancel_source, g_task_get_context (chunk->task));
    }

  g_queue_push_tail (&self->chunks, chunk);
  if (self->send_cursor == NULL)
    self->send_cursor = self->chunks.tail;
  self->write_offset += length;
  self->queued += length;
  self->fin_queued = fin;

  lsp_quic_connection_stream_ready (self->connection, self);
}

gboolean
lsp_quic_stream_write_bytes_finish (LspQuicStream *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * lsp_quic_stream_shutdown_write:
 *
 * Sends FIN after everything queued so far (half-close).
 */
void
lsp_quic_stream_shutdown_write (LspQuicStream *self)
{
  g_autoptr(GBytes) empty = NULL;

  g_return_if_fail (LSP_IS_QUIC_STREAM (self));

  if (self->fin_queued || self->write_closed || self->connection == NULL)
    return;
  empty = g_bytes_new_static ("", 0);
  lsp_quic_stream_write_bytes_async (self, empty, TRUE, NULL, NULL, NULL);
}

/**
 * lsp_quic_stream_reset:
 *
 * Abandons the stream in both directions (RESET_STREAM and STOP_SENDING
 * with @app_error_code); pending writes fail.
 */
void
lsp_quic_stream_reset (LspQuicStream *self,
                       guint64        app_error_code)
{
  g_return_if_fail (LSP_IS_QUIC_STREAM (self));

  if (self->connection != NULL)
    lsp_quic_connection_stream_reset (self->connection, self, app_error_code);
}

gboolean
lsp_quic_stream_has_pending (LspQuicStream *self)
{
  return !self->write_closed && self->send_cursor != NULL;
}

/* Fills @vec with the unsent data, oldest first; *fin tells whether the
 * vector ends with the stream's last byte. */
gsize
lsp_quic_stream_get_send_vec (LspQuicStream *self,
                              ngtcp2_vec    *vec,
                              gsize          max_vec,
                              gboolean      *fin)
{
  gsize n = 0;
  GList *l;

  *fin = FALSE;
  for (l = self->send_cursor; l != NULL && n < max_vec; l = l->next)
    {
      LspQuicChunk *chunk = l->data;
      gsize size;
      const guint8 *data = g_bytes_get_data (chunk->bytes, &size);

      if (size > chunk->sent)
        {
          vec[n].base = (guint8 *) data + chunk->sent;
          vec[n].len = size - chunk->sent;
          n++;
        }
      if (chunk->fin)
        {
          *fin = TRUE;
          break;
        }
    }
  return n;
}

/* ngtcp2 took @length more bytes (and the FIN when @fin_written). */
void
lsp_quic_stream_consumed (LspQuicStream *self,
                          gsize          length,
                          gboolean       fin_written,
                          GPtrArray     *completed)
{
  self->queued -= MIN (length, self->queued);

  while (self->send_cursor != NULL)
    {
      LspQuicChunk *chunk = self->send_cursor->data;
      gsize size = g_bytes_get_size (chunk->bytes);
      gsize take = MIN (length, size - chunk->sent);

      chunk->sent += take;
      length -= take;
      if (chunk->sent < size || (chunk->fin && !fin_written))
        break;
      if (chunk->fin)
        self->fin_sent = TRUE;
      chunk_complete (chunk, NULL, completed);
      self->send_cursor = self->send_cursor->next;
    }
  g_assert (length == 0);

  lsp_quic_stream_acked (self, self->acked_offset, 0);
}

/* Drops the chunks the peer acknowledged; ngtcp2 reports acknowledgements
 * as a growing contiguous range from offset 0. */
void
lsp_quic_stream_acked (LspQuicStream *self,
                       guint64        offset,
                       guint64        length)
{
  LspQuicChunk *chunk;

  self->acked_offset = MAX (self->acked_offset, offset + length);
  while ((chunk = g_queue_peek_head (&self->chunks)) != NULL)
    {
      if (self->send_cursor == self->chunks.head)
        break;
      if (chunk->offset + g_bytes_get_size (chunk->bytes) > self->acked_offset)
        break;
      chunk_free (g_queue_pop_head (&self->chunks));
    }
}
