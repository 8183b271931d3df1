/// One hashed regular file.
public struct DatasetFile: Sendable, Equatable {
    /// Relative to the dataset root (for a single-file dataset: its name), without `./`.
    public var path: [UInt8]
    public var size: Int64
    public var digest: FileDigest

    public init(path: [UInt8], size: Int64, digest: FileDigest) {
        self.path = path
        self.size = size
        self.digest = digest
    }
}
