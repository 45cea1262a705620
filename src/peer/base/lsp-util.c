#define G_LOG_DOMAIN "lsp-util"

#include "config.h"

#include "lsp-util.h"

#include <string.h>

int
lsp_strcmp_ptr (gconstpointer a,
                gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}
