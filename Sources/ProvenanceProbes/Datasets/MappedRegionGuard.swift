import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Makes reading a memory-mapped file survive the file being truncated under it.
///
/// Touching a mapped page beyond a file's end raises SIGBUS, which kills the process. While a
/// thread hashes a mapped window it registers the window in a slot; the SIGBUS handler, finding
/// the faulting address in a slot, maps zero pages over the rest of that window, marks the slot
/// and returns, so the read goes on (over zeros) and the hasher reports the file as changed. A
/// fault outside every slot restores the previous handler (Swift's crash backtracer) and returns,
/// so it crashes as it would have. The handler is installed once, the first time a slot is taken.
///
/// Each slot is three words (start, end, faulted), written only by the thread that owns it and
/// read by the handler, which runs on the faulting thread. The handler only reads the table and
/// calls `mmap`, a plain system call.
enum MappedRegionGuard {
    static let slotCount = 256
    nonisolated(unsafe) static let table: UnsafeMutablePointer<UInt> = {
        // Three words per slot, then the page mask.
        let table = UnsafeMutablePointer<UInt>.allocate(capacity: slotCount * 3 + 1)
        table.initialize(repeating: 0, count: slotCount * 3)
        table[slotCount * 3] = ~UInt(max(4096, sysconf(Int32(_SC_PAGESIZE))) - 1)
        return table
    }()
    nonisolated(unsafe) static var previous = sigaction()
    nonisolated(unsafe) static var owners = [Bool](repeating: false, count: slotCount)
    static let mutex = Mutex()
    nonisolated(unsafe) static var installed = false

    /// A free slot for the calling hasher (nil when all are taken: use `read(2)` then).
    static func claim() -> Int? {
        mutex.withLock {
            if !installed {
                var action = sigaction()
                action.__sigaction_handler.sa_sigaction = handler
                action.sa_flags = SA_SIGINFO
                sigemptyset(&action.sa_mask)
                guard sigaction(SIGBUS, &action, &previous) == 0 else { return nil }
                installed = true
            }
            guard let free = owners.firstIndex(of: false) else { return nil }
            owners[free] = true
            return free
        }
    }

    static func release(_ slot: Int) {
        disarm(slot)
        mutex.withLock { owners[slot] = false }
    }

    /// Registers `[start, start + length)` as the window `slot` reads.
    static func arm(_ slot: Int, start: UnsafeRawPointer, length: Int) {
        table[slot * 3 + 2] = 0
        table[slot * 3] = UInt(bitPattern: start)
        table[slot * 3 + 1] = UInt(bitPattern: start) + UInt(length)
    }

    /// Unregisters the slot's window; true when a page of it was beyond the file's end.
    @discardableResult
    static func disarm(_ slot: Int) -> Bool {
        table[slot * 3] = 0
        table[slot * 3 + 1] = 0
        return table[slot * 3 + 2] != 0
    }

    private static let handler: @convention(c) (Int32, UnsafeMutablePointer<siginfo_t>?, UnsafeMutableRawPointer?) -> Void = {
        _, info, _ in
        if let info {
            let address = UInt(bitPattern: info.pointee._sifields._sigfault.si_addr)
            let table = MappedRegionGuard.table
            for slot in 0..<MappedRegionGuard.slotCount {
                let start = table[slot * 3]
                let end = table[slot * 3 + 1]
                guard start != 0, address >= start, address < end else { continue }
                let page = address & table[MappedRegionGuard.slotCount * 3]
                let zeros = mmap(UnsafeMutableRawPointer(bitPattern: page), Int(end - page), PROT_READ,
                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
                if zeros != MAP_FAILED {
                    table[slot * 3 + 2] = 1
                    return
                }
            }
        }
        // Not a window being hashed: let the fault happen again under the previous handler.
        sigaction(SIGBUS, &MappedRegionGuard.previous, nil)
    }
}
