/* lsp-test-util.h: temp games folders and main-loop helpers for the tests */
#pragma once

#include "lsp-library.h"

G_BEGIN_DECLS

/* One entry of an archive built by lsp_test_write_archive(). */
typedef struct
{
  const char *path;
  char        type;   /* 'f' file, 'd' folder, 'l' symlink, 'h' hard link, 'c' char device, 'p' FIFO */
  const char *data;   /* file contents, or the link target */
  guint       mode;   /* permission bits; 0 for the usual ones */
} LspTestEntry;

#define LSP_TEST_MTIME 1700000000

char       *lsp_test_make_temp_dir     (void);
void        lsp_test_remove_tree       (const char *path);
void        lsp_test_write_file        (const char *path,
                                        const char *contents,
                                        gssize      length);
void        lsp_test_write_random_file (const char *path,
                                        gsize       size,
                                        guint32     seed);
gboolean    lsp_test_dir_is_empty      (const char *path);
guint       lsp_test_serve_notifications (void);
void        lsp_test_make_game         (const char *games_dir,
                                        const char *game_id,
                                        const char *version,
                                        gsize       archive_size);
void        lsp_test_write_catalog     (const char *path,
                                        const char * const *game_ids);
LspCatalog *lsp_test_catalog_new       (const char * const *game_ids);
void        lsp_test_load_library      (LspLibrary *library);
void        lsp_test_wait_scans        (LspLibrary *library,
                                        guint       n_scans);
void        lsp_test_wait_idle         (LspLibrary *library);
void        lsp_test_run_for           (guint       milliseconds);
gboolean    lsp_test_wait_until        (gboolean  (*predicate) (gpointer data),
                                        gpointer    data,
                                        guint       timeout_ms);

gboolean    lsp_test_archive_format_supported (const char *format);
void        lsp_test_write_archive     (const char          *path,
                                        const char          *format,
                                        const LspTestEntry  *entries,
                                        guint                n_entries);
char       *lsp_test_read_file         (const char *path);
void        lsp_test_launcher_set_german (GSubprocessLauncher *launcher);

G_END_DECLS
