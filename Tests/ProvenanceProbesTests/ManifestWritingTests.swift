import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

/// The bytes a capture writes, made in parts on two threads, against the whole made at once.
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

    @Test("the pretty bytes made in parts are the pretty bytes of the whole manifest, with its fingerprint")
    func partsMakeTheWhole() throws {
        let manifests = try Self.manifests()
        #expect(manifests.count > 40)
        for (name, manifest) in manifests {
            let (json, bytes) = CaptureOutcome.jsonAndPrettyBytes(manifest)
            #expect(json == manifest.json, "\(name)")
            #expect(bytes == CanonicalJSON.pretty(manifest.json), "\(name)")
            #expect(json["fingerprint"]?.stringValue == manifest.fingerprint, "\(name)")
        }
    }

    @Test("an object written from written members is the object written whole", arguments: [
        JSONValue.object([:]), ["b": 1, "a": [1, 2], "\u{1f600}": "x", "\u{e000}": [:], "c": []],
        ["sections": ["z": ["data": ["k": "v"]]], "tool": ["name": "provenance"]],
    ])
    func prettyObject(_ value: JSONValue) {
        var members: [String: [UInt8]] = [:]
        for (key, member) in value.objectValue ?? [:] {
            var out: [UInt8] = []
            CanonicalJSON.pretty(member, level: 1, into: &out)
            members[key] = out
        }
        #expect(CanonicalJSON.prettyObject(writtenMembers: members) == CanonicalJSON.pretty(value))
    }
}
