import ProvenanceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Writes a file atomically: a temporary file in the same directory, fsync, rename over the
/// target. An interrupted write leaves the previous file intact, never a partial one.
public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Writes `bytes` to `path`, creating missing parent directories (mode 0755). A target that
    /// is a character device, FIFO or socket (`-o /dev/null`, `-o /dev/stdout`) is written into,
    /// never replaced: renaming over it would turn `/dev/null` into a regular file. A block
    /// device is refused (a capture run as root must never write onto a disk). A FIFO is given
    /// `streamTimeoutSeconds` to get a reader and to take each part of the bytes.
    ///
    /// A symbolic link at `path` is resolved only to find a stream (`/dev/stdout` is a link);
    /// otherwise the link itself is replaced by the new file and whatever it pointed at is left
    /// alone, so a link planted in a shared directory cannot redirect a root capture's output.
    ///
    /// `durable` false leaves out the fsync (still atomic: a reader sees the old file or the new
    /// one whole) for a file that can be made again if a crash loses it, such as `run`'s
    /// `wandb-config.yaml`, written before the job starts: its fsync was about 0.5 ms of every
    /// job's start here.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644, durable: Bool = true) throws(WriteError) {
        try write([(path, bytes)], mode: mode, durable: durable)
    }

    /// Writes several files as one step as far as a filesystem allows: every file is written to
    /// its temporary and synced first (a failure there changes nothing), every target is checked
    /// to be replaceable, then each temporary is renamed over its target in order (a special
    /// target is written into instead, as `write(_:to:mode:)` says). Put the file that refers to
    /// the others (the manifest) last.
    ///
    /// The files are written under an exclusive lock of their directory (`flock`), so two
    /// captures writing to one place one after the other never mix their files; then, still
    /// under the lock, the directory's entries for which `obsolete` says true (and which were
    /// not just written) are removed: the companions an earlier write left, no longer referred
    /// to. Temporary files of killed writers (`.NAME.tmp-PID-*` whose process is gone, older than
    /// a minute) are removed too.
    ///
    /// The directory is listed once for both, and only names starting with `.` or with
    /// `obsoletePrefix` become strings: `-o /tmp/env.json` lists this machine's /tmp (17,000
    /// entries), which cost 20 ms of CPU per capture when every name was made a string, twice.
    public static func write(_ files: [(path: String, bytes: [UInt8])], mode: mode_t = 0o644, durable: Bool = true,
                             obsoletePrefix: String = "", obsolete: ((String) -> Bool)? = nil) throws(WriteError) {
        guard let last = files.last else { return }
        let directory = parentDirectory(of: last.path)
        try makeDirectories(directory)
        let lock = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if lock >= 0 {
            // Best effort: a filesystem without flock (some NFS setups) is written unlocked.
            while flock(lock, LOCK_EX) != 0 && errno == EINTR {}
        }
        defer { if lock >= 0 { close(lock) } }
        try writeLocked(files, mode: mode, durable: durable)
        let written = Set(files.map { $0.path.split(separator: "/").last.map(String.init) ?? $0.path })
        let now = Int(time(nil))
        let prefix = obsolete == nil ? nil : Array(obsoletePrefix.utf8)
        forEachName(in: directory, startingWith: prefix) { name, hasPrefix in
            if name.hasPrefix(".") { removeIfStaleTemporary(name, in: directory, now: now) }
            if let obsolete, hasPrefix, !written.contains(name), obsolete(name) {
                unlink((directory == "/" ? "" : directory) + "/" + name)
            }
        }
    }

    /// Removes `.NAME.tmp-PID-RANDOM` files of `directory` whose process no longer exists and
    /// that were last changed over a minute ago (a writer killed between its temporary and its
    /// rename).
    public static func removeStaleTemporaries(in directory: String, now: Int = Int(time(nil))) {
        forEachName(in: directory, startingWith: nil) { name, _ in removeIfStaleTemporary(name, in: directory, now: now) }
    }

    /// Removes `name` of `directory` when it is a stale temporary (see `removeStaleTemporaries`).
    static func removeIfStaleTemporary(_ name: String, in directory: String, now: Int) {
        guard name.hasPrefix("."), let marker = name.firstRange(of: ".tmp-") else { return }
        let rest = name[marker.upperBound...].split(separator: "-")
        guard rest.count == 2, let pid = Int32(rest[0]), UInt32(rest[1]) != nil else { return }
        if pid == getpid() { return }
        if kill(pid, 0) == 0 || errno != ESRCH { return }
        let path = (directory == "/" ? "" : directory) + "/" + name
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, now - Int(info.st_mtim.tv_sec) > 60 else {
            return
        }
        unlink(path)
    }

    /// Calls `body` with each name of `directory` that starts with `.` or with `prefix`, and
    /// whether it starts with `prefix` (a byte comparison on `d_name`; other names never become
    /// strings). Nothing when the directory cannot be listed.
    static func forEachName(in directory: String, startingWith prefix: [UInt8]?, _ body: (String, Bool) -> Void) {
        guard let handle = opendir(directory) else { return }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let found: (name: String, hasPrefix: Bool)? = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: UInt8.self, capacity: 256) { bytes in
                    let length = strnlen(UnsafeRawPointer(bytes).assumingMemoryBound(to: CChar.self), 256)
                    let buffer = UnsafeBufferPointer(start: bytes, count: length)
                    let hasPrefix = prefix.map { buffer.starts(with: $0) } ?? false
                    guard hasPrefix || buffer.first == UInt8(ascii: ".") else { return nil }
                    return (String(decoding: buffer, as: UTF8.self), hasPrefix)
                }
            }
            if let found, found.name != ".", found.name != ".." { body(found.name, found.hasPrefix) }
        }
    }

    /// What `write(_:mode:obsoletePrefix:obsolete:)` does once its directory is locked.
    private static func writeLocked(_ files: [(path: String, bytes: [UInt8])], mode: mode_t, durable: Bool) throws(WriteError) {
        var temporaries: [String?] = []
        func discard() { for case let temporary? in temporaries { unlink(temporary) } }
        do throws(WriteError) {
            for file in files {
                var info = stat()
                if stat(file.path, &info) == 0 {
                    let type = info.st_mode & S_IFMT
                    if type == S_IFDIR { throw WriteError(description: "cannot write \(file.path): is a directory") }
                    if type == S_IFBLK { throw WriteError(description: "cannot write \(file.path): is a block device") }
                    if type != S_IFREG {
                        temporaries.append(nil)
                        continue
                    }
                }
                temporaries.append(try writeTemporary(file.bytes, for: file.path, mode: mode, durable: durable))
            }
        } catch {
            discard()
            throw error
        }
        for (index, file) in files.enumerated() {
            guard let temporary = temporaries[index] else {
                do throws(WriteError) { try writeInPlace(file.bytes, to: file.path) } catch {
                    temporaries = Array(temporaries[index...])
                    discard()
                    throw error
                }
                continue
            }
            if rename(temporary, file.path) != 0 {
                let reason = errorText()
                temporaries = Array(temporaries[index...])
                discard()
                throw WriteError(description: "cannot write \(file.path): \(reason)")
            }
        }
    }

    /// How long a FIFO output may go without a reader, or without taking more bytes, before the
    /// write gives up (a capture with `-o fifo` and nobody reading must not hang forever).
    /// `PROVENANCE_STREAM_TIMEOUT_SECONDS` (1 to 3600) sets it for a run (the tests use 2).
    public nonisolated(unsafe) static var streamTimeoutSeconds: Int32 = {
        if let text = getenv("PROVENANCE_STREAM_TIMEOUT_SECONDS").map({ String(cString: $0) }),
           let seconds = Int32(text), (1...3600).contains(seconds)
        {
            return seconds
        }
        return 30
    }()

    /// Writes into an existing special file (the corresponding C functions are `open`, `poll`
    /// and `write`). Opened non-blocking, so a FIFO without a reader and a reader that stops
    /// reading are waited for `streamTimeoutSeconds` at most; a block device is refused again
    /// on the opened file (it may have been swapped in since the check).
    private static func writeInPlace(_ bytes: [UInt8], to path: String) throws(WriteError) {
        var waited: Int32 = 0
        var fd: Int32 = -1
        while true {
            fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
            if fd >= 0 { break }
            // ENXIO: a FIFO with no reader yet.
            guard errno == ENXIO, waited < streamTimeoutSeconds * 10 else {
                let reason = errno == ENXIO ? "no reader within \(streamTimeoutSeconds) s" : errorText()
                throw WriteError(description: "cannot write \(path): \(reason)")
            }
            usleep(100_000)
            waited += 1
        }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFBLK {
            throw WriteError(description: "cannot write \(path): is a block device")
        }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN {
                    var request = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    let ready = poll(&request, 1, streamTimeoutSeconds * 1000)
                    if ready == 0 {
                        throw WriteError(description: "cannot write \(path): the reader took nothing for \(streamTimeoutSeconds) s")
                    }
                    continue
                }
                throw WriteError(description: "cannot write \(path): \(errorText())")
            }
            written += count
        }
    }

    /// Writes a new file atomically and never replaces one: the complete temporary file is
    /// hard-linked to `path` (the corresponding C function is `link`, which fails with `EEXIST`
    /// when the name exists, even if it appeared a moment ago). For keys and other files that
    /// must not be overwritten.
    public static func create(_ bytes: [UInt8], at path: String, mode: mode_t = 0o644) throws(WriteError) {
        let temporary = try writeTemporary(bytes, for: path, mode: mode)
        let linked = link(temporary, path)
        let code = errno
        unlink(temporary)
        if linked != 0 {
            throw WriteError(description: code == EEXIST ? "\(path) already exists"
                : "cannot write \(path): \(String(cString: strerror(code)).lowercased())")
        }
    }

    /// Writes (and, when `durable`, syncs) a temporary file in the target's directory; returns its path.
    private static func writeTemporary(_ bytes: [UInt8], for path: String, mode: mode_t,
                                       durable: Bool = true) throws(WriteError) -> String {
        let directory = parentDirectory(of: path)
        try makeDirectories(directory)
        let base = path.split(separator: "/").last.map(String.init) ?? path
        let temporary = "\(directory)/.\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw WriteError(description: "cannot write \(path): \(errorText())") }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                Glibc.write(fd, buffer.baseAddress! + written, buffer.count - written)
            }
            if count < 0 {
                if errno == EINTR { continue }
                let reason = errorText()
                close(fd)
                unlink(temporary)
                throw WriteError(description: "cannot write \(path): \(reason)")
            }
            written += count
        }
        if (durable && fsync(fd) != 0) || close(fd) != 0 {
            let reason = errorText()
            unlink(temporary)
            throw WriteError(description: "cannot write \(path): \(reason)")
        }
        return temporary
    }

    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func makeDirectories(_ directory: String) throws(WriteError) {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw WriteError(description: "cannot write into \(directory): not a directory")
            }
            return
        }
        let parent = parentDirectory(of: directory)
        if parent != directory { try makeDirectories(parent) }
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw WriteError(description: "cannot create directory \(directory): \(errorText())")
        }
    }

    private static func errorText() -> String { String(cString: strerror(errno)).lowercased() }
}
