import ProvenanceCore
import ProvenanceProbeKit
@testable import ProvenanceProbes
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs the git probe in this process on the live machine, as `capture` would.
func collectGit(_ repositories: [String] = [], workingDirectory: String? = nil, diffMaxBytes: Int = GitProbe.defaultDiffMaxBytes,
                report: ProbeReport = ProbeReport(), excluding: [String] = []) -> Section
{
    let environment = processEnvironment()
    let context = ProbeContext(fs: RootedFileSystem(), commands: LiveCommandRunner(environment: environment),
                               clock: SystemClock(), environment: environment, process: ProcessIdentity(workingDirectory: workingDirectory),
                               commandTimeout: 5, deadline: monotonicSeconds() + 60)
    return Capture.collect(GitProbe(repositories: repositories, diffMaxBytes: diffMaxBytes,
                                            excluding: excluding), context, report)
}

/// The section's only repository.
func onlyRepository(_ section: Section) -> JSONValue? {
    let repositories = section.data?["repositories"]?.arrayValue ?? []
    return repositories.count == 1 ? repositories[0] : nil
}

func count(_ repository: JSONValue?, _ list: String) -> Int64? {
    repository?["status"]?[list]?["count"]?.intValue
}

@Suite("git probe")
struct GitProbeTests {
    @Test("of the built-in probes, the git probe's thread starts first (the capture's longest in a repository)")
    func startsFirst() {
        #expect(BuiltinProbes.all.filter(\.startsFirst).map(\.descriptor.id) == ["git"])
    }

    @Test("remotes are recorded as configured, not after this machine's url.insteadOf rewrites")
    func remotesAsConfigured() throws {
        let directory = GitFixture.directory()
        // A repository-level rewrite, as /etc/gitconfig or ~/.gitconfig would hold one (a mirror, an SSH alias).
        try #require(GitFixture.run("""
            git init -q -b main . && git remote add origin https://github.com/example-org/example.git && \
            git remote add mirror https://token123@mirror.example/x.git && \
            git config url./srv/mirror/.insteadOf https://github.com/
            """, in: directory).status == 0)
        // git itself applies the rewrite; the configuration has the URL the user gave.
        #expect(GitFixture.git("remote get-url origin", in: directory) == "/srv/mirror/example-org/example.git")
        let repository = try #require(onlyRepository(collectGit([directory])))
        #expect(repository["remotes"] == ["origin": "https://github.com/example-org/example.git",
                                          "mirror": "https://[masked]@mirror.example/x.git"])
    }

    @Test("a dirty repository: HEAD, branch, tags, describe, remotes and status agree with the git CLI")
    func dirtyRepository() throws {
        let directory = GitFixture.directory()
        let setup = GitFixture.dirtyRepository(at: directory)
        try #require(setup.status == 0, "\(setup.output)")
        let report = ProbeReport()
        let section = collectGit([directory], report: report)
        #expect(section.status == .ok, "\(section.issues)")
        let repository = try #require(onlyRepository(section))

        #expect(repository["path"]?.stringValue == GitFixture.git("rev-parse --show-toplevel", in: directory))
        #expect(repository["commit"]?.stringValue == GitFixture.git("rev-parse HEAD", in: directory))
        #expect(repository["branch"] == "main")
        #expect(repository["detached"] == .bool(false))
        #expect(repository["tags"] == .array([]), "v1.0 tags the first commit, not HEAD")
        #expect(repository["describe"]?.stringValue == GitFixture.git("describe --tags --dirty", in: directory))
        #expect(repository["describe"]?.stringValue?.hasPrefix("v1.0-1-g") == true)
        #expect(repository["describe"]?.stringValue?.hasSuffix("-dirty") == true)
        #expect(repository["remotes"] == ["origin": "https://[masked]@host/r.git"])
        #expect(repository["shallow"] == .bool(false))
        #expect(repository["worktree"] == .bool(false))
        #expect(repository["bare"] == .bool(false))
        #expect(repository["submodules"] == .array([]))
        #expect(repository["upstream"] == nil)

        let git = GitFixture.porcelainCounts(in: directory)
        #expect(count(repository, "staged") == Int64(git.staged))
        #expect(count(repository, "unstaged") == Int64(git.unstaged))
        #expect(count(repository, "untracked") == Int64(git.untracked))
        #expect(count(repository, "conflicted") == Int64(git.conflicted))
        #expect(git.staged == 4 && git.unstaged == 6 && git.untracked == 5)
        #expect(repository["status"]?["untracked"]?["paths"] ==
            ["empty.txt", "latin1.txt", "link", "new.bin", "notes/deep/n.txt"])
        #expect(repository["status"]?["staged"]?["paths"] == ["added.txt", "src/main.c", "staged-deleted.txt", "staged.txt"])
        #expect(repository["status"]?["unstaged"]?["truncated"] == .bool(false))

        // The patch is out of band: its digest and size in the output, its bytes attached to the report.
        let digest = try #require(repository["diff"]?["sha256"]?.stringValue)
        let patch = try #require(report.artifacts[digest])
        #expect(Manifest.sha256(patch) == digest)
        #expect(repository["diff"]?["sizeBytes"]?.intValue == Int64(patch.count))
        let text = String(decoding: patch, as: UTF8.self)
        for path in ["a.txt", "added.txt", "data.bin", "deleted.txt", "empty.txt", "kind.txt", "latin1.txt", "link", "new.bin",
                     "notes/deep/n.txt", "src/main.c", "src/run.sh", "staged-deleted.txt", "staged.txt"]
        {
            #expect(text.contains("diff --git a/\(path) b/\(path)\n"), "\(path) is not in the patch")
        }
        #expect(!text.contains("debug.log") && !text.contains("build/out.o"), "ignored files are left out")
        #expect(text.contains("GIT binary patch"))
        #expect(!text.contains("secret-token"))
        // Full ids: every index line names 40-digit blobs.
        for line in text.lines where line.hasPrefix("index ") {
            let ids = line.dropFirst(6).split(separator: " ")[0].split(separator: ".").filter { !$0.isEmpty }
            #expect(ids.count == 2 && ids.allSatisfy { $0.count == 40 }, "\(line)")
        }
        // The tracked text files are exactly what git prints for HEAD → working tree (binary
        // patches are compressed by each in its own way: the round trip test applies them).
        let tracked = GitFixture.run("git diff HEAD --full-index --no-renames --binary", in: directory).output
        let textFiles = tracked.components(startingWith: "diff --git ").filter { !$0.contains("GIT binary patch") }
        #expect(textFiles.count == 9)
        for file in textFiles {
            #expect(text.contains(file), "git's patch of \(file.prefix(60)) differs")
        }
    }

    @Test("the same repository twice gives the same output and patch digest")
    func deterministic() throws {
        let directory = GitFixture.directory()
        try #require(GitFixture.dirtyRepository(at: directory).status == 0)
        let first = collectGit([directory])
        let second = collectGit([directory + "/src"])  // found from a subdirectory too
        #expect(first.data == second.data)
        #expect(first.status == .ok)
    }

    @Test("a tag on HEAD, an upstream with ahead/behind counts, a clean tree")
    func upstream() throws {
        let origin = GitFixture.directory("origin")
        try #require(GitFixture.run("""
            set -e
            git init -q -b main . && echo one > f && git add f && git commit -q -m one && echo two >> f && git commit -qam two
            """, in: origin).status == 0)
        let clone = origin + "-clone"
        try #require(GitFixture.run("""
            set -e
            git clone -q '\(origin)' '\(clone)' && cd '\(clone)' && echo three >> f && git commit -qam three && \
            echo four >> f && git commit -qam four && git tag -a v2 -m v2 && git tag light
            cd '\(origin)' && echo other > g && git add g && git commit -qm other && cd '\(clone)' && git fetch -q
            """, in: origin).status == 0)
        let repository = try #require(onlyRepository(collectGit([clone])))
        #expect(repository["tags"] == ["light", "v2"])
        #expect(repository["describe"] == "v2")
        let counts = GitFixture.git("rev-list --left-right --count HEAD...@{u}", in: clone).split(separator: "\t")
        #expect(repository["upstream"] == ["name": "origin/main", "ahead": 2, "behind": 1])
        #expect(counts == ["2", "1"])
        #expect(repository["remotes"] == ["origin": .string(origin)])
        #expect(count(repository, "staged") == 0 && count(repository, "untracked") == 0)
        #expect(repository["diff"]?["sizeBytes"] == 0)

        // Untracked files do not make describe dirty; a tracked change does, as with git.
        GitFixture.run("echo scratch > untracked.txt", in: clone)
        #expect(onlyRepository(collectGit([clone]))?["describe"] == "v2")
        #expect(GitFixture.git("describe --tags --dirty", in: clone) == "v2")
        GitFixture.run("echo five >> f", in: clone)
        #expect(onlyRepository(collectGit([clone]))?["describe"] == "v2-dirty")
        #expect(GitFixture.git("describe --tags --dirty", in: clone) == "v2-dirty")
    }

    @Test("detached HEAD, unborn branch, shallow clone, bare repository, linked worktree")
    func headStates() throws {
        let base = GitFixture.directory("base")
        try #require(GitFixture.run("""
            set -e
            git init -q -b main . && echo one > f && git add f && git commit -q -m one && echo two >> f && git commit -qam two
            git worktree add -q ../linked
            git clone -q --depth 1 "file://$PWD" ../shallow
            git init -q -b trunk ../unborn && echo new > ../unborn/u.txt
            git clone -q --bare . ../bare.git
            """, in: base).status == 0)
        let parent = String(base[..<base.lastIndex(of: "/")!])
        let detached = parent + "/detached"
        GitFixture.run("git clone -q '\(base)' '\(detached)' && cd '\(detached)' && git checkout -q --detach HEAD~1", in: base)

        let d = try #require(onlyRepository(collectGit([detached])))
        #expect(d["detached"] == .bool(true))
        #expect(d["branch"] == nil)
        #expect(d["commit"]?.stringValue == GitFixture.git("rev-parse HEAD~1", in: base))

        let u = try #require(onlyRepository(collectGit([parent + "/unborn"])))
        #expect(u["commit"] == nil)
        #expect(u["branch"] == "trunk")
        #expect(count(u, "untracked") == 1)
        #expect((u["diff"]?["sizeBytes"]?.intValue ?? 0) > 0)

        let s = try #require(onlyRepository(collectGit([parent + "/shallow"])))
        #expect(s["shallow"] == .bool(true))
        #expect(s["worktree"] == .bool(false))

        let b = try #require(onlyRepository(collectGit([parent + "/bare.git"])))
        #expect(b["bare"] == .bool(true))
        #expect(b["path"]?.stringValue == parent + "/bare.git")
        #expect(b["branch"] == "main")
        #expect(b["status"] == nil && b["diff"] == nil)

        let w = try #require(onlyRepository(collectGit([parent + "/linked"])))
        #expect(w["worktree"] == .bool(true))
        #expect(w["path"]?.stringValue == parent + "/linked")
        #expect(w["commit"]?.stringValue == GitFixture.git("rev-parse HEAD", in: base))
    }

    @Test("a merge conflict is counted as conflicted, as git status does")
    func conflict() throws {
        let directory = GitFixture.directory()
        GitFixture.run("""
            git init -q -b main . && echo base > f && git add f && git commit -qm base
            git checkout -qb other && echo theirs > f && git commit -qam theirs
            git checkout -q main && echo ours > f && git commit -qam ours
            git merge -q other
            """, in: directory)
        let section = collectGit([directory])
        let repository = try #require(onlyRepository(section))
        let git = GitFixture.porcelainCounts(in: directory)
        #expect(git.conflicted == 1)
        #expect(count(repository, "conflicted") == 1)
        #expect(repository["status"]?["conflicted"]?["paths"] == ["f"])
        #expect(count(repository, "staged") == Int64(git.staged))
        #expect(count(repository, "unstaged") == Int64(git.unstaged))
    }

    @Test("submodules: recorded and checked-out commits, their own dirty flag")
    func submodules() throws {
        let library = GitFixture.directory("library")
        try #require(GitFixture.run("git init -q -b main . && echo lib > l && git add l && git commit -qm lib", in: library)
            .status == 0)
        let parent = String(library[..<library.lastIndex(of: "/")!])
        let superproject = parent + "/super"
        let setup = GitFixture.run("""
            set -e
            mkdir '\(superproject)' && cd '\(superproject)' && git init -q -b main . && echo top > t && git add t
            git -c protocol.file.allow=always submodule add -q '\(library)' vendor/lib
            git commit -qm 'with submodule'
            echo scratch > vendor/lib/untracked.txt
            """, in: parent)
        try #require(setup.status == 0, "\(setup.output)")
        let repository = try #require(onlyRepository(collectGit([superproject])))
        let commit = GitFixture.git("rev-parse HEAD", in: library)
        #expect(repository["submodules"] == .array([[
            "path": "vendor/lib", "recordedCommit": .string(commit), "checkedOutCommit": .string(commit), "dirty": true,
        ]]))
        // The submodule's own untracked file is its business: not in the superproject's patch.
        #expect(repository["diff"]?["sizeBytes"] == 0)
    }

    @Test("over --diff-max-bytes: no patch, the changed files with their blob ids instead")
    func patchTooLarge() throws {
        let directory = GitFixture.directory()
        try #require(GitFixture.dirtyRepository(at: directory).status == 0)
        let report = ProbeReport()
        let section = collectGit([directory], diffMaxBytes: 100, report: report)
        #expect(section.status == .ok)
        let diff = try #require(onlyRepository(section)?["diff"])
        #expect(diff["sha256"] == nil)
        #expect(diff["omittedReason"] == "the patch is larger than 100 bytes (--diff-max-bytes)")
        #expect(diff["filesTruncated"] == .bool(false))
        let files = diff["files"]?.arrayValue ?? []
        // kind.txt, turned into a symbolic link, is a deletion and an addition, as in the patch.
        #expect(files.compactMap { $0["path"]?.stringValue } == [
            "a.txt", "added.txt", "data.bin", "deleted.txt", "empty.txt", "kind.txt", "kind.txt", "latin1.txt", "link",
            "new.bin", "notes/deep/n.txt", "src/main.c", "src/run.sh", "staged-deleted.txt", "staged.txt",
        ])
        // A symbolic link's blob is its target, as git stores it.
        let linkBlob = GitFixture.run("printf a.txt | git hash-object --stdin", in: directory).output.trimmed
        for file in files {
            let path = file["path"]?.stringValue ?? ""
            if file["change"] == "deleted" {
                #expect(file["blob"] == nil)
            } else if path == "link" || path == "kind.txt" {
                #expect(file["blob"]?.stringValue == linkBlob, "\(path)")
            } else {
                #expect(file["blob"]?.stringValue == GitFixture.git("hash-object --no-filters -- '\(path)'", in: directory),
                        "\(path)")
            }
        }
    }

    /// Excluded paths are out of every part of the record: untracked, tracked and changed, inside
    /// an excluded directory, with characters that mean something in ignore rules.
    @Test("excluded paths: not untracked, not changed, not in the patch, not making describe dirty")
    func excludedPaths() throws {
        let directory = GitFixture.directory()
        let setup = GitFixture.run("""
            set -e
            git init -q -b main . && printf 'code\\n' > code.py && printf 'old\\n' > 'tracked [1].json'
            git add -A && git commit -q -m first && git tag v1
            printf 'new\\n' > 'tracked [1].json'
            printf '{}\\n' > 'env *.json' && printf 'p\\n' > 'env *.diff.patch' && printf 'x\\n' > '#env.json'
            mkdir -p runs/a && printf 'r\\n' > runs/a/run.json && printf 'keep\\n' > kept.txt
            """, in: directory)
        try #require(setup.status == 0, "\(setup.output)")
        let excluded = ["tracked [1].json", "env *.json", "env *.diff.patch", "#env.json", "runs", "not-there/e.json"]
            .map { directory + "/" + $0 }
        let report = ProbeReport()
        let section = collectGit([directory], report: report, excluding: excluded)
        let repository = try #require(onlyRepository(section), "\(section.issues)")
        #expect(repository["status"]?["untracked"]?["paths"] == ["kept.txt"])
        #expect(count(repository, "unstaged") == 0)
        #expect(count(repository, "staged") == 0)
        #expect(repository["describe"] == "v1")
        let digest = try #require(repository["diff"]?["sha256"]?.stringValue)
        let patch = String(decoding: try #require(report.artifacts[digest]), as: UTF8.self)
        #expect(patch == GitFixture.run("git add -N kept.txt && git diff HEAD --binary --full-index --no-renames -- kept.txt && git reset -q",
                                        in: directory).output)
        // Without exclusions the same repository shows them all.
        let plain = try #require(onlyRepository(collectGit([directory])))
        #expect(count(plain, "untracked") == 5)
        #expect(plain["describe"] == "v1-dirty")
    }

    @Test("no repository: absent; a missing one among others: partial")
    func absent() throws {
        let empty = GitFixture.directory("empty")
        let section = collectGit(workingDirectory: empty)
        #expect(section.status == .absent)
        #expect(section.issues == [ProbeIssue(source: empty, message: "not in a git repository")])
        #expect(collectGit([empty + "/does-not-exist"]).status == .absent)

        let repository = GitFixture.directory("one")
        GitFixture.run("git init -q -b main . && echo x > x && git add x && git commit -qm x", in: repository)
        let other = GitFixture.directory("two")
        GitFixture.run("git init -q -b main .", in: other)
        let mixed = collectGit([repository, empty, other])
        #expect(mixed.status == .partial)
        #expect(mixed.issues == [ProbeIssue(source: empty, message: "not in a git repository")])
        #expect(mixed.data?["repositories"]?.arrayValue?.compactMap { $0["path"]?.stringValue } == [repository, other].sorted())
    }

    @Test("the index's cache-tree: unstaged changes after a commit, then staged ones, then intent-to-add, as git shows them")
    func cacheTree() throws {
        let directory = GitFixture.directory()
        GitFixture.run("""
            git init -q -b main . && mkdir -p src/deep && printf 'a\\nb\\n' > a.txt && echo m > src/main.c \
              && echo d > src/deep/d.txt && git add -A && git commit -qm one
            """, in: directory)
        func check(_ label: String, staged: Int?, unstaged: Int, untracked: Int) throws {
            let report = ProbeReport()
            let section = collectGit([directory], report: report)
            let repository = try #require(onlyRepository(section), "\(label): \(section)")
            let git = GitFixture.porcelainCounts(in: directory)
            #expect([count(repository, "unstaged"), count(repository, "untracked")]
                == [Int64(git.unstaged), Int64(git.untracked)], "\(label)")
            #expect([git.unstaged, git.untracked] == [unstaged, untracked], "\(label)")
            if let staged {
                #expect(count(repository, "staged") == Int64(git.staged), "\(label)")
                #expect(git.staged == staged, "\(label)")
            }
            // git's patch of HEAD → working tree, untracked files added with intent-to-add on a copy of the index.
            let theirs = GitFixture.run("""
                cp "$(git rev-parse --git-path index)" "$TMPDIR/index-copy" && export GIT_INDEX_FILE="$TMPDIR/index-copy" \
                  && git add -N --all && git diff HEAD --binary --full-index --no-renames
                """.replacingOccurrences(of: "$TMPDIR", with: directory + "/.git"), in: directory).output
            let digest = repository["diff"]?["sha256"]?.stringValue
            let ours = digest.flatMap { report.artifacts[$0] }.map { String(decoding: $0, as: UTF8.self) } ?? ""
            #expect(ours == theirs, "\(label): the patch differs from git's")
        }
        // Just committed: the cache-tree holds HEAD's tree; modified and untracked files.
        GitFixture.run("echo more >> a.txt && echo new > src/new.txt && rm src/deep/d.txt", in: directory)
        try check("unstaged only", staged: 0, unstaged: 2, untracked: 1)
        // A staged change invalidates the cache-tree of its directories.
        GitFixture.run("echo staged >> src/main.c && git add src/main.c", in: directory)
        try check("staged", staged: 1, unstaged: 2, untracked: 1)
        // Committed again, then an intent-to-add entry (left out of trees by git).
        GitFixture.run("git add -A && git commit -qm two && echo later > later.txt && git add -N later.txt", in: directory)
        // (Its staged count is not compared: libgit2's HEAD → index lists an intent-to-add entry as
        // added, git status does not; so it was before the cache-tree was used.)
        try check("intent-to-add", staged: nil, unstaged: 1, untracked: 0)
    }

    /// A truncated loose object is not tried here: libgit2 1.5 loops forever reading one
    /// (libgit2/libgit2#7342); the end-to-end tests show the probe's deadline ends it.
    @Test("a corrupt repository fails with libgit2's message", arguments: [
        ("HEAD", "git_repository_head_unborn: corrupted loose reference file: HEAD"),
        ("object", "git_object_lookup: failed to inflate loose object"),
    ])
    func corrupt(what: String, message: String) throws {
        let directory = GitFixture.directory()
        try #require(GitFixture.run("git init -q -b main . && echo x > x && git add x && git commit -qm x", in: directory)
            .status == 0)
        if what == "HEAD" {
            #expect(truncate(directory + "/.git/HEAD", 0) == 0)
        } else {
            let commit = GitFixture.git("rev-parse HEAD", in: directory)
            let object = directory + "/.git/objects/" + commit.prefix(2) + "/" + commit.dropFirst(2)
            chmod(object, 0o644)
            try AtomicFile.write(Array("not a zlib stream: the disk went bad".utf8), to: object)
        }
        let section = collectGit([directory])
        #expect(section.status == .failed)
        #expect(section.issues.last == ProbeIssue(source: "git", message: directory + ": " + message))
        #expect(section.data == nil)
    }

    /// git refuses such a repository ("detected dubious ownership"; libgit2: "config value
    /// 'safe.directory' was not found"); provenance only reads, so it reads it.
    @Test("a repository owned by another user is read (safe.directory does not apply)",
          .enabled(if: getuid() == 0, "needs root to give the repository to another user"))
    func otherOwner() throws {
        let directory = GitFixture.directory()
        try #require(GitFixture.run("git init -q -b main . && echo x > x && git add x && git commit -qm x && echo y > y",
                                    in: directory).status == 0)
        #expect(shell("chown -R nobody '\(directory)'").status == 0)
        #expect(GitFixture.run("git status --porcelain", in: directory).output.contains("dubious ownership"))
        let section = collectGit([directory])
        #expect(section.status == .ok, "\(section.issues)")
        #expect(count(onlyRepository(section), "untracked") == 1)
    }

    @Test("the probe's descriptor says what it reads and runs nothing")
    func descriptor() {
        let descriptor = GitProbe().descriptor
        #expect(descriptor.id == "git")
        #expect(descriptor.runs.isEmpty)
        #expect(descriptor.enabledByDefault)
    }
}

extension String {
    /// The pieces of the text that start with `marker` (text before the first one is dropped).
    func components(startingWith marker: String) -> [String] {
        var pieces: [String] = []
        var rest = Substring(self)
        while let start = rest.firstRange(of: marker) {
            let after = rest[start.upperBound...]
            let end = after.firstRange(of: marker)?.lowerBound ?? rest.endIndex
            pieces.append(String(rest[start.lowerBound..<end]))
            rest = rest[end...]
        }
        return pieces
    }
}

@Suite("What a capture writes")
struct WrittenPathsTests {
    @Test("earlier patches beside the manifest are excluded in a repository; outside one the directory is not listed")
    func earlierPatches() {
        let repository = GitFixture.directory("written")
        GitFixture.run("git init -q -b main . && touch env.diff.0123456789ab.patch env.datasets.d.sha256 other.txt", in: repository)
        var request = CaptureRequest(environment: [:], workingDirectory: repository)
        request.output = "env.json"
        #expect(Set(CapturePlan.writtenPaths(request)) == [repository + "/env.json", repository + "/env.diff.0123456789ab.patch",
                                                            repository + "/env.datasets.d.sha256"])
        let outside = GitFixture.directory("written-outside")
        GitFixture.run("touch env.diff.0123456789ab.patch", in: outside)
        request = CaptureRequest(environment: [:], workingDirectory: outside)
        request.output = "env.json"
        #expect(CapturePlan.writtenPaths(request) == [outside + "/env.json"])
    }
}
