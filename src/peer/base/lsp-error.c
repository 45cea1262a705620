#define G_LOG_DOMAIN "lsp-error"

#include "config.h"

#include "lsp-error.h"

#include <gio/gio.h>

G_DEFINE_QUARK (lsp-error-quark, lsp_error)

gboolean
lsp_error_set_errno (GError     **error,
                     int          saved_errno,
                     const char  *format,
                     ...)
{
  g_autofree char *what = NULL;
  va_list args;

  if (error == NULL)
    return FALSE;
  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "%s: %s", what, g_strerror (saved_errno));
  return FALSE;
}

void
lsp_error_set_invalid_valist (GError     **error,
                              const char  *before,
                              const char  *after,
                              const char  *format,
                              va_list      args)
{
  g_autofree char *detail = NULL;

  if (error == NULL)
    return;
  detail = g_strdup_vprintf (format, args);
  g_set_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA, "%s%s%s", before, detail, after);
}
