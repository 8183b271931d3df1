import CLibGit2
import ProvenanceCore
import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The git state of the code being run: commit, branch, tags, remotes, submodules, uncommitted
/// changes and a patch that reproduces them.
///
/// Reads, through libgit2 (no `git` process): the repository holding the working directory
/// (live), or each `--repo` path (under `--root`, a machine path below the recorded root; with
/// no `--repo` there is nothing to read and the section is `absent`). Per repository: `HEAD`,
/// `refs/` and `packed-refs` (branch, tags, upstream), `config` (remotes, upstream, submodules),
/// `.gitmodules`, `shallow`, the index, the objects, every file of the working tree (status and
/// patch; ignored files are left out), and, live, the user's and system git configuration as git
/// does (`core.excludesFile`, `url.*.insteadOf`). Repositories owned by another user are read
/// (libgit2's owner check, git's `safe.directory`, is turned off: provenance runs no hook or
/// configured command, it only reads).
///
/// Live, a repository found unchanged since two earlier captures is not read again: its section
/// and patch come from `GitStateCache`, checked against the `lstat` data of its files,
/// directories, git directory and configuration (`cacheDirectory`; not with `--no-cache`).
///
/// The patch (HEAD → working tree: staged, unstaged and untracked files, binary changes in git's
/// binary form, full ids, no renames) is not in the output: the output has its digest and size,
/// and its bytes are attached to the report under that digest (`ProbeReport.attach`), from where
/// the capture's writer puts them beside the manifest.
/// Untracked files larger than `untrackedMaxBytes` (1 MiB: a checkpoint, a data file) are left
/// out of the patch and listed with their size and sha256 instead (`untrackedOmitted`); so are all
/// untracked files when with them the patch would pass `diffMaxBytes`: tracked changes are kept
/// first. Only when the tracked changes alone pass `diffMaxBytes` is no patch kept: the output
/// lists the changed files with the blob ids of their working-tree content instead, and says why.
///
/// Paths in `excluding` (what the capture itself writes: the manifest, its patches, sidecars,
/// sums file, a run directory) are never part of the recorded state: not untracked, not changed,
/// not in the patch, not making `describe` dirty. They are in-memory ignore rules of the open
/// repository (`git_ignore_add_rule`: an excluded directory is not even walked) plus a filter of
/// tracked paths.
public struct GitProbe: Probe {
    /// The default `--diff-max-bytes`: 4 MiB.
    public static let defaultDiffMaxBytes = 4 << 20
    /// At most this many paths per list (status lists, changed files); the rest is counted.
    public static let maxListedPaths = 1000
    /// Untracked files larger than this (1 MiB) are listed with size and sha256, not patched.
    public static let untrackedMaxBytes = 1 << 20

    /// Paths given with `--repo`; empty means the repository holding the working directory.
    public var repositories: [String]
    /// The largest patch kept, in bytes.
    public var diffMaxBytes: Int
    /// Host paths (files or directories, absolute or relative to the working directory; they need
    /// not exist yet) that are never part of the recorded state: what the capture writes.
    public var excluding: [String]
    /// Where repositories' states are remembered between live captures (`GitStateCache`); nil:
    /// every capture reads the repository with libgit2 (`--no-cache`, `--root`).
    public var cacheDirectory: String?
    /// Facts changed this recently before a capture are not trusted (`GitStateCache`); tests
    /// shorten it.
    var cacheRacyMargin = GitStateCache.racyMarginNanoseconds

    public init(repositories: [String] = [], diffMaxBytes: Int = GitProbe.defaultDiffMaxBytes,
                excluding: [String] = [], cacheDirectory: String? = nil)
    {
        self.repositories = repositories
        self.diffMaxBytes = diffMaxBytes
        self.excluding = excluding
        self.cacheDirectory = cacheDirectory
    }

    /// Started before the other probes: in a repository it is the capture's longest thread (about
    /// 20 ms of CPU in this 1,770-file checkout, most of it listing the working tree).
    public var startsFirst: Bool { true }

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "git", version: "1.0.0",
            summary: "Git repositories of the working directory or --repo (libgit2): HEAD commit, branch, tags, "
                + "describe, upstream, remotes (credentials masked), submodules, staged/unstaged/untracked/conflicted "
                + "files, and a patch of uncommitted changes stored beside the manifest",
            reads: ["REPO/.git/{HEAD,config,index,packed-refs,shallow,refs/*,objects/*}", "REPO/.gitmodules",
                    "REPO/** (the working tree, ignored files excepted)",
                    "~/.gitconfig, ~/.config/git/{config,ignore}, /etc/gitconfig (live only)",
                    "$XDG_CACHE_HOME/provenance/git-*.cache (live, not with --no-cache: the state of an unchanged repository)"])
    }

    public typealias Output = GitSection
    public typealias Repository = GitSection.Repository
    public typealias Upstream = GitSection.Upstream
    public typealias Submodule = GitSection.Submodule
    public typealias Status = GitSection.Status
    public typealias PathList = GitSection.PathList
    public typealias Diff = GitSection.Diff
    public typealias ChangedFile = GitSection.ChangedFile
    public typealias UntrackedFile = GitSection.UntrackedFile

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let fs = context.fs
        var targets: [(given: String, machinePath: String?)] = []
        if repositories.isEmpty {
            guard fs.isLive, let directory = context.process.workingDirectory else {
                throw ProbeAbsent(source: "git", reason: "no repository given (--repo); a recorded machine has no working directory")
            }
            targets = [(directory, directory)]
        } else {
            for path in repositories {
                // Live: the absolute path (nil when it does not exist); recorded: a machine path.
                targets.append((path, fs.isLive ? realPath(path) : normalizePath("/" + path)))
            }
        }
        // Under --root, never look above the recorded machine, nor outside it for configuration.
        let root = fs.isLive ? nil : realPath(fs.root) ?? fs.root
        let ceiling = root.map { [parentDirectory($0)] } ?? []

        let excludedHostPaths = excluding.map(resolvedPath)
        var found: [String: Repository] = [:]
        var failures: [(String, GitError)] = []
        var missing: [String] = []
        for target in targets {
            // libgit2 is started only where there may be a repository: its start-up (it loads the
            // system's CA certificates) costs more than the rest of a capture.
            guard let start = target.machinePath, GitProbe.mayBeInRepository(start, fs: fs) else {
                missing.append(target.given)
                continue
            }
            // A repository unchanged since an earlier capture: its remembered state.
            var cache: GitStateCache?
            var seen: [UInt8]?
            if root == nil, let cacheDirectory {
                let candidate = GitStateCache(
                    directory: cacheDirectory, start: start,
                    key: GitStateCache.key(start: start, diffMaxBytes: diffMaxBytes,
                                           environment: context.environment))
                switch candidate.lookup(excluded: excludedHostPaths) {
                case .hit(let repository, let patch):
                    if found[repository.path] == nil {
                        found[repository.path] = repository
                        if !patch.isEmpty, let digest = repository.diff?.sha256 { report.attach(patch, as: digest) }
                    }
                    continue
                case .miss(let previous):
                    seen = previous
                    cache = candidate
                }
            }
            let began = realtimeNanoseconds()
            let issuesBefore = report.issues.count
            do throws(GitError) {
                if root != nil { try LibGit2.ignoreUserAndSystemConfiguration() }
                guard let repository = try GitRepository.discover(from: fs.hostPath(start), ceiling: ceiling) else {
                    missing.append(target.given)
                    continue
                }
                let path = machinePath(repository.workdir ?? repository.gitDirectory, root: root)
                if found[path] != nil { continue }
                var evidence: CacheEvidence? = cache == nil ? nil : CacheEvidence()
                let inspected = try inspect(repository, path: path, report: report, excluded: excludedHostPaths,
                                            evidence: &evidence)
                found[path] = inspected
                // The state is remembered with its witnesses once two captures in a row saw it:
                // collecting them costs about half of reading the repository, which a tree
                // edited between runs would pay every time for nothing.
                if let cache, let evidence, evidence.cacheable, report.issues.count == issuesBefore,
                   let workdir = repository.workdir, let json = GitStateCache.serialize(inspected),
                   let configFiles = GitProbe.configurationFiles(repository, environment: context.environment)
                {
                    let witnesses = json != seen ? nil : GitStateCache.witnesses(
                        workdir: workdir, gitDirectory: repository.gitDirectory,
                        commonDirectory: repository.commonDirectory, start: start, files: evidence.files,
                        excluded: Exclusions(excludedHostPaths, workdir: workdir),
                        excludedNames: Set(excludedHostPaths), configFiles: configFiles,
                        isIgnored: repository.isIgnored, began: began, racyMargin: cacheRacyMargin)
                    let patch = inspected.diff?.sha256.flatMap { report.artifacts[$0] } ?? []
                    cache.save(workdir: workdir, excluded: excludedHostPaths, repository: json, patch: patch,
                               witnesses: witnesses)
                }
            } catch {
                failures.append((target.given, error))
            }
        }

        if found.isEmpty {
            if let (path, error) = failures.last {
                for (other, otherError) in failures.dropLast() { report.issue(other, otherError.description) }
                for other in missing { report.issue(other, "not in a git repository") }
                throw RepositoryFailure(path: path, error: error)
            }
            for other in missing.dropLast() { report.issue(other, "not in a git repository") }
            throw ProbeAbsent(source: missing.last ?? "git", reason: "not in a git repository")
        }
        for path in missing { report.issue(path, "not in a git repository") }
        for (path, error) in failures { report.issue(path, "\(error)") }
        return Output(repositories: found.keys.sorted().map { found[$0]! })
    }

    /// What a capture needs to remember a repository's state (`GitStateCache`): the paths of
    /// the index and the untracked files, and whether it may be remembered at all.
    struct CacheEvidence {
        var files: [String] = []
        var cacheable = true
    }

    /// The configuration and ignore files libgit2 reads outside the repository, live: the
    /// user's and the system's configuration, the default ignore and attributes files and those
    /// `core.excludesFile`/`core.attributesFile` name; nil when one is named by a relative path.
    static func configurationFiles(_ repository: GitRepository, environment: [String: String]) -> [String]? {
        let home = environment["HOME"].map { $0 == "/" ? "" : $0 }
        let xdg = environment["XDG_CONFIG_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? home.map { $0 + "/.config" }
        var files = ["/etc/gitconfig"]
        if let home { files.append(home + "/.gitconfig") }
        if let xdg { files += ["config", "ignore", "attributes"].map { xdg + "/git/" + $0 } }
        for name in ["core.excludesfile", "core.attributesfile"] {
            guard let value = repository.configString(name) else { continue }
            if value.hasPrefix("/") {
                files.append(value)
            } else if value.hasPrefix("~/"), let home {
                files.append(home + value.dropFirst())
            } else {
                return nil
            }
        }
        return files
    }

    /// Reads one repository. Errors reading HEAD, the status or the diff fail the repository;
    /// others (a tag, describe, a remote, a submodule) are reported and the rest is kept.
    /// `evidence`, when given, is filled with what `GitStateCache` needs.
    func inspect(_ repository: GitRepository, path: String, report: ProbeReport,
                 excluded excludedHostPaths: [String] = [],
                 evidence: inout CacheEvidence?) throws(GitError) -> Repository {
        var result = Repository(path: path, detached: false, tags: [], remotes: [:], shallow: repository.isShallow,
                                worktree: repository.isWorktree, bare: repository.workdir == nil, submodules: [])
        let unborn = try repository.isHeadUnborn()
        var head: GitReference?
        if unborn {
            result.branch = try repository.unbornBranchName()
        } else {
            let reference = try repository.head()
            head = reference
            result.commit = try reference.commitID()
            result.detached = try repository.isHeadDetached()
            if !result.detached { result.branch = reference.shorthand }
        }

        if let commit = result.commit {
            do { result.tags = try repository.tags(pointingAt: commit) } catch { report.issue(path, "\(error)") }
        }
        if let head, head.isBranch {
            do {
                if let upstream = try head.upstream() {
                    var value = Upstream(name: upstream.shorthand)
                    if let counts = try repository.aheadBehind(local: head, upstream: upstream) {
                        value.ahead = counts.ahead
                        value.behind = counts.behind
                    }
                    result.upstream = value
                }
            } catch {
                report.issue(path, "\(error)")
            }
        }
        do {
            for remote in try repository.remotes() {
                switch remote.url {
                case .success(let url?): result.remotes[remote.name] = Secrets.maskURL(url)
                case .success(nil): break
                case .failure(let error): report.issue(path, "remote \(remote.name): \(error)")
                }
            }
        } catch {
            report.issue(path, "\(error)")
        }

        if let workdir = repository.workdir {
            // One pass over the working tree serves status and patch: HEAD → index and index →
            // working tree are what git_status_list_new and git_diff_tree_to_workdir_with_index
            // each compute; here they are computed once, sorted into the status lists, then merged
            // into the patch.
            let excluded = Exclusions(excludedHostPaths, workdir: workdir)
            if !excluded.isEmpty { try repository.addIgnoreRules(excluded.ignoreRules) }
            let index = try repository.index()
            // Submodules are looked for only where there can be some: the lookup reads the whole
            // HEAD tree.
            if exists(workdir + "/.gitmodules") || index.hasGitlinks {
                result.submodules = submodules(of: repository, path: path, report: report)
                evidence?.cacheable = false
            } else if evidence != nil {
                evidence?.files = index.entryPaths.paths
            }
            // HEAD → index is read only when the index's cache-tree does not say it holds HEAD's
            // tree (as git status does: most captures follow a commit or checkout, not a `git add`).
            let tree = try repository.headTree()
            let staged = tree.map(index.holdsExactly) == true ? nil : try repository.diffHeadToIndex(index, tree: tree)
            let unstaged = try repository.diffIndexToWorkdir(index)
            let unstagedDeltas = unstaged.deltas
            if evidence != nil {
                for delta in unstagedDeltas where delta.status == GIT_DELTA_UNTRACKED {
                    // A directory git did not descend into (a repository inside the tree).
                    if delta.path.hasSuffix("/") { evidence?.cacheable = false }
                    evidence?.files.append(delta.path)
                }
            }
            let status = GitProbe.status(staged: (staged?.deltas ?? []).filter { !excluded.contains($0.path) },
                                         unstaged: unstagedDeltas.filter { !excluded.contains($0.path) },
                                         dirtySubmodules: result.submodules.filter(\.dirty).map(\.path))
            result.status = status
            try staged?.merge(unstaged)
            result.diff = try diff(staged ?? unstaged, of: repository, excluded: excluded, report: report, reportPath: path)
            let dirty = status.staged.count + status.unstaged.count + status.conflicted.count > 0
            if result.commit != nil {
                do {
                    // `git describe --dirty`: dirty when tracked files differ from HEAD (untracked ones do not count).
                    result.describe = try repository.describeHead().map { dirty ? $0 + "-dirty" : $0 }
                } catch {
                    report.issue(path, "\(error)")
                }
            }
        } else {
            evidence?.cacheable = false
        }
        return result
    }

    /// The submodules `.gitmodules` and the index name, sorted by path; one that cannot be read is
    /// reported and left out.
    func submodules(of repository: GitRepository, path: String, report: ProbeReport) -> [Submodule] {
        var submodules: [Submodule] = []
        do {
            let dirtyBits = GIT_SUBMODULE_STATUS_WD_INDEX_MODIFIED.rawValue
                | GIT_SUBMODULE_STATUS_WD_WD_MODIFIED.rawValue | GIT_SUBMODULE_STATUS_WD_UNTRACKED.rawValue
            for name in try repository.submoduleNames() {
                do {
                    let submodule = try repository.submodule(named: name)
                    submodules.append(Submodule(
                        path: submodule.path, recordedCommit: submodule.recordedCommit,
                        checkedOutCommit: submodule.checkedOutCommit, dirty: try submodule.status() & dirtyBits != 0))
                } catch {
                    report.issue(path, "submodule \(name): \(error)")
                }
            }
        } catch {
            report.issue(path, "\(error)")
        }
        return submodules.sorted { $0.path < $1.path }
    }

    /// Sorts the changes into git status's lists. `staged` is HEAD → index, `unstaged` index →
    /// working tree (untracked files included); a path with a merge conflict is only conflicted.
    /// A type change (file ↔ symbolic link) comes as a deletion and an addition of one path: it
    /// is one unstaged change, as git status shows it. A submodule whose own tree is dirty is
    /// unstaged, as git status shows it, though the patch leaves it out.
    static func status(staged: [GitDiff.Delta], unstaged: [GitDiff.Delta], dirtySubmodules: [String]) -> Status {
        func path(_ delta: GitDiff.Delta) -> String { delta.newPath ?? delta.oldPath ?? "" }
        var conflicted = Set<String>()
        var stagedPaths = Set<String>()
        var changed = Set(dirtySubmodules)
        var added = Set<String>()
        for delta in staged {
            if delta.status == GIT_DELTA_CONFLICTED { conflicted.insert(path(delta)) } else { stagedPaths.insert(path(delta)) }
        }
        for delta in unstaged {
            switch delta.status {
            case GIT_DELTA_CONFLICTED: conflicted.insert(path(delta))
            case GIT_DELTA_UNTRACKED, GIT_DELTA_ADDED: added.insert(path(delta))
            default: changed.insert(path(delta))
            }
        }
        let untracked = added.subtracting(changed)
        return Status(staged: PathList(Array(stagedPaths.subtracting(conflicted))),
                      unstaged: PathList(Array(changed.subtracting(conflicted))),
                      untracked: PathList(Array(untracked.subtracting(conflicted))),
                      conflicted: PathList(Array(conflicted)))
    }

    /// The patch of HEAD → working tree, less the excluded paths, attached to the report: with every
    /// change if it fits in `diffMaxBytes` (untracked files over `untrackedMaxBytes` listed
    /// instead), else with the tracked changes only (every untracked file listed); else the
    /// changed files.
    func diff(_ diff: GitDiff, of repository: GitRepository, excluded: Exclusions = Exclusions(),
              report: ProbeReport? = nil, reportPath: String = "") throws(GitError) -> Diff {
        let all = diff.deltas
        var skipped = Set<Int>()
        var large: [Int] = []
        var untracked: [Int] = []
        for (index, delta) in all.enumerated() {
            if excluded.contains(delta.path) {
                skipped.insert(index)
            } else if delta.status == GIT_DELTA_UNTRACKED {
                let regular = delta.newMode == GIT_FILEMODE_BLOB.rawValue || delta.newMode == GIT_FILEMODE_BLOB_EXECUTABLE.rawValue
                if regular && delta.newSize > UInt64(GitProbe.untrackedMaxBytes) { large.append(index) } else { untracked.append(index) }
            }
        }
        var patch = try diff.patch(limit: diffMaxBytes, skipping: skipped.union(large))
        var omitted = large
        if patch == nil && !untracked.isEmpty {
            // Too large with the untracked files: the tracked changes come first.
            patch = try diff.patch(limit: diffMaxBytes, skipping: skipped.union(large).union(untracked))
            omitted += untracked
        }
        if let patch {
            let digest = Manifest.sha256(patch)
            if !patch.isEmpty { report?.attach(patch, as: digest) }
            var result = Diff(sha256: digest, sizeBytes: patch.count)
            if !omitted.isEmpty, let workdir = repository.workdir {
                let paths = omitted.map { all[$0].path }.sorted()
                result.untrackedOmitted = paths.prefix(GitProbe.maxListedPaths).map { path in
                    var file = UntrackedFile(path: path, sizeBytes: Int64(all.first { $0.path == path }?.newSize ?? 0))
                    do {
                        let (sha256, size) = try FileSHA256.sha256AndSize(path: workdir + "/" + path)
                        file.sha256 = "sha256:" + sha256
                        file.sizeBytes = size
                    } catch {
                        report?.issue(reportPath, "untracked \(path): \(error)")
                    }
                    return file
                }
                result.untrackedOmittedTruncated = paths.count > GitProbe.maxListedPaths
            }
            return result
        }
        var files: [ChangedFile] = []
        let deltas = all.enumerated().filter { !skipped.contains($0.offset) }.map(\.element).sorted { $0.path < $1.path }
        for delta in deltas.prefix(GitProbe.maxListedPaths) {
            let path = delta.path
            var file = ChangedFile(path: path, change: GitProbe.changeName(delta.status))
            if delta.status != GIT_DELTA_DELETED {
                if let id = delta.newID {
                    file.blob = id
                } else {
                    file.blob = try blobID(of: path, mode: delta.newMode, in: repository)
                }
            }
            files.append(file)
        }
        return Diff(omittedReason: "the patch is larger than \(diffMaxBytes) bytes (--diff-max-bytes)",
                    files: files, filesTruncated: deltas.count > GitProbe.maxListedPaths)
    }

    /// The blob id of a working-tree file: its filtered content, or a symbolic link's target.
    private func blobID(of path: String, mode: UInt32, in repository: GitRepository) throws(GitError) -> String? {
        if mode == GIT_FILEMODE_LINK.rawValue, let workdir = repository.workdir {
            var buffer = [CChar](repeating: 0, count: 4096)
            let count = readlink(workdir + "/" + path, &buffer, buffer.count)
            guard count >= 0 else { return nil }
            return try repository.hashBlob(buffer[0..<count].map { UInt8(bitPattern: $0) })
        }
        return try repository.hashWorkdirFile(path)
    }

    static func changeName(_ status: git_delta_t) -> String {
        switch status {
        case GIT_DELTA_ADDED: "added"
        case GIT_DELTA_DELETED: "deleted"
        case GIT_DELTA_MODIFIED: "modified"
        case GIT_DELTA_TYPECHANGE: "typechange"
        case GIT_DELTA_UNTRACKED: "untracked"
        case GIT_DELTA_CONFLICTED: "conflicted"
        case GIT_DELTA_UNREADABLE: "unreadable"
        case GIT_DELTA_RENAMED: "renamed"
        case GIT_DELTA_COPIED: "copied"
        default: "other"
        }
    }

    /// Whether `path` or a directory above it has a `.git` entry or looks like a bare repository
    /// (`HEAD` and `objects/`): where libgit2's search could find a repository. False means it
    /// would find none.
    static func mayBeInRepository(_ path: String, fs: RootedFileSystem) -> Bool {
        var directory = path
        while true {
            let prefix = directory == "/" ? "" : directory
            if fs.exists(prefix + "/.git") || (fs.exists(prefix + "/HEAD") && fs.isDirectory(prefix + "/objects")) {
                return true
            }
            if directory == "/" { return false }
            directory = parentDirectory(directory)
        }
    }

    /// The digests of the patches a finished git section refers to, in repository order: what
    /// the capture's writer takes from the probe's artifacts to write beside the manifest.
    public static func patchDigests(in section: Section?) -> [String] {
        guard let section, section.status == .ok || section.status == .partial,
              let repositories = section.data?["repositories"]?.arrayValue
        else { return [] }
        var digests: [String] = []
        for repository in repositories {
            if let digest = repository["diff"]?["sha256"]?.stringValue, repository["diff"]?["sizeBytes"] != 0,
               !digests.contains(digest)
            {
                digests.append(digest)
            }
        }
        return digests
    }

    /// The paths of the repositories a git section recorded (what `verify` captures again).
    public static func repositoryPaths(in section: JSONValue?) -> [String] {
        GitSection.decode(section?["data"])?.repositories.map(\.path) ?? []
    }
}

/// A repository that could not be read: its path and libgit2's error.
struct RepositoryFailure: Error, CustomStringConvertible {
    let path: String
    let error: GitError
    var description: String { "\(path): \(error)" }
}

/// Whether anything exists at a host path (`lstat`).
private func exists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

/// The machine path of a host path under `root` (unchanged when live or outside the root).
private func machinePath(_ path: String, root: String?) -> String {
    guard let root, path == root || path.hasPrefix(root + "/") else { return path }
    let rest = String(path.dropFirst(root.count))
    return rest.isEmpty ? "/" : rest
}

private func parentDirectory(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
    return String(path[..<slash])
}

/// `realpath(3)`: the absolute path with symbolic links resolved, as libgit2 reports paths.
private func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// The excluded paths inside one working tree, relative to it.
struct Exclusions {
    private var paths: [String] = []

    init() {}

    /// The paths of `hostPaths` (resolved, absolute) at or below `workdir`; one that is the
    /// working directory itself or above it is left out (it would hide the whole repository).
    init(_ hostPaths: [String], workdir: String) {
        let prefix = workdir.hasSuffix("/") ? workdir : workdir + "/"
        paths = hostPaths.compactMap { path in
            guard path.hasPrefix(prefix), path.count > prefix.count else { return nil }
            return String(path.dropFirst(prefix.count))
        }
    }

    var isEmpty: Bool { paths.isEmpty }

    /// Whether `path` (relative to the working directory) is excluded or inside an excluded
    /// directory.
    func contains(_ path: String) -> Bool {
        paths.contains { path == $0 || (path.hasPrefix($0) && path.utf8.dropFirst($0.utf8.count).first == UInt8(ascii: "/")) }
    }

    /// One anchored `.gitignore` rule per path, each character that has a meaning there escaped.
    var ignoreRules: String {
        // A name with a line break cannot be an ignore rule: it is only filtered out.
        paths.filter { !$0.contains(where: \.isNewline) }.map { path in
            "/" + path.map { "\\*?[]!# ".contains($0) ? "\\\($0)" : String($0) }.joined()
        }.joined(separator: "\n")
    }
}

extension GitDiff.Delta {
    /// The path git status and the patch show for this change.
    var path: String { newPath ?? oldPath ?? "" }
}

/// `path` made absolute and with symbolic links resolved as far as it exists (its last
/// components may not exist yet: a manifest about to be written).
private func resolvedPath(_ path: String) -> String {
    var absolute = path
    if !path.hasPrefix("/") {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        if getcwd(&buffer, buffer.count) != nil {
            absolute = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/" + path
        }
    }
    absolute = normalizePath(absolute)
    var head = absolute
    var tail: [String] = []
    while head != "/" {
        if let real = realPath(head) { return tail.isEmpty ? real : (real == "/" ? "" : real) + "/" + tail.reversed().joined(separator: "/") }
        tail.append(String(head[head.index(after: head.lastIndex(of: "/")!)...]))
        head = parentDirectory(head)
    }
    return absolute
}

extension GitSection.PathList {
    /// The sorted paths, cut at `GitProbe.maxListedPaths`.
    init(_ all: [String]) {
        let sorted = all.sorted()
        self.init(count: sorted.count, paths: Array(sorted.prefix(GitProbe.maxListedPaths)),
                  truncated: sorted.count > GitProbe.maxListedPaths)
    }
}
