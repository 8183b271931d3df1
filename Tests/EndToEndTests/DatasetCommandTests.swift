import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A dataset of a few files under a fresh directory: `DIR/data`.
private func datasetDirectory() -> (directory: String, data: String) {
    let directory = temporaryDirectory()
    let data = directory + "/data"
    let script = """
        set -e
        mkdir -p '\(data)/images/a' '\(data)/labels'
        seq 1 100000 > '\(data)/images/a/big.txt'
        printf 'cat\\n' > '\(data)/labels/0.txt'
        printf 'dog\\n' > '\(data)/labels/1.txt'
        printf 'odd' > "$(printf '\(data)/caf\\351.bin')"
        ln -s labels/0.txt '\(data)/first-label'
        """
    let result = shell(script)
    precondition(result.status == 0, result.output)
    return (directory, data)
}

private func removeDirectory(_ directory: String) {
    precondition(directory.hasPrefix("/tmp/provenance-e2e-"))
    _ = shell("rm -rf '\(directory)'")
}

/// The recomputation command docs/datasets.md documents, with PATH replaced.
private func readmeCommand(path: String) throws -> String {
    let readme = try #require(try RootedFileSystem(root: Project.root).read("/docs/datasets.md"))
    let line = try #require(readme.lines.first { $0.contains("find . -type f -print0") && $0.contains("cd PATH") },
                            "docs/datasets.md shows no recomputation command")
    var command = line.trimmed
    if let comment = command.range(of: "  #") { command = String(command[..<comment.lowerBound]).trimmed }
    return command.replacingOccurrences(of: "PATH", with: "'\(path)'")
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        var result = ""
        var rest = self[...]
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }

    fileprivate func range(of target: String) -> Range<String.Index>? {
        self[...].range(of: target)
    }
}

extension Substring {
    fileprivate func range(of target: String) -> Range<String.Index>? {
        var index = startIndex
        while index < endIndex {
            if self[index...].hasPrefix(target) { return index..<self.index(index, offsetBy: target.count) }
            index = self.index(after: index)
        }
        return nil
    }
}

@Suite("provenance capture --dataset, end to end")
struct DatasetCommandTests {
    @Test("the datasets section: valid, recomputable with the README's command; --sums passes sha256sum -c")
    func capture() throws {
        let (directory, data) = datasetDirectory()
        defer { removeDirectory(directory) }
        let result = provenance(["capture", "--dataset", "train=\(data)", "-o", directory + "/env.json",
                                 "--sums", directory + "/train.sha256"],
                                environment: ["XDG_CACHE_HOME": directory + "/cache"])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        // Not a terminal: no progress, only the summary line.
        #expect(result.stderrText.lines.count == 1, "\(result.stderrText)")
        #expect(result.stderrText.hasPrefix("provenance: wrote \(directory)/env.json: ") && result.stderrText.contains("; sha256:"))
        let manifest = try readJSON(directory + "/env.json")
        let section = try #require(manifest["sections"]?["datasets"])
        #expect(section["status"] == "ok")
        let train = try #require(section["data"]?["train"])
        #expect(train["path"]?.stringValue == data)
        #expect(train["kind"] == "directory")
        #expect(train["fileCount"] == 4)
        #expect(train["files"]?.arrayValue?.map { $0["path"]?.stringValue ?? "" }
            == ["caf\u{FFFD}.bin", "images/a/big.txt", "labels/0.txt", "labels/1.txt"])
        #expect(train["files"]?.arrayValue?.first?["pathBytes"] == "Y2Fm6S5iaW4=")
        #expect(train["symlinks"] == [["path": "first-label", "target": "labels/0.txt", "resolves": "inside"]])
        #expect(train["skipped"] == [])
        #expect(section["volatile"]?["train"]?["filesRead"] == 4)

        let validation = validateWithSchema([directory + "/env.json"])
        #expect(validation.ok, "\(validation.output)")

        let recomputed = shell(try readmeCommand(path: data))
        #expect(recomputed.status == 0)
        #expect(train["digest"]?.stringValue == "sha256:" + recomputed.output.prefix(64))

        let check = shell("cd / && sha256sum -c '\(directory)/train.sha256'")
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.lines.count == 4)
        #expect(check.output.lines.allSatisfy { $0.hasSuffix(": OK") })
        // Every path in --sums is absolute.
        let sums = try #require(try RootedFileSystem().readBytes(directory + "/train.sha256"))
        #expect(sums.split(separator: 0x0A).allSatisfy { Array($0.dropFirst(66)).starts(with: Array(data.utf8)) })
    }

    @Test("a re-capture of an unchanged dataset reads no data; --no-cache and a touched file read again")
    func cache() throws {
        let (directory, data) = datasetDirectory()
        defer { removeDirectory(directory) }
        let environment = ["XDG_CACHE_HOME": directory + "/cache"]
        // Files changed within 2 s of a hash are not cached (their timestamps could hide a change).
        usleep(2_100_000)
        func capture(_ extra: [String] = []) throws -> JSONValue {
            let result = provenance(["capture", "-q", "--dataset", "train=\(data)", "-o", directory + "/env.json"] + extra,
                                    environment: environment)
            #expect(result.outcome == .exited(0), "\(result.stderrText)")
            return try readJSON(directory + "/env.json")
        }
        let first = try capture()
        #expect(first["sections"]?["datasets"]?["volatile"]?["train"]?["filesRead"] == 4)
        #expect(first["sections"]?["datasets"]?["volatile"]?["train"]?["cache"] == "new")
        let second = try capture()
        let statistics = second["sections"]?["datasets"]?["volatile"]?["train"]
        #expect(statistics?["filesRead"] == 0)
        #expect(statistics?["bytesRead"] == 0)
        #expect(statistics?["cacheHits"] == 4)
        #expect(statistics?["cache"] == "used")
        #expect(first["fingerprint"] == second["fingerprint"])

        let uncached = try capture(["--no-cache"])
        #expect(uncached["sections"]?["datasets"]?["volatile"]?["train"]?["filesRead"] == 4)
        #expect(uncached["sections"]?["datasets"]?["volatile"]?["train"]?["cache"] == "off")

        #expect(shell("touch -d '2020-01-01' '\(data)/labels/1.txt'").status == 0)
        let touched = try capture()
        #expect(touched["sections"]?["datasets"]?["volatile"]?["train"]?["filesRead"] == 1)
        #expect(touched["fingerprint"] == first["fingerprint"])

        #expect(shell("printf 'cow\\n' > '\(data)/labels/1.txt'").status == 0)
        let changed = try capture()
        #expect(changed["fingerprint"] != first["fingerprint"])
        #expect(changed["sections"]?["datasets"]?["data"]?["train"]?["digest"]
            != first["sections"]?["datasets"]?["data"]?["train"]?["digest"])

        // A damaged cache costs a full re-read, never the capture.
        #expect(shell("for f in '\(directory)'/cache/provenance/*.cache; do head -c 100 /dev/urandom > \"$f\"; done").status == 0)
        let damaged = try capture()
        #expect(damaged["sections"]?["datasets"]?["volatile"]?["train"]?["cache"]?.stringValue?.hasPrefix("ignored: ") == true)
        #expect(damaged["sections"]?["datasets"]?["status"] == "ok")
    }

    @Test("a large dataset keeps its listing in a sidecar whose SHA-256 is the dataset digest")
    func sidecar() throws {
        let (directory, data) = datasetDirectory()
        defer { removeDirectory(directory) }
        let result = provenance(["capture", "-q", "--no-cache", "--dataset", "train=\(data)", "--dataset",
                                 "labels=\(data)/labels", "--dataset-list-limit", "3", "-o", directory + "/run/env.json"])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        let manifest = try readJSON(directory + "/run/env.json")
        let section = manifest["sections"]?["datasets"]
        let train = section?["data"]?["train"]
        #expect(train?["files"] == nil)
        #expect(train?["fileCount"] == 4)
        #expect(section?["data"]?["labels"]?["files"]?.arrayValue?.count == 2)
        #expect(section?["volatile"]?["train"]?["sidecar"] == "env.datasets.train.sha256")
        #expect(section?["volatile"]?["labels"]?["sidecar"] == nil)
        let sidecar = directory + "/run/env.datasets.train.sha256"
        let digest = shell("sha256sum '\(sidecar)'").output.prefix(64)
        #expect(train?["digest"]?.stringValue == "sha256:" + digest)
        let check = shell("cd '\(data)' && sha256sum -c '\(sidecar)'")
        #expect(check.status == 0, "\(check.output)")
        #expect(!RootedFileSystem().exists(directory + "/run/env.datasets.labels.sha256"))
        let validation = validateWithSchema([directory + "/run/env.json"])
        #expect(validation.ok, "\(validation.output)")
    }

    @Test("a file even root cannot read makes the section partial, with an issue naming it")
    func partial() throws {
        guard shell("cat /proc/sys/vm/drop_caches >/dev/null 2>&1").status != 0 else { return }
        let directory = temporaryDirectory()
        defer { removeDirectory(directory) }
        let result = provenance(["capture", "-q", "--no-cache", "--only", "os", "--dataset", "vm=/proc/sys/vm",
                                 "-o", directory + "/env.json"])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        let section = try readJSON(directory + "/env.json")["sections"]?["datasets"]
        #expect(section?["status"] == "partial")
        #expect(section?["issues"]?.arrayValue?.contains {
            $0["source"] == "/proc/sys/vm/drop_caches" && $0["message"] == "unreadable: permission denied"
        } == true)
        let validation = validateWithSchema([directory + "/env.json"])
        #expect(validation.ok, "\(validation.output)")
    }

    @Test("verify hashes the recorded datasets again and names the file that changed")
    func verify() throws {
        let (directory, data) = datasetDirectory()
        defer { removeDirectory(directory) }
        let environment = ["XDG_CACHE_HOME": directory + "/cache"]
        let recorded = provenance(["capture", "-q", "--dataset", "train=\(data)", "-o", directory + "/env.json"],
                                  environment: environment)
        #expect(recorded.outcome == .exited(0), "\(recorded.stderrText)")
        let same = provenance(["verify", directory + "/env.json"], environment: environment)
        #expect(same.outcome == .exited(0), "\(same.stdoutText)\(same.stderrText)")
        #expect(shell("printf 'cow\\n' > '\(data)/labels/1.txt'").status == 0)
        let changed = provenance(["verify", directory + "/env.json"], environment: environment)
        #expect(changed.outcome == .exited(2))
        #expect(changed.stdoutText.contains("datasets.train.files[labels/1.txt].sha256"), "\(changed.stdoutText)")
        // The file names the change; the dataset's digest is not repeated; the fix names both digests.
        #expect(!changed.stdoutText.contains("datasets.train.digest"), "\(changed.stdoutText)")
        #expect(changed.stdoutText.contains("fix: \(data)/labels/1.txt differs: recorded sha256 "), "\(changed.stdoutText)")
    }

    @Test("dataset flags that cannot work: one line, a distinct exit code", arguments: [
        (["--dataset", "train"], Int32(64), "--dataset takes NAME=PATH"),
        (["--dataset", "a.b=/tmp"], 64, "invalid dataset name 'a.b'"),
        (["--dataset", "x=/tmp", "--dataset", "x=/etc"], 64, "dataset name 'x' is given twice"),
        (["--dataset", "x=/nonexistent/data"], 66, "--dataset x=/nonexistent/data: no such file or directory"),
        (["--dataset", "x=/dev/null"], 66, "not a regular file or directory"),
        (["--dataset", "x=/tmp", "--root", Project.machines + "/host-hwloc-20em64t-hybrid"], 64,
         "--dataset cannot be combined with --root"),
        (["--sums", "/tmp/sums"], 64, "--sums needs --dataset"),
        (["--only", "datasets"], 64, "the datasets probe needs --dataset"),
        (["--dataset", "x=/tmp", "--no-probe", "datasets"], 64, "contradict"),
        (["--dataset", "x=/tmp", "--dataset-threads", "0"], 64, "--dataset-threads must be between 1 and 1024"),
        (["--dataset", "x=/tmp", "--dataset-list-limit=-1"], 64, "--dataset-list-limit must be"),
    ])
    func badFlags(arguments: [String], code: Int32, message: String) {
        let directory = temporaryDirectory()
        defer { removeDirectory(directory) }
        let result = provenance(["capture", "-o", directory + "/env.json"] + arguments)
        #expect(result.outcome == .exited(code), "\(result.stderrText)")
        #expect(result.stderrText.lines.count == 1, "\(result.stderrText)")
        #expect(result.stderrText.contains(message), "\(result.stderrText)")
        #expect(!RootedFileSystem().exists(directory + "/env.json"))
    }

    @Test("without --dataset there is no datasets section at all")
    func noSection() throws {
        let result = provenance(["capture", "-q", "-o", "-"])
        let manifest = try JSONParser.parse(result.stdout)
        #expect(manifest["sections"]?["datasets"] == nil)
        #expect(manifest["sections"]?["os"]?["status"] == "ok")
    }
}
