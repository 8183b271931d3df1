/// A SHA-256 digest held inline (four words, no allocation): one per file of a dataset.
public struct FileDigest: Sendable, Hashable {
    public var words: (UInt64, UInt64, UInt64, UInt64)

    public init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }

    /// From 32 bytes (more are ignored, fewer are zero-filled).
    public init<Bytes: Sequence>(bytes: Bytes) where Bytes.Element == UInt8 {
        var raw = [UInt8](repeating: 0, count: 32)
        for (index, byte) in bytes.enumerated() where index < 32 { raw[index] = byte }
        func word(_ start: Int) -> UInt64 {
            var value: UInt64 = 0
            for index in start..<(start + 8) { value = value << 8 | UInt64(raw[index]) }
            return value
        }
        words = (word(0), word(8), word(16), word(24))
    }

    /// From the first 32 bytes of `raw` (which holds at least 32): no allocation, unlike `init(bytes:)`.
    init(raw: UnsafeRawBufferPointer) {
        func word(_ at: Int) -> UInt64 { UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        words = (word(0), word(8), word(16), word(24))
    }

    public static func == (a: FileDigest, b: FileDigest) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    /// The 32 bytes, big-endian words in order (the digest as SHA-256 defines it).
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for word in [words.0, words.1, words.2, words.3] {
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return out
    }

    /// Appends the 32 bytes (as `bytes`, without an array in between).
    public func appendBytes(to out: inout [UInt8]) {
        withUnsafeBytes(of: words.0.bigEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: words.1.bigEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: words.2.bigEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: words.3.bigEndian) { out.append(contentsOf: $0) }
    }

    /// Appends the 64 lowercase hex digits (written in place: one capacity check, not 64).
    public func appendHex(to out: inout [UInt8]) {
        // Arithmetic, not a table: a global table costs a lazy-initialisation check per call.
        @inline(__always) func digit(_ nibble: UInt64) -> UInt8 {
            UInt8(truncatingIfNeeded: nibble < 10 ? 0x30 + nibble : 0x57 + nibble)
        }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: 64))
        out.withUnsafeMutableBufferPointer { buffer in
            @inline(__always) func write(_ word: UInt64, at offset: Int) {
                for index in 0..<16 { buffer[offset + index] = digit((word >> UInt64(60 - 4 * index)) & 0xF) }
            }
            write(words.0, at: start)
            write(words.1, at: start + 16)
            write(words.2, at: start + 32)
            write(words.3, at: start + 48)
        }
    }

    /// The 64 lowercase hex digits.
    public var hex: String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        appendHex(to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
