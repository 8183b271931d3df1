import ProvenanceCore
@testable import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

@Suite("Name patterns")
struct GlobMatchTests {
    @Test("every variable name of the recorded machines and this one against every allow-list pattern: bytes as characters")
    func realNames() throws {
        let fs = RootedFileSystem()
        var names: Set<String> = []
        let sources = ["/proc/self/environ"] + Project.machineNames.map { Project.machines + "/" + $0 + "/proc/self/environ" }
        for source in sources {
            for item in ((try? fs.read(source)) ?? nil)?.split(separator: "\u{0}") ?? [] {
                names.insert(String(item.split(separator: "=", maxSplits: 1).first ?? item))
            }
        }
        try #require(names.count > 50, "too few real variable names: \(names.count)")
        // Names and patterns around each step of the match: empty parts, repeated parts, a part
        // that fits only overlapping the prefix or the suffix, and non-ASCII and CR, which take
        // the character path.
        names.formUnion(["", "A", "AA", "AAA", "ABA", "ABAB", "CUDA_", "CUDA", "XCUDA_Y", "HF_HOME_HF", "é_X", "X\r\n", "a*b"])
        let patterns = EnvironmentProbe.defaultAllowList + [
            "*", "**", "A*A", "A*B*A", "*A*", "AB*AB", "A**A", "*_*", "HF_*_HF", "*HOME", "é_*", "X\r*", "a*b", "",
        ]
        var matched = 0
        for pattern in patterns {
            for name in names {
                let expected = MachinePathPattern.globMatchesByCharacters(pattern, name)
                #expect(MachinePathPattern.globMatches(pattern, name) == expected, "'\(pattern)' against '\(name)'")
                if expected { matched += 1 }
            }
        }
        #expect(matched > 50, "the real names match some patterns: \(matched)")
        // The patterns made ready (NamePatterns) against each pattern alone: the whole list, the
        // default allow-list, each pattern by itself, and none.
        var lists = [patterns, EnvironmentProbe.defaultAllowList, []] + patterns.map { [$0] }
        lists.append(["CUDA_*", "é", "PATH", "X\r*", "*_HOME"])
        var listMatches = 0
        for list in lists {
            let ready = NamePatterns(list)
            for name in names {
                let expected = list.contains { MachinePathPattern.globMatchesByCharacters($0, name) }
                #expect(ready.match(name) == expected, "\(list) against '\(name)'")
                if expected { listMatches += 1 }
            }
        }
        #expect(listMatches > 100, "the lists match some names: \(listMatches)")
    }
}
