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
}
