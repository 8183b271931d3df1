// libprovenance-trace: preloaded (LD_PRELOAD) into a job run by `provenance run --trace` and every
// process it starts, it records which files each process opens (with their stat identity at
// open), renames, removes and executes, and the process tree. The format is in
// include/provenance_trace.h.
//
// Rules every wrapper keeps: call the real function exactly as the job asked, record only after
// it succeeded, and return its result with its errno. The tracer never opens a descriptor the job
// can see for longer than it takes to map a segment (so a job closing every descriptor loses
// nothing), never allocates with malloc, and never writes outside PROVENANCE_TRACE_DIR.
//
// What it cannot see: statically linked programs (no dynamic loader to preload into), system
// calls made without libc (raw syscall(2), io_uring), files the dynamic loader opens itself
// (shared libraries). `provenance` names executed static programs as untraced.
#define _GNU_SOURCE
#include "provenance_trace.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static char trace_dir[PATH_MAX];
static int enabled;
static int cached_pid;
static struct pvt_header *segment;     // the current segment, shared with forked children until they make their own
static int segment_pid;                // the process that owns `segment`
static unsigned segment_count;
static pthread_mutex_t rollover = PTHREAD_MUTEX_INITIALIZER;
static char cwd[PATH_MAX];
static int cwd_valid;

#define REAL(name, ret, ...) \
    static ret (*real_##name)(__VA_ARGS__); \
    if (!real_##name) real_##name = (ret (*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int raw_pid(void) { return (int)syscall(SYS_getpid); }

/// A new segment file for this process, mapped shared; NULL when it cannot be made.
static struct pvt_header *new_segment(int pid) {
    char name[PATH_MAX + 64];
    snprintf(name, sizeof name, "%s/%d-%u-%llu.seg", trace_dir, pid, segment_count++,
             (unsigned long long)now_ns());
    int fd = (int)syscall(SYS_openat, AT_FDCWD, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return NULL;
    struct pvt_header *header = NULL;
    if (ftruncate(fd, PVT_SEGMENT_BYTES) == 0) {
        void *map = mmap(NULL, PVT_SEGMENT_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map != MAP_FAILED) {
            header = map;
            memcpy(header->magic, PVT_MAGIC, 8);
            header->pid = pid;
            __atomic_store_n(&header->used, sizeof(struct pvt_header), __ATOMIC_RELEASE);
        }
    }
    syscall(SYS_close, fd);
    return header;
}

/// Reserves `length` bytes for a record of process `pid`; NULL when the trace is off or full.
/// A vfork child (pid differs from the segment's owner but memory is shared) writes into the
/// parent's segment, which is right: the records carry their pid.
static struct pvt_record *reserve(uint32_t length, int pid) {
    for (int attempt = 0; attempt < 3; attempt++) {
        struct pvt_header *current = __atomic_load_n(&segment, __ATOMIC_ACQUIRE);
        if (current) {
            uint64_t at = __atomic_fetch_add(&current->used, length, __ATOMIC_ACQ_REL);
            if (at + length <= PVT_SEGMENT_BYTES) return (struct pvt_record *)((char *)current + at);
        }
        // Full (or none yet): one thread makes the next segment. A signal handler interrupting
        // this very thread here finds the lock taken and drops its record instead of waiting.
        if (pthread_mutex_trylock(&rollover) != 0) {
            struct timespec pause = {0, 50000};
            nanosleep(&pause, NULL);
            continue;
        }
        if (__atomic_load_n(&segment, __ATOMIC_ACQUIRE) == current) {
            struct pvt_header *next = new_segment(pid);
            if (!next) {
                // The directory is gone (provenance finished while this process lives on) or
                // full: stop recording rather than retry on every call.
                enabled = 0;
                pthread_mutex_unlock(&rollover);
                return NULL;
            }
            __atomic_store_n(&segment, next, __ATOMIC_RELEASE);
            segment_pid = pid;
        }
        pthread_mutex_unlock(&rollover);
    }
    return NULL;
}

static void publish(struct pvt_record *record, uint8_t type) {
    __atomic_store_n(&record->type, type, __ATOMIC_RELEASE);
}

static uint32_t aligned(size_t n) { return (uint32_t)((n + 7) & ~(size_t)7); }

static struct pvt_record *begin(uint8_t type, int pid, size_t path_length, size_t path2_length) {
    (void)type;
    uint32_t length = aligned(sizeof(struct pvt_record) + path_length + path2_length);
    struct pvt_record *record = reserve(length, pid);
    if (!record) return NULL;
    memset(record, 0, sizeof *record);
    record->length = length;
    record->pid = pid;
    record->time_ns = now_ns();
    record->path_length = (uint32_t)path_length;
    record->path2_length = (uint32_t)path2_length;
    return record;
}

static char *path_bytes(struct pvt_record *record) { return (char *)(record + 1); }

/// `path` made absolute (relative to `dirfd` or the working directory) into `out`; its length,
/// or 0 when it cannot be. Not normalised: provenance removes `.` and `..` lexically.
static size_t absolute(int dirfd, const char *path, char *out, size_t capacity) {
    size_t length = strlen(path);
    if (path[0] == '/') {
        if (length >= capacity) return 0;
        memcpy(out, path, length + 1);
        return length;
    }
    size_t base;
    if (dirfd == AT_FDCWD) {
        if (!__atomic_load_n(&cwd_valid, __ATOMIC_ACQUIRE)) {
            if (!getcwd(cwd, sizeof cwd)) return 0;
            __atomic_store_n(&cwd_valid, 1, __ATOMIC_RELEASE);
        }
        base = strlen(cwd);
        if (base >= capacity) return 0;
        memcpy(out, cwd, base);
    } else {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
        ssize_t n = readlink(link, out, capacity - 1);
        if (n <= 0) return 0;
        base = (size_t)n;
    }
    if (base + 1 + length >= capacity) return 0;
    if (base == 0 || out[base - 1] != '/') out[base++] = '/';
    memcpy(out + base, path, length + 1);
    return base + length;
}

static void record_open(int dirfd, const char *path, int flags, int fd) {
    if (!enabled || fd < 0 || !path) return;
    char full[PATH_MAX * 2];
    size_t length = absolute(dirfd, path, full, sizeof full);
    if (!length) return;
    struct stat info;
    int have = fstat(fd, &info) == 0;
    struct pvt_record *record = begin(PVT_OPEN, cached_pid, length, 0);
    if (!record) return;
    record->flags = (uint32_t)flags;
    if (have) {
        record->mode = info.st_mode;
        record->dev = info.st_dev;
        record->ino = info.st_ino;
        record->size = info.st_size;
        record->mtime_ns = (int64_t)info.st_mtim.tv_sec * 1000000000 + info.st_mtim.tv_nsec;
        record->ctime_ns = (int64_t)info.st_ctim.tv_sec * 1000000000 + info.st_ctim.tv_nsec;
    }
    memcpy(path_bytes(record), full, length);
    publish(record, PVT_OPEN);
}

static void record_paths(uint8_t type, int pid, uint32_t flags, int dirfd, const char *path, int dirfd2,
                         const char *path2) {
    if (!enabled || !path) return;
    char full[PATH_MAX * 2], full2[PATH_MAX * 2];
    size_t length = absolute(dirfd, path, full, sizeof full);
    if (!length) return;
    size_t length2 = 0;
    if (path2) {
        length2 = absolute(dirfd2, path2, full2, sizeof full2);
        if (!length2) return;
    }
    struct pvt_record *record = begin(type, pid, length, length2);
    if (!record) return;
    record->flags = flags;
    memcpy(path_bytes(record), full, length);
    if (length2) memcpy(path_bytes(record) + length, full2, length2);
    publish(record, type);
}

static void record_start(uint32_t how) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0) n = 0;
    struct pvt_record *record = begin(PVT_START, cached_pid, (size_t)n, 0);
    if (!record) return;
    record->parent = getppid();
    record->flags = how;
    memcpy(path_bytes(record), exe, (size_t)n);
    publish(record, PVT_START);
}

static void after_fork_child(void) {
    if (!enabled) return;
    // The child has the parent's mapping: it must not write there. Its records go to its own
    // segment, made at its first record.
    pthread_mutex_init(&rollover, NULL);
    cached_pid = raw_pid();
    segment = NULL;
    segment_count = 0;
    record_start(PVT_START_FORK);
}

__attribute__((constructor)) static void trace_start(void) {
    const char *dir = getenv("PROVENANCE_TRACE_DIR");
    if (!dir || dir[0] != '/' || strlen(dir) >= sizeof trace_dir - 64) return;
    strcpy(trace_dir, dir);
    cached_pid = raw_pid();
    enabled = 1;
    pthread_atfork(NULL, NULL, after_fork_child);
    record_start(PVT_START_EXEC);
}

// ---- opening files ----

static int needs_mode(int flags) { return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE; }

#define OPEN_WRAPPER(name)                                                        \
    EXPORT int name(const char *path, int flags, ...) {                           \
        mode_t mode = 0;                                                          \
        if (needs_mode(flags)) { va_list a; va_start(a, flags); mode = va_arg(a, mode_t); va_end(a); } \
        REAL(name, int, const char *, int, ...);                                  \
        int fd = real_##name(path, flags, mode);                                  \
        int saved = errno;                                                        \
        record_open(AT_FDCWD, path, flags, fd);                                   \
        errno = saved;                                                            \
        return fd;                                                                \
    }
OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)

#define OPENAT_WRAPPER(name)                                                      \
    EXPORT int name(int dirfd, const char *path, int flags, ...) {                \
        mode_t mode = 0;                                                          \
        if (needs_mode(flags)) { va_list a; va_start(a, flags); mode = va_arg(a, mode_t); va_end(a); } \
        REAL(name, int, int, const char *, int, ...);                             \
        int fd = real_##name(dirfd, path, flags, mode);                           \
        int saved = errno;                                                        \
        record_open(dirfd, path, flags, fd);                                      \
        errno = saved;                                                            \
        return fd;                                                                \
    }
OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)

#define OPEN2_WRAPPER(name)                                                       \
    EXPORT int name(const char *path, int flags) {                                \
        REAL(name, int, const char *, int);                                       \
        int fd = real_##name(path, flags);                                        \
        int saved = errno;                                                        \
        record_open(AT_FDCWD, path, flags, fd);                                   \
        errno = saved;                                                            \
        return fd;                                                                \
    }
OPEN2_WRAPPER(__open_2)
OPEN2_WRAPPER(__open64_2)

#define OPENAT2_WRAPPER(name)                                                     \
    EXPORT int name(int dirfd, const char *path, int flags) {                     \
        REAL(name, int, int, const char *, int);                                  \
        int fd = real_##name(dirfd, path, flags);                                 \
        int saved = errno;                                                        \
        record_open(dirfd, path, flags, fd);                                      \
        errno = saved;                                                            \
        return fd;                                                                \
    }
OPENAT2_WRAPPER(__openat_2)
OPENAT2_WRAPPER(__openat64_2)

#define CREAT_WRAPPER(name)                                                       \
    EXPORT int name(const char *path, mode_t mode) {                              \
        REAL(name, int, const char *, mode_t);                                    \
        int fd = real_##name(path, mode);                                         \
        int saved = errno;                                                        \
        record_open(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, fd);            \
        errno = saved;                                                            \
        return fd;                                                                \
    }
CREAT_WRAPPER(creat)
CREAT_WRAPPER(creat64)

/// fopen's mode string as open(2) flags.
static int fopen_flags(const char *mode) {
    int plus = mode && strchr(mode, '+') != NULL;
    switch (mode ? mode[0] : 'r') {
    case 'w': return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
    case 'a': return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
    default: return plus ? O_RDWR : O_RDONLY;
    }
}

#define FOPEN_WRAPPER(name)                                                       \
    EXPORT FILE *name(const char *path, const char *mode) {                       \
        REAL(name, FILE *, const char *, const char *);                           \
        FILE *file = real_##name(path, mode);                                     \
        int saved = errno;                                                        \
        if (file) record_open(AT_FDCWD, path, fopen_flags(mode), fileno(file));   \
        errno = saved;                                                            \
        return file;                                                              \
    }
FOPEN_WRAPPER(fopen)
FOPEN_WRAPPER(fopen64)

#define FREOPEN_WRAPPER(name)                                                     \
    EXPORT FILE *name(const char *path, const char *mode, FILE *stream) {         \
        REAL(name, FILE *, const char *, const char *, FILE *);                   \
        FILE *file = real_##name(path, mode, stream);                             \
        int saved = errno;                                                        \
        if (file && path) record_open(AT_FDCWD, path, fopen_flags(mode), fileno(file)); \
        errno = saved;                                                            \
        return file;                                                              \
    }
FREOPEN_WRAPPER(freopen)
FREOPEN_WRAPPER(freopen64)

EXPORT int truncate(const char *path, off_t length) {
    REAL(truncate, int, const char *, off_t);
    int result = real_truncate(path, length);
    int saved = errno;
    if (result == 0) {
        int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_PATH | O_CLOEXEC);
        record_open(AT_FDCWD, path, O_WRONLY | O_TRUNC, fd);
        if (fd >= 0) syscall(SYS_close, fd);
    }
    errno = saved;
    return result;
}

// ---- renaming and removing ----

EXPORT int rename(const char *from, const char *to) {
    REAL(rename, int, const char *, const char *);
    int result = real_rename(from, to);
    int saved = errno;
    if (result == 0) record_paths(PVT_RENAME, cached_pid, 0, AT_FDCWD, from, AT_FDCWD, to);
    errno = saved;
    return result;
}

EXPORT int renameat(int fromdir, const char *from, int todir, const char *to) {
    REAL(renameat, int, int, const char *, int, const char *);
    int result = real_renameat(fromdir, from, todir, to);
    int saved = errno;
    if (result == 0) record_paths(PVT_RENAME, cached_pid, 0, fromdir, from, todir, to);
    errno = saved;
    return result;
}

EXPORT int renameat2(int fromdir, const char *from, int todir, const char *to, unsigned int flags) {
    REAL(renameat2, int, int, const char *, int, const char *, unsigned int);
    int result = real_renameat2(fromdir, from, todir, to, flags);
    int saved = errno;
    if (result == 0) record_paths(PVT_RENAME, cached_pid, flags, fromdir, from, todir, to);
    errno = saved;
    return result;
}

EXPORT int unlink(const char *path) {
    REAL(unlink, int, const char *);
    int result = real_unlink(path);
    int saved = errno;
    if (result == 0) record_paths(PVT_UNLINK, cached_pid, 0, AT_FDCWD, path, 0, NULL);
    errno = saved;
    return result;
}

EXPORT int unlinkat(int dirfd, const char *path, int flags) {
    REAL(unlinkat, int, int, const char *, int);
    int result = real_unlinkat(dirfd, path, flags);
    int saved = errno;
    if (result == 0 && !(flags & AT_REMOVEDIR)) record_paths(PVT_UNLINK, cached_pid, 0, dirfd, path, 0, NULL);
    errno = saved;
    return result;
}

EXPORT int remove(const char *path) {
    REAL(remove, int, const char *);
    struct stat info;
    int file = lstat(path, &info) == 0 && !S_ISDIR(info.st_mode);
    int result = real_remove(path);
    int saved = errno;
    if (result == 0 && file) record_paths(PVT_UNLINK, cached_pid, 0, AT_FDCWD, path, 0, NULL);
    errno = saved;
    return result;
}

// ---- the working directory (relative paths) ----

EXPORT int chdir(const char *path) {
    REAL(chdir, int, const char *);
    int result = real_chdir(path);
    int saved = errno;
    __atomic_store_n(&cwd_valid, 0, __ATOMIC_RELEASE);
    errno = saved;
    return result;
}

EXPORT int fchdir(int fd) {
    REAL(fchdir, int, int);
    int result = real_fchdir(fd);
    int saved = errno;
    __atomic_store_n(&cwd_valid, 0, __ATOMIC_RELEASE);
    errno = saved;
    return result;
}

// ---- executing programs ----

static uint32_t exec_flags(char *const envp[]) {
    if (envp)
        for (char *const *e = envp; *e; e++)
            if (strncmp(*e, "LD_PRELOAD=", 11) == 0 && strstr(*e, "provenance-trace")) return 0;
    return PVT_EXEC_NO_PRELOAD;
}

/// `file` searched in PATH as execvp does, into `out`; 0 when not found.
static int search_path(const char *file, char *out, size_t capacity) {
    if (strchr(file, '/')) {
        if (strlen(file) >= capacity) return 0;
        strcpy(out, file);
        return 1;
    }
    const char *path = getenv("PATH");
    if (!path) path = "/bin:/usr/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t length = end ? (size_t)(end - path) : strlen(path);
        if (length + 1 + strlen(file) < capacity) {
            memcpy(out, path, length);
            size_t at = length;
            if (at == 0) out[at++] = '.';
            out[at++] = '/';
            strcpy(out + at, file);
            if (access(out, X_OK) == 0) return 1;
        }
        if (!end) break;
        path = end + 1;
    }
    return 0;
}

/// Records the exec before it happens (a successful exec does not return); the pid is asked of
/// the kernel, not the cache: in a vfork child the cache holds the parent's.
static int record_exec(const char *program, char *const envp[], int search) {
    if (!enabled || !program) return 0;
    char found[PATH_MAX];
    if (search) {
        if (!search_path(program, found, sizeof found)) return 0;
        program = found;
    }
    int pid = raw_pid();
    record_paths(PVT_EXEC, pid, exec_flags(envp), AT_FDCWD, program, 0, NULL);
    return pid;
}

static void record_exec_failed(int pid, const char *program, int search) {
    if (!pid) return;
    char found[PATH_MAX];
    if (search) {
        if (!search_path(program, found, sizeof found)) return;
        program = found;
    }
    record_paths(PVT_EXEC_FAILED, pid, 0, AT_FDCWD, program, 0, NULL);
}

extern char **environ;

EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    REAL(execve, int, const char *, char *const[], char *const[]);
    int pid = record_exec(path, envp, 0);
    int result = real_execve(path, argv, envp);
    int saved = errno;
    record_exec_failed(pid, path, 0);
    errno = saved;
    return result;
}

EXPORT int execv(const char *path, char *const argv[]) {
    REAL(execv, int, const char *, char *const[]);
    int pid = record_exec(path, environ, 0);
    int result = real_execv(path, argv);
    int saved = errno;
    record_exec_failed(pid, path, 0);
    errno = saved;
    return result;
}

EXPORT int execvp(const char *file, char *const argv[]) {
    REAL(execvp, int, const char *, char *const[]);
    int pid = record_exec(file, environ, 1);
    int result = real_execvp(file, argv);
    int saved = errno;
    record_exec_failed(pid, file, 1);
    errno = saved;
    return result;
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    REAL(execvpe, int, const char *, char *const[], char *const[]);
    int pid = record_exec(file, envp, 1);
    int result = real_execvpe(file, argv, envp);
    int saved = errno;
    record_exec_failed(pid, file, 1);
    errno = saved;
    return result;
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
    REAL(fexecve, int, int, char *const[], char *const[]);
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    int pid = 0;
    if (n > 0) { target[n] = 0; pid = record_exec(target, envp, 0); }
    int result = real_fexecve(fd, argv, envp);
    int saved = errno;
    if (n > 0) record_exec_failed(pid, target, 0);
    errno = saved;
    return result;
}

/// The variadic exec family, collected into an argv on the stack (as glibc does) and passed on
/// to the wrappers above.
#define COLLECT_ARGS(first, last_va)                                             \
    va_list count_args; va_start(count_args, first);                              \
    size_t argc = 1;                                                              \
    while (va_arg(count_args, char *)) argc++;                                    \
    va_end(count_args);                                                           \
    char *argv[argc + 1];                                                         \
    va_list args; va_start(args, first);                                          \
    argv[0] = (char *)first;                                                      \
    for (size_t i = 1; i <= argc; i++) argv[i] = va_arg(args, char *);           \
    last_va;                                                                      \
    va_end(args)

EXPORT int execl(const char *path, const char *arg, ...) {
    COLLECT_ARGS(arg, (void)0);
    return execv(path, argv);
}

EXPORT int execlp(const char *file, const char *arg, ...) {
    COLLECT_ARGS(arg, (void)0);
    return execvp(file, argv);
}

EXPORT int execle(const char *path, const char *arg, ...) {
    char *const *envp;
    COLLECT_ARGS(arg, envp = va_arg(args, char *const *));  // before the macro's va_end
    return execve(path, argv, envp);
}

static void record_spawn(int result, pid_t *pid, const char *program, char *const envp[], int search) {
    if (result != 0 || !enabled || !program) return;
    char found[PATH_MAX];
    if (search) {
        if (!search_path(program, found, sizeof found)) return;
        program = found;
    }
    record_paths(PVT_EXEC, pid ? *pid : 0, exec_flags(envp) | PVT_EXEC_SPAWN, AT_FDCWD, program, 0, NULL);
}

EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                       const posix_spawnattr_t *attributes, char *const argv[], char *const envp[]) {
    REAL(posix_spawn, int, pid_t *, const char *, const posix_spawn_file_actions_t *,
         const posix_spawnattr_t *, char *const[], char *const[]);
    pid_t child = 0;
    int result = real_posix_spawn(&child, path, actions, attributes, argv, envp);
    int saved = errno;
    if (pid) *pid = child;
    record_spawn(result, &child, path, envp, 0);
    errno = saved;
    return result;
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                        const posix_spawnattr_t *attributes, char *const argv[], char *const envp[]) {
    REAL(posix_spawnp, int, pid_t *, const char *, const posix_spawn_file_actions_t *,
         const posix_spawnattr_t *, char *const[], char *const[]);
    pid_t child = 0;
    int result = real_posix_spawnp(&child, file, actions, attributes, argv, envp);
    int saved = errno;
    if (pid) *pid = child;
    record_spawn(result, &child, file, envp, 1);
    errno = saved;
    return result;
}
