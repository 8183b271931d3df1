#ifndef PROVENANCE_CLIBGIT2_LOADER_H
#define PROVENANCE_CLIBGIT2_LOADER_H

#include <stddef.h>

/// Loads libgit2 (`dlopen` of libgit2.so.SOVERSION, the version of the headers provenance was
/// built with) and resolves every libgit2 function provenance calls. Returns 0, or -1 with the
/// reason in `error`. Call once, before any other libgit2 function.
int provenance_git_load(char *error, size_t size);

/// `git_libgit2_init`, without the parse of the system CA bundle (see loader.c). Returns its result.
int provenance_git_init(void);

/// The filesystem type of `path` (`statfs`'s `f_type`, e.g. 0xEF53 for ext4), or 0 when it cannot
/// be read: the git probe's state cache trusts file times only on local filesystems. (Swift's
/// Glibc module does not export <sys/vfs.h>.)
unsigned long provenance_filesystem_type(const char *path);

#endif
