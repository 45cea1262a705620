/* lsp-rate-limit.h: a token bucket, for upload and download rate limits */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  guint64 rate;     /* bytes per second; 0: no limit */
  double  tokens;
  gint64  time;
} LspRateLimit;

void     lsp_rate_limit_init (LspRateLimit *self,
                              guint64       bytes_per_second);
gboolean lsp_rate_limit_take (LspRateLimit *self,
                              guint64       bytes,
                              guint        *out_wait_ms);

G_END_DECLS
