import ProvenanceCore
import ProvenanceProbeKit

/// Records a machine for replay (`provenance record`): runs a capture while every file read and
/// command of its probes is logged, then writes what they read and ran as a recorded machine
/// (`MachineRecording`), with the environment by the environment probe's allow-list and masking.
///
/// Sections that describe the job rather than the machine are not recorded: `git` (repositories
/// are read with libgit2 from the working directory), `datasets` (live paths) and `run` (the
/// job's command line and identity); under `--root` they are absent or empty.
public struct MachineRecorder: Sendable {
    /// The sections a recording never holds.
    public static let liveOnlySections: Set<String> = ["git", "datasets", "run"]

    public var capture: Capture
    public var options: MachineRecording.Options
    /// Replace identifying values (host names, serials, UUIDs, MACs, user names).
    public var anonymize = false

    public init(capture: Capture, options: MachineRecording.Options = .init()) {
        self.capture = capture
        self.options = options
        // No live-only probe runs: it would read what the recording cannot hold.
        let enabled = self.capture.enabled
            ?? Set(capture.probes.filter(\.descriptor.enabledByDefault).map(\.descriptor.id))
        self.capture.enabled = enabled.subtracting(Self.liveOnlySections)
        self.capture.probes = capture.probes.filter { !Self.liveOnlySections.contains($0.descriptor.id) }
    }

    /// What a recording produced: the manifest captured while recording and what was written.
    public struct Result: Sendable {
        public var manifest: Manifest
        public var summary: MachineRecording.Summary
        public var anonymizer: Anonymizer?
    }

    /// Captures `machine` (usually `Machine.live()`) and writes the recording to `directory`,
    /// which must not exist.
    public func record(_ machine: Machine, to directory: String) throws(RecordingError) -> Result {
        let log = MachineAccessLog()
        let manifest = capture.run(on: machine.recordingAccesses(to: log))
        var options = options
        let environmentProbe = capture.probes.compactMap { $0 as? EnvironmentProbe }.first ?? EnvironmentProbe()
        // The environment probe's variables, and those the other probes declare reading
        // (SLURM_*, container, CUDA_VISIBLE_DEVICES, ...), all masked as the manifest masks them.
        var environment = environmentProbe.recordedEnvironment(machine.environment)
        let declared = capture.probes.filter { manifest.sections[$0.descriptor.id]?.status != .skipped }
            .flatMap(\.descriptor.environmentPatterns)
        for (name, value) in machine.environment where environment[name] == nil
            && declared.contains(where: { MachinePathPattern.globMatches($0, name) })
        {
            environment[name] = Secrets.maskValue(value, name: name)
        }
        options.environment = environment
        options.secrets += EnvironmentProbe.maskedValues(machine.environment)
        if anonymize {
            options.anonymizer = Self.anonymizer(manifest: manifest, log: log, environment: machine.environment)
        }
        let mode = machine.root.map { "from the recorded machine \($0)" } ?? "on the live machine"
        options.notes = [
            "Recorded \(mode) by running the probes "
                + manifest.sections.filter { $0.value.status != .skipped }.keys.sorted().joined(separator: ", ")
                + " and keeping what they read and ran.",
            "Environment: only the variables the environment probe records (its allow-list, plus `--env` patterns "
                + "carried as PROVENANCE_ENV_ALLOW) and those the other probes declare reading (`environment:` in "
                + "`provenance probes`: SLURM_*, container, HOME, ...), with secret-looking values masked as in the "
                + "manifest; the raw values masked there appear nowhere in the recording.",
            "The kernel command line is recorded with secret-looking parameters masked, as the os section holds it.",
            "Not recorded: the sections git, datasets and run (they describe the job, not the machine; "
                + "under --root they are absent or empty), and the working directory and user of the process.",
        ] + options.notes
        let summary = try MachineRecording(options: options).write(log, from: machine.fs, to: directory)
        return Result(manifest: manifest, summary: summary, anonymizer: options.anonymizer)
    }

    /// The identifying values of a capture: those of its manifest, the user of the environment
    /// (`USER`, `LOGNAME`, `SUDO_USER`), and every UUID and MAC address in what the probes read
    /// and the commands printed.
    static func anonymizer(manifest: Manifest, log: MachineAccessLog, environment: [String: String]) -> Anonymizer {
        var values = Anonymizer.identifyingValues(inManifest: manifest.json)
        for name in ["USER", "LOGNAME", "SUDO_USER"] {
            if let user = environment[name], user.count >= 3 { values[.user, default: []].insert(user) }
        }
        var texts = log.contents.values.map { String(decoding: $0, as: UTF8.self) }
        for command in log.commands {
            texts.append(command.result.stdoutText)
            texts.append(command.result.stderrText)
        }
        for text in texts {
            values[.uuid, default: []].formUnion(Anonymizer.uuids(in: text))
            values[.mac, default: []].formUnion(Anonymizer.macAddresses(in: text))
        }
        return Anonymizer(values: values)
    }
}
