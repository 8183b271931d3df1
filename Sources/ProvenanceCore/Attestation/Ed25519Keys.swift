import Crypto

/// Ed25519 keys as PEM files OpenSSL and Python's `cryptography` read: the private key as PKCS#8
/// (`-----BEGIN PRIVATE KEY-----`), the public key as SubjectPublicKeyInfo
/// (`-----BEGIN PUBLIC KEY-----`).
///
/// For Ed25519 both DER structures are a fixed prefix followed by the 32 raw key bytes
/// (RFC 8410 §7 and §10.3, algorithm identifier `id-Ed25519` = OID 1.3.101.112, no parameters):
///
///     PKCS#8 OneAsymmetricKey v1 (48 bytes):
///       30 2e                 SEQUENCE, 46 bytes
///         02 01 00            INTEGER 0 (version v1)
///         30 05 06 03 2b 65 70  SEQUENCE { OID 1.3.101.112 }
///         04 22 04 20 <32>    OCTET STRING { CurvePrivateKey ::= OCTET STRING (the seed) }
///     SubjectPublicKeyInfo (44 bytes):
///       30 2a                 SEQUENCE, 42 bytes
///         30 05 06 03 2b 65 70  SEQUENCE { OID 1.3.101.112 }
///         03 21 00 <32>       BIT STRING, no unused bits
///
/// Keys with optional PKCS#8 attributes or an embedded public key (v2) are not accepted.
public enum Ed25519Keys {
    public static let pkcs8Prefix: [UInt8] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                                              0x04, 0x22, 0x04, 0x20]
    public static let spkiPrefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]

    public struct Error: Swift.Error, CustomStringConvertible, Sendable, Equatable {
        public let description: String
    }

    public static func privateKeyPEM(_ key: Curve25519.Signing.PrivateKey) -> String {
        PEM.encode(label: "PRIVATE KEY", der: pkcs8Prefix + Array(key.rawRepresentation))
    }

    public static func publicKeyPEM(_ key: Curve25519.Signing.PublicKey) -> String {
        PEM.encode(label: "PUBLIC KEY", der: spkiDER(key))
    }

    public static func spkiDER(_ key: Curve25519.Signing.PublicKey) -> [UInt8] {
        spkiPrefix + Array(key.rawRepresentation)
    }

    /// The key id written in DSSE signatures: lower-case hex SHA-256 of the SubjectPublicKeyInfo
    /// DER (the same as `openssl pkey -pubin -outform DER | sha256sum`).
    public static func keyID(_ key: Curve25519.Signing.PublicKey) -> String {
        hexString(SHA256.hash(data: spkiDER(key)))
    }

    public static func privateKey(pem text: String) throws(Error) -> Curve25519.Signing.PrivateKey {
        let der = try derBlock(text, label: "PRIVATE KEY")
        guard der.count == pkcs8Prefix.count + 32, Array(der.prefix(pkcs8Prefix.count)) == pkcs8Prefix else {
            throw Error(description: "not an Ed25519 private key (PKCS#8 with algorithm 1.3.101.112 expected)")
        }
        do {
            return try Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32))
        } catch {
            throw Error(description: "invalid Ed25519 private key")
        }
    }

    public static func publicKey(pem text: String) throws(Error) -> Curve25519.Signing.PublicKey {
        let der = try derBlock(text, label: "PUBLIC KEY")
        guard der.count == spkiPrefix.count + 32, Array(der.prefix(spkiPrefix.count)) == spkiPrefix else {
            throw Error(description: "not an Ed25519 public key (SubjectPublicKeyInfo with algorithm 1.3.101.112 expected)")
        }
        do {
            return try Curve25519.Signing.PublicKey(rawRepresentation: der.suffix(32))
        } catch {
            throw Error(description: "invalid Ed25519 public key")
        }
    }

    private static func derBlock(_ text: String, label: String) throws(Error) -> [UInt8] {
        guard let block = PEM.decode(text, label: label) else {
            let found = text.contains("-----BEGIN ") ? "a PEM block other than \"\(label)\"" : "no PEM block"
            throw Error(description: "expected a PEM \"\(label)\" block, found \(found)")
        }
        return block
    }
}

/// PEM (RFC 7468): base64 DER between `-----BEGIN label-----` and `-----END label-----`.
public enum PEM {
    public static func encode(label: String, der: [UInt8]) -> String {
        let base64 = Array(Base64.encode(der))
        var lines = ["-----BEGIN \(label)-----"]
        var i = 0
        while i < base64.count {
            lines.append(String(base64[i..<min(i + 64, base64.count)]))
            i += 64
        }
        lines.append("-----END \(label)-----")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The DER bytes of the first block with this label, or nil.
    public static func decode(_ text: String, label: String) -> [UInt8]? {
        let lines = text.lines.map { $0.trimmed }
        guard let begin = lines.firstIndex(of: "-----BEGIN \(label)-----"),
              let end = lines[begin...].firstIndex(of: "-----END \(label)-----")
        else { return nil }
        let body = lines[(begin + 1)..<end].joined()
        guard !body.contains(":"), !body.contains("-"), !body.contains("_") else { return nil }
        return Base64.decode(body)
    }
}
