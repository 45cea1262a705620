/* lsp-archive.h: safe extraction of game archives (worker-thread code) */
#pragma once

#include <gio/gio.h>

#include "lsp-install-record.h"

G_BEGIN_DECLS

typedef struct _LspExtractor LspExtractor;

/* Limits against archives made to exhaust the disk or the inode table
 * (zip bombs). Real games have thousands, at most a few hundred thousand,
 * files. */
#define LSP_ARCHIVE_MAX_ENTRIES        250000u   /* in one archive */
#define LSP_EXTRACT_MAX_ENTRIES        1000000u  /* in all the archives of one game */
/* How often extraction looks at the disk again, and how much it leaves
 * free when the archives do not say how much they expand to. */
#define LSP_EXTRACT_SPACE_CHECK_BYTES  (G_GUINT64_CONSTANT (128) * 1024 * 1024)
#define LSP_EXTRACT_MIN_FREE_BYTES     (G_GUINT64_CONSTANT (256) * 1024 * 1024)

/* Called from the worker thread after every entry and every few MiB. */
typedef void (*LspExtractProgressFunc) (guint64  bytes,
                                        guint64  entries,
                                        gpointer user_data);

gboolean      lsp_archive_measure              (const char              *archive_path,
                                                guint64                 *out_size,
                                                gboolean                *out_exact,
                                                GError                 **error);

gboolean      lsp_archive_list_files           (const char              *archive_path,
                                                GHashTable              *paths,
                                                GCancellable            *cancellable,
                                                GError                 **error);

LspExtractor *lsp_extractor_new                (const char              *target_path,
                                                GError                 **error);
void          lsp_extractor_set_progress_func  (LspExtractor            *self,
                                                LspExtractProgressFunc   func,
                                                gpointer                 user_data);
void          lsp_extractor_set_only           (LspExtractor            *self,
                                                GHashTable              *paths);
void          lsp_extractor_set_expected_size  (LspExtractor            *self,
                                                guint64                  bytes);
void          lsp_extractor_set_entry_limits   (LspExtractor            *self,
                                                guint                    per_archive,
                                                guint                    in_all);
void          lsp_extractor_set_space_check    (LspExtractor            *self,
                                                guint64                  every_bytes,
                                                guint64                  min_free_bytes);
gboolean      lsp_extractor_add_archive        (LspExtractor            *self,
                                                const char              *archive_path,
                                                GCancellable            *cancellable,
                                                GError                 **error);
gboolean      lsp_extractor_finish             (LspExtractor            *self,
                                                GError                 **error);
GHashTable   *lsp_extractor_get_files          (LspExtractor            *self);
guint64       lsp_extractor_get_bytes          (LspExtractor            *self);
guint64       lsp_extractor_get_entries        (LspExtractor            *self);
void          lsp_extractor_free               (LspExtractor            *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LspExtractor, lsp_extractor_free)

G_END_DECLS
