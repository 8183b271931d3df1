// libgit2's start-up and what its static archive needs.
//
// provenance links libgit2 from Debian's static archive (libgit2.a, with the archives of libssh2,
// mbedTLS, http-parser, PCRE2 and OpenSSL's libcrypto: Package.swift, target CLibGit2Static)
// instead of its shared library. Linking libgit2.so made every start load it and the 16 libraries
// it needs (Kerberos, OpenSSL, libssh2, mbedTLS, PCRE2, ...), even where there is no repository;
// loading it with dlopen when a repository was found (provenance's way until 2026-12) still cost
// a first capture in a small repository about a third of its CPU. Linked from the archives, only
// the objects provenance reaches are in the binary (7 MB more) and nothing is loaded: a capture of
// the 84-file requests tree, `--only git --no-cache`, 40 alternating runs on 2 cores: 13.9 -> 9.6
// ms of wall time, 15.8 -> 9.6 ms of CPU. The price at every start, libgit2 or not, is 0.3-0.4 ms
// (`--version`, a capture outside a repository: 18,000 more relocations, OpenSSL's constructor).

#include <stddef.h>
#include <git2.h>
#include "CLibGit2Static.h"

// libgit2's start-up without its CA bundle.
//
// Debian's libgit2 is built with mbedTLS, and git_libgit2_init parses the whole system CA bundle
// (/etc/ssl/certs/ca-certificates.crt: about 140 certificates, 210 KB of PEM, base64-decoded and
// parsed by mbedtls_x509_crt_parse_file) for HTTPS transports: measured 2.5 ms of CPU of its 5.3
// ms here, more than the rest of the git probe on a small repository. provenance never talks to a
// remote through libgit2 (it only reads repositories), and no option or environment variable of
// libgit2 1.5 turns this off (GIT_OPT_SET_SSL_CERT_LOCATIONS only works after the init, and mbedTLS
// reads no SSL_CERT_FILE). So the link wraps the function (Package.swift:
// --wrap=mbedtls_x509_crt_parse_file): libgit2's call comes here, which loads nothing and succeeds
// while provenance_git_init runs git_libgit2_init (an empty CA chain: any HTTPS connection would
// fail verification, never succeed unverified) and calls mbedTLS's at any other time.
struct mbedtls_x509_crt;
static int skipping_certificates;

int __real_mbedtls_x509_crt_parse_file(struct mbedtls_x509_crt *chain, const char *path);

int __wrap_mbedtls_x509_crt_parse_file(struct mbedtls_x509_crt *chain, const char *path) {
    if (skipping_certificates) return 0;
    return __real_mbedtls_x509_crt_parse_file(chain, path);
}

int provenance_git_init(void) {
    skipping_certificates = 1;
    int code = git_libgit2_init();
    skipping_certificates = 0;
    return code;
}

// GSSAPI, which libgit2's HTTP "Negotiate" authentication (SPNEGO, transports/auth_gssapi.c) calls.
// Debian has no static Kerberos library, and linking libgssapi_krb5.so would load Kerberos's
// libraries at every start again. provenance never connects to a remote through libgit2, so these
// stand in: asking for the mechanisms fails with GSS_S_UNAVAILABLE, so were Negotiate ever tried,
// libgit2 would fail it ("could not query mechanisms") before any other call; the release calls
// have nothing to release. Prototypes as RFC 2744 gives them, opaque handles as pointers.
typedef unsigned int OM_uint32;
typedef struct { OM_uint32 length; void *elements; } provenance_gss_oid_desc;
typedef struct { size_t length; void *value; } provenance_gss_buffer_desc;
enum { PROVENANCE_GSS_S_COMPLETE = 0, PROVENANCE_GSS_S_UNAVAILABLE = 16u << 16 };

// 1.2.840.113554.1.2.1.4, the host-based service name type.
static provenance_gss_oid_desc hostbased_service = {10, "\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x04"};
provenance_gss_oid_desc *GSS_C_NT_HOSTBASED_SERVICE = &hostbased_service;

OM_uint32 gss_indicate_mechs(OM_uint32 *minor, void **mech_set) {
    *minor = 0;
    *mech_set = NULL;
    return PROVENANCE_GSS_S_UNAVAILABLE;
}

OM_uint32 gss_display_status(OM_uint32 *minor, OM_uint32 status, int status_type, void *mech,
                             OM_uint32 *message_context, provenance_gss_buffer_desc *message) {
    (void)status; (void)status_type; (void)mech; (void)message_context;
    *minor = 0;
    message->length = 0;
    message->value = NULL;
    return PROVENANCE_GSS_S_UNAVAILABLE;
}

OM_uint32 gss_import_name(OM_uint32 *minor, const provenance_gss_buffer_desc *name, void *name_type,
                          void **output) {
    (void)name; (void)name_type;
    *minor = 0;
    *output = NULL;
    return PROVENANCE_GSS_S_UNAVAILABLE;
}

OM_uint32 gss_init_sec_context(OM_uint32 *minor, void *credential, void **context, void *target,
                               void *mech, OM_uint32 flags, OM_uint32 time, void *bindings,
                               const provenance_gss_buffer_desc *input, void **actual_mech,
                               provenance_gss_buffer_desc *output, OM_uint32 *returned_flags,
                               OM_uint32 *time_received) {
    (void)credential; (void)context; (void)target; (void)mech; (void)flags; (void)time;
    (void)bindings; (void)input; (void)actual_mech; (void)returned_flags; (void)time_received;
    *minor = 0;
    output->length = 0;
    output->value = NULL;
    return PROVENANCE_GSS_S_UNAVAILABLE;
}

OM_uint32 gss_delete_sec_context(OM_uint32 *minor, void **context, provenance_gss_buffer_desc *output) {
    (void)output;
    *minor = 0;
    *context = NULL;
    return PROVENANCE_GSS_S_COMPLETE;
}

OM_uint32 gss_release_buffer(OM_uint32 *minor, provenance_gss_buffer_desc *buffer) {
    *minor = 0;
    if (buffer != NULL) { buffer->length = 0; buffer->value = NULL; }
    return PROVENANCE_GSS_S_COMPLETE;
}

OM_uint32 gss_release_name(OM_uint32 *minor, void **name) {
    *minor = 0;
    if (name != NULL) *name = NULL;
    return PROVENANCE_GSS_S_COMPLETE;
}

OM_uint32 gss_release_oid_set(OM_uint32 *minor, void **set) {
    *minor = 0;
    if (set != NULL) *set = NULL;
    return PROVENANCE_GSS_S_COMPLETE;
}
