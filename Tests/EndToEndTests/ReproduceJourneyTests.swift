import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

/// The reviewer's journey on one machine laid out as two: A records a job (a repository with
/// uncommitted changes, a venv with a real package from the index, a dataset, a determinism
/// setting); B clones the code elsewhere and applies the patch, builds a new venv from `export
/// requirements`, copies the data elsewhere, and verifies with --repo and --dataset — under another
/// host name (a UTS namespace), another user name and another HOME.
@Suite("reproduce on another layout: export, verify across paths, fixes", .serialized)
struct ReproduceJourneyTests {
    @Test("B verifies against A under the default policy; three changes are named, each with its fix")
    func journey() throws {
        let base = temporaryDirectory()
        // A: the repository, with a remote, a commit and uncommitted changes.
        let a = base + "/a/project"
        let setup = shell("""
            set -e; mkdir -p '\(a)' && cd '\(a)' && git init -q -b main . && \
            git remote add origin https://github.com/example-lab/project.git && \
            printf 'print("train")\\n' > train.py && git add train.py && \
            git -c user.email=a@b -c user.name=A commit -qm first && \
            printf 'lr = 0.1\\n' >> train.py && printf 'notes\\n' > notes.txt
            mkdir -p '\(base)/a/data' && printf 'x,y\\n1,2\\n' > '\(base)/a/data/train.csv' && printf 'z\\n' > '\(base)/a/data/extra.txt'
            python3 -m venv '\(base)/a/venv' && '\(base)/a/venv/bin/python' -m pip install -q six==1.16.0
            """, timeout: 300)
        try #require(setup.status == 0, "\(setup.output)")
        func environment(_ side: String, cublas: String = ":4096:8") -> [String: String] {
            var environment = processEnvironment()
            environment["VIRTUAL_ENV"] = "\(base)/\(side)/venv"
            environment["PATH"] = "\(base)/\(side)/venv/bin:" + (environment["PATH"] ?? "/usr/bin:/bin")
            environment["CUBLAS_WORKSPACE_CONFIG"] = cublas
            environment["SOURCE_DATE_EPOCH"] = "1700000000"
            return environment
        }
        func provenanceIn(_ directory: String, _ arguments: [String], _ environment: [String: String]) -> CommandResult {
            LiveCommandRunner(environment: environment).run(
                ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", directory, Project.executable] + arguments, timeout: 120)
        }
        /// B: its own host name, user name and home directory.
        func onB(_ arguments: [String], _ environment: [String: String]) -> CommandResult {
            var environment = environment
            environment["HOME"] = base + "/b/home"
            environment["USER"] = "reviewer"
            environment["LOGNAME"] = "reviewer"
            return LiveCommandRunner(environment: environment).run(
                ["unshare", "--uts", "/bin/sh", "-c", "hostname reviewer-machine && cd \"$0\" && exec \"$@\"", base + "/b",
                 Project.executable] + arguments, timeout: 120)
        }
        let probes = ["--only", "git", "--only", "python", "--only", "environment"]
        let captured = provenanceIn(a, ["capture", "-q", "-o", base + "/record/env.json", "--dataset", "train=\(base)/a/data"] + probes,
                                    environment("a"))
        try #require(captured.outcome == .exited(0), "\(captured.stderrText)")
        let manifest = try readJSON(base + "/record/env.json")
        let patch = try #require(manifest["attachments"]?.objectValue?.values.first?["file"]?.stringValue)

        // B: the clone at another path with the patch applied, a venv from the exported
        // requirements (installed from the index), the data copied elsewhere.
        let exported = provenance(["export", "requirements", base + "/record/env.json", "-o", base + "/record/requirements.txt"])
        try #require(exported.outcome == .exited(0), "\(exported.stderrText)")
        let b = base + "/b/checkout/project"
        let rebuild = shell("""
            set -e; git clone -q '\(a)' '\(b)' && cd '\(b)' && git remote set-url origin https://github.com/example-lab/project.git && \
            git apply --binary '\(base)/record/\(patch)'
            mkdir -p '\(base)/b/home' && cp -r '\(base)/a/data' '\(base)/b/data-copy'
            python3 -m venv '\(base)/b/venv' && '\(base)/b/venv/bin/python' -m pip install -q -r '\(base)/record/requirements.txt'
            """, timeout: 300)
        try #require(rebuild.status == 0, "\(rebuild.output)")
        let verifyArguments = ["verify", base + "/record/env.json", "--repo", b, "--dataset", "train=\(base)/b/data-copy",
                               "--format", "json"]
        let holds = onB(verifyArguments, environment("b"))
        #expect(holds.outcome == .exited(0), "\(holds.stdoutText)\(holds.stderrText)")
        if holds.outcome == .exited(0) {
            #expect(try JSONParser.parse(holds.stdout)["violations"] == .array([]), "\(holds.stdoutText)")
        }

        // One package version, one dataset byte, one determinism variable.
        let drift = shell("""
            set -e; '\(base)/b/venv/bin/python' -m pip install -q six==1.15.0 && printf 'x,y\\n1,3\\n' > '\(base)/b/data-copy/train.csv'
            """, timeout: 300)
        try #require(drift.status == 0, "\(drift.output)")
        let fails = onB(verifyArguments, environment("b", cublas: ":16:8"))
        #expect(fails.outcome == .exited(2), "\(fails.stdoutText)\(fails.stderrText)")
        let report = try JSONParser.parse(fails.stdout)
        let violations = report["violations"]?.arrayValue ?? []
        let named = Dictionary(uniqueKeysWithValues: violations.compactMap { v in v["path"]?.stringValue.map { ($0, v) } })
        #expect(Set(named.keys) == ["python.distributions[six].version", "datasets.train.files[train.csv].sha256",
                                    "environment.variables.CUBLAS_WORKSPACE_CONFIG"], "\(fails.stdoutText)")
        #expect(named["python.distributions[six].version"]?["fix"] == "pip install 'six==1.16.0'")
        #expect(named["environment.variables.CUBLAS_WORKSPACE_CONFIG"]?["fix"] == "export CUBLAS_WORKSPACE_CONFIG=:4096:8")
        let recordedSum = shell("sha256sum '\(base)/a/data/train.csv'").output.prefix(64)
        let fix = named["datasets.train.files[train.csv].sha256"]?["fix"]?.stringValue ?? ""
        #expect(fix.contains("train.csv differs") && fix.contains(String(recordedSum)), "\(fix)")
    }
}
