#ifndef PROVENANCE_CLIBGIT2_STATIC_H
#define PROVENANCE_CLIBGIT2_STATIC_H

/// `git_libgit2_init`, without the parse of the system CA bundle (see start.c). Returns its result.
int provenance_git_init(void);

/// The filesystem type of `path` (`statfs`'s `f_type`, e.g. 0xEF53 for ext4), or 0 when it cannot
/// be read: the git probe's state cache trusts file times only on local filesystems. (Swift's
/// Glibc module does not export <sys/vfs.h>.)
unsigned long provenance_filesystem_type(const char *path);

#endif
