/* lsp-download-storage.h: a download's files on disk: the game root, its
 * payload, the version.ini transaction, the resume state and the discard
 * sweep (worker-thread code: everything here blocks) */
#pragma once

#include <gio/gio.h>

#include "lsp-manifest.h"

G_BEGIN_DECLS

/* The verified chunks of one manifest, persisted so a download resumes
 * after a crash. Chunks are numbered across files in manifest order. */
typedef struct
{
  char   *manifest_hash;
  guint   n_chunks;
  guint8 *verified;      /* n_chunks bits */
} LspDownloadState;

LspDownloadState *lsp_download_state_new          (const char        *manifest_hash,
                                                   guint              n_chunks);
void              lsp_download_state_free         (LspDownloadState  *state);
gboolean          lsp_download_state_get          (const LspDownloadState *state,
                                                   guint              chunk);
void              lsp_download_state_set          (LspDownloadState  *state,
                                                   guint              chunk);
LspDownloadState *lsp_download_state_copy         (const LspDownloadState *state);

int          lsp_download_storage_open_root       (const char        *games_path,
                                                   const char        *game_id,
                                                   gboolean           create,
                                                   GError           **error);
gboolean     lsp_download_storage_check_space     (const char        *games_path,
                                                   guint64            needed,
                                                   GError           **error);
gboolean     lsp_download_storage_prepare         (int                root_fd,
                                                   LspManifest       *manifest,
                                                   GCancellable      *cancellable,
                                                   GError           **error);
gboolean     lsp_download_storage_prepare_file    (int                dir_fd,
                                                   const LspManifestFile *file,
                                                   GError           **error);
int          lsp_download_storage_open_payload    (const char        *games_path,
                                                   const char        *game_id,
                                                   gboolean           staged,
                                                   GError           **error);
gboolean     lsp_download_storage_move_staged     (int                staging_fd,
                                                   int                root_fd,
                                                   const char        *path,
                                                   GError           **error);
int          lsp_download_storage_open_file       (int                root_fd,
                                                   const char        *path,
                                                   int                flags,
                                                   GError           **error);

gboolean     lsp_download_storage_write_chunk     (int                root_fd,
                                                   const char        *path,
                                                   guint64            offset,
                                                   const guint8      *data,
                                                   gsize              length,
                                                   GError           **error);

gboolean     lsp_download_storage_begin_version   (int                root_fd,
                                                   GError           **error);
gboolean     lsp_download_storage_commit_version  (int                root_fd,
                                                   const char        *version,
                                                   GError           **error);
void         lsp_download_storage_rollback_version (int               root_fd);

gboolean          lsp_download_storage_write_state (int                     root_fd,
                                                    const LspDownloadState *state,
                                                    GError                **error);
LspDownloadState *lsp_download_storage_read_state  (int                     root_fd,
                                                    GError                **error);
void              lsp_download_storage_remove_state (int                    root_fd);

gboolean     lsp_download_storage_discard         (const char        *games_path,
                                                   const char        *game_id,
                                                   GError           **error);
gboolean     lsp_download_storage_remove_game     (const char        *games_path,
                                                   const char        *game_id,
                                                   GError           **error);
void         lsp_download_storage_sweep_trash     (const char        *games_path);

LspManifest *lsp_manifest_cache_load              (const char        *games_path,
                                                   const char        *manifest_hash,
                                                   GError           **error);
char        *lsp_download_manifest_path           (const char        *games_path,
                                                   const char        *manifest_hash);
gboolean     lsp_download_manifest_store          (const char        *games_path,
                                                   LspManifest       *manifest,
                                                   GError           **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LspDownloadState, lsp_download_state_free)

G_END_DECLS
