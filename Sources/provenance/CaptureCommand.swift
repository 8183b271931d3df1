import ArgumentParser
import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceProbes

struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Capture this machine (or a recorded one) into a manifest.",
        discussion: """
            Probes run concurrently; a probe that fails or hangs is reported in its section \
            (status failed, with the reason) and never stops the others. The manifest is written \
            atomically: an interrupted capture leaves the previous file intact.
            """)

    @Option(name: [.short, .customLong("output")], help: "Where to write the manifest ('-' for standard output).")
    var output = "env.json"

    @Option(help: ArgumentHelp("Capture a recorded machine: files under DIR, commands from DIR/commands/commands.json.",
                               valueName: "DIR"))
    var root: String?

    @Option(name: .customLong("probe"), help: ArgumentHelp("Also run this probe (repeatable).", valueName: "ID"))
    var probes: [String] = []

    @Option(name: .customLong("only"), help: ArgumentHelp("Run only these probes (repeatable).", valueName: "ID"))
    var onlyProbes: [String] = []

    @Option(name: .customLong("no-probe"), help: ArgumentHelp("Do not run this probe (repeatable).", valueName: "ID"))
    var disabledProbes: [String] = []

    @Option(help: ArgumentHelp("Timeout of each command and default deadline of each probe.", valueName: "SECONDS"))
    var timeout: Double = 5

    @Option(name: .customLong("probe-timeout"),
            help: ArgumentHelp("Deadline of one probe (repeatable).", valueName: "ID=SECONDS"))
    var probeTimeouts: [String] = []

    @Flag(help: "Write the compact canonical form (RFC 8785) instead of the indented one.")
    var canonical = false

    @Flag(name: .shortAndLong, help: "Do not print the summary line on standard error.")
    var quiet = false

    @Option(name: .customLong("env"),
            help: ArgumentHelp("Also record environment variables matching this pattern, e.g. 'MYLAB_*' (repeatable).",
                               valueName: "PATTERN"))
    var environmentPatterns: [String] = []

    @Option(name: .customLong("seed"), help: ArgumentHelp("A seed of the run (repeatable).", valueName: "NAME=VALUE"))
    var seeds: [String] = []

    @Option(name: .customLong("param"), help: ArgumentHelp("A parameter of the run (repeatable).", valueName: "KEY=VALUE"))
    var parameters: [String] = []

    @Flag(name: .customLong("no-cache"), help: "Run every version command again instead of using the cache.")
    var noCache = false

    @Option(name: .customLong("probes-dir"),
            help: ArgumentHelp("Also load site probes (executables, JSON/YAML definitions) from DIR (repeatable).",
                               valueName: "DIR"))
    var probeDirectories: [String] = []

    @Argument(parsing: .postTerminator,
              help: ArgumentHelp("The job's command line, after '--' (recorded with secrets masked).", valueName: "COMMAND"))
    var command: [String] = []

    func run() throws {
        var configuration = ProbeConfiguration()
        configuration.environmentPatterns = environmentPatterns
        configuration.commandLine = command
        configuration.seeds = try keyValues(seeds, option: "--seed")
        configuration.parameters = try keyValues(parameters, option: "--param")
        if root == nil && !noCache { configuration.commandCache = CommandCache(environment: processEnvironment()) }
        let available = try allProbes(configuration, extraDirectories: probeDirectories)
        let known = available.map(\.descriptor.id)
        func check(_ ids: [String]) throws {
            for id in ids where !known.contains(id) {
                throw UserError(message: "unknown probe '\(id)' (known: \(known.joined(separator: ", ")))", code: Exit.usage)
            }
        }
        try check(probes)
        try check(onlyProbes)
        try check(disabledProbes)
        guard timeout > 0, timeout.isFinite else {
            throw UserError(message: "--timeout must be a positive number of seconds", code: Exit.usage)
        }
        var perProbe: [String: Double] = [:]
        for item in probeTimeouts {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let seconds = Double(parts[1]), seconds > 0, seconds.isFinite else {
                throw UserError(message: "--probe-timeout takes ID=SECONDS, got '\(item)'", code: Exit.usage)
            }
            try check([parts[0]])
            perProbe[parts[0]] = seconds
        }

        var enabled: Set<String>?
        if !onlyProbes.isEmpty {
            enabled = Set(onlyProbes)
        } else if !probes.isEmpty || !disabledProbes.isEmpty {
            enabled = Set(available.filter(\.descriptor.enabledByDefault).map(\.descriptor.id)).union(probes)
        }
        if !disabledProbes.isEmpty { enabled?.subtract(disabledProbes) }

        let clock = try clockFromEnvironment()
        let machine: Machine
        if let root {
            guard RootedFileSystem(root: root).isDirectory("/") else {
                throw UserError(message: "--root \(root): no such directory", code: Exit.noInput)
            }
            do {
                machine = try Machine.recorded(root: root, clock: clock)
            } catch {
                throw UserError(message: error.description, code: Exit.badInput)
            }
        } else {
            machine = Machine.live(clock: clock)
        }

        var capture = Capture(probes: available, enabled: enabled, timeout: timeout, probeTimeouts: perProbe,
                              toolVersion: ProvenanceVersion.current)
        capture.grace = min(0.5, timeout / 2)
        let manifest = capture.run(on: machine)
        let bytes = canonical ? CanonicalJSON.serialize(manifest.json) + [0x0A] : CanonicalJSON.pretty(manifest.json)

        if output == "-" {
            writeStandardOutput(bytes)
        } else {
            do {
                try AtomicFile.write(bytes, to: output)
            } catch {
                throw UserError(message: error.description, code: Exit.cannotWrite)
            }
        }
        if !quiet {
            var counts: [SectionStatus: Int] = [:]
            for section in manifest.sections.values { counts[section.status, default: 0] += 1 }
            let summary = SectionStatus.allCases.compactMap { status in counts[status].map { "\($0) \(status.rawValue)" } }
            let destination = output == "-" ? "standard output" : output
            printError("provenance: wrote \(destination): \(summary.joined(separator: ", ")); \(manifest.fingerprint)")
        }
    }

    private func keyValues(_ items: [String], option: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for item in items {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw UserError(message: "\(option) takes KEY=VALUE, got '\(item)'", code: Exit.usage)
            }
            result[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        return result
    }

    /// A fixed clock when `SOURCE_DATE_EPOCH` is set (reproducible captures), else the system clock.
    private func clockFromEnvironment() throws -> any WallClock {
        guard let value = processEnvironment()["SOURCE_DATE_EPOCH"] else { return SystemClock() }
        guard let seconds = Int64(value) else {
            throw UserError(message: "SOURCE_DATE_EPOCH must be an integer, got '\(value)'", code: Exit.usage)
        }
        return FixedClock(secondsSinceEpoch: seconds)
    }
}

/// The built-in probes plus the site's probes of `--probes-dir` and the default directories.
func allProbes(_ configuration: ProbeConfiguration, extraDirectories: [String]) throws -> [any Probe] {
    let builtin = BuiltinProbes.all(configuration)
    let environment = processEnvironment()
    do {
        let external = try ExternalProbeLoader.load(
            directories: extraDirectories + ExternalProbeLoader.defaultDirectories(environment: environment),
            reservedIDs: Set(builtin.map(\.descriptor.id)), environment: environment)
        return builtin + external
    } catch {
        throw UserError(message: error.description, code: Exit.badInput)
    }
}
