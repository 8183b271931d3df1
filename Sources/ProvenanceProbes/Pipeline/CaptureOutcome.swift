import ProvenanceCore
import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A finished capture: the manifest, the files that go beside it, and the `--sums` listing.
/// `write(canonical:)` is the one writer of all of them.
public struct CaptureOutcome: Sendable {
    public var manifest: Manifest
    /// Where the manifest goes (`-`: standard output).
    public var output: String
    /// Patches and dataset sidecars that the manifest refers to.
    public var companions: [Companion]
    /// The `--sums` listing and where it goes (`-`: standard output).
    public var sums: [UInt8]?
    public var sumsPath: String?
    /// Determinism settings the job's frameworks ask for and its environment lacks.
    public var determinism: [DeterminismChecklist.Advice] = []

    /// Writes the sums file and dataset sidecars, then the patches and the manifest together
    /// (all temporaries first, then renamed, the manifest last): a manifest never refers to a
    /// patch that is not there, and a failed write leaves the previous files as they were.
    /// Returns the manifest's fingerprint (computed once, here).
    @discardableResult
    public func write(canonical: Bool = false) throws(AtomicFile.WriteError) -> String {
        if let sums, let sumsPath {
            if sumsPath == "-" { writeAll(1, sums) } else { try AtomicFile.write(sums, to: sumsPath) }
        }
        var together: [(path: String, bytes: [UInt8])] = []
        for companion in companions {
            if companion.kind == .datasetListing {
                // An unchanged dataset's sidecar is already there: reading it costs less than an fsync.
                var existing = RootedFileSystem()
                existing.maxFileBytes = companion.bytes.count
                if (try? existing.readBytes(companion.path)) == companion.bytes { continue }
                try AtomicFile.write(companion.bytes, to: companion.path)
            } else {
                together.append((companion.path, companion.bytes))
            }
        }
        let fingerprint: String
        let bytes: [UInt8]
        if canonical {
            fingerprint = manifest.fingerprint
            bytes = CanonicalJSON.serialize(manifest.json(fingerprint: fingerprint)) + [0x0A]
        } else {
            (fingerprint, bytes) = Self.fingerprintAndPrettyBytes(manifest)
        }
        if output == "-" {
            writeAll(1, bytes)
        } else {
            // Under the directory's lock; patches of earlier captures the new manifest no longer
            // refers to are removed once it is in place.
            let stem = companionLocation(of: output).stem
            try AtomicFile.write(together + [(output, bytes)], obsoletePrefix: stem + ".diff.",
                                 obsolete: CapturePlan.isStreamOutput(output) ? nil : { CapturePlan.isPatchFileName($0, stem: stem) })
        }
        return fingerprint
    }

    /// The manifest's fingerprint and its pretty bytes, as `CanonicalJSON.pretty(manifest.json)`
    /// makes them, from the sections' data as their probes' threads wrote it (`Section.renderData`):
    /// what is left after the last probe is putting written pieces together and one SHA-256. The
    /// sections' data as values is never needed (a remembered section's is never parsed).
    static func fingerprintAndPrettyBytes(_ manifest: Manifest) -> (fingerprint: String, bytes: [UInt8]) {
        let fingerprint = manifest.fingerprint
        let object = manifest.membersButSections(fingerprint: fingerprint)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(manifest.renderedPrettySize + (1 << 16))
        CanonicalJSON.prettyObject(keys: Array(object.keys) + ["sections"], level: 0, into: &bytes) { key, out in
            if key == "sections" {
                manifest.writePrettySections(into: &out)
            } else {
                CanonicalJSON.pretty(object[key]!, level: 1, into: &out)
            }
        }
        bytes.append(UInt8(ascii: "\n"))
        return (fingerprint, bytes)
    }

    /// The same files in another directory (a run directory named after the fingerprint): the
    /// manifest as `DIR/<its file name>`, each companion under its own file name.
    public mutating func move(toDirectory directory: String) {
        func name(_ path: String) -> String { path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path }
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        output = prefix + name(output)
        for index in companions.indices { companions[index].path = prefix + name(companions[index].path) }
    }

    /// `3 ok, 2 absent`: how many sections ended how.
    public var statusSummary: String {
        var counts: [SectionStatus: Int] = [:]
        for section in manifest.sections.values { counts[section.status, default: 0] += 1 }
        return SectionStatus.allCases.compactMap { status in counts[status].map { "\($0) \(status.rawValue)" } }
            .joined(separator: ", ")
    }
}

/// A file written beside the manifest.
public struct Companion: Sendable {
    public enum Kind: Sendable { case patch, datasetListing }
    public var path: String
    public var bytes: [UInt8]
    public var kind: Kind
}

/// Writes all of `bytes` to a file descriptor (retrying short writes and interruptions).
func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let count = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if count <= 0 { if errno == EINTR { continue }; return }
            offset += count
        }
    }
}
