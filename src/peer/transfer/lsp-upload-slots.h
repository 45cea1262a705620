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
  double  rate;          /* bytes per second while serving, smoothed; 0 before a measurement */
  guint64 window_bytes;
  gint64  window_busy;   /* µs spent serving in this measurement */
  gint64  busy_since;    /* 0 while nothing is being served */
} LspUploadSlots;

void  lsp_upload_slots_init       (LspUploadSlots       *self,
                                   guint                 max_total,
                                   guint                 max_per_peer);
void  lsp_upload_slots_set_limits (LspUploadSlots       *self,
                                   guint                 max_total,
                                   guint                 max_per_peer);
void  lsp_upload_slots_busy       (LspUploadSlots       *self,
                                   gint64                now_us);
void  lsp_upload_slots_sent       (LspUploadSlots       *self,
                                   guint64               bytes,
                                   gint64                now_us);
void  lsp_upload_slots_idle       (LspUploadSlots       *self,
                                   gint64                now_us);
guint lsp_upload_slots_total      (const LspUploadSlots *self);
guint lsp_upload_slots_per_peer   (const LspUploadSlots *self);

G_END_DECLS
