/* lsp-install-record.h: the ownership marker of an installed game, which
 * doubles as its install record (worker-thread code) */
#pragma once

#include <gio/gio.h>

#include "lsp-sha256.h"

G_BEGIN_DECLS

#define LSP_OWNED_TMP_FILE ".lanspread_owned.tmp"

/* What an install wrote for one file or symbolic link; an update compares
 * it with what is on disk to tell shipped files from the player's, and a
 * verify its content with the hash taken while it was extracted. */
typedef struct
{
  guint64  size;     /* a link's: the length of its target */
  gint64   mtime;
  gboolean is_link;
  gboolean has_hash; /* FALSE in records written before hashes were kept */
  guint8   sha256[LSP_SHA256_LEN];  /* a file's content */
} LspInstalledFile;

gboolean    lsp_install_record_present (int           root_fd,
                                        const char   *dir_name);
GHashTable *lsp_install_record_read    (int           dir_fd,
                                        char        **out_version);
gboolean    lsp_install_record_write   (int           dir_fd,
                                        const char   *version,
                                        GHashTable   *files,
                                        GError      **error);

G_END_DECLS
