import Testing
@testable import ProvenanceCore

@Suite("Rendering a manifest for a paper")
struct RenderTests {
    @Test("LaTeX escaping covers the ten specials and characters OT1 would misprint")
    func latexEscaping() {
        #expect(EnvironmentRenderer.escapeLaTeX("a&b%c$d#e_f{g}h~i^j\\k") ==
            "a\\&b\\%c\\$d\\#e\\_\\allowbreak{}f\\{g\\}h\\textasciitilde{}i\\textasciicircum{}j\\textbackslash{}k")
        #expect(EnvironmentRenderer.escapeLaTeX("<|>") == "\\textless{}\\textbar{}\\textgreater{}")
        #expect(EnvironmentRenderer.escapeLaTeX("日") == "{[}U+65E5{]}")
        #expect(EnvironmentRenderer.escapeLaTeX("a\u{07}b\nc") == "ab c")
    }

    @Test("HTML and Markdown escaping")
    func otherEscaping() {
        #expect(EnvironmentRenderer.escapeHTML("<a href=\"x\">&'") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;")
        #expect(EnvironmentRenderer.escapeMarkdown("a|b*c_d\ne (x) [y]") == "a\\|b\\*c\\_d e (x) \\[y\\]")
    }

    @Test("byte sizes in binary units, integer arithmetic")
    func bytes() {
        #expect(EnvironmentSummary.formatBytes(512) == "512 bytes")
        #expect(EnvironmentSummary.formatBytes(1) == "1 byte" && EnvironmentSummary.formatBytes(0) == "0 bytes")
        #expect(EnvironmentSummary.formatBytes(1024) == "1 KiB (1024 bytes)")
        #expect(EnvironmentSummary.formatBytes(128_520_671_232) == "119.7 GiB (128520671232 bytes)")
    }

    @Test("unknown shapes and empty manifests do not crash")
    func robustness() {
        let odd: [JSONValue] = [
            .null, [:], ["sections": 3], ["sections": ["cpu": "x", "gpu.nvidia": ["data": [1, 2]], "git": ["data": "abc"],
                                                        "datasets": ["data": [["digest": 5]]], "python": ["data": ["distributions": 3]]]],
        ]
        for manifest in odd {
            for format in EnvironmentRenderer.Format.allCases {
                #expect(!EnvironmentRenderer.render(manifest, format: format, full: true).isEmpty)
            }
        }
    }
}
