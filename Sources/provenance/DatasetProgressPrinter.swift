import ProvenanceProbeKit
import ProvenanceProbes

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Shows dataset hashing progress on standard error (a terminal) once it has taken a second:
/// one line rewritten in place, files, bytes and rate; cleared at the end.
final class DatasetProgressPrinter: @unchecked Sendable {
    private let progress: DatasetProgress
    private let mutex = Mutex()
    private var stopped = false
    private var printed = false
    private var done = false

    init(progress: DatasetProgress) {
        self.progress = progress
    }

    func start() {
        startDetachedThread { self.run() }
    }

    /// Stops the updates and clears the line (waits for the printing thread to let go of it).
    func stop() {
        mutex.withLock {
            stopped = true
            mutex.broadcast()
            while !done { mutex.wait(until: monotonicSeconds() + 0.1) }
            if printed { printRaw("\r\u{1B}[K") }
        }
    }

    private func run() {
        mutex.lock()
        defer {
            done = true
            mutex.broadcast()
            mutex.unlock()
        }
        while !stopped {
            mutex.wait(until: monotonicSeconds() + 0.25)
            if stopped { break }
            let snapshot = progress.snapshot
            let now = monotonicSeconds()
            guard let started = snapshot.started, now - started >= 1 else { continue }
            printRaw("\r\u{1B}[Kprovenance: " + snapshot.line(now: now))
            printed = true
        }
    }

    private func printRaw(_ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
    }
}
