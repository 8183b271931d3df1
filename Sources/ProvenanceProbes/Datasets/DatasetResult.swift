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
    /// SHA-256 of the listing (`DatasetListing.listing(files)`).
    public var digest: FileDigest
    public var totalBytes: Int64
    public var statistics: DatasetStatistics
}

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

/// One symbolic link: where it is and what it says. It is never followed.
public struct DatasetSymlink: Sendable, Equatable {
    /// Where the link leads when resolved (`realpath` of the link).
    public enum Resolution: String, Sendable {
        /// To something inside the dataset (hashed under its own path if it is a regular file).
        case inside
        /// Out of the dataset: not followed, not hashed.
        case outside
        /// To nothing.
        case dangling
        /// Into a loop of links (ELOOP).
        case loop
        /// Could not be resolved for another reason (a component is not a directory, permissions).
        case unresolvable
    }

    public var path: [UInt8]
    public var target: [UInt8]
    public var resolution: Resolution
}

/// An entry that was not hashed, and why.
public struct DatasetSkip: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// Special files: listed, never opened.
        case fifo, socket, blockDevice, characterDevice
        /// A file or directory that could not be opened or read.
        case unreadable
        /// A file whose size, times or inode differed before and after it was read (twice).
        case changed
        /// Listed, then gone before it could be hashed.
        case vanished
        /// A directory that is its own ancestor (a bind mount of a parent): not walked again.
        case directoryLoop
    }

    public var path: [UInt8]
    public var kind: Kind
    public var reason: String

    /// Whether the skip is a problem of the capture (the section becomes `partial`), rather than
    /// a special file that is not data.
    public var isProblem: Bool {
        switch kind {
        case .fifo, .socket, .blockDevice, .characterDevice, .directoryLoop: return false
        case .unreadable, .changed, .vanished: return true
        }
    }
}

/// How much work a hash took: what was read, what came from the stat cache.
public struct DatasetStatistics: Sendable, Equatable {
    /// Files opened and read.
    public var filesRead: Int = 0
    /// Bytes read from files.
    public var bytesRead: Int64 = 0
    /// Files whose digest came from the stat cache (not read).
    public var cacheHits: Int = 0
    /// The cache: `off`, `new` (none yet), `used`, `ignored: <why>` (corrupt, another version).
    public var cache: String = "off"
    /// Whether the cache file was (re)written, and the reason when it could not be.
    public var cacheWrite: String?

    public init() {}
}
