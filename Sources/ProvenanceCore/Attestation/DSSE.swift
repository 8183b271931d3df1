import Crypto

/// Dead Simple Signing Envelope v1 (https://github.com/secure-systems-lab/dsse): a payload, its
/// type, and signatures over the pre-authentication encoding (PAE) of both.
public struct DSSEEnvelope: Sendable, Equatable {
    public struct Signature: Sendable, Equatable {
        /// Optional hint naming the key; never trusted on its own.
        public var keyID: String?
        public var sig: [UInt8]
        public init(keyID: String?, sig: [UInt8]) {
            self.keyID = keyID
            self.sig = sig
        }
    }

    public var payloadType: String
    public var payload: [UInt8]
    public var signatures: [Signature]

    public init(payloadType: String, payload: [UInt8], signatures: [Signature]) {
        self.payloadType = payloadType
        self.payload = payload
        self.signatures = signatures
    }

    /// `DSSEv1 SP LEN(type) SP type SP LEN(body) SP body`, lengths as ASCII decimal byte counts.
    public static func pae(payloadType: String, payload: [UInt8]) -> [UInt8] {
        let type = Array(payloadType.utf8)
        return Array("DSSEv1 \(type.count) ".utf8) + type + Array(" \(payload.count) ".utf8) + payload
    }

    /// Signs `payload` with an Ed25519 key; the signature's keyid is `Ed25519Keys.keyID`.
    public static func sign(payloadType: String, payload: [UInt8], key: Curve25519.Signing.PrivateKey) throws -> DSSEEnvelope {
        let signature = try key.signature(for: pae(payloadType: payloadType, payload: payload))
        return DSSEEnvelope(payloadType: payloadType, payload: payload,
                            signatures: [Signature(keyID: Ed25519Keys.keyID(key.publicKey), sig: Array(signature))])
    }

    /// The envelope as JSON: `payload` and `sig` in standard base64, `keyid` when known.
    public var json: JSONValue {
        .object([
            "payloadType": .string(payloadType),
            "payload": .string(Base64.encode(payload)),
            "signatures": .array(signatures.map { signature in
                var object: [String: JSONValue] = ["sig": .string(Base64.encode(signature.sig))]
                if let keyID = signature.keyID { object["keyid"] = .string(keyID) }
                return .object(object)
            }),
        ])
    }

    /// Why an envelope does not verify. Each case has its own one-line description.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// Not JSON, or JSON that is not an envelope (missing or mistyped fields, bad base64).
        case malformed(String)
        case wrongPayloadType(found: String, expected: String)
        case noSignatures
        /// Signatures exist, but only with key ids naming other keys.
        case keyIDMismatch(found: [String], expected: String)
        case badSignature
        case wrongStatementType(String)
        case notAStatement(String)
        case subjectMismatch(String)

        public var description: String {
            switch self {
            case .malformed(let reason): return "not a DSSE envelope: \(reason)"
            case .wrongPayloadType(let found, let expected):
                return "payload type is \"\(found.prefix(80))\", expected \"\(expected)\""
            case .noSignatures: return "the envelope has no signatures"
            case .keyIDMismatch(let found, let expected):
                return "no signature by this key: the envelope names key id \(found.joined(separator: ", ")), the key is \(expected)"
            case .badSignature: return "signature does not verify with this key (wrong key, or the envelope was modified)"
            case .wrongStatementType(let type): return "statement type is \"\(type.prefix(80))\", expected \"\(InTotoStatement.type)\""
            case .notAStatement(let reason): return "payload is not an in-toto statement: \(reason)"
            case .subjectMismatch(let reason): return reason
            }
        }

        /// Whether the input could not be read as an envelope at all (as opposed to an envelope
        /// that fails verification).
        public var isMalformedInput: Bool {
            if case .malformed = self { return true }
            return false
        }
    }

    /// Parses an envelope strictly: an object with a string `payloadType`, base64 `payload`, and
    /// a non-empty `signatures` array of objects with base64 `sig` and optional string `keyid`.
    public static func parse(_ bytes: [UInt8]) throws(Failure) -> DSSEEnvelope {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw .malformed("\(error)")
        }
        guard case .object(let object) = value else { throw .malformed("the document is not a JSON object") }
        guard let payloadType = object["payloadType"]?.stringValue else { throw .malformed("no \"payloadType\" string") }
        guard let payloadText = object["payload"]?.stringValue else { throw .malformed("no \"payload\" string") }
        guard let payload = Base64.decode(payloadText) else { throw .malformed("\"payload\" is not base64") }
        guard let list = object["signatures"]?.arrayValue else { throw .malformed("no \"signatures\" array") }
        var signatures: [Signature] = []
        for (index, item) in list.enumerated() {
            guard case .object(let entry) = item else { throw .malformed("signatures[\(index)] is not an object") }
            guard let sigText = entry["sig"]?.stringValue else { throw .malformed("signatures[\(index)] has no \"sig\" string") }
            guard let sig = Base64.decode(sigText) else { throw .malformed("signatures[\(index)].sig is not base64") }
            var keyID: String?
            switch entry["keyid"] {
            case nil, .null?: keyID = nil
            case .string(let text)?: keyID = text.isEmpty ? nil : text
            default: throw .malformed("signatures[\(index)].keyid is not a string")
            }
            signatures.append(Signature(keyID: keyID, sig: sig))
        }
        return DSSEEnvelope(payloadType: payloadType, payload: payload, signatures: signatures)
    }

    /// Checks the payload type and that at least one signature verifies with `key`. Signatures
    /// whose keyid names a different key are not tried; one without a keyid is.
    public func verify(key: Curve25519.Signing.PublicKey, payloadType expected: String) throws(Failure) {
        guard payloadType == expected else { throw .wrongPayloadType(found: payloadType, expected: expected) }
        guard !signatures.isEmpty else { throw .noSignatures }
        let keyID = Ed25519Keys.keyID(key)
        let candidates = signatures.filter { $0.keyID == nil || $0.keyID == keyID }
        guard !candidates.isEmpty else {
            throw .keyIDMismatch(found: signatures.compactMap(\.keyID).map { String($0.prefix(80)) }, expected: keyID)
        }
        let message = DSSEEnvelope.pae(payloadType: payloadType, payload: payload)
        guard candidates.contains(where: { key.isValidSignature($0.sig, for: message) }) else { throw .badSignature }
    }
}

/// An in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md)
/// whose predicate is a provenance manifest.
public struct InTotoStatement: Sendable, Equatable {
    public static let type = "https://in-toto.io/Statement/v1"
    public static let payloadType = "application/vnd.in-toto+json"
    /// The predicate type of a manifest: the manifest JSON as written by `provenance capture`.
    /// Versioned with the manifest schema's major version.
    public static let manifestPredicateType = "https://provenance.dev/manifest/v1"

    public struct Subject: Sendable, Equatable {
        public var name: String
        /// Algorithm → lower-case hex digest (`sha256`).
        public var digest: [String: String]
        public init(name: String, digest: [String: String]) {
            self.name = name
            self.digest = digest
        }
    }

    public var subjects: [Subject]
    public var predicateType: String
    public var predicate: JSONValue

    public init(subjects: [Subject], predicateType: String = InTotoStatement.manifestPredicateType, predicate: JSONValue) {
        self.subjects = subjects
        self.predicateType = predicateType
        self.predicate = predicate
    }

    public var json: JSONValue {
        .object([
            "_type": .string(InTotoStatement.type),
            "subject": .array(subjects.map { subject in
                .object(["name": .string(subject.name), "digest": .object(subject.digest.mapValues { .string($0) })])
            }),
            "predicateType": .string(predicateType),
            "predicate": predicate,
        ])
    }

    /// The payload signed: the statement's RFC 8785 canonical JSON.
    public var payload: [UInt8] { CanonicalJSON.serialize(json) }

    /// Reads a statement from a verified payload: `_type` must be Statement v1, `subject` an
    /// array of `{name?, digest}`; `predicateType` a string.
    public static func parse(_ payload: [UInt8]) throws(DSSEEnvelope.Failure) -> InTotoStatement {
        let value: JSONValue
        do {
            value = try JSONParser.parse(payload)
        } catch {
            throw .notAStatement("\(error)")
        }
        guard case .object(let object) = value else { throw .notAStatement("not a JSON object") }
        guard let type = object["_type"]?.stringValue else { throw .notAStatement("no \"_type\" string") }
        guard type == InTotoStatement.type else { throw .wrongStatementType(type) }
        guard let list = object["subject"]?.arrayValue else { throw .notAStatement("no \"subject\" array") }
        var subjects: [Subject] = []
        for (index, item) in list.enumerated() {
            // Statement v1: every subject MUST have a digest; the name is optional ("_" when unset).
            guard let digests = item["digest"]?.objectValue else {
                throw .notAStatement("subject[\(index)] has no \"digest\" object")
            }
            let name = item["name"]?.stringValue ?? "_"
            var digest: [String: String] = [:]
            for (algorithm, hex) in digests {
                guard let text = hex.stringValue else { throw .notAStatement("subject[\(index)].digest.\(algorithm) is not a string") }
                digest[algorithm] = text
            }
            subjects.append(Subject(name: name, digest: digest))
        }
        guard let predicateType = object["predicateType"]?.stringValue else {
            throw .notAStatement("no \"predicateType\" string")
        }
        return InTotoStatement(subjects: subjects, predicateType: predicateType, predicate: object["predicate"] ?? .null)
    }
}
