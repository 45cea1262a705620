#define G_LOG_DOMAIN "lsp-frame-decoder"

#include "config.h"

#include "lsp-frame-decoder.h"

#include <gio/gio.h>
#include <string.h>

#include "lsp-error.h"
#include "lsp-proto.h"

/* The first allocation of a payload buffer; small frames need one. */
#define DECODER_MIN_ALLOCATION 4096

struct _LspFrameDecoder
{
  gsize    max_frame;
  guint8   header[LSP_PROTO_FRAME_HEADER_LEN];
  gsize    header_filled;
  guint8  *payload;
  gsize    payload_len;
  gsize    payload_filled;
  gsize    payload_allocated;
  GBytes  *ready;
  gboolean failed;
};

LspFrameDecoder *
lsp_frame_decoder_new (gsize max_frame)
{
  LspFrameDecoder *self;

  g_return_val_if_fail (max_frame >= LSP_PROTO_MIN_FRAME && max_frame <= G_MAXUINT32, NULL);

  self = g_new0 (LspFrameDecoder, 1);
  self->max_frame = max_frame;
  return self;
}

/* Applies from the next frame's header on: a stream's limit may grow once
 * its peer is known (the control stream after the handshake). */
void
lsp_frame_decoder_set_max_frame (LspFrameDecoder *self,
                                 gsize            max_frame)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (max_frame >= LSP_PROTO_MIN_FRAME && max_frame <= G_MAXUINT32);

  self->max_frame = max_frame;
}

void
lsp_frame_decoder_free (LspFrameDecoder *self)
{
  if (self == NULL)
    return;
  g_free (self->payload);
  g_clear_pointer (&self->ready, g_bytes_unref);
  g_free (self);
}

/* Consumes bytes up to the end of the next complete frame and stops there,
 * so at most one frame is ever buffered (bounded memory per stream) and the
 * caller can switch to raw bytes right after a data stream's header frame.
 * Returns how many bytes were consumed; 0 while a frame waits to be popped. */
gsize
lsp_frame_decoder_feed (LspFrameDecoder  *self,
                        const guint8     *data,
                        gsize             length,
                        GError          **error)
{
  gsize consumed = 0;

  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (data != NULL || length == 0, 0);

  if (self->failed)
    {
      g_set_error_literal (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                           "The stream already sent a broken frame");
      return 0;
    }
  if (self->ready != NULL)
    return 0;

  while (consumed < length)
    {
      if (self->header_filled < LSP_PROTO_FRAME_HEADER_LEN)
        {
          gsize n = MIN (LSP_PROTO_FRAME_HEADER_LEN - self->header_filled, length - consumed);
          guint32 frame_len;

          memcpy (self->header + self->header_filled, data + consumed, n);
          self->header_filled += n;
          consumed += n;
          if (self->header_filled < LSP_PROTO_FRAME_HEADER_LEN)
            break;

          frame_len = ((guint32) self->header[0] << 24) | ((guint32) self->header[1] << 16) |
                      ((guint32) self->header[2] << 8) | (guint32) self->header[3];
          if (frame_len > self->max_frame)
            {
              self->failed = TRUE;
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                           "Frame of %u bytes is over the limit of %" G_GSIZE_FORMAT " bytes",
                           frame_len, self->max_frame);
              return consumed;
            }
          if (frame_len < LSP_PROTO_MIN_FRAME)
            {
              self->failed = TRUE;
              g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA,
                           "Frame of %u bytes is too short to hold a JSON object", frame_len);
              return consumed;
            }
          self->payload_len = frame_len;
          self->payload_filled = 0;
        }
      else
        {
          gsize n = MIN (self->payload_len - self->payload_filled, length - consumed);

          /* The buffer grows as the payload arrives, not from the header:
           * a header that claims 16 MiB and then a trickle costs what
           * came, not what was claimed. Doubling keeps the copies linear. */
          if (self->payload_filled + n > self->payload_allocated)
            {
              gsize wanted = MAX (self->payload_filled + n, MAX (self->payload_allocated * 2, DECODER_MIN_ALLOCATION));

              self->payload_allocated = MIN (wanted, self->payload_len);
              self->payload = g_realloc (self->payload, self->payload_allocated);
            }
          memcpy (self->payload + self->payload_filled, data + consumed, n);
          self->payload_filled += n;
          consumed += n;
        }

      if (self->header_filled == LSP_PROTO_FRAME_HEADER_LEN && self->payload_filled == self->payload_len)
        {
          self->ready = g_bytes_new_take (g_steal_pointer (&self->payload), self->payload_len);
          self->header_filled = 0;
          self->payload_len = 0;
          self->payload_filled = 0;
          self->payload_allocated = 0;
          break;
        }
    }

  return consumed;
}

/* Returns the payload of the frame that feed completed, or NULL. */
GBytes *
lsp_frame_decoder_pop (LspFrameDecoder *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return g_steal_pointer (&self->ready);
}

/* TRUE between frames: the stream may end here without losing a partial frame. */
gboolean
lsp_frame_decoder_is_idle (LspFrameDecoder *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->header_filled == 0 && self->ready == NULL && !self->failed;
}

gboolean
lsp_frame_decoder_has_failed (LspFrameDecoder *self)
{
  g_return_val_if_fail (self != NULL, TRUE);

  return self->failed;
}

gsize
lsp_frame_decoder_get_buffered (LspFrameDecoder *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->header_filled + self->payload_filled +
         (self->ready != NULL ? g_bytes_get_size (self->ready) : 0);
}

GBytes *
lsp_frame_encode (const void *payload,
                  gsize       length)
{
  guint8 *frame;

  g_return_val_if_fail (length <= G_MAXUINT32, NULL);

  frame = g_malloc (LSP_PROTO_FRAME_HEADER_LEN + length);
  frame[0] = (guint8) (length >> 24);
  frame[1] = (guint8) (length >> 16);
  frame[2] = (guint8) (length >> 8);
  frame[3] = (guint8) length;
  if (length > 0)
    memcpy (frame + LSP_PROTO_FRAME_HEADER_LEN, payload, length);

  return g_bytes_new_take (frame, LSP_PROTO_FRAME_HEADER_LEN + length);
}
