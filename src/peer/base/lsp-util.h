/* lsp-util.h: small helpers shared by the engine that fit nowhere else */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A GCompareFunc for arrays of char * (g_ptr_array_sort, qsort): byte
 * order, so sorted lists hash and compare the same on every peer. */
int lsp_strcmp_ptr (gconstpointer a,
                    gconstpointer b);

char *lsp_escape_untrusted (const char *text,
                            gssize      length);

G_END_DECLS
