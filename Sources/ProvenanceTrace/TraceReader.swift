#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads the segment files the interposer wrote into a trace directory.
public enum TraceReader {
    static let headerBytes = 64
    static let recordBytes = 80

    /// Every complete record of every `*.seg` file in `directory`, sorted by time.
    public static func read(directory: String) -> (events: [TraceEvent], problems: [String]) {
        var events: [TraceEvent] = []
        var problems: [String] = []
        guard let dir = opendir(directory) else {
            return ([], ["cannot read the trace directory \(directory): \(String(cString: strerror(errno)))"])
        }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasSuffix(".seg") { names.append(name) }
        }
        closedir(dir)
        for name in names.sorted() {
            guard let bytes = readFile(directory + "/" + name) else {
                problems.append("cannot read trace segment \(name)")
                continue
            }
            let parsed = parseSegment(bytes)
            events += parsed.events
            if let problem = parsed.problem { problems.append("\(name): \(problem)") }
        }
        events.sort { $0.timeNanoseconds < $1.timeNanoseconds }
        return (events, problems)
    }

    /// The records of one segment, up to the first incomplete one.
    public static func parseSegment(_ bytes: [UInt8]) -> (events: [TraceEvent], problem: String?) {
        guard bytes.count >= headerBytes, bytes.prefix(8).elementsEqual("PVTRACE1".utf8) else {
            return ([], "not a trace segment")
        }
        let used = min(Int(clamping: load(UInt64.self, bytes, 8)), bytes.count)
        var events: [TraceEvent] = []
        var at = headerBytes
        while at + recordBytes <= used {
            let type = bytes[at]
            let length = Int(load(UInt32.self, bytes, at + 4))
            guard type != 0 else { break }  // reserved, never completed (the process was killed)
            guard let kind = TraceEvent.Kind(rawValue: type), length >= recordBytes, at + length <= used else {
                return (events, "malformed record at byte \(at)")
            }
            let pathLength = Int(load(UInt32.self, bytes, at + 72))
            let path2Length = Int(load(UInt32.self, bytes, at + 76))
            guard recordBytes + pathLength + path2Length <= length else {
                return (events, "malformed record at byte \(at)")
            }
            var event = TraceEvent(kind: kind, pid: load(Int32.self, bytes, at + 8),
                                   path: Array(bytes[(at + recordBytes)..<(at + recordBytes + pathLength)]))
            event.parent = load(Int32.self, bytes, at + 12)
            event.flags = load(UInt32.self, bytes, at + 16)
            event.identity.mode = load(UInt32.self, bytes, at + 20)
            event.timeNanoseconds = load(UInt64.self, bytes, at + 24)
            event.identity.device = load(UInt64.self, bytes, at + 32)
            event.identity.inode = load(UInt64.self, bytes, at + 40)
            event.identity.size = load(Int64.self, bytes, at + 48)
            event.identity.modifiedNanoseconds = load(Int64.self, bytes, at + 56)
            event.identity.changedNanoseconds = load(Int64.self, bytes, at + 64)
            let start2 = at + recordBytes + pathLength
            event.path2 = Array(bytes[start2..<(start2 + path2Length)])
            events.append(event)
            at += length
        }
        return (events, nil)
    }

    private static func load<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], _ offset: Int) -> T {
        bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }

    /// The used part of a segment: the header's `used` count, not the sparse megabyte.
    static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: headerBytes)
        guard pread(fd, &header, headerBytes, 0) == headerBytes else { return nil }
        let used = Int(clamping: header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self) })
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        let count = max(headerBytes, min(used, Int(info.st_size)))
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            done += n
        }
        return Array(bytes.prefix(done))
    }
}
