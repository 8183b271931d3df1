import ProvenanceCore

/// Runs a command of the machine being captured. Implementations: `LiveCommandRunner` (real
/// processes, killed as a process group at the deadline) and `ReplayCommandRunner` (recorded
/// outputs of `commands/commands.json`).
///
/// Implementation requirements:
/// - Never block longer than `timeout` seconds; report `.timedOut` instead.
/// - Report a command that is not on the machine as `.notFound`, never as a failure to run.
public protocol CommandRunner: Sendable {
    func run(_ argv: [String], timeout: Double) -> CommandResult
    /// The executable a command name resolves to on the machine, when the runner can tell
    /// (live: through PATH; replay: the recorded absolute `argv[0]`).
    func resolve(_ name: String) -> String?
}

extension CommandRunner {
    /// Runners that cannot tell where a command lives say nothing.
    public func resolve(_ name: String) -> String? { nil }

    /// The same runner, remembering where names resolve in `resolutions` (a live runner; others
    /// are unchanged).
    public func sharing(_ resolutions: CommandResolutions) -> any CommandRunner {
        if var live = self as? LiveCommandRunner {
            live.resolutions = resolutions
            return live
        }
        if let recording = self as? RecordingCommandRunner {
            return RecordingCommandRunner(recording.inner.sharing(resolutions), log: recording.log, probe: recording.probe)
        }
        return self
    }
}

/// What a command did.
public struct CommandResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// It ran and exited with this status.
        case exited(Int32)
        /// It was ended by this signal (not by us).
        case signalled(Int32)
        /// It did not finish within the timeout and was killed (with its process group).
        case timedOut(seconds: Double)
        /// It is not installed (not on PATH, or not in the recording).
        case notFound
        /// It exists but could not be started (permissions, exec format).
        case couldNotStart(String)
    }

    public var outcome: Outcome
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    /// The executable that answered (resolved through PATH), when known.
    public var executable: String?
    /// True when output beyond the runner's cap was dropped.
    public var truncated: Bool

    public init(outcome: Outcome, stdout: [UInt8] = [], stderr: [UInt8] = [], executable: String? = nil,
                truncated: Bool = false)
    {
        self.outcome = outcome
        self.stdout = stdout
        self.stderr = stderr
        self.executable = executable
        self.truncated = truncated
    }

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }

    /// Exited with status 0.
    public var succeeded: Bool { outcome == .exited(0) }

    /// A one-line account of a command that did not succeed, for a section's issues.
    public var failureDescription: String {
        let firstErrorLine = (stderrText.lines.first { !$0.trimmed.isEmpty }
            ?? stdoutText.lines.first { !$0.trimmed.isEmpty } ?? "").trimmed
        let detail = firstErrorLine.isEmpty ? "" : ": \(firstErrorLine.prefix(200))"
        switch outcome {
        case .exited(let code): return "exited with status \(code)\(detail)"
        case .signalled(let signal): return "killed by signal \(signal)\(detail)"
        case .timedOut(let seconds): return "timed out after \(formatSeconds(seconds)) s and was killed"
        case .notFound: return "not installed"
        case .couldNotStart(let why): return "could not start: \(why)"
        }
    }
}

/// "5" for 5.0, "0.5" for 0.5: timeouts as people write them.
public func formatSeconds(_ seconds: Double) -> String {
    if seconds == seconds.rounded() && seconds.magnitude < 1e15 { return String(Int64(seconds)) }
    return String(seconds)
}
