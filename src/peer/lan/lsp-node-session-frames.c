#define G_LOG_DOMAIN "lsp-node"

#include "config.h"

#include "lsp-node-private.h"

#include "lsp-error.h"

/* A session's control stream as messages: the frame decoder, the flood
 * limit, and parsing, on the main loop for small frames and in a worker
 * for large ones, MAX_LARGE_PARSES at once for the whole node. Frames of
 * one session are handled in the order they came: while its frame waits
 * for or is in a worker, the stream is paused and what still arrives
 * (bounded by the stream's flow-control window) is held back. */

/* A token bucket: FRAME_RATE frames a second, FRAME_BURST at once. */
static gboolean
spend_frame_budget (Session *session)
{
  gint64 now = g_get_monotonic_time ();

  session->frame_budget = MIN ((double) FRAME_BURST,
                               session->frame_budget + (now - session->budget_time) * FRAME_RATE / 1e6);
  session->budget_time = now;
  if (session->frame_budget < 1.0)
    return FALSE;
  session->frame_budget -= 1.0;
  return TRUE;
}

static void
fail_parse (Session      *session,
            const GError *error)
{
  _lsp_session_fail (session,
                     g_error_matches (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE)
                       ? LSP_PROTO_ERROR_FRAME_TOO_LARGE : LSP_PROTO_ERROR_BAD_MESSAGE,
                     error->message);
}

static void
parse_in_thread (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  GBytes *payload = task_data;
  GError *error = NULL;
  gsize size;
  const guint8 *bytes = g_bytes_get_data (payload, &size);
  LspMessage *message = lsp_message_parse (bytes, size, &error);

  if (message == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, message, (GDestroyNotify) lsp_message_unref);
}

static void pump (Session *session, const guint8 *data, gsize length, gboolean fin);

static void on_parsed (GObject *source_object, GAsyncResult *result, gpointer user_data);

static void
start_parse (Session *session,
             GBytes  *payload)
{
  g_autoptr(GTask) task = g_task_new (NULL, session->cancellable, on_parsed, session);

  g_task_set_source_tag (task, start_parse);
  g_task_set_task_data (task, g_bytes_ref (payload), (GDestroyNotify) g_bytes_unref);
  session->parse_running = TRUE;
  session->node->large_parses++;
  g_task_run_in_thread (task, parse_in_thread);
}

static void
start_waiting_parses (LspNode *self)
{
  Session *session;

  while (self->large_parses < MAX_LARGE_PARSES &&
         (session = g_queue_pop_head (&self->parse_waiting)) != NULL)
    {
      g_autoptr(GBytes) payload = g_steal_pointer (&session->parse_waiting);
      start_parse (session, payload);
    }
}

/* A session ends with its parse: a running one is no longer counted
 * (its worker finishes on its own; the result is dropped), a waiting one
 * leaves the queue. */
void
_lsp_session_clear_frames (Session *session)
{
  LspNode *self = session->node;

  if (session->parse_running)
    {
      session->parse_running = FALSE;
      self->large_parses--;
      start_waiting_parses (self);
    }
  if (session->parse_waiting != NULL)
    {
      g_queue_remove (&self->parse_waiting, session);
      g_clear_pointer (&session->parse_waiting, g_bytes_unref);
    }
  g_clear_pointer (&session->held, g_byte_array_unref);
}

static void
on_parsed (GObject      *source_object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspMessage) message = g_task_propagate_pointer (G_TASK (result), &error);
  g_autoptr(GByteArray) held = NULL;
  Session *session;

  /* Cancelled when the session was freed: user_data is gone. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  session = user_data;
  session->parsing = FALSE;
  session->parse_running = FALSE;
  session->node->large_parses--;
  start_waiting_parses (session->node);
  if (message == NULL)
    {
      fail_parse (session, error);
      return;
    }
  if (session->closing)
    return;
  _lsp_session_handle_message (session, message);

  lsp_quic_stream_set_reading_paused (session->control, FALSE);
  held = g_steal_pointer (&session->held);
  pump (session, held != NULL ? held->data : NULL, held != NULL ? held->len : 0, session->held_fin);
}

/* Returns FALSE when the session stops taking frames for now: it is
 * closing, or a worker parses this one. */
static gboolean
handle_payload (Session *session,
                GBytes  *payload)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspMessage) message = NULL;
  gsize size;
  const guint8 *bytes = g_bytes_get_data (payload, &size);

  if (!spend_frame_budget (session))
    {
      _lsp_session_fail (session, LSP_PROTO_ERROR_BAD_MESSAGE, "too many messages: more than the flood limit");
      return FALSE;
    }

  if (size > INLINE_PARSE_MAX)
    {
      session->parsing = TRUE;
      lsp_quic_stream_set_reading_paused (session->control, TRUE);
      if (session->node->large_parses < MAX_LARGE_PARSES)
        start_parse (session, payload);
      else
        {
          session->parse_waiting = g_bytes_ref (payload);
          g_queue_push_tail (&session->node->parse_waiting, session);
        }
      return FALSE;
    }

  message = lsp_message_parse (bytes, size, &error);
  if (message == NULL)
    {
      fail_parse (session, error);
      return FALSE;
    }
  _lsp_session_handle_message (session, message);
  return !session->closing;
}

static void
pump (Session      *session,
      const guint8 *data,
      gsize         length,
      gboolean      fin)
{
  gboolean taking = !session->closing;

  while (length > 0 && taking)
    {
      g_autoptr(GError) error = NULL;
      gsize used = lsp_frame_decoder_feed (session->decoder, data, length, &error);
      g_autoptr(GBytes) payload = NULL;

      if (error != NULL)
        {
          _lsp_session_fail (session,
                             g_error_matches (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE)
                               ? LSP_PROTO_ERROR_FRAME_TOO_LARGE : LSP_PROTO_ERROR_BAD_FRAME,
                             error->message);
          return;
        }
      data += used;
      length -= used;

      payload = lsp_frame_decoder_pop (session->decoder);
      if (payload != NULL)
        taking = handle_payload (session, payload);
    }

  if (session->closing)
    return;
  if (session->parsing)
    {
      if (length > 0)
        {
          session->held = g_byte_array_new ();
          g_byte_array_append (session->held, data, (guint) length);
        }
      session->held_fin = fin;
      return;
    }
  /* The frames that came with the end of the stream (a Goodbye) count. */
  if (fin)
    _lsp_session_close (session, "closed its control stream");
}

static void
on_control_read (LspQuicStream *stream,
                 const guint8  *data,
                 gsize          length,
                 gboolean       fin,
                 const GError  *error,
                 gpointer       user_data)
{
  Session *session = user_data;

  if (error != NULL)
    {
      /* The close reason goes to the peer in English; our error is in
       * the user's language. */
      g_debug ("The control stream of %s failed: %s", lsp_quic_connection_get_peer_id (session->conn), error->message);
      if (!session->closing)
        _lsp_session_close (session, "the control stream failed");
      return;
    }

  session->last_received = g_get_monotonic_time ();
  if (session->parsing)
    {
      if (session->held == NULL)
        session->held = g_byte_array_new ();
      g_byte_array_append (session->held, data, (guint) length);
      session->held_fin = fin;
      return;
    }
  pump (session, data, length, fin);
}

void
_lsp_session_attach_control (Session       *session,
                             LspQuicStream *stream)
{
  session->control = g_object_ref (stream);
  lsp_quic_stream_set_read_func (stream, on_control_read, session, NULL);
}
