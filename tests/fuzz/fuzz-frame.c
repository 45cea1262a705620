/* The frame decoder fed a stream in pieces, and every frame it yields
 * parsed as a message: what a peer's control stream goes through. */
#include "config.h"

#include "lsp-fuzz.h"

#include "lsp-frame-decoder.h"
#include "lsp-proto.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  LspFrameDecoder *decoder;
  gsize piece;

  if (size < 1)
    return 0;
  /* The first byte picks the piece size, as packets split a stream. */
  piece = (gsize) data[0] + 1;
  data++;
  size--;

  decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_REQUEST_FRAME);
  while (size > 0)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) frame = NULL;
      gsize used = lsp_frame_decoder_feed (decoder, data, MIN (piece, size), &error);

      g_assert (used <= MIN (piece, size));
      if (error != NULL)
        {
          g_assert (lsp_frame_decoder_has_failed (decoder));
          break;
        }
      data += used;
      size -= used;
      frame = lsp_frame_decoder_pop (decoder);
      if (frame != NULL)
        {
          g_autoptr(LspMessage) message = NULL;

          g_assert_cmpuint (g_bytes_get_size (frame), <=, LSP_PROTO_MAX_REQUEST_FRAME);
          message = lsp_message_parse (g_bytes_get_data (frame, NULL), g_bytes_get_size (frame), NULL);
        }
      else
        g_assert (used > 0);
    }
  lsp_frame_decoder_free (decoder);
  return 0;
}
