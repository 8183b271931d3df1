import ProvenanceCore

/// Bytes a probe produces that belong next to the manifest rather than inside it (the git
/// probe's patch of uncommitted changes), keyed by their `sha256:` digest. Thread-safe.
///
/// The probe's output carries only the digest (and size), so the manifest's data and its
/// fingerprint do not depend on where the bytes end up; after the capture the command line takes
/// the bytes the manifest refers to and writes them beside it, or inline
/// (`Manifest.attachments`). A probe abandoned at its deadline may still add bytes: only digests
/// referenced by a finished section are ever used.
public final class AttachmentStore: @unchecked Sendable {
    private let lock = Mutex()
    private var items: [String: [UInt8]] = [:]

    public init() {}

    /// Keeps `bytes` and returns their digest, `sha256:` + 64 hex digits.
    @discardableResult
    public func put(_ bytes: [UInt8]) -> String {
        let digest = Manifest.sha256(bytes)
        lock.withLock { items[digest] = bytes }
        return digest
    }

    /// The bytes kept under a digest, if any.
    public func bytes(for digest: String) -> [UInt8]? {
        lock.withLock { items[digest] }
    }

    /// The file name of a patch beside manifest `STEM.json`: `STEM.diff.HEX12.patch`, the first 12
    /// hex digits of its digest. A name that carries the digest is never rewritten with other
    /// bytes, so a manifest always refers to the patch it was captured with, whatever moment a
    /// writer is killed at or however many captures write to one place.
    public static func patchFileName(stem: String, digest: String) -> String {
        let hex = digest.hasPrefix("sha256:") ? digest.dropFirst(7) : Substring(digest)
        return "\(stem).diff.\(hex.prefix(12)).patch"
    }

    /// Whether `name` is a patch written beside manifest `STEM.json` (by this version,
    /// `STEM.diff.HEX12.patch`, or earlier ones, `STEM.diff.patch` and `STEM.diff.N.patch`).
    public static func isPatchFileName(_ name: String, stem: String) -> Bool {
        guard name.hasPrefix(stem + ".diff."), name.hasSuffix(".patch") else { return false }
        let middle = name.dropFirst(stem.count + 6).dropLast(6)
        return middle.isEmpty || middle.allSatisfy { $0.isHexDigit }
    }
}
