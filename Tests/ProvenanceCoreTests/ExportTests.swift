import ProvenanceCore
import Testing

/// Export of values no real capture here can produce: a CUDA wheel's local version, a VCS
/// install from a remote, a URL masked at capture, and names carrying terminal control bytes.
/// The records have the python probe's shape (`name`, `version`, `directURL`, `vcsCommit`,
/// `editable`); the real-venv journey is in EndToEndTests/ExportCommandTests.
@Suite("export formatting")
struct ExportTests {
    static func manifest(_ distributions: [JSONValue], variables: [String: JSONValue] = [:]) -> JSONValue {
        [
            "schemaVersion": "1.0.0", "fingerprint": "sha256:00", "captureTime": "2026-12-02T04:23:00Z",
            "sections": [
                "python": ["status": "ok", "probeVersion": "1.0.0", "data": ["version": "3.11.7", "distributions": .array(distributions)]],
                "environment": ["status": "ok", "probeVersion": "1.0.0", "data": ["variables": .object(variables)]],
                "os": ["status": "ok", "probeVersion": "1.0.0", "data": ["osRelease": ["ID": "ubuntu", "VERSION_ID": "24.04"]]],
            ],
        ]
    }

    @Test("+cu124 adds the PyTorch index; a VCS install is pinned to its commit; masked URLs stay masked and are not installed")
    func requirementLines() throws {
        let commit = "0123456789abcdef0123456789abcdef01234567"
        let document = Self.manifest([
            ["name": "torch", "version": "2.5.1+cu124"],
            ["name": "weird", "version": "1.0+local.build"],
            ["name": "tool", "version": "0.1", "directURL": "https://github.com/org/tool", "vcsCommit": .string(commit)],
            ["name": "private", "version": "2.0", "directURL": "https://[masked]@git.example.org/p", "vcsCommit": .string(commit)],
        ])
        let output = try Export.export(.requirements, manifest: document)
        let lines = output.text.lines
        #expect(lines.contains("--extra-index-url https://download.pytorch.org/whl/cu124"))
        #expect(lines.contains("torch==2.5.1+cu124"))
        #expect(lines.contains("tool @ git+https://github.com/org/tool@\(commit)"))
        #expect(!lines.contains { !$0.hasPrefix("#") && ($0.contains("weird") || $0.contains("private")) })
        #expect(output.skipped.map(\.item).sorted() == ["private @ https://[masked]@git.example.org/p", "weird==1.0+local.build"])
        #expect(output.text.contains("[masked]"))

        let pylock = try Export.export(.pylock, manifest: document).text
        #expect(pylock.contains("vcs = { type = \"git\", url = \"https://github.com/org/tool\", commit-id = \"\(commit)\" }"))
        #expect(pylock.contains("index = \"https://download.pytorch.org/whl/cu124\""))
    }

    @Test("control bytes in recorded values never reach an exported file")
    func controlBytes() throws {
        let document = Self.manifest([["name": "evil\u{1B}[31m", "version": "1.0\n--index-url http://x"]],
                                     variables: ["PYTHONHASHSEED": "0\u{1B}]0;t\u{07}", "CUBLAS_WORKSPACE_CONFIG": "[masked]"])
        for format in [Export.Format.requirements, .pylock, .conda, .dockerfile, .apptainer] {
            let output = try Export.export(format, manifest: document)
            #expect(!output.text.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n") || $0.value == 0x7F }, "\(format)")
            #expect(!output.text.lines.contains { $0.hasPrefix("--index-url") }, "\(format)")
        }
        let dockerfile = try Export.export(.dockerfile, manifest: document)
        #expect(dockerfile.skipped.contains(Export.Skipped("environment CUBLAS_WORKSPACE_CONFIG", "its value was masked at capture")))
        #expect(dockerfile.text.contains("ARG BASE_IMAGE=ubuntu:24.04\n"))
    }
}
