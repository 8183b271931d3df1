import ProvenanceCore
import ProvenanceProbeKit

/// A site's own probe: any executable file in a probe directory. Its id is the file name
/// without extension; it prints one JSON object (its section's data) on stdout.
///
/// Runs the file with the capture's timeout, stdin `/dev/null`, the environment of provenance
/// plus `PROVENANCE_PROBE_ID` and `PROVENANCE_ROOT` (`/` live, the recorded machine's directory
/// under `--root`). Non-zero exit, invalid JSON, output over `maxOutputBytes`, or a timeout
/// make the section failed with the reason (the first stderr line, capped, is kept). Under
/// `--root` it is skipped unless the file says `provenance-supports-root` in its first 4 KiB.
/// A line `provenance-identifying: rack, room` in the same 4 KiB (a comment) marks top-level
/// fields of its output whose values identify the site (`--anonymize` replaces them).
public struct ExecutableProbe: Probe {
    public static let maxOutputBytes = 1 << 20
    public let id: String
    public let path: String
    public let supportsRoot: Bool
    /// The environment the process gets (provenance's own).
    public let hostEnvironment: [String: String]
    /// The fields of its output whose values identify the site (`provenance-identifying:`).
    public let identifying: [String]

    public init(id: String, path: String, supportsRoot: Bool, hostEnvironment: [String: String], identifying: [String] = []) {
        self.id = id
        self.path = path
        self.supportsRoot = supportsRoot
        self.hostEnvironment = hostEnvironment
        self.identifying = identifying
    }

    public var descriptor: ProbeDescriptor {
        var descriptor = ProbeDescriptor(id: id, version: "external", summary: "Executable probe \(path)",
                                         runs: [path + (supportsRoot ? " (also under --root)" : "")])
        descriptor.identifying = identifying
        return descriptor
    }

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> JSONValue {
        if !context.fs.isLive && !supportsRoot {
            throw ProbeAbsent(source: path, reason: "skipped under --root: the probe does not declare provenance-supports-root")
        }
        var environment = hostEnvironment
        environment["PROVENANCE_PROBE_ID"] = id
        environment["PROVENANCE_ROOT"] = context.fs.isLive ? "/" : context.fs.root
        var runner = LiveCommandRunner(environment: environment)
        runner.maxOutputBytes = Self.maxOutputBytes + 1
        let remaining = max(0, context.deadline - monotonicSeconds())
        var result = runner.run([path], timeout: min(context.commandTimeout, remaining))
        if case .timedOut = result.outcome { result.outcome = .timedOut(seconds: context.commandTimeout) }
        guard result.succeeded else { throw ProbeFailure(result.failureDescription) }
        guard result.stdout.count <= Self.maxOutputBytes else {
            throw ProbeFailure("printed more than \(Self.maxOutputBytes) bytes")
        }
        let value: JSONValue
        do {
            // No deeper than a manifest can hold and be read back (`verify`, `diff`).
            value = try JSONParser.parse(result.stdout, maxDepth: Section.maxDataDepth)
        } catch {
            throw ProbeFailure("printed invalid JSON: \(error)")
        }
        guard case .object = value else { throw ProbeFailure("printed JSON that is not an object") }
        return value
    }
}

/// The fields an executable probe marks as identifying: the names after `provenance-identifying:`
/// on its lines within the first 4 KiB (separated by commas or spaces; a comment in any
/// language: `# provenance-identifying: rack, room`), sorted, without duplicates.
public func declaredIdentifyingFields(_ head: [UInt8]) -> [String] {
    var names: Set<String> = []
    for line in String(decoding: head.prefix(4096), as: UTF8.self).split(separator: "\n") {
        guard let marker = line.firstRange(of: "provenance-identifying:") else { continue }
        for name in line[marker.upperBound...].split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == "\r" })
        where !name.isEmpty {
            names.insert(String(name))
        }
    }
    return names.sorted()
}

/// Whether an executable probe declares that it honours `PROVENANCE_ROOT`.
public func declaresRootSupport(_ head: [UInt8]) -> Bool {
    String(decoding: head.prefix(4096), as: UTF8.self).contains("provenance-supports-root")
}
