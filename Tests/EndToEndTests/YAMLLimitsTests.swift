import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Hostile YAML through the real binary (issue 20): a 100,000-deep document and a billion-laughs
/// alias bomb, as a policy and as a site-probe definition. Before the libyaml loader both crashed
/// (SIGSEGV) or grew to gigabytes; now each is one clear line, quickly.
@Suite("hostile YAML policies and probe definitions, end to end", .serialized)
struct YAMLLimitsTests {
    let machine = Project.machines + "/os-distro-debian10"

    static let hostile: [(name: String, text: String, message: String)] = [
        ("deep", String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n",
         "nested deeper than 128 levels"),
        ("deepblock", String(repeating: "- ", count: 100_000) + "x\n", "nested deeper than 128 levels"),
        ("bomb", billionLaughs, "more than 1000000 nodes after expanding aliases"),
        ("huge", "rules: []\n" + String(repeating: "# padding\n", count: 900_000), "larger than 8 MiB"),
    ]

    /// Nine levels of nine aliases: 9^9 (387 million) strings once expanded.
    static var billionLaughs: String {
        var lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for level in 1...8 {
            lines.append("l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 9).joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test("verify --policy with a hostile YAML file: exit 65 and one line, within seconds")
    func policy() throws {
        let directory = temporaryDirectory()
        #expect(provenance(["capture", "-q", "--root", machine, "-o", directory + "/env.json"]).outcome == .exited(0))
        for (name, text, message) in Self.hostile {
            try AtomicFile.write(Array(text.utf8), to: "\(directory)/\(name).yaml")
            let started = monotonicSeconds()
            let result = provenance(["verify", directory + "/env.json", "--root", machine,
                                     "--policy", "\(directory)/\(name).yaml"], timeout: 30)
            #expect(result.outcome == .exited(65), "\(name): \(result.outcome) \(result.stderrText)")
            #expect(result.stderrText.lines.filter { !$0.isEmpty }.count == 1, "\(name): \(result.stderrText)")
            #expect(result.stderrText.contains("\(name).yaml: invalid YAML: ") && result.stderrText.contains(message),
                    "\(name): \(result.stderrText)")
            #expect(monotonicSeconds() - started < 10, "\(name)")
        }
    }

    @Test("a hostile YAML file in --probes-dir never crashes a capture; its error names the file")
    func probeDefinition() throws {
        for (name, text, message) in Self.hostile {
            let directory = temporaryDirectory()
            mkdir(directory + "/probes.d", 0o755)
            try AtomicFile.write(Array(text.utf8), to: "\(directory)/probes.d/\(name).yaml")
            let started = monotonicSeconds()
            let result = provenance(["capture", "-q", "--root", machine, "--probes-dir", directory + "/probes.d",
                                     "-o", directory + "/env.json"], timeout: 60)
            // Either the capture refuses the directory (65, one line), or it records the file as a
            // failed section and goes on (0): never a signal, never a hang.
            switch result.outcome {
            case .exited(65):
                #expect(result.stderrText.contains("\(name).yaml: invalid YAML: ") && result.stderrText.contains(message),
                        "\(name): \(result.stderrText)")
            case .exited(0):
                let manifest = String(decoding: try #require(try RootedFileSystem().readBytes(directory + "/env.json")),
                                      as: UTF8.self)
                #expect(manifest.contains(message), "\(name): the failed section should say why")
            default:
                Issue.record("\(name): \(result.outcome) \(result.stderrText)")
            }
            #expect(monotonicSeconds() - started < 30, "\(name)")
        }
    }
}
