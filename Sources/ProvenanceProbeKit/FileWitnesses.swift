/// What a probe's look at the live machine found, kept while it runs so that its section can be
/// remembered (`SectionCache`): for each path it read, listed or looked up, what `stat` (or
/// `lstat`) said at that moment or that nothing was there; where each command name it looked up
/// resolved; and, when something it did cannot be witnessed by file times, why.
///
/// The identities are taken before the content (`fstat` of the opened file or directory before
/// it is read), so a change while the probe reads shows as a different identity next time.
/// Thread-safe: a probe may use threads of its own.
public final class FileWitnesses: @unchecked Sendable {
    /// One look at a path: through links (`stat`, an open) or not (`lstat`); at its content (a
    /// read, a listing: any change of its `stat` counts) or only at what is there (whether it
    /// exists, is a directory, where a link points: the same file, directory or link is all that
    /// counts, so a directory on the way to a file, whose times change with every file made in
    /// it, does not make the section miss).
    public struct Look: Hashable, Sendable {
        public var path: String
        public var following: Bool
        public var content: Bool

        public init(path: String, following: Bool, content: Bool) {
            self.path = path
            self.following = following
            self.content = content
        }

        /// Whether `now` is what this look found (`then`): the same `stat` for a look at the
        /// content, the same file (device, inode, type) for the others; nothing, if nothing.
        public func holds(then: FileStat?, now: FileStat?) -> Bool {
            guard let then, let now else { return then == nil && now == nil }
            return content ? then == now : then.device == now.device && then.inode == now.inode && then.type == now.type
        }
    }

    private let mutex = Mutex()
    private var _looks: [(Look, FileStat?)] = []
    private var seen: [Look: FileStat?] = [:]
    private var _resolutions: [(String, String?)] = []
    private var resolved: [String: String?] = [:]
    private var _refusal: String?

    public init() {}

    /// The looks in the order first taken, each once.
    public var looks: [(look: Look, stat: FileStat?)] { mutex.withLock { _looks.map { ($0.0, $0.1) } } }
    /// The command names looked up, with where they resolved (nil: nowhere).
    public var resolutions: [(name: String, answer: String?)] { mutex.withLock { _resolutions.map { ($0.0, $0.1) } } }
    /// Why the section cannot be remembered, if it cannot.
    public var refusal: String? { mutex.withLock { _refusal } }

    /// Notes what a look at `path` (a machine path of the live machine) found. Kernel and
    /// device files (/proc, /sys, /dev) change without their times changing: a probe that reads
    /// them is never remembered. Two looks at one path that disagree mean it changed while the
    /// probe ran.
    public func note(_ path: String, following: Bool, content: Bool, _ stat: FileStat?) {
        let look = Look(path: path, following: following, content: content)
        mutex.withLock {
            if let earlier = seen[look] {
                if !look.holds(then: earlier, now: stat) { _refusal = _refusal ?? "\(path) changed while the probe read it" }
                return
            }
            seen[look] = stat
            _looks.append((look, stat))
            if Self.isKernelPath(path) { _refusal = _refusal ?? "reads \(path), whose times do not follow its content" }
        }
    }

    /// Notes where a command name resolved.
    public func noteResolution(_ name: String, _ answer: String?) {
        mutex.withLock {
            if let earlier = resolved[name] {
                if earlier != answer { _refusal = _refusal ?? "\(name) resolved to two executables" }
                return
            }
            resolved[name] = answer
            _resolutions.append((name, answer))
        }
    }

    /// Notes something the probe did that file times cannot witness (running a command).
    public func refuse(_ reason: String) {
        mutex.withLock { _refusal = _refusal ?? reason }
    }

    static func isKernelPath(_ path: String) -> Bool {
        for top in ["/proc", "/sys", "/dev"] where path == top || path.hasPrefix(top + "/") { return true }
        return false
    }
}

/// A command runner that tells `witnesses` where names resolve, and that a command was run
/// (its output is not witnessed by file times). A command that is not there is not run: that
/// it is missing is witnessed like any other look (the cuda probe tries `nvcc --version` where no
/// toolkit is installed).
public struct WitnessingCommandRunner: CommandRunner {
    public let inner: any CommandRunner
    public let witnesses: FileWitnesses

    public init(_ inner: any CommandRunner, witnesses: FileWitnesses) {
        self.inner = inner
        self.witnesses = witnesses
    }

    public func run(_ argv: [String], timeout: Double) -> CommandResult {
        let name = argv.first ?? ""
        if name.hasPrefix("/") {
            if FileStat(path: name, following: true) == nil {
                witnesses.note(name, following: true, content: false, nil)
                return inner.run(argv, timeout: timeout)
            }
        } else if !name.isEmpty, !name.contains("/"), resolve(name) == nil {
            return inner.run(argv, timeout: timeout)
        }
        witnesses.refuse("runs \(name.isEmpty ? "a command" : name)")
        return inner.run(argv, timeout: timeout)
    }

    public func resolve(_ name: String) -> String? {
        let answer = inner.resolve(name)
        witnesses.noteResolution(name, answer)
        return answer
    }
}
