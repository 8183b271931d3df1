import ProvenanceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A pthread mutex with a condition variable: the small amount of locking the scheduler and the
/// command runner need, without Foundation.
public final class Mutex: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()

    public init() {
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    public func lock() { pthread_mutex_lock(&mutex) }
    public func unlock() { pthread_mutex_unlock(&mutex) }

    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Wakes the waiters. Call with the lock held.
    public func broadcast() { pthread_cond_broadcast(&condition) }

    /// Waits (lock held) until woken or the monotonic time `deadline` (seconds) passes.
    public func wait(until deadline: Double) {
        var time = timespec()
        let deadline = deadline.isFinite ? min(max(deadline, 0), 1e12) : 1e12  // Int(1e19) traps
        time.tv_sec = Int(deadline)
        time.tv_nsec = Int((deadline - Double(Int(deadline))) * 1e9)
        pthread_cond_timedwait(&condition, &mutex, &time)
    }
}

/// The stack of a thread `startDetachedThread` starts: 1 MiB, not glibc's 8 MiB (the stack
/// rlimit). A capture starts about 27 threads; with 8 MiB stacks glibc's stack cache (40 MiB) is
/// overrun, so exiting threads unmapped their stacks, and each exit's `madvise` of 8 MiB flushed
/// the other CPU's TLB. With 1 MiB: 0.6 ms less wall time and 0.7 ms less CPU per capture (2
/// cores, alternating runs). The deepest users measured: libgit2 hashing a changed file (a
/// 64 KiB buffer on the stack: 64 KiB stacks fail, 128 KiB do) and a site probe's JSON nested to
/// the parser's limit (fine at 256 KiB).
public let threadStackBytes = 1 << 20

/// Starts `body` on a new detached thread (work that may block in a system call must never
/// starve the rest), with a `threadStackBytes` stack. When no thread can be made, `body` runs
/// in place, unless `inPlace` is false.
public func startDetachedThread(inPlace: Bool = true, _ body: @escaping @Sendable () -> Void) {
    final class Box { let body: @Sendable () -> Void; init(_ body: @escaping @Sendable () -> Void) { self.body = body } }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    pthread_attr_setstacksize(&attributes, threadStackBytes)
    let status = pthread_create(&thread, &attributes, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    pthread_attr_destroy(&attributes)
    if status != 0 {
        // No thread could be made: run in place rather than lose the work.
        let unstarted = Unmanaged<Box>.fromOpaque(box).takeRetainedValue()
        if inPlace { unstarted.body() }
    }
}

/// Runs `body` for every item on its own thread and returns the results in order, once all are
/// done (each body bounds its own time: commands run with timeouts).
public func concurrentMap<T: Sendable, R: Sendable>(_ items: [T], _ body: @escaping @Sendable (T) -> R) -> [R] {
    let results = ConcurrentResults<R>(count: items.count)
    for (index, item) in items.enumerated() {
        startDetachedThread {
            let value = body(item)
            results.mutex.withLock {
                results.values[index] = value
                results.pending -= 1
                results.mutex.broadcast()
            }
        }
    }
    return results.mutex.withLock {
        while results.pending > 0 { results.mutex.wait(until: monotonicSeconds() + 1) }
        return results.values.map { $0! }
    }
}

private final class ConcurrentResults<R>: @unchecked Sendable {
    let mutex = Mutex()
    var values: [R?]
    var pending: Int
    init(count: Int) {
        values = Array(repeating: nil, count: count)
        pending = count
    }
}
