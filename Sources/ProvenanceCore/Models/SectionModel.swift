/// The typed data of one built-in manifest section: what its probe returns and what every consumer
/// (render, policies, diff, audit, the schema generator) reads, never guessing keys.
///
/// Implementation requirements:
/// - Encoding through `JSONValueEncoder` gives the section's `data` exactly as the manifest holds
///   it; decoding through `JSONValueDecoder` reads it back (`nil` optionals are left out).
/// - `listIdentities` names, for each list of records in the data, the field that tells its
///   elements apart (a PCI bus id, a UUID, a path, a name), so diff and audit match elements by
///   it and write it in paths (`gpu.nvidia.gpus[0000:3b:00.0].vbiosVersion`).
/// - `summary` is one line a person reads in `provenance render` and `provenance probes`.
/// - List the model in `SectionModels.all`.
public protocol SectionModel: Codable, Equatable, Sendable {
    /// The manifest section id (`os`, `gpu.nvidia`).
    static var sectionID: String { get }
    /// List path inside the data (`gpus`, `gpus[].migDevices`) → the field naming its elements.
    static var listIdentities: [String: String] { get }
    /// One line: what this section says about the machine.
    var summary: String { get }
}

extension SectionModel {
    public static var listIdentities: [String: String] { [:] }

    /// The model read from a section's data; nil when the data is missing or shaped otherwise
    /// (another schema version, a damaged file).
    public static func decode(_ data: JSONValue?) -> Self? {
        guard let data else { return nil }
        return try? JSONValueDecoder().decode(Self.self, from: data)
    }

    /// The model of this section in a manifest (its JSON), unless the section was skipped.
    public static func read(from manifest: JSONValue) -> Self? {
        guard let section = manifest["sections"]?[sectionID], section["status"]?.stringValue != "skipped" else { return nil }
        return decode(section["data"])
    }
}
