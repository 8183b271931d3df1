import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp, removed by `cleanUp`.
private func scratchDirectory(_ label: String) -> String {
    let path = "/tmp/provenance-dataset-\(label)-\(getpid())-\(Int.random(in: 0...1_000_000_000))"
    mkdir(path, 0o755)
    return path
}

private func cleanUp(_ path: String) {
    _ = shell("chmod -R u+rwx '\(path)' 2>/dev/null; rm -rf '\(path)'")
}

/// Quotes a path for /bin/sh.
private func quoted(_ path: String) -> String { "'" + path.replacingAll("'", with: "'\\''") + "'" }

extension String {
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

/// A small dataset of varied files: nested directories, an empty file, a file larger than the
/// read buffer, names with spaces, a backslash, a line feed and invalid UTF-8.
private func makeDataset(at root: String) {
    let script = """
        set -e
        cd \(quoted(root))
        mkdir -p a/b/c 'with space' empty-dir
        printf 'hello\\n' > a/one.txt
        printf '' > a/b/empty
        head -c 3000000 /dev/urandom > a/b/c/big.bin
        seq 1 20000 > 'with space/numbers list.txt'
        printf 'back' > "$(printf 'back\\\\slash')"
        printf 'newline' > "$(printf 'new\\nline')"
        printf 'latin1' > "$(printf 'caf\\351.txt')"
        for i in $(seq 1 50); do printf "file $i" > a/b/small-$i; done
        """
    let result = shell(script)
    precondition(result.status == 0, "could not make the dataset: \(result.output)")
}

/// `sha256sum` of every regular file, as path → hex (paths relative, `./` dropped).
private func coreutilsDigests(_ root: String) -> [String: String] {
    let output = shell("cd \(quoted(root)) && find . -type f -print0 | xargs -0 -r sha256sum").output
    var digests: [String: String] = [:]
    for line in output.split(separator: "\n") {
        // Escaped lines (names with \ or newline) start with a backslash; compare those through the listing test.
        guard !line.hasPrefix("\\") else { continue }
        let hex = String(line.prefix(64))
        let path = String(line.dropFirst(66).dropFirst(2))
        digests[path] = hex
    }
    return digests
}

private func hasher(cache: String? = nil) -> DatasetHasher {
    var hasher = DatasetHasher(cacheDirectory: cache)
    hasher.racyNanoseconds = 0
    hasher.threads = 2
    hasher.bufferSize = 1 << 20
    return hasher
}

@Suite("Dataset hashing against coreutils")
struct DatasetCoreutilsTests {
    @Test("per-file digests equal sha256sum's; the dataset digest equals the coreutils pipeline")
    func digestsMatchCoreutils() throws {
        let root = scratchDirectory("coreutils")
        defer { cleanUp(root) }
        makeDataset(at: root)
        let result = try hasher().hash(path: root)

        let expected = coreutilsDigests(root)
        #expect(result.files.count == 57)
        var compared = 0
        for file in result.files {
            guard let hex = expected[String(decoding: file.path, as: UTF8.self)],
                  DatasetListing.isValidUTF8(file.path) else { continue }
            #expect(file.digest.hex == hex, "\(String(decoding: file.path, as: UTF8.self))")
            compared += 1
        }
        #expect(compared >= 54)
        #expect(result.totalBytes == Int64(shell("cd \(quoted(root)) && find . -type f -printf '%s\\n' | awk '{s+=$1} END {print s}'").output.trimmed))

        let pipeline = shell("cd \(quoted(root)) && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum")
        #expect(pipeline.status == 0)
        #expect(result.digest.hex == String(pipeline.output.prefix(64)))
        // The listing is byte for byte what the pipeline hashes (invalid UTF-8 and escapes included).
        let listing = LiveCommandRunner(environment: processEnvironment()).run(
            ["/bin/sh", "-c", "cd \(quoted(root)) && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum"],
            timeout: 30)
        #expect(DatasetListing.listing(result.files) == listing.stdout)
    }

    @Test("changing one byte changes that file's digest and the dataset digest, nothing else")
    func oneByte() throws {
        let root = scratchDirectory("onebyte")
        defer { cleanUp(root) }
        makeDataset(at: root)
        let before = try hasher().hash(path: root)
        // Same size, one byte different, in the middle of the large file.
        #expect(shell("printf 'X' | dd of=\(quoted(root))/a/b/c/big.bin bs=1 seek=1500000 conv=notrunc 2>/dev/null").status == 0)
        let after = try hasher().hash(path: root)
        #expect(before.files.count == after.files.count)
        #expect(before.digest != after.digest)
        let changed = zip(before.files, after.files).filter { $0.digest != $1.digest }.map { String(decoding: $0.0.path, as: UTF8.self) }
        #expect(changed == ["a/b/c/big.bin"])
        #expect(zip(before.files, after.files).allSatisfy { $0.path == $1.path && $0.size == $1.size })
    }

    @Test("a single file is a dataset of one: its name in the listing, its digest sha256sum's")
    func singleFile() throws {
        let root = scratchDirectory("single")
        defer { cleanUp(root) }
        #expect(shell("cd \(quoted(root)) && seq 1 1000 > model.bin && ln -s model.bin current").status == 0)
        let result = try hasher().hash(path: root + "/current")
        #expect(result.kind == .file)
        #expect(result.files.map { String(decoding: $0.path, as: UTF8.self) } == ["current"])
        #expect(result.realPath == root + "/model.bin")
        let expected = shell("cd \(quoted(root)) && sha256sum ./current | sha256sum").output
        #expect(result.digest.hex == String(expected.prefix(64)))
        #expect(result.files[0].digest.hex == String(shell("sha256sum \(quoted(root))/model.bin").output.prefix(64)))
    }

    @Test("an empty directory has the digest of the empty listing")
    func emptyDirectory() throws {
        let root = scratchDirectory("empty")
        defer { cleanUp(root) }
        let result = try hasher().hash(path: root)
        #expect(result.files.isEmpty)
        #expect(result.digest.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("one thread or several, small buffer or large: the same result")
    func threadsAndBuffers() throws {
        let root = scratchDirectory("threads")
        defer { cleanUp(root) }
        makeDataset(at: root)
        var one = hasher()
        one.threads = 1
        one.bufferSize = 4096
        var many = hasher()
        many.threads = 7
        many.bufferSize = 16 << 20
        let a = try one.hash(path: root)
        let b = try many.hash(path: root)
        #expect(a.files == b.files)
        #expect(a.digest == b.digest)
    }
}

@Suite("Dataset stat cache")
struct DatasetCacheTests {
    @Test("a second hash of an unchanged dataset reads no data; touching a file invalidates only it")
    func secondHashReadsNothing() throws {
        let root = scratchDirectory("cache")
        let cache = scratchDirectory("cache-dir") + "/nested/provenance"
        defer {
            cleanUp(root)
            cleanUp(String(cache.dropLast("/nested/provenance".count)))
        }
        makeDataset(at: root)
        let first = try hasher(cache: cache).hash(path: root)
        #expect(first.statistics.cache == "new")
        #expect(first.statistics.filesRead == 57)
        #expect(first.statistics.cacheWrite == "written")

        let second = try hasher(cache: cache).hash(path: root)
        #expect(second.statistics.cache == "used")
        #expect(second.statistics.filesRead == 0)
        #expect(second.statistics.bytesRead == 0)
        #expect(second.statistics.cacheHits == 57)
        #expect(second.statistics.cacheWrite == nil, "an unchanged dataset does not rewrite its cache")
        #expect(second.digest == first.digest)
        #expect(second.files == first.files)

        // Touch: same content, new times. Only that file is read again.
        #expect(shell("touch -d '2001-02-03 04:05:06' \(quoted(root))/a/one.txt").status == 0)
        let third = try hasher(cache: cache).hash(path: root)
        #expect(third.statistics.filesRead == 1)
        #expect(third.statistics.bytesRead == 6)
        #expect(third.digest == first.digest)

        // A content change of the same size, mtime put back: the ctime still gives it away.
        #expect(shell("cd \(quoted(root)) && m=$(stat -c %y a/one.txt) && printf 'HELLO\\n' > a/one.txt && touch -d \"$m\" a/one.txt").status == 0)
        let fourth = try hasher(cache: cache).hash(path: root)
        #expect(fourth.statistics.filesRead == 1)
        #expect(fourth.digest != first.digest)
    }

    @Test("files changed just before the hash are not cached (racy timestamps)")
    func racyFilesAreNotCached() throws {
        let root = scratchDirectory("racy")
        let cache = scratchDirectory("racy-cache")
        defer {
            cleanUp(root)
            cleanUp(cache)
        }
        makeDataset(at: root)
        var racy = hasher(cache: cache)
        racy.racyNanoseconds = 3_600_000_000_000
        _ = try racy.hash(path: root)
        let again = try racy.hash(path: root)
        #expect(again.statistics.cacheHits == 0)
        #expect(again.statistics.filesRead == 57)
    }

    @Test("a corrupt cache is ignored and rewritten, never fatal", arguments: ["truncate", "flip", "garbage", "empty"])
    func corruptCache(damage: String) throws {
        let root = scratchDirectory("corrupt")
        let cache = scratchDirectory("corrupt-cache")
        defer {
            cleanUp(root)
            cleanUp(cache)
        }
        makeDataset(at: root)
        let first = try hasher(cache: cache).hash(path: root)
        let file = cache + "/" + DatasetCache.fileName(realPath: root)
        let commands = [
            "truncate": "truncate -s -7 \(quoted(file))",
            "flip": "printf 'Z' | dd of=\(quoted(file)) bs=1 seek=200 conv=notrunc 2>/dev/null",
            "garbage": "head -c 5000 /dev/urandom > \(quoted(file))",
            "empty": ": > \(quoted(file))",
        ]
        #expect(shell(commands[damage]!).status == 0)
        let second = try hasher(cache: cache).hash(path: root)
        #expect(second.statistics.cache.hasPrefix("ignored: "), "\(second.statistics.cache)")
        #expect(second.statistics.filesRead == 57)
        #expect(second.statistics.cacheWrite == "written")
        #expect(second.digest == first.digest)
        let third = try hasher(cache: cache).hash(path: root)
        #expect(third.statistics.cache == "used")
        #expect(third.statistics.filesRead == 0)
    }

    @Test("encode and decode round-trip; damage and other datasets are refused")
    func format() {
        let entries = [
            DatasetCache.Entry(path: Array("a".utf8), stat: FileStat(device: 1, inode: 2, size: 3, mtimeNanoseconds: 4,
                                                                        ctimeNanoseconds: 5), digest: FileDigest(bytes: [UInt8](repeating: 7, count: 32))),
            DatasetCache.Entry(path: [0x62, 0xFF], stat: FileStat(device: .max, inode: 9, size: -1, mtimeNanoseconds: .min,
                                                                   ctimeNanoseconds: .max), digest: FileDigest(bytes: 0..<32)),
        ]
        let bytes = DatasetCache.encode(realPath: "/data/x", entries: entries)
        guard case .success(let table) = DatasetCache.decode(bytes, realPath: "/data/x") else {
            Issue.record("did not decode")
            return
        }
        #expect(table.count == 2)
        for (index, entry) in entries.enumerated() {
            #expect(Array(table.path(index)) == entry.path)
            #expect(table.stat(index) == entry.stat)
            #expect(table.digest(index) == entry.digest)
        }
        #expect(DatasetCache.decode(bytes, realPath: "/data/y").failureText == "of another dataset")
        #expect(DatasetCache.decode(Array(bytes.dropLast()), realPath: "/data/x").failureText == "checksum mismatch")
        #expect(DatasetCache.decode([], realPath: "/data/x").failureText == "truncated")
        var other = bytes
        other[25] = UInt8(ascii: "2")
        #expect(DatasetCache.decode(other, realPath: "/data/x").failureText == "another cache version")
        let unsorted = DatasetCache.encode(realPath: "/data/x", entries: entries.reversed())
        #expect(DatasetCache.decode(unsorted, realPath: "/data/x").failureText == "entries out of order")
    }

    @Test("matching sorted paths against the cache")
    func match() {
        let entries = ["a", "b/c", "d"].map {
            DatasetCache.Entry(path: Array($0.utf8), stat: FileStat(device: 0, inode: 0, size: 0, mtimeNanoseconds: 0,
                                                                     ctimeNanoseconds: 0), digest: FileDigest(bytes: []))
        }
        guard case .success(let table) = DatasetCache.decode(DatasetCache.encode(realPath: "/", entries: entries), realPath: "/") else {
            Issue.record("did not decode")
            return
        }
        let paths = ["0", "a", "b", "b/c", "c", "d", "e"].map { Array($0.utf8) }
        #expect(DatasetCache.match(paths, in: table) == [nil, 0, nil, 1, nil, 2, nil])
    }

    @Test("the cache directory follows XDG_CACHE_HOME, else HOME")
    func directory() {
        #expect(DatasetCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "/c", "HOME": "/h"]) == "/c/provenance")
        #expect(DatasetCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "relative", "HOME": "/h"]) == "/h/.cache/provenance")
        #expect(DatasetCache.defaultDirectory(environment: ["HOME": "/"]) == "/.cache/provenance")
        #expect(DatasetCache.defaultDirectory(environment: [:]) == nil)
    }
}

extension Result where Failure == CacheProblem {
    var failureText: String? {
        if case .failure(let problem) = self { return problem.description }
        return nil
    }
}

@Suite("Dataset hostile trees")
struct DatasetHostileTreeTests {
    @Test("symbolic links are recorded, never followed; loops detected; FIFOs and sockets skipped unopened")
    func linksAndSpecialFiles() throws {
        let root = scratchDirectory("hostile")
        defer { cleanUp(root) }
        let script = """
            set -e
            cd \(quoted(root))
            mkdir -p sub
            printf data > sub/file
            ln -s sub/file inside
            ln -s ../../etc loop-free-outside
            ln -s /etc/passwd outside
            ln -s missing dangling
            ln -s loop-b loop-a
            ln -s loop-a loop-b
            ln -s . self
            ln -s .. parent
            mkfifo fifo
            python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.bind("socket")'
            """
        #expect(shell(script).status == 0)
        // A FIFO that would block a reader forever: the hash must not open it.
        let result = try hasher().hash(path: root)
        #expect(result.files.map { String(decoding: $0.path, as: UTF8.self) } == ["sub/file"])
        let links = Dictionary(uniqueKeysWithValues: result.symlinks.map {
            (String(decoding: $0.path, as: UTF8.self), ($0.resolution, String(decoding: $0.target, as: UTF8.self)))
        })
        #expect(links["inside"]?.0 == .inside && links["inside"]?.1 == "sub/file")
        #expect(links["outside"]?.0 == .outside && links["outside"]?.1 == "/etc/passwd")
        #expect(links["loop-free-outside"]?.0 == .outside)
        #expect(links["dangling"]?.0 == .dangling)
        #expect(links["loop-a"]?.0 == .loop && links["loop-b"]?.0 == .loop)
        #expect(links["self"]?.0 == .inside && links["parent"]?.0 == .outside)
        let skipped = Dictionary(uniqueKeysWithValues: result.skipped.map { (String(decoding: $0.path, as: UTF8.self), $0.kind) })
        #expect(skipped == ["fifo": .fifo, "socket": .socket])
        #expect(result.skipped.filter(\.isProblem).isEmpty)
    }

    @Test("a file removed between listing and hashing is reported as vanished")
    func vanished() throws {
        let root = scratchDirectory("vanished")
        defer { cleanUp(root) }
        makeDataset(at: root)
        var hasher = hasher()
        hasher.afterListing = { _ = shell("rm \(quoted(root))/a/one.txt && rm -r \(quoted(root))/a/b/c") }
        let result = try hasher.hash(path: root)
        let skipped = result.skipped.map { (String(decoding: $0.path, as: UTF8.self), $0.kind) }
        #expect(skipped.contains { $0 == ("a/one.txt", .vanished) })
        #expect(skipped.contains { $0 == ("a/b/c/big.bin", .vanished) })
        #expect(result.files.count == 55)
        #expect(result.skipped.filter(\.isProblem).count == 2)
    }

    @Test("a FIFO put in a file's place after listing is not read (and cannot block)")
    func fifoSwappedIn() throws {
        let root = scratchDirectory("swapped")
        defer { cleanUp(root) }
        makeDataset(at: root)
        var hasher = hasher()
        hasher.afterListing = {
            _ = shell("cd \(quoted(root)) && rm a/one.txt a/b/c/big.bin && mkfifo a/one.txt a/b/c/big.bin")
        }
        let started = monotonicSeconds()
        let result = try hasher.hash(path: root)
        #expect(monotonicSeconds() - started < 10)
        let skipped = result.skipped.map { (String(decoding: $0.path, as: UTF8.self), $0.kind) }
        #expect(skipped.count == 2)
        #expect(skipped.contains { $0 == ("a/one.txt", .changed) })
        #expect(skipped.contains { $0 == ("a/b/c/big.bin", .changed) })
    }

    @Test("a file that changes while it is read is detected and reported, not recorded")
    func changedWhileHashed() throws {
        let root = scratchDirectory("changing")
        defer { cleanUp(root) }
        makeDataset(at: root)
        var hasher = hasher()
        hasher.bufferSize = 65_536
        let target = root + "/a/b/c/big.bin"
        hasher.duringRead = { path in
            // Every read of this file sees it grow, the retry included.
            if path == Array("a/b/c/big.bin".utf8) { _ = shell("printf more >> \(quoted(target))") }
        }
        let result = try hasher.hash(path: root)
        #expect(!result.files.contains { $0.path == Array("a/b/c/big.bin".utf8) })
        #expect(result.skipped.map(\.kind) == [.changed])
        #expect(result.files.count == 56)
    }

    @Test("a file that changed once is hashed again with its new state")
    func changedOnceIsRetried() throws {
        let root = scratchDirectory("retry")
        defer { cleanUp(root) }
        makeDataset(at: root)
        var hasher = hasher()
        hasher.bufferSize = 65_536
        let target = root + "/a/b/c/big.bin"
        let flag = root + "/../" + (root.split(separator: "/").last.map(String.init) ?? "") + ".flag"
        hasher.duringRead = { path in
            if path == Array("a/b/c/big.bin".utf8) {
                _ = shell("[ -e \(quoted(flag)) ] || { touch \(quoted(flag)); printf more >> \(quoted(target)); }")
            }
        }
        defer { unlink(flag) }
        let result = try hasher.hash(path: root)
        #expect(result.skipped.isEmpty)
        let big = result.files.first { $0.path == Array("a/b/c/big.bin".utf8) }
        #expect(big?.size == 3_000_004)
        #expect(big?.digest.hex == String(shell("sha256sum \(quoted(target))").output.prefix(64)))
    }

    @Test("a file truncated while its mapped windows are hashed is reported, and the process lives")
    func truncatedWhileMapped() throws {
        let root = scratchDirectory("truncated")
        defer { cleanUp(root) }
        makeDataset(at: root)
        var hasher = hasher()
        hasher.bufferSize = 65_536
        hasher.mapWindowSize = 1 << 20
        let target = root + "/a/b/c/big.bin"
        hasher.duringRead = { path in
            // After the first 1 MiB window: the next window lies beyond the new end (SIGBUS).
            if path == Array("a/b/c/big.bin".utf8) { _ = shell("truncate -s 2000000 \(quoted(target))") }
        }
        let result = try hasher.hash(path: root)
        #expect(!result.files.contains { $0.path == Array("a/b/c/big.bin".utf8) })
        #expect(result.skipped.map(\.kind) == [.changed])
    }

    @Test("the SIGBUS guard: reading a truncated mapping gives zeros and says so")
    func guardedMapping() throws {
        let root = scratchDirectory("guard")
        defer { cleanUp(root) }
        let fd = open(root + "/file", O_RDWR | O_CREAT, 0o644)
        defer { close(fd) }
        #expect(ftruncate(fd, 1 << 20) == 0)
        let slot = try #require(MappedRegionGuard.claim())
        defer { MappedRegionGuard.release(slot) }
        let map = try #require(mmap(nil, 1 << 20, PROT_READ, MAP_SHARED, fd, 0))
        defer { munmap(map, 1 << 20) }
        #expect(ftruncate(fd, 4096) == 0)
        MappedRegionGuard.arm(slot, start: map, length: 1 << 20)
        let bytes = map.assumingMemoryBound(to: UInt8.self)
        var sum = 0
        for offset in stride(from: 0, to: 1 << 20, by: 4096) { sum += Int(bytes[offset]) }
        #expect(MappedRegionGuard.disarm(slot))
        #expect(sum == 0)
    }

    /// Root reads everything it owns, so an unreadable file is one the kernel refuses even to
    /// root: write-only sysctl files (`/proc/sys/vm/drop_caches`, mode 0200) fail with EACCES.
    @Test("a file that cannot be read, even by root, is reported")
    func unreadable() throws {
        guard RootedFileSystem().exists("/proc/sys/vm/drop_caches"),
              shell("cat /proc/sys/vm/drop_caches >/dev/null 2>&1").status != 0 else {
            return  // Readable here: nothing to test.
        }
        let result = try hasher().hash(path: "/proc/sys/vm")
        let entry = result.skipped.first { $0.path == Array("drop_caches".utf8) }
        #expect(entry?.kind == .unreadable)
        #expect(entry?.reason == "permission denied")
        #expect(entry?.isProblem == true)
    }

    @Test("a directory bind-mounted inside itself is walked once")
    func bindMountLoop() throws {
        let root = scratchDirectory("bind")
        defer { cleanUp(root) }
        #expect(shell("mkdir -p \(quoted(root))/data/inner && printf x > \(quoted(root))/data/file").status == 0)
        guard shell("mount --bind \(quoted(root))/data \(quoted(root))/data/inner 2>/dev/null").status == 0 else {
            return  // Not allowed to mount here.
        }
        defer { _ = shell("umount \(quoted(root))/data/inner") }
        let result = try hasher().hash(path: root + "/data")
        #expect(result.files.map { String(decoding: $0.path, as: UTF8.self) } == ["file"])
        #expect(result.skipped.map(\.kind) == [.directoryLoop])
        #expect(result.skipped.first?.path == Array("inner".utf8))
    }

    @Test("a non-UTF-8 name is kept exactly: raw in the listing, base64 beside a lossy path in JSON")
    func nonUTF8() throws {
        let root = scratchDirectory("latin1")
        defer { cleanUp(root) }
        #expect(shell("cd \(quoted(root)) && printf x > \"$(printf 'caf\\351 \\377.txt')\"").status == 0)
        let result = try hasher().hash(path: root)
        let raw: [UInt8] = Array("caf".utf8) + [0xE9, 0x20, 0xFF] + Array(".txt".utf8)
        #expect(result.files.map(\.path) == [raw])
        let json = DatasetsProbe.json(result, listFiles: true)
        let file = json["files"]?.arrayValue?.first
        #expect(file?["path"]?.stringValue == "caf\u{FFFD} \u{FFFD}.txt")
        #expect(file?["pathBytes"]?.stringValue.flatMap(Base64.decode) == raw)
        #expect(file?["pathBytes"]?.stringValue == String(shell("printf 'caf\\351 \\377.txt' | base64").output.trimmed))
        let listing = DatasetListing.listing(result.files)
        #expect(Array(listing.suffix(raw.count + 1)) == raw + [0x0A])
        let pipeline = shell("cd \(quoted(root)) && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum")
        #expect(result.digest.hex == String(pipeline.output.prefix(64)))
    }
}

@Suite("Dataset helpers")
struct DatasetHelperTests {
    @Test("sha256sum lines escape backslash, line feed and carriage return as coreutils does")
    func escaping() {
        let digest = FileDigest(bytes: [UInt8](repeating: 0xAB, count: 32))
        let hex = String(repeating: "ab", count: 32)
        func line(_ path: String) -> String {
            var out: [UInt8] = []
            DatasetListing.appendLine(to: &out, digest: digest, prefix: Array("./".utf8), path: Array(path.utf8))
            return String(decoding: out, as: UTF8.self)
        }
        #expect(line("plain name") == "\(hex)  ./plain name\n")
        #expect(line("a\\b") == "\\\(hex)  ./a\\\\b\n")
        #expect(line("a\nb") == "\\\(hex)  ./a\\nb\n")
        #expect(line("a\rb") == "\\\(hex)  ./a\\rb\n")
        // What this machine's sha256sum prints for the same names.
        for name in ["a\\b", "a\nb", "a\rb"] {
            let directory = scratchDirectory("escape")
            defer { cleanUp(directory) }
            let fd = open(directory + "/" + name, O_WRONLY | O_CREAT, 0o644)
            close(fd)
            let printed = shell("cd \(quoted(directory)) && find . -type f -print0 | xargs -0 sha256sum").output
            let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            var out: [UInt8] = []
            DatasetListing.appendLine(to: &out, digest: FileDigest(bytes: (0..<32).map { i in
                UInt8(Int(empty.dropFirst(i * 2).prefix(2), radix: 16)!)
            }), prefix: Array("./".utf8), path: Array(name.utf8))
            #expect(String(decoding: out, as: UTF8.self) == printed, "\(name.debugDescription)")
        }
    }

    @Test("paths sort by unsigned bytes, as LC_ALL=C sort does")
    func order() {
        let names: [[UInt8]] = [Array("a/b".utf8), Array("a-b".utf8), Array("a".utf8), [0xC3, 0xA9], Array("B".utf8), Array("a.b".utf8)]
        let sorted = names.sorted(by: DatasetListing.precedes)
        #expect(sorted == [Array("B".utf8), Array("a".utf8), Array("a-b".utf8), Array("a.b".utf8), Array("a/b".utf8), [0xC3, 0xA9]])
        #expect(DatasetListing.sortedOrder(names).map { names[$0] } == sorted)
        let many = (0..<5000).map { _ in (0..<Int.random(in: 0...12)).map { _ in UInt8.random(in: 0x2D...0x31) } }
        #expect(DatasetListing.sortedOrder(many).map { many[$0] } == many.sorted(by: DatasetListing.precedes))
        #expect(DatasetListing.sortedOrder([]) == [])
        // Parts sorted on several threads (three: one part merged alone), then merged; duplicates by index.
        let more = (0..<50_000).map { _ in (0..<Int.random(in: 0...6)).map { _ in UInt8.random(in: 0x2D...0x31) } }
        let expected = Array(more.indices).sorted {
            more[$0] != more[$1] ? DatasetListing.precedes(more[$0], more[$1]) : $0 < $1
        }
        #expect(DatasetListing.sortedOrder(more, threads: 3) == expected)
        #expect(DatasetListing.sortedOrder(more, threads: 4) == expected)
    }

    @Test("a listing formatted on several threads is the one formatted on one")
    func parallelListing() {
        let files = (0..<45_000).map { index in
            DatasetFile(path: Array("d/\(index)\(index % 7 == 0 ? "\\x" : "")".utf8), size: Int64(index),
                        digest: FileDigest(words: (UInt64(index), 1, 2, 3)))
        }
        let one = DatasetListing.listing(files)
        #expect(DatasetListing.listing(files, threads: 3) == one)
        #expect(one.count > 45_000 * 70)
    }

    @Test("UTF-8 validity decides whether pathBytes is needed")
    func jsonPath() {
        #expect(DatasetListing.jsonPath(Array("naïve/é.txt".utf8)).base64 == nil)
        #expect(DatasetListing.jsonPath([0x61, 0xFF]).text == "a\u{FFFD}")
        #expect(DatasetListing.jsonPath([0x61, 0xFF]).base64 == "Yf8=")
        #expect(DatasetListing.jsonPath([0xED, 0xA0, 0x80]).base64 != nil, "UTF-16 surrogates are not UTF-8")
        #expect(DatasetListing.jsonPath([0xC0, 0xAF]).base64 != nil, "overlong forms are not UTF-8")
    }

    @Test("--dataset NAME=PATH: names, relative paths, errors")
    func specs() throws {
        #expect(try DatasetSpec.parse("train=data/train/", workingDirectory: "/work") == DatasetSpec(name: "train", path: "/work/data/train"))
        #expect(try DatasetSpec.parse("m-1_x=/a//b/./c", workingDirectory: "/w") == DatasetSpec(name: "m-1_x", path: "/a/b/c"))
        #expect(try DatasetSpec.parse("root=/", workingDirectory: "/w").path == "/")
        #expect(try DatasetSpec.parse("up=../x=y", workingDirectory: "/w/v").path == "/w/v/../x=y")
        for bad in ["train", "=x", "a.b=x", "-a=x", "tr ain=x", "x=", String(repeating: "n", count: 65) + "=x", "é=x"] {
            #expect(throws: DatasetSpecError.self, "\(bad)") { try DatasetSpec.parse(bad, workingDirectory: "/") }
        }
    }

    @Test("allowed CPUs from the Cpus_allowed mask")
    func cpus() {
        #expect(countAllowedCPUs(status: "Name:\tx\nCpus_allowed:\tff\nCpus_allowed_list:\t0-7\n") == 8)
        #expect(countAllowedCPUs(status: "Cpus_allowed:\t00000000,00000005\n") == 2)
        #expect(countAllowedCPUs(status: "Name:\tx\n") == nil)
        #expect(availableCPUs() >= 1)
        #expect(availableCPUs() == Int(shell("nproc").output.trimmed))
    }

    @Test("the work queue: batches in order, large files given back come after them, largest first")
    func workQueue() {
        // Files 0-1 known large (8 MiB), 2-101 small or of unknown size.
        let queue = WorkQueue(order: Array(0..<102), sizes: [8 << 20, 8 << 20] + Array(repeating: 0, count: 100))
        #expect(queue.next() == [0])
        queue.finish()
        #expect(queue.next() == [1])
        queue.finish()
        let first = queue.next()
        #expect(first == Array(2..<66))
        queue.deferLarge(5, size: 10)
        queue.deferLarge(7, size: 30)
        queue.deferLarge(6, size: 20)
        #expect(queue.next() == Array(66..<102))
        // Every batch is handed out: the large ones follow, largest first, then nothing.
        #expect(queue.next() == [7])
        queue.finish()
        queue.finish()
        queue.deferLarge(100, size: 25)
        queue.finish()
        #expect(queue.next() == [100])
        queue.finish()
        #expect(queue.next() == [6])
        queue.finish()
        #expect(queue.next() == [5])
        queue.finish()
        #expect(queue.next() == nil)

        // A worker asking while another still hashes a batch waits for what it gives back.
        let waiting = WorkQueue(order: [0], sizes: [0])
        #expect(waiting.next() == [0])
        final class Box: @unchecked Sendable { var batch: [Int]? }
        let box = Box()
        runParallel(2) { thread in
            if thread == 0 {
                box.batch = waiting.next()
            } else {
                usleep(200_000)
                waiting.deferLarge(0, size: 1 << 30)
                waiting.finish()
            }
        }
        #expect(box.batch == [0])
    }

    @Test("the progress line: files, bytes, rate")
    func progressLine() {
        var snapshot = DatasetProgress.Snapshot()
        snapshot.dataset = "train"
        snapshot.phase = "hashing"
        snapshot.filesDone = 1234
        snapshot.filesTotal = 200_000
        snapshot.bytesDone = 1 << 30
        snapshot.bytesTotal = 4 << 30
        snapshot.started = 9
        snapshot.hashingStarted = 10
        #expect(snapshot.line(now: 12) == "hashing train: 1,234/200,000 files, 1.00/4.00 GiB, 536 MB/s, 617 files/s")
        snapshot.phase = "listing"
        snapshot.filesListed = 999
        #expect(snapshot.line(now: 12) == "listing train: 999 files")
    }

    @Test("the probe refuses a recorded machine and says absent without datasets")
    func probeContract() throws {
        let recorded = try collect(DatasetsProbe(), onMachine: Project.machineNames[0])
        #expect(recorded.status == .failed)
        var configuration = DatasetsProbe.Configuration()
        configuration.datasets = []
        let context = ProbeContext(fs: RootedFileSystem(), commands: ReplayCommandRunner(entries: []), clock: FixedClock(secondsSinceEpoch: 0),
                                   environment: [:], commandTimeout: 1, deadline: monotonicSeconds() + 5)
        #expect(Capture.collect(DatasetsProbe(configuration), context).status == .absent)
    }
}
