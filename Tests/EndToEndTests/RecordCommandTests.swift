import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `provenance record DIR && provenance capture --root DIR` against a live capture of this machine.
/// Commands get 30 s (not 5): a version command slowed past its timeout in one capture but not
/// the other, on a loaded test machine, would be a difference that says nothing about recording.
@Suite("provenance record", .serialized)
struct RecordCommandTests {
    /// Secrets planted in the environment of both the recording and the live capture: the
    /// manifest masks each of them (checked below), so the recording must hold none.
    static let secrets = [
        "hf_PlantedToken1234567890abcdefXYZ",  // HF_TOKEN: allow-listed, masked by name and form
        "PlantedServicePassw0rd-93847",  // MY_SERVICE_PASSWORD: not allow-listed at all
        "PlantedUrlPassw0rd77",  // the password of a URL in an allow-listed variable
        "ghp_PlantedGithubToken0123456789abcdef",  // a token by its form, in an allow-listed variable
        "PlantedWandbKey5550123",  // WANDB_API_KEY: allow-listed, masked by name
    ]

    static let environment = [
        "HF_TOKEN": secrets[0],
        "MY_SERVICE_PASSWORD": secrets[1],
        "HF_ENDPOINT": "https://planteduser:\(secrets[2])@hub.example.org/models",
        "TORCH_HOME_TOKENISH": secrets[3],
        "WANDB_API_KEY": secrets[4],
        "CUDA_VISIBLE_DEVICES": "0,1",
        "MYLAB_SETTING": "kept-by-env-pattern",
    ]

    /// Sections that describe the job, never recorded (docs/record.md).
    static let notRecorded: Set<String> = ["git", "datasets", "run"]

    /// Field-by-field differences between the live capture and the replay of a recording, with
    /// the one documented exception: gpu.amd on a machine without the amdgpu driver is absent in
    /// both, but live says the driver is not loaded (rocm-smi not started), replay that rocm-smi
    /// is not installed (it never ran, so the recording has no output of it).
    static func differences(live: JSONValue, replay: JSONValue) -> [String] {
        let a = live["sections"]?.objectValue ?? [:]
        let b = replay["sections"]?.objectValue ?? [:]
        var result: [String] = []
        for id in Set(a.keys).union(b.keys).subtracting(notRecorded).sorted() {
            var left = comparable(a[id])
            var right = comparable(b[id])
            if id == "gpu.amd", a[id]?["status"] == "absent", b[id]?["status"] == "absent",
               a[id]?["issues"]?.arrayValue?.first?["source"] == "/sys/module/amdgpu"
            {
                left = left.map { strip($0, "issues") }
                right = right.map { strip($0, "issues") }
            }
            result += jsonDifferences(left, right, path: id)
        }
        if live["hostName"] != replay["hostName"] { result.append("hostName") }
        return result
    }

    static func strip(_ value: JSONValue, _ key: String) -> JSONValue {
        guard case .object(var fields) = value else { return value }
        fields[key] = nil
        return .object(fields)
    }

    /// Every file name, link target and file content of a tree, as text.
    static func everything(under directory: String) -> String {
        let listing = shell("cd '\(directory)' && find . -print && find . -type l -exec readlink {} \\; && find . -type f -exec cat {} +",
                            timeout: 60)
        return listing.output
    }

    @Test("record, then capture --root: the same sections as a live capture, and no secret in the recording")
    func recordReplaysLiveCapture() throws {
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf '\(directory)'") }
        let record = provenance(["record", "--timeout", "30", directory + "/recording", "--env", "MYLAB_*"], environment: Self.environment)
        #expect(record.succeeded, "\(record.stderrText)")
        #expect(record.stderrText.contains("provenance: recorded"), "\(record.stderrText)")
        let live = provenance(["capture", "--timeout", "30", "--no-cache", "-q", "--env", "MYLAB_*", "-o", directory + "/live.json"],
                              environment: Self.environment)
        #expect(live.succeeded, "\(live.stderrText)")
        let replay = provenance(["capture", "-q", "--root", directory + "/recording", "-o", directory + "/replay.json"])
        #expect(replay.succeeded, "\(replay.stderrText)")
        let liveManifest = try readJSON(directory + "/live.json")
        let replayManifest = try readJSON(directory + "/replay.json")

        // The planted secrets are masked in the live manifest: the check below has teeth.
        let variables = liveManifest["sections"]?["environment"]?["data"]?["variables"]
        #expect(variables?["HF_TOKEN"] == .string(Secrets.mask))
        #expect(variables?["WANDB_API_KEY"] == .string(Secrets.mask))
        #expect(variables?["HF_ENDPOINT"] == "https://[masked]@hub.example.org/models")
        #expect(variables?["MYLAB_SETTING"] == "kept-by-env-pattern")
        #expect(variables?["MY_SERVICE_PASSWORD"] == nil)

        let differences = Self.differences(live: liveManifest, replay: replayManifest)
        #expect(differences.isEmpty, "\(differences.joined(separator: "\n"))")
        // Every recordable section was captured, and replayed with data where live had data.
        let sections = liveManifest["sections"]?.objectValue ?? [:]
        #expect(sections.count >= 16)
        #expect(replayManifest["sections"]?["os"]?["status"] == "ok")
        #expect(replayManifest["sections"]?["pci"]?["status"] == sections["pci"]?["status"])

        let everything = Self.everything(under: directory + "/recording")
        #expect(everything.contains("kept-by-env-pattern"))
        for secret in Self.secrets {
            #expect(!everything.contains(secret), "\(secret) is in the recording")
        }
        let readme = try #require(try RootedFileSystem(root: directory + "/recording").read("/README.md"))
        #expect(readme.contains("Not recorded: the sections git, datasets and run"))
        #expect(readme.contains(ProvenanceVersion.current))
    }

    @Test("--archive writes a tar.gz that tar -xzf unpacks to a directory that replays the same")
    func archiveReplays() throws {
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf '\(directory)'") }
        let record = provenance(["record", "--timeout", "30", "--archive", directory + "/this-machine.tar.gz"], environment: Self.environment)
        #expect(record.succeeded, "\(record.stderrText)")
        mkdir(directory + "/unpacked", 0o755)
        let unpack = shell("tar -xzf '\(directory)/this-machine.tar.gz' -C '\(directory)/unpacked' && ls '\(directory)/unpacked'")
        #expect(unpack.status == 0)
        #expect(unpack.output == "this-machine\n")
        let live = provenance(["capture", "--timeout", "30", "--no-cache", "-q", "-o", directory + "/live.json"], environment: Self.environment)
        #expect(live.succeeded)
        let replay = provenance(["capture", "-q", "--root", directory + "/unpacked/this-machine", "-o", directory + "/replay.json"])
        #expect(replay.succeeded, "\(replay.stderrText)")
        let differences = Self.differences(live: try readJSON(directory + "/live.json"), replay: try readJSON(directory + "/replay.json"))
        #expect(differences.isEmpty, "\(differences.joined(separator: "\n"))")
        let everything = Self.everything(under: directory + "/unpacked")
        for secret in Self.secrets { #expect(!everything.contains(secret), "\(secret) is in the archive") }
        // No partial archive is left behind.
        let names = shell("ls '\(directory)'").output
        #expect(names.contains("this-machine.tar.gz\n") && !names.contains("partial"), "\(names)")
    }

    @Test("--anonymize replaces the host name consistently; the replay names the placeholder")
    func anonymized() throws {
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf '\(directory)'") }
        let record = provenance(["record", "--anonymize", directory + "/recording"])
        #expect(record.succeeded, "\(record.stderrText)")
        #expect(record.stderrText.contains("identifying values replaced"))
        let host = try #require(Machine.live().hostName())
        let recorded = RootedFileSystem(root: directory + "/recording")
        #expect(recorded.attribute("/proc/sys/kernel/hostname") == "host-1")
        let replay = provenance(["capture", "-q", "--root", directory + "/recording", "-o", directory + "/replay.json"])
        #expect(replay.succeeded)
        let manifest = try readJSON(directory + "/replay.json")
        #expect(manifest["hostName"] == "host-1")
        #expect(host != "host-1")
        let readme = try #require(try recorded.read("/README.md"))
        #expect(readme.contains("## Anonymized") && readme.contains("1 host"))
    }

    @Test("--anonymize replaces the values of site-probe fields marked identifying in every recorded file; the replay reads the placeholder")
    func anonymizedSiteProbes() throws {
        let site = RenderPapersTests.identifyingSiteProbes()
        defer { _ = shell("rm -rf '\(site.directory)'") }
        let environment = ["XDG_CONFIG_HOME": site.directory + "/config"]
        // `provenance probes` shows the marking of each site probe.
        let listed = provenance(["probes"], environment: environment).stdoutText
        #expect(listed.contains("site.location 1.0.0 [on]") && listed.contains("    identifying: rack\n")
                && listed.contains("    identifying: switch\n"), "\(listed)")
        // Without --anonymize the rack is recorded as read (so the check below can fail).
        let plain = provenance(["record", site.directory + "/plain"], environment: environment, timeout: 120)
        #expect(plain.succeeded, "\(plain.stderrText)")
        #expect(Self.everything(under: site.directory + "/plain").contains("r17-ams-4"))

        let record = provenance(["record", "--anonymize", site.directory + "/recording"], environment: environment, timeout: 120)
        #expect(record.succeeded, "\(record.stderrText)")
        let everything = Self.everything(under: site.directory + "/recording")
        for value in site.values { #expect(!everything.contains(value), "\(value) is in the anonymized recording") }
        let recorded = RootedFileSystem(root: site.directory + "/recording")
        let readme = try #require(try recorded.read("/README.md"))
        #expect(readme.contains(" site"), "\(readme)")
        // The declarative probe replays on the recording: the rack is its placeholder, the row as it was.
        let replay = provenance(["capture", "-q", "--root", site.directory + "/recording", "--probes-dir", site.probes,
                                 "-o", site.directory + "/replay.json"])
        #expect(replay.succeeded, "\(replay.stderrText)")
        let location = try readJSON(site.directory + "/replay.json")["sections"]?["site.location"]
        #expect(location?["data"]?["row"] == "B", "\(String(describing: location))")
        #expect(location?["data"]?["rack"]?.stringValue?.hasPrefix("site-") == true, "\(String(describing: location))")
        #expect(location?["identifying"] == ["rack"])
    }

    @Test("record refuses to overwrite, and needs a destination")
    func badUsage() {
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf '\(directory)'") }
        let existing = provenance(["record", directory])
        #expect(existing.outcome == .exited(73))
        #expect(existing.stderrText.contains("already exists"))
        #expect(provenance(["record"]).outcome == .exited(64))
        #expect(provenance(["record", "--archive", directory + "/x.zip"]).outcome == .exited(64))
    }
}
