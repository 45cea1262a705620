#define G_LOG_DOMAIN "lsp-rate-limit"

#include "config.h"

#include "lsp-rate-limit.h"

#include "lsp-manifest.h"

void
lsp_rate_limit_init (LspRateLimit *self,
                     guint64       bytes_per_second)
{
  self->rate = bytes_per_second;
  self->tokens = 0;
  self->time = g_get_monotonic_time ();
}

/* Takes bytes when the bucket holds them and returns TRUE; otherwise
 * returns FALSE and how long until it will. The bucket holds one second's
 * worth, and at least one chunk, so a slow limit still moves chunks. */
gboolean
lsp_rate_limit_take (LspRateLimit *self,
                     guint64       bytes,
                     guint        *out_wait_ms)
{
  gint64 now;

  if (self->rate == 0)
    return TRUE;
  now = g_get_monotonic_time ();
  self->tokens = MIN ((double) MAX (self->rate, LSP_MANIFEST_CHUNK_SIZE),
                      self->tokens + (now - self->time) * (double) self->rate / G_USEC_PER_SEC);
  self->time = now;
  if (self->tokens >= bytes)
    {
      self->tokens -= bytes;
      return TRUE;
    }
  *out_wait_ms = (guint) ((bytes - self->tokens) * 1000 / self->rate) + 1;
  return FALSE;
}
