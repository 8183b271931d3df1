#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The probes of one capture, taken in start order by a few worker threads instead of a thread
/// each.
///
/// Why: a thread costs about 55 µs of CPU to start and end here (a C harness: 27 threads, 1 MiB
/// stacks, 1.5 ms), and two dozen runnable threads on 2 cores take turns with the longest probe
/// (the git probe in a repository). Four workers against a thread per probe, alternating
/// captures on 2 cores (60 each): outside a repository 20.4 → 18.3 ms of wall time (CPU 18.9 →
/// 17.6), this checkout 24.0 → 21.9 ms (CPU 27.8 → 26.3).
///
/// A probe may block (a slow command, a hung filesystem) well past what the others take: while
/// probes wait, the capture calls `checkProgress` every `stallSeconds`, and when no probe was taken
/// since the last call every worker is busy in a long probe, so another worker starts. A probe
/// waiting behind blocked ones thus starts within a few `stallSeconds`, and one stuck past its
/// deadline holds only its own worker (which the capture abandons with it, as before).
final class ProbeQueue: @unchecked Sendable {
    /// How long the queue may stand still before another worker starts (20 ms: a probe's own work
    /// is a few ms; the capture of this machine takes about 10 ms of probes in all).
    static let stallSeconds = 0.02

    private let mutex = Mutex()
    private let jobs: [@Sendable () -> Void]
    private var next = 0
    private var takenAtLastCheck = 0

    init(_ jobs: [@Sendable () -> Void]) {
        self.jobs = jobs
    }

    /// The workers a capture starts with: two more than the CPUs online, so that a probe waiting
    /// on a command does not leave a core idle; at most one per probe.
    static func initialWorkers(probes: Int) -> Int {
        min(probes, max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) + 2)
    }

    /// Starts `count` workers. Where no thread can be made, the probes run in place, as each
    /// would have when it had its own thread.
    func start(workers count: Int) {
        for _ in 0..<min(count, jobs.count) { addWorker(inPlace: true) }
    }

    /// Whether probes wait to be taken.
    var isWaiting: Bool { mutex.withLock { next < jobs.count } }

    /// Starts another worker when probes wait and none was taken since the last call.
    func checkProgress() {
        let stalled = mutex.withLock {
            defer { takenAtLastCheck = next }
            return next < jobs.count && next == takenAtLastCheck
        }
        // Never in place here: the capture calls this holding the lock probes finish under.
        if stalled { addWorker(inPlace: false) }
    }

    private func addWorker(inPlace: Bool) {
        startDetachedThread(inPlace: inPlace) { [self] in
            while let job = take() { job() }
        }
    }

    private func take() -> (@Sendable () -> Void)? {
        mutex.withLock {
            guard next < jobs.count else { return nil }
            defer { next += 1 }
            return jobs[next]
        }
    }
}
