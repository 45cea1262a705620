#define G_LOG_DOMAIN "lsp-install"

#include "config.h"

#include "lsp-install-private.h"

#include "lsp-operation-private.h"

/* Ten updates a second keep a progress bar moving smoothly; an archive of
 * small files would otherwise wake the main loop once per entry. */
#define DELIVERY_INTERVAL_USEC (G_USEC_PER_SEC / 10)

struct _LspInstallProgress
{
  LspOperation *operation;  /* touched on the main context only */
  GMainContext *context;

  GMutex        mutex;      /* guards the rest, shared with the worker */
  guint64       bytes_done;
  guint64       bytes_total;
  guint64       entries_done;
  GSource      *pending;    /* the delivery scheduled, or NULL */
  gint64        last_delivery;
};

LspInstallProgress *
_lsp_install_progress_new (LspOperation *operation)
{
  LspInstallProgress *progress = g_atomic_rc_box_new0 (LspInstallProgress);

  progress->operation = g_object_ref (operation);
  progress->context = g_main_context_ref_thread_default ();
  g_mutex_init (&progress->mutex);
  return progress;
}

LspInstallProgress *
_lsp_install_progress_ref (LspInstallProgress *progress)
{
  return g_atomic_rc_box_acquire (progress);
}

static void
progress_clear (LspInstallProgress *progress)
{
  g_clear_object (&progress->operation);
  g_main_context_unref (progress->context);
  g_mutex_clear (&progress->mutex);
}

void
_lsp_install_progress_unref (LspInstallProgress *progress)
{
  g_atomic_rc_box_release_full (progress, (GDestroyNotify) progress_clear);
}

static gboolean
deliver (gpointer user_data)
{
  LspInstallProgress *progress = user_data;
  guint64 done, total, entries;

  g_mutex_lock (&progress->mutex);
  g_clear_pointer (&progress->pending, g_source_unref);
  progress->last_delivery = g_get_monotonic_time ();
  done = progress->bytes_done;
  total = progress->bytes_total;
  entries = progress->entries_done;
  g_mutex_unlock (&progress->mutex);

  _lsp_operation_set_progress (progress->operation, done, total, entries);
  return G_SOURCE_REMOVE;
}

/* At most one delivery is pending: what the worker reports meanwhile is
 * picked up by it, and it comes no sooner than DELIVERY_INTERVAL_USEC
 * after the last one. */
static void
schedule_delivery_locked (LspInstallProgress *progress)
{
  gint64 due = progress->last_delivery + DELIVERY_INTERVAL_USEC;
  gint64 now = g_get_monotonic_time ();

  if (progress->pending != NULL)
    return;

  progress->pending = g_timeout_source_new (due > now ? (guint) ((due - now + 999) / 1000) : 0);
  g_source_set_static_name (progress->pending, "[lanspread] install progress");
  g_source_set_callback (progress->pending, deliver, _lsp_install_progress_ref (progress),
                         (GDestroyNotify) _lsp_install_progress_unref);
  g_source_attach (progress->pending, progress->context);
}

void
_lsp_install_progress_set_total (LspInstallProgress *progress,
                                 guint64             bytes_total)
{
  g_mutex_lock (&progress->mutex);
  if (progress->bytes_total != bytes_total)
    {
      progress->bytes_total = bytes_total;
      schedule_delivery_locked (progress);
    }
  g_mutex_unlock (&progress->mutex);
}

void
_lsp_install_progress_set_done (LspInstallProgress *progress,
                                guint64             bytes_done,
                                guint64             entries_done)
{
  g_mutex_lock (&progress->mutex);
  if (progress->bytes_done != bytes_done || progress->entries_done != entries_done)
    {
      progress->bytes_done = bytes_done;
      progress->entries_done = entries_done;
      schedule_delivery_locked (progress);
    }
  g_mutex_unlock (&progress->mutex);
}

/* The worker is done: its last report reaches the operation now, before
 * it is marked finished, instead of whenever the pending delivery is due. */
void
_lsp_install_progress_flush (LspInstallProgress *progress)
{
  g_autoptr(GSource) pending = NULL;
  guint64 done, total, entries;

  g_mutex_lock (&progress->mutex);
  pending = g_steal_pointer (&progress->pending);
  done = progress->bytes_done;
  total = progress->bytes_total;
  entries = progress->entries_done;
  g_mutex_unlock (&progress->mutex);

  if (pending != NULL)
    g_source_destroy (pending);
  _lsp_operation_set_progress (progress->operation, done, total, entries);
}
