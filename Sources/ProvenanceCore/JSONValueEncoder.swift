/// Encodes any `Encodable` straight into a `JSONValue` (no text round trip, no Foundation).
///
/// `nil` optionals are left out (as `encodeIfPresent` does), unsigned and signed integers stay
/// exact, and floating-point values are rejected when not finite.
public struct JSONValueEncoder {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        // A value built as JSON already (large probe outputs) is taken as it is.
        if let json = value as? JSONValue { return json }
        let encoder = _Encoder(codingPath: [])
        try value.encode(to: encoder)
        return encoder.storage.value ?? .object([:])
    }
}

/// A mutable slot shared between an encoder and the containers it hands out.
private final class Slot {
    enum Content {
        case empty
        case value(JSONValue)
        case object([String: Slot])
        case array([Slot])
    }

    var content: Content = .empty

    var value: JSONValue? {
        switch content {
        case .empty: return nil
        case .value(let v): return v
        case .object(let members):
            var object: [String: JSONValue] = [:]
            for (key, slot) in members { if let v = slot.value { object[key] = v } }
            return .object(object)
        case .array(let elements):
            return .array(elements.map { $0.value ?? .null })
        }
    }
}

/// A coding key of a JSON value's object member or array element (shared by the encoder and the decoder).
struct _Key: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

private func encodeScalar<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> JSONValue {
    let encoder = _Encoder(codingPath: codingPath)
    try value.encode(to: encoder)
    return encoder.storage.value ?? .object([:])
}

private func checkedDouble(_ value: Double, _ codingPath: [any CodingKey]) throws -> JSONValue {
    guard value.isFinite else {
        throw EncodingError.invalidValue(
            value, .init(codingPath: codingPath, debugDescription: "JSON cannot hold \(value)"))
    }
    return .double(value)
}

private func checkedUnsigned(_ value: UInt64, _ codingPath: [any CodingKey]) throws -> JSONValue {
    guard let exact = Int64(exactly: value) else {
        throw EncodingError.invalidValue(
            value, .init(codingPath: codingPath, debugDescription: "integer \(value) is out of range"))
    }
    return .int(exact)
}

private final class _Encoder: Encoder {
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any] = [:]
    let storage: Slot

    init(codingPath: [any CodingKey], storage: Slot = Slot()) {
        self.codingPath = codingPath
        self.storage = storage
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = storage.content {} else { storage.content = .object([:]) }
        return KeyedEncodingContainer(KeyedContainer<Key>(slot: storage, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = storage.content {} else { storage.content = .array([]) }
        return UnkeyedContainer(slot: storage, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleContainer(slot: storage, codingPath: codingPath)
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: Slot
    let codingPath: [any CodingKey]

    private func set(_ value: JSONValue, _ key: Key) {
        let child = Slot()
        child.content = .value(value)
        setSlot(child, key)
    }

    private func setSlot(_ child: Slot, _ key: Key) {
        guard case .object(var members) = slot.content else { return }
        // Emptied first so `members` is the only reference and grows in place: otherwise each
        // member copied all earlier ones (quadratic in a section's size).
        slot.content = .empty
        members[key.stringValue] = child
        slot.content = .object(members)
    }

    mutating func encodeNil(forKey key: Key) throws { set(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { set(try checkedDouble(value, codingPath + [key]), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { set(try checkedDouble(Double(value), codingPath + [key]), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(.int(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { set(try checkedUnsigned(UInt64(value), codingPath + [key]), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(.int(Int64(value)), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(try checkedUnsigned(value, codingPath + [key]), key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        if let json = value as? JSONValue { set(json, key); return }
        set(try encodeScalar(value, codingPath: codingPath + [key]), key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = Slot()
        child.content = .object([:])
        setSlot(child, key)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(slot: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = Slot()
        child.content = .array([])
        setSlot(child, key)
        return UnkeyedContainer(slot: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { superEncoder(forKey: Key(stringValue: "super")!) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let child = Slot()
        setSlot(child, key)
        return _Encoder(codingPath: codingPath + [key], storage: child)
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]

    var count: Int {
        if case .array(let elements) = slot.content { return elements.count }
        return 0
    }

    private func appendSlot(_ child: Slot) {
        guard case .array(var elements) = slot.content else { return }
        // As in `KeyedContainer.setSlot`: appending to a copy copied every earlier element, so a
        // thousand installed packages cost half a million slot copies.
        slot.content = .empty
        elements.append(child)
        slot.content = .array(elements)
    }

    private func append(_ value: JSONValue) {
        let child = Slot()
        child.content = .value(value)
        appendSlot(child)
    }

    private var nextPath: [any CodingKey] { codingPath + [_Key(intValue: count)] }

    mutating func encodeNil() throws { append(.null) }
    mutating func encode(_ value: Bool) throws { append(.bool(value)) }
    mutating func encode(_ value: String) throws { append(.string(value)) }
    mutating func encode(_ value: Double) throws { append(try checkedDouble(value, nextPath)) }
    mutating func encode(_ value: Float) throws { append(try checkedDouble(Double(value), nextPath)) }
    mutating func encode(_ value: Int) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: Int8) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: Int16) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: Int32) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: Int64) throws { append(.int(value)) }
    mutating func encode(_ value: UInt) throws { append(try checkedUnsigned(UInt64(value), nextPath)) }
    mutating func encode(_ value: UInt8) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: UInt16) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: UInt32) throws { append(.int(Int64(value))) }
    mutating func encode(_ value: UInt64) throws { append(try checkedUnsigned(value, nextPath)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        if let json = value as? JSONValue { append(json); return }
        append(try encodeScalar(value, codingPath: nextPath))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        let path = nextPath
        let child = Slot()
        child.content = .object([:])
        appendSlot(child)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(slot: child, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = nextPath
        let child = Slot()
        child.content = .array([])
        appendSlot(child)
        return UnkeyedContainer(slot: child, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let path = nextPath
        let child = Slot()
        appendSlot(child)
        return _Encoder(codingPath: path, storage: child)
    }
}

private struct SingleContainer: SingleValueEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]

    private func set(_ value: JSONValue) { slot.content = .value(value) }

    mutating func encodeNil() throws { set(.null) }
    mutating func encode(_ value: Bool) throws { set(.bool(value)) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws { set(try checkedDouble(value, codingPath)) }
    mutating func encode(_ value: Float) throws { set(try checkedDouble(Double(value), codingPath)) }
    mutating func encode(_ value: Int) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int8) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int16) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int32) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int64) throws { set(.int(value)) }
    mutating func encode(_ value: UInt) throws { set(try checkedUnsigned(UInt64(value), codingPath)) }
    mutating func encode(_ value: UInt8) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: UInt16) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: UInt32) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: UInt64) throws { set(try checkedUnsigned(value, codingPath)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        if let json = value as? JSONValue { set(json); return }
        let encoder = _Encoder(codingPath: codingPath, storage: slot)
        try value.encode(to: encoder)
    }
}
