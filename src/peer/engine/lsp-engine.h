/* lsp-engine.h: the whole peer, started in one place for the app and the
 * headless peer */
#pragma once

#include <gio/gio.h>

#include "lsp-chunk-server.h"
#include "lsp-download-manager.h"
#include "lsp-installer.h"
#include "lsp-lan-library.h"
#include "lsp-launcher.h"
#include "lsp-library.h"
#include "lsp-node.h"

G_BEGIN_DECLS

#define LSP_ENGINE_ERROR (lsp_engine_error_quark ())

/* Which step of the start-up chain failed. */
typedef enum {
  LSP_ENGINE_ERROR_CATALOG,       /* the catalog cannot be read: nothing starts */
  LSP_ENGINE_ERROR_GAMES_FOLDER,  /* the games folder cannot be read: nothing starts */
  LSP_ENGINE_ERROR_NETWORK,       /* the library works, but we are not on the LAN */
} LspEngineErrorCode;

typedef struct
{
  GFile              *games_dir;
  GFile              *catalog_file;   /* NULL: catalog.json in the games folder */
  const char         *state_dir;      /* NULL: lanspread in the user state folder */
  const char         *hostname;       /* NULL: this machine's host name */
  guint16             port;           /* 0: any free port */
  const char         *listen_address; /* an IP address to listen on alone; NULL: every address */
  const char * const *static_peers;   /* "HOST:PORT", dialled as well as discovered ones */
  gboolean            use_mdns;
  guint               stale_seconds;  /* 0: the protocol's default */
  guint               upload_slots;   /* chunk streams served at once; 0: the default */
  guint               upload_slots_per_peer;
  guint64             upload_rate;    /* bytes per second; 0: no limit */
  guint               max_downloads;  /* running at once; 0: the default */
  guint               wait_seconds;   /* a download without sources gives up after; 0: the default */
  guint64             download_rate;  /* bytes per second of all downloads; 0: no limit */
  const char         *passphrase;     /* the party's passphrase; NULL: none, or */
  const char         *passphrase_file; /* read at start; a file that does not exist: none */
  gboolean            no_swarm;       /* serve and fetch complete copies only (PROTOCOL.md, "Swarm") */
} LspEngineConfig;

#define LSP_TYPE_ENGINE (lsp_engine_get_type ())
G_DECLARE_FINAL_TYPE (LspEngine, lsp_engine, LSP, ENGINE, GObject)

GQuark         lsp_engine_error_quark     (void);

LspEngine     *lsp_engine_new             (const LspEngineConfig *config);
void           lsp_engine_start_async     (LspEngine             *self,
                                           GCancellable          *cancellable,
                                           GAsyncReadyCallback    callback,
                                           gpointer               user_data);
gboolean       lsp_engine_start_finish    (LspEngine             *self,
                                           GAsyncResult          *result,
                                           GError               **error);
void           lsp_engine_stop_async      (LspEngine             *self,
                                           const char            *reason,
                                           GAsyncReadyCallback    callback,
                                           gpointer               user_data);
gboolean       lsp_engine_stop_finish     (LspEngine             *self,
                                           GAsyncResult          *result,
                                           GError               **error);

void           lsp_engine_repair_async    (LspEngine             *self,
                                           const char            *game_id,
                                           GCancellable          *cancellable,
                                           GAsyncReadyCallback    callback,
                                           gpointer               user_data);
LspVerifyReport *lsp_engine_repair_finish (LspEngine             *self,
                                           GAsyncResult          *result,
                                           guint                 *out_chunks,
                                           guint64               *out_bytes_received,
                                           GError               **error);

GFile         *lsp_engine_get_games_dir   (LspEngine             *self);
LspLibrary    *lsp_engine_get_library     (LspEngine             *self);
LspInstaller  *lsp_engine_get_installer   (LspEngine             *self);
LspLauncher   *lsp_engine_get_launcher    (LspEngine             *self);
LspNode       *lsp_engine_get_node        (LspEngine             *self);
LspLanLibrary *lsp_engine_get_lan_library (LspEngine             *self);
LspDownloadManager *lsp_engine_get_downloads (LspEngine          *self);
LspChunkServer *lsp_engine_get_chunk_server (LspEngine           *self);

G_END_DECLS
