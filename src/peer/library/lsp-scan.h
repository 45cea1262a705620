/* lsp-scan.h: what one scan learns about one game root (worker-thread code) */
#pragma once

#include <gio/gio.h>

#include "lsp-manifest.h"
#include "lsp-types.h"

G_BEGIN_DECLS

/* Immutable once built, so the scan worker and the main thread can share
 * records by reference. */
struct _LspGameRecord
{
  char        *id;
  char        *fingerprint;   /* hex SHA-256 of the cheap root-level facts */
  gboolean     downloaded;
  gboolean     installed;
  char        *version;       /* NULL unless downloaded */
  guint64      size;          /* payload bytes; 0 unless downloaded */
  char        *manifest_hash; /* NULL unless downloaded and readable */
  char        *install_stamp; /* size and mtime of local/'s install record, or NULL */
  char        *installed_version; /* from local/'s install record, or NULL */
  char        *error;         /* why the game could not be hashed, or NULL */
  gboolean     damaged;       /* a verify found the payload no longer matches damaged_hash */
  char        *damaged_hash;  /* the manifest it must match again, while damaged */
};

typedef struct
{
  char       *manifest_dir;     /* where built manifests are cached, or NULL */
  GHashTable *verified;         /* game_id → LspManifest whose every chunk a download verified, or NULL */
} LspScanOptions;

/* The cheap facts about a game root, read without walking it. */
typedef struct
{
  char     *fingerprint;  /* hex SHA-256 of the root-level facts, or NULL */
  gboolean  downloaded;
  gboolean  installed;
  char     *install_stamp; /* size and mtime of local/'s install record, or NULL */
  char     *damaged_hash;    /* the manifest a verify found the payload no longer matches, or NULL */
  char     *damaged_version; /* and its version */
  char     *error;        /* why the root could not be read, or NULL */
} LspGameProbe;

LspGameRecord *lsp_game_record_new          (const char           *id);
LspGameRecord *lsp_game_record_ref          (LspGameRecord        *record);
void           lsp_game_record_unref        (LspGameRecord        *record);
gboolean       lsp_game_record_same_summary (const LspGameRecord  *a,
                                             const LspGameRecord  *b);
gboolean       lsp_game_record_equal        (const LspGameRecord  *a,
                                             const LspGameRecord  *b);

gboolean       lsp_scan_probe_game          (int                   games_fd,
                                             const char           *game_id,
                                             gboolean              recover_transients,
                                             LspGameProbe         *probe,
                                             GError              **error);
void           lsp_game_probe_clear         (LspGameProbe         *probe);
LspGameRecord *lsp_scan_game                (int                   games_fd,
                                             const char           *game_id,
                                             const LspGameProbe   *probe,
                                             const LspGameRecord  *cached,
                                             const LspScanOptions *options,
                                             gboolean             *out_hashed,
                                             GCancellable         *cancellable,
                                             GError              **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LspGameRecord, lsp_game_record_unref)

G_END_DECLS
