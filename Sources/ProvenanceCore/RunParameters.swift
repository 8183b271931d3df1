/// A run's parameters with their provenance: every value tagged by where it came from — a
/// config file (`--config`, later files override earlier ones), the user (`--param`, overriding
/// config files), or the job itself (`params.json` in the run directory: derived values) — and
/// one fingerprint of the values. Nested config objects become dotted keys (`optimizer.lr`);
/// lists stay values. Secret-looking values are masked by name and by form, in the record and
/// before the fingerprint (so the fingerprint never encodes a secret).
public struct RunParameters: Sendable, Equatable {
    /// Where a value came from.
    public enum Source: Sendable, Equatable {
        case config(file: String)
        case user
        case derived

        var json: JSONValue {
            switch self {
            case .config(let file): ["kind": "config", "file": .string(file)]
            case .user: ["kind": "user"]
            case .derived: ["kind": "derived"]
            }
        }
    }

    public struct Entry: Sendable, Equatable {
        public var value: JSONValue
        public var source: Source
        /// The sources whose values this one replaced, oldest first.
        public var overrides: [Source]
    }

    /// One config file: its path as given, format, and the sha256 of its canonical JSON form
    /// (so the same values written differently have the same digest).
    public struct ConfigFile: Sendable, Equatable {
        public var path: String
        public var format: String
        public var canonicalSHA256: String
    }

    public private(set) var entries: [String: Entry] = [:]
    public private(set) var configs: [ConfigFile] = []

    public init() {}

    /// Adds a parsed config file's values (a JSON object; anything else is one value under "").
    public mutating func addConfig(path: String, format: String, document: JSONValue) {
        configs.append(ConfigFile(path: path, format: format,
                                  canonicalSHA256: Manifest.sha256(CanonicalJSON.serialize(document))))
        for (key, value) in Self.flatten(document) { set(key, value, from: .config(file: path)) }
    }

    /// Adds `--param KEY=VALUE` values (strings, as typed).
    public mutating func addUser(_ values: [String: String]) {
        for (key, value) in values.sorted(by: { $0.key < $1.key }) { set(key, .string(value), from: .user) }
    }

    /// Adds what the job wrote to `params.json`.
    public mutating func addDerived(_ document: JSONValue) {
        for (key, value) in Self.flatten(document) { set(key, value, from: .derived) }
    }

    private mutating func set(_ key: String, _ value: JSONValue, from source: Source) {
        let masked = Self.masked(value, name: key)
        if var existing = entries[key] {
            existing.overrides.append(existing.source)
            existing.value = masked
            existing.source = source
            entries[key] = existing
        } else {
            entries[key] = Entry(value: masked, source: source, overrides: [])
        }
    }

    /// `sha256:` of the canonical JSON of `{key: value}`: changes exactly when a value does.
    public var fingerprint: String {
        Manifest.sha256(CanonicalJSON.serialize(.object(entries.mapValues(\.value))))
    }

    /// `{fingerprint, values: {KEY: {value, source, overrides?}}, configs: [{path, format, canonicalSHA256}]}`.
    public var json: JSONValue {
        var values: [String: JSONValue] = [:]
        for (key, entry) in entries {
            var object: [String: JSONValue] = ["value": entry.value, "source": entry.source.json]
            if !entry.overrides.isEmpty { object["overrides"] = .array(entry.overrides.map(\.json)) }
            values[key] = .object(object)
        }
        return [
            "fingerprint": .string(fingerprint),
            "values": .object(values),
            "configs": .array(configs.map {
                ["path": .string($0.path), "format": .string($0.format), "canonicalSHA256": .string($0.canonicalSHA256)]
            }),
        ]
    }

    /// Nested objects as dotted keys; every other value (lists included) as it is.
    static func flatten(_ value: JSONValue, prefix: String = "") -> [(String, JSONValue)] {
        guard case .object(let object) = value else { return [(prefix, value)] }
        if object.isEmpty && !prefix.isEmpty { return [(prefix, value)] }
        return object.keys.sorted().flatMap { key in flatten(object[key]!, prefix: prefix.isEmpty ? key : prefix + "." + key) }
    }

    /// Strings masked as the run section masks `--param` values (by name and by form).
    static func masked(_ value: JSONValue, name: String) -> JSONValue {
        switch value {
        case .string(let text): .string(Secrets.maskValue(text, name: name))
        case .array(let items): .array(items.map { masked($0, name: name) })
        case .object(let object): .object(Dictionary(uniqueKeysWithValues: object.map { ($0.key, masked($0.value, name: $0.key)) }))
        default: value
        }
    }
}
