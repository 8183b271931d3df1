import ArgumentParser
import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceProbes

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record this machine for replay with `provenance capture --root DIR` (for a bug report).",
        discussion: """
            Runs the probes and keeps exactly what they read and ran: files at their absolute paths, \
            command outputs in commands/commands.json, the environment by the environment probe's \
            allow-list with secrets masked. git, datasets and run are not recorded (they describe the \
            job). --anonymize replaces host names, serial numbers, UUIDs, MAC addresses, user \
            names and the values site probes mark identifying by placeholders. The recording's README.md says what it holds. See docs/record.md.
            """)

    @Argument(help: ArgumentHelp("The directory to write (must not exist).", valueName: "DIR"))
    var directory: String?

    @Option(help: ArgumentHelp("Also (or instead) write the recording as one .tar.gz file.", valueName: "FILE.tar.gz"))
    var archive: String?

    @Flag(help: "Replace identifying values (host names, serial numbers, UUIDs, MAC addresses, user names, values site probes mark identifying).")
    var anonymize = false

    @Option(name: .customLong("env"),
            help: ArgumentHelp("Also record environment variables matching this pattern, as capture --env (repeatable).",
                               valueName: "PATTERN"))
    var environmentPatterns: [String] = []

    @Option(help: ArgumentHelp("Timeout of each command and default deadline of each probe.", valueName: "SECONDS"))
    var timeout: Double = 5

    @Option(help: ArgumentHelp("Largest file or command output kept (16 MiB).", valueName: "BYTES"))
    var maxFileBytes = MachineRecording.Options().maxFileBytes

    @Option(help: ArgumentHelp("Most bytes kept in all (256 MiB).", valueName: "BYTES"))
    var maxTotalBytes = MachineRecording.Options().maxTotalBytes

    @Flag(name: .shortAndLong, help: "Do not print the summary line on standard error.")
    var quiet = false

    func run() throws {
        guard directory != nil || archive != nil else {
            throw UserError(message: "record needs a DIR, --archive FILE.tar.gz, or both", code: Exit.usage)
        }
        guard maxFileBytes > 0, maxTotalBytes > 0 else {
            throw UserError(message: "--max-file-bytes and --max-total-bytes must be positive", code: Exit.usage)
        }
        if let archive, !(archive.hasSuffix(".tar.gz") || archive.hasSuffix(".tgz")) {
            throw UserError(message: "--archive \(archive): the file name must end in .tar.gz or .tgz", code: Exit.usage)
        }
        for path in [directory, archive].compactMap({ $0 }) where RootedFileSystem().exists(absolutePath(path)) {
            throw UserError(message: "\(path) already exists: record never overwrites", code: Exit.cannotWrite)
        }

        // The capture pipeline's probes (site probes included) and deadlines, as `capture` runs them.
        var request = CaptureRequest(environment: processEnvironment(), workingDirectory: currentDirectory())
        request.environmentPatterns = environmentPatterns
        request.timeout = timeout
        request.output = "-"
        // No cache: a cached version or PCI name would not be read or run, so not recorded.
        request.useCache = false
        let capture = try plan(request).capture
        var options = MachineRecording.Options()
        options.maxFileBytes = maxFileBytes
        options.maxTotalBytes = maxTotalBytes
        let clock = SystemClock()
        options.createdAt = Timestamp.rfc3339(secondsSinceEpoch: clock.secondsSinceEpoch())
        var recorder = MachineRecorder(capture: capture, options: options)
        recorder.anonymize = anonymize

        // With only --archive, the directory is a temporary one named after the archive, so that
        // `tar -xzf` gives back a directory of that name.
        let target: String
        var temporary: String?
        if let directory {
            target = absolutePath(directory)
        } else {
            let parent = "/tmp/provenance-record-\(getpid())"
            guard mkdir(parent, 0o700) == 0 else {
                throw UserError(message: "\(parent): cannot create a temporary directory", code: Exit.cannotWrite)
            }
            temporary = parent
            target = parent + "/" + archiveStem(archive!)
        }
        defer { if let temporary { removeRecording(temporary) } }

        let result: MachineRecorder.Result
        do {
            result = try recorder.record(Machine.live(clock: clock), to: target)
        } catch {
            throw UserError(message: error.description, code: Exit.cannotWrite)
        }
        if let archive { try writeArchive(of: target, to: absolutePath(archive)) }

        if !quiet {
            let summary = result.summary
            let destination = [directory, archive].compactMap { $0 }.joined(separator: " and ")
            var line = "provenance: recorded \(destination): \(summary.files) files, \(summary.commands) commands, "
                + "\(summary.links) links, \(formatBytes(summary.totalBytes))"
            if !summary.leftOut.isEmpty { line += "; \(summary.leftOut.count) left out (see README.md)" }
            if let anonymizer = result.anonymizer { line += "; \(anonymizer.replacements.count) identifying values replaced" }
            printError(line)
        }
    }

    /// `tar -czf` of the recording, with the recording's directory name at the top; written to a
    /// temporary name and renamed, so a failed archive leaves nothing behind. The system's tar
    /// (GNU tar, on every Debian) rather than an archive writer of our own.
    private func writeArchive(of directory: String, to path: String) throws {
        let slash = directory.lastIndex(of: "/")!
        let parent = String(directory[..<slash])
        let name = String(directory[directory.index(after: slash)...])
        let partial = path + ".partial-\(getpid())"
        let result = LiveCommandRunner(environment: processEnvironment()).run(
            ["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "-czf", partial, "-C",
             parent.isEmpty ? "/" : parent, name], timeout: 600)
        guard result.succeeded, rename(partial, path) == 0 else {
            unlink(partial)
            throw UserError(message: "\(path): cannot write the archive: \(result.failureDescription)", code: Exit.cannotWrite)
        }
    }

    private func archiveStem(_ archive: String) -> String {
        var name = String(archive.split(separator: "/").last ?? "recording")
        for suffix in [".tar.gz", ".tgz"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
        return name.isEmpty ? "recording" : name
    }
}

/// 1.2 MiB, 340 KiB, 12 bytes.
private func formatBytes(_ count: Int) -> String {
    if count >= 1 << 20 { return "\(count / (1 << 20)).\((count % (1 << 20)) * 10 / (1 << 20)) MiB" }
    if count >= 1 << 10 { return "\(count / (1 << 10)) KiB" }
    return "\(count) bytes"
}

/// Removes a temporary tree this command made.
private func removeRecording(_ path: String) {
    _ = LiveCommandRunner(environment: processEnvironment()).run(["rm", "-rf", "--one-file-system", path], timeout: 120)
}
