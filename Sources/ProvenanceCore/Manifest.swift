import Crypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The manifest: one schema-versioned document holding a section per probe.
///
/// Schema versions follow SchemaVer (MODEL-REVISION-ADDITION, written as dotted numbers);
/// a published `Schemas/manifest-X.schema.json` is never edited.
/// Changelog:
/// - 1.0.0: first release (envelope, sections with status/probeVersion/data/issues, fingerprint,
///   attachments).
/// - 1.1.0: the same documents, now with every built-in section's data typed in the schema,
///   generated from the section models (`ManifestSchema`, `provenance schema`); 1.0.0 manifests
///   read as before. A section may list the fields a site probe marked `identifying`.
public struct Manifest: Sendable, Equatable {
    public static let schemaVersion = "1.1.0"

    public var schemaVersion: String = Manifest.schemaVersion
    public var tool: Tool
    /// RFC 3339 UTC time the capture started. Volatile: not in the fingerprint.
    public var captureTime: String
    /// The host name of the captured machine. Identity, not environment: not in the fingerprint.
    public var hostName: String?
    /// How the capture was made (live or replayed from a recorded machine). Not in the fingerprint.
    public var capture: CaptureInfo
    public var sections: [String: Section]
    /// Files that belong with the manifest (the git patch), keyed by the `sha256:` digest a
    /// section's data refers to them by. Where the bytes are (a file beside the manifest, or
    /// inline) is not environment: not in the fingerprint (the digest in the section is).
    public var attachments: [String: Attachment] = [:]

    public init(tool: Tool, captureTime: String, hostName: String?, capture: CaptureInfo, sections: [String: Section]) {
        self.tool = tool
        self.captureTime = captureTime
        self.hostName = hostName
        self.capture = capture
        self.sections = sections
    }

    public struct Tool: Sendable, Equatable {
        public var name: String
        public var version: String
        public init(name: String, version: String) {
            self.name = name
            self.version = version
        }
    }

    public struct CaptureInfo: Sendable, Equatable {
        /// `live`, or `recorded` when replaying a recorded machine with `--root`.
        public var mode: String
        public var root: String?
        /// Wall time of the whole capture in milliseconds. Volatile.
        public var durationMs: Int64
        public init(mode: String, root: String?, durationMs: Int64) {
            self.mode = mode
            self.root = root
            self.durationMs = durationMs
        }
    }

    /// `sha256:` of the canonical JSON of the environment content: the schema version and, per
    /// section, its status, probe version and data. Capture time, durations, host name, tool
    /// version, issue texts and each section's `volatile` part are left out, so two captures of an
    /// unchanged machine give the same fingerprint.
    public var fingerprint: String {
        Manifest.sha256(fingerprintDocument)
    }

    /// The canonical bytes the fingerprint hashes: `{"schemaVersion", "sections": {id:
    /// {"data", "probeVersion", "status"}}}`, each section's data taken as its probe's thread wrote
    /// it (`Section.renderData`) where it did; written into one buffer of the right size (each
    /// buffer of a few hundred KB more was page faults and a copy).
    var fingerprintDocument: [UInt8] {
        var document: [UInt8] = []
        document.reserveCapacity(sections.values.reduce(4096) { $0 + ($1.renderedData?.canonical.count ?? 0) + 256 })
        CanonicalJSON.serializeObject(keys: ["schemaVersion", "sections"], into: &document) { key, out in
            if key == "schemaVersion" {
                CanonicalJSON.serialize(.string(schemaVersion), into: &out)
            } else {
                CanonicalJSON.serializeObject(keys: Array(sections.keys), into: &out) { id, out in
                    sections[id]!.writeFingerprintContent(into: &out)
                }
            }
        }
        return document
    }

    /// The pretty form of the sections as the manifest nests them (`CanonicalJSON.pretty(_:level:
    /// 1, into:)` of `sectionsJSON`), each section's data taken as its probe's thread wrote it
    /// where it did.
    public func writePrettySections(into out: inout [UInt8]) {
        CanonicalJSON.prettyObject(keys: Array(sections.keys), level: 1, into: &out) { id, out in
            sections[id]!.writePretty(level: 2, into: &out)
        }
    }

    /// The bytes the data of the sections written ahead take in the pretty form: what a buffer
    /// for the whole manifest reserves beyond the rest.
    public var renderedPrettySize: Int {
        sections.values.reduce(0) { $0 + ($1.renderedData?.pretty.count ?? 0) }
    }

    public static func sha256(_ bytes: [UInt8]) -> String {
        let digest = SHA256.hash(data: bytes)
        return "sha256:" + hexString(digest)
    }

    /// The whole manifest as a JSON value, fingerprint included.
    public var json: JSONValue { json(fingerprint: fingerprint) }

    /// The sections as the manifest's JSON holds them, by id.
    public var sectionsJSON: JSONValue {
        var sectionValues: [String: JSONValue] = [:]
        for (id, section) in sections { sectionValues[id] = section.json }
        return .object(sectionValues)
    }

    /// The whole manifest as a JSON value with `fingerprint`, which the caller computed
    /// (`fingerprint`, possibly on another thread while it wrote the sections).
    public func json(fingerprint: String) -> JSONValue {
        var object = membersButSections(fingerprint: fingerprint)
        object["sections"] = sectionsJSON
        return .object(object)
    }

    /// The top-level members of `json(fingerprint:)` but `sections` (which a writer writes from
    /// the sections' data written ahead, `writePrettySections`).
    public func membersButSections(fingerprint: String) -> [String: JSONValue] {
        var captureValue: [String: JSONValue] = ["mode": .string(capture.mode), "durationMs": .int(capture.durationMs)]
        if let root = capture.root { captureValue["root"] = .string(root) }
        var object: [String: JSONValue] = [
            "schemaVersion": .string(schemaVersion),
            "tool": ["name": .string(tool.name), "version": .string(tool.version)],
            "captureTime": .string(captureTime),
            "capture": .object(captureValue),
            "fingerprint": .string(fingerprint),
        ]
        if let hostName { object["hostName"] = .string(hostName) }
        if !attachments.isEmpty { object["attachments"] = .object(attachments.mapValues(\.json)) }
        return object
    }
}

/// Bytes that belong with a manifest: a file beside it, or inline.
public struct Attachment: Sendable, Equatable {
    public enum Location: Sendable, Equatable {
        /// A file in the manifest's directory, by name.
        case file(String)
        /// The bytes themselves, written as UTF-8 text when they are valid UTF-8, else base64.
        case inline([UInt8])
    }

    /// What the bytes are (`text/x-diff` for a git patch).
    public var mediaType: String
    public var sizeBytes: Int64
    public var location: Location

    public init(mediaType: String, sizeBytes: Int64, location: Location) {
        self.mediaType = mediaType
        self.sizeBytes = sizeBytes
        self.location = location
    }

    /// `{"mediaType", "sizeBytes", "file"}`, or `{"mediaType", "sizeBytes", "encoding", "content"}`
    /// with `encoding` `utf-8` or `base64`.
    public var json: JSONValue {
        var object: [String: JSONValue] = ["mediaType": .string(mediaType), "sizeBytes": .int(sizeBytes)]
        switch location {
        case .file(let name):
            object["file"] = .string(name)
        case .inline(let bytes):
            if let text = String(validating: bytes, as: UTF8.self) {
                object["encoding"] = "utf-8"
                object["content"] = .string(text)
            } else {
                object["encoding"] = "base64"
                object["content"] = .string(Base64.encode(bytes))
            }
        }
        return .object(object)
    }
}

/// How far a probe got.
public enum SectionStatus: String, Sendable, Equatable, CaseIterable, Codable {
    /// Everything the probe looks for was read.
    case ok
    /// Some facts were read, others could not be: see the section's issues.
    case partial
    /// The thing the probe describes is not on this machine (no NVIDIA driver, no git repository).
    case absent
    /// The probe could not run: it threw, timed out, or its source was unreadable.
    case failed
    /// The probe was not run (off by default, or turned off with `--no-probe`).
    case skipped
}

/// One problem a probe met: where (a file, a command) and what.
public struct ProbeIssue: Sendable, Equatable, Hashable, Codable {
    public var source: String
    public var message: String
    public init(source: String, message: String) {
        self.source = source
        self.message = message
    }
}

/// One probe's part of the manifest.
public struct Section: Sendable, Equatable {
    public var status: SectionStatus
    public var probeVersion: String
    /// The facts. Absent for `absent`, `failed` and `skipped` sections.
    public var data: JSONValue? {
        get { pendingData?.value ?? storedData }
        set {
            storedData = newValue
            pendingData = nil
            renderedData = nil
        }
    }
    /// Facts that change between two captures of an unchanged machine; not fingerprinted.
    public var volatile: JSONValue?
    public var issues: [ProbeIssue]
    /// Wall time the probe took. Volatile.
    public var durationMs: Int64
    /// The top-level fields of `data` whose values identify the site, as the (site) probe declared
    /// them: what `--anonymize` replaces without needing the probe file. Metadata about the data,
    /// not environment: not in the fingerprint. Written only when not empty.
    public var identifying: [String]

    public init(status: SectionStatus, probeVersion: String, data: JSONValue? = nil, volatile: JSONValue? = nil,
                issues: [ProbeIssue] = [], durationMs: Int64 = 0, identifying: [String] = [])
    {
        self.status = status
        self.probeVersion = probeVersion
        storedData = data
        self.volatile = volatile
        self.issues = issues
        self.durationMs = durationMs
        self.identifying = identifying
    }

    /// A section whose data is known only as `renderData` wrote it (a remembered section,
    /// `SectionCache`): `canonical` is parsed into `data` when something reads it, and writing the
    /// manifest takes the bytes as they are. Parsing and writing again were most of what taking
    /// the dpkg section from its cache cost.
    public init(status: SectionStatus, probeVersion: String, renderedCanonical canonical: [UInt8],
                renderedPretty pretty: [UInt8], volatile: JSONValue? = nil, issues: [ProbeIssue] = [],
                durationMs: Int64 = 0, identifying: [String] = [])
    {
        self.init(status: status, probeVersion: probeVersion, volatile: volatile, issues: issues, durationMs: durationMs,
                  identifying: identifying)
        pendingData = PendingData(canonical)
        renderedData = RenderedData(canonical: canonical, pretty: pretty)
    }

    private var storedData: JSONValue?
    /// Data not parsed yet (`init(renderedCanonical:...)`).
    private var pendingData: PendingData?

    /// Whether the section has data, without parsing data that waits to be.
    var hasData: Bool { pendingData != nil || storedData != nil }

    /// `data` written ahead by `renderData`, or nil; any change of `data` drops it.
    var renderedData: RenderedData?

    /// The bytes `renderData` wrote: the canonical and the pretty form of `data`.
    public var rendered: (canonical: [UInt8], pretty: [UInt8])? {
        renderedData.map { ($0.canonical, $0.pretty) }
    }

    public static func == (a: Section, b: Section) -> Bool {
        a.status == b.status && a.probeVersion == b.probeVersion && a.data == b.data && a.volatile == b.volatile
            && a.issues == b.issues && a.durationMs == b.durationMs && a.identifying == b.identifying
    }

    /// How deep a section's data is nested in a manifest's pretty form: manifest, sections,
    /// section, data.
    static let dataLevel = 3

    /// The deepest a section's data may nest for its manifest to be read back (`JSONParser`'s
    /// limit less the levels around the data): 509.
    public static let maxDataDepth = JSONParser.defaultMaxDepth - dataLevel

    /// Writes `data` now in the two forms writing the manifest needs (canonical for the
    /// fingerprint, pretty as the manifest nests it), in one walk. A capture calls it on each
    /// probe's thread as the probe ends, beside the probes still running: written after the last
    /// probe (on two threads) they were 1.4 ms of the capture's serial end, now 0.4 ms (2 cores,
    /// 950 packages). On 2 cores the probes keep both busy, so the wall time gains where cores are
    /// idle (a many-core node); the CPU time does not grow.
    public mutating func renderData() {
        guard renderedData == nil, let data else { return }
        var canonical: [UInt8] = []
        var pretty: [UInt8] = []
        CanonicalJSON.serializeAndPretty(data, level: Self.dataLevel, canonical: &canonical, pretty: &pretty)
        renderedData = RenderedData(canonical: canonical, pretty: pretty)
    }

    /// The canonical bytes of `{"data", "probeVersion", "status"}`: what the fingerprint takes
    /// of the section.
    func writeFingerprintContent(into out: inout [UInt8]) {
        CanonicalJSON.serializeObject(keys: hasData ? ["data", "probeVersion", "status"] : ["probeVersion", "status"],
                                      into: &out) { key, out in
            switch key {
            case "data":
                if let renderedData { out.append(contentsOf: renderedData.canonical) } else { CanonicalJSON.serialize(data!, into: &out) }
            case "probeVersion": CanonicalJSON.serialize(.string(probeVersion), into: &out)
            default: CanonicalJSON.serialize(.string(status.rawValue), into: &out)
            }
        }
    }

    /// `CanonicalJSON.pretty(json, level:, into:)`, with the data written ahead where it was.
    func writePretty(level: Int, into out: inout [UInt8]) {
        guard let renderedData, level == Self.dataLevel - 1 else {
            CanonicalJSON.pretty(json, level: level, into: &out)
            return
        }
        let members = jsonMembers
        CanonicalJSON.prettyObject(keys: Array(members.keys) + ["data"], level: level, into: &out) { key, out in
            if key == "data" {
                out.append(contentsOf: renderedData.pretty)
            } else {
                CanonicalJSON.pretty(members[key]!, level: level + 1, into: &out)
            }
        }
    }

    public var json: JSONValue {
        var object = jsonMembers
        if let data { object["data"] = data }
        return .object(object)
    }

    /// `json`'s members but the data.
    private var jsonMembers: [String: JSONValue] {
        var object: [String: JSONValue] = [
            "status": .string(status.rawValue),
            "probeVersion": .string(probeVersion),
            "durationMs": .int(durationMs),
            "issues": .array(issues.map { ["source": .string($0.source), "message": .string($0.message)] }),
        ]
        if let volatile { object["volatile"] = volatile }
        if !identifying.isEmpty { object["identifying"] = .array(identifying.sorted().map { .string($0) }) }
        return object
    }

    /// The section `json` wrote; nil when `value` is not one (an unknown status, a field of the
    /// wrong kind). `durationMs` may be missing (0).
    public init?(json value: JSONValue) {
        guard let object = value.objectValue, let status = object["status"]?.stringValue.flatMap(SectionStatus.init),
              let probeVersion = object["probeVersion"]?.stringValue
        else { return nil }
        var issues: [ProbeIssue] = []
        for issue in object["issues"]?.arrayValue ?? [] {
            guard let source = issue["source"]?.stringValue, let message = issue["message"]?.stringValue else { return nil }
            issues.append(ProbeIssue(source: source, message: message))
        }
        var identifying: [String] = []
        for field in object["identifying"]?.arrayValue ?? [] {
            guard let name = field.stringValue else { return nil }
            identifying.append(name)
        }
        self.init(status: status, probeVersion: probeVersion, data: object["data"], volatile: object["volatile"],
                  issues: issues, durationMs: object["durationMs"]?.intValue ?? 0, identifying: identifying)
    }
}

/// A section's data as canonical JSON, parsed when first read (once, whichever thread reads it);
/// nil when the bytes are not JSON.
final class PendingData: @unchecked Sendable {
    private let canonical: [UInt8]
    private var mutex = pthread_mutex_t()
    private var parsed: JSONValue??

    init(_ canonical: [UInt8]) {
        self.canonical = canonical
        pthread_mutex_init(&mutex, nil)
    }

    deinit { pthread_mutex_destroy(&mutex) }

    var value: JSONValue? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if let parsed { return parsed }
        let value = try? JSONParser.parse(canonical)
        parsed = .some(value)
        return value
    }
}

/// A section's data written ahead (`Section.renderData`). A cache, equal to any other: it never
/// makes two sections differ.
struct RenderedData: Sendable, Equatable {
    let canonical: [UInt8]
    let pretty: [UInt8]
    static func == (_: RenderedData, _: RenderedData) -> Bool { true }
}
