/* lsp-game-root.h: names and rules of one game's folder on disk */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The downloaded sentinel; its content is the game version. */
#define LSP_VERSION_FILE            "version.ini"
#define LSP_VERSION_TMP_FILE        ".version.ini.tmp"
#define LSP_VERSION_DISCARDED_FILE  ".version.ini.discarded"
/* The installed game: user-owned, never served, hashed or deleted by a download. */
#define LSP_LOCAL_DIR               "local"
#define LSP_LOCAL_INSTALLING_DIR    ".local.installing"
#define LSP_LOCAL_BACKUP_DIR        ".local.backup"
#define LSP_OWNED_MARKER            ".lanspread_owned"
#define LSP_INTENT_FILE             ".lanspread.json"
#define LSP_INTENT_TMP_FILE         ".lanspread.json.tmp"
#define LSP_SOFTLAN_MARKER          ".softlan_game_installed"
#define LSP_SYNC_DIR                ".sync"
/* A download in progress: which chunks of which manifest are verified. */
#define LSP_DOWNLOAD_STATE_FILE     ".lanspread-download"
#define LSP_DOWNLOAD_STATE_TMP_FILE ".lanspread-download.tmp"
#define LSP_UPDATE_STAGING_DIR      ".lanspread-update"
#define LSP_ARCHIVE_SUFFIX          ".eti"
/* Library state inside the games folder, not a game. */
#define LSP_STATE_DIR               ".lanspread"

#define LSP_GAME_ID_MAX_LEN   64
#define LSP_VERSION_MAX_LEN   64
#define LSP_REL_PATH_MAX_LEN  4096

gboolean  lsp_game_id_is_valid          (const char *game_id);
gboolean  lsp_relative_path_is_safe     (const char *path);
gboolean  lsp_game_child_is_reserved    (const char *name);
gboolean  lsp_version_is_valid          (const char *version);
int       lsp_version_compare           (const char *a,
                                         const char *b);
char     *lsp_game_root_read_version    (int          root_fd,
                                         GError     **error);

G_END_DECLS
