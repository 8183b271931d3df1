// glibc declarations the Glibc module does not import: the allocator's parameters (mallopt,
// <malloc.h>), a filesystem's type (statfs, <sys/statfs.h>) and the bounds of the executable's
// writable data.
#include <malloc.h>
#include <sys/statfs.h>

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

// The filesystem type (`f_type`, a magic number such as 0xEF53 for ext4) of the filesystem
// holding `path`; 0 when it cannot be told.
static inline unsigned long provenance_filesystem_type(const char *path) {
    struct statfs info;
    return statfs(path, &info) == 0 ? (unsigned long)info.f_type : 0;
}
