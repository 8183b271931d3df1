import ProvenanceCore

/// Runs commands through another runner and reports each one, with what it answered, to a
/// `MachineAccessLog`: `provenance record` writes them as `commands/commands.json`.
public struct RecordingCommandRunner: CommandRunner {
    public let inner: any CommandRunner
    public let log: MachineAccessLog
    /// The probe the commands are attributed to.
    public let probe: String?

    public init(_ inner: any CommandRunner, log: MachineAccessLog, probe: String? = nil) {
        self.inner = inner
        self.log = log
        self.probe = probe
    }

    public func run(_ argv: [String], timeout: Double) -> CommandResult {
        let result = inner.run(argv, timeout: timeout)
        log.noteCommand(argv, result, probe: probe)
        return result
    }

    public func resolve(_ name: String) -> String? {
        let path = inner.resolve(name)
        if let path { log.noteResolved(name, path) }
        return path
    }

    /// The same runner with its reports attributed to `probe`.
    public func attributed(to probe: String?) -> RecordingCommandRunner {
        RecordingCommandRunner(inner, log: log, probe: probe)
    }
}
