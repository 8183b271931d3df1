import ProvenanceCore

/// Runs probes concurrently against a machine and assembles the manifest.
///
/// The enabled probes are taken in start order by a few worker threads (`ProbeQueue`: another
/// starts whenever the queue stands still), each probe with its own deadline (its descriptor's
/// timeout, a `--probe-timeout`, or the capture's `--timeout`). A probe that throws becomes a `failed` section;
/// one still running at its deadline (plus a short grace for its fallbacks) is abandoned and
/// reported `failed`, and the capture goes on without waiting for it.
public struct Capture: Sendable {
    public var probes: [any Probe]
    /// Probe ids to run; nil means every probe that is on by default.
    public var enabled: Set<String>?
    /// Per-command and default per-probe timeout, in seconds.
    public var timeout: Double
    /// Per-probe deadlines overriding `timeout`.
    public var probeTimeouts: [String: Double]
    public var toolVersion: String
    /// Extra time after a probe's deadline for it to report what its fallbacks found.
    public var grace: Double = 0.5
    /// Whether each probe's thread also writes its section's data as the manifest will
    /// (`Section.renderData`), for a manifest that is to be written or fingerprinted.
    public var rendersData = false
    /// Where sections are remembered between captures (`SectionCache`; live machines, not while
    /// recording one); nil: every probe runs.
    public var sectionCache: SectionCache?

    /// The longest timeout a capture takes, in seconds (one week): longer ones are cut to it, so
    /// deadlines and durations in milliseconds stay far inside `Int64` (`--timeout 1e19` crashed).
    public static let maxTimeoutSeconds: Double = 604_800

    /// Whether `seconds` is a usable timeout: positive, finite, at most `maxTimeoutSeconds`.
    public static func acceptsTimeout(_ seconds: Double) -> Bool {
        seconds > 0 && seconds.isFinite && seconds <= maxTimeoutSeconds
    }

    /// The message for a timeout option that `acceptsTimeout` refuses.
    public static func timeoutProblem(_ option: String) -> String {
        "\(option) must be a positive number of seconds, at most \(Int(maxTimeoutSeconds)) (one week)"
    }

    public init(probes: [any Probe], enabled: Set<String>? = nil, timeout: Double = 5,
                probeTimeouts: [String: Double] = [:], toolVersion: String)
    {
        func bounded(_ seconds: Double) -> Double { seconds.isNaN ? 5 : min(max(seconds, 0), Self.maxTimeoutSeconds) }
        self.probes = probes
        self.enabled = enabled
        self.timeout = bounded(timeout)
        self.probeTimeouts = probeTimeouts.mapValues(bounded)
        self.toolVersion = toolVersion
    }

    public func run(on machine: Machine) -> Manifest {
        runCollectingArtifacts(on: machine).manifest
    }

    /// The manifest and the artifacts its finished probes attached (`ProbeReport.attach`), by
    /// section id and key. A probe abandoned at its deadline contributes none.
    public func runCollectingArtifacts(on machine: Machine) -> (manifest: Manifest, artifacts: [String: [String: [UInt8]]]) {
        let startTime = machine.clock.secondsSinceEpoch()
        let started = monotonicSeconds()
        let board = Board()
        var sections: [String: Section] = [:]
        var pending: [(id: String, version: String, deadline: Double, seconds: Double)] = []
        let listings = DirectoryListings()
        let resolutions = CommandResolutions()

        var jobs: [@Sendable () -> Void] = []
        for probe in Capture.startOrder(probes) {
            let descriptor = probe.descriptor
            let isEnabled = enabled.map { $0.contains(descriptor.id) } ?? descriptor.enabledByDefault
            guard isEnabled else {
                // An off-by-default probe nobody named is "off by default" whether or not the
                // enabled set was spelled out (a recording spells it out; its replay does not).
                let reason = enabled == nil || !descriptor.enabledByDefault ? "off by default" : "not selected"
                sections[descriptor.id] = Section(
                    status: .skipped, probeVersion: descriptor.version,
                    issues: [ProbeIssue(source: "capture", message: reason)])
                continue
            }
            let seconds = probeTimeouts[descriptor.id] ?? descriptor.timeoutSeconds ?? timeout
            let deadline = started + seconds
            var probeMachine = machine.attributed(to: descriptor.id)
            probeMachine.fs.listings = listings
            probeMachine.commands = probeMachine.commands.sharing(resolutions)
            let context = ProbeContext(machine: probeMachine, commandTimeout: min(timeout, seconds), deadline: deadline)
            pending.append((descriptor.id, descriptor.version, deadline + grace, seconds))
            let id = descriptor.id
            let rendersData = rendersData
            let remembering = machine.root == nil && machine.fs.log == nil ? sectionCache : nil
            jobs.append {
                let report = ProbeReport()
                var section = if let remembering, let key = probe.sectionCacheKey {
                    remembering.collect(probe, key: key, context, report)
                } else {
                    Capture.collect(probe, context, report)
                }
                if rendersData { section.renderData() }
                board.finish(id, section, report.artifacts)
            }
        }

        let queue = ProbeQueue(jobs)
        queue.start(workers: ProbeQueue.initialWorkers(probes: jobs.count))
        let finished = board.wait(for: pending.map { ($0.id, $0.deadline) }, queue: queue)
        var artifacts: [String: [String: [UInt8]]] = [:]
        for item in pending {
            if let (section, attached) = finished[item.id] {
                sections[item.id] = section
                if !attached.isEmpty { artifacts[item.id] = attached }
            } else {
                sections[item.id] = Section(
                    status: .failed, probeVersion: item.version,
                    issues: [ProbeIssue(source: "capture",
                                        message: "did not finish within its \(formatSeconds(item.seconds)) s timeout")],
                    durationMs: Int64((item.seconds + grace) * 1000))
            }
        }

        let manifest = Manifest(
            tool: .init(name: "provenance", version: toolVersion),
            captureTime: Timestamp.rfc3339(secondsSinceEpoch: startTime),
            hostName: machine.hostName(),
            capture: .init(mode: machine.root == nil ? "live" : "recorded", root: machine.root,
                           durationMs: Int64((monotonicSeconds() - started) * 1000)),
            sections: sections)
        return (manifest, artifacts)
    }

    /// The order the workers take the probes in: those that start first (`Probe.startsFirst`),
    /// then the others, each group in the given order.
    static func startOrder(_ probes: [any Probe]) -> [any Probe] {
        probes.filter(\.startsFirst) + probes.filter { !$0.startsFirst }
    }

    /// Runs one probe and turns its outcome into a section.
    public static func collect<P: Probe>(_ probe: P, _ context: ProbeContext, _ report: ProbeReport = ProbeReport())
        -> Section
    {
        let descriptor = probe.descriptor
        let started = monotonicSeconds()
        func elapsed() -> Int64 { Int64((monotonicSeconds() - started) * 1000) }
        do {
            let output = try probe.collect(context, report)
            let data = try JSONValueEncoder().encode(output)
            let issues = report.issues
            return Section(status: issues.isEmpty ? .ok : .partial, probeVersion: descriptor.version, data: data,
                           volatile: report.volatile, issues: issues, durationMs: elapsed(),
                           identifying: descriptor.identifying)
        } catch let absent as ProbeAbsent {
            return Section(status: .absent, probeVersion: descriptor.version,
                           issues: report.issues + [ProbeIssue(source: absent.source, message: absent.reason)],
                           durationMs: elapsed())
        } catch {
            return Section(status: .failed, probeVersion: descriptor.version,
                           issues: report.issues + [ProbeIssue(source: descriptor.id, message: "\(error)")],
                           durationMs: elapsed())
        }
    }
}

/// Where probe threads leave their sections; the capture waits on it with deadlines.
private final class Board: @unchecked Sendable {
    private let mutex = Mutex()
    private var sections: [String: (Section, [String: [UInt8]])] = [:]

    func finish(_ id: String, _ section: Section, _ artifacts: [String: [UInt8]]) {
        mutex.withLock {
            sections[id] = (section, artifacts)
            mutex.broadcast()
        }
    }

    /// Waits until every probe finished or passed its deadline; returns the finished ones. While
    /// probes wait in `queue`, it looks every `ProbeQueue.stallSeconds` whether the queue moved.
    func wait(for probes: [(id: String, deadline: Double)], queue: ProbeQueue) -> [String: (Section, [String: [UInt8]])] {
        mutex.lock()
        defer { mutex.unlock() }
        var nextCheck = monotonicSeconds() + ProbeQueue.stallSeconds
        while true {
            let now = monotonicSeconds()
            if now >= nextCheck {
                // Under this lock: a worker takes the queue's lock alone, and this one only after it.
                queue.checkProgress()
                nextCheck = now + ProbeQueue.stallSeconds
            }
            let waiting = probes.filter { sections[$0.id] == nil && $0.deadline > now }
            guard let next = waiting.map(\.deadline).min() else { return sections }
            mutex.wait(until: queue.isWaiting ? min(next, nextCheck) : next)
        }
    }
}
