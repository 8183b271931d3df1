import Crypto

/// A SHA-256 fed piece by piece (checkpoints are too large to hold in memory).
public struct StreamingSHA256: Sendable {
    private var hasher = SHA256()

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
    }

    /// `sha256:` and 64 lowercase hex digits, like `Manifest.sha256`.
    public func finalize() -> String {
        "sha256:" + hasher.finalize().map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
