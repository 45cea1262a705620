/* lsp-library-private.h: the scan job LspLibrary hands to its worker */
#pragma once

#include <gio/gio.h>

#include "lsp-catalog.h"
#include "lsp-scan.h"

G_BEGIN_DECLS

/* Built on the main thread, filled in by the worker, applied back on the
 * main thread; the worker touches nothing of the LspLibrary itself. */
typedef struct
{
  /* input, owned by the job */
  char       *games_path;
  char       *index_path;
  LspScanOptions options;
  LspCatalog *catalog;
  GHashTable *old_records;   /* id → LspGameRecord */
  GHashTable *locked;        /* set of ids */
  GPtrArray  *only_ids;      /* NULL: scan the whole folder */
  gboolean    load_index;
  guint64     rev;

  /* output */
  GHashTable *new_records;
  char       *digest;
  guint       n_hashed;
  GPtrArray  *waiting_tasks;
} LspScanJob;

void        _lsp_scan_job_free         (LspScanJob    *job);

/* id → LspGameRecord, keyed by the record's own id. */
GHashTable *_lsp_library_records_new   (void);
GHashTable *_lsp_library_records_copy  (GHashTable    *records);

/* The GTaskThreadFunc of a scan; task_data is the LspScanJob. */
void        _lsp_library_scan_worker   (GTask         *task,
                                        gpointer       source_object,
                                        gpointer       task_data,
                                        GCancellable  *cancellable);

G_END_DECLS
