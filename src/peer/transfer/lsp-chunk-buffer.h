/* lsp-chunk-buffer.h: reusable buffers of one chunk, for the bytes a
 * seeder reads and a downloader receives (any thread) */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Buffers are aligned to this, which O_DIRECT and huge pages both take. */
#define LSP_CHUNK_BUFFER_ALIGN (2u * 1024 * 1024)

guint8 *lsp_chunk_buffer_new      (void);
void    lsp_chunk_buffer_free     (gpointer  buffer);
void    lsp_chunk_buffer_trim     (void);
GBytes *lsp_chunk_buffer_to_bytes (guint8   *buffer,
                                   gsize     length);

G_END_DECLS
