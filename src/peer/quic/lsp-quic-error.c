#define G_LOG_DOMAIN "lsp-quic"

#include "config.h"

#include "lsp-quic-error.h"

G_DEFINE_QUARK (lsp-quic-error-quark, lsp_quic_error)
