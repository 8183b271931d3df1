import ArgumentParser
import CGlibcExtras
import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceProbes

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Exit codes shared by every subcommand (documented in docs/exit-codes.md and in `--help`).
enum Exit {
    static let ok: Int32 = 0
    static let failure: Int32 = 1
    static let differences: Int32 = 2
    static let usage: Int32 = 64
    static let badInput: Int32 = 65
    static let noInput: Int32 = 66
    static let cannotWrite: Int32 = 73
}

/// An error the user can act on: one line on stderr and a distinct exit code.
struct UserError: Error {
    let message: String
    let code: Int32
}

@main
struct Provenance: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provenance",
        abstract: "Capture the environment of an ML/HPC job into a canonical JSON manifest (env.json).",
        discussion: """
            Exit codes: 0 success; 1 internal error; 2 differences (diff), policy violations (verify), \
            drift (audit) or an attestation that does not verify (verify-attestation); \
            64 usage error (bad flag, unknown probe id); 65 invalid input data (a manifest, policy, key, \
            envelope or recorded machine that cannot be read as one); 66 input not found; 73 the output \
            cannot be written. `run` exits with its command's status (128+N when killed by signal N, \
            127 when it cannot start).
            """,
        version: ProvenanceVersion.current,
        subcommands: [CaptureCommand.self, DiffCommand.self, VerifyCommand.self, AuditCommand.self, RunCommand.self,
                      RecordCommand.self, ProbesCommand.self, PoliciesCommand.self, KeygenCommand.self, AttestCommand.self,
                      VerifyAttestationCommand.self, RenderCommand.self, ExportCommand.self, SchemaCommand.self])

    static func main() {
        tuneMemoryAllocator()
        let arguments = CommandLine.arguments.dropFirst()
        if let subcommand = arguments.first, ["capture", "run", "verify", "record"].contains(subcommand) {
            populateWritableData()
        }
        do {
            if arguments.first == "capture", let line = QuickCaptureLine.parse(Array(arguments.dropFirst())) {
                try line.run()
                return
            }
            if arguments.first == "run", let line = QuickRunLine.parse(Array(arguments.dropFirst())) {
                try line.job.run()
                return
            }
            var command = try parseSubcommandAlone() ?? parseAsRoot()
            try command.run()
        } catch let error as UserError {
            printError("provenance: \(error.message)")
            Glibc.exit(error.code)
        } catch let error as ExitCode {
            // A job's exit status (`run`): nothing to print, as ArgumentParser would do.
            Glibc.exit(error.rawValue)
        } catch {
            exit(withError: error)
        }
    }
}

extension Provenance {
    /// Options ArgumentParser answers itself, from the whole command tree.
    private static let treeOptions: Set<String> = [
        "-h", "--help", "-help", "--version", "--generate-completion-script", "--experimental-dump-help",
    ]

    /// The subcommand the first argument names, parsed on its own; nil for anything else (help,
    /// versions, completions, errors), which the whole tree then parses as usual. Parsing from
    /// the root builds the arguments of every subcommand first, about 3 ms of every start
    /// (measured on `diff`), which a capture run before each job should not pay.
    static func parseSubcommandAlone() -> (any ParsableCommand)? {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first,
              let type = configuration.subcommands.first(where: { $0._commandName == name })
        else { return nil }
        let options = arguments.dropFirst().prefix { $0 != "--" }
        guard !options.contains(where: treeOptions.contains) else { return nil }
        return try? type.parseAsRoot(Array(arguments.dropFirst()))
    }
}

/// Sets glibc's allocator for a short process of two dozen threads, before the first is started:
/// at most two arenas (one per thread, each grown by `mprotect` a few pages at a time, was up to
/// 16), heaps grown 8 MiB at a time and never trimmed, and blocks up to 32 MiB taken from the
/// heap rather than mapped and unmapped one by one. Each of those calls in a threaded process
/// shoots down the other CPUs' TLBs: memory calls and the shootdowns were 7% of a capture's CPU.
/// Capture outside a repository, 70 alternating runs: 17.9 → 16.8 ms of wall time, 23.7 → 22.7
/// ms of CPU. A job `run` starts gets the allocator's defaults (these are not inherited).
/// Whether glibc took every setting.
@discardableResult
func tuneMemoryAllocator() -> Bool {
    [(M_ARENA_MAX, 2), (M_TOP_PAD, 8 << 20), (M_TRIM_THRESHOLD, 256 << 20), (M_MMAP_THRESHOLD, 32 << 20)]
        .map { mallopt($0.0, $0.1) }.allSatisfy { $0 == 1 }
}

/// Maps the executable's writable data (`.data` and `.bss`, about 1 MB, from `__data_start` to
/// `_end`: Sources/CGlibcExtras) in one `madvise(MADV_POPULATE_WRITE)` while the process has one
/// thread, for the commands that start probe threads. The Swift runtime's caches and our lazy
/// globals live there; first written from a probe thread, each page took a fault, and a
/// copy-on-write fault in a threaded process also flushes the other CPU's TLB (TLB flushes, from
/// these faults and from memory calls, were 2% of a capture's CPU). Populated first: 0.3 ms less
/// wall time, 0.5–0.9 ms less CPU per capture (2 cores, 100 alternating runs, three times). Best
/// effort: a kernel before 5.14 refuses the advice, and nothing changes. Returns whether the
/// pages were populated.
@discardableResult
func populateWritableData() -> Bool {
    let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
    let from = UInt(bitPattern: provenance_data_start()) / page * page
    let to = (UInt(bitPattern: provenance_data_end()) + page - 1) / page * page
    guard to > from, to - from <= UInt(64 << 20) else { return false }
    // MADV_POPULATE_WRITE (Linux 5.14), not in the Glibc module.
    return madvise(UnsafeMutableRawPointer(bitPattern: from), Int(to - from), 23) == 0
}

/// Writes a line to standard error.
func printError(_ line: String) {
    writeAll(2, Array((line.terminalSafe + "\n").utf8))
}

/// Writes bytes to standard output.
func writeStandardOutput(_ bytes: [UInt8]) {
    writeAll(1, bytes)
}

/// Writes text without a copy of it as bytes (an audit of two large manifests is hundreds of MB).
func writeStandardOutput(_ text: String) {
    var text = text
    text.withUTF8 { writeAll(1, UnsafeRawBufferPointer($0)) }
}

private func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { writeAll(fd, $0) }
}

private func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) {
    var offset = 0
    while offset < buffer.count {
        let count = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
        if count <= 0 { if errno == EINTR { continue }; return }
        offset += count
    }
}

/// Writes a command's output to standard output (`-`) or atomically to a file.
func writeOutput(_ bytes: [UInt8], to output: String) throws {
    if output == "-" {
        writeStandardOutput(bytes)
        return
    }
    do {
        try AtomicFile.write(bytes, to: output)
    } catch {
        throw UserError(message: error.description, code: Exit.cannotWrite)
    }
}
