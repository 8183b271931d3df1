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
