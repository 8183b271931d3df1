import ProvenanceCore

/// A pluggable source of one manifest section.
///
/// Implementation requirements:
/// - Read the machine only through `context.fs`, `context.run(_:)`, `context.environment` and
///   `context.clock`, so the probe runs unchanged on a recorded machine (`--root`).
/// - Throw `ProbeAbsent` when the thing does not exist here (no NVIDIA driver, no repository):
///   the section says `absent`, which is not a failure.
/// - Otherwise return what you have and `report.issue(...)` each fact you could not get: the
///   section then says `partial`. Any other error thrown makes the section `failed`.
/// - Keep volatile values (temperatures, utilisation, timings) out of the output; put them in
///   `report.volatile` if they are worth keeping. Sort arrays (devices by bus address, packages by
///   name, files by path) so the output is deterministic.
/// - Return within the probe's deadline; commands started through `context.run` are bounded by it.
public protocol Probe: Sendable {
    associatedtype Output: Encodable
    var descriptor: ProbeDescriptor { get }
    func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output
    /// Whether the capture's workers take this probe before the others: for a probe that is
    /// usually the longest (the git probe: about half of a capture's CPU in a repository), so
    /// that it does not wait behind the other probes' work on a 2-core machine. The order of the
    /// sections in the manifest does not change.
    var startsFirst: Bool { get }
    /// What decides the probe's section besides the files it reads, when the section may be
    /// remembered between captures of the live machine (`SectionCache`); nil: never remembered.
    /// Only for a probe that reads the machine through `context.fs` and `context.commands.resolve`
    /// alone (it may run commands: a section that ran one is not remembered), and reads the
    /// environment or `context.process` only where the key says so.
    var sectionCacheKey: SectionCacheKey? { get }
}

extension Probe {
    public var startsFirst: Bool { false }
    public var sectionCacheKey: SectionCacheKey? { nil }
}

/// What a probe is: its manifest section id, version, and what it reads and runs.
public struct ProbeDescriptor: Sendable, Equatable {
    /// The section id in the manifest (`os`, `cpu`, `gpu.nvidia`).
    public var id: String
    /// Bumped whenever the probe's output for the same machine changes.
    public var version: String
    public var summary: String
    /// Files the probe reads (machine paths; `*` for patterns).
    public var reads: [String]
    /// Command lines the probe runs.
    public var runs: [String]
    /// Whether `provenance capture` runs it when not told otherwise.
    public var enabledByDefault: Bool
    /// The probe's own deadline in seconds; nil means the capture's `--timeout`.
    public var timeoutSeconds: Double?
    /// Fields of the probe's data whose values identify the site (a rack, a room, a project
    /// code): a site probe declares them, the capture records them in the section's `identifying`
    /// and `--anonymize` (render, record) replaces their values. Built-in probes declare none.
    public var identifying: [String] = []

    public init(id: String, version: String, summary: String, reads: [String] = [], runs: [String] = [],
                enabledByDefault: Bool = true, timeoutSeconds: Double? = nil)
    {
        self.id = id
        self.version = version
        self.summary = summary
        self.reads = reads
        self.runs = runs
        self.enabledByDefault = enabledByDefault
        self.timeoutSeconds = timeoutSeconds
    }
}

/// Thrown by a probe when what it describes is not on this machine.
public struct ProbeAbsent: Error, Sendable {
    public var reason: String
    public var source: String
    public init(source: String, reason: String) {
        self.source = source
        self.reason = reason
    }
}

/// Collects the issues (and volatile facts) of one probe run. Thread-safe.
public final class ProbeReport: @unchecked Sendable {
    private let lock = Mutex()
    private var _issues: [ProbeIssue] = []
    private var _volatile: JSONValue?
    private var _artifacts: [String: [UInt8]] = [:]

    public init() {}

    /// Hands over bytes that belong with the manifest but not in it (a git patch, a dataset
    /// listing), under a key the probe's data refers to them by. They are the probe's output as
    /// much as its data: the capture keeps them only when the probe finished in time, and the
    /// capture's writer decides where they go.
    public func attach(_ bytes: [UInt8], as key: String) {
        lock.withLock { _artifacts[key] = bytes }
    }

    /// The bytes attached so far, by key.
    public var artifacts: [String: [UInt8]] { lock.withLock { _artifacts } }

    /// Records a fact that could not be read: where, and why.
    public func issue(_ source: String, _ message: String) {
        lock.withLock { _issues.append(ProbeIssue(source: source, message: message)) }
    }

    public var issues: [ProbeIssue] { lock.withLock { _issues } }

    /// Values that change between captures of an unchanged machine (kept, never fingerprinted).
    public var volatile: JSONValue? {
        get { lock.withLock { _volatile } }
        set { lock.withLock { _volatile = newValue } }
    }
}
