import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A manifest in the shapes of the section models, with values full of characters LaTeX, HTML and
/// Markdown treat specially: for the escaping tests only. What render says about real machines is
/// tested on recorded machines and live captures (`RenderFactsTests`).
let richManifest: JSONValue = [
    "schemaVersion": "1.0.0", "fingerprint": .string("sha256:" + String(repeating: "9f", count: 32)),
    "captureTime": "2026-11-23T16:37:28Z", "tool": ["name": "provenance", "version": "0.1.0"],
    "sections": [
        "cpu": ["status": "ok", "probeVersion": "1.0.0", "data": [
            "modelName": "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz ™ ®", "logicalCPUs": 96, "architectureFamily": "x86",
            "topology": ["sockets": 2, "cores": 48, "source": "sysfs"], "flags": ["avx2", "avx512f"], "identification": [:],
        ]],
        "memory": ["status": "ok", "probeVersion": "1.0.0", "data": ["memTotalBytes": 404_620_000_000]],
        "os": ["status": "ok", "probeVersion": "1.0.0", "data": [
            "osRelease": ["PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "ID": "debian"],
            "kernel": ["release": "6.1.0-13-amd64", "commandLine": "root=UUID=x ro quiet mem=64G% isolcpus=1-3 ~ ^ \\ {x} $HOME #1 & <b> | \"q\""],
            "architecture": "x86_64",
        ]],
        "libc": ["status": "ok", "probeVersion": "1.0.0", "data": ["implementation": "glibc", "version": "2.36", "path": "/lib/x86_64-linux-gnu/libc.so.6"]],
        "python": ["status": "ok", "probeVersion": "1.0.0", "data": [
            "version": "3.11.7", "environmentKind": "venv", "executable": "/venv/bin/python3",
            "resolvedExecutable": "/usr/bin/python3.11", "prefix": "/venv", "sitePackages": ["/venv/lib/python3.11/site-packages"],
            "distributions": [["name": "numpy", "version": "1.26.4", "location": "/venv/lib/python3.11/site-packages"], ["name": "torch", "version": "2.3.0+cu121", "location": "/venv/lib/python3.11/site-packages"],
                              ["name": "Jax", "version": "0.4.28", "location": "/venv/lib/python3.11/site-packages"], ["name": "scikit_learn", "version": "1.5.0", "location": "/venv/lib/python3.11/site-packages"]],
        ]],
        "gpu.nvidia": ["status": "ok", "probeVersion": "1.0.0", "data": [
            "source": "nvidia-smi", "driverVersion": "550.54.15", "cudaDriverVersion": "12.4", "gpuCount": 2,
            "gpus": [["pciBusIdNormalized": "0000:3b:00.0", "productName": "NVIDIA A100-SXM4-80GB"],
                     ["pciBusIdNormalized": "0000:5e:00.0", "productName": "NVIDIA A100-SXM4-80GB"]],
        ]],
        "gpu.amd": ["status": "absent", "probeVersion": "1.0.0"],
        "cuda": ["status": "ok", "probeVersion": "1.0.0", "data": [
            "toolkit": ["version": "12.4.1", "source": "version.json", "sourcePath": "/usr/local/cuda/version.json"],
            "libraryHeaders": [["library": "cudnn", "path": "/usr/include/cudnn_version.h", "version": "9.1.0"]],
        ]],
        "git": ["status": "ok", "probeVersion": "1.0.0", "data": ["repositories": [[
            "path": "/home/me/project_x", "commit": "0123456789abcdef0123456789abcdef01234567", "branch": "feature/x_y",
            "detached": false, "tags": [], "remotes": [:], "shallow": false, "worktree": false, "bare": false, "submodules": [],
            "status": ["staged": ["count": 0, "paths": [], "truncated": false], "unstaged": ["count": 1, "paths": ["a.py"], "truncated": false],
                       "untracked": ["count": 0, "paths": [], "truncated": false], "conflicted": ["count": 0, "paths": [], "truncated": false]],
        ]]]],
        "datasets": ["status": "ok", "probeVersion": "1.0.0", "data": [
            "imagenet_2012%": ["path": "/data/imagenet_2012/train%", "kind": "directory", "digest": .string("sha256:" + String(repeating: "ab", count: 32)),
                               "fileCount": 2, "totalBytes": 10, "symlinks": [], "skipped": []],
            "wiki&<b>": ["path": "/data/wiki", "kind": "directory", "digest": .string("sha256:" + String(repeating: "cd", count: 32)),
                         "fileCount": 1, "totalBytes": 3, "symlinks": [], "skipped": []],
        ]],
        "mystery": ["status": "ok", "probeVersion": "1.0.0", "data": ["list": [[["deep": [nil, true, .double(1.5)]]]]]],
    ],
]

/// Compiles a LaTeX file with pdflatex (twice is not needed: no references) and returns the log tail.
private func pdflatex(_ path: String) -> (ok: Bool, log: String) {
    let directory = String(path[..<path.lastIndex(of: "/")!])
    let result = shell("cd \(directory) && pdflatex -interaction=nonstopmode -halt-on-error \(path) 2>&1 | tail -25", timeout: 120)
    let pdf = String(path.dropLast(4)) + ".pdf"
    return (result.status == 0 && RootedFileSystem().exists(pdf), result.output)
}

@Suite("provenance render, end to end", .serialized)
struct RenderCommandTests {
    @Test("every recorded machine's manifest renders in every format, with its fingerprint")
    func recordedMachines() throws {
        #expect(Project.machineNames.count > 50)
        for name in Project.machineNames {
            let path = try #require(RecordedCaptures.shared.manifest(name), "capture of \(name) failed")
            let fingerprint = try readJSON(path)["fingerprint"]?.stringValue ?? "?"
            for format in ["markdown", "latex", "html"] {
                for full in [false, true] {
                    let result = provenance(["render", path, "--format", format] + (full ? ["--full"] : []))
                    #expect(result.outcome == .exited(0), "\(name) \(format): \(result.stderrText)")
                    #expect(result.stdoutText.contains(format == "latex" ? "sha256:\\allowbreak{}" : fingerprint), "\(name) \(format)")
                }
            }
        }
    }

    @Test("the rich manifest: every group renders, its special characters escaped")
    func summary() throws {
        let directory = temporaryDirectory()
        try write(richManifest, directory + "/env.json")
        let result = provenance(["render", directory + "/env.json"])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        let text = result.stdoutText
        for expected in [
            "## Computational environment", "| CPU | Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz ™ ® |",
            "| CPU count | 2 sockets, 48 cores, 96 logical CPUs |", "| Memory | 376.8 GiB (404620000000 bytes) |",
            "| NVIDIA GPUs | 2 × NVIDIA A100-SXM4-80GB |", "| NVIDIA driver | 550.54.15 |", "| cudnn | 9.1.0 |",
            "| Distribution | Debian GNU/Linux 12 (bookworm) |",
            "| Kernel | 6.1.0-13-amd64 |", "| C library | glibc 2.36 |", "| Python | Python 3.11.7 (venv) |",
            "| numpy | 1.26.4 |", "| torch | 2.3.0+cu121 |", "| jax | 0.4.28 |", "| scikit-learn | 1.5.0 |",
            "| Repository | /home/me/project\\_x |", "| Branch | feature/x\\_y |",
            "| Commit | 0123456789abcdef0123456789abcdef01234567 |", "| Working tree | dirty (uncommitted changes: 1 unstaged) |",
            "| imagenet\\_2012% | sha256:abab", "| wiki\\&\\<b\\> | sha256:cdcd",
            "| Fingerprint | sha256:9f9f",
        ] {
            #expect(text.contains(expected), "missing \(expected) in\n\(text)")
        }
        #expect(!text.contains("All recorded facts"))
        let full = provenance(["render", directory + "/env.json", "--full"]).stdoutText
        #expect(full.contains("#### mystery (ok)"))
        #expect(full.contains("| flags | avx2, avx512f |"))
        #expect(full.contains("#### gpu.amd (absent)\n\nNo data."))
    }

    @Test("LaTeX (--standalone) escapes special characters and compiles with pdflatex: rich, recorded and live manifests")
    func latex() throws {
        #expect(shell("command -v pdflatex").status == 0,
                "pdflatex is not installed: run scripts/install-deps.sh --test (texlive-latex-base)")
        let directory = temporaryDirectory()
        try write(richManifest, directory + "/rich.json")
        #expect(provenance(["capture", "-q", "-o", directory + "/live.json"]).outcome == .exited(0))
        let inputs = [directory + "/rich.json", directory + "/live.json",
                      try #require(RecordedCaptures.shared.manifest("host-hwloc-nvidia-dgx-gb10")),
                      try #require(RecordedCaptures.shared.manifest("os-distro-debian13"))]
        for (index, input) in inputs.enumerated() {
            for full in [false, true] {
                let output = "\(directory)/appendix\(index)\(full ? "-full" : "").tex"
                let result = provenance(["render", input, "--format", "latex", "--standalone", "-o", output] + (full ? ["--full"] : []))
                #expect(result.outcome == .exited(0), "\(result.stderrText)")
                let compiled = pdflatex(output)
                #expect(compiled.ok, "\(input) did not compile:\n\(compiled.log)")
            }
        }
        let tex = try #require(try RootedFileSystem().read(directory + "/appendix0-full.tex"))
        #expect(tex.contains("mem=\\allowbreak{}64G\\% isolcpus=\\allowbreak{}1-3 \\textasciitilde{} \\textasciicircum{} \\textbackslash{} \\{x\\} \\$HOME \\#1 \\& \\textless{}b\\textgreater{} \\textbar{} {\\ttfamily\\char34}q{\\ttfamily\\char34}"))
        #expect(tex.contains("\\texttrademark{} \\textregistered{}"))
        // The text of the PDF has the values back (pdftotext is not in texlive-latex-base: check the log's page count).
        #expect(shell("grep -c 'Output written' \(directory)/appendix0-full.log").output.trimmed == "1")
    }

    @Test("HTML is one self-contained, escaped page")
    func html() throws {
        let directory = temporaryDirectory()
        try write(richManifest, directory + "/env.json")
        let result = provenance(["render", directory + "/env.json", "--format", "html", "--full", "-o", directory + "/env.html"])
        #expect(result.outcome == .exited(0))
        let page = try #require(try RootedFileSystem().read(directory + "/env.html"))
        #expect(page.hasPrefix("<!DOCTYPE html>\n<html lang=\"en\">"))
        #expect(page.hasSuffix("</body>\n</html>\n"))
        #expect(page.contains("<style>"))
        for forbidden in ["<script", "<link", "src=", "href=", "<b>", "@import"] {
            #expect(!page.contains(forbidden), "\(forbidden)")
        }
        #expect(page.contains("<tr><th>wiki&amp;&lt;b&gt;</th>"))
        #expect(page.contains("&#39;") || !page.contains("'"))
        #expect(page.contains("&lt;b&gt; | &quot;q&quot;"))
        if shell("python3 -c 'import html.parser'").status == 0 {
            // Well-formed enough for Python's parser to see every table closed.
            let check = shell("""
                python3 -c 'import html.parser,sys
                class P(html.parser.HTMLParser):
                    depth=0
                    def handle_starttag(s,t,a): s.depth += t=="table"
                    def handle_endtag(s,t): s.depth -= t=="table"
                p=P(); p.feed(open(sys.argv[1]).read()); sys.exit(p.depth)' \(directory)/env.html
                """)
            #expect(check.status == 0)
        }
    }

    @Test("render of a live capture; bad input gets one line and its exit code")
    func liveAndErrors() throws {
        let directory = temporaryDirectory()
        #expect(provenance(["capture", "-q", "-o", directory + "/env.json"]).outcome == .exited(0))
        let live = provenance(["render", directory + "/env.json"])
        #expect(live.outcome == .exited(0))
        let kernel = shell("uname -r").output.trimmed
        #expect(live.stdoutText.contains("| Kernel | \(EnvironmentRenderer.escapeMarkdown(kernel)) |"))
        #expect(live.stdoutText.contains("logical CPUs"))
        #expect(live.stdoutText.contains("| Memory | "))

        let missing = provenance(["render", directory + "/nope.json"])
        #expect(missing.outcome == .exited(66))
        try AtomicFile.write(Array("{".utf8), to: directory + "/bad.json")
        let bad = provenance(["render", directory + "/bad.json"])
        #expect(bad.outcome == .exited(65))
        #expect(bad.stderrText.split(separator: "\n").count == 1)
        let format = provenance(["render", directory + "/env.json", "--format", "pdf"])
        #expect(format.outcome == .exited(64))
    }
}
