import ProvenanceCore
import ProvenanceProbeKit
@testable import ProvenanceProbes
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("provenance capture --repo, end to end", .serialized)
struct GitCaptureTests {
    /// The patch written beside the manifest, applied with `git apply --binary` to a fresh clone of
    /// HEAD, gives back the working tree exactly; no credential reaches the manifest or the patch.
    @Test("the stored patch reproduces the working tree on a clean clone")
    func patchRoundTrip() throws {
        let directory = GitFixture.directory()
        let setup = GitFixture.dirtyRepository(at: directory)
        try #require(setup.status == 0, "\(setup.output)")
        let output = GitFixture.directory("out")
        let result = provenance(["capture", "--repo", directory, "-o", output + "/env.json"])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        let manifest = try readJSON(output + "/env.json")
        let git = manifest["sections"]?["git"]
        #expect(git?["status"] == "ok", "\(git?["issues"] ?? nil)")
        let repository = try #require(git?["data"]?["repositories"]?.arrayValue?.first)
        #expect(repository["commit"]?.stringValue == GitFixture.git("rev-parse HEAD", in: directory))

        // The manifest names the patch by digest; the attachment says where it is.
        let digest = try #require(repository["diff"]?["sha256"]?.stringValue)
        let attachment = manifest["attachments"]?[digest]
        let patchName = CapturePlan.patchFileName(stem: "env", digest: digest)
        #expect(patchName == "env.diff.\(digest.dropFirst(7).prefix(12)).patch")
        #expect(attachment?["file"] == .string(patchName))
        #expect(attachment?["mediaType"] == "text/x-diff")
        let patch = try #require(try RootedFileSystem().readBytes(output + "/" + patchName))
        #expect(Manifest.sha256(patch) == digest)
        #expect(repository["diff"]?["sizeBytes"]?.intValue == Int64(patch.count))
        #expect(attachment?["sizeBytes"]?.intValue == Int64(patch.count))

        // Apply it to a fresh clone of HEAD: the trees are identical (ignored files excepted).
        let clone = directory + "-clone"
        let applied = GitFixture.run("""
            git clone -q '\(directory)' '\(clone)' && cd '\(clone)' && git apply --binary '\(output)/\(patchName)'
            """, in: output)
        #expect(applied.status == 0, "\(applied.output)")
        let compared = GitFixture.run("""
            diff -r --no-dereference -x .git -x debug.log -x build '\(directory)' '\(clone)'
            """, in: output)
        #expect(compared.status == 0, "\(compared.output)")
        let modes = "find . -path ./.git -prune -o -path ./build -prune -o ! -name debug.log -printf '%y %m %p\\n' | sort"
        #expect(GitFixture.run(modes, in: directory).output == GitFixture.run(modes, in: clone).output)
        #expect(GitFixture.run(modes, in: clone).output.contains("f 755 ./src/run.sh"))

        // No credential anywhere; the manifest validates against the schema.
        let text = try #require(try RootedFileSystem().read(output + "/env.json"))
        #expect(!text.contains("secret-token"))
        #expect(!String(decoding: patch, as: UTF8.self).contains("secret-token"))
        #expect(text.contains("https://[masked]@host/r.git"))
        let validation = validateWithSchema([output + "/env.json"])
        #expect(validation.ok, "\(validation.output)")
    }

    @Test("inline patches: the same fingerprint as a capture with a patch file; base64 when not UTF-8")
    func inline() throws {
        let directory = GitFixture.directory()
        try #require(GitFixture.dirtyRepository(at: directory).status == 0)
        let output = GitFixture.directory("out")
        #expect(provenance(["capture", "-q", "--only", "git", "--repo", directory, "-o", output + "/env.json"])
            .outcome == .exited(0))
        let stdout = provenance(["capture", "-q", "--only", "git", "--repo", directory, "-o", "-"])
        #expect(stdout.outcome == .exited(0))
        #expect(provenance(["capture", "-q", "--only", "git", "--repo", directory, "--inline-diff", "-o",
                            output + "/inline.json"]).outcome == .exited(0))
        let file = try readJSON(output + "/env.json")
        let inline = try readJSON(output + "/inline.json")
        #expect(try JSONParser.parse(stdout.stdout)["attachments"] == inline["attachments"])
        #expect(file["fingerprint"] == inline["fingerprint"])
        let digest = try #require(inline["sections"]?["git"]?["data"]?["repositories"]?.arrayValue?.first?["diff"]?["sha256"]?.stringValue)
        #expect(try RootedFileSystem().list(output)
            == [CapturePlan.patchFileName(stem: "env", digest: digest), "env.json", "inline.json"])
        let attachment = try #require(inline["attachments"]?[digest])
        // latin1.txt makes the patch invalid UTF-8: it is kept byte for byte, in base64.
        #expect(attachment["encoding"] == "base64")
        let decoded = GitFixture.run("printf '%s' '\(attachment["content"]?.stringValue ?? "")' | base64 -d | sha256sum",
                                     in: output).output
        #expect("sha256:" + decoded.prefix(64) == digest)
        let validation = validateWithSchema([output + "/env.json", output + "/inline.json"])
        #expect(validation.ok, "\(validation.output)")
    }

    /// `-o /dev/null` (or any device, FIFO) has no directory for a patch file: the patch is
    /// inlined, and nothing is written beside the device.
    @Test("a manifest written into a FIFO carries its patch inline; nothing is created beside it")
    func streamOutput() throws {
        let directory = GitFixture.directory()
        try #require(GitFixture.dirtyRepository(at: directory).status == 0)
        let output = GitFixture.directory("out")
        try #require(mkfifo(output + "/pipe", 0o600) == 0)
        // Opened for reading and writing, a FIFO never blocks its opener; with a 1 MiB buffer the
        // whole manifest fits in it, to be read once provenance has finished.
        let fd = open(output + "/pipe", O_RDWR | O_NONBLOCK)
        try #require(fd >= 0)
        defer { close(fd) }
        try #require(fcntl(fd, 1031 /* F_SETPIPE_SZ */, 1 << 20) >= 1 << 20)
        let result = provenance(["capture", "-q", "--only", "git", "--repo", directory, "-o", output + "/pipe"])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while case let count = read(fd, &buffer, buffer.count), count > 0 { received += buffer[..<count] }
        let manifest = try JSONParser.parse(received)
        let digest = try #require(manifest["sections"]?["git"]?["data"]?["repositories"]?.arrayValue?.first?["diff"]?["sha256"]?.stringValue)
        #expect(manifest["attachments"]?[digest]?["content"] != nil)
        #expect(try RootedFileSystem().list(output) == ["pipe"])
    }

    @Test("several repositories: one patch file each, numbered in path order")
    func severalRepositories() throws {
        let first = GitFixture.directory("a")
        let second = GitFixture.directory("b")
        for (directory, content) in [(first, "one"), (second, "two")] {
            GitFixture.run("git init -q -b main . && echo x > x && git add x && git commit -qm x && echo \(content) > new",
                           in: directory)
        }
        let output = GitFixture.directory("out")
        let result = provenance(["capture", "-q", "--only", "git", "--repo", second, "--repo", first, "--repo", first,
                                 "-o", output + "/run.json"])
        #expect(result.outcome == .exited(0))
        let manifest = try readJSON(output + "/run.json")
        let repositories = manifest["sections"]?["git"]?["data"]?["repositories"]?.arrayValue ?? []
        #expect(repositories.compactMap { $0["path"]?.stringValue } == [first, second].sorted())
        for repository in repositories {
            let digest = repository["diff"]?["sha256"]?.stringValue ?? ""
            let name = CapturePlan.patchFileName(stem: "run", digest: digest)
            #expect(manifest["attachments"]?[digest]?["file"]?.stringValue == name)
            let bytes = try RootedFileSystem().readBytes(output + "/" + name)
            #expect(bytes.map(Manifest.sha256) == digest)
        }
    }

    @Test("a manifest that cannot be written leaves the previous patch as it was")
    func failedWrite() throws {
        let directory = GitFixture.directory()
        GitFixture.run("git init -q -b main . && echo x > x && git add x && git commit -qm x && echo first > x", in: directory)
        let output = GitFixture.directory("out")
        #expect(provenance(["capture", "-q", "--only", "git", "--repo", directory, "-o", output + "/env.json"]).outcome
            == .exited(0))
        let names = try #require(try RootedFileSystem().list(output))
        let patchName = try #require(names.first { $0.hasSuffix(".patch") })
        let previous = try RootedFileSystem().readBytes(output + "/" + patchName)
        #expect(previous != nil)
        GitFixture.run("echo second > x", in: directory)
        _ = shell("rm '\(output)/env.json' && mkdir '\(output)/env.json'")
        let result = provenance(["capture", "-q", "--only", "git", "--repo", directory, "-o", output + "/env.json"])
        #expect(result.outcome == .exited(73))
        #expect(result.stderrText.contains("is a directory"), "\(result.stderrText)")
        #expect(try RootedFileSystem().readBytes(output + "/" + patchName) == previous)
        #expect(try RootedFileSystem().list(output) == [patchName, "env.json"])
    }

    @Test("--diff-max-bytes: no patch file, the changed files in the manifest")
    func diffMaxBytes() throws {
        let directory = GitFixture.directory()
        try #require(GitFixture.dirtyRepository(at: directory).status == 0)
        let output = GitFixture.directory("out")
        #expect(provenance(["capture", "-q", "--only", "git", "--repo", directory, "--diff-max-bytes", "1000",
                            "-o", output + "/env.json"]).outcome == .exited(0))
        let manifest = try readJSON(output + "/env.json")
        let diff = manifest["sections"]?["git"]?["data"]?["repositories"]?.arrayValue?.first?["diff"]
        #expect(diff?["omittedReason"] == "the patch is larger than 1000 bytes (--diff-max-bytes)")
        #expect(diff?["files"]?.arrayValue?.count == 15)
        #expect(manifest["attachments"] == nil)
        #expect(try RootedFileSystem().list(output) == ["env.json"])
        let validation = validateWithSchema([output + "/env.json"])
        #expect(validation.ok, "\(validation.output)")
        let bad = provenance(["capture", "--diff-max-bytes", "-1"])
        #expect(bad.outcome == .exited(64))
    }

    @Test("no repository: absent; a corrupt one: failed with libgit2's message; the capture still succeeds")
    func absentAndCorrupt() throws {
        let empty = GitFixture.directory("empty")
        let output = GitFixture.directory("out")
        let none = provenance(["capture", "-q", "--repo", empty, "-o", output + "/none.json"])
        #expect(none.outcome == .exited(0))
        let absent = try readJSON(output + "/none.json")["sections"]?["git"]
        #expect(absent?["status"] == "absent")
        #expect(absent?["issues"] == [["source": .string(empty), "message": "not in a git repository"]])

        // From the working directory, as a job would run it.
        let fromDirectory = GitFixture.run("'\(Project.executable)' capture -q --only git -o -", in: empty)
        #expect(try JSONParser.parse(Array(fromDirectory.output.utf8))["sections"]?["git"]?["status"] == "absent")

        let corrupt = GitFixture.directory("corrupt")
        GitFixture.run("git init -q -b main . && echo x > x && git add x && git commit -qm x && : > .git/HEAD", in: corrupt)
        let result = provenance(["capture", "-q", "--repo", corrupt, "-o", output + "/corrupt.json"])
        #expect(result.outcome == .exited(0))
        let failed = try readJSON(output + "/corrupt.json")["sections"]?["git"]
        #expect(failed?["status"] == "failed")
        let message = failed?["issues"]?.arrayValue?.first?["message"]?.stringValue ?? ""
        #expect(message.hasPrefix(corrupt + ": git_"), "\(message)")

        // A truncated loose object makes libgit2 1.5 loop forever (libgit2/libgit2#7342): the
        // probe's deadline ends it, and the rest of the capture is unaffected.
        let truncated = GitFixture.directory("truncated")
        GitFixture.run("""
            git init -q -b main . && echo x > x && git add x && git commit -qm x && \
            object=.git/objects/$(git rev-parse HEAD | cut -c1-2)/$(git rev-parse HEAD | cut -c3-) && \
            chmod 644 $object && truncate -s 10 $object
            """, in: truncated)
        let started = monotonicSeconds()
        let stuck = provenance(["capture", "-q", "--repo", truncated, "--probe-timeout", "git=1", "-o", output + "/stuck.json"])
        #expect(monotonicSeconds() - started < 3)
        #expect(stuck.outcome == .exited(0))
        let stuckManifest = try readJSON(output + "/stuck.json")
        #expect(stuckManifest["sections"]?["git"]?["status"] == "failed")
        #expect(stuckManifest["sections"]?["git"]?["issues"] == [["source": "capture", "message": "did not finish within its 1 s timeout"]])
        #expect(stuckManifest["sections"]?["os"]?["status"] == "ok")

        let validation = validateWithSchema([output + "/none.json", output + "/corrupt.json", output + "/stuck.json"])
        #expect(validation.ok, "\(validation.output)")
    }

    @Test("under --root: absent without --repo; --repo names a path of the recorded machine")
    func recordedMachine() throws {
        let root = GitFixture.directory("machine")
        let project = root + "/src/project"
        GitFixture.run("mkdir -p '\(project)' && cd '\(project)' && git init -q -b main . && echo x > x && git add x && git commit -qm x && echo y > y",
                       in: root)
        let output = GitFixture.directory("out")
        #expect(provenance(["capture", "-q", "--root", root, "-o", output + "/a.json"]).outcome == .exited(0))
        let absent = try readJSON(output + "/a.json")["sections"]?["git"]
        #expect(absent?["status"] == "absent")

        #expect(provenance(["capture", "-q", "--root", root, "--repo", "/src/project", "-o", output + "/b.json"]).outcome
            == .exited(0))
        let manifest = try readJSON(output + "/b.json")
        let repository = manifest["sections"]?["git"]?["data"]?["repositories"]?.arrayValue?.first
        #expect(repository?["path"] == "/src/project")
        #expect(repository?["status"]?["untracked"]?["paths"] == ["y"])
        let digest = try #require(repository?["diff"]?["sha256"]?.stringValue)
        #expect(try RootedFileSystem().list(output)?.contains(CapturePlan.patchFileName(stem: "b", digest: digest)) == true)
    }

    /// A reviewer verifies a recorded manifest: the recorded repository is read again wherever
    /// verify runs from; an edit after the capture is named, by repository path.
    @Test("verify reads the recorded repository again and names a change made after the capture")
    func verify() throws {
        let directory = GitFixture.directory()
        try #require(GitFixture.dirtyRepository(at: directory).status == 0)
        let output = GitFixture.directory("out")
        #expect(provenance(["capture", "-q", "--only", "git", "--repo", directory, "-o", output + "/env.json"])
            .outcome == .exited(0))
        let same = provenance(["verify", output + "/env.json"])
        #expect(same.outcome == .exited(0), "\(same.stdoutText)\(same.stderrText)")

        GitFixture.run("echo one more line >> staged.txt", in: directory)  // tracked, already dirty
        let changed = provenance(["verify", output + "/env.json", "--format", "json"])
        #expect(changed.outcome == .exited(2), "\(changed.stdoutText)\(changed.stderrText)")
        let report = try JSONParser.parse(changed.stdout)
        let paths = Set(report["violations"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? [])
        #expect(paths.contains("git.repositories[\(directory)].diff.sha256"), "\(paths)")
        // Not two digests only: which file the two patches change differently.
        let patchViolation = report["violations"]?.arrayValue?.first { $0["path"]?.stringValue?.hasSuffix("].diff.sha256") == true }
        #expect(patchViolation?["reason"]?.stringValue?.hasSuffix("; the patches differ in staged.txt (changed differently)") == true,
                "\(patchViolation ?? nil)")
        #expect(paths.allSatisfy { $0.hasPrefix("git.repositories[\(directory)].") }, "\(paths)")
    }

    /// The pre-run hook records the job's repository (its working directory) with its patch.
    @Test("provenance run, started in a dirty repository, writes env.diff.HEX.patch beside env.json")
    func runWritesPatch() throws {
        let directory = GitFixture.directory()
        try #require(GitFixture.dirtyRepository(at: directory).status == 0)
        let out = GitFixture.directory("run")
        let result = GitFixture.run("'\(Project.executable)' run --out '\(out)' -- true", in: directory)
        #expect(result.status == 0, "\(result.output)")
        let manifest = try readJSON(out + "/env.json")
        let repository = manifest["sections"]?["git"]?["data"]?["repositories"]?.arrayValue?.first
        #expect(repository?["path"]?.stringValue == directory)
        let digest = try #require(repository?["diff"]?["sha256"]?.stringValue)
        let patchName = CapturePlan.patchFileName(stem: "env", digest: digest)
        #expect(manifest["attachments"]?[digest]?["file"] == .string(patchName))
        let patch = try #require(try RootedFileSystem().readBytes(out + "/" + patchName))
        #expect(Manifest.sha256(patch) == digest)
        #expect(try RootedFileSystem().list(out) == [patchName, "env.json", "run.json", "wandb-config.yaml"])
    }

    /// A freshly committed repository, for the tests of what the capture writes into it.
    private func committedRepository() throws -> String {
        let directory = GitFixture.directory()
        let setup = GitFixture.run("""
            set -e
            git init -q -b main . && printf 'print(1)\\n' > train.py && git add -A && git commit -q -m first && git tag v1
            """, in: directory)
        try #require(setup.status == 0, "\(setup.output)")
        return directory
    }

    /// The capture's own outputs (manifest, patches, run directories) are never part of the git
    /// state it records: verify right after a capture passes, and captures in a row agree.
    @Test("in a fresh repository, capture && verify exits 0; five captures in a row give one fingerprint")
    func ownOutputsAreExcluded() throws {
        let directory = try committedRepository()
        let exe = Project.executable
        let verified = GitFixture.run("'\(exe)' capture -q && '\(exe)' verify env.json", in: directory)
        #expect(verified.status == 0, "\(verified.output)")

        // Default output, -o into a subdirectory of the repository, and run with its run directory.
        func fingerprints(_ script: String, _ manifest: String) throws -> Set<String> {
            var seen = Set<String>()
            for _ in 0..<5 {
                let result = GitFixture.run(script, in: directory)
                try #require(result.status == 0, "\(result.output)")
                seen.insert(try readJSON(directory + "/" + manifest)["fingerprint"]?.stringValue ?? "")
            }
            return seen
        }
        #expect(try fingerprints("'\(exe)' capture -q", "env.json").count == 1)
        // A dirty tracked file: the patch stays the same size capture after capture.
        _ = GitFixture.run("rm env.json && printf 'print(2)\\n' >> train.py", in: directory)
        #expect(try fingerprints("'\(exe)' capture -q -o out/e.json", "out/e.json").count == 1)
        let manifest = try readJSON(directory + "/out/e.json")
        let repository = manifest["sections"]?["git"]?["data"]?["repositories"]?.arrayValue?.first
        #expect(repository?["status"]?["untracked"]?["count"] == 0, "\(repository ?? nil)")
        #expect(repository?["status"]?["unstaged"]?["paths"] == ["train.py"])
        #expect(repository?["describe"] == "v1-dirty")
        let patchName = try #require(manifest["attachments"]?.objectValue?.values.first?["file"]?.stringValue)
        #expect(try RootedFileSystem().list(directory + "/out") == [patchName, "e.json"], "one patch, the latest")
        let patch = try #require(try RootedFileSystem().read(directory + "/out/" + patchName))
        #expect(patch == GitFixture.run("git diff HEAD --binary --full-index --no-renames", in: directory).output)

        // run: five in a row into runs/, one fingerprint; then --out inside the repository, which
        // sees neither its own directory nor runs/.
        _ = GitFixture.run("rm -rf out && git checkout -q train.py", in: directory)
        for _ in 0..<5 {
            // One run directory per second (runs/<UTC time>-<fingerprint>).
            let result = GitFixture.run("sleep 1.1 && '\(exe)' run -- true", in: directory)
            try #require(result.status == 0, "\(result.output)")
        }
        let listed = try #require(try RootedFileSystem().list(directory + "/runs"))
        #expect(listed.count == 5, "\(listed)")
        let runs = Set(try listed.map { try readJSON(directory + "/runs/\($0)/run.json")["fingerprint"]?.stringValue ?? "" })
        #expect(runs.count == 1, "\(listed)")
        // verify of a run's env.json, from the repository: its run directory and runs/ excluded.
        let verifyRun = GitFixture.run("'\(exe)' verify runs/\(listed[0])/env.json", in: directory)
        #expect(verifyRun.status == 0, "\(verifyRun.output)")
        let result = GitFixture.run("'\(exe)' run --out job -- true && '\(exe)' verify job/env.json", in: directory)
        #expect(result.status == 0, "\(result.output)")
        #expect(try readJSON(directory + "/job/run.json")["fingerprint"] == .string(runs.first ?? ""))
    }

    /// A checkpoint left untracked beside a one-line change: the change is kept, the checkpoint is
    /// listed with its size and sha256 instead of its bytes.
    @Test("a tracked one-line change and a 5 MB untracked file: the patch restores the change, the file is listed by sha256")
    func largeUntrackedFileIsListed() throws {
        let directory = try committedRepository()
        let setup = GitFixture.run("""
            set -e
            printf 'print(2)\\n' >> train.py
            head -c 5000000 /dev/urandom > model.ckpt
            printf 'small\\n' > notes.txt
            """, in: directory)
        try #require(setup.status == 0, "\(setup.output)")
        let output = GitFixture.directory("out")
        let result = provenance(["capture", "-q", "--only", "git", "--repo", directory, "-o", output + "/env.json"])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        let manifest = try readJSON(output + "/env.json")
        let diff = manifest["sections"]?["git"]?["data"]?["repositories"]?.arrayValue?.first?["diff"]
        let omitted = try #require(diff?["untrackedOmitted"]?.arrayValue)
        #expect(omitted.count == 1)
        #expect(omitted.first?["path"] == "model.ckpt")
        #expect(omitted.first?["sizeBytes"] == 5_000_000)
        let sum = GitFixture.run("sha256sum model.ckpt", in: directory).output.split(separator: " ").first.map(String.init)
        #expect(omitted.first?["sha256"]?.stringValue == "sha256:" + (sum ?? "?"))
        #expect(diff?["untrackedOmittedTruncated"] == false)

        let clone = directory + "-clone"
        let patchName = try #require(manifest["attachments"]?.objectValue?.values.first?["file"]?.stringValue)
        let applied = GitFixture.run("""
            git clone -q '\(directory)' '\(clone)' && cd '\(clone)' && git apply --binary '\(output)/\(patchName)'
            """, in: output)
        #expect(applied.status == 0, "\(applied.output)")
        #expect(GitFixture.run("cmp train.py '\(clone)/train.py' && cmp notes.txt '\(clone)/notes.txt'", in: directory).status == 0)
        #expect(!RootedFileSystem().exists(clone + "/model.ckpt"))
        let validation = validateWithSchema([output + "/env.json"])
        #expect(validation.ok, "\(validation.output)")

        // With the small untracked file the patch passes --diff-max-bytes: the tracked change is
        // still kept, every untracked file listed.
        let tracked = GitFixture.run("git diff HEAD --binary --full-index --no-renames | wc -c", in: directory).output.trimmed
        let limit = (Int(tracked) ?? 0) + 10
        #expect(provenance(["capture", "-q", "--only", "git", "--repo", directory, "--diff-max-bytes", "\(limit)",
                            "-o", output + "/small.json"]).outcome == .exited(0))
        let small = try readJSON(output + "/small.json")["sections"]?["git"]?["data"]?["repositories"]?.arrayValue?.first?["diff"]
        #expect(small?["sizeBytes"]?.intValue == Int64(tracked))
        #expect(small?["untrackedOmitted"]?.arrayValue?.compactMap { $0["path"]?.stringValue } == ["model.ckpt", "notes.txt"])
    }

    /// The state cache as a user meets it: `provenance capture` twice remembers the repository in
    /// `$XDG_CACHE_HOME/provenance`, a third capture reads it from there and records the same; a
    /// change of the user's global ignore file (`core.excludesFile` in `~/.gitconfig`, outside the
    /// repository) is seen at once; `--no-cache` neither reads nor writes it.
    @Test("captures of an unchanged repository come from the state cache, and a global ignore change is seen")
    func stateCache() throws {
        let home = GitFixture.directory("home")
        let repository = GitFixture.directory("repo")
        let output = GitFixture.directory("out")
        let setup = GitFixture.run("""
            set -e
            printf '[core]\\n\\texcludesFile = ~/global-ignore\\n' > '\(home)/.gitconfig'
            printf '*.tmp\\n' > '\(home)/global-ignore'
            git init -q -b main . && printf 'a\\n' > a.txt && git add -A && git commit -qm one
            printf 'b\\n' >> a.txt && printf 'scratch\\n' > x.tmp
            """, in: repository)
        try #require(setup.status == 0, "\(setup.output)")
        let environment = ["HOME": home, "XDG_CACHE_HOME": home + "/cache"]
        func capture(_ name: String, _ extra: [String] = []) throws -> JSONValue? {
            let result = provenance(["capture", "--only", "git", "--repo", repository, "-o", output + "/" + name] + extra,
                                    environment: environment)
            #expect(result.outcome == .exited(0), "\(result.stderrText)")
            return try readJSON(output + "/" + name)["sections"]?["git"]?["data"]?["repositories"]?.arrayValue?.first
        }
        func cacheFiles() -> [String] {
            ((try? RootedFileSystem().list(home + "/cache/provenance")) ?? nil)?.filter { $0.hasPrefix("git-") } ?? []
        }
        // Facts changed within 50 ms of a capture are not trusted.
        usleep(100_000)
        let first = try capture("1.json")
        #expect(first?["status"]?["untracked"]?["count"] == 0, "x.tmp is ignored by the global ignore file")
        let second = try capture("2.json")
        let files = cacheFiles()
        try #require(files.count == 1)
        let bytes = try #require(try RootedFileSystem().readBytes(home + "/cache/provenance/" + files[0]))
        let entry = try #require(GitStateCache.decode(bytes))
        #expect(entry.witnesses != nil, "remembered with its witnesses after two captures of one state")
        #expect(entry.witnesses?.contains { $0.path == home + "/global-ignore" } == true)
        let third = try capture("3.json")
        #expect(first == second && second == third)
        #expect(try RootedFileSystem().readBytes(output + "/3.diff.\(third?["diff"]?["sha256"]?.stringValue?.dropFirst(7).prefix(12) ?? "").patch")
                == (try RootedFileSystem().readBytes(output + "/1.diff.\(first?["diff"]?["sha256"]?.stringValue?.dropFirst(7).prefix(12) ?? "").patch")))

        // The global ignore file loses its rule: x.tmp is untracked now, on the next capture.
        GitFixture.run("printf '' > '\(home)/global-ignore'", in: repository)
        usleep(100_000)
        let changed = try capture("4.json")
        #expect(changed?["status"]?["untracked"]?["count"] == 1)
        #expect(changed?["status"]?["untracked"]?["paths"] == ["x.tmp"])

        // --no-cache: nothing read or written.
        GitFixture.run("rm -rf '\(home)/cache'", in: repository)
        _ = try capture("5.json", ["--no-cache"])
        _ = try capture("6.json", ["--no-cache"])
        #expect(cacheFiles().isEmpty)
    }

    /// libgit2 is linked from its static archive (Sources/CLibGit2Static): a capture that reads a
    /// repository with libgit2 opens no shared library for it (libgit2, libssh2, mbedTLS, Kerberos,
    /// ...) and, as before, not the CA bundle that `git_libgit2_init` would parse.
    @Test("reading a repository loads no git library and no CA bundle")
    func nothingLoaded() throws {
        guard straceIsInstalled() else { return }
        let directory = GitFixture.directory("static")
        let setup = GitFixture.dirtyRepository(at: directory)
        try #require(setup.status == 0, "\(setup.output)")
        let output = GitFixture.directory("static-out")
        let traced = shell("""
            strace -f -qq -e trace=open,openat -e signal=none -o '\(output)/trace.txt' \
            '\(Project.executable)' capture -q --only git --no-cache --repo '\(directory)' -o '\(output)/env.json' \
            && grep -c 'O_RDONLY' '\(output)/trace.txt' \
            && grep -E '\\.so|ca-certificates' '\(output)/trace.txt' | grep -oE '"[^"]*"' | sort -u
            """, timeout: 120)
        let lines = traced.output.split(separator: "\n").map(String.init)
        let opened = try #require(Int(lines.first ?? ""), "\(traced.output)")
        #expect(opened > 10, "the trace has the capture's reads")
        // What the binary itself needs (libpci, libyaml, libstdc++, ...) and nothing for git.
        let libraries = lines.dropFirst()
        #expect(!libraries.isEmpty && libraries.allSatisfy { $0.contains(".so") }, "\(traced.output)")
        for name in ["libgit2", "libssh2", "libmbed", "libgssapi", "libkrb5", "libcrypto", "libpcre2", "libhttp_parser",
                     "ca-certificates"] {
            #expect(!libraries.contains { $0.contains(name) }, "\(name) opened: \(traced.output)")
        }
        let manifest = try readJSON(output + "/env.json")
        let repository = manifest["sections"]?["git"]?["data"]?["repositories"]?.arrayValue?.first
        #expect(manifest["sections"]?["git"]?["status"] == "ok")
        #expect(repository?["commit"]?.stringValue == GitFixture.git("rev-parse HEAD", in: directory))
        #expect(repository?["diff"]?["sha256"]?.stringValue != nil, "the dirty tree's patch was made")
    }
}
