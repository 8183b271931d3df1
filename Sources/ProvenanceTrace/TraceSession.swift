import ProvenanceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One traced job: the interposer to preload, the directory its segments go to, and the run
/// record's `trace` object after the job.
public struct TraceSession {
    public let library: String
    public let directory: String
    public var filter: TraceFilter

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The interposer: $PROVENANCE_TRACE_LIBRARY, else `libprovenance-trace.so` beside the
    /// executable (a build directory) or in `../lib/provenance/` of it (an installation).
    public static func locateLibrary(environment: [String: String]) throws(Failure) -> String {
        if let given = environment["PROVENANCE_TRACE_LIBRARY"], !given.isEmpty {
            guard access(given, R_OK) == 0 else { throw Failure(description: "PROVENANCE_TRACE_LIBRARY \(given) is not readable") }
            return given
        }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, Int(PATH_MAX))
        guard count > 0 else { throw Failure(description: "cannot find the provenance executable (/proc/self/exe)") }
        let executable = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let directory = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let candidates = [directory + "/libprovenance-trace.so", directory + "/../lib/provenance/libprovenance-trace.so"]
        for candidate in candidates where access(candidate, R_OK) == 0 { return candidate }
        throw Failure(description: "the trace library is not installed (looked for \(candidates.joined(separator: " and ")))")
    }

    /// Where the segment files go: /dev/shm (memory: creating a file and its first page there
    /// takes microseconds, against 10-25 ms measured on this machine's ext4 under load, paid
    /// by every process of the job), else the run directory.
    public static func segmentParent(runDirectory: String) -> String {
        var info = stat()
        if stat("/dev/shm", &info) == 0, info.st_mode & S_IFMT == S_IFDIR, access("/dev/shm", W_OK | X_OK) == 0 {
            return "/dev/shm"
        }
        return runDirectory
    }

    /// Makes a fresh trace directory inside `parent` (see `segmentParent`).
    public init(library: String, parent: String, filter: TraceFilter) throws(Failure) {
        var template = Array((parent + "/provenance-trace-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw Failure(description: "cannot create a trace directory in \(parent): \(String(cString: strerror(errno)))")
        }
        let directory = String(cString: made)
        // Absolute: the job may change directory.
        if directory.hasPrefix("/") {
            self.directory = directory
        } else {
            var cwd = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            self.directory = (getcwd(&cwd, cwd.count).map { String(cString: $0) } ?? "") + "/" + directory
        }
        self.library = library
        self.filter = filter
        self.filter.own.append(TracePath.normalise(Array(self.directory.utf8)))
    }

    /// What the job's environment gains: the interposer appended to `LD_PRELOAD` (after the
    /// job's own, `preload`) and `PROVENANCE_TRACE_DIR`.
    public func variables(preload: String?) -> [String: String] {
        let existing = preload.map { $0.isEmpty ? "" : $0 + ":" } ?? ""
        return ["LD_PRELOAD": existing + library, "PROVENANCE_TRACE_DIR": directory]
    }

    /// Reads the trace, removes its directory and returns the `trace` object, with the time spent
    /// digesting in `digestMs`. `command` is the job's argv[0].
    public func finish(command: String, environment: [String: String]) -> JSONValue {
        let (events, problems) = TraceReader.read(directory: directory)
        let program = TraceSession.resolve(command, path: environment["PATH"] ?? "/usr/bin:/bin")
        let (json, digestNanoseconds) = TraceSummary(filter: filter).record(
            events: events, command: program.map { Array($0.utf8) }, problems: problems)
        removeDirectory()
        guard case .object(var record) = json else { return json }
        record["digestMs"] = .int(Int64(digestNanoseconds / 1_000_000))
        return .object(record)
    }

    /// `command` as execvp finds it.
    static func resolve(_ command: String, path: String) -> String? {
        if command.contains("/") {
            if command.hasPrefix("/") { return command }
            var cwd = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            return getcwd(&cwd, cwd.count).map { String(cString: $0) + "/" + command }
        }
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + command
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    func removeDirectory() {
        if let dir = opendir(directory) {
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            for name in names { unlink(directory + "/" + name) }
        }
        rmdir(directory)
    }
}

