/// Derives a JSON Schema from a `Decodable` type by running its `init(from:)` against a decoder
/// that records what it is asked for: each key, whether it is read with `decode` (required) or
/// `decodeIfPresent` (optional), and the type read. Dictionaries are told from structs by their
/// asking for `allKeys`; arrays by asking for an unkeyed container.
///
/// Written by hand (about 250 lines) because no package derives schemas from Swift `Codable`
/// types without macros; the models' synthesized conformances are the single source the schema,
/// the probes' output and the consumers' reading share.
public enum SchemaTracer {
    /// The schema of `T`'s encoded form (`{"type": "object", "properties": …}`); nested model
    /// types are inlined.
    public static func schema<T: Decodable>(of type: T.Type) -> JSONValue {
        let node = Node()
        _ = try? trace(T.self, into: node)
        return node.schema
    }

    /// The paths of every field (`gpus[*].migDevices[*].memoryTotalBytes`, `*` for any key of
    /// a map, `[*]` for any element of a list, listed itself too): what policy rules can name.
    public static func fieldPaths(of schema: JSONValue) -> [String] {
        var paths: [String] = []
        func walk(_ schema: JSONValue, _ path: String) {
            if let properties = schema["properties"]?.objectValue {
                for key in properties.keys.sorted() {
                    let child = path.isEmpty ? key : path + "." + key
                    paths.append(child)
                    walk(properties[key]!, child)
                }
            }
            if let values = schema["additionalProperties"], values.objectValue != nil {
                let child = path.isEmpty ? "*" : path + ".*"
                paths.append(child)
                walk(values, child)
            }
            if let items = schema["items"] {
                // The element itself (an added or removed GPU), then its fields.
                paths.append(path + "[*]")
                walk(items, path + "[*]")
            }
        }
        walk(schema, "")
        return paths
    }

    /// What the decoder learned about one value.
    final class Node {
        enum Kind { case unknown, any, string, integer, unsignedInteger, number, boolean, array, map, object }
        var kind: Kind = .unknown
        /// Object: key → (node, required), in the order asked.
        var members: [(key: String, node: Node, required: Bool)] = []
        /// Array element or map value.
        var element: Node?

        func member(_ key: String, required: Bool) -> Node {
            if let index = members.firstIndex(where: { $0.key == key }) {
                if required { members[index].required = true }
                return members[index].node
            }
            let node = Node()
            members.append((key, node, required))
            return node
        }

        var schema: JSONValue {
            switch kind {
            case .unknown, .any: return .object([:])
            case .string: return ["type": "string"]
            case .integer: return ["type": "integer"]
            case .unsignedInteger: return ["type": "integer", "minimum": 0]
            case .number: return ["type": "number"]
            case .boolean: return ["type": "boolean"]
            case .array: return ["type": "array", "items": element?.schema ?? .object([:])]
            case .map: return ["type": "object", "additionalProperties": element?.schema ?? .object([:])]
            case .object:
                var properties: [String: JSONValue] = [:]
                for member in members { properties[member.key] = member.node.schema }
                let required = members.filter(\.required).map { JSONValue.string($0.key) }
                var object: [String: JSONValue] = [
                    "type": "object", "additionalProperties": false, "properties": .object(properties),
                ]
                if !required.isEmpty { object["required"] = .array(required) }
                return .object(object)
            }
        }
    }

    struct Stop: Error {}

    static func trace<T: Decodable>(_ type: T.Type, into node: Node) throws -> T {
        if T.self == JSONValue.self {
            node.kind = .any
            return JSONValue.null as! T
        }
        if let value = primitive(T.self, node) { return value }
        return try T(from: Tracer(node: node))
    }

    /// A placeholder value of a primitive type, recording its kind.
    static func primitive<T>(_ type: T.Type, _ node: Node) -> T? {
        switch type {
        case is String.Type: node.kind = .string; return ("" as! T)
        case is Bool.Type: node.kind = .boolean; return (false as! T)
        case is Double.Type: node.kind = .number; return (0.0 as Double as! T)
        case is Float.Type: node.kind = .number; return (Float(0) as! T)
        case is Int.Type: node.kind = .integer; return (0 as Int as! T)
        case is Int8.Type: node.kind = .integer; return (Int8(0) as! T)
        case is Int16.Type: node.kind = .integer; return (Int16(0) as! T)
        case is Int32.Type: node.kind = .integer; return (Int32(0) as! T)
        case is Int64.Type: node.kind = .integer; return (Int64(0) as! T)
        case is UInt.Type: node.kind = .unsignedInteger; return (UInt(0) as! T)
        case is UInt8.Type: node.kind = .unsignedInteger; return (UInt8(0) as! T)
        case is UInt16.Type: node.kind = .unsignedInteger; return (UInt16(0) as! T)
        case is UInt32.Type: node.kind = .unsignedInteger; return (UInt32(0) as! T)
        case is UInt64.Type: node.kind = .unsignedInteger; return (UInt64(0) as! T)
        default: return nil
        }
    }

    final class Tracer: Decoder {
        let node: Node
        let codingPath: [any CodingKey] = []
        let userInfo: [CodingUserInfoKey: Any] = [:]
        init(node: Node) { self.node = node }

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            if node.kind == .unknown { node.kind = .object }
            return KeyedDecodingContainer(Keyed<Key>(node: node))
        }

        func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
            node.kind = .array
            return Unkeyed(node: node)
        }

        func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(node: node) }
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let node: Node
        let codingPath: [any CodingKey] = []

        /// Only a dictionary asks for its keys: one stands for all of them.
        var allKeys: [Key] {
            node.kind = .map
            return Key(stringValue: "*").map { [$0] } ?? []
        }

        func contains(_ key: Key) -> Bool { true }
        func decodeNil(forKey key: Key) throws -> Bool { false }

        private func child(_ key: Key, required: Bool) -> Node {
            if node.kind == .map {
                if node.element == nil { node.element = Node() }
                return node.element!
            }
            return node.member(key.stringValue, required: required)
        }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try trace(T.self, into: child(key, required: true))
        }

        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { primitive(type, child(key, required: true))! }
        func decode(_ type: String.Type, forKey key: Key) throws -> String { primitive(type, child(key, required: true))! }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double { primitive(type, child(key, required: true))! }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { primitive(type, child(key, required: true))! }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { primitive(type, child(key, required: true))! }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { primitive(type, child(key, required: true))! }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { primitive(type, child(key, required: true))! }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { primitive(type, child(key, required: true))! }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { primitive(type, child(key, required: true))! }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { primitive(type, child(key, required: true))! }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { primitive(type, child(key, required: true))! }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { primitive(type, child(key, required: true))! }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { primitive(type, child(key, required: true))! }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { primitive(type, child(key, required: true))! }

        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            _ = try? trace(T.self, into: child(key, required: false))
            return nil
        }

        func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { optional(type, key) }
        func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { optional(type, key) }
        func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { optional(type, key) }
        func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { optional(type, key) }
        func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { optional(type, key) }
        func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { optional(type, key) }
        func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { optional(type, key) }
        func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { optional(type, key) }
        func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { optional(type, key) }
        func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { optional(type, key) }
        func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { optional(type, key) }
        func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { optional(type, key) }
        func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { optional(type, key) }
        func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { optional(type, key) }

        private func optional<T>(_ type: T.Type, _ key: Key) -> T? {
            _ = primitive(T.self, child(key, required: false))
            return nil
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            let node = child(key, required: true)
            if node.kind == .unknown { node.kind = .object }
            return KeyedDecodingContainer(Keyed<NestedKey>(node: node))
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            let node = child(key, required: true)
            node.kind = .array
            return Unkeyed(node: node)
        }

        func superDecoder() throws -> any Decoder { Tracer(node: node) }
        func superDecoder(forKey key: Key) throws -> any Decoder { Tracer(node: child(key, required: true)) }
    }

    /// An array: one element is traced, then it reports its end.
    struct Unkeyed: UnkeyedDecodingContainer {
        let node: Node
        let codingPath: [any CodingKey] = []
        var currentIndex = 0
        var count: Int? { 1 }
        var isAtEnd: Bool { currentIndex >= 1 }

        private mutating func element() -> Node {
            currentIndex += 1
            if node.element == nil { node.element = Node() }
            return node.element!
        }

        mutating func decodeNil() throws -> Bool { false }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try trace(T.self, into: element()) }
        mutating func decode(_ type: Bool.Type) throws -> Bool { primitive(type, element())! }
        mutating func decode(_ type: String.Type) throws -> String { primitive(type, element())! }
        mutating func decode(_ type: Double.Type) throws -> Double { primitive(type, element())! }
        mutating func decode(_ type: Float.Type) throws -> Float { primitive(type, element())! }
        mutating func decode(_ type: Int.Type) throws -> Int { primitive(type, element())! }
        mutating func decode(_ type: Int8.Type) throws -> Int8 { primitive(type, element())! }
        mutating func decode(_ type: Int16.Type) throws -> Int16 { primitive(type, element())! }
        mutating func decode(_ type: Int32.Type) throws -> Int32 { primitive(type, element())! }
        mutating func decode(_ type: Int64.Type) throws -> Int64 { primitive(type, element())! }
        mutating func decode(_ type: UInt.Type) throws -> UInt { primitive(type, element())! }
        mutating func decode(_ type: UInt8.Type) throws -> UInt8 { primitive(type, element())! }
        mutating func decode(_ type: UInt16.Type) throws -> UInt16 { primitive(type, element())! }
        mutating func decode(_ type: UInt32.Type) throws -> UInt32 { primitive(type, element())! }
        mutating func decode(_ type: UInt64.Type) throws -> UInt64 { primitive(type, element())! }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            let node = element()
            if node.kind == .unknown { node.kind = .object }
            return KeyedDecodingContainer(Keyed<NestedKey>(node: node))
        }

        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            let node = element()
            node.kind = .array
            return Unkeyed(node: node)
        }

        mutating func superDecoder() throws -> any Decoder { Tracer(node: element()) }
    }

    struct Single: SingleValueDecodingContainer {
        let node: Node
        let codingPath: [any CodingKey] = []
        func decodeNil() -> Bool { false }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try trace(T.self, into: node) }
        func decode(_ type: Bool.Type) throws -> Bool { primitive(type, node)! }
        func decode(_ type: String.Type) throws -> String { primitive(type, node)! }
        func decode(_ type: Double.Type) throws -> Double { primitive(type, node)! }
        func decode(_ type: Float.Type) throws -> Float { primitive(type, node)! }
        func decode(_ type: Int.Type) throws -> Int { primitive(type, node)! }
        func decode(_ type: Int8.Type) throws -> Int8 { primitive(type, node)! }
        func decode(_ type: Int16.Type) throws -> Int16 { primitive(type, node)! }
        func decode(_ type: Int32.Type) throws -> Int32 { primitive(type, node)! }
        func decode(_ type: Int64.Type) throws -> Int64 { primitive(type, node)! }
        func decode(_ type: UInt.Type) throws -> UInt { primitive(type, node)! }
        func decode(_ type: UInt8.Type) throws -> UInt8 { primitive(type, node)! }
        func decode(_ type: UInt16.Type) throws -> UInt16 { primitive(type, node)! }
        func decode(_ type: UInt32.Type) throws -> UInt32 { primitive(type, node)! }
        func decode(_ type: UInt64.Type) throws -> UInt64 { primitive(type, node)! }
    }
}
