/* One control message: a known message that parses must encode again,
 * and the encoding must parse to the same type (what we accept we can
 * repeat). */
#include "config.h"

#include "lsp-fuzz.h"

#include "lsp-proto.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(LspMessage) message = NULL;
  g_autoptr(LspMessage) again = NULL;
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GError) error = NULL;

  message = lsp_message_parse (data, size, &error);
  if (message == NULL)
    {
      g_assert_nonnull (error);
      return 0;
    }
  /* A type we do not know is ignored, never sent. */
  if (message->type == LSP_MESSAGE_UNKNOWN)
    return 0;
  frame = lsp_message_encode (message, LSP_PROTO_MAX_FRAME, &error);
  g_assert_no_error (error);
  again = lsp_message_parse ((const guint8 *) g_bytes_get_data (frame, NULL) + LSP_PROTO_FRAME_HEADER_LEN,
                             g_bytes_get_size (frame) - LSP_PROTO_FRAME_HEADER_LEN, &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->type, ==, message->type);
  return 0;
}
