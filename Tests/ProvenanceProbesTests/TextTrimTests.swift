@testable import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

@Suite("Trimming on bytes")
struct TextTrimTests {
    @Test("every line and field of the recorded machines' cpuinfo, os-release and environ trims as by characters")
    func realText() throws {
        let fs = RootedFileSystem()
        var pieces: [Substring] = []
        for machine in Project.machineNames {
            for file in ["/proc/cpuinfo", "/etc/os-release", "/proc/self/environ", "/proc/cmdline", "/proc/meminfo"] {
                guard let text = (try? fs.read(Project.machines + "/" + machine + file)) ?? nil else { continue }
                for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\u{0}" }) {
                    pieces.append(line)
                    pieces += line.split(separator: ":", omittingEmptySubsequences: false)
                    pieces += line.split(separator: "=", omittingEmptySubsequences: false)
                }
            }
        }
        try #require(pieces.count > 10_000, "too few real lines: \(pieces.count)")
        // Around the edges: CR LF as one character, a space with a combining mark, only spaces.
        pieces += ["", " ", "\r\n", " a\r\n", "\r\na\r", "\t x \t", " \u{301}a", "a \u{301}", "\"quoted\"", ".a.", "é ", " é"]
        for piece in pieces {
            #expect(piece.trimmed == piece.trimmedByCharacters, "\(Array(piece.unicodeScalars))")
            for set in ["\"", ".", " \t", "\r", "\n", "\r\n", " \t\r"] {
                #expect(piece.trimmingCharacters(in: set) == piece.trimmingCharactersByCharacters(in: set),
                        "\(Array(piece.unicodeScalars)) in \(Array(set.unicodeScalars))")
            }
        }
    }
}
