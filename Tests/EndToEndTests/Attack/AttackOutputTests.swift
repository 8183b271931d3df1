import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Output that cannot attack its reader: no terminal control bytes from data, Markdown that
/// runs no HTML, LaTeX that always compiles, attestations that name each subject once.
@Suite("Attack: output that cannot attack its reader", .serialized)
struct AttackOutputTests {
    static let hostileText = "x\u{1B}]0;pwned\u{07}\u{1B}[2J\r<img src=x onerror=alert(1)>\u{202E}"

    /// Two manifests whose keys, set members, host names and section ids carry control bytes.
    static func hostilePair(_ base: String) throws -> (String, String) {
        let a = Attack.manifest(host: "vm\u{1B}[31m", sections: [
            "environment": ["variables": [.init(stringLiteral: "K" + hostileText): "1"]],
            "cpu": ["flags": ["avx", .string("f" + hostileText)]],
            "s" + hostileText: ["v": .string(hostileText)],
        ])
        let b = Attack.manifest(host: "vm\u{07}", sections: [
            "environment": ["variables": [.init(stringLiteral: "K" + hostileText): "2"]],
            "cpu": ["flags": ["avx2", .string("g" + hostileText)]],
            "s" + hostileText: ["v": .string(hostileText + "2")],
        ])
        try Attack.write(a, to: base + "/a.json")
        try Attack.write(b, to: base + "/b.json")
        return (base + "/a.json", base + "/b.json")
    }

    static func controlBytes(_ bytes: [UInt8]) -> Int {
        // Newlines end lines; everything else below 0x20 (and DEL, and C1 in UTF-8) is refused.
        var count = bytes.filter { ($0 < 0x20 && $0 != 0x0A) || $0 == 0x7F }.count
        for index in bytes.indices.dropLast() where bytes[index] == 0xC2 && (0x80...0x9F).contains(bytes[index + 1]) {
            count += 1
        }
        return count + (Attack.contains(bytes, "\u{202E}") ? 1 : 0)
    }

    @Test("diff, verify, audit and errors print no control bytes from data")
    func terminalControl() throws {
        let base = temporaryDirectory()
        let (a, b) = try Self.hostilePair(base)
        var found: [String] = []
        let runs: [(String, [String])] = [
            ("diff", ["diff", a, b]), ("verify", ["verify", a, "--against", b]),
            ("audit", ["audit", a, b]), ("audit same", ["audit", a, a]),
            ("error", ["diff", a, base + "/missing\u{1B}[2J.json"]),
            ("verify-attestation", ["verify-attestation", a, "--key", a]),
        ]
        for (name, arguments) in runs {
            let result = provenance(arguments)
            #expect(Attack.crashedOrHung(result) == nil, "\(name)")
            let count = Self.controlBytes(result.stdout) + Self.controlBytes(result.stderr)
            if count > 0 { found.append("\(name): \(count) control bytes: \(result.stdoutText.prefix(200))\(result.stderrText.prefix(200))") }
        }
        #expect(found.isEmpty, "\(found)")
        // The bytes are shown, escaped.
        #expect(provenance(["diff", a, b]).stdoutText.contains("\\x1b"))
    }

    @Test("diff and verify Markdown escape HTML like render's")
    func markdownEscaped() throws {
        let base = temporaryDirectory()
        let (a, b) = try Self.hostilePair(base)
        for arguments in [["diff", "--format", "markdown", a, b], ["verify", "--format", "markdown", a, "--against", b]] {
            let text = provenance(arguments).stdoutText
            #expect(!text.replacing("\\<", with: "").contains("<img"), "\(arguments[0]): \(text.prefix(400))")
            #expect(text.contains("\\<img"), "\(arguments[0]): \(text.prefix(400))")
        }
        #expect(EnvironmentRenderer.escapeMarkdown("<img src=x>") == "\\<img src=x\\>")
    }

    @Test("LaTeX with labels starting with [ or *, and non-ASCII, compiles with pdflatex")
    func latexCompiles() throws {
        guard shell("command -v pdflatex").status == 0 else {
            Issue.record("pdflatex is missing: run scripts/install-deps.sh --test"); return
        }
        let base = temporaryDirectory()
        try Attack.write(Attack.manifest(host: "[host]", sections: [
            "[section]": ["[label]": "[value]", "*star": "*", "日本語": "naïve café 😀", "x": "\\\\[2pt]"],
            "*section": ["[a]": ["[b]", "*c", "\\relax"]],
            "environment": ["variables": ["[X": "]", "*Y": "ü", "Z": "\u{1B}[31m"]],
        ]), to: base + "/m.json")
        let render = provenance(["render", "--format", "latex", "--standalone", base + "/m.json", "-o", base + "/m.tex"])
        #expect(render.outcome == .exited(0), "\(render.stderrText)")
        let compiled = shell("cd '\(base)' && pdflatex -interaction=nonstopmode -halt-on-error m.tex >/dev/null 2>&1; echo $?; test -s m.pdf && echo pdf",
                             timeout: 120)
        #expect(compiled.output.lines == ["0", "pdf"], "pdflatex: \(shell("tail -20 '\(base)/m.log'").output)")
        // The default, a fragment, in a bare \input wrapper.
        let fragment = provenance(["render", "--format", "latex", base + "/m.json", "-o", base + "/f.tex"])
        #expect(fragment.outcome == .exited(0), "\(fragment.stderrText)")
        try AtomicFile.write(Array("\\documentclass{article}\\begin{document}\\input{f.tex}\\end{document}\n".utf8), to: base + "/w.tex")
        let wrapped = shell("cd '\(base)' && pdflatex -interaction=nonstopmode -halt-on-error w.tex >/dev/null 2>&1; echo $?; test -s w.pdf && echo pdf",
                            timeout: 120)
        #expect(wrapped.output.lines == ["0", "pdf"], "pdflatex: \(shell("tail -20 '\(base)/w.log'").output)")
        let tex = try #require(try RootedFileSystem().read(base + "/m.tex"))
        #expect(!tex.contains("\\\\\n["), "a row starts with [ after \\\\")
    }

    @Test("verify-attestation refuses a statement that lists a subject twice, once with a wrong digest")
    func duplicateSubject() throws {
        let base = temporaryDirectory()
        #expect(provenance(["keygen", "--out", base + "/k"]).outcome == .exited(0))
        try AtomicFile.write(Array("model".utf8), to: base + "/model.bin")
        let manifest = Attack.manifest(sections: ["os": ["id": "debian"]])
        let right = Manifest.sha256(Array("model".utf8)).replacing("sha256:", with: "")
        let key = try #require(try RootedFileSystem().read(base + "/k.key"))
        for subjects in [[right, String(repeating: "0", count: 64)], [String(repeating: "0", count: 64), right]] {
            let envelope = try Attestation.sign(manifest: manifest, subjects: subjects.map {
                InTotoStatement.Subject(name: base + "/model.bin", digest: ["sha256": $0])
            }, privateKeyPEM: key)
            try AtomicFile.write(CanonicalJSON.pretty(envelope.json), to: base + "/e.json")
            let result = provenance(["verify-attestation", base + "/e.json", "--key", base + "/k.pub",
                                     "--subject", base + "/model.bin"])
            #expect(result.outcome == .exited(2), "\(result.stdoutText) \(result.stderrText)")
            #expect(result.stderrText.contains("listed 2 times"), "\(result.stderrText)")
        }
        // Listed once, right: verified.
        let envelope = try Attestation.sign(manifest: manifest, subjects: [
            InTotoStatement.Subject(name: base + "/model.bin", digest: ["sha256": right])], privateKeyPEM: key)
        try AtomicFile.write(CanonicalJSON.pretty(envelope.json), to: base + "/e.json")
        #expect(provenance(["verify-attestation", base + "/e.json", "--key", base + "/k.pub",
                            "--subject", base + "/model.bin"]).outcome == .exited(0))
    }
}
