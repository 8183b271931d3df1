import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Helpers of the attack suite: a hostile user's inputs, generated at test time into a fresh
/// directory (nothing large is committed), and the figures the suite reports.
enum Attack {
    /// Every file under `directory` (recursively), as bytes.
    static func filesUnder(_ directory: String) -> [(path: String, bytes: [UInt8])] {
        let listing = shell("find '\(directory)' -type f -print0 2>/dev/null", timeout: 30).output
        return listing.split(separator: "\0").compactMap { path in
            (try? RootedFileSystem().readBytes(String(path))).flatMap { $0 }.map { (String(path), $0) }
        }
    }

    /// Whether `needle` occurs in `haystack`.
    static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let needle = Array(needle.utf8)
        guard !needle.isEmpty, needle.count <= haystack.count else { return false }
        var index = 0
        while index + needle.count <= haystack.count {
            if haystack[index] == needle[0], Array(haystack[index..<index + needle.count]) == needle { return true }
            index += 1
        }
        return false
    }

    /// A command's outcome is a crash (killed by a signal) or a hang (timed out).
    static func crashedOrHung(_ result: CommandResult) -> String? {
        switch result.outcome {
        case .signalled(let signal): return "crashed with signal \(signal)"
        case .timedOut: return "hung"
        default: return nil
        }
    }

    /// A minimal valid manifest with the given sections (each `{"status": "ok", "data": …}`).
    static func manifest(host: String = "node", sections: [String: JSONValue]) -> JSONValue {
        var wrapped: [String: JSONValue] = [:]
        for (id, data) in sections { wrapped[id] = ["status": "ok", "probeVersion": "1.0.0", "data": data] }
        return [
            "schemaVersion": "1.0.0", "hostName": .string(host), "captureTime": "2026-01-01T00:00:00Z",
            "fingerprint": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "sections": .object(wrapped),
        ]
    }

    static func write(_ value: JSONValue, to path: String) throws {
        try AtomicFile.write(CanonicalJSON.pretty(value), to: path)
    }
}
