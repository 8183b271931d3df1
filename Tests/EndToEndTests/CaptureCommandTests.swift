import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `provenance` binary.
func provenance(_ arguments: [String], environment extra: [String: String] = [:], timeout: Double = 60)
    -> CommandResult
{
    var environment = processEnvironment()
    environment["SOURCE_DATE_EPOCH"] = "1700000000"
    environment.merge(extra) { _, new in new }
    return LiveCommandRunner(environment: environment).run([Project.executable] + arguments, timeout: timeout)
}

/// Every recorded machine of Fixtures/machines captured once with `--root` (in a shared
/// temporary directory), for the tests that read them: goldens, schema, render.
final class RecordedCaptures: @unchecked Sendable {
    static let shared = RecordedCaptures()
    private let directory = temporaryDirectory()
    private let mutex = Mutex()
    private var paths: [String: String?] = [:]

    /// The manifest path of `machine`'s capture; nil when the capture failed.
    func manifest(_ machine: String) -> String? {
        if let known = mutex.withLock({ paths[machine] }) { return known }
        let output = "\(directory)/\(machine).json"
        let result = provenance(["capture", "--root", Project.machines + "/" + machine, "-o", output, "--timeout", "2", "-q"])
        let path: String? = result.outcome == .exited(0) ? output : nil
        mutex.withLock { paths[machine] = path }
        return path
    }
}

func temporaryDirectory() -> String {
    let path = "/tmp/provenance-e2e-\(getpid())-\(Int.random(in: 0...1_000_000_000))"
    mkdir(path, 0o755)
    return path
}

func readJSON(_ path: String) throws -> JSONValue {
    let bytes = try #require(try RootedFileSystem().readBytes(path), "\(path) was not written")
    return try JSONParser.parse(bytes)
}

/// The manifest with what legitimately differs between runs blanked: durations, the absolute
/// root path, the tool version.
func normalized(_ manifest: JSONValue) -> JSONValue {
    guard case .object(var object) = manifest else { return manifest }
    if case .object(var capture)? = object["capture"] {
        capture["durationMs"] = 0
        if capture["root"] != nil { capture["root"] = "ROOT" }
        object["capture"] = .object(capture)
    }
    object["tool"] = ["name": "provenance", "version": "VERSION"]
    if case .object(var sections)? = object["sections"] {
        for (id, section) in sections {
            guard case .object(var fields) = section else { continue }
            fields["durationMs"] = 0
            sections[id] = .object(fields)
        }
        object["sections"] = .object(sections)
    }
    return .object(object)
}

/// Validates manifests against Schemas/manifest-1.1.0.schema.json (generated from the section
/// models) with python3-jsonschema, an implementation independent of ours.
func validateWithSchema(_ paths: [String], schema: String = "manifest-1.1.0") -> (ok: Bool, output: String) {
    let result = LiveCommandRunner(environment: processEnvironment()).run(
        ["python3", Project.root + "/Tests/validate_manifest.py", Project.root + "/Schemas/\(schema).schema.json"]
            + paths, timeout: 120)
    return (result.outcome == .exited(0), result.stdoutText + result.stderrText)
}

@Suite("provenance capture, end to end", .serialized)
struct CaptureCommandTests {
    /// Every recorded machine, captured with `--root`, matches its goldens section by section:
    /// Fixtures/goldens/MACHINE/SECTION.json for each section the machine has (status other than
    /// absent or skipped); any other section must be absent or skipped. So a new probe rewrites
    /// only the goldens of the machines that have what it reads. Re-record with
    /// PROVENANCE_UPDATE_GOLDENS=1 and review the diff.
    @Test("recorded machines match their goldens, section by section", arguments: Project.machineNames)
    func golden(machine: String) throws {
        let manifest = try readJSON(try #require(RecordedCaptures.shared.manifest(machine)))
        let directory = Project.fixtures + "/goldens/" + machine
        let sections = normalized(manifest)["sections"]?.objectValue ?? [:]
        let has = sections.filter { !["absent", "skipped"].contains($0.value["status"]?.stringValue ?? "") }
        if processEnvironment()["PROVENANCE_UPDATE_GOLDENS"] == "1" {
            _ = shell("rm -rf '\(directory)'")
            for (id, section) in has { try AtomicFile.write(CanonicalJSON.pretty(section), to: "\(directory)/\(id).json") }
        }
        let goldens = Set(((try? RootedFileSystem().list(directory)) ?? nil ?? []).map { String($0.dropLast(".json".count)) })
        #expect(goldens == Set(has.keys), "\(machine): sections with data \(has.keys.sorted()), goldens \(goldens.sorted())")
        for (id, section) in has where goldens.contains(id) {
            #expect(section == (try readJSON("\(directory)/\(id).json")), "capture of \(machine) differs from \(directory)/\(id).json")
        }
        for (id, section) in sections where has[id] == nil {
            #expect(["absent", "skipped"].contains(section["status"]?.stringValue ?? ""), "\(machine) \(id)")
        }
    }

    @Test("every recorded machine's manifest validates against the schema (python3-jsonschema)")
    func recordedValidate() throws {
        let manifests = Project.machineNames.compactMap { RecordedCaptures.shared.manifest($0) }
        #expect(manifests.count == Project.machineNames.count)
        #expect(manifests.count > 90)
        let validation = validateWithSchema(manifests)
        #expect(validation.ok, "\(validation.output)")
    }

    @Test("a live capture writes a valid manifest; two captures have the same fingerprint")
    func live() throws {
        let directory = temporaryDirectory()
        let first = provenance(["capture", "-o", directory + "/a.json"])
        let second = provenance(["capture", "-o", directory + "/run/b.json"])
        #expect(first.outcome == .exited(0) && second.outcome == .exited(0), "\(first.stderrText)\(second.stderrText)")
        let a = try readJSON(directory + "/a.json")
        let b = try readJSON(directory + "/run/b.json")
        #expect(a["fingerprint"] != nil)
        #expect(a["fingerprint"] == b["fingerprint"])
        for id in ["os", "cpu", "memory"] { #expect(a["sections"]?[id]?["status"] == "ok") }
        #expect(first.stderrText.hasPrefix("provenance: wrote \(directory)/a.json: ") && first.stderrText.contains("; sha256:"))
        let validation = validateWithSchema([directory + "/a.json"])
        #expect(validation.ok, "\(validation.output)")
    }

    @Test("probes can be chosen; standard output and the canonical form work")
    func selection() throws {
        let result = provenance(["capture", "-o", "-", "--no-probe", "cpu", "--canonical", "-q"])
        #expect(result.outcome == .exited(0))
        #expect(result.stderr.isEmpty)
        let manifest = try JSONParser.parse(result.stdout)
        #expect(manifest["sections"]?["cpu"]?["status"] == "skipped")
        #expect(manifest["sections"]?["os"]?["status"] == "ok")
        // The canonical form is exactly the canonical serialisation of what it holds.
        #expect(CanonicalJSON.serialize(manifest) + [0x0A] == result.stdout)
        let only = try JSONParser.parse(provenance(["capture", "-o", "-", "--only", "memory", "-q"]).stdout)
        #expect(only["sections"]?["memory"]?["status"] == "ok")
        #expect(only["sections"]?["os"]?["status"] == "skipped")
    }

    @Test("a hanging command costs at most the timeout and is reported")
    func hangingCommand() throws {
        // A real recorded machine without /proc/sys/kernel/arch, whose `uname -m` never returns.
        let directory = temporaryDirectory()
        let root = directory + "/machine"
        let source = Project.machines + "/host-hwloc-20em64t-hybrid"
        #expect(shell("cp -r '\(source)' '\(root)'").status == 0)
        try AtomicFile.write(Array(#"{"commands": [{"argv": ["uname", "-m"], "hang": true}]}"#.utf8),
                             to: root + "/commands/commands.json")
        let started = monotonicSeconds()
        let result = provenance(["capture", "--root", root, "-o", directory + "/env.json", "--timeout", "1"])
        let elapsed = monotonicSeconds() - started
        #expect(result.outcome == .exited(0))
        #expect(elapsed < 2.0, "capture took \(elapsed) s")
        let os = try readJSON(directory + "/env.json")["sections"]?["os"]
        #expect(os?["status"] == "partial")
        #expect(os?["issues"]?.arrayValue?.contains { $0["message"]?.stringValue?.contains("timed out after 1 s") == true } == true)
    }

    @Test("bad input: one line on stderr, a distinct exit code, nothing written", arguments: [
        (["capture", "--root", "/nonexistent/machine"], Int32(66), "--root /nonexistent/machine: no such directory"),
        (["capture", "--no-probe", "gpu.bogus"], 64, "unknown probe 'gpu.bogus'"),
        (["capture", "--timeout", "0"], 64, "--timeout must be a positive number"),
        (["capture", "--probe-timeout", "cpu"], 64, "--probe-timeout takes ID=SECONDS"),
        (["capture", "-o", "/etc/hostname/env.json"], 73, "cannot write into /etc/hostname: not a directory"),
    ])
    func badInput(arguments: [String], code: Int32, message: String) {
        let result = provenance(arguments)
        #expect(result.outcome == .exited(code))
        let lines = result.stderrText.lines
        #expect(lines.count == 1, "\(result.stderrText)")
        #expect(lines.first?.hasPrefix("provenance: ") == true)
        #expect(result.stderrText.contains(message), "\(result.stderrText)")
    }

    @Test("a malformed recording is refused with the data error code")
    func malformedRecording() throws {
        let directory = temporaryDirectory()
        try AtomicFile.write(Array("{\"commands\": [".utf8), to: directory + "/machine/commands/commands.json")
        let result = provenance(["capture", "--root", directory + "/machine", "-o", directory + "/env.json"])
        #expect(result.outcome == .exited(65))
        #expect(result.stderrText.contains("commands.json: invalid JSON"))
        #expect(try RootedFileSystem().read(directory + "/env.json") == nil)
    }

    @Test("a failed write leaves what was there intact and no temporary files")
    func atomicWrite() throws {
        let directory = temporaryDirectory()
        // The target is a directory: refused after the manifest was written to its temporary.
        mkdir(directory + "/env.json", 0o755)
        try AtomicFile.write(Array("keep".utf8), to: directory + "/env.json/inside")
        let result = provenance(["capture", "-o", directory + "/env.json"])
        #expect(result.outcome == .exited(73))
        #expect(try RootedFileSystem().read(directory + "/env.json/inside") == "keep")
        #expect(try RootedFileSystem(root: directory).list("/") == ["env.json"])
        // A previous manifest survives a capture that cannot start.
        try AtomicFile.write(Array("previous".utf8), to: directory + "/old.json")
        _ = provenance(["capture", "--root", "/nonexistent", "-o", directory + "/old.json"])
        #expect(try RootedFileSystem().read(directory + "/old.json") == "previous")
    }

    @Test("provenance probes lists every probe with what it reads")
    func probes() throws {
        let text = provenance(["probes"])
        #expect(text.outcome == .exited(0))
        for id in ["os", "cpu", "memory", "container", "scheduler", "git"] {
            #expect(text.stdoutText.contains("\n\(id) ") || text.stdoutText.hasPrefix("\(id) "))
        }
        let json = try JSONParser.parse(provenance(["probes", "--format", "json"]).stdout)
        let ids = json.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
        #expect(ids.starts(with: ["os", "cpu", "memory"]) && Set(ids).isSuperset(of: ["container", "scheduler", "gpu.nvidia", "python", "git"]))
        #expect(json.arrayValue?.first?["reads"]?.arrayValue?.contains("/etc/os-release") == true)
    }
}

@Suite("Generated documentation")
struct GeneratedDocumentationTests {
    @Test("Probes/BUILTIN.md is what `provenance probes --format markdown` prints")
    func probeCardsAreCurrent() throws {
        let generated = provenance(["probes", "--format", "markdown"])
        #expect(generated.outcome == .exited(0))
        let committed = try RootedFileSystem(root: Project.root).read("/Probes/BUILTIN.md")
        #expect(committed == generated.stdoutText,
                "Probes/BUILTIN.md is stale: run `provenance probes --format markdown > Probes/BUILTIN.md`")
    }
}

@Suite("Writing to special files")
struct SpecialFileOutputTests {
    @Test("-o to a character device writes into it and leaves it a device (as /dev/null must stay)")
    func characterDevice() throws {
        let directory = temporaryDirectory()
        // A private null device (major 1, minor 3), so the test never endangers the real /dev/null.
        // makedev(1, 3) for small numbers: major << 8 | minor (makedev is a macro Swift does not import).
        guard mknod(directory + "/null", S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0 else {
            Issue.record("mknod failed (tests run as root here)")
            return
        }
        let result = provenance(["capture", "-q", "--only", "os", "-o", directory + "/null"])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        var info = stat()
        #expect(stat(directory + "/null", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR)
        #expect(try RootedFileSystem(root: directory).list("/") == ["null"])
    }
}
