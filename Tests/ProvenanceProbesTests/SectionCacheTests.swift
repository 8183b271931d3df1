import ProvenanceCore
@testable import ProvenanceProbeKit
@testable import ProvenanceProbes
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `SectionCache` on real data: this machine's dpkg database copied under a scratch root, a real
/// venv (the end-to-end journey is in EndToEndTests/SectionCacheJourneyTests.swift).
@Suite("Sections remembered between captures")
struct SectionCacheTests {
    static func scratch(_ name: String) -> String {
        let path = "/tmp/provenance-sections-\(getpid())-\(name)-\(Int.random(in: 0...1_000_000_000))"
        mkdir(path, 0o755)
        return path
    }

    /// A context of the machine under `root`, whose reads are logged to `log` (what tells a
    /// remembered section from one read afresh).
    static func context(root: String = "/", log: MachineAccessLog, environment: [String: String] = [:],
                        workingDirectory: String? = nil) -> ProbeContext {
        var fs = RootedFileSystem(root: root)
        fs.log = log.scoped(to: nil)
        return ProbeContext(fs: fs, commands: LiveCommandRunner(environment: environment), clock: SystemClock(),
                            environment: environment, process: ProcessIdentity(workingDirectory: workingDirectory),
                            commandTimeout: 5, deadline: monotonicSeconds() + 30)
    }

    static func read(_ path: String, by log: MachineAccessLog) -> Bool {
        log.accesses.contains { $0.kind == .read && $0.path == path }
    }

    /// The section cache files of `directory`.
    static func cacheFiles(_ directory: String) -> [String] {
        ((try? RootedFileSystem().list(directory)) ?? nil)?.filter { $0.hasPrefix("section-") } ?? []
    }

    /// Past the racy margin (50 ms) of what was just written.
    static func settle() { usleep(120_000) }

    @Test("the dpkg section is remembered while the database is unchanged, and read again when it changes")
    func dpkgRemembered() throws {
        let database = try #require(try RootedFileSystem().readBytes("/var/lib/dpkg/status"), "no dpkg database here")
        let root = Self.scratch("dpkg")
        defer { _ = shell("rm -rf '\(root)'") }
        #expect(shell("mkdir -p '\(root)/var/lib/dpkg' && cp /var/lib/dpkg/status '\(root)/var/lib/dpkg/status'").status == 0)
        Self.settle()
        let cache = SectionCache(directory: root + "/cache")
        let probe = DpkgProbe()
        let key = try #require(probe.sectionCacheKey)

        let firstLog = MachineAccessLog()
        let first = cache.collect(probe, key: key, Self.context(root: root, log: firstLog))
        #expect(first.status == .ok)
        #expect(Self.read("/var/lib/dpkg/status", by: firstLog))
        #expect(Self.cacheFiles(root + "/cache").count == 1)

        // Remembered: nothing read, the same section with the same bytes as one read afresh.
        let secondLog = MachineAccessLog()
        let second = cache.collect(probe, key: key, Self.context(root: root, log: secondLog))
        #expect(!Self.read("/var/lib/dpkg/status", by: secondLog))
        var fresh = Capture.collect(probe, Self.context(root: root, log: MachineAccessLog()))
        fresh.renderData()
        fresh.durationMs = second.durationMs
        #expect(second == fresh)
        #expect(second.rendered?.canonical == fresh.rendered?.canonical)
        #expect(second.rendered?.pretty == fresh.rendered?.pretty)
        #expect(second.data?["count"] == first.data?["count"])

        // dpkg rewrites its database (a new file renamed over the old one): here, the first half
        // of its stanzas, as if the rest had been removed.
        let text = String(decoding: database, as: UTF8.self)
        let stanzas = text.split(separator: "\n\n", omittingEmptySubsequences: true)
        try #require(stanzas.count > 10)
        let kept = stanzas.prefix(stanzas.count / 2).joined(separator: "\n\n") + "\n"
        try AtomicFile.write(Array(kept.utf8), to: root + "/var/lib/dpkg/status")
        Self.settle()
        let thirdLog = MachineAccessLog()
        let third = cache.collect(probe, key: key, Self.context(root: root, log: thirdLog))
        #expect(Self.read("/var/lib/dpkg/status", by: thirdLog))
        let count = try #require(third.data?["count"]?.intValue)
        #expect(count < (first.data?["count"]?.intValue ?? 0))
        let fourthLog = MachineAccessLog()
        let fourth = cache.collect(probe, key: key, Self.context(root: root, log: fourthLog))
        #expect(!Self.read("/var/lib/dpkg/status", by: fourthLog))
        #expect(fourth.data?["count"]?.intValue == count)

        // A damaged cache file is read past: the database is read again, and the file rewritten.
        let file = root + "/cache/" + Self.cacheFiles(root + "/cache")[0]
        var damaged = try #require(try RootedFileSystem().readBytes(file))
        damaged[damaged.count / 2] ^= 0xFF
        try AtomicFile.write(damaged, to: file)
        let fifthLog = MachineAccessLog()
        let fifth = cache.collect(probe, key: key, Self.context(root: root, log: fifthLog))
        #expect(Self.read("/var/lib/dpkg/status", by: fifthLog))
        #expect(fifth.data == fourth.data)
    }

    @Test("a path only looked at holds while the same thing is there; a link, while it points to the same target")
    func looks() throws {
        let root = Self.scratch("looks")
        defer { _ = shell("rm -rf '\(root)'") }
        #expect(shell("mkdir -p '\(root)/dir' && ln -s one '\(root)/link'").status == 0)
        Self.settle()
        struct Looking: Probe {
            var descriptor: ProbeDescriptor { ProbeDescriptor(id: "test.looks", version: "1", summary: "looks") }
            func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> [String: String] {
                ["dir": context.fs.isDirectory("/dir") ? "yes" : "no", "link": context.fs.readLink("/link") ?? "-"]
            }
        }
        let cache = SectionCache(directory: root + "/cache")
        func collect() -> [String: String] {
            let section = cache.collect(Looking(), key: SectionCacheKey(), Self.context(root: root, log: MachineAccessLog()))
            return (section.data?.objectValue ?? [:]).compactMapValues(\.stringValue)
        }
        #expect(collect() == ["dir": "yes", "link": "one"])
        #expect(Self.cacheFiles(root + "/cache").count == 1)
        // A file made in the directory changes its times, not what the probe saw: remembered.
        #expect(shell("touch '\(root)/dir/new'").status == 0)
        Self.settle()
        let file = root + "/cache/" + Self.cacheFiles(root + "/cache")[0]
        let before = try #require(FileStat(path: file, following: false))
        #expect(collect() == ["dir": "yes", "link": "one"])
        #expect(FileStat(path: file, following: false) == before, "the remembered section was taken, not written again")
        // The link made again to another target (the inode number may be the same): read again.
        #expect(shell("rm '\(root)/link' && ln -s two '\(root)/link'").status == 0)
        Self.settle()
        #expect(collect() == ["dir": "yes", "link": "two"])
        #expect(shell("rmdir '\(root)/dir' 2>/dev/null || rm -rf '\(root)/dir'").status == 0)
        #expect(collect() == ["dir": "no", "link": "two"])
    }

    @Test("a file changed within the racy margin, /proc, or a command run: never remembered")
    func notRemembered() throws {
        let root = Self.scratch("refused")
        defer { _ = shell("rm -rf '\(root)'") }
        #expect(shell("mkdir -p '\(root)/var/lib/dpkg' '\(root)/proc' && cp /var/lib/dpkg/status '\(root)/var/lib/dpkg/' && cp /proc/cpuinfo '\(root)/proc/'").status == 0)
        let cache = SectionCache(directory: root + "/cache")
        // Changed no earlier than the capture began (its time a minute ahead here, so that a busy
        // machine cannot make the copy old enough by the time the probe starts): that time could
        // be the time of a change made while the probe reads.
        #expect(shell("touch -m -d @$(( $(date +%s) + 60 )) '\(root)/var/lib/dpkg/status'").status == 0)
        let racy = cache.collect(DpkgProbe(), key: SectionCacheKey(), Self.context(root: root, log: MachineAccessLog()))
        #expect(racy.status == .ok)
        #expect(Self.cacheFiles(root + "/cache").isEmpty)
        Self.settle()
        // The kernel's files (a copy of /proc/cpuinfo stands for it here) and a command run.
        let cpu = CPUProbe()
        let section = cache.collect(cpu, key: SectionCacheKey(), Self.context(root: root, log: MachineAccessLog()))
        #expect(section.status != .failed)
        struct Commanding: Probe {
            var descriptor: ProbeDescriptor { ProbeDescriptor(id: "test.command", version: "1", summary: "runs true") }
            func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> [String: Bool] {
                ["ran": context.run(["true"]).succeeded]
            }
        }
        let ran = cache.collect(Commanding(), key: SectionCacheKey(), Self.context(log: MachineAccessLog(), environment: processEnvironment()))
        #expect(ran.data?["ran"] == .bool(true))
        #expect(Self.cacheFiles(root + "/cache").isEmpty)
        // A command that is not installed is not run: its absence is witnessed, until it appears.
        struct Trying: Probe {
            var descriptor: ProbeDescriptor { ProbeDescriptor(id: "test.missing", version: "1", summary: "tries a tool") }
            func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> [String: String] {
                let result = context.run(["provenance-test-tool", "--version"])
                return ["found": result.outcome == .notFound ? "no" : result.stdoutText.trimmed]
            }
        }
        let path = ["PATH": root + "/bin"]
        #expect(shell("mkdir -p '\(root)/bin'").status == 0)
        Self.settle()
        let missing = cache.collect(Trying(), key: SectionCacheKey(environment: ["PATH"]), Self.context(log: MachineAccessLog(), environment: path))
        #expect(missing.data?["found"] == "no")
        #expect(Self.cacheFiles(root + "/cache").count == 1)
        #expect(shell("printf '#!/bin/sh\\necho 1.0\\n' > '\(root)/bin/provenance-test-tool' && chmod +x '\(root)/bin/provenance-test-tool'").status == 0)
        Self.settle()
        let installed = cache.collect(Trying(), key: SectionCacheKey(environment: ["PATH"]), Self.context(log: MachineAccessLog(), environment: path))
        #expect(installed.data?["found"] == "1.0")
        // The witnesses say why.
        let witnesses = FileWitnesses()
        witnesses.note("/proc/cpuinfo", following: true, content: true, nil)
        #expect(witnesses.refusal?.contains("/proc/cpuinfo") == true)
        let running = FileWitnesses()
        _ = WitnessingCommandRunner(LiveCommandRunner(environment: [:]), witnesses: running).run(["true"], timeout: 5)
        #expect(running.refusal == "runs true")
    }

    @Test("the python section of a real venv: the environment, the working directory and the venv's files decide")
    func pythonRemembered() throws {
        let directory = Self.scratch("venv")
        defer { _ = shell("rm -rf '\(directory)'") }
        let made = shell("python3 -m venv '\(directory)/venv' 2>&1", timeout: 120)
        try #require(made.status == 0, "python3 -m venv failed: \(made.output)")
        Self.settle()
        let cache = SectionCache(directory: directory + "/cache")
        let probe = PythonProbe()
        let key = try #require(probe.sectionCacheKey)
        #expect(key.process && key.environment.contains("VIRTUAL_ENV"))
        var environment = ["VIRTUAL_ENV": directory + "/venv", "PATH": directory + "/venv/bin:/usr/bin:/bin", "HOME": directory]
        func capture(_ environment: [String: String], in workingDirectory: String = "/") -> (Section, Bool) {
            let log = MachineAccessLog()
            let section = cache.collect(probe, key: key, Self.context(log: log, environment: environment,
                                                                       workingDirectory: workingDirectory))
            return (section, log.accesses.contains { $0.kind == .read && $0.path.hasSuffix("/METADATA") })
        }
        let (first, firstRead) = capture(environment)
        #expect(firstRead)
        let names = Set(first.data?["distributions"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? [])
        #expect(names.contains("pip"), "\(names)")
        let (second, secondRead) = capture(environment)
        #expect(!secondRead)
        #expect(second.data == first.data)
        // Another working directory, a variable the probe reads changed: read again (and
        // remembered for it). Another variable: still remembered.
        #expect(capture(environment, in: directory).1)
        environment["PYTHONNOUSERSITE"] = "1"
        #expect(capture(environment).1)
        #expect(!capture(environment).1)
        environment["SLURM_JOB_ID"] = "12345"
        #expect(!capture(environment).1)
        // pip uninstalls itself from the venv: its dist-info directory goes.
        let removed = shell("'\(directory)/venv/bin/python' -m pip uninstall -y -q pip 2>&1", timeout: 120)
        try #require(removed.status == 0, "\(removed.output)")
        Self.settle()
        let (after, afterRead) = capture(environment)
        #expect(afterRead)
        let left = Set(after.data?["distributions"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? [])
        #expect(!left.contains("pip"), "\(left)")
    }

    @Test("no variable but those a remembered probe declares changes its section", arguments: ["python", "cuda"])
    func environmentDeclared(id: String) throws {
        // This machine's environment (PATH's python3, pyenv), each other variable changed in turn.
        let live = processEnvironment()
        let probe: any Probe = id == "python" ? PythonProbe() : CUDAProbe()
        let key = try #require(probe.sectionCacheKey)
        func section(_ environment: [String: String]) -> Section {
            var section = Capture.collect(probe, Self.context(log: MachineAccessLog(), environment: environment,
                                                              workingDirectory: Project.root))
            section.durationMs = 0
            return section
        }
        let baseline = section(live)
        #expect(baseline.status != .failed)
        let others = Set(live.keys).subtracting(key.environment)
            .union(["PYTHONHOME", "PYTHONUSERBASE", "CONDA_DEFAULT_ENV", "CUDA_HOME", "CUDA_PATH", "NVIDIA_VISIBLE_DEVICES"])
        for name in others.sorted() where !name.hasPrefix("PROVENANCE_") {
            var changed = live
            changed[name] = (live[name] ?? "") == "/" ? "/tmp" : "/"
            #expect(section(changed) == baseline, "\(name) changes the \(id) section but is not in its key")
        }
        // The check can tell: a variable the python probe declares changes its section.
        if id == "python" {
            var unset = live
            unset["PATH"] = "/nonexistent"
            unset["VIRTUAL_ENV"] = nil
            #expect(section(unset) != baseline, "PATH decides the python3 described")
        }
    }

    @Test("a section read back from its written bytes is the section, its data parsed only when read")
    func restoredSection() throws {
        let manifests = try ManifestWritingTests.manifests()
        #expect(!manifests.isEmpty)
        for (name, manifest) in manifests {
            for (id, section) in manifest.sections {
                var rendered = section
                rendered.renderData()
                guard let bytes = rendered.rendered else {
                    #expect(section.data == nil, "\(name) \(id)")
                    continue
                }
                var header = section
                header.data = nil
                let parsedHeader = try #require(Section(json: try JSONParser.parse(CanonicalJSON.serialize(header.json))))
                let restored = Section(status: parsedHeader.status, probeVersion: parsedHeader.probeVersion,
                                       renderedCanonical: bytes.canonical, renderedPretty: bytes.pretty,
                                       volatile: parsedHeader.volatile, issues: parsedHeader.issues,
                                       durationMs: section.durationMs, identifying: parsedHeader.identifying)
                #expect(restored == section, "\(name) \(id)")
                #expect(restored.json == section.json, "\(name) \(id)")
            }
        }
    }
}
