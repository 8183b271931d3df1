// glibc's allocator parameters (mallopt), which the Glibc module does not import.
#include <malloc.h>

// Where the executable's writable data begins (glibc's start files define `__data_start` at
// the start of .data) and where its .bss ends (`_end`, from the linker): the range
// `populateWritableData` maps.
static inline void *provenance_data_start(void) {
    extern char __data_start[];
    return __data_start;
}

static inline void *provenance_data_end(void) {
    extern char _end[];
    return _end;
}
