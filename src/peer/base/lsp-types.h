/* lsp-types.h: forward declarations shared by the engine's headers */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef struct _LspCatalog      LspCatalog;
typedef struct _LspCatalogEntry LspCatalogEntry;
typedef struct _LspManifest     LspManifest;
typedef struct _LspLibrary      LspLibrary;
typedef struct _LspLocalGame    LspLocalGame;
typedef struct _LspGameRecord   LspGameRecord;
typedef struct _LspLauncher     LspLauncher;

G_END_DECLS
