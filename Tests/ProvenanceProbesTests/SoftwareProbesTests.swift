import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

#if canImport(Glibc)
import Glibc
#endif

/// Runs a probe on this machine.
func liveSection<P: Probe>(_ probe: P, environment: [String: String]? = nil) -> Section {
    var machine = Machine.live()
    if let environment {
        machine.environment = environment
        machine.commands = LiveCommandRunner(environment: environment)
    }
    let context = ProbeContext(machine: machine, commandTimeout: 20, deadline: monotonicSeconds() + 60)
    return Capture.collect(probe, context)
}

@Suite("Software probes on this machine")
struct LiveSoftwareProbesTests {
    @Test("dpkg packages equal dpkg-query's installed packages")
    func dpkg() throws {
        let data = try #require(liveSection(DpkgProbe()).data)
        let ours = Set(data["packages"]?.arrayValue?.compactMap { package -> String? in
            guard let name = package["name"]?.stringValue, let version = package["version"]?.stringValue else { return nil }
            return "\(name):\(package["architecture"]?.stringValue ?? "") \(version)"
        } ?? [])
        let query = shell("dpkg-query -W -f='${db:Status-Abbrev}|${Package}:${Architecture} ${Version}\\n'").output
        let theirs = Set(query.lines.filter { $0.hasPrefix("ii") || $0.hasPrefix("hi") }.map { String($0.split(separator: "|")[1]) })
        #expect(ours.count > 100)
        #expect(ours == theirs, "only ours: \(ours.subtracting(theirs).prefix(5)), only dpkg-query: \(theirs.subtracting(ours).prefix(5))")
    }

    @Test("this machine's dpkg status read in blocks of lines of any size parses as the whole file does")
    func dpkgBlocks() throws {
        let fs = RootedFileSystem()
        let whole = try #require(try fs.readBytes("/var/lib/dpkg/status"), "this machine has no dpkg database")
        let expected = parseDpkgStatus(whole)
        #expect(expected.count > 100)
        // 1 and 7 bytes: every line is longer than the buffer, which grows.
        for blockBytes in [1, 7, 100, 4096, 1 << 16, 1 << 24] {
            var parser = DpkgStatusParser()
            var read: [UInt8] = []
            var blocks = 0
            let found = try fs.readLineBlocks("/var/lib/dpkg/status", blockBytes: blockBytes) { block in
                // Each block is whole lines: it ends with a newline, but the file's last one may not.
                #expect(block.last == 0x0A || read.count + block.count == whole.count)
                read += block
                blocks += 1
                parser.parse(lines: block)
            }
            #expect(found)
            #expect(read == whole, "block size \(blockBytes)")
            #expect(parser.finish() == expected, "block size \(blockBytes)")
            // A buffer larger than the file holds it in one block; a smaller one takes several.
            #expect(blockBytes > whole.count ? blocks == 1 : blocks > 1, "block size \(blockBytes): \(blocks) blocks")
        }
        #expect(try fs.readLineBlocks("/var/lib/dpkg/no-such-file") { _ in Issue.record("no block expected") } == false)
    }

    @Test("dpkg status without a final newline: its last line still counts, in blocks too")
    func dpkgLastLine() throws {
        let text = "Package: a\nStatus: install ok installed\nVersion: 1\n\nPackage: b\nStatus: install ok installed\nVersion: 2"
        let directory = "/tmp/provenance-dpkg-\(getpid())-\(Int.random(in: 0...1_000_000_000))"
        try AtomicFile.write(Array(text.utf8), to: directory + "/status")
        defer { _ = shell("rm -rf '\(directory)'") }
        let expected = [InstalledPackage(name: "a", version: "1", architecture: nil),
                        InstalledPackage(name: "b", version: "2", architecture: nil)]
        #expect(parseDpkgStatus(Array(text.utf8)) == expected)
        var parser = DpkgStatusParser()
        #expect(try RootedFileSystem(root: directory).readLineBlocks("/status", blockBytes: 5) { parser.parse(lines: $0) })
        #expect(parser.finish() == expected)
    }

    @Test("a dpkg Status value says installed as its three words say it", arguments: [
        ("install ok installed", true), ("hold ok installed", true), ("  install ok installed \r", true),
        ("install ok  installed", true), ("install\tok installed", false), ("deinstall ok config-files", false),
        ("install ok half-installed", false), ("install ok installed extra", false), ("installed", false), ("", false),
        ("ok installed", false),
    ])
    func installedStatus(_ value: String, _ installed: Bool) {
        let bytes = Array(value.utf8)
        #expect(bytes.withUnsafeBufferPointer(isInstalledStatus) == installed)
        // The rule it replaced, on characters.
        let words = value.trimmingCharacters(in: " \t\r").split(separator: " ")
        #expect((words.count == 3 && words[2] == "installed") == installed)
    }

    @Test("python distributions equal pip list")
    func python() throws {
        let section = liveSection(PythonProbe())
        #expect(section.status == .ok, "\(section.issues)")
        let data = try #require(section.data)
        let ours = Set(data["distributions"]?.arrayValue?.compactMap { d -> String? in
            guard let name = d["name"]?.stringValue, let version = d["version"]?.stringValue else { return nil }
            return normalizeDistributionName(name) + "==" + version
        } ?? [])
        let pip = try JSONParser.parse(shell("python3 -m pip list --format=json 2>/dev/null", timeout: 120).output)
        let theirs = Set(pip.arrayValue?.compactMap { d -> String? in
            guard let name = d["name"]?.stringValue, let version = d["version"]?.stringValue else { return nil }
            return normalizeDistributionName(name) + "==" + version
        } ?? [])
        #expect(ours.count > 10)
        #expect(ours == theirs, "only ours: \(ours.subtracting(theirs).prefix(5)), only pip: \(theirs.subtracting(ours).prefix(5))")
        let version = shell("python3 -c 'import platform; print(platform.python_version())'").output.trimmed
        #expect(data["version"]?.stringValue == version)
    }

    @Test("gcc and glibc versions equal gcc -dumpfullversion and ldd --version")
    func gccAndLibc() throws {
        let tools = try #require(liveSection(ToolchainsProbe()).data)
        #expect(tools["tools"]?["gcc"]?["version"]?.stringValue == shell("gcc -dumpfullversion").output.trimmed)
        #expect(tools["tools"]?["make"]?["version"]?.stringValue != nil)
        let libc = try #require(liveSection(LibcProbe()).data)
        let ldd = shell("ldd --version | head -1").output.trimmed
        #expect(libc["implementation"] == "glibc")
        #expect(ldd.hasSuffix(" " + (libc["version"]?.stringValue ?? "?")), "ldd says: \(ldd)")
    }

    @Test("tool versions are cached by executable identity")
    func cache() throws {
        let directory = "/tmp/provenance-cache-\(Int.random(in: 0...1_000_000))"
        let environment = processEnvironment().merging(["XDG_CACHE_HOME": directory]) { $1 }
        // The capture, not the probe, saves the cache once the probes are done.
        let cache = CommandCache(environment: environment)
        let first = liveSection(ToolchainsProbe(cache: cache))
        cache.save()
        let second = liveSection(ToolchainsProbe(cache: CommandCache(environment: environment)))
        #expect(first.data == second.data)
        let stored = try #require(try RootedFileSystem().read(directory + "/provenance/commands-v1.json"))
        #expect(stored.contains("gcc"))
    }

    @Test("glibc's banner is cached by the identity of libc.so.6")
    func libcCache() throws {
        let directory = "/tmp/provenance-cache-\(Int.random(in: 0...1_000_000))"
        defer { _ = shell("rm -rf '\(directory)'") }
        let environment = processEnvironment().merging(["XDG_CACHE_HOME": directory]) { $1 }
        let cache = CommandCache(environment: environment)
        let first = liveSection(LibcProbe(cache: cache))
        cache.save()
        let second = liveSection(LibcProbe(cache: CommandCache(environment: environment)))
        #expect(first.status == .ok)
        #expect(first.data == second.data)
        let path = try #require(first.data?["path"]?.stringValue)
        let stored = try #require(try RootedFileSystem().read(directory + "/provenance/commands-v1.json"))
        #expect(stored.contains("libc.banner:" + path))

        // The second capture answers from the cache while the file is unchanged, and reads the
        // file again once its identity differs.
        let planted = CommandCache(environment: environment)
        let banner = "GNU C Library (planted) stable release version 9.99."
        planted.remember(.string(banner), for: "libc.banner:" + path, identity: try #require(CommandCache.identity(of: path)))
        #expect(liveSection(LibcProbe(cache: planted)).data?["version"] == "9.99")
        let stale = CommandCache(environment: environment)
        stale.remember(.string(banner), for: "libc.banner:" + path, identity: "0:0:0:0:0")
        #expect(liveSection(LibcProbe(cache: stale)).data == first.data)
    }
}

@Suite("Software parsers")
struct SoftwareParserTests {
    @Test("tool version outputs of real tools", arguments: [
        ("gcc (Debian 12.2.0-14+deb12u1) 12.2.0\nCopyright (C) 2022", "12.2.0"),
        ("clang version 21.0.0 (https://github.com/swiftlang/llvm-project.git 11673e6660b2)", "21.0.0"),
        ("nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2022 NVIDIA Corporation\nBuilt on Wed_Sep_21_10:33:58_PDT_2022\nCuda compilation tools, release 11.8, V11.8.89\nBuild cuda_11.8.r11.8/compiler.31833905_0", "11.8.89"),
        ("Python 3.11.7", "3.11.7"), ("Swift version 6.3.1 (swift-6.3.1-RELEASE)\nTarget: x86_64-unknown-linux-gnu", "6.3.1"),
        ("rustc 1.95.0 (59807616e 2026-04-14)", "1.95.0"), ("go version go1.22.1 linux/amd64", "1.22.1"),
        ("openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime Environment", "17.0.15"),
        ("cmake version 3.25.1\n\nCMake suite maintained", "3.25.1"), ("GNU Make 4.3\nBuilt for x86_64-pc-linux-gnu", "4.3"),
        ("GNU ld (GNU Binutils for Debian) 2.40\nCopyright (C) 2023", "2.40"),
    ])
    func toolVersions(output: String, version: String) {
        #expect(parseToolVersion(output) == version)
    }

    @Test("garbage bytes are no version", arguments: [
        "gcc 1.2\u{1B}[31m", "tool 9.9.\u{FFFD}\u{FFFD}", "\u{01}\u{02} 3.4\u{07}", "x 1.2" + String(repeating: "a", count: 80),
    ])
    func garbageVersions(output: String) {
        #expect(parseToolVersion(output) == nil)
    }

    @Test("glibc banner")
    func glibc() {
        let banner = glibcBanner(in: Array("\u{0}xxGNU C Library (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36.\n\u{0}".utf8))
        #expect(banner == "GNU C Library (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36.")
        #expect(glibcVersion(fromBanner: banner!) == "2.36")
        #expect(glibcVersion(fromBanner: "GNU C Library (GNU libc) stable release version 2.17, by Roland McGrath et al.") == "2.17")
    }

    @Test("rpm query lines and apk database")
    func rpmAndApk() {
        let rpm = parseRpmQuery("bash\t0:5.1.8-9.el9\tx86_64\nkernel-core\t0:5.14.0-427.el9\tx86_64\ngpg-pubkey\t0:fd431d51-4ae0493b\t(none)\nbad line\n")
        #expect(rpm.packages.map(\.name) == ["bash", "gpg-pubkey", "kernel-core"])
        #expect(rpm.packages[0].version == "5.1.8-9.el9")
        #expect(rpm.packages[1].architecture == nil)
        #expect(rpm.problems.count == 1)
        let apk = parseApkInstalled("C:Q1abc=\nP:musl\nV:1.2.3-r4\nA:x86_64\n\nP:busybox\nV:1.35.0-r29\nA:x86_64\n")
        #expect(apk.map(\.name) == ["busybox", "musl"])
        #expect(apkPackageVersion("P:musl\nV:1.2.3-r4\n", "musl") == "1.2.3-r4")
    }

    @Test("python metadata helpers")
    func python() {
        #expect(pythonShortVersion(fileName: "python3.11") == "3.11")
        #expect(pythonShortVersion(fileName: "python3") == nil)
        #expect(parsePatchlevelVersion("#define PY_MINOR_VERSION 11\n#define PY_VERSION      \"3.11.7\"\n") == "3.11.7")
        #expect(parseDistributionMetadata("Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0.3\n\nName: not this") ?? ("", "")
            == ("PyYAML", "6.0.3"))
        #expect(normalizeDistributionName("Foo.Bar__baz") == "foo-bar-baz")
        // ASCII names go through bytes, others through characters: the same rules.
        #expect(normalizeDistributionName("Zope.Interface-_.X") == "zope-interface-x")
        #expect(normalizeDistributionName("Ünïcode_Name.Ö") == "ünïcode-name-ö")
        #expect(normalizeDistributionName("") == "")
        #expect(normalizeDistributionName("-A-") == "-a-")
        // The bytes' parse, on the cases where bytes and characters could part: CRLF, a blank
        // line, a last line without newline, a combining mark after the colon (one character
        // with it: no `Name:` as text), a value trimmed, a missing version.
        for text in ["Name: a\r\nVersion: 1\r\n\r\nName: b", "Name: a\nVersion: 1", "Version: 2\nName:  b \t\n",
                     "Name:\u{301}x\nName: y\nVersion: 3", "Name: z\n\nVersion: 4", "Name:\nVersion: 5",
                     "Version: 6\r\nName: \u{e9}t\u{e9}\r\n", "Name: a\rVersion: 1\n"] {
            let expected = parseDistributionMetadata(text)
            let bytes = parseDistributionMetadata(head: Array(text.utf8))
            #expect(bytes?.0 == expected?.0 && bytes?.1 == expected?.1, "\(text.debugDescription)")
        }
        #expect(parseDistributionMetadata(head: Array("Name:\u{301}x\nName: y\nVersion: 3".utf8)) ?? ("", "") == ("y", "3"))
    }

    @Test("the bytes' parse of a head gives the name and version the text's does, on real metadata")
    func metadataHeaderBlocks() throws {
        // This machine's system site and the ML venvs recorded in the reference data.
        var files: [String] = []
        var roots = ["/usr/lib/python3/dist-packages"]
        if ReferenceData.available {
            roots += ((try? RootedFileSystem().list("\(ReferenceData.path)/python-ml")) ?? [])
                .map { "\(ReferenceData.path)/python-ml/\($0)/site-packages" }
        }
        let fs = RootedFileSystem()
        for root in roots {
            for entry in (try? fs.list(root)) ?? [] where entry.hasSuffix(".dist-info") || entry.hasSuffix(".egg-info") {
                let candidates = ["\(root)/\(entry)/METADATA", "\(root)/\(entry)/PKG-INFO", "\(root)/\(entry)"]
                if let file = candidates.first(where: { (try? fs.readPrefix($0, maxBytes: 1)) != nil }) { files.append(file) }
            }
        }
        try #require(files.count > 10, "too few metadata files to compare")
        for file in files {
            let head = try #require(try fs.readPrefix(file, maxBytes: 16_384))
            let whole = parseDistributionMetadata(String(decoding: head, as: UTF8.self))
            let bytes = parseDistributionMetadata(head: head)
            #expect(whole?.0 == bytes?.0 && whole?.1 == bytes?.1, "\(file)")
            #expect(whole != nil, "\(file)")
        }
    }

    @Test("environment allow-list patterns")
    func patterns() {
        #expect(matchesNamePattern("CUDA_*", "CUDA_VISIBLE_DEVICES"))
        #expect(!matchesNamePattern("CUDA_*", "MYCUDA_X"))
        #expect(matchesNamePattern("*_TOKEN", "HF_TOKEN"))
        #expect(matchesNamePattern("PATH", "PATH") && !matchesNamePattern("PATH", "PATHS"))
    }
}
