/* lsp-upload-slots.h: how many chunks a node serves at once, following how
 * fast its answers leave */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LSP_UPLOAD_SLOTS_MIN 2

typedef struct
{
  guint   max_total;     /* the settings: never more than these */
  guint   max_per_peer;
  double  rate;          /* bytes per second, smoothed; 0 before a measurement */
  guint64 window_bytes;
  gint64  window_start;
} LspUploadSlots;

void  lsp_upload_slots_init      (LspUploadSlots       *self,
                                  guint                 max_total,
                                  guint                 max_per_peer);
void  lsp_upload_slots_sent      (LspUploadSlots       *self,
                                  guint64               bytes,
                                  gint64                now_us);
guint lsp_upload_slots_total     (const LspUploadSlots *self);
guint lsp_upload_slots_per_peer  (const LspUploadSlots *self);

G_END_DECLS
