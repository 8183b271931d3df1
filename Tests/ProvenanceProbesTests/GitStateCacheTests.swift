import ProvenanceCore
import ProvenanceProbeKit
@testable import ProvenanceProbes
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A git probe that remembers repositories in `cache`, as `capture` runs it (racy margin 50 ms:
/// the steps below wait 80 ms after each change).
private func collectCached(_ repository: String, cache: String?, excluding: [String] = [])
    -> (section: Section, artifacts: [String: [UInt8]])
{
    let environment = processEnvironment()
    let context = ProbeContext(fs: RootedFileSystem(), commands: LiveCommandRunner(environment: environment),
                               clock: SystemClock(), environment: environment, process: ProcessIdentity(),
                               commandTimeout: 5, deadline: monotonicSeconds() + 60)
    var probe = GitProbe(repositories: [repository], excluding: excluding, cacheDirectory: cache)
    probe.cacheRacyMargin = 50_000_000
    let report = ProbeReport()
    let section = Capture.collect(probe, context, report)
    return (section, report.artifacts)
}

/// What the cache file of `repository` says now.
private func lookup(_ repository: String, cache: String, excluding: [String] = []) -> GitStateCache.Lookup {
    let start = resolved(repository) ?? repository
    let state = GitStateCache(directory: cache, start: start,
                              key: GitStateCache.key(start: start, diffMaxBytes: GitProbe.defaultDiffMaxBytes,
                                                     environment: processEnvironment()))
    return state.lookup(excluded: excluding)
}

/// `realpath(3)` of `path`.
private func resolved(_ path: String) -> String? {
    realpath(path, nil).map { pointer in
        defer { free(pointer) }
        return String(cString: pointer)
    }
}

/// A new repository made by `script` (with its first commit), and an empty cache directory; the
/// files are older than the racy margin when it returns.
private func repositoryAndCache(_ name: String, _ script: String) throws -> (repository: String, cache: String) {
    let repository = GitFixture.directory(name)
    let setup = GitFixture.run(script, in: repository)
    try #require(setup.status == 0, "\(setup.output)")
    usleep(80_000)
    return (repository, GitFixture.directory("cache"))
}

/// The witnesses of a plain repository at `workdir` (its git directory `.git`, nothing excluded
/// or ignored) for `files`, as a capture that began at `began` collects them.
private func plainWitnesses(_ workdir: String, files: [String], configFiles: [String] = [], began: Int64)
    -> [GitStateCache.Witness]?
{
    GitStateCache.witnesses(workdir: workdir, gitDirectory: workdir + "/.git", commonDirectory: workdir + "/.git",
                            start: workdir, files: files, excluded: Exclusions(), excludedNames: [],
                            configFiles: configFiles, isIgnored: { _ in false }, began: began)
}

private func isHit(_ lookup: GitStateCache.Lookup) -> Bool {
    if case .hit = lookup { return true }
    return false
}

@Suite("git state cache")
struct GitStateCacheTests {
    /// After each change, the first capture through the cache (which must see the change),
    /// the second (which remembers the state) and the third (answered by the cache, without
    /// libgit2) give exactly what a capture without the cache gives: data and patch bytes.
    @Test("a remembered repository gives what libgit2 reads, after every kind of change")
    func sameAsLibgit2() throws {
        let repository = GitFixture.directory("cached")
        let cache = GitFixture.directory("cache")
        let setup = GitFixture.dirtyRepository(at: repository)
        try #require(setup.status == 0, "\(setup.output)")
        GitFixture.run("mkdir -p logs empty && printf 'x\\n' > logs/a.log", in: repository)

        func check(_ step: String, _ script: String, sourceLocation: SourceLocation = #_sourceLocation) {
            if !script.isEmpty {
                let result = GitFixture.run(script, in: repository)
                #expect(result.status == 0, "\(step): \(result.output)", sourceLocation: sourceLocation)
            }
            usleep(80_000)
            let fresh = collectCached(repository, cache: nil)
            #expect(fresh.section.status == .ok, "\(step): \(fresh.section.issues)", sourceLocation: sourceLocation)
            for round in 1...3 {
                let cached = collectCached(repository, cache: cache)
                #expect(cached.section.data == fresh.section.data, "\(step), capture \(round) through the cache",
                        sourceLocation: sourceLocation)
                #expect(cached.artifacts == fresh.artifacts, "\(step), capture \(round): patch bytes",
                        sourceLocation: sourceLocation)
            }
            #expect(isHit(lookup(repository, cache: cache)), "\(step): remembered after two captures",
                    sourceLocation: sourceLocation)
        }

        check("the dirty fixture", "")
        // Same size, new content: only the times say it changed.
        check("a tracked file rewritten with as many bytes", "printf 'ALPHA\\nbeta\\ngamma\\ndelta\\n' > a.txt")
        check("an untracked file at the top", "printf 'new\\n' > top.txt")
        check("an untracked file in a directory of ignored files only", "printf 'note\\n' > logs/notes.txt")
        check("a file in an empty directory", "printf 'first\\n' > empty/first.txt")
        check("an untracked file in a nested new directory", "mkdir -p new/deeper && printf 'x\\n' > new/deeper/x.txt")
        // `new` holds only a directory: its witness is an `lstat`, without opening it.
        check("an untracked file beside a directory's only directory", "printf 'y\\n' > new/y.txt")
        check("a file in an ignored directory (nothing changes)", "printf 'more\\n' > build/more.o")
        check("an ignore rule removed", "printf 'build/\\n' > .gitignore")
        check("an ignore rule in info/exclude", "printf 'top.txt\\n' >> .git/info/exclude")
        check("a file staged", "git add top.txt -f && git add notes")
        check("a commit", "git add -A && git commit -q -m third")
        check("a tag on HEAD (describe)", "git tag v2.0")
        check("a tracked file deleted", "rm src/main.c")
        check("a mode change", "git checkout -q -- src/main.c && chmod -x src/run.sh")
        check("a branch switched", "git stash -q -u && git checkout -q -b topic")
        check("a file replaced by a directory", "rm a.txt && mkdir a.txt && printf 'in\\n' > a.txt/in.txt")
        check("a symbolic link retargeted", "rm -rf a.txt && git checkout -q -- a.txt && ln -sfn src link")
    }

    @Test("the capture's own outputs in the working tree do not make it read the repository again")
    func ownOutputs() throws {
        let (repository, cache) = try repositoryAndCache(
            "outputs", "git init -q -b main . && printf 'a\\n' > a.txt && git add -A && git commit -qm one")
        let manifest = repository + "/env.json"
        for round in 1...2 { _ = collectCached(repository, cache: cache, excluding: [manifest]) ; _ = round }
        #expect(isHit(lookup(repository, cache: cache, excluding: [manifest])))
        // The capture writes its manifest (a new name in the top directory, whose times change)…
        GitFixture.run("printf '{}' > env.json.tmp && mv env.json.tmp env.json", in: repository)
        #expect(isHit(lookup(repository, cache: cache, excluding: [manifest])), "the manifest is the capture's own")
        // …but another new file there is seen.
        GitFixture.run("printf 'x\\n' > other.txt", in: repository)
        #expect(!isHit(lookup(repository, cache: cache, excluding: [manifest])))
        let fresh = collectCached(repository, cache: nil, excluding: [manifest])
        let cached = collectCached(repository, cache: cache, excluding: [manifest])
        #expect(cached.section.data == fresh.section.data)
        #expect(count(onlyRepository(cached.section), "untracked") == 1)
        // Other excluded paths are another key: a miss, never another capture's answer.
        #expect(!isHit(lookup(repository, cache: cache, excluding: [repository + "/other.txt"])))
    }

    @Test("repositories with submodules or a repository inside are never remembered")
    func notRemembered() throws {
        let inner = GitFixture.directory("inner")
        let outer = GitFixture.directory("outer")
        let cache = GitFixture.directory("cache")
        let setup = GitFixture.run("""
            set -e
            (cd '\(inner)' && git init -q -b main . && printf 'i\\n' > i.txt && git add -A && git commit -qm inner)
            git init -q -b main . && printf 'o\\n' > o.txt && git add -A && git commit -qm outer
            git -c protocol.file.allow=always submodule add -q '\(inner)' sub && git commit -qm sub
            """, in: outer)
        try #require(setup.status == 0, "\(setup.output)")
        usleep(80_000)
        for _ in 1...3 { #expect(collectCached(outer, cache: cache).section.status == .ok) }
        #expect(!isHit(lookup(outer, cache: cache)))
        let nested = GitFixture.directory("nested")
        GitFixture.run("git init -q -b main . && mkdir inside && cd inside && git init -q -b main . ", in: nested)
        usleep(80_000)
        for _ in 1...3 { #expect(collectCached(nested, cache: cache).section.status == .ok) }
        #expect(!isHit(lookup(nested, cache: cache)))
    }

    @Test("a state changed within the racy margin before the capture is not remembered")
    func racy() throws {
        let repository = GitFixture.directory("racy")
        let setup = GitFixture.run("git init -q -b main . && printf 'a\\n' > a.txt && git add -A && git commit -qm one",
                                   in: repository)
        try #require(setup.status == 0, "\(setup.output)")
        let workdir = try #require(resolved(repository))
        func witnesses(began: Int64) -> [GitStateCache.Witness]? {
            plainWitnesses(workdir, files: ["a.txt"], began: began)
        }
        var info = stat()
        try #require(lstat(workdir + "/a.txt", &info) == 0)
        let changed = FileStat(info).lastChangeNanoseconds
        // A capture that began 10 ms after a.txt changed does not trust it; one ten seconds later
        // trusts it (and the git directory's files, written just after it).
        #expect(witnesses(began: changed + 10_000_000) == nil)
        let later = try #require(witnesses(began: realtimeNanoseconds() + 10_000_000_000))
        #expect(later.contains { $0.path == workdir + "/a.txt" && $0.stat != nil })
        #expect(later.contains { $0.path == workdir && $0.names?.map { String(decoding: $0, as: UTF8.self) } == [".git", "a.txt"] })
        // Whole-second times (no nanoseconds, as on ext4 with 128-byte inodes) need two seconds.
        let second: Int64 = 1_700_000_000 * 1_000_000_000
        let whole = FileStat(device: 1, inode: 2, size: 3, mtimeNanoseconds: second, ctimeNanoseconds: second)
        #expect(whole.isRacy(began: second + 1_500_000_000))
        #expect(!whole.isRacy(began: second + 2_500_000_000))
        let fine = FileStat(device: 1, inode: 2, size: 3, mtimeNanoseconds: second + 123, ctimeNanoseconds: second + 456)
        #expect(fine.isRacy(began: second + 40_000_000))
        #expect(!fine.isRacy(began: second + 60_000_000))
    }

    @Test("the file format round-trips, and a damaged or foreign file is never used")
    func fileFormat() throws {
        let repository = GitFixture.directory("format")
        let setup = GitFixture.run("git init -q -b main . && mkdir d && printf 'a\\n' > d/a.txt && git add -A && git commit -qm one",
                                   in: repository)
        try #require(setup.status == 0, "\(setup.output)")
        let workdir = try #require(resolved(repository))
        let witnesses = try #require(plainWitnesses(workdir, files: ["d/a.txt", "gone.txt"],
                                                    configFiles: ["/nonexistent/gitconfig"],
                                                    began: realtimeNanoseconds() + 10_000_000_000))
        let entry = GitStateCache.Entry(key: "k\u{0}workdir \(workdir)", repository: Array("{}".utf8),
                                        patch: [0, 1, 2, 255], witnesses: witnesses)
        let bytes = GitStateCache.encode(entry)
        let decoded = try #require(GitStateCache.decode(bytes))
        #expect(decoded == entry)
        // Files of the directory before are stored by name, and read back with it.
        #expect(decoded.witnesses?.first { $0.path == workdir + "/d/a.txt" }?.name == "a.txt")
        #expect(decoded.witnesses?.contains { $0.path == workdir + "/gone.txt" && $0.stat == nil } == true)
        #expect(GitStateCache.holds(decoded.witnesses ?? [], excludedNames: []))
        let seenOnly = GitStateCache.Entry(key: "k", repository: Array("{}".utf8), patch: [], witnesses: nil)
        #expect(GitStateCache.decode(GitStateCache.encode(seenOnly)) == seenOnly)
        for cut in [1, 32, bytes.count / 2] { #expect(GitStateCache.decode(Array(bytes.dropLast(cut))) == nil) }
        var flipped = bytes
        flipped[bytes.count / 2] ^= 1
        #expect(GitStateCache.decode(flipped) == nil)
        #expect(GitStateCache.decode(Array("provenance-git-cache 2\n".utf8) + bytes.dropFirst(23)) == nil)
        // A changed file makes the witnesses fail.
        GitFixture.run("printf 'b\\n' >> d/a.txt", in: repository)
        #expect(!GitStateCache.holds(decoded.witnesses ?? [], excludedNames: []))
    }

    @Test("a damaged cache file is read again and rewritten")
    func damaged() throws {
        let (repository, cache) = try repositoryAndCache(
            "damaged", "git init -q -b main . && printf 'a\\n' > a.txt && git add -A && git commit -qm one && printf 'b\\n' >> a.txt")
        let fresh = collectCached(repository, cache: nil)
        for _ in 1...2 { _ = collectCached(repository, cache: cache) }
        #expect(isHit(lookup(repository, cache: cache)))
        let files = (try RootedFileSystem().list(cache) ?? []).filter { $0.hasPrefix("git-") }
        try #require(files.count == 1)
        let path = cache + "/" + files[0]
        var bytes = try #require(try RootedFileSystem().readBytes(path))
        bytes[bytes.count / 3] ^= 0x40
        try AtomicFile.write(bytes, to: path)
        #expect(!isHit(lookup(repository, cache: cache)))
        let again = collectCached(repository, cache: cache)
        #expect(again.section.data == fresh.section.data)
        #expect(again.artifacts == fresh.artifacts)
        let rewritten = try #require(try RootedFileSystem().readBytes(path))
        #expect(GitStateCache.decode(rewritten) != nil, "rewritten whole")
    }
}
