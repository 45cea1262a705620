/* lsp-fuzz.h: the libFuzzer entry points every target defines */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Called once per input; must not leak, must abort on a broken invariant. */
int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t         size);
