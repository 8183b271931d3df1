// libgit2, loaded when first needed instead of when provenance starts.
//
// Linking libgit2 makes every start of provenance load it and the 16 libraries it needs (OpenSSL,
// Kerberos, libssh2, mbedTLS, PCRE2, ...): about 2-3 ms, a quarter of a capture, even where there is
// no repository. Instead, this file defines each libgit2 function provenance calls (same name,
// same prototype: the compiler checks them against <git2.h>) as a call through a pointer that
// provenance_git_load() fills with dlopen/dlsym. Swift calls libgit2 as if it were linked.
//
// To call another libgit2 function, add it to PROVENANCE_GIT_FUNCTIONS (F for functions returning
// a value, V for void ones) with its prototype and argument names copied from <git2.h>.

#include <dlfcn.h>
#include <stdio.h>
#include <sys/vfs.h>
#include <git2.h>
#include <git2/sys/repository.h>
#include "CLibGit2Loader.h"

#define PROVENANCE_GIT_FUNCTIONS(F, V) \
    V(git_config_free, (git_config *cfg), (cfg)) \
    F(int, git_config_get_string, (const char **out, const git_config *cfg, const char *name), (out, cfg, name)) \
    F(int, git_describe_commit, (git_describe_result **result, git_object *committish, git_describe_options *opts), (result, committish, opts)) \
    F(int, git_diff_index_to_workdir, (git_diff **diff, git_repository *repo, git_index *index, const git_diff_options *opts), (diff, repo, index, opts)) \
    F(int, git_diff_merge, (git_diff *onto, const git_diff *from), (onto, from)) \
    F(int, git_diff_tree_to_index, (git_diff **diff, git_repository *repo, git_tree *old_tree, git_index *index, const git_diff_options *opts), (diff, repo, old_tree, index, opts)) \
    F(size_t, git_index_entrycount, (const git_index *index), (index)) \
    V(git_index_free, (git_index *index), (index)) \
    F(const git_index_entry *, git_index_get_byindex, (git_index *index, size_t n), (index, n)) \
    F(int, git_repository_index, (git_index **out, git_repository *repo), (out, repo)) \
    F(int, git_revparse_single, (git_object **out, git_repository *repo, const char *spec), (out, repo, spec)) \
    F(int, git_branch_upstream, (git_reference **out, const git_reference *branch), (out, branch)) \
    V(git_buf_dispose, (git_buf *buffer), (buffer)) \
    F(int, git_describe_format, (git_buf *out, const git_describe_result *result, const git_describe_format_options *opts), (out, result, opts)) \
    F(int, git_describe_format_options_init, (git_describe_format_options *opts, unsigned int version), (opts, version)) \
    F(int, git_describe_options_init, (git_describe_options *opts, unsigned int version), (opts, version)) \
    V(git_describe_result_free, (git_describe_result *result), (result)) \
    V(git_diff_free, (git_diff *diff), (diff)) \
    F(const git_diff_delta *, git_diff_get_delta, (const git_diff *diff, size_t idx), (diff, idx)) \
    F(size_t, git_diff_num_deltas, (const git_diff *diff), (diff)) \
    F(int, git_diff_options_init, (git_diff_options *opts, unsigned int version), (opts, version)) \
    F(const git_error *, git_error_last, (void), ()) \
    F(int, git_ignore_add_rule, (git_repository *repo, const char *rules), (repo, rules)) \
    F(int, git_ignore_path_is_ignored, (int *ignored, git_repository *repo, const char *path), (ignored, repo, path)) \
    F(int, git_patch_from_diff, (git_patch **out, git_diff *diff, size_t idx), (out, diff, idx)) \
    V(git_patch_free, (git_patch *patch), (patch)) \
    F(int, git_patch_print, (git_patch *patch, git_diff_line_cb print_cb, void *payload), (patch, print_cb, payload)) \
    F(int, git_graph_ahead_behind, (size_t *ahead, size_t *behind, git_repository *repo, const git_oid *local, const git_oid *upstream), (ahead, behind, repo, local, upstream)) \
    F(int, git_libgit2_init, (void), ()) \
    V(git_object_free, (git_object *object), (object)) \
    F(const git_oid *, git_object_id, (const git_object *obj), (obj)) \
    F(int, git_object_lookup, (git_object **object, git_repository *repo, const git_oid *id, git_object_t type), (object, repo, id, type)) \
    F(int, git_object_peel, (git_object **peeled, const git_object *object, git_object_t target_type), (peeled, object, target_type)) \
    F(int, git_odb_hash, (git_oid *out, const void *data, size_t len, git_object_t type), (out, data, len, type)) \
    F(int, git_oid_fmt, (char *out, const git_oid *id), (out, id)) \
    V(git_reference_free, (git_reference *ref), (ref)) \
    F(int, git_reference_is_branch, (const git_reference *ref), (ref)) \
    V(git_reference_iterator_free, (git_reference_iterator *iter), (iter)) \
    F(int, git_reference_iterator_glob_new, (git_reference_iterator **out, git_repository *repo, const char *glob), (out, repo, glob)) \
    F(int, git_reference_lookup, (git_reference **out, git_repository *repo, const char *name), (out, repo, name)) \
    F(const char *, git_reference_name, (const git_reference *ref), (ref)) \
    F(int, git_reference_next, (git_reference **out, git_reference_iterator *iter), (out, iter)) \
    F(git_repository *, git_reference_owner, (const git_reference *ref), (ref)) \
    F(int, git_reference_peel, (git_object **out, const git_reference *ref, git_object_t type), (out, ref, type)) \
    F(int, git_reference_resolve, (git_reference **out, const git_reference *ref), (out, ref)) \
    F(const char *, git_reference_shorthand, (const git_reference *ref), (ref)) \
    F(const char *, git_reference_symbolic_target, (const git_reference *ref), (ref)) \
    F(const git_oid *, git_reference_target, (const git_reference *ref), (ref)) \
    V(git_remote_free, (git_remote *remote), (remote)) \
    F(int, git_remote_list, (git_strarray *out, git_repository *repo), (out, repo)) \
    F(int, git_remote_lookup, (git_remote **out, git_repository *repo, const char *name), (out, repo, name)) \
    F(const char *, git_remote_url, (const git_remote *remote), (remote)) \
    V(git_repository_free, (git_repository *repo), (repo)) \
    F(int, git_repository_config_snapshot, (git_config **out, git_repository *repo), (out, repo)) \
    F(int, git_repository_hashfile, (git_oid *out, git_repository *repo, const char *path, git_object_t type, const char *as_path), (out, repo, path, type, as_path)) \
    F(int, git_repository_head, (git_reference **out, git_repository *repo), (out, repo)) \
    F(int, git_repository_head_detached, (git_repository *repo), (repo)) \
    F(int, git_repository_head_unborn, (git_repository *repo), (repo)) \
    F(int, git_repository_is_shallow, (git_repository *repo), (repo)) \
    F(int, git_repository_is_worktree, (const git_repository *repo), (repo)) \
    F(int, git_repository_open_ext, (git_repository **out, const char *path, unsigned int flags, const char *ceiling_dirs), (out, path, flags, ceiling_dirs)) \
    F(const char *, git_repository_path, (const git_repository *repo), (repo)) \
    F(const char *, git_repository_commondir, (const git_repository *repo), (repo)) \
    F(const char *, git_repository_workdir, (const git_repository *repo), (repo)) \
    V(git_strarray_dispose, (git_strarray *array), (array)) \
    F(int, git_submodule_foreach, (git_repository *repo, git_submodule_cb callback, void *payload), (repo, callback, payload)) \
    V(git_submodule_free, (git_submodule *submodule), (submodule)) \
    F(const git_oid *, git_submodule_head_id, (git_submodule *submodule), (submodule)) \
    F(int, git_submodule_lookup, (git_submodule **out, git_repository *repo, const char *name), (out, repo, name)) \
    F(const char *, git_submodule_path, (git_submodule *submodule), (submodule)) \
    F(int, git_submodule_status, (unsigned int *status, git_repository *repo, const char *name, git_submodule_ignore_t ignore), (status, repo, name, ignore)) \
    F(const git_oid *, git_submodule_wd_id, (git_submodule *submodule), (submodule)) \
    V(git_tree_free, (git_tree *tree), (tree)) \
    F(const git_oid *, git_tree_id, (const git_tree *tree), (tree)) \
    F(int, git_index_write_tree_to, (git_oid *out, git_index *index, git_repository *repo), (out, index, repo)) \
    F(int, git_odb_new, (git_odb **out), (out)) \
    V(git_odb_free, (git_odb *db), (db)) \
    F(int, git_repository_new, (git_repository **out), (out)) \
    F(int, git_repository_set_odb, (git_repository *repo, git_odb *odb), (repo, odb))

#define DEFINE_F(ret, name, params, args) \
    static ret (*pointer_##name) params; \
    ret name params { return pointer_##name args; }
#define DEFINE_V(name, params, args) \
    static void (*pointer_##name) params; \
    void name params { pointer_##name args; }
PROVENANCE_GIT_FUNCTIONS(DEFINE_F, DEFINE_V)

// libgit2's start-up without its CA bundle.
//
// Debian's libgit2 is built with mbedTLS, and git_libgit2_init parses the whole system CA bundle
// (/etc/ssl/certs/ca-certificates.crt: about 140 certificates, 210 KB of PEM, base64-decoded and
// parsed by mbedtls_x509_crt_parse_file) for HTTPS transports: measured 2.5 ms of CPU of its 5.3
// ms here, more than the rest of the git probe on a small repository. provenance never talks to a
// remote through libgit2 (it only reads repositories), and no option or environment variable of
// libgit2 1.5 turns this off (GIT_OPT_SET_SSL_CERT_LOCATIONS only works after the init, and mbedTLS
// reads no SSL_CERT_FILE). So the executable exports this function (Package.swift:
// --export-dynamic-symbol), which the dynamic linker binds libgit2's call to before mbedTLS's
// own: while provenance_git_load runs git_libgit2_init it loads nothing and succeeds (an empty CA
// chain: any HTTPS connection would fail verification, never succeed unverified); at any other
// time it calls mbedTLS's. Where the symbol is not exported (the test bundles) or libgit2 uses
// OpenSSL, nothing changes.
struct mbedtls_x509_crt;
static int skipping_certificates;
static void *loaded_library;

__attribute__((visibility("default")))
int mbedtls_x509_crt_parse_file(struct mbedtls_x509_crt *chain, const char *path) {
    if (skipping_certificates) return 0;
    static int (*real)(struct mbedtls_x509_crt *, const char *);
    if (real == NULL && loaded_library != NULL) *(void **)&real = dlsym(loaded_library, "mbedtls_x509_crt_parse_file");
    return real != NULL ? real(chain, path) : -0x3E00;  // MBEDTLS_ERR_X509_FILE_IO_ERROR
}

// git_libgit2_opts is variadic: no stub, only its pointer, for the wrappers of CLibGit2/shim.h.
typedef int (*opts_function)(int, ...);
static opts_function pointer_git_libgit2_opts;

opts_function provenance_git_opts(void) { return pointer_git_libgit2_opts; }

int provenance_git_load(char *error, size_t size) {
    static const char *library_name = "libgit2.so." LIBGIT2_SOVERSION;
    void *library = dlopen(library_name, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(error, size, "cannot load %s: %s", library_name, dlerror());
        return -1;
    }
#define RESOLVE(name) \
    if ((*(void **)&pointer_##name = dlsym(library, #name)) == NULL) { \
        snprintf(error, size, "%s has no %s", library_name, #name); \
        return -1; \
    }
#define RESOLVE_F(ret, name, params, args) RESOLVE(name)
#define RESOLVE_V(name, params, args) RESOLVE(name)
    PROVENANCE_GIT_FUNCTIONS(RESOLVE_F, RESOLVE_V)
    RESOLVE(git_libgit2_opts)
    loaded_library = library;
    return 0;
}

int provenance_git_init(void) {
    skipping_certificates = 1;
    int code = git_libgit2_init();
    skipping_certificates = 0;
    return code;
}

unsigned long provenance_filesystem_type(const char *path) {
    struct statfs info;
    return statfs(path, &info) == 0 ? (unsigned long)info.f_type : 0;
}
