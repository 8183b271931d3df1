import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real rootful podman 4 on this machine (recipe: ../shared/INFRA.md): a busybox image imported
/// from a tar (no registry), the test's own `provenance` binary and the shared libraries it needs
/// bound read-only into the container, `provenance capture -o -` inside, compared with what
/// `podman image inspect` and the container id file say.
///
/// The store is passed as flags (`--root`, `--runroot`) in a fresh directory, with the
/// containers.conf INFRA.md gives (runc, cgroupfs, file events, raised ulimits): the defaults fail
/// on this hybrid-cgroup VM. Nothing is left running: every container is `--rm`, podman keeps no
/// daemon, and the directory is removed at the end.
@Suite("Containers, end to end (real podman)", .serialized)
struct ContainerTests {
    /// podman and busybox-static come from `scripts/install-deps.sh --test`; run it when missing.
    static func podmanAvailable() -> Bool {
        if shell("command -v podman && test -x /bin/busybox").status == 0 { return true }
        guard getuid() == 0 else { return false }
        _ = shell("bash '\(Project.root)/scripts/install-deps.sh' --test", timeout: 900)
        return shell("command -v podman && test -x /bin/busybox").status == 0
    }

    final class Podman {
        let base: String
        let environment: [String: String]
        let image = "localhost/provenance-test:1"

        init() throws {
            base = "/tmp/provenance-podman-\(getpid())-\(Int.random(in: 0...1_000_000_000))"
            var environment = processEnvironment()
            environment["CONTAINERS_CONF"] = Project.root + "/scripts/podman-containers.conf"
            self.environment = environment
        }

        /// `podman --root … --runroot … ARGS`.
        func run(_ arguments: [String], timeout: Double = 120) -> CommandResult {
            LiveCommandRunner(environment: environment).run(
                ["podman", "--root", base + "/root", "--runroot", base + "/runroot"] + arguments, timeout: timeout)
        }

        /// A busybox image without a registry: a deterministic tar of a tiny rootfs, imported.
        func importImage() throws {
            let rootfs = base + "/rootfs"
            let script = """
                set -e; mkdir -p '\(rootfs)/bin' '\(rootfs)/etc' '\(rootfs)/usr/local/bin'
                cp /bin/busybox '\(rootfs)/bin/'; ln -s busybox '\(rootfs)/bin/sh'; ln -s busybox '\(rootfs)/bin/cat'
                printf 'ID=provenance-test\\nVERSION_ID=1\\n' > '\(rootfs)/etc/os-release'
                tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C '\(rootfs)' -cf '\(base)/rootfs.tar' .
                """
            let built = shell(script)
            try #require(built.status == 0, "building the rootfs failed")
            let imported = run(["import", base + "/rootfs.tar", image])
            try #require(imported.outcome == .exited(0), "podman import: \(imported.stderrText)")
        }

        /// `-v HOST:PATH:ro` for the binary and every shared library `ldd` names, at the path the
        /// binary asks for (the busybox image has no C library of its own).
        func bindMounts(for executable: String) throws -> [String] {
            let ldd = LiveCommandRunner(environment: environment).run(["ldd", executable], timeout: 30)
            try #require(ldd.outcome == .exited(0), "ldd \(executable): \(ldd.stderrText)")
            var mounts = ["-v", "\(executable):/usr/local/bin/provenance:ro"]
            for line in ldd.stdoutText.lines {
                // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
                let words = line.split(separator: " ", omittingEmptySubsequences: true).map { $0.trimmed }
                let path = words.count >= 3 && words[1] == "=>" ? words[2] : words.first ?? ""
                guard path.hasPrefix("/"), let resolved = realpath(path, nil) else { continue }
                mounts += ["-v", "\(String(cString: resolved)):\(path):ro"]
                free(resolved)
            }
            return mounts
        }

        /// Runs `provenance capture -o -` in a new container; returns the manifest and the
        /// container id podman wrote to its id file.
        func capture(_ options: [String], mounts: [String], name: String) throws -> (manifest: JSONValue, id: String, seconds: Double) {
            let idFile = base + "/\(name).cid"
            let started = monotonicSeconds()
            let result = run(["run", "--rm", "--network=none", "--cidfile", idFile] + options + mounts
                + [image, "/usr/local/bin/provenance", "capture", "-o", "-", "-q"])
            let seconds = monotonicSeconds() - started
            try #require(result.outcome == .exited(0), "podman run \(options): \(result.stderrText)")
            let id = try #require(try RootedFileSystem().read(idFile)).trimmed
            return (try JSONParser.parse(result.stdout), id, seconds)
        }

        func remove() {
            _ = run(["rmi", "--all", "--force"])
            _ = shell("grep -q ' \(base)/' /proc/self/mountinfo && umount -R -l $(awk '$5 ~ \"^\(base)/\" {print $5}' /proc/self/mountinfo | sort -r) ; rm -rf '\(base)'")
        }
    }

    @Test("inside podman: engine, container id, image id, digest and limits as podman states them")
    func podmanCapture() throws {
        guard Self.podmanAvailable() else {
            Issue.record("podman is not installed and could not be installed (scripts/install-deps.sh --test needs root and Debian's podman)")
            return
        }
        let podman = try Podman()
        defer { podman.remove() }
        try podman.importImage()
        let inspect = podman.run(["image", "inspect", "--format", "{{.Id}} {{.Digest}}", podman.image])
        try #require(inspect.outcome == .exited(0), "\(inspect.stderrText)")
        let truth = inspect.stdoutText.trimmed.split(separator: " ").map(String.init)
        try #require(truth.count == 2)
        let (imageID, digest) = (truth[0], truth[1])
        let version = podman.run(["version", "--format", "{{.Client.Version}}"]).stdoutText.trimmed
        let mounts = try podman.bindMounts(for: Project.executable)

        // 1. --privileged: /run/.containerenv states engine, id, image and image id; the launcher
        //    passes the manifest digest, which no engine shows inside.
        let privileged = try podman.capture(
            ["--privileged", "--cpus", "1.5", "--memory", "256m", "-e", "PROVENANCE_IMAGE_DIGEST=\(digest)"],
            mounts: mounts, name: "privileged")
        let section = try #require(privileged.manifest["sections"]?["container"])
        #expect(section["status"] == "ok", "\(String(describing: section["issues"]))")
        let data = section["data"]
        #expect(data?["engine"] == "podman")
        #expect(data?["engineVersion"]?.stringValue == version)
        #expect(section["volatile"]?["containerId"]?.stringValue == privileged.id)
        #expect(data?["imageId"]?.stringValue == imageID)
        #expect(data?["imageName"]?.stringValue == podman.image)
        #expect(data?["imageDigest"]?.stringValue == digest)
        #expect(data?["cgroup"]?["cpuLimitMilliCPUs"] == 1500)
        #expect(data?["cgroup"]?["memoryLimitBytes"] == 268_435_456)
        #expect(privileged.manifest["sections"]?["scheduler"]?["status"] == "absent")
        #expect(privileged.manifest["sections"]?["os"]?["data"]?["osRelease"]?["ID"] == "provenance-test")

        // 2. Not privileged, private cgroup namespace: .containerenv is empty and /proc/self/cgroup
        //    shows only "/", so the id comes from mountinfo and the engine from container=podman.
        let plain = try podman.capture(["--cgroupns=private"], mounts: mounts, name: "plain")
        let plainSection = plain.manifest["sections"]?["container"]
        #expect(plainSection?["data"]?["engine"] == "podman")
        #expect(plainSection?["volatile"]?["containerId"]?.stringValue == plain.id)
        #expect(plainSection?["data"]?["imageId"] == nil)

        // 3. The same container again: another id and host name, the same fingerprint.
        let again = try podman.capture(["--cgroupns=private"], mounts: mounts, name: "again")
        #expect(again.id != plain.id)
        #expect(again.manifest["hostName"] != plain.manifest["hostName"])
        #expect(again.manifest["fingerprint"] == plain.manifest["fingerprint"])
        #expect(privileged.manifest["fingerprint"] != plain.manifest["fingerprint"])

        // podman run takes about 0.5–1 s here; a slow run means something regressed.
        for run in [privileged, plain, again] { #expect(run.seconds < 10, "podman run took \(run.seconds) s") }
    }

    @Test("on this host the container section is absent: /.dockerenv alone is not a container")
    func host() throws {
        let result = provenance(["capture", "-o", "-", "--only", "container", "--only", "scheduler", "-q"])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        let manifest = try JSONParser.parse(result.stdout)
        let environment = processEnvironment()
        guard environment["container"] == nil, !RootedFileSystem().exists("/run/.containerenv") else { return }
        let container = manifest["sections"]?["container"]
        #expect(container?["status"] == "absent")
        #expect(container?["data"] == nil)
        if RootedFileSystem().exists("/.dockerenv") {
            #expect(container?["issues"]?.arrayValue?.last?["message"]?.stringValue?.contains("/.dockerenv") == true)
        }
        if environment.keys.allSatisfy({ !$0.hasPrefix("SLURM_") && !$0.hasPrefix("PBS_") && !$0.hasPrefix("LSB_") })
            && environment["KUBERNETES_SERVICE_HOST"] == nil
        {
            #expect(manifest["sections"]?["scheduler"]?["status"] == "absent")
        }
    }
}
