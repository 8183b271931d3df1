import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceProbes

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Turns a job's trace into the run record's `trace` object: what it read, wrote and executed.
///
/// - **inputs**: regular files whose first traced access was a read (the job did not write them
///   first), with size and SHA-256 after the job, and `changedDuringRun` when their identity
///   (device, inode, size, mtime, ctime) at the end differs from the one at the first open, or
///   `missing` when they are gone.
/// - **outputs**: regular files the job opened for writing, created, truncated or renamed into
///   place, that exist after it, with size and SHA-256. Written files that are gone at the end
///   (temporaries removed or renamed away) are counted in `temporaryFiles`.
/// - **programs**: each program executed, with SHA-256, and `untraced` with the reason when the
///   tracer could not follow it (statically linked, environment without the preload).
/// - **processes**: the process tree (pid, parent, programs run in it).
/// - **excluded**: files in summarised trees, counted per tree.
public struct TraceSummary {
    public var filter: TraceFilter

    public init(filter: TraceFilter) { self.filter = filter }

    final class FileState {
        var firstRead: FileIdentity?
        var firstAccessIsRead = false
        var written = false
        var seen = false
    }

    /// The record for `events`; `problems` (from reading the trace) are kept in it.
    /// `digestNanoseconds` is the time spent digesting files after the job.
    /// `command` is the program provenance started (resolved in PATH): the interposer only sees
    /// the programs started after it.
    public func record(events: [TraceEvent], command: [UInt8]? = nil, problems: [String] = [])
        -> (json: JSONValue, digestNanoseconds: UInt64) {
        var files: [[UInt8]: FileState] = [:]
        var order: [[UInt8]] = []
        var excluded: [String: Set<[UInt8]>] = [:]
        var notRegular = Set<[UInt8]>()
        func state(_ path: [UInt8]) -> FileState? {
            if let tree = filter.tree(of: path) {
                excluded[tree, default: []].insert(path)
                return nil
            }
            if let existing = files[path] { return existing }
            let created = FileState()
            files[path] = created
            order.append(path)
            return created
        }

        // Processes and programs.
        struct Process { var parent: Int32 = 0; var programs: [[UInt8]] = []; var traced = false; var first: UInt64 }
        var processes: [Int32: Process] = [:]
        var execs: [(pid: Int32, path: [UInt8], flags: UInt32)] = []
        if let command { execs.append((0, TracePath.normalise(command), 0)) }

        for event in events {
            let path = TracePath.normalise(event.path)
            switch event.kind {
            case .open:
                if event.identity.known && !event.identity.isRegularFile {
                    if filter.tree(of: path) == nil { notRegular.insert(path) }
                    continue
                }
                guard let file = state(path) else { continue }
                if !file.seen {
                    file.seen = true
                    file.firstAccessIsRead = event.reads && event.flags & UInt32(O_TRUNC) == 0
                }
                if event.reads && file.firstRead == nil && file.firstAccessIsRead && !file.written {
                    file.firstRead = event.identity
                }
                if event.writes { file.written = true }
            case .rename:
                let target = TracePath.normalise(event.path2)
                if let source = files[path], !source.seen { source.seen = true }
                if let file = state(target) {
                    if !file.seen { file.seen = true }
                    file.written = true
                }
            case .unlink:
                if let file = state(path), !file.seen { file.seen = true }
            case .exec:
                execs.append((event.pid, path, event.flags))
                processes[event.pid, default: Process(first: event.timeNanoseconds)].programs.append(path)
            case .execFailed:
                if let index = execs.lastIndex(where: { $0.pid == event.pid && $0.path == path }) { execs.remove(at: index) }
                if var process = processes[event.pid], let index = process.programs.lastIndex(of: path) {
                    process.programs.remove(at: index)
                    processes[event.pid] = process
                }
            case .start:
                var process = processes[event.pid, default: Process(first: event.timeNanoseconds)]
                process.parent = event.parent
                process.traced = true
                if process.programs.isEmpty { process.programs.append(path) }
                processes[event.pid] = process
            }
        }

        // Digests, after the job.
        let started = monotonicNanoseconds()
        var inputs: [JSONValue] = []
        var outputs: [JSONValue] = []
        var temporaries = 0
        for path in order.sorted(by: { DatasetListing.compare($0, $1) < 0 }) {
            guard let file = files[path], file.seen else { continue }
            let now = Self.stat(path)
            if let now, !now.isRegularFile { continue }
            if file.firstAccessIsRead {
                let identity = file.firstRead ?? FileIdentity()
                var entry = Self.pathFields(path)
                if let now {
                    entry.merge(Self.digestFields(path)) { $1 }
                    if identity.known && !identity.sameVersion(as: now) { entry["changedDuringRun"] = true }
                } else {
                    entry["missing"] = true
                    if identity.known { entry["sizeBytesAtOpen"] = .int(identity.size) }
                }
                inputs.append(.object(entry))
            }
            if file.written {
                if now != nil {
                    var entry = Self.pathFields(path)
                    entry.merge(Self.digestFields(path)) { $1 }
                    outputs.append(.object(entry))
                } else if !file.firstAccessIsRead {
                    temporaries += 1
                }
            }
        }

        // Programs: each distinct path once, untraced when the tracer could not follow it.
        var programs: [[UInt8]: String?] = [:]
        for exec in execs {
            var reason: String? = Self.untracedReason(exec.path)
            if reason == nil, exec.flags & TraceEvent.execNoPreload != 0 {
                reason = "started with an environment without LD_PRELOAD"
            }
            if let existing = programs[exec.path], existing == nil { continue }
            programs[exec.path] = reason
        }
        var programList: [JSONValue] = []
        var untraced: [JSONValue] = []
        for (path, reason) in programs.sorted(by: { DatasetListing.compare($0.key, $1.key) < 0 }) {
            var entry = Self.pathFields(path)
            entry.merge(Self.digestFields(path)) { $1 }
            if let reason {
                entry["untraced"] = .string(reason)
                var item = Self.pathFields(path)
                item["reason"] = .string(reason)
                untraced.append(.object(item))
            }
            programList.append(.object(entry))
        }
        let digestNanoseconds = monotonicNanoseconds() - started

        let processList: [JSONValue] = processes.sorted { ($0.value.first, $0.key) < ($1.value.first, $1.key) }.map {
            var entry: [String: JSONValue] = ["pid": .int(Int64($0.key)), "programs": .array($0.value.programs.map { Self.text($0) })]
            if $0.value.parent != 0 { entry["parentPid"] = .int(Int64($0.value.parent)) }
            if !$0.value.traced { entry["traced"] = false }
            return .object(entry)
        }
        var excludedList: [JSONValue] = excluded.sorted { $0.key < $1.key }.map {
            ["tree": .string($0.key), "files": .int(Int64($0.value.count))]
        }
        if !notRegular.isEmpty {
            excludedList.append(["tree": "directories, devices and pipes opened", "files": .int(Int64(notRegular.count))])
        }
        var record: [String: JSONValue] = [
            "inputs": .array(inputs),
            "outputs": .array(outputs),
            "programs": .array(programList),
            "untraced": .array(untraced),
            "processes": .array(processList),
            "excluded": .array(excludedList),
            "temporaryFiles": .int(Int64(temporaries)),
            "events": .int(Int64(events.count)),
            "limits": "not seen: statically linked programs (listed as untraced), raw system calls, files opened by the dynamic loader",
        ]
        if !problems.isEmpty { record["problems"] = .array(problems.map { .string($0) }) }
        return (.object(record), digestNanoseconds)
    }

    static func text(_ path: [UInt8]) -> JSONValue { .string(DatasetListing.jsonPath(path).text) }

    static func pathFields(_ path: [UInt8]) -> [String: JSONValue] {
        let (text, base64) = DatasetListing.jsonPath(path)
        var fields: [String: JSONValue] = ["path": .string(text)]
        if let base64 { fields["pathBytes"] = .string(base64) }
        return fields
    }

    static func digestFields(_ path: [UInt8]) -> [String: JSONValue] {
        do {
            let (digest, bytes) = try FileSHA256.sha256AndSize(pathBytes: path)
            return ["sha256": .string("sha256:" + digest), "sizeBytes": .int(bytes)]
        } catch {
            return error.missing ? ["missing": true] : ["error": .string(error.description)]
        }
    }

    static func stat(_ path: [UInt8]) -> FileIdentity? {
        var info = Glibc.stat()
        let result = TracePath.withCString(path) { lstatFollowing($0, &info) }
        return result == 0 ? FileIdentity(info) : nil
    }

    /// Why the tracer cannot see into `program`: a statically linked ELF file (no PT_INTERP), or
    /// a script whose interpreter is one; nil when it can.
    public static func untracedReason(_ program: [UInt8], depth: Int = 0) -> String? {
        guard let head = readHead(program, count: 4096), head.count >= 4 else { return nil }
        if head.starts(with: [0x7f, 0x45, 0x4c, 0x46]) {
            return ELF.hasInterpreter(path: program) == false ? "statically linked (no dynamic loader to preload into)" : nil
        }
        if head.starts(with: "#!".utf8), depth < 4 {
            let line = head.dropFirst(2).prefix { $0 != UInt8(ascii: "\n") }
            let interpreter = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).first.map(Array.init)
            if let interpreter, let reason = untracedReason(interpreter, depth: depth + 1) {
                return "interpreter \(String(decoding: interpreter, as: UTF8.self)) is \(reason)"
            }
        }
        return nil
    }

    static func readHead(_ path: [UInt8], count: Int) -> [UInt8]? {
        let fd = TracePath.withCString(path) { open($0, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = read(fd, &buffer, count)
        return n < 0 ? nil : Array(buffer.prefix(n))
    }
}

func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// stat(2) (follows symbolic links), under a name Swift does not confuse with the struct.
private func lstatFollowing(_ path: UnsafePointer<CChar>, _ info: inout Glibc.stat) -> Int32 {
    stat(path, &info)
}
