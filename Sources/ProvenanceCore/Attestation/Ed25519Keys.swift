import Crypto
import CryptoExtras

/// Ed25519 keys as PEM files OpenSSL and Python's `cryptography` read: the private key as PKCS#8
/// (`-----BEGIN PRIVATE KEY-----`), the public key as SubjectPublicKeyInfo
/// (`-----BEGIN PUBLIC KEY-----`), RFC 8410 (algorithm `id-Ed25519`, OID 1.3.101.112).
///
/// The DER and PEM work is swift-crypto's CryptoExtras (`Curve25519.Signing.PrivateKey(pemRepresentation:)`,
/// `.pemRepresentation`, through swift-asn1); this type adds the messages a user reads and the key id.
public enum Ed25519Keys {
    public struct Error: Swift.Error, CustomStringConvertible, Sendable, Equatable {
        public let description: String
    }

    public static func privateKeyPEM(_ key: Curve25519.Signing.PrivateKey) -> String {
        key.pemRepresentation + "\n"
    }

    public static func publicKeyPEM(_ key: Curve25519.Signing.PublicKey) -> String {
        key.pemRepresentation + "\n"
    }

    public static func spkiDER(_ key: Curve25519.Signing.PublicKey) -> [UInt8] {
        Array(key.derRepresentation)
    }

    /// The key id written in DSSE signatures: lower-case hex SHA-256 of the SubjectPublicKeyInfo
    /// DER (the same as `openssl pkey -pubin -outform DER | sha256sum`).
    public static func keyID(_ key: Curve25519.Signing.PublicKey) -> String {
        hexString(SHA256.hash(data: spkiDER(key)))
    }

    public static func privateKey(pem text: String) throws(Error) -> Curve25519.Signing.PrivateKey {
        try expectLabel(text, "PRIVATE KEY")
        do {
            return try Curve25519.Signing.PrivateKey(pemRepresentation: text)
        } catch {
            throw Error(description: "not an Ed25519 private key (PKCS#8 with algorithm 1.3.101.112 expected)")
        }
    }

    public static func publicKey(pem text: String) throws(Error) -> Curve25519.Signing.PublicKey {
        try expectLabel(text, "PUBLIC KEY")
        do {
            return try Curve25519.Signing.PublicKey(pemRepresentation: text)
        } catch {
            throw Error(description: "not an Ed25519 public key (SubjectPublicKeyInfo with algorithm 1.3.101.112 expected)")
        }
    }

    /// The first PEM block must carry this label (CryptoExtras reads any label).
    private static func expectLabel(_ text: String, _ label: String) throws(Error) {
        guard let begin = text.lines.map(\.trimmed).first(where: { $0.hasPrefix("-----BEGIN ") }) else {
            throw Error(description: "expected a PEM \"\(label)\" block, found no PEM block")
        }
        guard begin == "-----BEGIN \(label)-----" else {
            throw Error(description: "expected a PEM \"\(label)\" block, found a PEM block other than \"\(label)\"")
        }
    }
}
