/* lsp-manifest.h: the file list and chunk hashes of one downloaded game */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "lsp-sha256.h"
#include "lsp-types.h"

G_BEGIN_DECLS

/* 4 MiB: big enough that a 50 GiB game needs 12,800 hashes (a manifest of
 * about 1 MiB of JSON), small enough that a chunk moves in a few
 * milliseconds on a LAN, so several peers can share one file. */
#define LSP_MANIFEST_CHUNK_SIZE   (4u * 1024 * 1024)
#define LSP_MANIFEST_FORMAT       1
#define LSP_MANIFEST_MAX_FILES    200000
#define LSP_MANIFEST_MAX_DEPTH    64
#define LSP_MANIFEST_MAX_FILE_SIZE (G_GUINT64_CONSTANT (1) << 42) /* 4 TiB */

typedef struct
{
  char    *path;       /* relative to the game root, '/'-separated */
  guint64  size;
  guint    n_chunks;
  guint8  *chunk_hashes; /* n_chunks × LSP_SHA256_LEN */
} LspManifestFile;

#define LSP_TYPE_MANIFEST (lsp_manifest_get_type ())
GType lsp_manifest_get_type (void) G_GNUC_CONST;

LspManifest           *lsp_manifest_build          (int            root_fd,
                                                    const char    *game_id,
                                                    const char    *version,
                                                    GCancellable  *cancellable,
                                                    GError       **error);
LspManifest           *lsp_manifest_new_from_json  (JsonNode      *node,
                                                    GError       **error);
JsonNode              *lsp_manifest_to_json        (LspManifest   *self);
LspManifest           *lsp_manifest_load_file      (const char    *path,
                                                    const char    *manifest_hash,
                                                    GError       **error);
char                  *lsp_manifest_cache_path     (const char    *games_path,
                                                    const char    *manifest_hash);
gboolean               lsp_manifest_matches_tree   (LspManifest   *self,
                                                    int            root_fd);
LspManifest           *lsp_manifest_ref            (LspManifest   *self);
void                   lsp_manifest_unref          (LspManifest   *self);

const char            *lsp_manifest_get_hash       (LspManifest   *self);
const char            *lsp_manifest_get_game_id    (LspManifest   *self);
const char            *lsp_manifest_get_version    (LspManifest   *self);
guint32                lsp_manifest_get_chunk_size (LspManifest   *self);
guint64                lsp_manifest_get_total_size (LspManifest   *self);
guint                  lsp_manifest_get_n_files    (LspManifest   *self);
const LspManifestFile *lsp_manifest_get_file       (LspManifest   *self,
                                                    guint          index);
const LspManifestFile *lsp_manifest_lookup_file    (LspManifest   *self,
                                                    const char    *path);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LspManifest, lsp_manifest_unref)

G_END_DECLS
