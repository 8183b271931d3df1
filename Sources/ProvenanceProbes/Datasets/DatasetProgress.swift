import ProvenanceProbeKit

/// Counters of a running dataset hash, updated by the workers and read by whoever shows
/// progress (the command line, on a terminal). Thread-safe; the library itself never prints.
public final class DatasetProgress: @unchecked Sendable {
    public struct Snapshot: Sendable, Equatable {
        /// The dataset being worked on.
        public var dataset: String = ""
        /// `listing` while the tree is walked, `hashing` after.
        public var phase: String = "listing"
        public var filesListed: Int = 0
        /// Files done (read or found in the cache) and how many there are.
        public var filesDone: Int = 0
        public var filesTotal: Int = 0
        /// Bytes read and bytes to read (cached files are not counted).
        public var bytesDone: Int64 = 0
        public var bytesTotal: Int64 = 0
        /// Monotonic seconds when the first dataset started (nil before).
        public var started: Double?
        /// Monotonic seconds when the current dataset's hashing started.
        public var hashingStarted: Double?

        public init() {}

        /// One status line: `hashing train: 1,234/200,000 files, 1.20/4.00 GiB, 812 MB/s, 617 files/s`
        /// (rates since the dataset's hashing started; files from the cache count as done).
        public func line(now: Double) -> String {
            if phase == "listing" {
                return "listing \(dataset): \(grouped(filesListed)) files"
            }
            let seconds = max(0.001, now - (hashingStarted ?? started ?? now))
            return "hashing \(dataset): \(grouped(filesDone))/\(grouped(filesTotal)) files, "
                + "\(gibibytes(bytesDone))/\(gibibytes(bytesTotal)) GiB, \(Int(Double(bytesDone) / seconds / 1e6)) MB/s, "
                + "\(grouped(Int(Double(filesDone) / seconds))) files/s"
        }

        private func grouped(_ value: Int) -> String {
            let digits = Array(String(value))
            var out = ""
            for (index, digit) in digits.enumerated() {
                if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
                out.append(digit)
            }
            return out
        }

        private func gibibytes(_ bytes: Int64) -> String {
            let hundredths = bytes * 100 / (1 << 30)
            let fraction = hundredths % 100
            return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
        }
    }

    private let mutex = Mutex()
    private var state = Snapshot()

    public init() {}

    public var snapshot: Snapshot { mutex.withLock { state } }

    func begin(dataset: String) {
        mutex.withLock {
            if state.started == nil { state.started = monotonicSeconds() }
            state.dataset = dataset
            state.phase = "listing"
            state.filesListed = 0
        }
    }

    func listed(_ files: Int) { mutex.withLock { state.filesListed += files } }

    func startHashing(files: Int, bytes: Int64) {
        mutex.withLock {
            state.phase = "hashing"
            state.hashingStarted = monotonicSeconds()
            state.filesDone = 0
            state.filesTotal = files
            state.bytesDone = 0
            state.bytesTotal = bytes
        }
    }

    /// A file whose size the listing did not know adds it to the bytes to read once opened (a
    /// small one just after it was read).
    func addTotal(bytes: Int64) { mutex.withLock { state.bytesTotal += bytes } }

    func add(files: Int, bytes: Int64) {
        mutex.withLock {
            state.filesDone += files
            state.bytesDone += bytes
        }
    }
}
