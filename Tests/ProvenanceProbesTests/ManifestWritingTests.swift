@testable import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

/// The bytes a capture writes, made from the sections' data as their probes' threads wrote it,
/// against the whole manifest's JSON written at once.
@Suite("Manifest writing")
struct ManifestWritingTests {
    /// Captures of recorded machines: every fixture machine whose name starts with one of these
    /// (CPUs, containers, GPUs, OS releases, PCI, the CUDA stacks), and this machine live.
    static func manifests() throws -> [(name: String, manifest: Manifest)] {
        let kinds = ["cpu-hwloc", "container-", "gpu-telegraf", "os-distro", "pci-", "cuda-"]
        var results: [(String, Manifest)] = []
        for name in Project.machineNames where kinds.contains(where: name.hasPrefix) {
            var request = CaptureRequest(environment: [:], workingDirectory: "/", clock: FixedClock(secondsSinceEpoch: 1_700_000_000))
            request.root = Project.machines + "/" + name
            request.output = "-"
            results.append((name, try CapturePlan(request).run().manifest))
        }
        var live = CaptureRequest(environment: processEnvironment(), workingDirectory: Project.root)
        live.output = "-"
        live.useCache = false
        var manifest = try CapturePlan(live).run().manifest
        results.append(("this machine", manifest))
        // With attachments and without a host name, the other top-level shapes.
        manifest.attachments["sha256:ab"] = Attachment(mediaType: "text/x-diff", sizeBytes: 3, location: .inline(Array("a\nb".utf8)))
        manifest.hostName = nil
        results.append(("this machine, attachment, no host name", manifest))
        return results
    }

    /// The fingerprint as its definition says, from the manifest's JSON: SHA-256 of the canonical
    /// bytes of the schema version and each section's status, probe version and data.
    static func fingerprint(of json: JSONValue) -> String {
        var content: [String: JSONValue] = [:]
        for (id, section) in json["sections"]?.objectValue ?? [:] {
            var kept: [String: JSONValue] = [:]
            for key in ["status", "probeVersion", "data"] { kept[key] = section[key] }
            content[id] = .object(kept)
        }
        return Manifest.sha256(CanonicalJSON.serialize(["schemaVersion": json["schemaVersion"]!, "sections": .object(content)]))
    }

    @Test("the pretty bytes made from the data written ahead are the pretty bytes of the whole manifest, with its fingerprint")
    func partsMakeTheWhole() throws {
        let manifests = try Self.manifests()
        #expect(manifests.count > 40)
        for (name, manifest) in manifests {
            // The capture wrote every section's data ahead, so that is what is checked here.
            let sections = manifest.sections.values
            #expect(sections.allSatisfy { ($0.data == nil) == ($0.renderedData == nil) }, "\(name)")
            let (fingerprint, bytes) = CaptureOutcome.fingerprintAndPrettyBytes(manifest)
            #expect(bytes == CanonicalJSON.pretty(manifest.json), "\(name)")
            #expect(fingerprint == Self.fingerprint(of: manifest.json), "\(name)")
            #expect(manifest.fingerprint == fingerprint, "\(name)")
        }
    }

    @Test("data changed after it was written ahead is written as it is now; sections without it are written whole")
    func changedData() throws {
        let live = try #require(try Self.manifests().first { $0.name == "this machine" }).manifest
        var changed = live
        guard case .object(var os)? = changed.sections["os"]?.data else { Issue.record("no os data"); return }
        os["kernel"] = ["release": "changed after the probe"]
        changed.sections["os"]?.data = .object(os)
        changed.sections["cpu"]?.data = nil
        #expect(changed.sections["os"]?.renderedData == nil)
        #expect(changed.sections["packages.dpkg"]?.renderedData != nil)
        let (fingerprint, bytes) = CaptureOutcome.fingerprintAndPrettyBytes(changed)
        #expect(bytes == CanonicalJSON.pretty(changed.json))
        let json = try JSONParser.parse(bytes)
        #expect(json["sections"]?["os"]?["data"]?["kernel"]?["release"] == "changed after the probe")
        #expect(fingerprint == Self.fingerprint(of: json))
        #expect(json["fingerprint"]?.stringValue == fingerprint)
        #expect(fingerprint != live.fingerprint)
        // The same sections made again, without data written ahead: the same bytes.
        var readBack = live
        readBack.sections = live.sections.mapValues {
            Section(status: $0.status, probeVersion: $0.probeVersion, data: $0.data, volatile: $0.volatile, issues: $0.issues,
                    durationMs: $0.durationMs, identifying: $0.identifying)
        }
        #expect(readBack.sections.values.allSatisfy { $0.renderedData == nil })
        #expect(CaptureOutcome.fingerprintAndPrettyBytes(readBack).bytes == CaptureOutcome.fingerprintAndPrettyBytes(live).bytes)
        #expect(readBack.fingerprint == live.fingerprint)
    }

    @Test("both forms written in one walk are each form written alone, at every nesting level")
    func bothFormsInOneWalk() throws {
        var values: [JSONValue] = [[:], [], "", 0, ["b": 1, "a": [1, .double(2.5), .null, true], "\u{1f600}": "x\n\"", "\u{e000}": [:], "c": []]]
        for (_, manifest) in try Self.manifests() { values += manifest.sections.values.compactMap(\.data) }
        for value in values {
            for level in 0..<4 {
                var canonical: [UInt8] = [7]
                var pretty: [UInt8] = [9]
                CanonicalJSON.serializeAndPretty(value, level: level, canonical: &canonical, pretty: &pretty)
                var alone: [UInt8] = [9]
                CanonicalJSON.pretty(value, level: level, into: &alone)
                #expect(canonical == [7] + CanonicalJSON.serialize(value))
                #expect(pretty == alone)
            }
        }
    }

    @Test("the data written ahead is what the fingerprint and the pretty form take")
    func writtenAheadIsUsed() throws {
        var section = Section(status: .ok, probeVersion: "1", data: ["k": "v"])
        section.renderData()
        #expect(section.renderedData?.canonical == Array(#"{"k":"v"}"#.utf8))
        section.renderedData = RenderedData(canonical: Array(#""planted""#.utf8), pretty: Array(#""planted too""#.utf8))
        let manifest = Manifest(tool: .init(name: "provenance", version: "0"), captureTime: "t", hostName: nil,
                                capture: .init(mode: "live", root: nil, durationMs: 0), sections: ["s": section])
        #expect(String(decoding: manifest.fingerprintDocument, as: UTF8.self).contains(#""data":"planted""#))
        var pretty: [UInt8] = []
        manifest.writePrettySections(into: &pretty)
        #expect(String(decoding: pretty, as: UTF8.self).contains(#""data": "planted too""#))
    }

    @Test("an object written from its members' written values is the object written whole", arguments: [
        JSONValue.object([:]), ["b": 1, "a": [1, 2], "\u{1f600}": "x", "\u{e000}": [:], "c": []],
        ["sections": ["z": ["data": ["k": "v"]]], "tool": ["name": "provenance"]],
    ])
    func prettyObject(_ value: JSONValue) {
        let members = value.objectValue ?? [:]
        for level in 0..<3 {
            var whole: [UInt8] = []
            CanonicalJSON.pretty(value, level: level, into: &whole)
            var parts: [UInt8] = []
            CanonicalJSON.prettyObject(keys: Array(members.keys), level: level, into: &parts) { key, out in
                var written: [UInt8] = []
                CanonicalJSON.pretty(members[key]!, level: level + 1, into: &written)
                out.append(contentsOf: written)
            }
            #expect(parts == whole, "level \(level)")
        }
        var parts: [UInt8] = []
        CanonicalJSON.serializeObject(keys: Array(members.keys), into: &parts) { key, out in
            out.append(contentsOf: CanonicalJSON.serialize(members[key]!))
        }
        #expect(parts == CanonicalJSON.serialize(value))
    }
}
