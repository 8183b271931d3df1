import ProvenanceCore

/// What probes read and ran on a machine, recorded while they run: the raw material of
/// `provenance record` (`MachineRecording`) and of the check that a probe reads only within what
/// its descriptor declares.
///
/// A `RootedFileSystem` and a `RecordingCommandRunner` given a log (`Machine.recordingAccesses`)
/// report to it; without one they cost a nil check. Thread-safe: probes run concurrently.
public final class MachineAccessLog: @unchecked Sendable {
    /// How a probe touched a path.
    public enum Kind: String, Sendable, Comparable {
        /// Read the file's bytes (whole or a prefix).
        case read
        /// Listed the directory.
        case list
        /// Asked whether something exists there (lstat: not following a final link).
        case exists
        /// Asked whether it is a directory (stat: following links).
        case isDirectory
        /// Read the target of a symbolic link.
        case readLink
        /// A library the probe calls (libpci) reads it directly, not through the probe's context.
        case externalRead

        public static func < (lhs: Kind, rhs: Kind) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// One touch of a path by a probe (nil: outside any probe).
    public struct Access: Hashable, Sendable {
        public var kind: Kind
        public var path: String
        public var probe: String?
    }

    /// One command a probe ran, with what it answered.
    public struct Command: Sendable {
        public var argv: [String]
        public var result: CommandResult
        public var probe: String?
    }

    private let mutex = Mutex()
    private var _accesses: Set<Access> = []
    /// The bytes a probe saw, by machine path: the first read wins (replay returns one answer too).
    private var _contents: [String: [UInt8]] = [:]
    /// Paths read only in part (`readPrefix`): the recording holds that part.
    private var _partial: Set<String> = []
    private var _commands: [Command] = []
    private var _resolved: [String: String] = [:]
    private var _secrets: Set<String> = []

    public init() {}

    func noteAccess(_ kind: Kind, _ path: String, probe: String?) {
        mutex.withLock { _ = _accesses.insert(Access(kind: kind, path: path, probe: probe)) }
    }

    func noteRead(_ path: String, bytes: [UInt8], partial: Bool, probe: String?) {
        mutex.withLock {
            _accesses.insert(Access(kind: .read, path: path, probe: probe))
            if let existing = _contents[path] {
                // A whole read after a partial one replaces it.
                if _partial.contains(path) && !partial && bytes.count >= existing.count {
                    _contents[path] = bytes
                    _partial.remove(path)
                }
                return
            }
            _contents[path] = bytes
            if partial { _partial.insert(path) }
        }
    }

    func noteCommand(_ argv: [String], _ result: CommandResult, probe: String?) {
        mutex.withLock { _commands.append(Command(argv: argv, result: result, probe: probe)) }
    }

    func noteSecret(_ value: String) {
        mutex.withLock { _ = _secrets.insert(value) }
    }

    /// Raw values probes masked in what they read (`RootedFileSystem.noteMasked`).
    public var secrets: Set<String> { mutex.withLock { _secrets } }

    func noteResolved(_ name: String, _ path: String) {
        mutex.withLock { if _resolved[name] == nil { _resolved[name] = path } }
    }

    /// Every path touched, by whom and how.
    public var accesses: Set<Access> { mutex.withLock { _accesses } }
    /// The bytes read from each path (the first read; a prefix for partial reads).
    public var contents: [String: [UInt8]] { mutex.withLock { _contents } }
    public var partialReads: Set<String> { mutex.withLock { _partial } }
    /// Every command run, in order.
    public var commands: [Command] { mutex.withLock { _commands } }
    /// Command names resolved through PATH (live: `CommandRunner.resolve`), with their paths.
    public var resolved: [String: String] { mutex.withLock { _resolved } }

    /// The view of this log a probe reports through.
    public func scoped(to probe: String?) -> AccessLogScope { AccessLogScope(log: self, probe: probe) }
}

/// A `MachineAccessLog` seen from one probe: what it reports is attributed to that probe.
public struct AccessLogScope: Sendable {
    public let log: MachineAccessLog
    public let probe: String?

    public func note(_ kind: MachineAccessLog.Kind, _ path: String) { log.noteAccess(kind, path, probe: probe) }
    func read(_ path: String, _ bytes: [UInt8], partial: Bool) {
        log.noteRead(path, bytes: bytes, partial: partial, probe: probe)
    }
}
