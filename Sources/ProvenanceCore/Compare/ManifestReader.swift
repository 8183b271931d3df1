/// Checks that a document is a manifest this version of provenance can read.
public enum ManifestReader {
    /// Manifest schema versions this build reads: 1.x.y (SchemaVer: a new major means a model
    /// change that older readers must refuse).
    public static let supportedMajor = 1

    public struct Error: Swift.Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Parses and checks a manifest: JSON, an object with a supported `schemaVersion` and a
    /// `sections` object whose sections are objects with a string `status`.
    public static func read(_ bytes: [UInt8]) throws(Error) -> JSONValue {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw Error(description: "not a manifest: \(error)")
        }
        return try check(value)
    }

    public static func check(_ value: JSONValue) throws(Error) -> JSONValue {
        guard case .object(let object) = value else { throw Error(description: "not a manifest: the document is not an object") }
        guard let version = object["schemaVersion"]?.stringValue else {
            throw Error(description: "not a manifest: no \"schemaVersion\" string")
        }
        let parts = version.split(separator: ".")
        guard parts.count == 3, parts.allSatisfy({ Int($0) != nil }), let major = Int(parts[0]) else {
            throw Error(description: "not a manifest: schemaVersion \"\(version.prefix(40))\" is not MAJOR.MINOR.PATCH")
        }
        guard major == supportedMajor else {
            let relation = major > supportedMajor ? "newer than" : "older than"
            throw Error(description: "manifest schema version \(version) is \(relation) this provenance reads "
                + "(\(supportedMajor).x); use a provenance release that reads \(major).x")
        }
        guard case .object(let sections)? = object["sections"] else {
            throw Error(description: "not a manifest: no \"sections\" object")
        }
        for (id, section) in sections {
            guard case .object(let fields) = section, fields["status"]?.stringValue != nil else {
                throw Error(description: "not a manifest: section \"\(id.prefix(60))\" has no \"status\" string")
            }
            if let data = fields["data"], case .object = data {} else if fields["data"] != nil {
                throw Error(description: "not a manifest: section \"\(id.prefix(60))\" has data that is not an object")
            }
        }
        return value
    }
}
