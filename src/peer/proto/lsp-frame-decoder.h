/* lsp-frame-decoder.h: splits a byte stream into length-prefixed frames */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _LspFrameDecoder LspFrameDecoder;

LspFrameDecoder *lsp_frame_decoder_new           (gsize             max_frame);
void             lsp_frame_decoder_set_max_frame (LspFrameDecoder  *self,
                                                  gsize             max_frame);
void             lsp_frame_decoder_free          (LspFrameDecoder  *self);
gsize            lsp_frame_decoder_feed          (LspFrameDecoder  *self,
                                                  const guint8     *data,
                                                  gsize             length,
                                                  GError          **error);
GBytes          *lsp_frame_decoder_pop           (LspFrameDecoder  *self);
gboolean         lsp_frame_decoder_is_idle       (LspFrameDecoder  *self);
gboolean         lsp_frame_decoder_has_failed    (LspFrameDecoder  *self);
gsize            lsp_frame_decoder_get_buffered  (LspFrameDecoder  *self);
GBytes          *lsp_frame_encode                (const void       *payload,
                                                  gsize             length);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LspFrameDecoder, lsp_frame_decoder_free)

G_END_DECLS
