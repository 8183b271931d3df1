import ProvenanceProbeKit

/// The full results of the datasets probe, for the command line to write sidecars and `--sums`
/// after the capture. Thread-safe.
public final class DatasetResults: @unchecked Sendable {
    private let mutex = Mutex()
    private var stored: [(name: String, result: DatasetResult)] = []

    public init() {}

    func store(name: String, _ result: DatasetResult) {
        mutex.withLock { stored.append((name, result)) }
    }

    /// In the order of the `--dataset` flags.
    public var all: [(name: String, result: DatasetResult)] { mutex.withLock { stored } }
}
