import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A researcher captures again and again in a venv: the dpkg and python sections are remembered
/// between captures (no database or metadata file opened), the manifest is the one read afresh,
/// and a package removed from the venv shows at the next capture.
@Suite("Remembered sections, end to end")
struct SectionCacheJourneyTests {
    /// The sections of a manifest without their durations.
    static func sections(_ path: String) throws -> [String: JSONValue] {
        var sections = try #require(try readJSON(path)["sections"]?.objectValue)
        for (id, section) in sections {
            guard case .object(var members) = section else { continue }
            members["durationMs"] = nil
            // Memory in use changes from one capture to the next (volatile, not fingerprinted).
            members["volatile"] = nil
            sections[id] = .object(members)
        }
        return sections
    }

    @Test("captures in a venv: remembered dpkg and python sections, the same manifest, and a change seen")
    func journey() throws {
        guard straceIsInstalled() else { return }
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf '\(directory)'") }
        let made = shell("python3 -m venv '\(directory)/venv' 2>&1", timeout: 120)
        try #require(made.status == 0, "python3 -m venv failed: \(made.output)")
        usleep(120_000)
        // Both captures run the same way (traced, from a shell, which adds PWD: the python
        // section depends on the whole environment).
        let variables = ["SOURCE_DATE_EPOCH": "1700000000", "XDG_CACHE_HOME": directory + "/cache",
                         "VIRTUAL_ENV": directory + "/venv",
                         "PATH": directory + "/venv/bin:" + (processEnvironment()["PATH"] ?? "/usr/bin:/bin")]
            .map { "\($0.key)='\($0.value)'" }.joined(separator: " ")
        func tracedCapture(_ name: String) -> (opened: Int, read: [String]) {
            let traced = shell("""
                cd '\(directory)' && env \(variables) strace -f -qq -e trace=open,openat -e signal=none \
                -o '\(directory)/\(name).trace' '\(Project.executable)' capture -q -o '\(directory)/\(name).json' \
                && grep -c 'O_RDONLY' '\(directory)/\(name).trace'; grep -E 'dpkg/status|METADATA' '\(directory)/\(name).trace'
                """, timeout: 120)
            let lines = traced.output.split(separator: "\n").map(String.init)
            return (Int(lines.first ?? "") ?? 0, Array(lines.dropFirst()))
        }
        let first = tracedCapture("first")
        #expect(first.opened > 10 && first.read.count >= 2, "the first capture reads the database and the venv: \(first.read)")
        let cached = shell("ls '\(directory)/cache/provenance'").output
        #expect(cached.contains("section-packages.dpkg-"), "\(cached)")
        #expect(cached.contains("section-python-"), "\(cached)")

        // The second capture opens neither the database nor a metadata file.
        let second = tracedCapture("second")
        #expect(second.opened > 10, "the trace has the capture's reads")
        #expect(second.read.isEmpty, "opened: \(second.read)")
        let firstSections = try Self.sections(directory + "/first.json")
        let secondSections = try Self.sections(directory + "/second.json")
        for id in ["packages.dpkg", "python"] {
            #expect(firstSections[id] != nil && secondSections[id] == firstSections[id], "\(id)")
        }
        #expect(try readJSON(directory + "/first.json")["fingerprint"] == readJSON(directory + "/second.json")["fingerprint"])

        // pip leaves the venv: the next capture reads the venv again and lists no pip.
        let removed = shell("'\(directory)/venv/bin/python' -m pip uninstall -y -q pip 2>&1", timeout: 120)
        try #require(removed.status == 0, "\(removed.output)")
        usleep(120_000)
        let third = tracedCapture("third")
        #expect(third.read.contains { $0.contains("METADATA") }, "the venv is read again: \(third.read)")
        let names = try readJSON(directory + "/third.json")["sections"]?["python"]?["data"]?["distributions"]?.arrayValue?
            .compactMap { $0["name"]?.stringValue } ?? []
        let before = firstSections["python"]?["data"]?["distributions"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(before.contains("pip"), "\(before)")
        #expect(!names.contains("pip"), "\(names)")

        // --no-cache reads everything and remembers nothing new.
        let fresh = directory + "/fresh-cache"
        let plain = provenance(["capture", "-q", "--no-cache", "-o", directory + "/plain.json"],
                               environment: ["XDG_CACHE_HOME": fresh])
        #expect(plain.outcome == .exited(0), "\(plain.stderrText)")
        #expect(!shell("ls '\(fresh)/provenance' 2>/dev/null").output.contains("section-"))
    }
}
