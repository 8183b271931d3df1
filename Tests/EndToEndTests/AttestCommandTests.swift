import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs a Python interoperability helper of Tests/Interop.
private func interop(_ arguments: String) -> (status: Int32?, output: String) {
    shell("python3 \(Project.root)/Tests/Interop/dsse_interop.py \(arguments) 2>&1")
}

/// Writes an envelope value to a file.
private func writeEnvelope(_ envelope: DSSEEnvelope, _ path: String) throws {
    try AtomicFile.write(CanonicalJSON.pretty(envelope.json), to: path)
}

@Suite("provenance keygen, attest and verify-attestation, end to end", .serialized)
struct AttestCommandTests {
    let machine = Project.machines + "/host-hwloc-20em64t-hybrid"

    /// A directory with a key pair, a manifest, two subject files and a signed envelope.
    private func signed() throws -> String {
        let directory = temporaryDirectory()
        #expect(provenance(["keygen", "--out", directory + "/k"]).outcome == .exited(0))
        #expect(provenance(["capture", "-q", "--root", machine, "-o", directory + "/env.json"]).outcome == .exited(0))
        try AtomicFile.write(Array("weights".utf8), to: directory + "/model.bin")
        try AtomicFile.write(Array(repeating: 7, count: 3 << 20), to: directory + "/data.bin")
        let attest = provenance(["attest", directory + "/env.json", "--key", directory + "/k.key",
                                 "--subject", directory + "/model.bin", "--subject", directory + "/data.bin",
                                 "-o", directory + "/env.att.json"])
        #expect(attest.outcome == .exited(0), "\(attest.stderrText)")
        return directory
    }

    @Test("keygen writes PEM keys openssl reads (private 0600) and refuses to overwrite them")
    func keygen() throws {
        let directory = temporaryDirectory()
        let result = provenance(["keygen", "--out", directory + "/k"])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        var info = stat()
        #expect(stat(directory + "/k.key", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(shell("openssl pkey -in \(directory)/k.key -noout").status == 0)
        #expect(shell("openssl pkey -pubin -in \(directory)/k.pub -noout").status == 0)
        #expect(shell("openssl pkey -in \(directory)/k.key -text -noout").output.contains("ED25519 Private-Key"))
        let derived = shell("openssl pkey -in \(directory)/k.key -pubout")
        let ours = try #require(try RootedFileSystem().read(directory + "/k.pub"))
        #expect(derived.status == 0 && derived.output == ours)
        // keyid = sha256 of the SPKI DER, as openssl computes it.
        let keyID = shell("openssl pkey -pubin -in \(directory)/k.pub -outform DER | sha256sum").output.prefix(64)
        #expect(result.stdoutText.contains("keyid \(keyID)"))

        let before = try RootedFileSystem().read(directory + "/k.key")
        let again = provenance(["keygen", "--out", directory + "/k"])
        #expect(again.outcome == .exited(73))
        #expect(again.stderrText == "provenance: \(directory)/k.key already exists: not overwriting a key (remove it or choose another --out)\n")
        #expect(try RootedFileSystem().read(directory + "/k.key") == before)
        // Only the public half existing is refused too.
        unlink(directory + "/k.key")
        #expect(provenance(["keygen", "--out", directory + "/k"]).outcome == .exited(73))
    }

    @Test("keygen → attest → verify-attestation passes, with subjects checked on disk")
    func roundTrip() throws {
        let directory = try signed()
        let envelope = try readJSON(directory + "/env.att.json")
        #expect(envelope["payloadType"] == "application/vnd.in-toto+json")
        let payload = try #require(Base64.decode(envelope["payload"]?.stringValue ?? ""))
        let statement = try JSONParser.parse(payload)
        #expect(CanonicalJSON.serialize(statement) == payload, "the payload is canonical JSON")
        #expect(statement["_type"] == "https://in-toto.io/Statement/v1")
        #expect(statement["predicateType"] == "https://provenance.dev/manifest/v1")
        #expect(statement["predicate"] == (try readJSON(directory + "/env.json")))
        let subjects = statement["subject"]?.arrayValue ?? []
        #expect(subjects.map { $0["name"]?.stringValue } == [directory + "/model.bin", directory + "/data.bin"])
        let sha = shell("sha256sum \(directory)/data.bin").output.prefix(64)
        #expect(subjects.last?["digest"]?["sha256"]?.stringValue == String(sha))

        let verified = provenance(["verify-attestation", directory + "/env.att.json", "--key", directory + "/k.pub",
                                   "--subject", directory + "/data.bin"])
        #expect(verified.outcome == .exited(0), "\(verified.stderrText)")
        #expect(verified.stdoutText.hasPrefix("verified: signed by key "))
        #expect(verified.stdoutText.contains("1 subjects match; manifest sha256:"))

        // Standard output by default.
        let stdout = provenance(["attest", directory + "/env.json", "--key", directory + "/k.key"])
        #expect(stdout.outcome == .exited(0))
        #expect((try JSONParser.parse(stdout.stdout))["payloadType"] == "application/vnd.in-toto+json")

        // A changed subject file fails, naming it.
        try AtomicFile.write(Array("other weights".utf8), to: directory + "/model.bin")
        let changed = provenance(["verify-attestation", directory + "/env.att.json", "--key", directory + "/k.pub",
                                  "--subject", directory + "/model.bin"])
        #expect(changed.outcome == .exited(2))
        #expect(changed.stderrText.contains("verification failed: \(directory)/env.att.json: subject \(directory)/model.bin: sha256 "))
        let unknown = provenance(["verify-attestation", directory + "/env.att.json", "--key", directory + "/k.pub",
                                  "--subject", directory + "/k.pub"])
        #expect(unknown.outcome == .exited(2))
        #expect(unknown.stderrText.contains("not a subject of the attestation"))
    }

    @Test("wrong key, tampered payload, signature or type: exit 2, each with its own message")
    func tampering() throws {
        let directory = try signed()
        let path = directory + "/env.att.json"
        let original = try DSSEEnvelope.parse(try #require(try RootedFileSystem().readBytes(path)))
        func verify(_ envelope: DSSEEnvelope, key: String = "k.pub") throws -> CommandResult {
            try writeEnvelope(envelope, directory + "/t.json")
            return provenance(["verify-attestation", directory + "/t.json", "--key", directory + "/" + key])
        }
        let badSignature = "provenance: verification failed: \(directory)/t.json: signature does not verify with this key (wrong key, or the envelope was modified)\n"

        let positions = [0, 1, 2, 17, 100, original.payload.count / 2, original.payload.count - 2, original.payload.count - 1]
        for position in positions {
            var tampered = original
            tampered.payload[position] ^= 0x04
            let result = try verify(tampered)
            #expect(result.outcome == .exited(2), "payload byte \(position)")
            #expect(result.stderrText == badSignature)
        }
        for position in [0, 1, 13, 31, 32, 47, 62, 63] {
            var tampered = original
            tampered.signatures[0].sig[position] ^= 0x80
            let result = try verify(tampered)
            #expect(result.outcome == .exited(2), "signature byte \(position)")
            #expect(result.stderrText == badSignature)
        }
        for position in [0, 5, 11, 12, 27] {
            var type = Array(original.payloadType.utf8)
            type[position] ^= 0x01
            var tampered = original
            tampered.payloadType = String(decoding: type, as: UTF8.self)
            let result = try verify(tampered)
            #expect(result.outcome == .exited(2), "payloadType byte \(position)")
            #expect(result.stderrText.contains("payload type is \"\(tampered.payloadType)\", expected \"application/vnd.in-toto+json\""))
        }

        #expect(provenance(["keygen", "--out", directory + "/other"]).outcome == .exited(0))
        let wrongKey = try verify(original, key: "other.pub")
        #expect(wrongKey.outcome == .exited(2))
        #expect(wrongKey.stderrText.contains("no signature by this key: the envelope names key id \(original.signatures[0].keyID!)"))
        var anonymous = original
        anonymous.signatures[0].keyID = nil
        let anonymousWrongKey = try verify(anonymous, key: "other.pub")
        #expect(anonymousWrongKey.outcome == .exited(2))
        #expect(anonymousWrongKey.stderrText == badSignature)
        #expect(try verify(anonymous).outcome == .exited(0))

        // A payload signed correctly but not an in-toto statement v1.
        let key = try #require(try RootedFileSystem().read(directory + "/k.key"))
        let wrongStatement = try DSSEEnvelope.sign(payloadType: InTotoStatement.payloadType,
                                                   payload: Array(#"{"_type":"https://in-toto.io/Statement/v0.1"}"#.utf8),
                                                   key: Ed25519Keys.privateKey(pem: key))
        let statement = try verify(wrongStatement)
        #expect(statement.outcome == .exited(2))
        #expect(statement.stderrText.contains("statement type is \"https://in-toto.io/Statement/v0.1\""))

        // Bytes of the file flipped anywhere: never verifies (2 when still an envelope, 65 when not).
        let text = try #require(try RootedFileSystem().readBytes(path))
        var outcomes: Set<Int32> = []
        for position in stride(from: 0, to: text.count, by: max(1, text.count / 60)) {
            var tampered = text
            tampered[position] ^= 0x01
            try AtomicFile.write(tampered, to: directory + "/t.json")
            let result = provenance(["verify-attestation", directory + "/t.json", "--key", directory + "/k.pub"])
            guard case .exited(let code) = result.outcome else { Issue.record("crashed at byte \(position)"); continue }
            outcomes.insert(code)
            #expect(code == 2 || code == 65, "byte \(position): \(result.stderrText)")
            #expect(result.stderrText.split(separator: "\n").count == 1)
        }
        #expect(!outcomes.contains(0))
    }

    @Test("unreadable input: truncated envelope, not JSON, bad key file, missing file")
    func badInput() throws {
        let directory = try signed()
        let text = try #require(try RootedFileSystem().readBytes(directory + "/env.att.json"))
        try AtomicFile.write(Array(text.prefix(text.count / 2)), to: directory + "/truncated.json")
        let truncated = provenance(["verify-attestation", directory + "/truncated.json", "--key", directory + "/k.pub"])
        #expect(truncated.outcome == .exited(65))
        #expect(truncated.stderrText.hasPrefix("provenance: \(directory)/truncated.json: not a DSSE envelope: invalid JSON at byte"))

        try AtomicFile.write(Array("hello".utf8), to: directory + "/hello.txt")
        let notJSON = provenance(["verify-attestation", directory + "/hello.txt", "--key", directory + "/k.pub"])
        #expect(notJSON.outcome == .exited(65))
        #expect(notJSON.stderrText.hasPrefix("provenance: \(directory)/hello.txt: not a DSSE envelope: invalid JSON"))

        try AtomicFile.write(Array(#"{"payloadType": "application/vnd.in-toto+json", "payload": "e30="}"#.utf8), to: directory + "/nosig.json")
        let noSignatures = provenance(["verify-attestation", directory + "/nosig.json", "--key", directory + "/k.pub"])
        #expect(noSignatures.outcome == .exited(65))
        #expect(noSignatures.stderrText == "provenance: \(directory)/nosig.json: not a DSSE envelope: no \"signatures\" array\n")

        let privateAsPublic = provenance(["verify-attestation", directory + "/env.att.json", "--key", directory + "/k.key"])
        #expect(privateAsPublic.outcome == .exited(65))
        #expect(privateAsPublic.stderrText.contains("expected a PEM \"PUBLIC KEY\" block"))
        let publicAsPrivate = provenance(["attest", directory + "/env.json", "--key", directory + "/k.pub"])
        #expect(publicAsPrivate.outcome == .exited(65))
        #expect(publicAsPrivate.stderrText.contains("expected a PEM \"PRIVATE KEY\" block"))

        let missing = provenance(["verify-attestation", directory + "/nope.json", "--key", directory + "/k.pub"])
        #expect(missing.outcome == .exited(66))
        let missingSubject = provenance(["attest", directory + "/env.json", "--key", directory + "/k.key", "--subject", directory + "/nope"])
        #expect(missingSubject.outcome == .exited(66))
        #expect(missingSubject.stderrText == "provenance: \(directory)/nope: no such file\n")
        let notManifest = provenance(["attest", directory + "/hello.txt", "--key", directory + "/k.key"])
        #expect(notManifest.outcome == .exited(65))
    }

    @Test("interoperability: securesystemslib verifies our envelope; we verify one it signed")
    func interoperability() throws {
        let directory = try signed()
        let ours = interop("verify \(directory)/env.att.json \(directory)/k.pub")
        #expect(ours.status == 0, "\(ours.output)")
        #expect(ours.output == "https://in-toto.io/Statement/v1 https://provenance.dev/manifest/v1\n")
        #expect(provenance(["keygen", "--out", directory + "/other"]).outcome == .exited(0))
        #expect(interop("verify \(directory)/env.att.json \(directory)/other.pub").status == 1, "another key does not verify")

        // A statement signed by securesystemslib with a key made by pyca/cryptography.
        let manifest = try readJSON(directory + "/env.json")
        let statement = InTotoStatement(subjects: [.init(name: "model.bin", digest: ["sha256": String(repeating: "0", count: 64)])],
                                        predicate: manifest)
        try AtomicFile.write(statement.payload, to: directory + "/statement.json")
        let signed = interop("sign \(directory)/statement.json \(directory)/py > \(directory)/py.att.json")
        #expect(signed.status == 0, "\(signed.output)")
        let theirs = provenance(["verify-attestation", directory + "/py.att.json", "--key", directory + "/py.pub"])
        #expect(theirs.outcome == .exited(0), "\(theirs.stderrText)")
        #expect(theirs.stdoutText.contains("manifest \(manifest["fingerprint"]?.stringValue ?? "?")"))
        #expect(provenance(["verify-attestation", directory + "/py.att.json", "--key", directory + "/k.pub"]).outcome == .exited(2))
        // And we can sign with the key Python made.
        let withTheirKey = provenance(["attest", directory + "/env.json", "--key", directory + "/py.key", "-o", directory + "/ours-py.json"])
        #expect(withTheirKey.outcome == .exited(0), "\(withTheirKey.stderrText)")
        #expect(interop("verify \(directory)/ours-py.json \(directory)/py.pub").status == 0)
    }
}
