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
    /// is a device, FIFO or socket (`-o /dev/null`, `-o /dev/stdout`) is written into, never
    /// replaced: renaming over it would turn `/dev/null` into a regular file.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(WriteError) {
        try write([(path, bytes)], mode: mode)
    }

    /// Writes several files as one step as far as a filesystem allows: every file is written to
    /// its temporary and synced first (a failure there changes nothing), every target is checked
    /// to be replaceable, then each temporary is renamed over its target in order (a special
    /// target is written into instead, as `write(_:to:mode:)` says). Put the file that refers to
    /// the others (the manifest) last.
    public static func write(_ files: [(path: String, bytes: [UInt8])], mode: mode_t = 0o644) throws(WriteError) {
        var temporaries: [String?] = []
        func discard() { for case let temporary? in temporaries { unlink(temporary) } }
        do throws(WriteError) {
            for file in files {
                var info = stat()
                if stat(file.path, &info) == 0 {
                    let type = info.st_mode & S_IFMT
                    if type == S_IFDIR { throw WriteError(description: "cannot write \(file.path): is a directory") }
                    if type != S_IFREG {
                        temporaries.append(nil)
                        continue
                    }
                }
                temporaries.append(try writeTemporary(file.bytes, for: file.path, mode: mode))
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

    /// Writes into an existing special file (the corresponding C functions are `open` and `write`).
    private static func writeInPlace(_ bytes: [UInt8], to path: String) throws(WriteError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw WriteError(description: "cannot write \(path): \(errorText())") }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
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

    /// Writes and syncs a temporary file in the target's directory; returns its path.
    private static func writeTemporary(_ bytes: [UInt8], for path: String, mode: mode_t) throws(WriteError) -> String {
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
        if fsync(fd) != 0 || close(fd) != 0 {
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
