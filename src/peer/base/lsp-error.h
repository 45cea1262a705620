/* lsp-error.h: the engine's error domain */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LSP_ERROR (lsp_error_quark ())

typedef enum {
  LSP_ERROR_INVALID_DATA,     /* a file or message is malformed */
  LSP_ERROR_INVALID_ARGUMENT, /* a caller passed something unusable */
  LSP_ERROR_NOT_FOUND,        /* a game or peer is not known */
  LSP_ERROR_BUSY,             /* another operation holds the game */
  LSP_ERROR_IO,               /* reading or writing a file failed */
} LspErrorCode;

GQuark   lsp_error_quark (void);

/* Sets a G_IO_ERROR from errno with the message "<format>: <strerror>";
 * returns FALSE so a failing path can end with `return lsp_error_set_errno (...)`. */
gboolean lsp_error_set_errno (GError     **error,
                              int          saved_errno,
                              const char  *format,
                              ...) G_GNUC_PRINTF (3, 4);
/* Sets LSP_ERROR_INVALID_DATA with the message before + <format> + after:
 * the body of the engine's "this file or message is malformed" errors. */
void     lsp_error_set_invalid_valist (GError     **error,
                                       const char  *before,
                                       const char  *after,
                                       const char  *format,
                                       va_list      args) G_GNUC_PRINTF (4, 0);

G_END_DECLS
