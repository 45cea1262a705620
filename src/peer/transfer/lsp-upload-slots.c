#define G_LOG_DOMAIN "lsp-upload-slots"

#include "config.h"

#include "lsp-upload-slots.h"

#include "lsp-manifest.h"

/* Every chunk served at once shares the uplink with the others, so each
 * one takes that many times longer to arrive. In a swarm that is what
 * matters: a chunk can be passed on only once it has arrived whole, so
 * the seeder's uplink should carry few chunks, each fast, not many at a
 * crawl. Slots follow the measured rate: enough to hold this much of the
 * uplink's output, and one more, being read while the others go out. */
#define SLOT_SECONDS 0.1
#define WINDOW_US    (250 * G_TIME_SPAN_MILLISECOND)

void
lsp_upload_slots_init (LspUploadSlots *self,
                       guint           max_total,
                       guint           max_per_peer)
{
  *self = (LspUploadSlots) { .max_total = max_total, .max_per_peer = max_per_peer };
}

/* New settings; what was measured stays. */
void
lsp_upload_slots_set_limits (LspUploadSlots *self,
                             guint           max_total,
                             guint           max_per_peer)
{
  self->max_total = max_total;
  self->max_per_peer = max_per_peer;
}

static void
count_busy (LspUploadSlots *self,
            gint64          now_us)
{
  if (self->busy_since != 0)
    {
      self->window_busy += MAX (now_us - self->busy_since, 0);
      self->busy_since = now_us;
    }
}

/* Serving starts: the first slot was taken. Only time spent serving
 * counts, so an idle uplink is not taken for a slow one. */
void
lsp_upload_slots_busy (LspUploadSlots *self,
                       gint64          now_us)
{
  if (self->busy_since == 0)
    self->busy_since = MAX (now_us, 1);
}

/* Records an answer of bytes handed to the transport. A measurement
 * spans at least a quarter of a second of serving, so one chunk's
 * arrival is never taken for a rate. */
void
lsp_upload_slots_sent (LspUploadSlots *self,
                       guint64         bytes,
                       gint64          now_us)
{
  double measured;

  count_busy (self, now_us);
  self->window_bytes += bytes;
  if (self->window_busy < WINDOW_US)
    return;
  measured = self->window_bytes * (double) G_USEC_PER_SEC / (double) self->window_busy;
  self->rate = self->rate > 0 ? 0.5 * self->rate + 0.5 * measured : measured;
  self->window_bytes = 0;
  self->window_busy = 0;
}

/* Serving stops: the last slot was freed. */
void
lsp_upload_slots_idle (LspUploadSlots *self,
                       gint64          now_us)
{
  count_busy (self, now_us);
  self->busy_since = 0;
}

/* Before a measurement: the settings, so a first transfer is not held
 * back by a guess. */
guint
lsp_upload_slots_total (const LspUploadSlots *self)
{
  guint wanted;

  if (self->rate <= 0)
    return self->max_total;
  wanted = (guint) MIN (self->rate * SLOT_SECONDS / LSP_MANIFEST_CHUNK_SIZE, (double) G_MAXUINT16) + 2;
  return CLAMP (wanted, MIN (LSP_UPLOAD_SLOTS_MIN, self->max_total), self->max_total);
}

/* Half the slots, and at least two, so the next chunk for a peer is read
 * while its last one is still going out. */
guint
lsp_upload_slots_per_peer (const LspUploadSlots *self)
{
  guint per_peer = MAX (lsp_upload_slots_total (self) / 2, LSP_UPLOAD_SLOTS_MIN);

  return MIN (per_peer, self->max_per_peer);
}
