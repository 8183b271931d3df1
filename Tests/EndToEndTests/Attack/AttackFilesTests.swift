import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Killed and concurrent captures never leave a manifest beside a patch it does not refer to,
/// nor temporaries; outputs that are devices, links or FIFOs are handled as documented.
@Suite("Attack: files that belong together", .serialized)
struct AttackFilesTests {
    /// A git repository whose uncommitted change is `content`.
    static func dirtyRepository(_ path: String, _ content: String) {
        _ = shell("""
            mkdir -p '\(path)' && cd '\(path)' && git init -q -b main . && echo base > f && git add f \
            && git -c user.email=a@b -c user.name=a commit -qm base && printf '%s\\n' '\(content)' > f
            """)
    }

    /// Problems of the manifest at `path`: each attachment file exists and has the digest the
    /// manifest names.
    static func mismatches(_ path: String) -> [String] {
        guard let bytes = try? RootedFileSystem().readBytes(path), let manifest = try? JSONParser.parse(bytes) else {
            return ["\(path): no readable manifest"]
        }
        let directory = String(path[..<path.lastIndex(of: "/")!])
        var problems: [String] = []
        for (digest, attachment) in manifest["attachments"]?.objectValue ?? [:] {
            guard let file = attachment["file"]?.stringValue else { continue }
            guard let patch = try? RootedFileSystem().readBytes(directory + "/" + file) else {
                problems.append("\(file) is missing"); continue
            }
            if Manifest.sha256(patch) != digest { problems.append("\(file) does not match \(digest.prefix(19))") }
        }
        let digests = GitProbeDigests.in(manifest)
        if digests.isEmpty { problems.append("no patch recorded") }
        for digest in digests where manifest["attachments"]?[digest] == nil { problems.append("\(digest) not attached") }
        return problems
    }

    static func temporaries(_ directory: String) -> [String] {
        (try? RootedFileSystem().list(directory))??.filter { $0.contains(".tmp-") } ?? []
    }

    @Test("a kill at any rename (strace inject), random kills and concurrent captures: 0 mismatches, 0 leftovers")
    func killsAndRaces() throws {
        guard straceIsInstalled() else { return }
        let base = temporaryDirectory()
        let output = base + "/out/env.json"
        var kills = 0
        var mismatches: [String] = []
        // Deterministic: the capture is killed at its 1st, 2nd, 3rd rename.
        for when in 1...3 {
            Self.dirtyRepository(base + "/repo\(when)", "first \(when)")
            #expect(provenance(["capture", "-q", "--no-cache", "--only", "git", "--repo", base + "/repo\(when)", "-o", output])
                .outcome == .exited(0))
            _ = shell("echo 'second \(when)' > '\(base)/repo\(when)/f'")
            let killed = shell("""
                strace -f -qq -o /dev/null -e trace=rename -e inject=rename:signal=SIGKILL:when=\(when) \
                '\(Project.executable)' capture -q --no-cache --only git --repo '\(base)/repo\(when)' -o '\(output)'; echo $?
                """, timeout: 60)
            if killed.output.trimmed == "137" { kills += 1 }
            mismatches += Self.mismatches(output).map { "kill at rename \(when): \($0)" }
        }
        // Random kills while writing.
        for round in 0..<30 {
            Self.dirtyRepository(base + "/r\(round)", "round \(round)")
            let delay = Double(round % 10) * 0.02 + 0.05
            let result = shell("""
                timeout -s KILL \(delay) '\(Project.executable)' capture -q --no-cache --only git --repo '\(base)/r\(round)' \
                -o '\(output)'; echo $?
                """, timeout: 60)
            if result.output.trimmed == "137" { kills += 1 }
            if RootedFileSystem().exists(output) {
                mismatches += Self.mismatches(output).map { "random kill \(round): \($0)" }
            }
        }
        // Concurrent captures of different repositories to one path: 3 rounds of 20.
        for round in 0..<3 {
            for index in 0..<20 { Self.dirtyRepository(base + "/c\(round)-\(index)", "concurrent \(round) \(index)") }
            _ = shell((0..<20).map { index in
                "'\(Project.executable)' capture -q --no-cache --only git --repo '\(base)/c\(round)-\(index)' -o '\(output)' &"
            }.joined(separator: "\n") + "\nwait", timeout: 120)
            mismatches += Self.mismatches(output).map { "concurrent round \(round): \($0)" }
        }
        // Leftover temporaries of killed writers go with the next capture (once over a minute old).
        _ = shell("for f in '\(base)/out'/.*.tmp-*; do [ -e \"$f\" ] && touch -d '2 minutes ago' \"$f\"; done; true")
        let leftBefore = Self.temporaries(base + "/out").count
        #expect(provenance(["capture", "-q", "--no-cache", "--only", "git", "--repo", base + "/repo1", "-o", output])
            .outcome == .exited(0))
        let leftovers = Self.temporaries(base + "/out")
        let patches = (try RootedFileSystem().list(base + "/out") ?? []).filter { $0.hasSuffix(".patch") }
        print("attack files: kills \(kills), mismatches \(mismatches.count), leftovers \(leftovers.count) (\(leftBefore) before cleanup), patches left \(patches.count)")
        // A capture renames twice (its patch, then its manifest): kills at the 1st and 2nd rename.
        #expect(kills >= 2, "the deterministic kills did not happen")
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
        #expect(leftovers.isEmpty, "\(leftovers)")
        #expect(patches.count == 1, "obsolete patches are removed: \(patches)")
        #expect(Self.mismatches(output).isEmpty)
    }

    @Test("a temporary of a live writer, or a fresh one, is kept")
    func liveTemporariesKept() throws {
        let base = temporaryDirectory()
        try AtomicFile.write(Array("x".utf8), to: base + "/.env.json.tmp-\(getpid())-1")
        try AtomicFile.write(Array("x".utf8), to: base + "/.env.json.tmp-999999-2")  // fresh: kept
        _ = shell("touch -d '2 minutes ago' '\(base)/.env.json.tmp-\(getpid())-1'")
        AtomicFile.removeStaleTemporaries(in: base)
        #expect(Self.temporaries(base).count == 2)
        _ = shell("touch -d '2 minutes ago' '\(base)/.env.json.tmp-999999-2'")
        AtomicFile.removeStaleTemporaries(in: base)
        #expect(Self.temporaries(base) == [".env.json.tmp-\(getpid())-1"])
    }

    @Test("-o to a block device (directly or through a symlink) is refused; a symlink to a file is replaced, its target untouched")
    func devicesAndLinks() throws {
        let base = temporaryDirectory()
        // A block device node (no disk behind it: the refusal comes before any open).
        guard shell("mknod '\(base)/blk' b 7 250").status == 0 else {
            Issue.record("mknod needs root"); return
        }
        _ = shell("ln -s '\(base)/blk' '\(base)/link-to-blk'")
        for target in [base + "/blk", base + "/link-to-blk"] {
            let result = provenance(["capture", "-q", "--only", "os", "-o", target])
            #expect(result.outcome == .exited(73), "\(target): \(result.stderrText)")
            #expect(result.stderrText.contains("is a block device"), "\(result.stderrText)")
        }
        try AtomicFile.write(Array("precious".utf8), to: base + "/precious")
        _ = shell("ln -s '\(base)/precious' '\(base)/env.json'")
        #expect(provenance(["capture", "-q", "--only", "os", "-o", base + "/env.json"]).outcome == .exited(0))
        #expect(try RootedFileSystem().read(base + "/precious") == "precious")
        #expect(shell("test -L '\(base)/env.json' || echo regular").output.trimmed == "regular")
        // /dev/null and /dev/stdout stay streams.
        #expect(provenance(["capture", "-q", "--only", "os", "-o", "/dev/null"]).outcome == .exited(0))
    }

    @Test("-o to a FIFO with no reader gives up after the stream timeout instead of hanging")
    func fifoWithoutReader() throws {
        let base = temporaryDirectory()
        #expect(shell("mkfifo '\(base)/fifo'").status == 0)
        let started = monotonicSeconds()
        let result = provenance(["capture", "-q", "--only", "os", "-o", base + "/fifo"],
                                environment: ["PROVENANCE_STREAM_TIMEOUT_SECONDS": "2"], timeout: 30)
        #expect(result.outcome == .exited(73), "\(result.outcome) \(result.stderrText)")
        #expect(result.stderrText.contains("no reader"), "\(result.stderrText)")
        #expect(monotonicSeconds() - started < 15)
        // With a reader it is written.
        let read = shell("cat '\(base)/fifo' > '\(base)/got' & '\(Project.executable)' capture -q --only os -o '\(base)/fifo'; wait; head -c 1 '\(base)/got'")
        #expect(read.output == "{")
    }
}

/// The patch digests a manifest's git section records.
enum GitProbeDigests {
    static func `in`(_ manifest: JSONValue) -> [String] {
        (manifest["sections"]?["git"]?["data"]?["repositories"]?.arrayValue ?? []).compactMap { $0["diff"]?["sha256"]?.stringValue }
    }
}
