import ProvenanceProbeKit

/// Hands out file indices in batches: one large file, or small ones up to 64 files or 8 MiB.
///
/// Files whose size is not known yet (listed without `stat`) count as small. A worker that finds
/// one of them large gives it back with `deferLarge`; such files are handed out one at a time,
/// largest first, once every batch is handed out. A worker asking then while another still hashes
/// a batch (which may give back more) waits for it. Each batch ends with `finish()`.
final class WorkQueue: @unchecked Sendable {
    private let mutex = Mutex()
    private let order: [Int]
    private let sizes: [Int64]
    private var cursor = 0
    /// Batches handed out and not finished.
    private var inFlight = 0
    /// Large files given back, sorted by size (largest last).
    private var late: [(index: Int, size: Int64)] = []

    /// `order`: file indices in the order to hand them out; `sizes`: their sizes (0 when unknown).
    init(order: [Int], sizes: [Int64]) {
        self.order = order
        self.sizes = sizes
    }

    /// The next batch; nil when all are handed out, finished, and none was given back.
    func next() -> [Int]? {
        mutex.lock()
        defer { mutex.unlock() }
        while true {
            if cursor < order.count {
                let start = cursor
                var bytes: Int64 = 0
                while cursor < order.count && cursor - start < 64 && bytes < 8 << 20 {
                    bytes += sizes[cursor]
                    cursor += 1
                }
                inFlight += 1
                return Array(order[start..<cursor])
            }
            if let largest = late.popLast() {
                inFlight += 1
                return [largest.index]
            }
            if inFlight == 0 { return nil }
            mutex.wait(until: monotonicSeconds() + 1)
        }
    }

    /// Ends a batch from `next()`.
    func finish() {
        mutex.withLock {
            inFlight -= 1
            mutex.broadcast()
        }
    }

    /// Gives back a file found to be large, to be handed out again after the small ones.
    func deferLarge(_ index: Int, size: Int64) {
        mutex.withLock {
            let at = late.firstIndex { $0.size > size } ?? late.endIndex
            late.insert((index, size), at: at)
            mutex.broadcast()
        }
    }
}
