#define G_LOG_DOMAIN "lsp-quic"

#include "config.h"

#include "lsp-quic-private.h"

static gboolean
timer_dispatch (GSource     *source,
                GSourceFunc  callback,
                gpointer     user_data)
{
  return callback (user_data);
}

static GSourceFuncs timer_funcs = {
  .dispatch = timer_dispatch,
};

/* A source that fires only at the ready time it is given, attached to
 * @context: the transport's timers, rescheduled instead of re-created. */
GSource *
lsp_quic_timer_source_new (const char   *name,
                           GSourceFunc   callback,
                           gpointer      user_data,
                           GMainContext *context)
{
  GSource *source = g_source_new (&timer_funcs, sizeof (GSource));

  g_source_set_callback (source, callback, user_data, NULL);
  g_source_set_name (source, name);
  g_source_attach (source, context);
  return source;
}
