// The libgit2 headers, plus non-variadic wrappers for what Swift cannot call.
//
// `git_libgit2_opts` is variadic: Swift does not import variadic C functions (and libgit2 has no
// `va_list` variant), so each option provenance sets has a static inline wrapper here.
#ifndef PROVENANCE_CLIBGIT2_SHIM_H
#define PROVENANCE_CLIBGIT2_SHIM_H

#include <git2.h>
#include <git2/sys/repository.h>

/// `git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, enabled)`: whether a repository must be owned
/// by the current user (git's safe.directory check). Returns 0 or a libgit2 error code.
static inline int provenance_git_set_owner_validation(int enabled) {
    return git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, enabled);
}

/// `git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, level, path)`: where configuration files of a level
/// (`GIT_CONFIG_LEVEL_SYSTEM`, `_XDG`, `_GLOBAL`, `_PROGRAMDATA`) are looked for; an empty path
/// means nowhere, NULL restores the default. Returns 0 or a libgit2 error code.
static inline int provenance_git_set_search_path(int level, const char *path) {
    return git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, level, path);
}

#endif
