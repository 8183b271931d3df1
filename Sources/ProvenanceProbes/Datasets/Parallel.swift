import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs `body(0)`, …, `body(count - 1)` on `count` threads (the calling one included) and
/// returns when all are done. Threads that cannot be created run their part in place.
func runParallel(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Box {
        let body: @Sendable (Int) -> Void
        let index: Int
        init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int) {
            self.body = body
            self.index = index
        }
    }
    var threads: [pthread_t] = []
    var inPlace: [Int] = []
    for index in 1..<max(1, count) {
        let box = Unmanaged.passRetained(Box(body, index)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body(box.index)
            return nil
        }, box)
        if status == 0 {
            threads.append(thread)
        } else {
            Unmanaged<Box>.fromOpaque(box).release()
            inPlace.append(index)
        }
    }
    body(0)
    for index in inPlace { body(index) }
    for thread in threads { pthread_join(thread, nil) }
}

/// The number of CPUs this process may run on: its affinity mask (a Slurm job's cpuset,
/// `taskset`), read from the `Cpus_allowed` line of `/proc/self/status`; else the online CPUs.
public func availableCPUs() -> Int {
    if let text = try? RootedFileSystem().read("/proc/self/status"), let count = countAllowedCPUs(status: text) {
        return count
    }
    return max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
}

/// The CPUs of the `Cpus_allowed:` mask (comma-separated hex words) of a `/proc/PID/status` text.
func countAllowedCPUs(status: String) -> Int? {
    guard let line = status.lines.first(where: { $0.hasPrefix("Cpus_allowed:") }) else { return nil }
    var count = 0
    for character in line.dropFirst("Cpus_allowed:".count) where character != "," && character != " " && character != "\t" {
        guard let value = character.hexDigitValue else { return nil }
        count += value.nonzeroBitCount
    }
    return count > 0 ? count : nil
}
