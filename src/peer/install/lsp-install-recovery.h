/* lsp-install-recovery.h: startup recovery of interrupted install, update
 * and uninstall transactions */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

gboolean lsp_install_recover_game                 (int                  games_fd,
                                                   const char          *game_id,
                                                   GError             **error);
gboolean lsp_install_recover_games_folder         (const char          *games_path,
                                                   GCancellable        *cancellable,
                                                   GError             **error);
void     lsp_install_recover_games_folder_async   (GFile               *games_dir,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
gboolean lsp_install_recover_games_folder_finish  (GAsyncResult        *result,
                                                   GError             **error);

G_END_DECLS
