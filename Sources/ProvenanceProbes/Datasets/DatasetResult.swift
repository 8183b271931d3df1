/// What hashing one dataset found: its regular files with their digests, its symbolic links, what
/// was skipped, and the dataset digest. Paths are relative to the dataset, as raw bytes.
public struct DatasetResult: Sendable {
    public enum Kind: String, Sendable { case file, directory }

    /// The dataset path as given (absolute).
    public var path: String
    /// The path with every symbolic link resolved (`realpath`).
    public var realPath: String
    public var kind: Kind
    /// Hashed regular files, sorted by path bytes.
    public var files: [DatasetFile]
    /// Symbolic links, sorted by path bytes; never followed.
    public var symlinks: [DatasetSymlink]
    /// Entries not hashed (special files, unreadable, changed or vanished files), sorted by path bytes.
    public var skipped: [DatasetSkip]
    /// `DatasetListing.listing(files)`: what the sidecar holds.
    public var listing: [UInt8]
    /// SHA-256 of `listing`.
    public var digest: FileDigest
    public var totalBytes: Int64
    public var statistics: DatasetStatistics
}
