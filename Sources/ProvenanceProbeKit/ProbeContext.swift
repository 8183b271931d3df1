import ProvenanceCore

/// Everything a probe may use to look at the machine.
public struct ProbeContext: Sendable {
    /// The machine's files (live, or under a recorded machine's root).
    public let fs: RootedFileSystem
    /// The machine's commands (live processes, or recorded outputs).
    public let commands: any CommandRunner
    /// The machine's time of day.
    public let clock: any WallClock
    /// The environment of the process being captured (live: ours; recorded: `proc/self/environ`).
    public let environment: [String: String]
    /// Working directory and user of the captured process (empty for a recorded machine).
    public let process: ProcessIdentity
    /// The timeout of one command, in seconds.
    public let commandTimeout: Double
    /// Monotonic time (seconds) by which the probe must be done; commands never run past it.
    public let deadline: Double

    public init(fs: RootedFileSystem, commands: any CommandRunner, clock: any WallClock,
                environment: [String: String], process: ProcessIdentity = ProcessIdentity(),
                commandTimeout: Double, deadline: Double)
    {
        self.fs = fs
        self.commands = commands
        self.clock = clock
        self.environment = environment
        self.process = process
        self.commandTimeout = commandTimeout
        self.deadline = deadline
    }

    /// The context of a probe looking at `machine`: its files, commands, clock, environment and
    /// process identity.
    public init(machine: Machine, commandTimeout: Double, deadline: Double) {
        self.init(fs: machine.fs, commands: machine.commands, clock: machine.clock, environment: machine.environment,
                  process: machine.process, commandTimeout: commandTimeout, deadline: deadline)
    }

    /// Runs a command of the machine with the command timeout, never past the probe's deadline.
    /// A timeout is reported as the command's nominal timeout, so issue texts stay the same from
    /// one capture to the next.
    public func run(_ argv: [String], timeout: Double? = nil) -> CommandResult {
        let nominal = timeout ?? commandTimeout
        let remaining = max(0, deadline - monotonicSeconds())
        var result = commands.run(argv, timeout: min(nominal, remaining))
        if case .timedOut = result.outcome { result.outcome = .timedOut(seconds: nominal) }
        return result
    }

    /// The same context with another deadline.
    public func with(deadline: Double) -> ProbeContext {
        ProbeContext(fs: fs, commands: commands, clock: clock, environment: environment, process: process,
                     commandTimeout: commandTimeout, deadline: deadline)
    }
}
