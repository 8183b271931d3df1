import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceProbes
import ProvenanceTestSupport
import Testing

/// The YAML loader (libyaml events → JSONValue): the same values as PyYAML (an independent loader)
/// on the shipped files, and one clear error, quickly, for hostile documents.
@Suite("YAML loader: libyaml within limits")
struct YAMLLoaderTests {
    /// PyYAML's `safe_load` of a file, as JSON (python3-yaml, installed by install-deps.sh --test).
    func pyyaml(_ path: String) throws -> JSONValue {
        let result = shell("python3 -c 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)' '\(path)'")
        try #require(result.status == 0, "python3-yaml: \(result.output)")
        return try JSONParser.parse(Array(result.output.utf8))
    }

    func load(_ text: String, limits: YAMLLoader.Limits = .default) throws(YAMLLoader.Error) -> JSONValue {
        try YAMLLoader.load(Array(text.utf8), limits: limits)
    }

    @Test("the shipped site-probe definitions load as PyYAML loads them")
    func shippedDefinitions() throws {
        let names = shell("ls '\(Project.root)/Probes' | grep -E '\\.ya?ml$'").output.lines.filter { !$0.isEmpty }
        #expect(names.count >= 2)
        for name in names {
            let path = Project.root + "/Probes/" + name
            let bytes = try #require(try RootedFileSystem().readBytes(path))
            #expect(try YAMLLoader.load(bytes) == pyyaml(path), "\(name)")
        }
    }

    @Test("scalars, anchors, merges and styles resolve as PyYAML resolves them")
    func resolution() throws {
        let text = """
            base: &base {policy: strict, timeout: 5, ratio: 0.25, big: 1.5e+3, neg: -12, hex: 0x1F}
            derived:
              <<: *base
              timeout: 10
            flags: [true, False, yes, no, on, OFF, ~, null, '', "yes", '5', !!str 7]
            nested:
              - - a
                - b
              - {x: [1, 2, {y: z}]}
            text: |
              two
              lines
            folded: >
              one
              line
            2: integer key
            yes: a key that stays text in JSON
            """
        let path = "/tmp/provenance-yaml-\(Int.random(in: 0...1_000_000_000)).yaml"
        try AtomicFile.write(Array(text.utf8), to: path)
        defer { _ = shell("rm -f '\(path)'") }
        var expected = try pyyaml(path)
        // PyYAML turns the key `yes` into the boolean True (json.dump writes "true"); JSON keys are text,
        // and this loader keeps a key's text as written.
        if case .object(var members) = expected, let value = members.removeValue(forKey: "true") {
            members["yes"] = value
            expected = .object(members)
        }
        let loaded = try load(text)
        #expect(Set(loaded.objectValue?.keys ?? [:].keys) == Set(expected.objectValue?.keys ?? [:].keys))
        for (key, value) in expected.objectValue ?? [:] {
            #expect(loaded[key] == value, "\(key)")
        }
        #expect(try load("") == .null)
        #expect(try load("# only a comment\n") == .null)
    }

    @Test("bad YAML is one error line with its position")
    func errors() throws {
        let cases: [(String, String)] = [
            ("rules: [", "line "),
            ("a: 1\na: 2\n", "duplicate key 'a'"),
            ("a: *nowhere\n", "unknown alias '*nowhere'"),
            ("---\na: 1\n---\nb: 2\n", "more than one YAML document"),
            ("? [a, b]\n: c\n", "a mapping key must be a scalar"),
            ("<<: 5\n", "'<<' merges a mapping"),
        ]
        for (text, message) in cases {
            do {
                _ = try load(text)
                Issue.record("accepted \(text.debugDescription)")
            } catch {
                #expect(error.description.contains(message), "\(text.debugDescription): \(error)")
                #expect(!error.description.contains("\n"))
            }
        }
    }

    @Test("depth: 128 levels load, 129 do not; 100,000 levels fail at once instead of overflowing the stack")
    func depth() throws {
        let limit = YAMLLoader.Limits.default.maxDepth
        #expect(limit == 128)
        let ok = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        var value = try load(ok)
        for _ in 1..<limit { value = value.arrayValue?.first ?? .null }
        #expect(value == .array([]))
        for depth in [limit + 1, 100_000] {
            let flow = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            let block = String(repeating: "- ", count: depth) + "x\n"
            for text in [flow, block] {
                #expect(throws: YAMLLoader.Error.self) { try load(text) }
                do { _ = try load(text) } catch { #expect(error.description.contains("nested deeper than 128 levels")) }
            }
        }
    }

    @Test("aliases: a billion-laughs bomb stops at the node limit; honest reuse is fine")
    func aliasBomb() throws {
        let started = monotonicSeconds()
        do {
            _ = try load(Self.billionLaughs)
            Issue.record("the alias bomb loaded")
        } catch {
            #expect(error.description.contains("more than 1000000 nodes after expanding aliases"), "\(error)")
        }
        #expect(monotonicSeconds() - started < 2)
        // 9^3 = 729 leaves from three levels of aliases: well within the limit, and all there.
        let small = try load("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                             + "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n")
        let leaves = small["c"]?.arrayValue?.flatMap { $0.arrayValue ?? [] }.flatMap { $0.arrayValue ?? [] }
        #expect(leaves?.count == 729)
        // A smaller limit counts what each alias stands for.
        #expect(throws: YAMLLoader.Error.self) {
            try load("a: &a [x, x, x, x, x, x, x, x, x]\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n",
                     limits: YAMLLoader.Limits(maxNodes: 90))
        }
    }

    @Test("size: a document over 8 MiB is refused before parsing")
    func size() throws {
        let big = Array(repeating: UInt8(ascii: "#"), count: (8 << 20) + 1)
        do {
            _ = try YAMLLoader.load(big)
            Issue.record("accepted 8 MiB + 1")
        } catch {
            #expect(error.description == "larger than 8 MiB (8388609 bytes)")
        }
    }

    /// Nine levels of nine aliases: 9^9 (387 million) strings once expanded.
    static let billionLaughs: String = {
        var lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for level in 1...8 {
            let alias = "*l\(level - 1)"
            lines.append("l\(level): &l\(level) [" + Array(repeating: alias, count: 9).joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }()
}
