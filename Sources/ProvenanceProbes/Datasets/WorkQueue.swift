import ProvenanceProbeKit

/// Hands out file indices in batches: one large file, or small ones up to 64 files or 8 MiB.
final class WorkQueue: @unchecked Sendable {
    private let mutex = Mutex()
    private let order: [Int]
    private let sizes: [Int64]
    private var cursor = 0

    init(order: [Int], sizes: [Int64]) {
        self.order = order
        self.sizes = sizes
    }

    func next() -> ArraySlice<Int>? {
        mutex.withLock {
            guard cursor < order.count else { return nil }
            let start = cursor
            var bytes: Int64 = 0
            while cursor < order.count && cursor - start < 64 && bytes < 8 << 20 {
                bytes += sizes[cursor]
                cursor += 1
            }
            return order[start..<cursor]
        }
    }
}
