import CLibGit2Static
import Crypto
import ProvenanceCore
import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A repository's git state remembered between captures, with the file-system facts it was read
/// from, so that a capture of an unchanged repository neither opens it with libgit2 nor lists the
/// working tree: what git's untracked cache and index stat data do, kept in provenance's own cache
/// (`$XDG_CACHE_HOME/provenance/git-*.cache`, mode 0600: it holds the patch), never in the
/// repository.
///
/// Why: listing the working tree is most of the git probe (11.6 ms of CPU of the 20 in this
/// 1,770-file checkout, the same as `git status`: one `getdents64` pair per directory, ext4 hashing
/// every name), and loading libgit2 with its 16 libraries was 2.5 ms more (it is linked now).
/// Checking the facts below is one `lstat` per file and directory.
///
/// The facts (`Witness`), each with its `lstat` data (device, inode, size, modification and
/// status-change times in nanoseconds) or its absence:
/// - every file in the index and every untracked file (their content is in the status and patch);
/// - every directory git lists (those holding tracked or untracked files, their parents, and every
///   other one git does not ignore, such as an empty one), with its entry names: a directory
///   whose times changed is listed again and still holds when its names are the same (less what
///   the capture itself writes there), so a new file anywhere git looks, ignored or not, is seen;
/// - in the git directory: `HEAD`, the index, `config`, `packed-refs`, `shallow`, `info/*`, every
///   loose ref (branch, tags for describe, upstream), for a linked worktree the common directory
///   too;
/// - the configuration and ignore files git reads outside the repository (`~/.gitconfig`,
///   `~/.config/git/{config,ignore,attributes}`, `/etc/gitconfig`, `core.excludesFile`,
///   `core.attributesFile`).
///
/// What makes a repository never cached (it is read with libgit2 every time): submodules or a
/// nested repository (their state is in their own trees), a configuration file that includes
/// others (`include.path`), an untracked directory git does not descend into, a problem reported
/// while reading it, a filesystem whose times are not this machine's (only ext4, XFS, btrfs,
/// tmpfs, overlayfs, ZFS, F2FS and bcachefs are trusted: NFS, Lustre or GPFS times come from a
/// server's clock), and any fact that changed less than `racyMarginNanoseconds` (50 ms; 2 s for
/// whole-second times) before the capture began ("racy", as git calls it: a change made while
/// the capture reads could carry a time from just before it began).
///
/// The key (`key`) holds everything else the section depends on: provenance's version and
/// executable, the start path, the user, `--diff-max-bytes`, the excluded paths and the
/// environment variables git reads. A different key, a changed fact or a damaged file (SHA-256 of
/// the file at its end) means libgit2 reads the repository, and the cache is written anew.
struct GitStateCache {
    static let magic = Array("provenance-git-cache 1\n".utf8)
    /// Facts changed within this much before a capture began are not trusted (`FileStat.isRacy`).
    static let racyMarginNanoseconds = FileStat.racyMarginNanoseconds
    /// At most this many git caches are kept; the least recently written are removed beyond it.
    static let maxFiles = 64

    /// One file-system fact: what `lstat` said of a host path (nil: it did not exist), and for a
    /// directory its entry names, sorted by bytes.
    ///
    /// Read from a cache file, a file's path is its directory's (one string shared by the
    /// directory's files) and its name, and a directory's names stay encoded until they are
    /// needed (when its `lstat` changed): making a path and a list of names for each of this
    /// checkout's 2,450 witnesses, and freeing them, was a third of a remembered capture's git
    /// probe.
    struct Witness: Equatable, Sendable {
        var path: String {
            get {
                if let parent, let name { return parent + "/" + name }
                return wholePath
            }
            set {
                wholePath = newValue
                parent = nil
            }
        }
        var stat: FileStat?
        /// A directory's entry names, sorted by bytes; nil for anything else.
        var names: [[UInt8]]? {
            get { encodedNames.flatMap(Witness.decodeNames) ?? listedNames }
            set {
                listedNames = newValue
                encodedNames = nil
            }
        }
        /// Whether this is a directory's witness (it has `names`).
        var isDirectory: Bool { listedNames != nil || encodedNames != nil }
        /// Set when read from a cache file for a file in the directory of the witness before it:
        /// its name there (what `holds` looks up relative to that directory).
        var name: String?
        private var wholePath: String
        private var parent: String?
        private var listedNames: [[UInt8]]?
        /// A directory's names as a cache file holds them: their count, then each with its length.
        private var encodedNames: ArraySlice<UInt8>?

        init(path: String, stat: FileStat?, names: [[UInt8]]? = nil, name: String? = nil) {
            wholePath = path
            self.stat = stat
            listedNames = names
            self.name = name
        }

        /// A witness read from a cache file: a file named `name` in the directory at `parent`, or
        /// the whole path `path`.
        init(path: String, parent: String?, name: String?, stat: FileStat?, encodedNames: ArraySlice<UInt8>?) {
            wholePath = parent == nil ? path : ""
            self.parent = parent
            self.name = name
            self.stat = stat
            self.encodedNames = encodedNames
        }

        /// The names `encodedNames` holds; nil when they are not a whole list.
        static func decodeNames(_ encoded: ArraySlice<UInt8>) -> [[UInt8]]? {
            var reader = CacheFileReader(bytes: Array(encoded), at: 0, end: encoded.count)
            guard let count = reader.u32() else { return nil }
            var list: [[UInt8]] = []
            for _ in 0..<count {
                guard let name = reader.field() else { return nil }
                list.append(name)
            }
            return reader.at == reader.end ? list : nil
        }

        static func == (a: Witness, b: Witness) -> Bool { a.path == b.path && a.stat == b.stat && a.names == b.names }
    }

    /// What one cache file holds.
    struct Entry: Equatable {
        var key: String
        /// The repository's section entry, canonical JSON.
        var repository: [UInt8]
        /// The patch the entry's `diff.sha256` names (empty when none).
        var patch: [UInt8]
        /// Nil for a state seen once: remembered only to tell whether the next capture sees the
        /// same (`GitStateCache` type documentation).
        var witnesses: [Witness]?
    }

    /// What a cache file says of the repository now.
    enum Lookup {
        /// Unchanged: the remembered repository and patch.
        case hit(GitSection.Repository, patch: [UInt8])
        /// Read it again; `seen` is the remembered repository's canonical JSON when the file has
        /// this capture's key.
        case miss(seen: [UInt8]?)
    }

    /// The cache file.
    let path: String
    /// Everything the state depends on besides the witnesses.
    let key: String

    /// The cache of the repository found from `start` (an absolute host path) in `directory`.
    init(directory: String, start: String, key: String) {
        path = Self.path(directory: directory, start: start)
        self.key = key
    }

    /// The cache file of the repository found from `start`, for this user:
    /// `DIRECTORY/git-HEX32.cache`, the first 32 hex digits of the SHA-256 of the user id and `start`.
    static func path(directory: String, start: String) -> String {
        let digest = FileDigest(bytes: SHA256.hash(data: Array(("\(getuid())\u{0}" + start).utf8)))
        return directory + "/git-" + digest.hex.prefix(32) + ".cache"
    }

    /// The key of a capture: provenance's version and executable, the start path, the user,
    /// `--diff-max-bytes`, the excluded paths (sorted) and the environment variables git reads
    /// (`GIT_*`, `HOME`, `XDG_CONFIG_HOME`).
    ///
    /// The excluded paths count only inside the working directory (a manifest written outside
    /// the repository changes nothing), which is known only once the repository is found: `key`
    /// leaves them out, and `fullKey` adds the working directory and those inside it.
    static func key(start: String, diffMaxBytes: Int, environment: [String: String]) -> String {
        var parts = ["provenance \(ProvenanceVersion.current)", "git probe 1.0.0",
                     "executable " + (CommandCache.identity(of: "/proc/self/exe") ?? "?"),
                     "start " + start, "uid \(getuid())", "diff-max-bytes \(diffMaxBytes)"]
        parts += environment.keys.filter { $0.hasPrefix("GIT_") || $0 == "HOME" || $0 == "XDG_CONFIG_HOME" }.sorted()
            .map { "env \($0)=\(environment[$0]!)" }
        return parts.joined(separator: "\u{0}")
    }

    /// `key` with the working directory and the excluded paths inside it (`excluded`: absolute).
    func fullKey(workdir: String, excluded: [String]) -> String {
        let inside = excluded.filter { $0 == workdir || $0.hasPrefix(workdir + "/") }.sorted()
        return ([key, "workdir " + workdir] + inside.map { "excluded " + $0 }).joined(separator: "\u{0}")
    }

    /// The working directory a full key names.
    static func workdir(inKey key: String) -> String? {
        key.split(separator: "\u{0}", omittingEmptySubsequences: false).first { $0.hasPrefix("workdir ") }
            .map { String($0.dropFirst(8)) }
    }

    // MARK: - Reading

    /// A hit when the file exists, is whole, has this key and holds witnesses that all still hold.
    func lookup(excluded: [String]) -> Lookup {
        guard let bytes = try? RootedFileSystem().readBytes(path), let entry = Self.decode(bytes),
              let workdir = Self.workdir(inKey: entry.key), entry.key == fullKey(workdir: workdir, excluded: excluded)
        else { return .miss(seen: nil) }
        guard let witnesses = entry.witnesses, Self.holds(witnesses, excludedNames: Set(excluded)),
              let json = try? JSONParser.parse(entry.repository),
              let repository = try? JSONValueDecoder().decode(GitSection.Repository.self, from: json)
        else { return .miss(seen: entry.repository) }
        return .hit(repository, patch: entry.patch)
    }

    /// The canonical JSON a cache file keeps of a repository (what `Lookup.miss` compares).
    static func serialize(_ repository: GitSection.Repository) -> [UInt8]? {
        (try? JSONValueEncoder().encode(repository)).map(CanonicalJSON.serialize)
    }

    /// Whether every witness holds now: same `lstat` data (or still absent); a directory whose
    /// data changed still holds when it lists the same names.
    ///
    /// Witnesses come each directory before its files: the directory is opened once (`O_PATH`) and
    /// its files are looked up in it (`fstatat`), not each by its whole path (the kernel's path
    /// walk was most of the time: 18% of a cached capture's samples before).
    ///
    /// A long list is checked on two threads, each from a directory on (a file's `lstat` costs
    /// about 4 µs of kernel time on this project's machines: 10 ms for this checkout's 2,500).
    static func holds(_ witnesses: [Witness], excludedNames: Set<String>) -> Bool {
        let count = witnesses.count >= 1000 && availableCPUs() > 1 ? 2 : 1
        var bounds = [0]
        for part in 1..<count {
            var at = witnesses.count * part / count
            while at < witnesses.count && !witnesses[at].isDirectory { at += 1 }
            bounds.append(at)
        }
        bounds.append(witnesses.count)
        let parts = bounds
        final class Results: @unchecked Sendable {
            let mutex = Mutex()
            var failed = false
        }
        let results = Results()
        runParallel(count) { part in
            if !holdsInOrder(witnesses[parts[part]..<parts[part + 1]], excludedNames: excludedNames) {
                results.mutex.withLock { results.failed = true }
            }
        }
        return !results.mutex.withLock { results.failed }
    }

    /// `holds` on one thread.
    private static func holdsInOrder(_ witnesses: ArraySlice<Witness>, excludedNames: Set<String>) -> Bool {
        var directory = Int32(-1)
        defer { if directory >= 0 { close(directory) } }
        for index in witnesses.indices {
            let witness = witnesses[index]
            var now: FileStat?
            var info = stat()
            if witness.isDirectory {
                if directory >= 0 { close(directory) }
                directory = -1
                // Opened only when files of it follow: a third of this checkout's directories
                // hold only directories, and an open and close cost more than an `lstat`.
                let next = witnesses.index(after: index)
                if next < witnesses.endIndex, !witnesses[next].isDirectory, witnesses[next].name != nil {
                    directory = open(witness.path, pathOnly | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                }
                now = directory >= 0 && fstat(directory, &info) == 0
                    ? FileStat(info) : FileStat(path: witness.path, following: false)
            } else if directory >= 0, let name = witness.name {
                now = fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 ? FileStat(info) : nil
            } else {
                now = FileStat(path: witness.path, following: false)
            }
            if now == nil && witness.stat == nil { continue }
            guard let current = now else { return false }
            if let recorded = witness.stat, current == recorded, current.type == recorded.type { continue }
            guard let names = witness.names, current.type == UInt32(S_IFDIR),
                  directoryNames(witness.path, excluding: excludedNames) == names
            else { return false }
        }
        return true
    }

    // MARK: - Writing

    /// Writes the entry (temporary file, rename; not synced: a lost or damaged cache is only
    /// read again), then removes the oldest git caches beyond `maxFiles`. Failures are ignored.
    /// `repository` is `serialize`'s JSON; `witnesses` nil keeps a state seen once (no patch).
    func save(workdir: String, excluded: [String], repository: [UInt8], patch: [UInt8], witnesses: [Witness]?) {
        let bytes = Self.encode(Entry(key: fullKey(workdir: workdir, excluded: excluded), repository: repository,
                                      patch: witnesses == nil ? [] : patch, witnesses: witnesses))
        let (written, replaced) = writeCacheFile(bytes, to: path)
        if written && !replaced { Self.prune(String(path[..<path.lastIndex(of: "/")!])) }
    }

    /// Removes the least recently written `git-*.cache` files of `directory` beyond `maxFiles`.
    static func prune(_ directory: String) {
        pruneCacheFiles(in: directory, prefix: "git-", keep: maxFiles)
    }

    /// The witnesses of a repository just read, or nil when it is not to be cached (see the type's
    /// documentation). `files` are the index's and the untracked paths, relative to `workdir`;
    /// `isIgnored` is libgit2's answer for a directory path with a trailing `/`; `start` is where
    /// the repository was searched from; `began` is when the capture started reading it
    /// (`CLOCK_REALTIME`, nanoseconds).
    static func witnesses(workdir: String, gitDirectory: String, commonDirectory: String, start: String,
                          files: [String], excluded: Exclusions, excludedNames: Set<String>, configFiles: [String],
                          isIgnored: (String) -> Bool?, began: Int64,
                          racyMargin: Int64 = racyMarginNanoseconds) -> [Witness]? {
        // Started from inside the git directory: its own files would be listed as the tree's.
        guard FileStat.trustsTimes(of: workdir), start != gitDirectory, !start.hasPrefix(gitDirectory + "/") else { return nil }
        var witnesses: [Witness] = []
        // The git directories and the configuration first: what changes most often.
        var gitFiles = ["HEAD", "index", "config", "config.worktree", "shallow", "commondir", "gitdir",
                        "info/exclude", "info/attributes", "info/grafts", "objects/info/alternates"]
            .map { gitDirectory + "/" + $0 }
        if commonDirectory != gitDirectory {
            gitFiles += ["config", "packed-refs", "shallow", "info/exclude", "info/attributes", "info/grafts"]
                .map { commonDirectory + "/" + $0 }
        } else {
            gitFiles.append(gitDirectory + "/packed-refs")
        }
        for path in gitFiles + configFiles { witnesses.append(Witness(path: path, stat: FileStat(path: path, following: false))) }
        // Not the git directory itself: every git command changes its times (`index.lock`), and
        // what in it matters is witnessed above and here.
        for directory in Set([gitDirectory, commonDirectory]).sorted() {
            guard var refs = treeWitnesses(directory + "/refs") else { return nil }
            if FileStat(path: directory + "/refs", following: false) == nil { refs = [Witness(path: directory + "/refs", stat: nil)] }
            witnesses += refs
        }
        for path in [gitDirectory + "/config", gitDirectory + "/config.worktree", commonDirectory + "/config"] + configFiles {
            // A configuration that includes another would need that one watched too.
            if let bytes = try? RootedFileSystem().readBytes(path),
               String(decoding: bytes, as: UTF8.self).lowercased().contains("include") { return nil }
        }

        // The working tree: every directory holding a tracked or untracked file, and above it.
        var directories = Set([""])
        var filePaths: [String] = []
        for file in Set(files).sorted() where !excluded.contains(file) {
            var parent = file
            while let slash = parent.lastIndex(of: "/") {
                parent = String(parent[..<slash])
                if !directories.insert(parent).inserted { break }
            }
            filePaths.append(workdir + "/" + file)
        }
        // The files' `lstat`s on another thread while this one lists the directories (the two
        // halves of the work take about as long).
        let fileStats = Background { [filePaths] in filePaths.map { FileStat(path: $0, following: false) } }
        // The path from the start down to the working directory is searched for `.git`.
        if start.hasPrefix(workdir + "/") {
            var relative = String(start.dropFirst(workdir.count + 1))
            while !relative.isEmpty {
                directories.insert(relative)
                relative = relative.lastIndex(of: "/").map { String(relative[..<$0]) } ?? ""
            }
        }
        var queue = directories.sorted()
        var next = 0
        var directoryWitnesses: [Witness] = []
        while next < queue.count {
            let relative = queue[next]
            next += 1
            let path = relative.isEmpty ? workdir : workdir + "/" + relative
            guard let (stat, entries) = directoryStatAndEntries(path) else {
                let stat = FileStat(path: path, following: false)
                if stat?.type == UInt32(S_IFDIR) { return nil }  // a directory that cannot be listed
                directoryWitnesses.append(Witness(path: path, stat: stat))
                continue
            }
            for (name, isDirectory) in entries where isDirectory {
                let child = relative.isEmpty ? name : relative + "/" + name
                if directories.contains(child) || (relative.isEmpty && name == ".git") || excluded.contains(child) {
                    continue
                }
                // A repository inside the working tree: its state is its own.
                if name == ".git" { return nil }
                guard let ignored = isIgnored(child + "/") else { return nil }
                if ignored { continue }
                // A directory git lists though it reports nothing in it (empty, or ignored files only).
                directories.insert(child)
                queue.append(child)
            }
            let kept = entries.map(\.name).filter { !excludedNames.contains(path + "/" + $0) }
            directoryWitnesses.append(Witness(path: path, stat: stat, names: kept.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }))
        }
        // Each directory, then its files (what `holds` looks up relative to the directory).
        let fileWitnesses = zip(filePaths, fileStats.wait()).map { Witness(path: $0, stat: $1) }
        var filesByDirectory: [String: [Witness]] = [:]
        for file in fileWitnesses {
            filesByDirectory[String(file.path[..<file.path.lastIndex(of: "/")!]), default: []].append(file)
        }
        for directory in directoryWitnesses {
            witnesses.append(directory)
            witnesses += filesByDirectory.removeValue(forKey: directory.path) ?? []
        }
        witnesses += filesByDirectory.keys.sorted().flatMap { filesByDirectory[$0]! }
        if witnesses.contains(where: { $0.stat.map { $0.isRacy(began: began, margin: racyMargin) } ?? false }) {
            return nil
        }
        return witnesses
    }

    /// The directories (with names) and files below `path`, or [] when it does not exist; nil
    /// when one cannot be listed.
    private static func treeWitnesses(_ path: String) -> [Witness]? {
        guard let stat = FileStat(path: path, following: false) else { return [] }
        guard stat.type == UInt32(S_IFDIR) else { return [Witness(path: path, stat: stat)] }
        guard let entries = directoryEntries(path) else { return nil }
        var result = [Witness(path: path, stat: stat,
                              names: entries.map { Array($0.name.utf8) }.sorted { $0.lexicographicallyPrecedes($1) })]
        for (name, _) in entries {
            guard let below = treeWitnesses(path + "/" + name) else { return nil }
            result += below
        }
        return result
    }


    // MARK: - The file format

    /// The bytes of a cache file:
    ///
    ///     "provenance-git-cache 1\n"
    ///     u32 length, key | u32 length, repository JSON | u32 length, patch
    ///     u8 1 (witnesses follow) or 0 (a state seen once: nothing follows but the digest)
    ///     u32 count × { u8 kind (bits: 1 present, 2 directory, 4 a file of the directory before,
    ///                   given by its name), u32 length, path or name,
    ///                   present: u64 device, u64 inode, i64 size, i64 mtime ns, i64 ctime ns, u32 type,
    ///                   directory: u32 count × { u32 length, name } }
    ///     32 bytes: SHA-256 of everything before
    static func encode(_ entry: Entry) -> [UInt8] {
        var out = magic
        appendField(&out, entry.key.utf8)
        appendField(&out, entry.repository)
        appendField(&out, entry.patch)
        out.append(entry.witnesses == nil ? 0 : 1)
        if let witnesses = entry.witnesses { appendU32(&out, UInt32(witnesses.count)) }
        var directory: String?
        for witness in entry.witnesses ?? [] {
            var name: Substring?
            if !witness.isDirectory, let directory, let slash = witness.path.lastIndex(of: "/"),
               witness.path[..<slash] == directory
            {
                name = witness.path[witness.path.index(after: slash)...]
            }
            let present: UInt8 = witness.stat == nil ? 0 : 1
            out.append(present | (witness.isDirectory ? 2 : 0) | (name == nil ? 0 : 4))
            appendField(&out, (name ?? Substring(witness.path)).utf8)
            if witness.isDirectory { directory = witness.path }
            if let stat = witness.stat {
                appendFileStat(&out, stat)
                if let names = witness.names {
                    appendU32(&out, UInt32(names.count))
                    for name in names { appendField(&out, name) }
                }
            }
        }
        seal(&out)
        return out
    }

    /// The entry in `bytes`; nil when they are not a whole cache file of this version.
    static func decode(_ bytes: [UInt8]) -> Entry? {
        guard var reader = CacheFileReader.checked(bytes, magic: magic) else { return nil }
        guard let key = reader.field(), let repository = reader.field(), let patch = reader.field(),
              let complete = reader.u8(), complete <= 1
        else { return nil }
        if complete == 0 {
            guard reader.at == reader.end else { return nil }
            return Entry(key: String(decoding: key, as: UTF8.self), repository: repository, patch: patch,
                         witnesses: nil)
        }
        guard let count = reader.u32() else { return nil }
        var witnesses: [Witness] = []
        witnesses.reserveCapacity(Int(count))
        var directory: String?
        for _ in 0..<count {
            guard let kind = reader.u8(), kind < 8, kind & 6 != 6, let text = reader.text() else { return nil }
            var parent: String?
            if kind & 4 != 0 {
                guard let directory else { return nil }
                parent = directory
            }
            var stat: FileStat?
            if kind & 1 != 0 {
                guard let read = reader.fileStat() else { return nil }
                stat = read
            }
            var encodedNames: ArraySlice<UInt8>?
            if kind & 2 != 0 {
                // The list is checked whole here and read when needed (`Witness.names`).
                let start = reader.at
                guard kind & 1 != 0, let names = reader.u32() else { return nil }
                for _ in 0..<names {
                    guard reader.skipField() else { return nil }
                }
                encodedNames = bytes[start..<reader.at]
            }
            let witness = Witness(path: text, parent: parent, name: parent == nil ? nil : text, stat: stat,
                                  encodedNames: encodedNames)
            if encodedNames != nil { directory = witness.path }
            witnesses.append(witness)
        }
        guard reader.at == reader.end else { return nil }
        return Entry(key: String(decoding: key, as: UTF8.self), repository: repository, patch: patch,
                     witnesses: witnesses)
    }

}

/// A value computed on its own thread, started at once; `wait()` returns it.
private final class Background<R: Sendable>: @unchecked Sendable {
    private let mutex = Mutex()
    private var result: R?

    init(_ body: @escaping @Sendable () -> R) {
        startDetachedThread {
            let value = body()
            self.mutex.withLock {
                self.result = value
                self.mutex.broadcast()
            }
        }
    }

    func wait() -> R {
        mutex.withLock {
            while result == nil { mutex.wait(until: monotonicSeconds() + 1) }
            return result!
        }
    }
}

/// The entry names of a directory, less `.`/`..` and the capture's own outputs (absolute host
/// paths in `excludedNames`), sorted by bytes;
/// nil when it cannot be listed.
private func directoryNames(_ path: String, excluding excludedNames: Set<String>) -> [[UInt8]]? {
    guard let entries = directoryEntries(path) else { return nil }
    return entries.map(\.name).filter { !excludedNames.contains(path + "/" + $0) }.map { Array($0.utf8) }
        .sorted { $0.lexicographicallyPrecedes($1) }
}

/// The entries of a directory (less `.` and `..`) and whether each is a directory (`d_type`,
/// `lstat` where the filesystem does not say); nil when it cannot be listed.
private func directoryEntries(_ path: String) -> [(name: String, isDirectory: Bool)]? {
    directoryStatAndEntries(path)?.entries
}

/// A directory's `fstat` and `directoryEntries`, from one `open`; nil when `path` is not a
/// directory that can be listed.
private func directoryStatAndEntries(_ path: String) -> (stat: FileStat, entries: [(name: String, isDirectory: Bool)])? {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    var info = stat()
    guard fstat(fd, &info) == 0, let handle = fdopendir(fd) else {
        close(fd)
        return nil
    }
    defer { closedir(handle) }
    var entries: [(String, Bool)] = []
    while let entry = readdir(handle) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name == "." || name == ".." { continue }
        var isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
        if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
            isDirectory = FileStat(path: path + "/" + name, following: false)?.type == UInt32(S_IFDIR)
        }
        entries.append((name, isDirectory))
    }
    return (FileStat(info), entries)
}

/// `O_PATH` (Linux; not exported by Swift's Glibc module): a directory opened only to look names up in it.
private let pathOnly: Int32 = 0o10000000
