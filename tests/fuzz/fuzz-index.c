/* The scan index .lanspread/index.json, which anything may have written:
 * it loads or is refused, never more. */
#include "config.h"

#include "lsp-fuzz.h"

#include "lsp-library-index.h"

#include <sys/mman.h>
#include <unistd.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GHashTable) records = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  guint64 rev = 0;
  int fd = memfd_create ("index.json", MFD_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, data, size), ==, (gssize) size);
  path = g_strdup_printf ("/proc/self/fd/%d", fd);
  records = lsp_library_index_load (path, &rev, &error);
  g_assert_true ((records == NULL) != (error == NULL));
  close (fd);
  return 0;
}
