import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

/// What `provenance render` says about real machines: recorded GPU machines captured with
/// `--root`, and a live capture of a git repository with a dataset, each checked against an
/// independent source (the recorded nvidia-smi XML, git, coreutils).
@Suite("provenance render: the facts of recorded machines and live captures", .serialized)
struct RenderFactsTests {
    /// Captures a recorded machine and renders it as Markdown.
    func render(machine: String, in directory: String) throws -> String {
        let manifest = directory + "/\(machine).json"
        let capture = provenance(["capture", "-q", "--root", Project.fixtures + "/machines/" + machine, "-o", manifest])
        #expect(capture.outcome == .exited(0), "\(capture.stderrText)")
        let result = provenance(["render", manifest])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        return result.stdoutText
    }

    /// The text of `<name>` elements in a recorded nvidia-smi XML, in order.
    func xmlValues(_ name: String, machine: String) throws -> [String] {
        let xml = try #require(try RootedFileSystem().read(
            Project.fixtures + "/machines/\(machine)/commands/nvidia-smi-q-x.xml"))
        var values: [String] = []
        var rest = xml[...]
        while let open = rest.firstRange(of: "<\(name)>") {
            rest = rest[open.upperBound...]
            guard let close = rest.firstRange(of: "</\(name)>") else { break }
            values.append(String(rest[..<close.lowerBound]).trimmed)
            rest = rest[close.upperBound...]
        }
        return values
    }

    @Test("the recorded A100 with MIG: GPU count and model, driver and CUDA versions, the MIG layout in words")
    func a100MIG() throws {
        let machine = "gpu-telegraf-a100-sxm4-v12"
        let directory = temporaryDirectory()
        let text = try render(machine: machine, in: directory)
        let products = try xmlValues("product_name", machine: machine)
        let driver = try #require(try xmlValues("driver_version", machine: machine).first)
        let cuda = try #require(try xmlValues("cuda_version", machine: machine).first)
        let attached = try #require(try xmlValues("attached_gpus", machine: machine).first)
        #expect(products == ["NVIDIA A100-SXM4-80GB"])
        // The recording describes one of the four GPUs it says are attached: render says both.
        #expect(text.contains("| NVIDIA GPUs | 1 × NVIDIA A100-SXM4-80GB, 80 GiB each (nvidia-smi reports \(attached) attached, describes 1) |"),
                "\(text)")
        #expect(text.contains("| NVIDIA driver | \(driver) |"))
        #expect(text.contains("| CUDA (driver supports up to) | \(cuda) |"))
        let migDevices = try xmlValues("multiprocessor_count", machine: machine)
        #expect(migDevices == ["14", "14", "14", "14"])
        #expect(text.contains("| MIG | enabled on 0000:01:00.0: 4 MIG devices, each 14 SMs and 19.5 GiB |"), "\(text)")
        // No raw field names of the section in the summary.
        #expect(!text.contains("dtd") && !text.contains("attachedGPUs"))
    }

    @Test("a recorded two-GPU machine: count per model; MIG is not mentioned where no GPU reports it")
    func dualGPU() throws {
        let machine = "gpu-telegraf-dual_2070-v13"
        let directory = temporaryDirectory()
        let text = try render(machine: machine, in: directory)
        let products = try xmlValues("product_name", machine: machine)
        #expect(products.count == 2 && Set(products).count == 1)
        #expect(text.contains("| NVIDIA GPUs | 2 × \(EnvironmentRenderer.escapeMarkdown(products[0]))"), "\(text)")
        let migModes = try xmlValues("current_mig", machine: machine)
        if migModes.isEmpty || migModes.allSatisfy({ $0 == "N/A" }) { #expect(!text.contains("| MIG |")) }
    }

    @Test("a live capture in a git repository with a dataset: repository, commit, dirty state, patch digest; dataset digest, file count and size")
    func liveCodeAndData() throws {
        let directory = temporaryDirectory()
        let repository = directory + "/project"
        let data = directory + "/data"
        let setup = shell("""
            set -e
            mkdir -p '\(repository)' '\(data)/a'
            cd '\(repository)' && git init -q && git config user.email t@example.org && git config user.name T
            printf 'print(1)\\n' > train.py && git add train.py && git commit -q -m one
            printf 'print(2)\\n' > train.py
            seq 1 1000 > '\(data)/a/numbers.txt' && printf 'cat\\n' > '\(data)/label.txt'
            """)
        #expect(setup.status == 0, "\(setup.output)")
        let manifest = directory + "/out/env.json"
        _ = shell("mkdir -p '\(directory)/out'")
        let capture = provenance(["capture", "-q", "--repo", repository, "--dataset", "train=\(data)", "-o", manifest],
                                 environment: ["XDG_CACHE_HOME": directory + "/cache"])
        #expect(capture.outcome == .exited(0), "\(capture.stderrText)")
        let result = provenance(["render", manifest])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        let text = result.stdoutText

        let commit = GitFixture.git("rev-parse HEAD", in: repository)
        #expect(commit.count == 40)
        let patch = shell("cd '\(repository)' && git diff HEAD --full-index --no-renames | sha256sum").output.prefix(64)
        let patchSize = shell("cd '\(repository)' && git diff HEAD --full-index --no-renames | wc -c").output.trimmed
        #expect(text.contains("| Repository | \(EnvironmentRenderer.escapeMarkdown(repository)) |"), "\(text)")
        #expect(text.contains("| Commit | \(commit) |"))
        #expect(text.contains("| Working tree | dirty (uncommitted changes: 1 unstaged) |"), "\(text)")
        #expect(text.contains("| Patch | sha256:\(patch), \(patchSize) bytes |"), "\(text)")

        // Committed: a clean tree says so and has no patch row, though the git probe still records
        // the empty patch (0 bytes, the SHA-256 of nothing).
        _ = GitFixture.run("git commit -q -a -m two", in: repository)
        let clean = directory + "/out/clean.json"
        let recaptured = provenance(["capture", "-q", "--repo", repository, "-o", clean], environment: ["XDG_CACHE_HOME": directory + "/cache"])
        #expect(recaptured.outcome == .exited(0), "\(recaptured.stderrText)")
        let cleanDiff = GitSection.read(from: try readJSON(clean))?.repositories.first?.diff
        #expect(cleanDiff == nil || cleanDiff?.sizeBytes == 0, "\(String(describing: cleanDiff))")
        let cleanText = provenance(["render", clean]).stdoutText
        #expect(cleanText.contains("| Working tree | clean |"), "\(cleanText)")
        #expect(cleanText.contains("| Commit | \(GitFixture.git("rev-parse HEAD", in: repository)) |"))
        #expect(!cleanText.contains("| Patch |") && !cleanText.contains("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "\(cleanText)")

        // The dataset: its digest as recorded (DatasetCommandTests recompute it with coreutils),
        // its file count and size as find and stat count them.
        let model = try #require(DatasetsSection.read(from: try readJSON(manifest)))
        let train = try #require(model.datasets["train"])
        let files = shell("find '\(data)' -type f | wc -l").output.trimmed
        let bytes = shell("find '\(data)' -type f -printf '%s\\n' | awk '{s+=$1} END {print s}'").output.trimmed
        #expect(String(train.fileCount) == files && String(train.totalBytes) == bytes)
        #expect(text.contains("| train | \(train.digest), \(files) files, \(EnvironmentSummary.formatBytes(Int64(bytes)!)), "
                              + "\(EnvironmentRenderer.escapeMarkdown(data)) |"), "\(text)")
    }
}
