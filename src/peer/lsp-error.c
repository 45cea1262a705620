#define G_LOG_DOMAIN "lsp-error"

#include "config.h"

#include "lsp-error.h"

G_DEFINE_QUARK (lsp-error-quark, lsp_error)
