import ProvenanceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The machine a capture looks at: its files, commands, environment and clock.
public struct Machine: Sendable {
    public var fs: RootedFileSystem
    public var commands: any CommandRunner
    public var environment: [String: String]
    public var clock: any WallClock
    /// The recorded machine's directory, nil for the live machine.
    public var root: String?
    /// Who runs the job and where (live only: a recording has none).
    public var process: ProcessIdentity

    public init(fs: RootedFileSystem, commands: any CommandRunner, environment: [String: String],
                clock: any WallClock, root: String?, process: ProcessIdentity = ProcessIdentity())
    {
        self.fs = fs
        self.commands = commands
        self.environment = environment
        self.clock = clock
        self.root = root
        self.process = process
    }

    /// This machine: `/`, real processes, this process's environment.
    public static func live(clock: any WallClock = SystemClock()) -> Machine {
        let environment = processEnvironment()
        return Machine(fs: RootedFileSystem(root: "/"), commands: LiveCommandRunner(environment: environment),
                       environment: environment, clock: clock, root: nil, process: .current())
    }

    /// A recorded machine (../shared/FIXTURES.md): files under `root`, commands from
    /// `root/commands/commands.json`, the environment from `root/proc/self/environ` when recorded.
    /// Nothing of the live machine is read and no process is started.
    public static func recorded(root: String, clock: any WallClock = SystemClock()) throws(ReplayError) -> Machine {
        let fs = RootedFileSystem(root: root)
        guard fs.isDirectory("/") else { throw ReplayError("\(root): no such directory") }
        let commands = try ReplayCommandRunner(machine: fs)
        var environment: [String: String] = [:]
        if let bytes = try? fs.readBytes("/proc/self/environ") {
            environment = parseEnviron(bytes)
        }
        return Machine(fs: fs, commands: commands, environment: environment, clock: clock, root: root)
    }

    /// The same machine with every file read, listing, lookup and command reported to `log`
    /// (`provenance record`; the check of declared reads).
    public func recordingAccesses(to log: MachineAccessLog) -> Machine {
        var copy = self
        copy.fs.log = log.scoped(to: nil)
        copy.commands = RecordingCommandRunner(commands, log: log)
        return copy
    }

    /// The machine as one probe sees it: what it reads and runs is attributed to `probe` when the
    /// machine is being recorded; unchanged otherwise.
    public func attributed(to probe: String) -> Machine {
        guard fs.log != nil || commands is RecordingCommandRunner else { return self }
        var copy = self
        copy.fs = fs.attributed(to: probe)
        if let recording = commands as? RecordingCommandRunner { copy.commands = recording.attributed(to: probe) }
        return copy
    }

    /// The host name: `/proc/sys/kernel/hostname`, else `/etc/hostname`.
    public func hostName() -> String? {
        fs.attribute("/proc/sys/kernel/hostname") ?? fs.attribute("/etc/hostname")
    }
}

/// Parses a NUL-separated `KEY=VALUE` environment block (`/proc/PID/environ`).
public func parseEnviron(_ bytes: [UInt8]) -> [String: String] {
    var environment: [String: String] = [:]
    for entry in bytes.split(separator: 0, omittingEmptySubsequences: true) {
        guard let equals = entry.firstIndex(of: UInt8(ascii: "=")), equals != entry.startIndex else { continue }
        let key = String(decoding: entry[entry.startIndex..<equals], as: UTF8.self)
        if environment[key] == nil {
            environment[key] = String(decoding: entry[(equals + 1)...], as: UTF8.self)
        }
    }
    return environment
}

/// This process's environment, read from `environ` once: provenance never changes its own
/// environment (a job's is a copy), and a capture asked for it three times, each a dictionary
/// of every variable made anew (4% of a capture's CPU outside the probes).
public func processEnvironment() -> [String: String] {
    startEnvironment
}

private let startEnvironment: [String: String] = {
    var environment: [String: String] = [:]
    var pointer = environ
    while let entry = pointer.pointee {
        let length = strlen(entry)
        entry.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
            let text = UnsafeBufferPointer(start: bytes, count: length)
            guard let equals = text.firstIndex(of: UInt8(ascii: "=")), equals != 0 else { return }
            let name = String(decoding: UnsafeBufferPointer(rebasing: text[..<equals]), as: UTF8.self)
            if environment[name] == nil {
                environment[name] = String(decoding: UnsafeBufferPointer(rebasing: text[(equals + 1)...]), as: UTF8.self)
            }
        }
        pointer += 1
    }
    return environment
}()

/// The working directory and user of the captured process.
public struct ProcessIdentity: Sendable, Equatable {
    public var workingDirectory: String?
    public var userID: UInt32?
    public var groupID: UInt32?

    public init(workingDirectory: String? = nil, userID: UInt32? = nil, groupID: UInt32? = nil) {
        self.workingDirectory = workingDirectory
        self.userID = userID
        self.groupID = groupID
    }

    /// This process: `getcwd`, `getuid`, `getgid`.
    public static func current() -> ProcessIdentity {
        var buffer = [CChar](repeating: 0, count: 4096)
        let directory = getcwd(&buffer, buffer.count) != nil
            ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
        return ProcessIdentity(workingDirectory: directory, userID: getuid(), groupID: getgid())
    }
}
