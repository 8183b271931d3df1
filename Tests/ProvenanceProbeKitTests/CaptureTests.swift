import ProvenanceCore
import Testing
@testable import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#endif

/// Probes with known behaviour, to test the capture's contract.
struct FixedProbe: Probe {
    enum Behaviour: Sendable { case value, partial, absent, fails, blocks }
    let id: String
    let behaviour: Behaviour

    var descriptor: ProbeDescriptor { ProbeDescriptor(id: id, version: "1.2.3", summary: "test") }

    struct Output: Encodable { var answer: Int }

    func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        switch behaviour {
        case .value: return Output(answer: 42)
        case .partial:
            report.issue("/proc/thing", "permission denied")
            return Output(answer: 1)
        case .absent: throw ProbeAbsent(source: "thing", reason: "not installed")
        case .fails: throw ProbeFailure("exploded")
        case .blocks:
            // Not cooperative: a blocking call that ignores deadlines.
            sleep(30)
            return Output(answer: 0)
        }
    }
}

/// A probe whose thread the capture starts before the others'.
struct FirstProbe: Probe {
    let id: String
    var descriptor: ProbeDescriptor { ProbeDescriptor(id: id, version: "1.0.0", summary: "test") }
    var startsFirst: Bool { true }
    struct Output: Encodable { var answer: Int }
    func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output { Output(answer: 7) }
}

/// Lists a directory, adds a file to it (making it first when missing), and lists it again.
struct ListingProbe: Probe {
    let directory: String
    var descriptor: ProbeDescriptor { ProbeDescriptor(id: "listing", version: "1.0.0", summary: "test") }
    struct Output: Encodable { var before: [String]; var after: [String] }
    func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let before = try context.fs.list(directory)
        mkdir(context.fs.hostPath(directory), 0o755)
        close(creat(context.fs.hostPath(directory + "/added-\(before?.count ?? -1)"), 0o644))
        let after = try context.fs.list(directory)
        return Output(before: before ?? ["missing"], after: after ?? ["missing"])
    }
}

/// Looks a command up, installs it in `directory`, and looks it up again.
struct ResolvingProbe: Probe {
    let directory: String
    var descriptor: ProbeDescriptor { ProbeDescriptor(id: "resolving", version: "1.0.0", summary: "test") }
    struct Output: Encodable { var before: String; var after: String }
    func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let before = context.commands.resolve("tool")
        close(creat(directory + "/tool", 0o755))
        return Output(before: before ?? "missing", after: context.commands.resolve("tool") ?? "missing")
    }
}

struct ProbeFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite("Capture")
struct CaptureTests {
    let machine = Machine(fs: RootedFileSystem(root: "/nonexistent"), commands: ReplayCommandRunner(entries: []),
                          environment: [:], clock: FixedClock(secondsSinceEpoch: 1_700_000_000), root: "/nonexistent")

    @Test("each outcome becomes its status; a blocked probe is abandoned at its deadline")
    func statuses() {
        let probes: [any Probe] = [
            FixedProbe(id: "ok", behaviour: .value), FixedProbe(id: "partial", behaviour: .partial),
            FixedProbe(id: "absent", behaviour: .absent), FixedProbe(id: "failed", behaviour: .fails),
            FixedProbe(id: "blocked", behaviour: .blocks), FixedProbe(id: "off", behaviour: .value),
        ]
        var capture = Capture(probes: probes, enabled: ["ok", "partial", "absent", "failed", "blocked"], timeout: 0.4,
                              toolVersion: "test")
        capture.grace = 0.1
        let started = monotonicSeconds()
        let manifest = capture.run(on: machine)
        #expect(monotonicSeconds() - started < 1.0)
        let s = manifest.sections
        #expect(s["ok"]?.status == .ok)
        #expect(s["ok"]?.data == ["answer": 42])
        #expect(s["partial"]?.status == .partial)
        #expect(s["partial"]?.issues == [ProbeIssue(source: "/proc/thing", message: "permission denied")])
        #expect(s["absent"]?.status == .absent)
        #expect(s["absent"]?.data == nil)
        #expect(s["failed"]?.status == .failed)
        #expect(s["failed"]?.issues.first?.message == "exploded")
        #expect(s["blocked"]?.status == .failed)
        #expect(s["blocked"]?.issues.first?.message.contains("did not finish within its 0.4 s timeout") == true)
        #expect(s["off"]?.status == .skipped)
        #expect(manifest.captureTime == "2023-11-14T22:13:20Z")
        #expect(manifest.capture.mode == "recorded")
    }

    @Test("probes that block (slow commands, hung reads) hold back neither each other nor the probes after them")
    func blockingProbes() {
        /// Blocks for `seconds`, as a slow command or a hung filesystem does, deadline or not.
        struct Sleeping: Probe {
            let id: String
            let seconds: Double
            var descriptor: ProbeDescriptor { ProbeDescriptor(id: id, version: "1", summary: "test") }
            func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> [String: Int] {
                usleep(UInt32(seconds * 1_000_000))
                return ["slept": 1]
            }
        }
        // More blocking probes than the capture starts workers with, then quick ones.
        let blocking = ProbeQueue.initialWorkers(probes: 100) + 4
        let slow: [any Probe] = (0..<blocking).map { Sleeping(id: "slow\($0)", seconds: 0.6) }
        let quick: [any Probe] = (0..<3).map { FixedProbe(id: "quick\($0)", behaviour: .value) }
        let started = monotonicSeconds()
        let manifest = Capture(probes: slow + quick, timeout: 5, toolVersion: "test").run(on: machine)
        let elapsed = monotonicSeconds() - started
        #expect(manifest.sections.values.allSatisfy { $0.status == .ok }, "\(manifest.sections.mapValues(\.status))")
        // All blocked at once (a worker more each time the queue stood still), not in rounds of
        // as many as there are workers (1.2 s or more).
        #expect(elapsed < 1.1, "\(elapsed) s")

        // Probes stuck past their deadline (abandoned with their workers) leave the rest to run.
        let stuck: [any Probe] = (0..<blocking).map { FixedProbe(id: "stuck\($0)", behaviour: .blocks) }
        var capture = Capture(probes: stuck + quick, timeout: 0.5, toolVersion: "test")
        capture.grace = 0.1
        let second = capture.run(on: machine)
        for id in quick.map(\.descriptor.id) { #expect(second.sections[id]?.status == .ok, "\(id)") }
        #expect(second.sections["stuck0"]?.status == .failed)
    }

    @Test("probes that start first are started before the others; the sections are the same")
    func startOrder() throws {
        let probes: [any Probe] = [FixedProbe(id: "a", behaviour: .value), FirstProbe(id: "long"),
                                   FixedProbe(id: "b", behaviour: .value), FirstProbe(id: "longer")]
        #expect(Capture.startOrder(probes).map(\.descriptor.id) == ["long", "longer", "a", "b"])
        #expect(Capture.startOrder([FixedProbe(id: "a", behaviour: .value), FixedProbe(id: "b", behaviour: .value)])
            .map(\.descriptor.id) == ["a", "b"])
        let manifest = Capture(probes: probes, toolVersion: "test").run(on: machine)
        #expect(manifest.sections.keys.sorted() == ["a", "b", "long", "longer"])
        #expect(manifest.sections.values.allSatisfy { $0.status == .ok })
    }

    @Test("two captures of the same machine have the same fingerprint")
    func stableFingerprint() {
        let capture = Capture(probes: [FixedProbe(id: "a", behaviour: .value), FixedProbe(id: "b", behaviour: .partial)],
                              toolVersion: "test")
        #expect(capture.run(on: machine).fingerprint == capture.run(on: machine).fingerprint)
    }

    @Test("a capture lists a directory once for all its probes; the next capture lists it again")
    func listingsPerCapture() throws {
        let root = "/tmp/provenance-listings-\(getpid())-\(Int.random(in: 0...1_000_000))"
        mkdir(root, 0o755)
        let machine = Machine(fs: RootedFileSystem(root: root), commands: ReplayCommandRunner(entries: []),
                              environment: [:], clock: FixedClock(secondsSinceEpoch: 1_700_000_000), root: root)
        let capture = Capture(probes: [ListingProbe(directory: "/d")], toolVersion: "test")
        var seen: [JSONValue?] = []
        for _ in 0..<3 {
            let data = capture.run(on: machine).sections["listing"]?.data
            // Within one capture the second listing is the first's, though a file was added.
            #expect(data?["before"] == data?["after"])
            seen.append(data?["before"])
        }
        #expect(seen == [["missing"], ["added--1"], ["added--1", "added-1"]])
        // Without a capture's listings, a file system lists anew every time.
        #expect(try RootedFileSystem(root: root).list("/d") == ["added--1", "added-1", "added-2"])
        for name in ["added--1", "added-1", "added-2"] { unlink(root + "/d/" + name) }
        rmdir(root + "/d")
        rmdir(root)
    }

    @Test("a capture looks a command name up once for all its probes; the next capture looks again")
    func resolutionsPerCapture() throws {
        let directory = "/tmp/provenance-resolutions-\(getpid())-\(Int.random(in: 0...1_000_000))"
        mkdir(directory, 0o755)
        let machine = Machine(fs: RootedFileSystem(), commands: LiveCommandRunner(environment: ["PATH": directory]),
                              environment: [:], clock: FixedClock(secondsSinceEpoch: 1_700_000_000), root: nil)
        let capture = Capture(probes: [ResolvingProbe(directory: directory)], toolVersion: "test")
        let first = capture.run(on: machine).sections["resolving"]?.data
        #expect(first == ["before": "missing", "after": "missing"])
        let second = capture.run(on: machine).sections["resolving"]?.data
        #expect(second == ["before": .string(directory + "/tool"), "after": .string(directory + "/tool")])
        // Without a capture's resolutions, one runner looks anew every time.
        let plain = LiveCommandRunner(environment: ["PATH": directory])
        #expect(plain.resolve("tool") == directory + "/tool")
        unlink(directory + "/tool")
        #expect(plain.resolve("tool") == nil)
        rmdir(directory)
    }

    @Test("commands never run past the probe's deadline")
    func commandDeadline() throws {
        let runner = ReplayCommandRunner(entries: [.init(argv: ["tool"], stdout: [], stderr: [], exitCode: 0, hang: true)])
        let context = ProbeContext(fs: RootedFileSystem(), commands: runner, clock: SystemClock(), environment: [:],
                                   commandTimeout: 10, deadline: monotonicSeconds() + 0.2)
        let started = monotonicSeconds()
        let result = context.run(["tool"])
        #expect(monotonicSeconds() - started < 0.6)
        if case .timedOut = result.outcome {} else { Issue.record("expected a timeout, got \(result.outcome)") }
    }
}

@Suite("AtomicFile.create")
struct AtomicFileCreateTests {
    @Test("creates a new file with its mode; never replaces an existing one")
    func createExclusive() throws {
        let directory = "/tmp/provenance-atomic-\(getpid())-\(Int.random(in: 0...1_000_000_000))"
        let path = directory + "/sub/k.key"
        try AtomicFile.create(Array("one".utf8), at: path, mode: 0o600)
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(throws: AtomicFile.WriteError.self) { try AtomicFile.create(Array("two".utf8), at: path) }
        #expect(try RootedFileSystem().read(path) == "one")
        #expect(try RootedFileSystem().list(directory + "/sub") == ["k.key"], "no temporary file left behind")
    }
}
