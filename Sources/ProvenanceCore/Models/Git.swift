public struct GitSection: SectionModel {
    public static let sectionID = "git"

    /// One entry per repository, sorted by path.
    public var repositories: [Repository]

    public init(repositories: [Repository]) {
        self.repositories = repositories
    }

    public struct Repository: Codable, Equatable, Sendable {
        /// The working directory (machine path); the git directory of a bare repository.
        public var path: String
        /// HEAD's commit id (40 hex digits); absent on a branch with no commit yet.
        public var commit: String?
        /// The branch HEAD is on (also when it has no commit yet); absent when detached.
        public var branch: String?
        /// Whether HEAD is detached (checked out at a commit, not a branch).
        public var detached: Bool
        /// Tags whose commit is HEAD's, sorted.
        public var tags: [String]
        /// `git describe --tags --dirty`; absent when no tag is reachable from HEAD.
        public var describe: String?
        /// The branch's upstream and how far HEAD is from it.
        public var upstream: Upstream?
        /// Remote name → fetch URL, credentials and tokens masked.
        public var remotes: [String: String]
        /// Whether the clone is shallow (history cut off).
        public var shallow: Bool
        /// Whether this is a linked worktree (`git worktree add`).
        public var worktree: Bool
        /// Whether the repository has no working tree.
        public var bare: Bool
        /// Submodules, sorted by path.
        public var submodules: [Submodule]
        /// Uncommitted state (absent for a bare repository).
        public var status: Status?
        /// The patch of uncommitted changes (absent for a bare repository).
        public var diff: Diff?

        public init(path: String, commit: String? = nil, branch: String? = nil, detached: Bool, tags: [String], describe: String? = nil, upstream: Upstream? = nil, remotes: [String: String], shallow: Bool, worktree: Bool, bare: Bool, submodules: [Submodule], status: Status? = nil, diff: Diff? = nil) {
            self.path = path
            self.commit = commit
            self.branch = branch
            self.detached = detached
            self.tags = tags
            self.describe = describe
            self.upstream = upstream
            self.remotes = remotes
            self.shallow = shallow
            self.worktree = worktree
            self.bare = bare
            self.submodules = submodules
            self.status = status
            self.diff = diff
        }
    }

    public struct Upstream: Codable, Equatable, Sendable {
        /// The upstream branch, e.g. `origin/main`.
        public var name: String
        /// Commits on HEAD not on the upstream.
        public var ahead: Int?
        /// Commits on the upstream not on HEAD.
        public var behind: Int?

        public init(name: String, ahead: Int? = nil, behind: Int? = nil) {
            self.name = name
            self.ahead = ahead
            self.behind = behind
        }
    }

    public struct Submodule: Codable, Equatable, Sendable {
        public var path: String
        /// The commit the superproject's HEAD records.
        public var recordedCommit: String?
        /// The commit checked out in the submodule; absent when it is not checked out.
        public var checkedOutCommit: String?
        /// Whether the submodule's own working tree or index has changes or untracked files.
        public var dirty: Bool

        public init(path: String, recordedCommit: String? = nil, checkedOutCommit: String? = nil, dirty: Bool) {
            self.path = path
            self.recordedCommit = recordedCommit
            self.checkedOutCommit = checkedOutCommit
            self.dirty = dirty
        }
    }

    /// What `git status` shows, in four lists. A path can be both staged and unstaged.
    public struct Status: Codable, Equatable, Sendable {
        /// Changes between HEAD and the index.
        public var staged: PathList
        /// Changes between the index and the working tree (tracked files).
        public var unstaged: PathList
        /// Files git does not track and does not ignore, one by one.
        public var untracked: PathList
        /// Paths with merge conflicts.
        public var conflicted: PathList

        public init(staged: PathList, unstaged: PathList, untracked: PathList, conflicted: PathList) {
            self.staged = staged
            self.unstaged = unstaged
            self.untracked = untracked
            self.conflicted = conflicted
        }
    }

    /// A count and the first paths, sorted.
    public struct PathList: Codable, Equatable, Sendable {
        public var count: Int
        /// Sorted; at most `GitProbe.maxListedPaths`.
        public var paths: [String]
        /// Whether `paths` was cut at `GitProbe.maxListedPaths`.
        public var truncated: Bool

        public init(count: Int, paths: [String], truncated: Bool) {
            self.count = count
            self.paths = paths
            self.truncated = truncated
        }
    }

    /// The patch HEAD → working tree, or why it was not kept and what changed instead.
    public struct Diff: Codable, Equatable, Sendable {
        /// `sha256:` digest of the patch bytes; the manifest's `attachments` says where they are.
        public var sha256: String?
        public var sizeBytes: Int?
        /// Why the patch was not kept.
        public var omittedReason: String?
        /// When the patch was not kept: every changed file, sorted by path (at most
        /// `GitProbe.maxListedPaths`).
        public var files: [ChangedFile]?
        public var filesTruncated: Bool?
        /// When the patch was kept: the untracked files left out of it (larger than
        /// `GitProbe.untrackedMaxBytes`, or all of them when with them the patch would pass
        /// `diffMaxBytes`), sorted by path (at most `maxListedPaths`); absent when none.
        public var untrackedOmitted: [UntrackedFile]?
        public var untrackedOmittedTruncated: Bool?

        public init(sha256: String? = nil, sizeBytes: Int? = nil, omittedReason: String? = nil, files: [ChangedFile]? = nil, filesTruncated: Bool? = nil) {
            self.sha256 = sha256
            self.sizeBytes = sizeBytes
            self.omittedReason = omittedReason
            self.files = files
            self.filesTruncated = filesTruncated
        }
    }

    /// An untracked file left out of the patch.
    public struct UntrackedFile: Codable, Equatable, Sendable {
        public var path: String
        public var sizeBytes: Int64
        /// `sha256:` digest of the content; absent when it could not be read (reported).
        public var sha256: String?

        public init(path: String, sizeBytes: Int64, sha256: String? = nil) {
            self.path = path
            self.sizeBytes = sizeBytes
            self.sha256 = sha256
        }
    }

    public struct ChangedFile: Codable, Equatable, Sendable {
        public var path: String
        /// `added`, `deleted`, `modified`, `typechange`, `untracked`, `conflicted`, `unreadable`.
        public var change: String
        /// The git blob id of the working-tree content (`git hash-object`); absent when deleted.
        public var blob: String?

        public init(path: String, change: String, blob: String? = nil) {
            self.path = path
            self.change = change
            self.blob = blob
        }
    }
}

extension GitSection {
    public static var listIdentities: [String: String] { ["repositories": "path", "repositories[].submodules": "path", "repositories[].diff.files": "path"] }

    public var summary: String {
        repositories.map(\.summary).joined(separator: "; ")
    }
}

extension GitSection.Repository {
    /// Whether anything is uncommitted: staged, unstaged, untracked or conflicted paths.
    public var isDirty: Bool? {
        guard let status else { return nil }
        return status.staged.count + status.unstaged.count + status.untracked.count + status.conflicted.count > 0
    }

    /// "repo at 1a2b3c4 (main), dirty".
    public var summary: String {
        var text = path
        if let commit { text += " at \(commit.prefix(12))" }
        if let branch { text += " (\(branch))" }
        if let dirty = isDirty { text += dirty ? ", dirty" : ", clean" }
        return text
    }
}
