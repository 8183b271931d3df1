import ProvenanceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a probe gets the time of day: the system clock, or a fixed one for tests and
/// reproducible goldens (`SOURCE_DATE_EPOCH`).
public protocol WallClock: Sendable {
    /// Seconds since the Unix epoch.
    func secondsSinceEpoch() -> Int64
}

public struct SystemClock: WallClock {
    public init() {}
    public func secondsSinceEpoch() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }
}

public struct FixedClock: WallClock {
    public let seconds: Int64
    public init(secondsSinceEpoch: Int64) { self.seconds = secondsSinceEpoch }
    public func secondsSinceEpoch() -> Int64 { seconds }
}
