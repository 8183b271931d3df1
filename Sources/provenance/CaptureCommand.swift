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

            Git: the repository of the working directory is recorded (none under --root unless \
            --repo names one, as a path of the recorded machine). The patch of uncommitted \
            changes is written beside the manifest (env.json: env.diff.patch; several \
            repositories: env.diff.1.patch, env.diff.2.patch, ... in path order), or inline with \
            --inline-diff or -o -. Re-apply it on a clean checkout of the recorded commit with \
            `git apply --binary env.diff.patch`.
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

    @Option(name: .customLong("repo"),
            help: ArgumentHelp("Record this git repository (repeatable; default: the working directory's).",
                               valueName: "PATH"))
    var repositories: [String] = []

    @Flag(help: "Put the git patch inside the manifest instead of a file beside it.")
    var inlineDiff = false

    @Option(help: ArgumentHelp("Largest git patch kept, in bytes (4 MiB); beyond it only the changed files and their blob ids.",
                               valueName: "BYTES"))
    var diffMaxBytes = GitProbe.defaultDiffMaxBytes

    @Flag(help: "Write the compact canonical form (RFC 8785) instead of the indented one.")
    var canonical = false

    @Flag(name: .shortAndLong, help: "Do not print the summary line on standard error.")
    var quiet = false

    func run() throws {
        guard diffMaxBytes >= 0 else {
            throw UserError(message: "--diff-max-bytes must be a number of bytes, 0 or more", code: Exit.usage)
        }
        let attachments = AttachmentStore()
        let available = BuiltinProbes.all(.init(repositories: repositories, diffMaxBytes: diffMaxBytes,
                                                attachments: attachments))
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
        var manifest = capture.run(on: machine)
        // Patches and manifest are written together (all temporaries first, then renamed, the
        // manifest last): a manifest never refers to a patch that is not there, and a failed
        // write leaves the previous manifest and its patches as they were.
        let patchFiles = attachPatches(to: &manifest, from: attachments)
        let bytes = canonical ? CanonicalJSON.serialize(manifest.json) + [0x0A] : CanonicalJSON.pretty(manifest.json)

        if output == "-" {
            writeStandardOutput(bytes)
        } else {
            do {
                try AtomicFile.write(patchFiles + [(output, bytes)])
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

    /// Adds the git patches the manifest refers to as attachments: inline (`--inline-diff`, or the
    /// manifest on standard output), else as files beside the manifest, returned for writing.
    /// `DIR/NAME.json` gets `DIR/NAME.diff.patch`, or `NAME.diff.1.patch`, `NAME.diff.2.patch`, ...
    /// when several repositories have one (numbered in the order of the repositories, by path).
    private func attachPatches(to manifest: inout Manifest, from store: AttachmentStore)
        -> [(path: String, bytes: [UInt8])]
    {
        let digests = GitProbe.patchDigests(in: manifest.sections["git"])
        var files: [(path: String, bytes: [UInt8])] = []
        let slash = output.lastIndex(of: "/")
        let directory = slash.map { String(output[...$0]) } ?? ""
        var stem = slash.map { String(output[output.index(after: $0)...]) } ?? output
        if stem.hasSuffix(".json") && stem.count > 5 { stem.removeLast(5) }
        for (index, digest) in digests.enumerated() {
            guard let bytes = store.bytes(for: digest) else { continue }
            if inlineDiff || output == "-" {
                manifest.attachments[digest] = Attachment(mediaType: "text/x-diff", sizeBytes: Int64(bytes.count),
                                                          location: .inline(bytes))
            } else {
                let name = digests.count == 1 ? "\(stem).diff.patch" : "\(stem).diff.\(index + 1).patch"
                manifest.attachments[digest] = Attachment(mediaType: "text/x-diff", sizeBytes: Int64(bytes.count),
                                                          location: .file(name))
                files.append((directory + name, bytes))
            }
        }
        return files
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
