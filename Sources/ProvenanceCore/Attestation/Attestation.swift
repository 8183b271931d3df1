import Crypto

/// Signing and verifying manifests: an in-toto Statement v1 whose predicate is the manifest,
/// in a DSSE envelope signed with Ed25519. Pure: the caller reads and writes the files.
public enum Attestation {
    /// A new Ed25519 key pair as PEM texts (PKCS#8 private key, SubjectPublicKeyInfo public key)
    /// and the key id signatures will carry.
    public static func generateKeyPair() -> (privateKeyPEM: String, publicKeyPEM: String, keyID: String) {
        let key = Curve25519.Signing.PrivateKey()
        return (Ed25519Keys.privateKeyPEM(key), Ed25519Keys.publicKeyPEM(key.publicKey), Ed25519Keys.keyID(key.publicKey))
    }

    /// The key id of a public key PEM (sha256 hex of its SubjectPublicKeyInfo DER).
    public static func keyID(publicKeyPEM: String) throws(Ed25519Keys.Error) -> String {
        Ed25519Keys.keyID(try Ed25519Keys.publicKey(pem: publicKeyPEM))
    }

    /// The signed envelope of a statement about `subjects` with `manifest` as the predicate.
    public static func sign(manifest: JSONValue, subjects: [InTotoStatement.Subject], privateKeyPEM: String)
        throws(Ed25519Keys.Error) -> DSSEEnvelope
    {
        let key = try Ed25519Keys.privateKey(pem: privateKeyPEM)
        let statement = InTotoStatement(subjects: subjects, predicate: manifest)
        do {
            return try DSSEEnvelope.sign(payloadType: InTotoStatement.payloadType, payload: statement.payload, key: key)
        } catch {
            throw Ed25519Keys.Error(description: "signing failed: \(error)")
        }
    }

    /// Verifies an envelope's bytes with a public key: envelope shape, payload type, a signature
    /// over the PAE by this key, then the statement type. Returns the statement.
    public static func verify(envelope bytes: [UInt8], publicKey: Curve25519.Signing.PublicKey)
        throws(DSSEEnvelope.Failure) -> InTotoStatement
    {
        let envelope = try DSSEEnvelope.parse(bytes)
        try envelope.verify(key: publicKey, payloadType: InTotoStatement.payloadType)
        return try InTotoStatement.parse(envelope.payload)
    }

    public static func verify(envelope bytes: [UInt8], publicKeyPEM: String) throws -> InTotoStatement {
        try verify(envelope: bytes, publicKey: try Ed25519Keys.publicKey(pem: publicKeyPEM))
    }

    /// Subjects of the statement that do not match `actual` (name → sha256 hex): missing from
    /// the statement, listed more than once (a statement naming a file twice, once with the right
    /// digest and once with another, says nothing reliable about it), or with another digest.
    /// Empty when all match.
    public static func subjectMismatches(_ statement: InTotoStatement, actual: [(name: String, sha256: String)]) -> [String] {
        var problems: [String] = []
        for file in actual {
            let named = statement.subjects.filter { $0.name == file.name }
            if named.isEmpty {
                problems.append("\(file.name): not a subject of the attestation")
            } else if named.count > 1 {
                problems.append("\(file.name): listed \(named.count) times among the attested subjects")
            } else if !named.contains(where: { $0.digest["sha256"] == file.sha256 }) {
                let recorded = named.compactMap { $0.digest["sha256"] }.first ?? "none"
                problems.append("\(file.name): sha256 \(file.sha256) differs from the attested \(recorded)")
            }
        }
        return problems
    }
}
