import ArgumentParser
import ProvenanceCore
import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#endif

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create an Ed25519 key pair for signing manifests: NAME.key (private) and NAME.pub.",
        discussion: """
            NAME.key is a PKCS#8 PEM private key (mode 0600), NAME.pub a SubjectPublicKeyInfo PEM \
            public key; OpenSSL and Python's cryptography read both. Existing files are never \
            overwritten. Prints the key id (sha256 of the public key's DER). Exit status: 0 written, \
            73 a key file exists or cannot be written.
            """)

    @Option(help: ArgumentHelp("Base name of the key files.", valueName: "NAME")) var out: String

    func run() throws {
        let privatePath = out + ".key", publicPath = out + ".pub"
        for path in [privatePath, publicPath] where RootedFileSystem().exists(absolutePath(path)) {
            throw UserError(message: "\(path) already exists: not overwriting a key (remove it or choose another --out)",
                            code: Exit.cannotWrite)
        }
        let pair = Attestation.generateKeyPair()
        // create(), not write(): a key appearing since the check above is not replaced either.
        do {
            try AtomicFile.create(Array(pair.privateKeyPEM.utf8), at: privatePath, mode: 0o600)
        } catch {
            throw UserError(message: error.description, code: Exit.cannotWrite)
        }
        do {
            try AtomicFile.create(Array(pair.publicKeyPEM.utf8), at: publicPath, mode: 0o644)
        } catch {
            unlink(privatePath)  // no half pair: the private key is of no use without its public key
            throw UserError(message: error.description, code: Exit.cannotWrite)
        }
        writeStandardOutput(Array("\(privatePath) \(publicPath) keyid \(pair.keyID)\n".utf8))
    }
}

struct AttestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attest",
        abstract: "Sign a manifest: an in-toto Statement v1 in a DSSE envelope, signed with Ed25519.",
        discussion: """
            The statement's predicate is the manifest (predicateType \
            \(InTotoStatement.manifestPredicateType)); each --subject file becomes a subject \
            {name: the path as given, digest: {sha256}}. The envelope's payload is the statement's \
            canonical JSON (RFC 8785), payloadType \(InTotoStatement.payloadType); the signature \
            covers the DSSE PAE and carries keyid = sha256 hex of the public key's DER. Exit status: \
            0 written, 65 the manifest or key cannot be read as one, 66 an input does not exist, 73 \
            the output cannot be written.
            """)

    @Argument(help: "The manifest to sign.") var manifest: String
    @Option(help: ArgumentHelp("The private key (PKCS#8 PEM, from `provenance keygen`).", valueName: "FILE"))
    var key: String
    @Option(help: ArgumentHelp("A file the statement is about (results, model, dataset); repeatable.", valueName: "PATH"))
    var subject: [String] = []
    @Option(name: [.short, .customLong("output")], help: "Where to write the envelope ('-' for standard output).")
    var output = "-"

    func run() throws {
        let document = try readManifest(manifest)
        let keyText = String(decoding: try readInputFile(key, what: "key"), as: UTF8.self)
        let subjects = try subject.map { path in
            InTotoStatement.Subject(name: path, digest: ["sha256": try digest(path)])
        }
        let envelope: DSSEEnvelope
        do {
            envelope = try Attestation.sign(manifest: document, subjects: subjects, privateKeyPEM: keyText)
        } catch {
            throw UserError(message: "\(key): \(error.description)", code: Exit.badInput)
        }
        let bytes = CanonicalJSON.pretty(envelope.json)
        try writeOutput(bytes, to: output)
    }
}

struct VerifyAttestationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-attestation",
        abstract: "Verify a signed manifest (DSSE envelope) with a public key, and optionally its subjects.",
        discussion: """
            Checks the envelope's shape, that its payloadType is \(InTotoStatement.payloadType), \
            that a signature over the DSSE PAE verifies with the key (a signature's keyid, when \
            present, must name this key), that the payload is an in-toto Statement v1, and that \
            each --subject file's sha256 matches the subject of the same name. Exit status: 0 \
            verified, 2 verification failed (wrong key, modified payload or signature, wrong \
            payload or statement type, subject mismatch), 65 the envelope or key cannot be read as \
            one (not JSON, truncated, missing fields, bad base64, not an Ed25519 public key), 66 an \
            input does not exist.
            """)

    @Argument(help: "The envelope written by `provenance attest`.") var envelope: String
    @Option(help: ArgumentHelp("The public key (SubjectPublicKeyInfo PEM).", valueName: "FILE")) var key: String
    @Option(help: ArgumentHelp("A file whose sha256 must match the attested subject of that name; repeatable.",
                               valueName: "PATH"))
    var subject: [String] = []

    func run() throws {
        let bytes = try readInputFile(envelope, what: "DSSE envelope")
        let keyText = String(decoding: try readInputFile(key, what: "key"), as: UTF8.self)
        let publicKey: String
        do {
            publicKey = try Attestation.keyID(publicKeyPEM: keyText)
        } catch {
            throw UserError(message: "\(key): \(error.description)", code: Exit.badInput)
        }
        let statement: InTotoStatement
        do {
            statement = try Attestation.verify(envelope: bytes, publicKeyPEM: keyText)
        } catch let failure as DSSEEnvelope.Failure {
            if failure.isMalformedInput {
                throw UserError(message: "\(envelope): \(failure.description)", code: Exit.badInput)
            }
            throw UserError(message: "verification failed: \(envelope): \(failure.description)", code: Exit.differences)
        }
        let actual = try subject.map { (name: $0, sha256: try digest($0)) }
        let mismatches = Attestation.subjectMismatches(statement, actual: actual)
        if let first = mismatches.first {
            let more = mismatches.count > 1 ? " (and \(mismatches.count - 1) more)" : ""
            throw UserError(message: "verification failed: \(envelope): subject \(first)\(more)", code: Exit.differences)
        }
        let fingerprint = statement.predicate["fingerprint"]?.stringValue.map { "; manifest \($0)" } ?? ""
        let subjects = subject.isEmpty ? "\(statement.subjects.count) subjects" : "\(subject.count) subjects match"
        // The predicate type and fingerprint come from the envelope: printed terminal-safe.
        let line = "verified: signed by key \(publicKey); \(statement.predicateType); \(subjects)\(fingerprint)"
        writeStandardOutput(Array((line.terminalSafe + "\n").utf8))
    }
}

/// Streamed sha256 of a file named on the command line.
private func digest(_ path: String) throws -> String {
    guard RootedFileSystem().exists(absolutePath(path)) else {
        throw UserError(message: "\(path): no such file", code: Exit.noInput)
    }
    do {
        return try FileSHA256.sha256(path: path)
    } catch {
        throw UserError(message: error.description, code: Exit.noInput)
    }
}
