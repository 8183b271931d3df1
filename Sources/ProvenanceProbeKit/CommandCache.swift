import ProvenanceCore

#if canImport(Glibc)
import Glibc
#endif

/// Remembers what version commands printed, keyed by the executable's identity (device, inode,
/// size, modification and change times in nanoseconds), so a pre-run hook does not start a JVM
/// or a compiler driver before every job. Any change of the executable invalidates its entries.
/// Probes may keep other derived values in it the same way (`value(for:identity:)`): the pci
/// probe keeps the names of the devices it found, keyed by the identities of the ID databases.
/// Live machines only; stored as JSON in `$XDG_CACHE_HOME/provenance/commands-v1.json`
/// (`~/.cache/...`), written atomically; an unreadable or corrupt cache is ignored.
public final class CommandCache: @unchecked Sendable {
    private let path: String?
    private let mutex = Mutex()
    private var entries: [String: JSONValue] = [:]
    private var dirty = false

    /// The cache of this user, or a disabled one when no cache directory can be found.
    public init(environment: [String: String]) {
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            path = xdg + "/provenance/commands-v1.json"
        } else if let home = environment["HOME"], home.hasPrefix("/") {
            path = home + "/.cache/provenance/commands-v1.json"
        } else {
            path = nil
        }
        if let path, let bytes = try? RootedFileSystem().readBytes(path), let document = try? JSONParser.parse(bytes),
           let object = document.objectValue
        {
            entries = object
        }
    }

    /// The identity of an executable: `dev:ino:size:mtime_ns:ctime_ns` of the file it resolves to.
    public static func identity(of executable: String) -> String? {
        var info = stat()
        guard stat(executable, &info) == 0 else { return nil }
        return "\(info.st_dev):\(info.st_ino):\(info.st_size):"
            + "\(info.st_mtim.tv_sec * 1_000_000_000 + info.st_mtim.tv_nsec):"
            + "\(info.st_ctim.tv_sec * 1_000_000_000 + info.st_ctim.tv_nsec)"
    }

    /// Runs `argv` (whose `argv[0]` is an absolute executable) through the cache.
    public func run(_ argv: [String], executable: String, using run: () -> CommandResult) -> CommandResult {
        guard let identity = Self.identity(of: executable) else { return run() }
        let key = argv.joined(separator: "\u{1F}")
        if let cached = cachedResult(key: key, identity: identity, executable: executable) { return cached }
        let result = run()
        if case .exited(let code) = result.outcome {
            mutex.withLock {
                entries[key] = ["identity": .string(identity), "exitCode": .int(Int64(code)),
                                "stdout": .string(String(result.stdoutText.prefix(4096))),
                                "stderr": .string(String(result.stderrText.prefix(4096)))]
                dirty = true
            }
        }
        return result
    }

    /// What `run` would answer from the cache for `argv`, without running anything; nil when the
    /// cache has no answer for the executable as it is now.
    public func cachedResult(_ argv: [String], executable: String) -> CommandResult? {
        guard let identity = Self.identity(of: executable) else { return nil }
        return cachedResult(key: argv.joined(separator: "\u{1F}"), identity: identity, executable: executable)
    }

    private func cachedResult(key: String, identity: String, executable: String) -> CommandResult? {
        guard let entry = mutex.withLock({ entries[key] }), entry["identity"]?.stringValue == identity,
              let code = entry["exitCode"]?.intValue
        else { return nil }
        return CommandResult(outcome: .exited(Int32(truncatingIfNeeded: code)),
                             stdout: Array((entry["stdout"]?.stringValue ?? "").utf8),
                             stderr: Array((entry["stderr"]?.stringValue ?? "").utf8), executable: executable)
    }

    /// A value remembered under `key` (not an absolute path: those key commands) while
    /// `identity`, the identities of the files it was derived from, is unchanged; nil otherwise.
    public func value(for key: String, identity: String) -> JSONValue? {
        guard let entry = mutex.withLock({ entries[key] }), entry["identity"]?.stringValue == identity else { return nil }
        return entry["value"]
    }

    /// Remembers `value` under `key` for files whose identities are `identity`.
    public func remember(_ value: JSONValue, for key: String, identity: String) {
        mutex.withLock {
            entries[key] = ["identity": .string(identity), "value": value]
            dirty = true
        }
    }

    /// Writes the cache back if it changed.
    public func save() {
        guard let path else { return }
        let snapshot: [String: JSONValue]? = mutex.withLock { dirty ? entries : nil }
        guard let snapshot else { return }
        try? AtomicFile.write(CanonicalJSON.serialize(.object(snapshot)), to: path)
    }
}
