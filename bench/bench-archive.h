/* bench-archive.h: the generated game archive the install benchmarks share */
#pragma once

#include <glib.h>

#define BENCH_ARCHIVE_POOL_SIZE (8 * 1024 * 1024)

guint bench_generate_archive (const char *path,
                              const char *prefix,
                              guint64     total);
