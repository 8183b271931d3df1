#if canImport(Glibc)
import Glibc
#endif
import Testing

@testable import ProvenanceCore

/// The masking rules on their own: what must be masked, and what must stay (over-masking loses
/// the facts a manifest is for).
@Suite("Secrets: masking by name and by form")
struct SecretsMaskingTests {
    @Test("values that carry a secret inside are masked", arguments: [
        ("MYSQL_PWD", "x"), ("db_pwd", "x"), ("GPG_PASSPHRASE", "x"), ("SSHPASS", "x"),
        ("PGOPTS", "host=db password=abc"), ("CONN", "Driver=x;UID=u;PWD=abc"),
        ("AZ", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc==;EndpointSuffix=x"),
        ("OPTS", "--jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlMTIz"),
        ("OPTS", "--hub hf_AbCdEfGhIjKlMnOpQrStUvWx"), ("H", "Authorization: Bearer abc"), ("H", "X-Api-Key: abc"),
        ("CMD", "deploy --password abc"), ("JOB", "train --token ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    ])
    func masked(name: String, value: String) {
        #expect(Secrets.maskValue(value, name: name) == Secrets.mask)
    }

    @Test("ordinary values stay", arguments: [
        ("PATH", "/usr/local/auth-tools/bin:/opt/token-server/bin:/usr/bin"), ("PWD", "/home/u/project"),
        ("OLDPWD", "/home/u"), ("CUDA_VISIBLE_DEVICES", "0,1"), ("OMP_NUM_THREADS", "8"),
        ("TORCH_CUDA_ARCH_LIST", "8.0 9.0+PTX"), ("HF_HOME", "/data/hf"), ("PIP_INDEX_URL", "https://pypi.org/simple"),
        ("NCCL_SOCKET_IFNAME", "eth0"), ("LANG", "C.UTF-8"), ("GIT_COMMIT", "0123456789abcdef0123456789abcdef01234567"),
        ("MODEL", "bert-base-uncased"), ("TOKENIZERS_PARALLELISM", "false"), ("LD_PRELOAD", "/usr/lib/libjemalloc.so.2"),
    ])
    func kept(name: String, value: String) {
        #expect(Secrets.maskValue(value, name: name) == value)
    }

    @Test("URLs keep their shape")
    func urls() {
        #expect(Secrets.maskURL("https://u:pa/ss#w?d@host.org/x") == "https://[masked]@host.org/x")
        #expect(Secrets.maskURL("https://host.org:8443/simple") == "https://host.org:8443/simple")
        #expect(Secrets.maskURL("https://conda.anaconda.org/t/tk-123-abc/chan") == "https://conda.anaconda.org/t/[masked]/chan")
        #expect(Secrets.maskURL("https://hooks.slack.com/services/T1/B1/abc") == "https://hooks.slack.com/[masked]")
        #expect(Secrets.maskURL("https://discord.com/api/webhooks/1/abc") == "https://discord.com/[masked]")
        #expect(Secrets.maskURL("https://github.com/org/repo.git") == "https://github.com/org/repo.git")
    }

    @Test("command lines")
    func commandLines() {
        #expect(Secrets.maskCommandLine(["mysql", "-u", "root", "-phunter2", "db"]) == ["mysql", "-u", "root", "-p[masked]", "db"])
        #expect(Secrets.maskCommandLine(["sshpass", "-p", "x", "ssh", "h"]) == ["sshpass", "-p", "[masked]", "ssh", "h"])
        #expect(Secrets.maskCommandLine(["curl", "-u", "a:b", "-H", "Accept: json", "-H", "Authorization: Bearer x"])
            == ["curl", "-u", "[masked]", "-H", "Accept: json", "-H", "[masked]"])
        #expect(Secrets.maskCommandLine(["bash", "-c", "deploy --token abc --verbose"]) == ["bash", "-c", "deploy --token [masked] --verbose"])
        #expect(Secrets.maskCommandLine(["python", "train.py", "-p", "8", "--lr", "0.1", "--config", "configs/token-classifier.yaml"])
            == ["python", "train.py", "-p", "8", "--lr", "0.1", "--config", "configs/token-classifier.yaml"])
    }
}

/// The fast path of masking (`Secrets.isPlainWord`) against the full rules: a word it lets
/// through must be one the full rules leave unchanged.
@Suite("Secrets: plain words skip the full check without changing the result")
struct PlainWordTests {
    /// Every string (values and keys) of the golden captures of recorded machines.
    static func fixtureStrings() -> [String] {
        let root = #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/")
        var strings: [String] = []
        func collect(_ value: JSONValue) {
            switch value {
            case .string(let text): strings.append(text)
            case .array(let items): items.forEach(collect)
            case .object(let members): for (key, member) in members { strings.append(key); collect(member) }
            default: break
            }
        }
        func names(_ path: String) -> [String] {
            guard let directory = opendir(path) else { return [] }
            defer { closedir(directory) }
            var result: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if !name.hasPrefix(".") { result.append(name) }
            }
            return result
        }
        for machine in names(root + "/Fixtures/goldens") {
            for file in names(root + "/Fixtures/goldens/\(machine)") where file.hasSuffix(".json") {
                guard let handle = fopen(root + "/Fixtures/goldens/\(machine)/\(file)", "r") else { continue }
                var bytes: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                while case let count = fread(&buffer, 1, buffer.count, handle), count > 0 { bytes += buffer[..<count] }
                fclose(handle)
                if let value = try? JSONParser.parse(bytes) { collect(value) }
            }
        }
        return strings
    }

    @Test("strings of recorded captures: every plain word is one the full rules keep")
    func recorded() {
        let strings = Self.fixtureStrings()
        #expect(strings.count > 1_000, "the golden captures hold \(strings.count) strings")
        var plain = 0
        for text in strings where Secrets.isPlainWord(text) {
            plain += 1
            #expect(Secrets.maskValueByForm(text) == text, "\(text)")
        }
        #expect(plain > 100)
    }

    @Test("KEY=VALUE words and bare words: the fast path masks exactly as the full rules do")
    func assignments() {
        // Values and keys of the recorded captures, this machine's kernel command line, the
        // token-like and generated words of the tests here, each alone and after secret and
        // plain keys.
        var words = Self.fixtureStrings()
        if let handle = fopen("/proc/cmdline", "r") {
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            let count = fread(&buffer, 1, buffer.count, handle)
            fclose(handle)
            words += String(decoding: buffer[..<count], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        }
        words += ["ghp_16C7e42F292c6912E7710c838347Ae178B4a", "hf_AbCdEfGhIjKlMnOpQrStUvWx", "AKIAIOSFODNN7EXAMPLE",
                  "https://user:pass@example.com/x", "git@github.com:org/repo.git", "a.b-c_d", "quiet", "",
                  "abc-----BEGIN", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG", "=", "==x", "/a=b", "x=y=z"]
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcXYZ019._-=/:@")
        for _ in 0..<2_000 {
            let prefix = (Secrets.tokenPrefixes + ["", "", "", "eyJ", "-----"]).randomElement(using: &generator)!
            words.append(prefix + String((0..<Int.random(in: 0...40, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }))
        }
        var kept = 0
        for value in words {
            for word in [value, "console=" + value, "password=" + value, "a.b_c=" + value, "x/y=" + value] {
                let fast = Secrets.maskAssignment(word)
                #expect(fast == Secrets.maskAssignmentByRules(word), "\(word)")
                if fast == word { kept += 1 }
            }
        }
        #expect(kept > 1_000)
    }

    @Test("token-like words are never plain", arguments: [
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "hf_AbCdEfGhIjKlMnOpQrStUvWx", ".hf_AbCdEfGhIjKlMnOpQrStUvWx",
        "AKIAIOSFODNN7EXAMPLE", "sk-abcdefghijklmnop1234", "npm_abcdefghijklmnop1234",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlMTIz", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG",
        "glpat-abcdefghijklmnop1234", "xoxb-123456789012-abcdefABCDEF", "ATATTabcdefghijklmnop1234",
        "abc-----BEGIN", "pypi-AgEIcHlwaS5vcmcCJGFiY2RlZmdoMTIz",
    ])
    func tokens(word: String) {
        #expect(!Secrets.isPlainWord(word))
        #expect(Secrets.maskValue(word, name: "") == Secrets.mask)
    }

    @Test("generated words near the rules: every plain word is one the full rules keep")
    func generated() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcXYZ019._-")
        let prefixes = Secrets.tokenPrefixes + ["", "", "", ".", "..", "eyJ", "-----", "----"]
        var plain = 0
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...40, using: &generator)
            let word = prefixes.randomElement(using: &generator)!
                + String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
            if Secrets.isPlainWord(word) {
                plain += 1
                #expect(Secrets.maskValueByForm(word) == word, "\(word)")
            }
        }
        #expect(plain > 1_000)
    }
}
