import ProvenanceCore
import ProvenanceProbeKit

/// The operating system: os-release, kernel release and build, kernel command line, architecture.
///
/// Reads `/etc/os-release` (fallback `/usr/lib/os-release`), `/proc/sys/kernel/osrelease`,
/// `/proc/sys/kernel/version` (fallback: parsed from `/proc/version`), `/proc/cmdline`,
/// `/proc/sys/kernel/arch`. Runs `uname -m` only when `/proc/sys/kernel/arch` is missing.
public struct OSProbe: Probe {
    public init() {}

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "os", version: "1.0.0",
            summary: "Distribution (os-release), kernel release, build and command line, architecture",
            reads: ["/etc/os-release", "/usr/lib/os-release", "/proc/sys/kernel/osrelease", "/proc/sys/kernel/version",
                    "/proc/version", "/proc/cmdline", "/proc/sys/kernel/arch"],
            runs: ["uname -m (only without /proc/sys/kernel/arch)"])
    }

    public typealias Output = OSSection
    public typealias Kernel = OSSection.Kernel

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let fs = context.fs
        var output = Output(kernel: Kernel())

        for path in ["/etc/os-release", "/usr/lib/os-release"] {
            do {
                guard let text = try fs.read(path) else { continue }
                let parsed = parseOSRelease(text)
                output.osRelease = parsed.fields
                output.osReleaseSource = path
                for problem in parsed.problems { report.issue(path, problem) }
                break
            } catch {
                report.issue(path, error.message)
            }
        }
        if output.osReleaseSource == nil && report.issues.isEmpty {
            report.issue("/etc/os-release", "neither /etc/os-release nor /usr/lib/os-release exists")
        }

        output.kernel.release = fs.attribute("/proc/sys/kernel/osrelease")
        output.kernel.version = fs.attribute("/proc/sys/kernel/version")
        if output.kernel.release == nil || output.kernel.version == nil,
           let procVersion = fs.attribute("/proc/version"), let parsed = parseProcVersion(procVersion)
        {
            output.kernel.release = output.kernel.release ?? parsed.release
            output.kernel.version = output.kernel.version ?? parsed.version
        }
        if output.kernel.release == nil {
            report.issue("/proc/sys/kernel/osrelease", "kernel release not found (nor in /proc/version)")
        }
        if let cmdline = try? fs.read("/proc/cmdline", recordingMasked: maskKernelCommandLine) {
            output.kernel.commandLine = maskKernelCommandLine(cmdline.trimmed)
        }

        if let arch = fs.attribute("/proc/sys/kernel/arch") {
            output.architecture = arch
        } else {
            let result = context.run(["uname", "-m"])
            if result.succeeded, !result.stdoutText.trimmed.isEmpty {
                output.architecture = result.stdoutText.trimmed
            } else if result.outcome != .notFound {
                report.issue("uname -m", result.failureDescription)
            }
        }
        return output
    }
}

/// Parses os-release (`KEY=value` lines, shell-style quoting: `"..."` with `\"`, `\\`, `\$`,
/// `` \` `` escapes, `'...'` literal, or unquoted with backslash escapes). Comments and blank lines
/// are skipped; malformed lines are returned as problems with their line numbers.
public func parseOSRelease(_ text: String) -> (fields: [String: String], problems: [String]) {
    var fields: [String: String] = [:]
    var problems: [String] = []
    for (number, rawLine) in text.lines.enumerated() {
        let line = rawLine.trimmed
        if line.isEmpty || line.hasPrefix("#") { continue }
        guard let equals = line.firstIndex(of: "="),
              case let key = String(line[..<equals]),
              !key.isEmpty, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
        else {
            problems.append("malformed line \(number + 1): '\(line.prefix(80))'")
            continue
        }
        guard let value = unquoteShellWord(line[line.index(after: equals)...]) else {
            problems.append("unterminated quote on line \(number + 1): '\(line.prefix(80))'")
            continue
        }
        fields[key] = value
    }
    return (fields, problems)
}

/// Unquotes one shell word as os-release(5) specifies; nil when a quote is not closed.
func unquoteShellWord(_ word: Substring) -> String? {
    var result = ""
    var iterator = word.makeIterator()
    while let character = iterator.next() {
        switch character {
        case "\"":
            var closed = false
            while let inner = iterator.next() {
                if inner == "\"" { closed = true; break }
                if inner == "\\" {
                    guard let escaped = iterator.next() else { return nil }
                    if "\"\\$`".contains(escaped) {
                        result.append(escaped)
                    } else if escaped != "\n" {
                        result.append("\\")
                        result.append(escaped)
                    }
                } else {
                    result.append(inner)
                }
            }
            if !closed { return nil }
        case "'":
            var closed = false
            while let inner = iterator.next() {
                if inner == "'" { closed = true; break }
                result.append(inner)
            }
            if !closed { return nil }
        case "\\":
            if let escaped = iterator.next() { result.append(escaped) }
        case " ", "\t":
            // Unquoted whitespace ends the word; a trailing comment or junk is ignored.
            return result
        default:
            result.append(character)
        }
    }
    return result
}

/// Parses `/proc/version` (`Linux version RELEASE (builder) (compiler) #BUILD ...`) into the
/// kernel release and the build string that `/proc/sys/kernel/version` holds.
public func parseProcVersion(_ text: String) -> (release: String, version: String?)? {
    let words = text.split(separator: " ", omittingEmptySubsequences: true)
    guard words.count >= 3, words[0] == "Linux", words[1] == "version" else { return nil }
    let release = String(words[2])
    var version: String?
    if let marker = text.firstRange(of: ") #") {
        version = String(text[text.index(after: marker.lowerBound)...]).trimmed
    } else if let marker = text.firstRange(of: " #") {
        version = String(text[text.index(after: marker.lowerBound)...]).trimmed
    }
    return (release, version)
}

/// The kernel command line with values of secret-looking parameters masked and URL credentials
/// stripped (`iscsi_password=...`, `ip=...` stay readable; `password=hunter2` does not).
public func maskKernelCommandLine(_ line: String) -> String {
    line.split(separator: " ", omittingEmptySubsequences: true)
        .map { Secrets.maskAssignment(String($0)) }
        .joined(separator: " ")
}
