/// Paths of a trace: byte strings (a file name need not be valid UTF-8), absolute.
public enum TracePath {
    /// `path` without `.` components, repeated or trailing slashes, and with `..` applied
    /// lexically (as the interposer records the name the process used, not the resolved file).
    public static func normalise(_ path: [UInt8]) -> [UInt8] {
        var parts: [ArraySlice<UInt8>] = []
        for part in path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if part.elementsEqual([UInt8(ascii: ".")]) { continue }
            if part.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        var out: [UInt8] = []
        out.reserveCapacity(path.count)
        for part in parts {
            out.append(UInt8(ascii: "/"))
            out += part
        }
        return out.isEmpty ? [UInt8(ascii: "/")] : out
    }

    /// `path` is `prefix` or inside it (both normalised).
    public static func isInside(_ path: [UInt8], _ prefix: [UInt8]) -> Bool {
        if prefix == [UInt8(ascii: "/")] { return true }
        guard path.starts(with: prefix) else { return false }
        return path.count == prefix.count || path[prefix.count] == UInt8(ascii: "/")
    }

    /// Runs `body` with `path` as a C string.
    static func withCString<T>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
        (path + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
    }
}
