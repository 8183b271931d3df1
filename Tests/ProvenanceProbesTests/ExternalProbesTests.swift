import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

#if canImport(Glibc)
import Glibc
#endif

/// A directory of site probes made for one test.
func probeDirectory(_ files: [String: String]) throws -> String {
    let directory = "/tmp/provenance-probes-\(getpid())-\(Int.random(in: 0...1_000_000_000))"
    for (name, content) in files {
        try AtomicFile.write(Array(content.utf8), to: "\(directory)/\(name)", mode: name.hasSuffix(".sh") ? 0o755 : 0o644)
    }
    return directory
}

func loadProbes(_ directory: String, strict: Bool = true) throws -> [any Probe] {
    try ExternalProbeLoader.load(directories: [directory], reservedIDs: Set(BuiltinProbes.all.map(\.descriptor.id)),
                                 environment: processEnvironment(), strict: strict)
}

/// Runs a probe with a deadline on the live machine or a recorded one.
func run(_ probe: any Probe, root: String? = nil, timeout: Double = 5) throws -> Section {
    let machine = try root.map { try Machine.recorded(root: $0) } ?? Machine.live()
    let context = ProbeContext(machine: machine, commandTimeout: timeout, deadline: monotonicSeconds() + timeout)
    func collect<P: Probe>(_ p: P) -> Section { Capture.collect(p, context) }
    return collect(probe)
}

@Suite("Site probes (Probes/ directories)")
struct ExternalProbesTests {
    @Test("executable probes: working, hanging, flooding, invalid JSON, failing")
    func executables() throws {
        let directory = try probeDirectory([
            "good.sh": "#!/bin/sh\necho '{\"fabric\": \"hdr\", \"ports\": 2}'\n",
            "hangs.sh": "#!/bin/sh\nsleep 300\n",
            "floods.sh": "#!/bin/sh\nhead -c 100000000 /dev/zero | tr '\\000' a\n",
            "garbled.sh": "#!/bin/sh\necho 'not json'\n",
            "fails.sh": "#!/bin/sh\necho 'licence server unreachable' >&2\nexit 3\n",
            "notes.txt": "ignored", "data.bin": "not executable, ignored",
        ])
        let probes = try loadProbes(directory)
        #expect(Set(probes.map(\.descriptor.id)) == ["good", "hangs", "floods", "garbled", "fails"])
        func section(_ id: String, timeout: Double = 5) throws -> Section {
            try run(probes.first { $0.descriptor.id == id }!, timeout: timeout)
        }
        let good = try section("good")
        #expect(good.status == .ok)
        #expect(good.data == ["fabric": "hdr", "ports": 2])

        let started = monotonicSeconds()
        let hangs = try section("hangs", timeout: 0.5)
        #expect(monotonicSeconds() - started < 1.5)
        #expect(hangs.status == .failed)
        #expect(hangs.issues.last?.message == "timed out after 0.5 s and was killed")

        let floods = try section("floods", timeout: 20)
        #expect(floods.status == .failed)
        #expect(floods.issues.last?.message == "printed more than 1048576 bytes")
        #expect(try section("garbled").issues.last?.message.hasPrefix("printed invalid JSON") == true)
        let fails = try section("fails")
        #expect(fails.status == .failed)
        #expect(fails.issues.last?.message == "exited with status 3: licence server unreachable")
    }

    @Test("declarative probes read files and run commands of the captured machine")
    func declarative() throws {
        let directory = try probeDirectory([
            "distro.yaml": "id: site.distro\nfields:\n  release:\n    file: [/etc/nonexistent, /etc/os-release]\n    regex: 'VERSION_ID=\"?([0-9.]+)'\n  missing:\n    file: /etc/not-here\n",
            "rocm.json": #"{"id": "rocmdriver", "fields": {"driver": {"command": ["rocm-smi", "--showallinfo", "--json"], "pointer": "/system/Driver version"}}}"#,
        ])
        let probes = try loadProbes(directory)
        let distro = try run(probes.first { $0.descriptor.id == "site.distro" }!, root: Project.machines + "/os-distro-debian10")
        #expect(distro.status == .ok)
        #expect(distro.data == ["release": "10"])
        let rocmMachine = Project.machines + "/gpu-telegraf-mi100_rocm571"
        let expectedDriver = shell("grep -o '\"Driver version\": *\"[^\"]*\"' '\(rocmMachine)'/commands/*.json | head -1 | sed 's/.*: *\"//; s/\"$//'").output.trimmed
        let rocm = try run(probes.first { $0.descriptor.id == "rocmdriver" }!, root: rocmMachine)
        #expect(!expectedDriver.isEmpty)
        #expect(rocm.data == ["driver": .string(expectedDriver)])
        // No file and no command on that machine: absent, not failed.
        #expect(try run(probes.first { $0.descriptor.id == "rocmdriver" }!, root: Project.machines + "/os-distro-debian10").status
            == .absent)
    }

    @Test("executables run under --root only when they say they support it")
    func rootSupport() throws {
        let directory = try probeDirectory([
            "plain.sh": "#!/bin/sh\necho '{}'\n",
            "rooted.sh": "#!/bin/sh\n# provenance-supports-root\nprintf '{\"root\": \"%s\"}' \"$PROVENANCE_ROOT\"\n",
        ])
        let probes = try loadProbes(directory)
        let machine = Project.machines + "/os-distro-debian10"
        #expect(try run(probes.first { $0.descriptor.id == "plain" }!, root: machine).status == .absent)
        #expect(try run(probes.first { $0.descriptor.id == "rooted" }!, root: machine).data == ["root": .string(machine)])
    }

    @Test("ids must not collide, definitions must be valid", arguments: [
        ["cpu.sh": "#!/bin/sh\necho '{}'\n"],
        ["a.yaml": "id: same\nfields: {x: {file: /x}}\n", "b.json": #"{"id": "same", "fields": {"y": {"file": "/y"}}}"#],
        ["bad.yaml": "id: Bad Id\nfields: {x: {file: /x}}\n"],
        ["bad.json": #"{"id": "x", "fields": {"y": {"file": "relative"}}}"#],
        ["bad.yaml": "id: x\nfields: {y: {command: [a], regex: '('}}\n"],
        ["bad.yaml": "id: x\nfields: {y: {file: /a, command: [b]}}\n"],
        ["bad.yaml": "id: x\nfields: [\n"],
        ["bad.yaml": "id: x\nfields: {y: {file: /a}}\nidentifying: [z]\n"],
        ["bad.yaml": "id: x\nfields: {y: {file: /a}}\nidentifying: y\n"],
        ["bad.yaml": "id: x\nfields: {y: {file: /a}}\nidentifying: []\n"],
    ])
    func invalid(files: [String: String]) throws {
        let directory = try probeDirectory(files)
        #expect(throws: ProbeDefinitionError.self) { try loadProbes(directory) }
        // Outside strict checking, the bad file is one failed section that says why.
        let probes = try loadProbes(directory, strict: false)
        let unusable = probes.compactMap { $0 as? UnusableProbe }
        #expect(unusable.count == 1, "\(probes.map(\.descriptor.id))")
        if let probe = unusable.first {
            let section = try run(probe)
            #expect(section.status == .failed)
            #expect(section.issues.first?.message.contains(probe.path.split(separator: "/").last.map(String.init) ?? "?") == true,
                    "\(section.issues)")
        }
    }

    @Test("site probes mark identifying fields (declarative `identifying:`, executable `provenance-identifying:`); the section records them and the anonymizer replaces their values")
    func identifying() throws {
        let base = "/tmp/provenance-site-\(getpid())-\(Int.random(in: 0...1_000_000_000))"
        defer { _ = shell("rm -rf '\(base)'") }
        _ = shell("mkdir -p '\(base)' && printf 'rack=r17-ams-4\\nrow=B\\n' > '\(base)/location'")
        let directory = try probeDirectory([
            "site.location.yaml": "id: site.location\nidentifying: [rack]\nfields:\n  rack:\n    file: \(base)/location\n    regex: 'rack=(\\S+)'\n  row:\n    file: \(base)/location\n    regex: 'row=(\\S+)'\n",
            "site.fabric.sh": "#!/bin/sh\n# provenance-identifying: switch, ports\necho '{\"switch\": \"sw-ams-r17-b\", \"ports\": [\"ams-p1\", \"ams-p2\"], \"speed\": \"200G\"}'\n",
        ])
        let probes = try loadProbes(directory)
        let location = try #require(probes.first { $0.descriptor.id == "site.location" })
        let fabric = try #require(probes.first { $0.descriptor.id == "site.fabric" })
        #expect(location.descriptor.identifying == ["rack"] && fabric.descriptor.identifying == ["ports", "switch"])
        let sections = ["site.location": try run(location), "site.fabric": try run(fabric)]
        #expect(sections["site.location"]?.data == ["rack": "r17-ams-4", "row": "B"])
        #expect(sections["site.location"]?.json["identifying"] == ["rack"])
        #expect(sections["site.fabric"]?.json["identifying"] == ["ports", "switch"])
        // The marking is not environment: the fingerprint is the same without it.
        func manifest(_ sections: [String: Section]) -> Manifest {
            Manifest(tool: .init(name: "provenance", version: "test"), captureTime: "2026-12-02T00:00:00Z", hostName: nil,
                     capture: .init(mode: "live", root: nil, durationMs: 0), sections: sections)
        }
        let unmarked = sections.mapValues { section in var copy = section; copy.identifying = []; return copy }
        #expect(manifest(sections).fingerprint == manifest(unmarked).fingerprint)
        #expect(manifest(unmarked).json["sections"]?["site.location"]?["identifying"] == nil)
        // The anonymizer finds the marked values in the manifest alone (no probe file) and
        // replaces them consistently; the unmarked ones stay.
        let values = Anonymizer.identifyingValues(inManifest: manifest(sections).json)
        #expect(values[.site] == ["r17-ams-4", "sw-ams-r17-b", "ams-p1", "ams-p2"])
        let anonymizer = Anonymizer(values: values)
        let text = anonymizer.apply(to: CanonicalJSON.string(manifest(sections).json))
        for value in ["r17-ams-4", "sw-ams-r17-b", "ams-p1", "ams-p2"] { #expect(!text.contains(value)) }
        #expect(text.contains("\"rack\":\"site-3\"") && text.contains("\"row\":\"B\"") && text.contains("\"speed\":\"200G\""), "\(text)")
    }

    @Test("hyphens in probe ids are fine; a bad file fails alone")
    func hyphensAndBadFiles() throws {
        let directory = try probeDirectory([
            "site-info.sh": "#!/bin/sh\necho '{\"ok\": 1}'\n",
            "Bad Name.sh": "#!/bin/sh\necho '{}'\n",
            "broken.yaml": "id: x\nfields: [\n",
        ])
        let probes = try loadProbes(directory, strict: false)
        let ids = Set(probes.map(\.descriptor.id))
        #expect(ids == ["site-info", "bad-name", "broken"], "\(ids)")
        #expect(try run(probes.first { $0.descriptor.id == "site-info" }!).data == ["ok": 1])
        #expect(try run(probes.first { $0.descriptor.id == "broken" }!).status == .failed)
    }

    @Test("the shipped examples load, validate and work on recorded machines")
    func shippedExamples() throws {
        let probes = try loadProbes(Project.root + "/Probes")
        #expect(Set(probes.map(\.descriptor.id)) == ["infiniband", "lustre", "mkl", "kernelmodules"])
        for probe in probes {
            let section = try run(probe, root: Project.machines + "/host-procfs")
            #expect(section.status == .absent || section.status == .ok, "\(probe.descriptor.id): \(section.issues)")
        }
        let live = try run(probes.first { $0.descriptor.id == "kernelmodules" }!)
        #expect(live.status == .ok)
    }
}
