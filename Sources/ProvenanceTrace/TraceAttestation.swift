import ProvenanceCore

/// A traced run as an in-toto Statement with a runtime-trace predicate
/// (https://github.com/in-toto/attestation/blob/main/spec/predicates/runtime-trace.md): the
/// library half of `attest` for traced runs (not yet called by the attest command).
///
/// Subjects are the trace's outputs; `monitorLog.fileAccess` holds a ResourceDescriptor
/// (`name`, `digest.sha256`, and `annotations.access` = `read`/`written`/`executed`) per input,
/// output and program; `monitorLog.process` the process tree as recorded.
public enum TraceAttestation {
    public static let predicateType = "https://in-toto.io/attestation/runtime-trace/v0.1"
    public static let monitorType = "https://provenance.dev/trace/v1"

    /// nil when `runRecord` (a run.json) has no trace.
    public static func statement(runRecord: JSONValue, hostName: String? = nil) -> InTotoStatement? {
        guard let trace = runRecord["trace"], trace["inputs"] != nil else { return nil }
        func digest(_ entry: JSONValue) -> String? {
            entry["sha256"]?.stringValue.map { $0.hasPrefix("sha256:") ? String($0.dropFirst(7)) : $0 }
        }
        var fileAccess: [JSONValue] = []
        for (list, access) in [("inputs", "read"), ("outputs", "written"), ("programs", "executed")] {
            for entry in trace[list]?.arrayValue ?? [] {
                guard let name = entry["path"]?.stringValue else { continue }
                var descriptor: [String: JSONValue] = ["name": .string(name)]
                var annotations: [String: JSONValue] = ["access": .string(access)]
                if let hex = digest(entry) { descriptor["digest"] = ["sha256": .string(hex)] }
                if let bytes = entry["pathBytes"] { annotations["pathBytes"] = bytes }
                if entry["changedDuringRun"] == true { annotations["changedDuringRun"] = true }
                if let reason = entry["untraced"] { annotations["untraced"] = reason }
                descriptor["annotations"] = .object(annotations)
                fileAccess.append(.object(descriptor))
            }
        }
        let subjects: [InTotoStatement.Subject] = (trace["outputs"]?.arrayValue ?? []).compactMap { entry in
            guard let name = entry["path"]?.stringValue, let hex = digest(entry) else { return nil }
            return InTotoStatement.Subject(name: name, digest: ["sha256": hex])
        }
        var metadata: [String: JSONValue] = [:]
        if let start = runRecord["startTime"] { metadata["buildStartedOn"] = start }
        if let end = runRecord["endTime"] { metadata["buildFinishedOn"] = end }
        var monitored: [String: JSONValue] = ["type": "https://provenance.dev/run/v1"]
        monitored["hostID"] = .string("host:" + (hostName ?? runRecord["hostName"]?.stringValue ?? "unknown"))
        if let fingerprint = runRecord["fingerprint"]?.stringValue { monitored["event"] = .string(fingerprint) }
        let predicate: JSONValue = [
            "monitor": ["type": .string(monitorType),
                        "tracePolicy": ["excluded": trace["excluded"] ?? .array([]),
                                        "limits": trace["limits"] ?? .null]],
            "monitoredProcess": .object(monitored),
            "monitorLog": ["process": trace["processes"] ?? .array([]), "fileAccess": .array(fileAccess)],
            "metadata": .object(metadata),
        ]
        return InTotoStatement(subjects: subjects, predicateType: predicateType, predicate: predicate)
    }
}
