import Testing
@testable import ProvenanceCore

@Suite("Attestation: base64, PEM keys, DSSE, in-toto statements")
struct AttestationTests {
    @Test("PAE is the DSSE spec's test vector")
    func paeVector() {
        let pae = DSSEEnvelope.pae(payloadType: "http://example.com/HelloWorld", payload: Array("hello world".utf8))
        #expect(String(decoding: pae, as: UTF8.self) == "DSSEv1 29 http://example.com/HelloWorld 11 hello world")
        // Lengths are byte counts, not character counts.
        let unicode = DSSEEnvelope.pae(payloadType: "t", payload: Array("é".utf8))
        #expect(String(decoding: unicode, as: UTF8.self) == "DSSEv1 1 t 2 é")
    }

    @Test("base64 matches RFC 4648's vectors, decodes URL-safe and unpadded, rejects garbage")
    func base64() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
        #expect(Base64.decode("Zm9vYg") == Array("foob".utf8))
        #expect(Base64.decode("-_8=") == [0xFB, 0xFF])
        for bad in ["Zm9v!", "Z", "Zm9vY===", "Zm=9v", "Zh==", "Zm9=v", "Zg="] { #expect(Base64.decode(bad) == nil, "\(bad)") }
        let all = (0...255).map(UInt8.init)
        #expect(Base64.decode(Base64.encode(all)) == all)
    }

    @Test("PEM keys round trip with RFC 8410 prefixes; wrong blocks are refused clearly")
    func pemKeys() throws {
        let pair = Attestation.generateKeyPair()
        #expect(pair.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI"))
        #expect(pair.publicKeyPEM.hasPrefix("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"))
        let key = try Ed25519Keys.privateKey(pem: pair.privateKeyPEM)
        #expect(Ed25519Keys.publicKeyPEM(key.publicKey) == pair.publicKeyPEM)
        #expect(try Attestation.keyID(publicKeyPEM: pair.publicKeyPEM) == pair.keyID)
        #expect(pair.keyID.count == 64)
        // CRLF line ends are read too.
        let crlf = pair.publicKeyPEM.split(separator: "\n").joined(separator: "\r\n")
        #expect(try Attestation.keyID(publicKeyPEM: crlf) == pair.keyID)
        #expect(throws: Ed25519Keys.Error.self) { try Ed25519Keys.publicKey(pem: pair.privateKeyPEM) }
        #expect(throws: Ed25519Keys.Error.self) { try Ed25519Keys.privateKey(pem: pair.publicKeyPEM) }
        #expect(throws: Ed25519Keys.Error.self) { try Ed25519Keys.publicKey(pem: "hello") }
        // An RSA public key (another algorithm) is named as not Ed25519.
        let rsaDER: [UInt8] = [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]
        let rsa = "-----BEGIN PUBLIC KEY-----\n\(Base64.encode(rsaDER))\n-----END PUBLIC KEY-----\n"
        do {
            _ = try Ed25519Keys.publicKey(pem: rsa)
            Issue.record("accepted a non-Ed25519 key")
        } catch {
            #expect(error.description.contains("not an Ed25519 public key"))
        }
    }

    @Test("sign then verify; every flipped payload, signature or type byte fails")
    func tampering() throws {
        let pair = Attestation.generateKeyPair()
        let manifest: JSONValue = ["schemaVersion": "1.0.0", "fingerprint": "sha256:00", "sections": [:]]
        let subjects = [InTotoStatement.Subject(name: "model.pt", digest: ["sha256": String(repeating: "ab", count: 32)])]
        let envelope = try Attestation.sign(manifest: manifest, subjects: subjects, privateKeyPEM: pair.privateKeyPEM)
        let bytes = CanonicalJSON.serialize(envelope.json)
        let statement = try Attestation.verify(envelope: bytes, publicKeyPEM: pair.publicKeyPEM)
        #expect(statement.predicate == manifest)
        #expect(statement.subjects == subjects)
        #expect(statement.predicateType == "https://provenance.dev/manifest/v1")
        #expect(envelope.signatures.first?.keyID == pair.keyID)
        #expect(envelope.payload == statement.payload, "the payload is the canonical statement")

        let publicKey = try Ed25519Keys.publicKey(pem: pair.publicKeyPEM)
        func failure(_ e: DSSEEnvelope) -> DSSEEnvelope.Failure? {
            do {
                _ = try Attestation.verify(envelope: CanonicalJSON.serialize(e.json), publicKey: publicKey)
                return nil
            } catch {
                return error
            }
        }
        for position in 0..<envelope.payload.count {
            for bit in [0, 7] {
                var tampered = envelope
                tampered.payload[position] ^= UInt8(1 << bit)
                #expect(failure(tampered) == .badSignature, "payload byte \(position) bit \(bit)")
            }
        }
        for position in 0..<envelope.signatures[0].sig.count {
            var tampered = envelope
            tampered.signatures[0].sig[position] ^= 0x01
            #expect(failure(tampered) == .badSignature, "signature byte \(position)")
        }
        var truncated = envelope
        truncated.signatures[0].sig.removeLast()
        #expect(failure(truncated) == .badSignature)
        for position in 0..<envelope.payloadType.utf8.count {
            var type = Array(envelope.payloadType.utf8)
            type[position] ^= 0x20
            var tampered = envelope
            tampered.payloadType = String(decoding: type, as: UTF8.self)
            #expect(failure(tampered) == .wrongPayloadType(found: tampered.payloadType, expected: InTotoStatement.payloadType))
            // The PAE covers the type: verifying as if that type were expected still fails.
            #expect(throws: DSSEEnvelope.Failure.badSignature) {
                try tampered.verify(key: publicKey, payloadType: tampered.payloadType)
            }
        }
        var noSignatures = envelope
        noSignatures.signatures = []
        #expect(failure(noSignatures) == .noSignatures)

        // Another key: the keyid names the signer, so that is what is reported; without a
        // keyid the signature itself fails.
        let other = Attestation.generateKeyPair()
        let otherKey = try Ed25519Keys.publicKey(pem: other.publicKeyPEM)
        #expect(throws: DSSEEnvelope.Failure.keyIDMismatch(found: [pair.keyID], expected: other.keyID)) {
            try envelope.verify(key: otherKey, payloadType: InTotoStatement.payloadType)
        }
        var anonymous = envelope
        anonymous.signatures[0].keyID = nil
        #expect(throws: DSSEEnvelope.Failure.badSignature) {
            try anonymous.verify(key: otherKey, payloadType: InTotoStatement.payloadType)
        }
        try anonymous.verify(key: publicKey, payloadType: InTotoStatement.payloadType)
    }

    @Test("malformed envelopes are told apart from failed verification")
    func malformed() {
        let cases: [(String, String)] = [
            ("not json", "invalid JSON"), ("[]", "not a JSON object"), ("{\"payload\": \"\"}", "no \"payloadType\" string"),
            ("{\"payloadType\": \"t\", \"payload\": \"!!\", \"signatures\": []}", "\"payload\" is not base64"),
            ("{\"payloadType\": \"t\", \"payload\": \"\"}", "no \"signatures\" array"),
            ("{\"payloadType\": \"t\", \"payload\": \"\", \"signatures\": [{\"keyid\": 1, \"sig\": \"\"}]}", "keyid is not a string"),
            ("{\"payloadType\": \"t\", \"payload\": \"\", \"signatures\": [{}]}", "has no \"sig\" string"),
            ("{\"payloadType\": \"t\", \"payload\": \"\", \"signatures\": [", "invalid JSON"),
        ]
        for (text, message) in cases {
            do {
                _ = try DSSEEnvelope.parse(Array(text.utf8))
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.isMalformedInput)
                #expect(error.description.contains(message), "\(error.description)")
            }
        }
    }

    @Test("subjects: a missing or different file is named")
    func subjects() {
        let statement = InTotoStatement(subjects: [.init(name: "a", digest: ["sha256": "11"])], predicate: [:])
        #expect(Attestation.subjectMismatches(statement, actual: [("a", "11")]).isEmpty)
        #expect(Attestation.subjectMismatches(statement, actual: [("a", "22")]) == ["a: sha256 22 differs from the attested 11"])
        #expect(Attestation.subjectMismatches(statement, actual: [("b", "11")]) == ["b: not a subject of the attestation"])
    }
}

@Suite("in-toto statement parsing")
struct InTotoStatementParsingTests {
    @Test("a subject needs a digest, not a name; other statement types are refused by name")
    func parsing() throws {
        let unnamed = try InTotoStatement.parse(Array(#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"ab"}}],"predicateType":"p"}"#.utf8))
        #expect(unnamed.subjects == [.init(name: "_", digest: ["sha256": "ab"])])
        #expect(throws: DSSEEnvelope.Failure.notAStatement("subject[0] has no \"digest\" object")) {
            try InTotoStatement.parse(Array(#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a"}],"predicateType":"p"}"#.utf8))
        }
        #expect(throws: DSSEEnvelope.Failure.wrongStatementType("https://in-toto.io/Statement/v0.1")) {
            try InTotoStatement.parse(Array(#"{"_type":"https://in-toto.io/Statement/v0.1"}"#.utf8))
        }
    }
}
