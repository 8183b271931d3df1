// The record format the interposer (trace.c) writes and ProvenanceTrace reads.
//
// Each traced process writes into its own segment files, DIR/<pid>-<n>-<ns>.seg, where DIR is
// the directory named by PROVENANCE_TRACE_DIR. A segment is SEGMENT_BYTES long (sparse), mapped
// shared: records survive the process being killed. It opens with a header whose `used` field is
// the byte count reserved so far (atomically advanced by each record); records follow, each
// 8-byte aligned. A record's `type` is written last: a reader stops at the first record of type 0
// (reserved but never completed).
#ifndef PROVENANCE_TRACE_H
#define PROVENANCE_TRACE_H
#include <stdint.h>

#define PVT_MAGIC "PVTRACE1"
#define PVT_SEGMENT_BYTES (1u << 20)

struct pvt_header {
    char magic[8];
    uint64_t used;      // bytes reserved, header included
    int32_t pid;        // the process that created the segment
    int32_t reserved;
    uint64_t padding[5];
};

enum pvt_type {
    PVT_OPEN = 1,         // flags: open(2) flags; stat at open (mode 0: fstat failed)
    PVT_RENAME = 2,       // path, then second path (the new name)
    PVT_UNLINK = 3,       // path
    PVT_EXEC = 4,         // pid: the process that runs the program; flags: PVT_EXEC_*
    PVT_EXEC_FAILED = 5,  // an exec of path by pid returned (the program did not start)
    PVT_START = 6,        // a process began: flags: PVT_START_*; parent; path: /proc/self/exe
};

#define PVT_EXEC_NO_PRELOAD 1  // the new program's environment has no LD_PRELOAD
#define PVT_EXEC_SPAWN 2       // through posix_spawn (pid is the child's)
#define PVT_START_FORK 1       // a fork: same program as the parent
#define PVT_START_EXEC 2       // a new program image

struct pvt_record {
    uint8_t type;
    uint8_t padding[3];
    uint32_t length;     // the whole record, aligned to 8
    int32_t pid;
    int32_t parent;      // PVT_START: the parent pid
    uint32_t flags;
    uint32_t mode;       // PVT_OPEN: st_mode at open
    uint64_t time_ns;    // CLOCK_MONOTONIC
    uint64_t dev, ino;   // PVT_OPEN: identity at open
    int64_t size, mtime_ns, ctime_ns;
    uint32_t path_length, path2_length;
    // path bytes, then path2 bytes
};

#endif
