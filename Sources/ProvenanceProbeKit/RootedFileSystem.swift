import ProvenanceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only view of a machine's files under a root: `/` for the live machine, a recorded
/// machine's directory under `--root` (paths keep their absolute form: `fs.read("/proc/cpuinfo")`).
///
/// Reads use `open`/`read(2)` until end of file, never `Data(contentsOf:)`, which truncates
/// size-0 procfs files after about 4 KiB. Only regular files are read: a FIFO, socket or device
/// is reported, never opened for reading, so a hostile path cannot hang a probe.
public struct RootedFileSystem: Sendable {
    /// The directory that stands for `/`, without a trailing slash ("" for the live machine).
    public let root: String

    /// Files larger than this are refused rather than loaded (a probe reads small text files).
    public var maxFileBytes = 64 << 20

    /// Where reads, listings and lookups are reported while a machine is being recorded
    /// (`provenance record`, the declared-reads check); nil otherwise, at the cost of a nil check.
    public var log: AccessLogScope?

    /// The listings of one capture, shared by its probes (`Capture` sets it; nil: every `list`
    /// reads the directory). Several probes list the same directories: site-packages (python,
    /// cuda), /sys/devices/system/cpu (cpu twice, tuning), the PCI devices (twice): six listings
    /// of a capture here, about 0.4 ms of its CPU.
    public var listings: DirectoryListings?

    /// Where what a probe finds is witnessed while it runs (`SectionCache` sets it for a probe
    /// whose section may be remembered); nil otherwise, at the cost of a nil check.
    public var witnesses: FileWitnesses?

    /// The same view with its reports attributed to `probe` (unchanged when nothing is logged).
    public func attributed(to probe: String?) -> RootedFileSystem {
        guard let log else { return self }
        var copy = self
        copy.log = log.log.scoped(to: probe)
        return copy
    }

    /// Tells the log the raw values the probe masked in what it read (a URL's password, a
    /// secret-named label): a recording of the machine replaces them by `[masked]` wherever they
    /// occur, so it never holds what the manifest masks.
    public func noteMasked(raw: String, masked: String) {
        guard let log else { return }
        for part in Secrets.maskedParts(raw: raw, masked: masked) { log.log.noteSecret(part) }
    }

    /// Tells the log that a library the probe calls reads `path` itself (libpci reads sysfs and
    /// pci.ids without this file system): the recording then holds the file too.
    public func noteExternalRead(_ path: String) {
        log?.note(.externalRead, path)
    }

    public init(root: String = "/") {
        var trimmed = root
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed == "/" ? "" : trimmed
    }

    public var isLive: Bool { root.isEmpty }

    /// The host path of a machine path.
    public func hostPath(_ path: String) -> String {
        precondition(path.hasPrefix("/"), "machine paths are absolute: \(path)")
        return root + path
    }

    /// Opens a regular file for reading (never blocking on a FIFO or device); nil when it does not
    /// exist. The caller closes the descriptor. `size` is what fstat says (0 for most of /proc).
    private func openRegularFile(_ path: String) throws(FileSystemError) -> (fd: Int32, size: Int)? {
        let fd = open(hostPath(path), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        if fd < 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                noteAbsence(path)
                return nil
            }
            witnesses?.note(path, following: true, content: true, FileStat(path: hostPath(path), following: true))
            throw FileSystemError(path: path, code: code)
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            witnesses?.refuse("\(path): fstat failed")
            throw FileSystemError(path: path, code: code)
        }
        witnesses?.note(path, following: true, content: true, FileStat(info))
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw FileSystemError(path: path, message: "not a regular file")
        }
        return (fd, Int(info.st_size))
    }

    /// The bytes of a regular file, or nil when it does not exist on the machine.
    public func readBytes(_ path: String) throws(FileSystemError) -> [UInt8]? {
        guard let log else { return try readWholeFile(path) }
        log.note(.read, path)
        let bytes = try readWholeFile(path)
        if let bytes { log.read(path, bytes, partial: false) }
        return bytes
    }

    private func readWholeFile(_ path: String) throws(FileSystemError) -> [UInt8]? {
        guard let (fd, size) = try openRegularFile(path) else { return nil }
        defer { close(fd) }
        // Read into the array's own storage, sized by what fstat says plus one byte to see the
        // end: one read(2) and no copy while the size holds. Through a 64 KiB chunk appended to
        // the result, copying was a third of the dpkg probe's time on its 850 KB status file.
        // The size is a hint (a file may grow; /proc states 0): past it, the rest is appended.
        let first = min(max(size, 4095), maxFileBytes) + 1
        var failure: Int32 = 0
        var result = [UInt8](unsafeUninitializedCapacity: first) { buffer, count in
            count = Self.fill(fd, buffer.baseAddress!, buffer.count, error: &failure)
        }
        if failure != 0 { throw FileSystemError(path: path, code: failure) }
        guard result.count == first else { return result }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            if result.count > maxFileBytes {
                throw FileSystemError(path: path, message: "larger than \(maxFileBytes) bytes")
            }
            let count = chunk.withUnsafeMutableBytes { Self.fill(fd, $0.baseAddress!, $0.count, error: &failure) }
            if failure != 0 { throw FileSystemError(path: path, code: failure) }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
        }
        if result.count > maxFileBytes {
            throw FileSystemError(path: path, message: "larger than \(maxFileBytes) bytes")
        }
        return result
    }

    /// Reads from `fd` into `buffer` until it is full or the file ends; the count read. Sets
    /// `error` to errno when a read fails (interruptions are retried).
    private static func fill(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ capacity: Int, error: inout Int32) -> Int {
        var filled = 0
        while filled < capacity {
            let count = Glibc.read(fd, buffer + filled, capacity - filled)
            if count < 0 {
                if errno == EINTR { continue }
                error = errno
                return filled
            }
            if count == 0 { break }
            filled += count
        }
        return filled
    }

    /// Reads a regular file in blocks of whole lines through one buffer (64 KiB, larger only for
    /// a longer line), handing each to `body`; the last block may end without a newline. False
    /// when the file does not exist. For a large file a parser reads line by line: nothing holds
    /// the whole file (fresh pages for it cost more than the read). While recording, the whole
    /// file is read once (the recording keeps it) and handed over as one block.
    public func readLineBlocks(_ path: String, blockBytes: Int = 1 << 16,
                               _ body: (UnsafeBufferPointer<UInt8>) -> Void) throws(FileSystemError) -> Bool {
        if log != nil {
            guard let bytes = try readBytes(path) else { return false }
            bytes.withUnsafeBufferPointer { body($0) }
            return true
        }
        guard let (fd, _) = try openRegularFile(path) else { return false }
        defer { close(fd) }
        var capacity = max(blockBytes, 1)
        var storage = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { storage.deallocate() }
        // Bytes of a line not yet ended, at the start of the buffer.
        var held = 0
        var total = 0
        var failure: Int32 = 0
        while true {
            if held == capacity {
                // A line longer than the buffer.
                let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
                larger.update(from: storage, count: held)
                storage.deallocate()
                storage = larger
                capacity *= 2
            }
            let count = Self.fill(fd, storage + held, capacity - held, error: &failure)
            if failure != 0 { throw FileSystemError(path: path, code: failure) }
            total += count
            if total > maxFileBytes { throw FileSystemError(path: path, message: "larger than \(maxFileBytes) bytes") }
            let filled = held + count
            if count == 0 {
                if filled > 0 { body(UnsafeBufferPointer(start: storage, count: filled)) }
                return true
            }
            var end = filled
            while end > 0 && storage[end - 1] != 0x0A { end -= 1 }
            if end > 0 { body(UnsafeBufferPointer(start: storage, count: end)) }
            held = filled - end
            if held > 0 && end > 0 { memmove(storage, storage + end, held) }
        }
    }

    /// At most the first `maxBytes` bytes of a regular file, or nil when it does not exist.
    public func readPrefix(_ path: String, maxBytes: Int) throws(FileSystemError) -> [UInt8]? {
        guard let log else { return try readFilePrefix(path, maxBytes: maxBytes) }
        log.note(.read, path)
        let bytes = try readFilePrefix(path, maxBytes: maxBytes)
        if let bytes { log.read(path, bytes, partial: bytes.count == maxBytes) }
        return bytes
    }

    private func readFilePrefix(_ path: String, maxBytes: Int) throws(FileSystemError) -> [UInt8]? {
        guard let (fd, _) = try openRegularFile(path) else { return nil }
        defer { close(fd) }
        var failure: Int32 = 0
        // Uninitialized storage: nothing zero-filled that the read overwrites (16 KiB for the head
        // of each METADATA file of a Python site).
        let bytes = [UInt8](unsafeUninitializedCapacity: maxBytes) { buffer, count in
            count = maxBytes == 0 ? 0 : Self.fill(fd, buffer.baseAddress!, maxBytes, error: &failure)
        }
        if failure != 0 { throw FileSystemError(path: path, code: failure) }
        return bytes
    }

    /// The text of a file (invalid UTF-8 repaired), or nil when it does not exist.
    public func read(_ path: String) throws(FileSystemError) -> String? {
        guard let bytes = try readBytes(path) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The text of a file whose secrets the probe masks before they reach the manifest
    /// (`/proc/cmdline`): a recording of the machine holds `mask(text)` instead of the text, so it
    /// never carries what the manifest masks. `mask` must give the same result on its own output.
    public func read(_ path: String, recordingMasked mask: (String) -> String) throws(FileSystemError) -> String? {
        guard let log else { return try read(path) }
        log.note(.read, path)
        guard let bytes = try readWholeFile(path) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        log.read(path, Array(mask(text).utf8), partial: false)
        return text
    }

    /// The first line of a small sysfs/procfs attribute, trimmed; nil when absent or unreadable.
    public func attribute(_ path: String) -> String? {
        guard let text = try? read(path) else { return nil }
        let line = text.lines.first ?? ""
        let trimmed = line.trimmingCharacters(in: " \t\r")
        return trimmed.isEmpty ? nil : trimmed
    }

    /// Entry names of a directory (without `.` and `..`), sorted; nil when it does not exist.
    public func list(_ path: String) throws(FileSystemError) -> [String]? {
        log?.note(.list, path)
        let listing: DirectoryListing?
        do {
            if let listings {
                listing = try listings.answer(for: path) { () throws(FileSystemError) in try listDirectory(path) }
            } else {
                listing = try listDirectory(path)
            }
        } catch {
            witnesses?.note(path, following: true, content: true, FileStat(path: hostPath(path), following: true))
            throw error
        }
        if let witnesses {
            if let listing {
                if let stat = listing.stat { witnesses.note(path, following: true, content: true, stat) } else { witnesses.refuse("\(path): fstat failed") }
            } else {
                noteAbsence(path, directory: true)
            }
        }
        return listing?.names
    }

    /// Witnesses that no file (`directory`: no directory) is at `path`, as a read (a listing)
    /// found: what is there now, when it is not such a thing; when it is, it appeared meanwhile
    /// and the probe is not remembered.
    private func noteAbsence(_ path: String, directory: Bool = false) {
        guard let witnesses else { return }
        let now = FileStat(path: hostPath(path), following: true)
        if let now, !directory || now.type == UInt32(S_IFDIR) {
            witnesses.refuse("\(path) appeared while the probe read it")
        } else {
            witnesses.note(path, following: true, content: true, now)
        }
    }

    /// The directory's names, with what `fstat` said of it before they were read.
    private func listDirectory(_ path: String) throws(FileSystemError) -> DirectoryListing? {
        guard let dir = opendir(hostPath(path)) else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return nil }
            throw FileSystemError(path: path, code: code)
        }
        defer { closedir(dir) }
        var info = stat()
        let identity = fstat(dirfd(dir), &info) == 0 ? FileStat(info) : nil
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return DirectoryListing(names: names.sorted(), stat: identity)
    }

    /// Whether anything (file, directory, link) exists at the path.
    public func exists(_ path: String) -> Bool {
        log?.note(.exists, path)
        var info = stat()
        let found = lstat(hostPath(path), &info) == 0
        witnesses?.note(path, following: false, content: false, found ? FileStat(info) : nil)
        return found
    }

    public func isDirectory(_ path: String) -> Bool {
        log?.note(.isDirectory, path)
        var info = stat()
        let found = stat(hostPath(path), &info) == 0
        witnesses?.note(path, following: true, content: false, found ? FileStat(info) : nil)
        return found && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The target of a symbolic link, or nil when the path is not a link.
    public func readLink(_ path: String) -> String? {
        log?.note(.readLink, path)
        if let witnesses {
            // A link's target is its content: a link made again in its place, which may get the
            // same inode number, has new times. Anything else only has to stay what it is.
            let now = FileStat(path: hostPath(path), following: false)
            witnesses.note(path, following: false, content: now?.type == UInt32(S_IFLNK), now)
        }
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(hostPath(path), &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Answers one capture looks up once and shares among its probes (`Capture` makes them): a
/// key's answer found first, a missing one (nil) too, is the answer for the rest of the capture;
/// a lookup that fails keeps nothing. Thread-safe: probes run concurrently.
public final class CaptureAnswers<Answer: Sendable>: @unchecked Sendable {
    private let mutex = Mutex()
    private var answers: [String: Answer?] = [:]

    public init() {}

    /// The answer kept for `key`, else what `find` says, kept.
    func answer<Failure: Error>(for key: String, _ find: () throws(Failure) -> Answer?) throws(Failure) -> Answer? {
        if let known = mutex.withLock({ answers[key] }) { return known }
        let found = try find()
        mutex.withLock { answers[key] = .some(found) }
        return found
    }
}

/// A directory's entry names, sorted, and what `fstat` said of it before they were read (nil when
/// it could not say).
public struct DirectoryListing: Sendable {
    public var names: [String]
    public var stat: FileStat?
}

/// What `RootedFileSystem.list` answered for each directory during one capture.
public typealias DirectoryListings = CaptureAnswers<DirectoryListing>
/// Where `LiveCommandRunner.resolve` found each command name during one capture.
public typealias CommandResolutions = CaptureAnswers<String>

/// A file that exists but could not be read: the machine path and the reason.
public struct FileSystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    init(path: String, code: Int32) {
        self.init(path: path, message: String(cString: strerror(code)).lowercased())
    }

    public var description: String { "\(path): \(message)" }
}
