import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

/// `render` for papers, on real run directories (`provenance run`, live and on recorded GPU
/// machines with `--root`): the Run group, the compute used by several runs, `--anonymize` in
/// every format, and LaTeX fragments that compile in a bare `\input` wrapper.
@Suite("provenance render for papers: run directories, compute used, double-blind, LaTeX fragments", .serialized)
struct RenderPapersTests {
    /// Planted identifiers: a user with a home directory holding the repository (with a remote of
    /// a named organisation), the dataset and an output; a MAC address and a UUID on the command line.
    struct Job {
        var base: String
        var home: String
        var repository: String
        var data: String
        var runDirectory: String
        let user = "secretuser"
        let remote = "https://github.com/secret-org/secret-repo.git"
        let mac = "52:54:00:ab:cd:ef"
        let uuid = "6f1c2d3e-4b5a-4c6d-8e7f-a1b2c3d4e5f6"
    }

    /// The host name planted with a UTS namespace of its own (`unshare -u`, root), where one can be made.
    static let host = "secret-host-42"
    static let canSetHost = shell("unshare -u sh -c 'hostname \(host) && hostname'").output.trimmed == host

    func provenanceIn(_ directory: String, _ arguments: [String], _ environment: [String: String] = [:]) -> CommandResult {
        var merged = processEnvironment()
        merged["SOURCE_DATE_EPOCH"] = "1700000000"
        merged.merge(environment) { _, new in new }
        let host = Self.canSetHost ? ["unshare", "-u", "sh", "-c", "hostname \(Self.host) && exec \"$@\"", "sh"] : []
        return LiveCommandRunner(environment: merged).run(
            ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", directory] + host + [Project.executable] + arguments, timeout: 180)
    }

    /// A real `provenance run` in a git repository under a user's home, with seeds, parameters from
    /// the command line, a config file and the job, a dataset and an output.
    func runJob(extra: [String] = [], name: String = "run") throws -> Job {
        let base = temporaryDirectory()
        let home = base + "/home/secretuser"
        var job = Job(base: base, home: home, repository: home + "/project", data: home + "/data", runDirectory: base + "/runs/" + name)
        let setup = shell("""
            set -e
            mkdir -p '\(job.repository)' '\(job.data)/a' '\(base)/runs'
            cd '\(job.repository)' && git init -q && git config user.email t@example.org && git config user.name T
            git remote add origin '\(job.remote)'
            printf 'optimizer:\\n  lr: 0.01\\nepochs: 10\\n' > base.yaml
            printf 'print(1)\\n' > train.py && git add train.py base.yaml && git commit -q -m one
            printf 'print(2)\\n' > train.py
            seq 1 1000 > '\(job.data)/a/numbers.txt'
            """)
        #expect(setup.status == 0, "\(setup.output)")
        job.runDirectory = base + "/runs/" + name
        let script = "printf 'weights' > \(job.home)/model.bin; printf '{\"steps_per_epoch\": 512}' > \"$PROVENANCE_RUN_DIR/params.json\"; "
            + "head -c 30000000 /dev/zero | tail -c 1 > /dev/null; true"
        let ran = provenanceIn(job.repository, ["run", "-q", "--out", job.runDirectory, "--repo", job.repository, "--seed", "torch=42",
                                                "--param", "lr=0.1", "--config", "base.yaml", "--dataset", "train=\(job.data)",
                                                "--output", job.home + "/model.bin"] + extra
                                   + ["--", "sh", "-c", script, "job", "--node-mac", job.mac, "--node-id", job.uuid],
                               ["HOME": job.home, "USER": job.user, "LOGNAME": job.user, "XDG_CACHE_HOME": base + "/cache"])
        #expect(ran.outcome == .exited(0), "\(ran.stderrText)")
        return job
    }

    @Test("a run directory: the Run group (command, seeds, parameters by source, exit, duration, outputs with digests) besides code and data")
    func runDirectory() throws {
        let job = try runJob()
        let result = provenance(["render", job.runDirectory])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        let text = result.stdoutText
        let run = try readJSON(job.runDirectory + "/run.json")
        let model = shell("sha256sum '\(job.home)/model.bin'").output.prefix(64)
        let commit = GitFixture.git("rev-parse HEAD", in: job.repository)
        let escaped = EnvironmentRenderer.escapeMarkdown
        // The remote as configured (this machine's /etc/gitconfig rewrites github.com to a local
        // mirror with url.insteadOf; the manifest keeps the URL another machine can fetch).
        let remote = try #require(GitSection.read(from: try readJSON(job.runDirectory + "/env.json"))?.repositories.first?.remotes["origin"])
        #expect(remote == job.remote)
        for expected in [
            "### Run", "| Seeds | torch = 42 |", "| Parameter lr | 0.1 (set on the command line) |",
            "| Parameter optimizer.lr | 0.01 (from the configuration file base.yaml) |",
            "| Parameter steps\\_per\\_epoch | 512 (derived by the job) |",
            "| Exit status | 0 (success) |",
            "| Output \(escaped(job.home + "/model.bin")) | sha256:\(model), 7 bytes |",
            "| Duration | ", "(\(run["durationMs"]!.intValue!) ms) |",
            "| Command | sh -c 'printf ", " job --node-mac \(job.mac) --node-id \(job.uuid) |", "| Peak memory | ",
            "| Commit | \(commit) |", "| Remote | \(escaped(remote)) |", "| Working tree | dirty (uncommitted changes: 1 unstaged) |",
            "| train | sha256:", "### Compute used", "| CPU time | ",
        ] {
            #expect(text.contains(expected), "missing \(expected) in\n\(text)")
        }
        // Key system packages by default (libc6's version as dpkg-query reports it), the whole list with --full.
        if shell("command -v dpkg-query").status == 0 {
            let libc = shell("dpkg-query -W -f '${Version}' libc6").output.trimmed
            #expect(text.contains("| libc6 | \(escaped(libc)) |"), "\(text)")
            #expect(text.contains("| dpkg packages | ") && text.contains(" installed (all listed with --full) |"))
            let lines = text.split(separator: "\n").count
            let full = provenance(["render", job.runDirectory, "--full"]).stdoutText.split(separator: "\n").count
            #expect(lines < 250 && full > lines + 500, "\(lines) lines by default, \(full) with --full")
        }
        // Peak memory as the kernel measured the command (`head` buffering 30 MB is not needed:
        // ru_maxrss of a shell is a few MiB; only check it is recorded and plausible).
        let peak = try #require(run["resources"]?["maxRSSBytes"]?.intValue)
        #expect(peak > 100_000 && peak < 8_000_000_000)
        // The run section's seeds match what the job saw.
        #expect(try readJSON(job.runDirectory + "/env.json")["sections"]?["run"]?["data"]?["seeds"]?["torch"] == "42")
    }

    /// The HTML appendix as a person sees it: headless Chromium loads the page, its DOM has the
    /// facts, and a screenshot is kept in the test's output directory (printed) to look at.
    @Test("the HTML appendix of a run directory, looked at in headless Chromium (DOM and screenshot)")
    func htmlInChromium() throws {
        let chromium = shell("command -v chromium || command -v chromium-browser").output.trimmed
        try #require(!chromium.isEmpty, "chromium is not installed: run scripts/install-deps.sh --test")
        let job = try runJob(name: "html")
        let html = job.base + "/appendix.html"
        let rendered = provenance(["render", job.runDirectory, "--format", "html", "-o", html])
        #expect(rendered.outcome == .exited(0), "\(rendered.stderrText)")
        let chrome = "'\(chromium)' --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --user-data-dir='\(job.base)/chrome'"
        let dom = shell("\(chrome) --dump-dom 'file://\(html)' 2>/dev/null", timeout: 120).output
        let commit = GitFixture.git("rev-parse HEAD", in: job.repository)
        #expect(dom.contains(commit), "the page Chromium loaded lacks the commit")
        #expect(dom.contains("lr") && dom.contains("set on the command line"), "the Run group is not in the page")
        let screenshot = job.base + "/appendix.png"
        _ = shell("\(chrome) --screenshot='\(screenshot)' --window-size=1200,1600 'file://\(html)' 2>/dev/null", timeout: 120)
        let size = (try? RootedFileSystem().readBytes(screenshot))??.count ?? 0
        #expect(size > 20_000, "no screenshot of the page (\(size) bytes)")
        print("render HTML screenshot: \(screenshot) (\(size) bytes)")
    }

    @Test("several run directories: GPU-hours per run and in total on a recorded A100 machine, CPU-hours from the live one")
    func computeUsed() throws {
        let live = try runJob(name: "live")
        let machine = Project.fixtures + "/machines/gpu-telegraf-a100-sxm4-v12"
        let gpu = live.base + "/runs/gpu"
        let ran = provenance(["run", "-q", "--out", gpu, "--root", machine, "--timeout", "5", "--", "sleep", "0.3"])
        #expect(ran.outcome == .exited(0), "\(ran.stderrText)")
        let result = provenance(["render", live.runDirectory, gpu])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        let text = result.stdoutText
        let gpuRun = try readJSON(gpu + "/run.json")
        let milliseconds = try #require(gpuRun["durationMs"]?.intValue)
        #expect(milliseconds >= 300)
        let hours = Double(milliseconds) / 3_600_000
        let h = EnvironmentSummary.fixed(hours, decimals: 4)
        // One A100 described by the recording (render says so in its appendix; see RenderFactsTests).
        #expect(text.contains("1 × NVIDIA A100-SXM4-80GB × \(h) h = \(h) GPU-hours"), "\(text)")
        #expect(text.contains("| Total GPU time | NVIDIA A100-SXM4-80GB: \(h) GPU-hours |"), "\(text)")
        let liveRun = try readJSON(live.runDirectory + "/run.json")
        let liveManifest = try readJSON(live.runDirectory + "/env.json")
        let cpus = try #require(CPUSection.read(from: liveManifest)?.logicalCPUs)
        #expect(String(cpus) == shell("nproc --all").output.trimmed || String(cpus) == shell("nproc").output.trimmed)
        let liveHours = Double(liveRun["durationMs"]!.intValue!) / 3_600_000
        #expect(text.contains("\(cpus) logical CPUs × \(EnvironmentSummary.fixed(liveHours, decimals: 4)) h"), "\(text)")
        // The recording has no CPU description: its run counts no CPU-hours ("CPUs not recorded").
        let gpuCPUs = CPUSection.read(from: try readJSON(gpu + "/env.json"))?.logicalCPUs
        if gpuCPUs == nil { #expect(text.contains("CPUs not recorded")) }
        let total = liveHours * Double(cpus) + hours * Double(gpuCPUs ?? 0)
        #expect(text.contains("| Total CPU time | \(EnvironmentSummary.fixed(total, decimals: 4)) CPU-hours"), "\(text)")
        #expect(text.contains("| Total wall-clock time | \(EnvironmentSummary.fixed(liveHours + hours, decimals: 4)) h over 2 runs |"))
        #expect(text.contains("| Largest peak memory | "))
        // A manifest among several inputs is refused (usage), a run directory without run.json too.
        let bad = provenance(["render", live.runDirectory, live.runDirectory + "/env.json"])
        #expect(bad.outcome == .exited(64))
    }

    /// Site probes that mark identifying fields: a declarative one (`identifying: [rack]`, read from
    /// a file of the machine) and an executable one (`provenance-identifying: switch`), with an
    /// unmarked field each that stays, in `DIRECTORY/config/provenance/probes.d` (where
    /// `XDG_CONFIG_HOME=DIRECTORY/config` finds them). Returns the directories and the planted values.
    static func identifyingSiteProbes() -> (directory: String, probes: String, values: [String]) {
        let directory = temporaryDirectory()
        let made = shell("""
            set -e
            printf 'rack: r17-ams-4\\nrow: B\\n' > '\(directory)/location.txt'
            mkdir -p '\(directory)/config/provenance/probes.d'
            cd '\(directory)/config/provenance'
            cat > 'probes.d/site.location.yaml' <<'END'
            id: site.location
            summary: where the node stands
            identifying: [rack]
            fields:
              rack:
                file: \(directory)/location.txt
                regex: 'rack: (\\S+)'
              row:
                file: \(directory)/location.txt
                regex: 'row: (\\S+)'
            END
            cat > 'probes.d/site.fabric.sh' <<'END'
            #!/bin/sh
            # provenance-identifying: switch
            echo '{"switch": "sw-ams-r17-b", "speed": "200G"}'
            END
            chmod +x 'probes.d/site.fabric.sh'
            """)
        #expect(made.status == 0, "\(made.output)")
        return (directory, directory + "/config/provenance/probes.d", ["r17-ams-4", "sw-ams-r17-b"])
    }

    @Test("--anonymize: no planted identifier (host, user, home, paths, remote, organisation, GPU uuid and serial, MAC, UUID, site-probe values marked identifying) in any format")
    func anonymize() throws {
        let site = Self.identifyingSiteProbes()
        defer { _ = shell("rm -rf '\(site.directory)'") }
        let job = try runJob(extra: ["--probes-dir", site.probes])
        // The site probes ran, and their sections carry the marking.
        let env = try readJSON(job.runDirectory + "/env.json")
        #expect(env["sections"]?["site.location"]?["data"] == ["rack": "r17-ams-4", "row": "B"], "\(String(describing: env["sections"]?["site.location"]))")
        #expect(env["sections"]?["site.location"]?["identifying"] == ["rack"])
        #expect(env["sections"]?["site.fabric"]?["data"] == ["switch": "sw-ams-r17-b", "speed": "200G"], "\(String(describing: env["sections"]?["site.fabric"]))")
        #expect(env["sections"]?["site.fabric"]?["identifying"] == ["switch"])
        // A manifest with the marking is valid under the generated schema.
        let valid = validateWithSchema([job.runDirectory + "/env.json"])
        #expect(valid.ok, "\(valid.output)")
        let host = shell("hostname").output.trimmed
        let machine = "gpu-telegraf-a100-sxm4-v12"
        let gpuRun = job.base + "/runs/gpu"
        let ran = provenance(["run", "-q", "--out", gpuRun, "--root", Project.fixtures + "/machines/" + machine, "--timeout", "5", "--", "true"])
        #expect(ran.outcome == .exited(0), "\(ran.stderrText)")
        // The GPU's serial number and UUID as the recorded nvidia-smi XML has them.
        let xml = try #require(try RootedFileSystem().read(Project.fixtures + "/machines/\(machine)/commands/nvidia-smi-q-x.xml"))
        func element(_ name: String) -> String? {
            guard let open = xml.firstRange(of: "<\(name)>"), let close = xml[open.upperBound...].firstRange(of: "</\(name)>") else { return nil }
            return String(xml[open.upperBound..<close.lowerBound])
        }
        let serial = try #require(element("serial"))
        let gpuUUID = String(try #require(element("uuid")).dropFirst("GPU-".count))
        let gpuManifest = try readJSON(gpuRun + "/env.json")
        #expect(CanonicalJSON.string(gpuManifest).contains(serial) && CanonicalJSON.string(gpuManifest).contains(gpuUUID))

        let remote = try #require(GitSection.read(from: try readJSON(job.runDirectory + "/env.json"))?.repositories.first?.remotes["origin"])
        if Self.canSetHost {
            #expect(try readJSON(job.runDirectory + "/env.json")["hostName"]?.stringValue == Self.host)
            #expect(try readJSON(job.runDirectory + "/run.json")["hostName"]?.stringValue == Self.host)
        }
        let planted = (Self.canSetHost ? [Self.host] : []) + [job.user, job.home, job.base, "secret-org", "secret-repo", job.remote, remote, job.mac, job.uuid, serial, gpuUUID]
            + site.values
            + (host.count >= 3 && host != "localhost" ? [host] : [])
        for (input, identifiers) in [(job.runDirectory, planted), (gpuRun, [serial, gpuUUID])] {
            // Without --anonymize, the identifiers are there (so the test can fail).
            let plain = provenance(["render", input, "--full"]).stdoutText
            for identifier in [job.mac, job.uuid] + site.values where input == job.runDirectory {
                #expect(plain.contains(identifier), "\(identifier) not rendered at all")
            }
            #expect(plain.contains(job.base) || input == gpuRun)
            for format in ["markdown", "latex", "html"] {
                for full in [false, true] {
                    let result = provenance(["render", input, "--anonymize", "--format", format] + (full ? ["--full"] : []))
                    #expect(result.outcome == .exited(0), "\(result.stderrText)")
                    // LaTeX breaks long words: compare without its break hints and escapes.
                    let text = result.stdoutText.replacing("\\allowbreak{}", with: "").replacing("\\_", with: "_")
                        .replacing("{[}", with: "[").replacing("{]}", with: "]")
                    for identifier in identifiers {
                        #expect(!text.contains(identifier), "\(identifier) in \(format)\(full ? " --full" : "") of \(input)")
                    }
                    if input == job.runDirectory { #expect(text.contains("remote-") && text.contains("path-")) }
                }
            }
        }
        // Consistent: the same path becomes the same placeholder in the output row and the code row.
        let text = provenance(["render", job.runDirectory, "--anonymize"]).stdoutText
        #expect(text.contains("| Seeds | torch = 42 |"))
        #expect(!text.contains(job.home))
        // The marked values become site-N like the others; the unmarked ones stay.
        let full = provenance(["render", job.runDirectory, "--anonymize", "--full"]).stdoutText
        #expect(full.contains("| rack | site-1 |") && full.contains("| switch | site-2 |"), "\(full)")
        #expect(full.contains("| row | B |") && full.contains("| speed | 200G |"), "\(full)")
    }

    @Test("LaTeX fragments compile in a bare \\input wrapper: live run, recorded GPU machine, run directory, a manifest built to break LaTeX")
    func latexFragments() throws {
        #expect(shell("command -v pdflatex").status == 0,
                "pdflatex is not installed: run scripts/install-deps.sh --test (texlive-latex-base)")
        let job = try runJob()
        let directory = job.base
        // Built to break LaTeX: labels with `[`, `]`, `*`, braces, non-ASCII, very long values.
        var breaking = richManifest
        let long = String(repeating: "x", count: 3000)
        breaking = .object(breaking.objectValue!.merging(["sections": .object(richManifest["sections"]!.objectValue!.merging([
            "datasets": ["status": "ok", "probeVersion": "1.0.0", "data": [
                "[opt]*": ["path": .string("/data/" + long), "kind": "directory", "digest": .string("sha256:" + String(repeating: "ab", count: 32)),
                           "fileCount": 1, "totalBytes": 3, "symlinks": [], "skipped": []],
                "*star ünïcödé 数据 \\end{document} %": ["path": "/d/ẞ€😀", "kind": "directory",
                                                        "digest": .string("sha256:" + String(repeating: "cd", count: 32)),
                                                        "fileCount": 1, "totalBytes": 3, "symlinks": [], "skipped": []],
            ]],
        ]) { _, new in new })]) { _, new in new })
        try write(breaking, directory + "/breaking.json")
        #expect(provenance(["capture", "-q", "-o", directory + "/live.json"]).outcome == .exited(0))
        let recorded = try #require(RecordedCaptures.shared.manifest("gpu-telegraf-a100-sxm4-v12"))
        for (index, input) in [directory + "/live.json", recorded, job.runDirectory, directory + "/breaking.json"].enumerated() {
            for options in [[], ["--full"], ["--anonymize"]] {
                let fragment = "\(directory)/x\(index)\(options.first ?? "").tex"
                let result = provenance(["render", input, "--format", "latex", "-o", fragment] + options)
                #expect(result.outcome == .exited(0), "\(result.stderrText)")
                let tex = try #require(try RootedFileSystem().read(fragment))
                #expect(!tex.contains("\\documentclass") && !tex.contains("\\usepackage"))
                let wrapper = "\(directory)/wrap\(index)\(options.first ?? "").tex"
                try AtomicFile.write(Array("\\documentclass{article}\\begin{document}\\input{\(fragment)}\\end{document}\n".utf8), to: wrapper)
                let compiled = shell("cd '\(directory)' && pdflatex -interaction=nonstopmode -halt-on-error '\(wrapper)' 2>&1 | tail -25", timeout: 120)
                #expect(compiled.status == 0 && RootedFileSystem().exists(String(wrapper.dropLast(4)) + ".pdf"),
                        "\(input) \(options) did not compile:\n\(compiled.output)")
            }
        }
        // The standalone document on request.
        let standalone = provenance(["render", job.runDirectory, "--format", "latex", "--standalone"]).stdoutText
        #expect(standalone.hasPrefix("% ") && standalone.contains("\\documentclass{article}") && standalone.hasSuffix("\\end{document}\n"))
    }
}
