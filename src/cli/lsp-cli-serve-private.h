/* lsp-cli-serve-private.h: what the files of `lanspread-peer serve` share */
#pragma once

#include <gio/gio.h>

#include "lsp-engine.h"

G_BEGIN_DECLS

typedef struct
{
  GMainLoop        *loop;
  LspEngine        *engine;
  /* The engine's, borrowed once it has started. */
  LspLibrary       *library;
  LspLauncher      *launcher;
  LspInstaller     *installer;
  LspNode          *node;
  LspDownloadManager *downloads;
  LspChunkServer   *chunk_server;
  guint             uploads_event_id;  /* an "uploads" event is due */
  GHashTable       *install_after;  /* ids to install once downloaded */
  GDataInputStream *input;
  GCancellable     *cancellable;
  GHashTable       *running;   /* ids of games being played */
  GHashTable       *peers;     /* peer_id → LspPeer we reported */
  guint             pending;   /* install/update/uninstall not yet finished */
  gboolean          quitting;
  gboolean          launcher_stopping;   /* games started here were told to stop */
  gboolean          stopping;            /* the engine is saying Goodbye */
  gboolean          reading;
  int               exit_code;
} Serve;

typedef gboolean (*CommandFunc) (Serve       *serve,
                                 const char  *arg,
                                 GError     **error);

typedef struct
{
  const char  *name;
  const char  *arg_name;   /* NULL: takes no argument */
  CommandFunc  func;
  const char  *summary;
} Command;

/* lsp-cli-serve.c */
gboolean lsp_cli_serve_quit               (Serve       *serve,
                                           const char  *arg,
                                           GError     **error);
void     lsp_cli_serve_maybe_finish_quit  (Serve       *serve);

/* lsp-cli-serve-commands.c */
void     lsp_cli_serve_run_command        (Serve       *serve,
                                           const char  *line);
void     lsp_cli_serve_start_operation    (Serve             *serve,
                                           LspOperationKind   kind,
                                           const char        *id);

/* lsp-cli-serve-events.c */
void     lsp_cli_serve_connect_events     (Serve       *serve);
void     lsp_cli_serve_disconnect_events  (Serve       *serve);

G_END_DECLS
