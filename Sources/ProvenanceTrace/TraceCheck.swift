import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceProbes

/// Checks a recorded trace's inputs against the files as they are now: the library half of
/// `verify` for traced runs (not yet called by the verify command).
public enum TraceCheck {
    public struct Finding: Sendable, Equatable {
        public enum Kind: String, Sendable { case changed, missing, unreadable }
        public var kind: Kind
        /// The path as recorded (`pathBytes` decoded when present).
        public var path: [UInt8]
        public var recorded: String?
        public var now: String?
    }

    /// One finding per recorded input whose file is gone, unreadable or has another SHA-256 now;
    /// inputs recorded without a digest (missing after the run) are skipped.
    public static func inputs(of trace: JSONValue) -> (checked: Int, findings: [Finding]) {
        var findings: [Finding] = []
        var checked = 0
        for input in trace["inputs"]?.arrayValue ?? [] {
            guard let recorded = input["sha256"]?.stringValue, let text = input["path"]?.stringValue else { continue }
            let path = input["pathBytes"]?.stringValue.flatMap(Base64.decode) ?? Array(text.utf8)
            checked += 1
            do {
                let now = "sha256:" + (try FileSHA256.sha256AndSize(pathBytes: path)).digest
                if now != recorded { findings.append(Finding(kind: .changed, path: path, recorded: recorded, now: now)) }
            } catch {
                findings.append(Finding(kind: error.missing ? .missing : .unreadable, path: path, recorded: recorded,
                                        now: error.missing ? nil : error.description))
            }
        }
        return (checked, findings)
    }
}
