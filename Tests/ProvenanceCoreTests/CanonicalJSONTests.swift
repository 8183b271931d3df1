import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import ProvenanceCore

@Suite("Canonical JSON (RFC 8785)")
struct CanonicalJSONTests {
    @Test("numbers take the ECMAScript form (RFC 8785 appendix B)", arguments: [
        (0.0, "0"), (-0.0, "0"), (1.0, "1"), (-1.5, "-1.5"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
        (123456789012345680000.0, "123456789012345680000"), (1e-7, "1e-7"), (0.000001, "0.000001"),
        (4.50, "4.5"), (2e-3, "0.002"), (0.000001234, "0.000001234"), (1.7976931348623157e308, "1.7976931348623157e+308"),
        (5e-324, "5e-324"), (9007199254740992.0, "9007199254740992"), (333333333.3333332, "333333333.3333332"),
        (1e23, "1e+23"), (-5e-324, "-5e-324"),
    ])
    func numberForm(value: Double, expected: String) {
        #expect(CanonicalJSON.formatNumber(value) == expected)
    }

    @Test("keys sort by UTF-16 code units, strings escape only what RFC 8785 says")
    func sortingAndEscaping() {
        // RFC 8785 section 3.2.3's sorting example: "\u{20ac}" (U+20AC) sorts before "\u{1f600}" (surrogates D83D..).
        let value: JSONValue = [
            "\u{20ac}": "Euro Sign", "\r": "Carriage Return", "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One", "\u{1f600}": "Emoji: Grinning Face", "\u{0080}": "Control", "\u{00f6}": "Latin Small Letter O With Diaeresis",
        ]
        let text = CanonicalJSON.string(value)
        let keys = ["\\r", "1", "\u{0080}", "\u{00f6}", "\u{20ac}", "\u{1f600}", "\u{fb33}"]
        var lastPosition = text.startIndex
        for key in keys {
            let range = text[lastPosition...].firstRange(of: "\"\(key)\"")
            #expect(range != nil, "key \(key) out of order in \(text)")
            if let range { lastPosition = range.upperBound }
        }
        #expect(CanonicalJSON.string(.string("a\"b\\c\u{1}\n/\u{7f}é")) == "\"a\\\"b\\\\c\\u0001\\n/\u{7f}é\"")
        #expect(CanonicalJSON.string([1, true, nil, ["a": []]]) == "[1,true,null,{\"a\":[]}]")
    }

    @Test("the byte comparison of keys orders every pair as UTF-16 code units do")
    func keyOrderMatchesUTF16() {
        // Each side of every boundary the UTF-8 shortcut relies on: ASCII, two- and three-byte
        // characters below and inside U+E000–U+FFFF, four-byte characters (surrogate pairs), and
        // prefixes of one another.
        let characters = ["", "a", "b", "\u{7f}", "\u{80}", "\u{7ff}", "\u{800}", "\u{d7ff}", "\u{e000}", "\u{fb33}",
                          "\u{ffff}", "\u{10000}", "\u{1f600}", "\u{10ffff}", "\u{20ac}"]
        var keys: [String] = []
        for first in characters { for second in characters { keys.append(first + second) } }
        keys += ["capture", "captureTime", "sections", "packages.dpkg", "gpu.nvidia", "tool", "é", "e\u{301}"]
        for a in keys {
            for b in keys {
                #expect(CanonicalJSON.precedesInUTF16Order(a, b) == a.utf16.lexicographicallyPrecedes(b.utf16),
                        "\(Array(a.unicodeScalars)) vs \(Array(b.unicodeScalars))")
            }
        }
    }

    @Test("integers are written as String(_:) writes them", arguments: [
        Int64.min, Int64.min + 1, -9_007_199_254_740_993, -10, -9, -1, 0, 1, 9, 10, 99, 100, 1_234_567_890,
        9_007_199_254_740_993, Int64.max - 1, Int64.max,
    ])
    func integers(_ value: Int64) {
        #expect(CanonicalJSON.string(.int(value)) == String(value))
        #expect(String(decoding: CanonicalJSON.pretty(.array([.int(value)])), as: UTF8.self) == "[\n  \(value)\n]\n")
    }

    @Test("pretty form has the same content as the canonical form")
    func prettyRoundTrip() throws {
        let value: JSONValue = ["b": [1, 2, ["c": "d"]], "a": .double(0.5), "e": [:], "f": []]
        let pretty = CanonicalJSON.pretty(value)
        #expect(try JSONParser.parse(pretty) == value)
        #expect(CanonicalJSON.serialize(try JSONParser.parse(pretty)) == CanonicalJSON.serialize(value))
    }
}

@Suite("JSON parser")
struct JSONParserTests {
    @Test("parses what it should")
    func valid() throws {
        let value = try JSONParser.parse(#" {"a": [1, -2.5e3, true, false, null, "x\u00e9\ud83d\ude00\n"], "big": 12345678901234567890} "#)
        #expect(value["a"] == [1, .double(-2500), true, false, nil, "xé😀\n"])
        #expect(value["big"] == .double(12345678901234567890.0))
    }

    @Test("rejects malformed input with the byte offset", arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "\"abc", "tru", "[1] x", "{\"a\" 1}", "\"\\x\"",
        "\"\\ud800\"", "\"\u{1}\"", "{\"a\":1,\"a\":2}", "NaN", "[1e999]",
    ])
    func invalid(text: String) {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(text) }
    }

    @Test("rejects invalid UTF-8 and deep nesting without crashing")
    func hostile() {
        for bytes: [UInt8] in [[0x22, 0xff, 0x22], [0x22, 0xc0, 0xaf, 0x22], [0x22, 0xed, 0xa0, 0x80, 0x22], [0x22, 0xe2, 0x82]] {
            #expect(throws: JSONParser.Error.self) { try JSONParser.parse(bytes) }
        }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(deep) }
        #expect(throws: Never.self) { try JSONParser.parse(String(repeating: "[", count: 500) + String(repeating: "]", count: 500)) }
    }
}

@Suite("Encoding probe output")
struct JSONValueEncoderTests {
    struct Sample: Encodable {
        var name: String
        var count: Int
        var bytes: UInt64
        var missing: String?
        var nested: [String: [Int]]
        var list: [Inner]
        struct Inner: Encodable { var id: Int; var tag: String? }
    }

    @Test("structs become objects, nil optionals are left out, integers stay exact")
    func encodes() throws {
        let value = try JSONValueEncoder().encode(
            Sample(name: "x", count: -3, bytes: 1 << 40, missing: nil, nested: ["a": [1, 2]],
                   list: [.init(id: 1, tag: nil), .init(id: 2, tag: "t")]))
        #expect(value == ["name": "x", "count": -3, "bytes": .int(1 << 40), "nested": ["a": [1, 2]],
                          "list": [["id": 1], ["id": 2, "tag": "t"]]])
    }

    @Test("values JSON cannot hold are errors")
    func rejects() {
        #expect(throws: EncodingError.self) { try JSONValueEncoder().encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try JSONValueEncoder().encode([UInt64.max]) }
    }
}

@Suite("Manifest and fingerprint")
struct ManifestTests {
    func manifest(time: String = "2026-01-01T00:00:00Z", host: String = "a", duration: Int64 = 5,
                  memory: Int64 = 1024, free: Int64 = 7) -> Manifest {
        Manifest(
            tool: .init(name: "provenance", version: "0.1.0"), captureTime: time, hostName: host,
            capture: .init(mode: "live", root: nil, durationMs: duration),
            sections: [
                "memory": Section(status: .ok, probeVersion: "1.0.0", data: ["memTotalBytes": .int(memory)],
                                  volatile: ["memFreeBytes": .int(free)], durationMs: duration),
                "git": Section(status: .skipped, probeVersion: "1.0.0",
                               issues: [ProbeIssue(source: "capture", message: "not selected")]),
            ])
    }

    @Test("volatile fields do not change the fingerprint; content does")
    func fingerprint() {
        let base = manifest().fingerprint
        #expect(base.hasPrefix("sha256:") && base.count == 71)
        #expect(manifest(time: "2027-05-05T10:00:00Z", host: "b", duration: 99, free: 1).fingerprint == base)
        #expect(manifest(memory: 2048).fingerprint != base)
        var changedStatus = manifest()
        changedStatus.sections["git"]?.status = .absent
        #expect(changedStatus.fingerprint != base)
    }

    @Test("the fingerprint is the sha256 of the canonical content, recomputable by anyone")
    func recomputable() throws {
        let json = manifest().json
        let sections = try #require(json["sections"]?.objectValue)
        var content: [String: JSONValue] = [:]
        for (id, section) in sections {
            var kept: [String: JSONValue] = [:]
            for key in ["status", "probeVersion", "data"] { kept[key] = section[key] }
            content[id] = .object(kept)
        }
        let document: JSONValue = ["schemaVersion": json["schemaVersion"]!, "sections": .object(content)]
        #expect(Manifest.sha256(CanonicalJSON.serialize(document)) == json["fingerprint"]?.stringValue)
        // A known vector: sha256 of the empty string.
        #expect(Manifest.sha256([]) == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("attachments are written, never fingerprinted; inline bytes as UTF-8 text or base64")
    func attachments() {
        var withFile = manifest()
        let digest = Manifest.sha256(Array("patch".utf8))
        withFile.attachments[digest] = Attachment(mediaType: "text/x-diff", sizeBytes: 5, location: .file("env.diff.patch"))
        #expect(withFile.fingerprint == manifest().fingerprint)
        #expect(withFile.json["attachments"] == .object([digest: [
            "mediaType": "text/x-diff", "sizeBytes": 5, "file": "env.diff.patch",
        ]]))
        #expect(manifest().json["attachments"] == nil)
        let text = Attachment(mediaType: "text/x-diff", sizeBytes: 5, location: .inline(Array("caf\u{e9}".utf8)))
        #expect(text.json["encoding"] == "utf-8" && text.json["content"] == "caf\u{e9}")
        let latin1 = Attachment(mediaType: "text/x-diff", sizeBytes: 4, location: .inline([0x63, 0x61, 0x66, 0xE9]))
        #expect(latin1.json["encoding"] == "base64" && latin1.json["content"] == "Y2Fm6Q==")
    }

    @Test("base64 (RFC 4648 test vectors)", arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ])
    func base64(input: String, expected: String) {
        #expect(Base64.encode(Array(input.utf8)) == expected)
    }

    @Test("RFC 3339 timestamps", arguments: [
        (Int64(0), "1970-01-01T00:00:00Z"), (951_782_400, "2000-02-29T00:00:00Z"),
        (1_795_450_000, "2026-11-23T16:06:40Z"), (-1, "1969-12-31T23:59:59Z"), (4_107_542_399, "2100-02-28T23:59:59Z"),
    ])
    func timestamps(seconds: Int64, expected: String) {
        #expect(Timestamp.rfc3339(secondsSinceEpoch: seconds) == expected)
    }
}

@Suite("Secrets")
struct SecretsTests {
    @Test("secret-looking names", arguments: [
        ("AWS_SECRET_ACCESS_KEY", true), ("GITHUB_TOKEN", true), ("OPENAI_API_KEY", true), ("--password", true),
        ("db.pass", true), ("HF_TOKEN", true), ("MY_APIKEY", true), ("PATH", false), ("CUDA_VISIBLE_DEVICES", false),
        ("KEYBOARD", false), ("OMP_NUM_THREADS", false), ("PWD", false), ("root", false),
    ])
    func names(name: String, secret: Bool) {
        #expect(Secrets.isSecretName(name) == secret)
        #expect(Secrets.isSecretNameByCharacters(name) == secret)
    }

    /// The byte path for ASCII names agrees with the rules on `Character`s: on every variable
    /// name of the recorded machines' environments and of this process, every kernel command
    /// line key recorded, and names built around every rule word (case, separators, prefixes,
    /// suffixes, `pwd`, `tokenizer`).
    @Test("ASCII names are judged on bytes exactly as on characters")
    func asciiPath() throws {
        var names: Set<String> = []
        let root = #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/")
        func read(_ path: String) -> String? {
            guard let file = fopen(path, "r") else { return nil }
            defer { fclose(file) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = fread(&buffer, 1, buffer.count, file)
                if count <= 0 { break }
                bytes += buffer[..<count]
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        var sources = ["/proc/self/environ", "/proc/cmdline"]
        if let listing = opendir(root + "/Fixtures/machines") {
            while let entry = readdir(listing) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                sources += ["/proc/self/environ", "/proc/cmdline"].map { root + "/Fixtures/machines/" + name + $0 }
            }
            closedir(listing)
        }
        for source in sources {
            for item in (read(source) ?? "").split(whereSeparator: { $0 == "\u{0}" || $0 == " " || $0 == "\n" }) {
                names.insert(String(item.split(separator: "=", maxSplits: 1).first ?? item))
            }
        }
        #expect(names.count > 100, "real names read: \(names.count)")
        let words = Array(Secrets.secretWords) + Secrets.secretFragments + ["pwd", "oldpwd", "tokenizer", "tokenizers", "keyboard", "path"]
        for word in words {
            for variant in [word, word.uppercased(), word.prefix(1).uppercased() + word.dropFirst()] {
                for (prefix, suffix) in [("", ""), ("MY_", ""), ("", "_FILE"), ("db.", ""), ("--", ""), ("x", ""), ("", "s"),
                                         ("HF_", "IZERS_PARALLELISM"), ("a-", "-b"), ("9", "9"), ("old", "")] {
                    names.insert(prefix + variant + suffix)
                }
            }
        }
        names.insert("")
        names.insert("___")
        var disagreements: [String] = []
        for name in names where Secrets.isSecretName(name) != Secrets.isSecretNameByCharacters(name) {
            disagreements.append(name)
        }
        #expect(disagreements.isEmpty, "\(disagreements.sorted().prefix(20))")
    }

    @Test("URL userinfo and secret query parameters are masked")
    func urls() {
        #expect(Secrets.maskURL("https://user:secret-token@host/r.git") == "https://[masked]@host/r.git")
        #expect(Secrets.maskURL("https://ghp_abc@github.com/o/r") == "https://[masked]@github.com/o/r")
        #expect(Secrets.maskURL("https://h/p?x=1&access_token=abc#f") == "https://h/p?x=1&access_token=[masked]#f")
        #expect(Secrets.maskURL("not a url") == "not a url")
        #expect(Secrets.maskAssignment("password=hunter2") == "password=[masked]")
        #expect(Secrets.maskAssignment("root=UUID=1234") == "root=UUID=1234")
    }

    @Test("git remote URLs: userinfo, tokens of any form, scp-like addresses keep their user", arguments: [
        ("https://user:secret-token@host/r.git", "https://[masked]@host/r.git"),
        ("https://x-access-token:ghs_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r.git",
         "https://[masked]@github.com/o/r.git"),
        ("https://oauth2:glpat-Xy7abcdEFGH12345ijkl@gitlab.example.com:8443/g/r.git",
         "https://[masked]@gitlab.example.com:8443/g/r.git"),
        ("https://github.com/o/r.git", "https://github.com/o/r.git"),
        ("ssh://git@host:2222/srv/r.git", "ssh://git@host:2222/srv/r.git"),
        ("ssh://git:hunter2@host/srv/r.git", "ssh://git:[masked]@host/srv/r.git"),
        ("https://host/api/ghp_16C7e42F292c6912E7710c838347Ae178B4a/r.git", "https://host/api/[masked]/r.git"),
        ("https://host/r.git?private_token=abc&ref=main", "https://host/r.git?private_token=[masked]&ref=main"),
        ("https://host/r.git?t=hf_AbCdEfGhIjKlMnOpQrStUvWx12345", "https://host/r.git?t=[masked]"),
        ("https://host/r?jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "https://host/r?jwt=[masked]"),
        ("https://host/x/aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3f/r.git", "https://host/x/[masked]/r.git"),
        ("https://host/archive/0123456789abcdef0123456789abcdef01234567.git",
         "https://host/archive/0123456789abcdef0123456789abcdef01234567.git"),
        ("https://host/org/hf_transformers_extension_pack", "https://host/org/hf_transformers_extension_pack"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("deploy:hunter2@host:srv/r.git", "deploy:[masked]@host:srv/r.git"),
        ("git@host:ghp_16C7e42F292c6912E7710c838347Ae178B4a/r.git", "git@host:[masked]/r.git"),
        ("/srv/git/r.git", "/srv/git/r.git"),
        ("../r", "../r"),
        ("file:///srv/git/r.git", "file:///srv/git/r.git"),
    ])
    func gitRemotes(url: String, masked: String) {
        #expect(Secrets.maskURL(url) == masked)
    }
}
