import ProvenanceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Writes what probes read and ran (a `MachineAccessLog`) as a recorded machine in the format of
/// ../shared/FIXTURES.md, so that `provenance capture --root DIR` replays the capture:
///
/// - each file a probe read, at its absolute path, with the bytes the probe saw (a file read only
///   in part holds that part; a file a library read for the probe, libpci's sysfs attributes and
///   pci.ids, is copied whole);
/// - symbolic links on the way to those files as links with their targets (`/sys/bus/pci/devices/X`
///   → `../../../devices/…`), `/proc/self` as a directory;
/// - the directories a probe listed, with every entry: subdirectories and links as such, files
///   not read as empty placeholders, so a listing replays the same names;
/// - what a probe only looked up (exists, is a directory, a link's target) as that kind of node;
/// - the commands in `commands/commands.json` with their outputs and exit codes, a command that
///   timed out as `"hang": true`;
/// - the environment given (already filtered and masked by the caller) as `proc/self/environ`;
/// - `README.md`: what the recording holds and how it was made.
///
/// Secrets given are replaced by `[masked]` in every file and output, and the anonymizer's
/// values by their placeholders (paths: all but host names). Sizes are bounded: a file or output
/// larger than `maxFileBytes` is left out, and so is everything past `maxTotalBytes`; the README
/// lists what was left out. The directory is written under a temporary name and renamed at the
/// end: an interrupted recording leaves nothing at `directory`.
public struct MachineRecording: Sendable {
    public struct Options: Sendable {
        /// The largest file or command output kept (16 MiB: pci.ids is 1.3 MiB, a large dpkg
        /// status 5–10 MiB).
        public var maxFileBytes = 16 << 20
        /// The most bytes of files and outputs kept in all (256 MiB).
        public var maxTotalBytes = 256 << 20
        /// The environment to record as `proc/self/environ`, as it may be recorded (filtered and
        /// masked); nil: none.
        public var environment: [String: String]?
        /// Values that must never be written (the raw values the manifest masks): replaced by
        /// `[masked]` wherever they occur.
        public var secrets: [String] = []
        /// Replaces identifying values (`--anonymize`).
        public var anonymizer: Anonymizer?
        /// For the README: the version of provenance, when and how the recording was made, and
        /// what it leaves out.
        public var toolVersion = ProvenanceVersion.current
        public var createdAt = ""
        public var notes: [String] = []

        public init() {}
    }

    /// What was written.
    public struct Summary: Sendable, Equatable {
        public var files = 0
        public var placeholders = 0
        public var links = 0
        public var directories = 0
        public var commands = 0
        /// Bytes of files and command outputs written (the README and commands.json not counted).
        public var totalBytes = 0
        /// Machine paths (or commands) not recorded, with the reason.
        public var leftOut: [String] = []
    }

    public var options: Options

    public init(options: Options) { self.options = options }

    /// Writes the recording of `log` to `directory` (which must not exist), reading link targets,
    /// listings and library-read files from `source`, the machine the probes looked at.
    public func write(_ log: MachineAccessLog, from source: RootedFileSystem, to directory: String)
        throws(RecordingError) -> Summary
    {
        var plan = Plan(source: source)
        let contents = log.contents
        // The environment is written from `options.environment`, never copied.
        let environPaths: Set<String> = ["/proc/self/environ", "/proc/thread-self/environ"]
        for access in log.accesses.sorted(by: { ($0.path, $0.kind) < ($1.path, $1.kind) }) {
            let path = normalizePath(access.path)
            if environPaths.contains(path) { continue }
            if path == "/commands" || path.hasPrefix("/commands/") || path == "/README.md" {
                plan.leftOut.append("\(path): the recording's own name")
                continue
            }
            switch access.kind {
            case .read:
                guard let bytes = contents[access.path] else { continue }
                if let resolved = plan.walk(path, follow: true) { plan.setFile(resolved, bytes) }
            case .externalRead:
                guard let resolved = plan.walk(path, follow: true), plan.type(resolved) == .file else { continue }
                if case .file(_, false)? = plan.nodes[resolved] { continue }
                var reader = source
                reader.log = nil
                reader.maxFileBytes = options.maxFileBytes
                do {
                    if let bytes = try reader.readBytes(resolved) { plan.setFile(resolved, bytes) }
                } catch {
                    plan.leftOut.append("\(resolved): \(error.message)")
                }
            case .list:
                guard let resolved = plan.walk(path, follow: true), plan.type(resolved) == .directory else { continue }
                plan.setDirectory(resolved)
                var reader = source
                reader.log = nil
                for name in (try? reader.list(resolved)) ?? nil ?? [] {
                    plan.placeNode(resolved == "/" ? "/" + name : resolved + "/" + name)
                }
            case .exists:
                if let resolved = plan.walk(path, follow: false) { plan.placeNode(resolved) }
            case .isDirectory:
                if let resolved = plan.walk(path, follow: true), plan.type(resolved) == .directory {
                    plan.setDirectory(resolved)
                }
            case .readLink:
                _ = plan.walk(path, follow: false)
            }
        }

        let staging = directory + ".partial-\(getpid())"
        removeTree(staging)
        guard mkdir(staging, 0o755) == 0 else {
            throw RecordingError("\(directory): cannot create: \(String(cString: strerror(errno)).lowercased())")
        }
        var options = options
        options.secrets += log.secrets
        var writer = Writer(root: staging, options: options)
        do {
            try writer.write(plan)
            try writer.writeCommands(log.commands, resolved: log.resolved)
            if let environment = options.environment { try writer.writeEnvironment(environment) }
            try writer.writeReadme()
        } catch {
            removeTree(staging)
            throw error
        }
        guard rename(staging, directory) == 0 else {
            let message = String(cString: strerror(errno)).lowercased()
            removeTree(staging)
            throw RecordingError("\(directory): cannot create: \(message)")
        }
        return writer.summary
    }
}

/// A recording that could not be written.
public struct RecordingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Removes `.` and `..` components and repeated slashes from an absolute path (`..` never
/// climbs above `/`): by text alone, for paths of the machine being captured or recorded.
public func normalizePath(_ path: String) -> String {
    var parts: [Substring] = []
    for part in path.split(separator: "/", omittingEmptySubsequences: true) {
        if part == "." { continue }
        if part == ".." { _ = parts.popLast(); continue }
        parts.append(part)
    }
    return "/" + parts.joined(separator: "/")
}

/// The nodes a recording will hold, by machine path.
private struct Plan {
    enum Node: Equatable {
        case directory
        /// Bytes, and whether it is an empty placeholder for a file listed but not read.
        case file([UInt8], placeholder: Bool)
        case link(String)
    }

    enum NodeType { case directory, file, link, other }

    let source: RootedFileSystem
    var nodes: [String: Node] = [:]
    var leftOut: [String] = []

    init(source: RootedFileSystem) { self.source = source }

    /// What is at a machine path of the source, not following a final link.
    func type(_ path: String) -> NodeType? {
        var info = stat()
        guard lstat(source.hostPath(path), &info) == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .file
        case S_IFLNK: return .link
        default: return .other
        }
    }

    func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(source.hostPath(path), &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Resolves `path` on the source component by component as the kernel would, planning every
    /// directory and link met on the way; returns the path reached (the final link itself unless
    /// `follow`), or nil when a component does not exist.
    mutating func walk(_ path: String, follow: Bool) -> String? {
        var pending = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var current = ""
        var hops = 0
        while !pending.isEmpty {
            let name = pending.removeFirst()
            if name == "." { continue }
            if name == ".." {
                current = String(current[..<(current.lastIndex(of: "/") ?? current.startIndex)])
                continue
            }
            let candidate = current + "/" + name
            let isLast = pending.isEmpty
            // /proc/self is a link to this process's directory: recorded as a directory, as
            // recorded machines have it.
            if candidate == "/proc/self" || candidate == "/proc/thread-self" {
                setDirectory(candidate)
                current = candidate
                continue
            }
            guard let kind = type(candidate) else { return nil }
            switch kind {
            case .link:
                guard let target = linkTarget(candidate) else { return nil }
                if nodes[candidate] == nil { nodes[candidate] = .link(target) }
                if isLast && !follow { return candidate }
                hops += 1
                if hops > 40 { return nil }
                let parts = target.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
                if target.hasPrefix("/") { current = "" }
                pending = parts + pending
            case .directory:
                setDirectory(candidate)
                current = candidate
            case .file, .other:
                return isLast ? candidate : nil
            }
        }
        return current.isEmpty ? "/" : current
    }

    mutating func setDirectory(_ path: String) {
        if path == "/" { return }
        if nodes[path] == nil { nodes[path] = .directory }
    }

    mutating func setFile(_ path: String, _ bytes: [UInt8]) {
        switch nodes[path] {
        case .file(_, placeholder: false)?: return
        case nil, .file(_, placeholder: true)?: nodes[path] = .file(bytes, placeholder: false)
        default: leftOut.append("\(path): read as a file and met as a directory or link")
        }
    }

    /// An entry of a listed directory or a looked-up path: a directory or link as such, a file as
    /// an empty placeholder unless its content is recorded.
    mutating func placeNode(_ path: String) {
        guard nodes[path] == nil, let kind = type(path) else { return }
        switch kind {
        case .directory: nodes[path] = .directory
        case .link: if let target = linkTarget(path) { nodes[path] = .link(target) }
        case .file, .other: nodes[path] = .file([], placeholder: true)
        }
    }
}

/// Writes a plan under a staging directory.
private struct Writer {
    let root: String
    let options: MachineRecording.Options
    var summary = MachineRecording.Summary()
    let pathAnonymizer: Anonymizer?
    let secrets: [[UInt8]]

    init(root: String, options: MachineRecording.Options) {
        self.root = root
        self.options = options
        self.pathAnonymizer = options.anonymizer?.limited(to: Set(Anonymizer.Kind.allCases).subtracting([.hostName]))
        // Longest first, so a secret holding another is masked whole; very short values would
        // mask unrelated text and are not secrets worth the name.
        self.secrets = Set(options.secrets.filter { $0.utf8.count >= 4 }).map { Array($0.utf8) }
            .sorted { $0.count > $1.count }
    }

    /// Bytes as they may be written: secrets masked, identifying values replaced.
    func clean(_ bytes: [UInt8]) -> [UInt8] {
        var result = bytes
        for secret in secrets { result = replaceAll(result, secret, Array(Secrets.mask.utf8)) }
        if let anonymizer = options.anonymizer { result = anonymizer.apply(to: result) }
        return result
    }

    func clean(_ text: String) -> String { String(decoding: clean(Array(text.utf8)), as: UTF8.self) }

    func cleanPath(_ path: String) -> String {
        var result = path
        for secret in secrets {
            let text = String(decoding: secret, as: UTF8.self)
            if result.contains(text) { result = result.replacing(text, with: Secrets.mask) }
        }
        return pathAnonymizer?.apply(to: result) ?? result
    }

    /// Whether `count` more bytes fit the bounds; records why not.
    mutating func admit(_ count: Int, _ what: String) -> Bool {
        if count > options.maxFileBytes {
            summary.leftOut.append("\(what): \(count) bytes, over the \(options.maxFileBytes)-byte limit per file")
            return false
        }
        if summary.totalBytes + count > options.maxTotalBytes {
            summary.leftOut.append("\(what): \(count) bytes, over the \(options.maxTotalBytes)-byte limit in all")
            return false
        }
        summary.totalBytes += count
        return true
    }

    mutating func write(_ plan: Plan) throws(RecordingError) {
        summary.leftOut += plan.leftOut
        for (path, node) in plan.nodes.sorted(by: { $0.key < $1.key }) {
            let target = root + cleanPath(path)
            makeParents(target)
            switch node {
            case .directory:
                if mkdir(target, 0o755) == 0 { summary.directories += 1 }
            case .link(let destination):
                if symlink(cleanPath(destination), target) == 0 {
                    summary.links += 1
                } else {
                    summary.leftOut.append("\(path): link not written: \(String(cString: strerror(errno)).lowercased())")
                }
            case .file(let bytes, let placeholder):
                guard placeholder || admit(bytes.count, path) else { continue }
                try writeFile(target, placeholder ? [] : clean(bytes))
                if placeholder { summary.placeholders += 1 } else { summary.files += 1 }
            }
        }
    }

    /// `resolved`: where the probes' PATH lookups led (`CommandRunner.resolve`), by name.
    mutating func writeCommands(_ commands: [MachineAccessLog.Command], resolved: [String: String]) throws(RecordingError) {
        var seen: Set<[String]> = []
        var entries: [JSONValue] = []
        makeParents(root + "/commands/commands.json")
        mkdir(root + "/commands", 0o755)
        for command in commands where !command.argv.isEmpty && seen.insert(command.argv).inserted {
            var argv = command.argv
            let name = String(argv[0].split(separator: "/").last ?? "")
            if let hit = resolved[name] {
                // Where PATH led (a pyenv shim, a rustup proxy) even when the probe then ran what
                // it stands for: replay's `resolve` answers with the recorded argv[0].
                argv[0] = hit
            } else if !argv[0].hasPrefix("/"), let executable = command.result.executable, executable.hasPrefix("/") {
                // The path it ran from, so that replay resolves the command where it was.
                argv[0] = executable
            }
            argv = argv.map { clean($0) }
            argv[0] = cleanPath(argv[0])
            var entry: [String: JSONValue] = ["argv": .array(argv.map { .string($0) })]
            switch command.result.outcome {
            case .exited(let code): entry["exitCode"] = .int(Int64(code))
            case .signalled(let signal): entry["exitCode"] = .int(128 + Int64(signal))
            case .timedOut: entry["hang"] = true
            case .notFound: continue
            case .couldNotStart(let why):
                summary.leftOut.append("command \(argv.joined(separator: " ")): could not start (\(why))")
                continue
            }
            let stem = String(format3(entries.count + 1)) + "-" + fileSafe(argv[0].split(separator: "/").last.map(String.init) ?? "command")
            if case .timedOut = command.result.outcome {} else {
                for (key, bytes, suffix) in [("stdout", command.result.stdout, "out"), ("stderr", command.result.stderr, "err")]
                where !bytes.isEmpty {
                    guard admit(bytes.count, "\(key) of \(argv.joined(separator: " "))") else { continue }
                    let name = "\(stem).\(suffix)"
                    try writeFile(root + "/commands/" + name, clean(bytes))
                    entry[key] = .string(name)
                }
            }
            entries.append(.object(entry))
        }
        summary.commands = entries.count
        try writeFile(root + "/commands/commands.json", CanonicalJSON.pretty(.object(["commands": .array(entries)])))
    }

    mutating func writeEnvironment(_ environment: [String: String]) throws(RecordingError) {
        var bytes: [UInt8] = []
        for key in environment.keys.sorted() {
            bytes += Array("\(key)=\(environment[key]!)".utf8) + [0]
        }
        let target = root + "/proc/self/environ"
        makeParents(target)
        guard admit(bytes.count, "/proc/self/environ") else { return }
        try writeFile(target, clean(bytes))
        summary.files += 1
    }

    mutating func writeReadme() throws(RecordingError) {
        var lines = [
            "# A recorded machine, written by `provenance record`",
            "",
            "Made \(options.createdAt.isEmpty ? "(time not recorded)" : options.createdAt) by provenance \(options.toolVersion).",
            "Replay it with `provenance capture --root DIR` (format: Fixtures/README.md of provenance).",
            "",
            "## What it holds",
            "",
            "Only what the probes read and ran while recording, at the same absolute paths:",
            "",
            "- \(summary.files) files with the bytes the probes saw (a file read only in part holds that part),",
            "- \(summary.placeholders) empty placeholders: entries of directories the probes listed, or paths they only looked up, whose content they did not read,",
            "- \(summary.links) symbolic links with their targets, \(summary.directories) directories,",
            "- \(summary.commands) commands in `commands/commands.json` with their outputs and exit codes (a command that timed out: `\"hang\": true`),",
            "- \(summary.totalBytes) bytes of files and outputs in all (limits: \(options.maxFileBytes) per file, \(options.maxTotalBytes) in all).",
            "",
        ]
        if !options.notes.isEmpty {
            lines += ["## How it was made", ""] + options.notes.map { "- " + $0 } + [""]
        }
        if let anonymizer = options.anonymizer {
            let counts = anonymizer.counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key.rawValue)" }
            lines += ["## Anonymized", "",
                      "Identifying values were replaced by placeholders, the same value by the same placeholder everywhere: "
                          + (counts.isEmpty ? "none were found." : counts.joined(separator: ", ") + "."),
                      "The mapping is not stored.", ""]
        }
        if !summary.leftOut.isEmpty {
            lines += ["## Left out", ""] + summary.leftOut.sorted().map { "- " + clean($0) } + [""]
        }
        try writeFile(root + "/README.md", Array(lines.joined(separator: "\n").utf8))
    }

    /// Creates the directories above `path` (under the staging root) that do not exist yet.
    func makeParents(_ path: String) {
        var index = path.index(after: root.endIndex == path.endIndex ? path.startIndex : root.endIndex)
        while index < path.endIndex, let slash = path[index...].firstIndex(of: "/") {
            mkdir(String(path[..<slash]), 0o755)
            index = path.index(after: slash)
        }
    }

    func writeFile(_ path: String, _ bytes: [UInt8]) throws(RecordingError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw RecordingError("\(path): \(String(cString: strerror(errno)).lowercased())") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if count < 0 {
                if errno == EINTR { continue }
                throw RecordingError("\(path): \(String(cString: strerror(errno)).lowercased())")
            }
            offset += count
        }
    }
}

private func format3(_ number: Int) -> String {
    let text = String(number)
    return String(repeating: "0", count: max(0, 3 - text.count)) + text
}

/// A command name as a file name: letters, digits, `.`, `_`, `-` kept, anything else `_`.
private func fileSafe(_ name: String) -> String {
    let kept = name.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" }
    return String(kept.prefix(40))
}

/// `bytes` with every occurrence of `needle` replaced.
private func replaceAll(_ bytes: [UInt8], _ needle: [UInt8], _ replacement: [UInt8]) -> [UInt8] {
    guard !needle.isEmpty, bytes.count >= needle.count, let first = needle.first else { return bytes }
    var result: [UInt8] = []
    var index = 0
    var found = false
    while index < bytes.count {
        if bytes[index] == first, index + needle.count <= bytes.count,
           bytes[index..<(index + needle.count)].elementsEqual(needle)
        {
            result += replacement
            index += needle.count
            found = true
        } else {
            result.append(bytes[index])
            index += 1
        }
    }
    return found ? result : bytes
}

/// Removes a directory tree this process made (staging), not following links.
private func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if (info.st_mode & S_IFMT) == S_IFDIR {
        if let names = try? RootedFileSystem(root: path).list("/") {
            for name in names { removeTree(path + "/" + name) }
        }
        rmdir(path)
    } else {
        unlink(path)
    }
}
