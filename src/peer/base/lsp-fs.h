/* lsp-fs.h: small file-system helpers shared by the engine */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

gboolean lsp_fs_write_all     (int          fd,
                               const char  *data,
                               gsize        length);
gboolean lsp_fs_write_atomic (const char  *path,
                              const char  *data,
                              gsize        length,
                              GError     **error);
gboolean lsp_fs_write_replace (const char  *path,
                               const char  *data,
                               gsize        length,
                               GError     **error);
gboolean lsp_fs_remove_tree_at (int          dir_fd,
                                const char  *name,
                                GError     **error);
gboolean lsp_fs_mkdir_p        (const char  *path,
                                GError     **error);
gboolean lsp_fs_write_atomic_at (int          dir_fd,
                                 const char  *name,
                                 const char  *tmp_name,
                                 const char  *data,
                                 gsize        length,
                                 GError     **error);
char    *lsp_fs_read_small_at   (int          dir_fd,
                                 const char  *name,
                                 gsize        max_size,
                                 gsize       *out_length,
                                 GError     **error);

G_END_DECLS
