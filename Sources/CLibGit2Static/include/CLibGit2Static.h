#ifndef PROVENANCE_CLIBGIT2_STATIC_H
#define PROVENANCE_CLIBGIT2_STATIC_H

/// `git_libgit2_init`, without the parse of the system CA bundle (see start.c). Returns its result.
int provenance_git_init(void);

#endif
