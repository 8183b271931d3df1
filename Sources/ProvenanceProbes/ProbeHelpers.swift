import ProvenanceProbeKit

// Small helpers the built-in probes share.

extension RootedFileSystem {
    /// The text of a file, nil when it does not exist; a file that exists but cannot be read is
    /// reported as an issue of the probe (and nil returned).
    func read(_ path: String, reportingTo report: ProbeReport) -> String? {
        do { return try read(path) } catch {
            report.issue(path, error.message)
            return nil
        }
    }
}

/// The value trimmed, nil when it is missing or blank.
func nonEmpty(_ value: String?) -> String? {
    guard let value, !value.trimmed.isEmpty else { return nil }
    return value.trimmed
}
