import Foundation
import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

/// The python section's interpreter, found as the shell finds it (PATH, then links), compared
/// with the shell (`command -v`), `realpath` and the interpreter's own `sys.prefix`.
@Suite("python found through symbolic links, live and under --root")
struct PythonResolutionTests {
    func python(_ machine: Machine) throws -> PythonSection {
        let context = ProbeContext(machine: machine, commandTimeout: 5, deadline: monotonicSeconds() + 5)
        let section = Capture.collect(PythonProbe(), context)
        let data = try #require(section.data, "python section \(section.status): \(section.issues)")
        return try JSONDecoder().decode(PythonSection.self, from: Data(CanonicalJSON.serialize(data)))
    }

    /// A real venv (`python3 -m venv`, so `bin/python3` is an absolute link to the base
    /// interpreter and `bin/python` a relative one), reached through PATH entries that are a
    /// relative file link into it and a relative link to its bin directory.
    @Test("live: a real venv, a relative link to its python and a linked bin directory, as the shell and python say")
    func live() throws {
        let directory = "/tmp/provenance-pyresolve-\(getpid())-\(Int.random(in: 0...1_000_000_000))"
        defer { _ = shell("rm -rf '\(directory)'") }
        let made = shell("mkdir -p '\(directory)/tools' && cd '\(directory)' && python3 -m venv --without-pip venv && ln -s ../venv/bin/python3 tools/python3 && ln -s venv/bin binlink && echo ok", timeout: 120)
        try #require(made.output.trimmed == "ok", "python3 -m venv failed: \(made.output)")
        #expect(RootedFileSystem().readLink("\(directory)/venv/bin/python3")?.hasPrefix("/") == true)

        for entry in ["venv/bin", "tools", "binlink"] {
            let path = "\(directory)/\(entry):/usr/local/bin:/usr/bin:/bin"
            var environment = processEnvironment()
            environment["PATH"] = path
            for name in ["VIRTUAL_ENV", "CONDA_PREFIX", "PYENV_VERSION", "PYTHONPATH"] { environment[name] = nil }
            let machine = Machine(fs: RootedFileSystem(root: "/"), commands: LiveCommandRunner(environment: environment),
                                  environment: environment, clock: FixedClock(secondsSinceEpoch: 0), root: nil)
            let ours = try python(machine)

            let found = shell("PATH='\(path)' command -v python3").output.trimmed
            let real = shell("realpath '\(found)'").output.trimmed
            let told = shell("'\(found)' -c 'import sys, platform; print(sys.prefix); print(platform.python_version())'").output
                .split(separator: "\n").map(String.init)
            try #require(told.count == 2, "\(found) did not answer: \(told)")
            #expect(ours.executable == found, "\(entry): ours \(ours.executable), shell \(found)")
            #expect(ours.resolvedExecutable == real, "\(entry): ours \(ours.resolvedExecutable), realpath \(real)")
            #expect(ours.prefix == told[0], "\(entry): ours \(ours.prefix), sys.prefix \(told[0])")
            #expect(ours.version == told[1], "\(entry): ours \(ours.version ?? "nil"), python \(told[1])")
            #expect(ours.environmentKind == (entry == "venv/bin" ? "venv" : "system"))
        }
    }

    /// A recorded machine built at test time: the reference-data venv (its real `pyvenv.cfg`:
    /// home `/root/miniconda3/bin`, 3.10.8, and real site-packages, read in place) laid out as
    /// `python -m venv` lays it out, reached through PATH only, via an absolute directory link
    /// (`/opt/tools -> /venv/bin`), and a second tree whose absolute link names a directory the
    /// host also has (`/opt/host -> /usr/bin`): resolution stays inside the recorded root.
    @Test("--root: relative and absolute links (files and directories) resolve inside the recorded root",
          .enabled(if: ReferenceData.available, Comment(rawValue: ReferenceData.missing)))
    func recorded() throws {
        let machine = ReferenceMachine("pyresolve")
        let source = "\(ReferenceData.path)/python-ml/venv-torch2.5.1-cu124-py310-linux"
        machine.write("/root/miniconda3/bin/python3.10", "")  // stand-in for the interpreter binary
        machine.link("/root/miniconda3/bin/python3", to: "python3.10")
        machine.link("/venv/bin/python3", to: "/root/miniconda3/bin/python3")
        machine.link("/venv/bin/python", to: "python3")
        machine.link("/venv/pyvenv.cfg", to: source + "/pyvenv.cfg")
        machine.link("/venv/lib/python3.10/site-packages", to: source + "/site-packages")
        machine.link("/opt/tools", to: "/venv/bin")
        machine.link("/opt/up/python3", to: "../../../../../../root/miniconda3/bin/python3")
        machine.write("/usr/bin/python3.11", "")
        machine.link("/usr/bin/python3", to: "python3.11")
        machine.mkdirs(machine.root + "/usr/lib/python3.11")
        machine.link("/opt/host", to: "/usr/bin")

        func capture(path: String) throws -> PythonSection {
            machine.environment(["PATH": path, "HOME": "/root"])
            return try python(Machine.recorded(root: machine.root, clock: FixedClock(secondsSinceEpoch: 0)))
        }

        // The venv's bin on PATH: python3 -> /root/miniconda3/bin/python3 -> python3.10.
        let venv = try capture(path: "/venv/bin:/usr/bin")
        #expect(venv.executable == "/venv/bin/python3")
        #expect(venv.resolvedExecutable == "/root/miniconda3/bin/python3.10")
        #expect(venv.environmentKind == "venv" && venv.prefix == "/venv" && venv.version == "3.10.8")
        #expect(venv.distributions.contains { $0.name == "torch" && $0.version == "2.5.1" })  // its METADATA says 2.5.1

        // Through an absolute directory link: the same interpreter, not a venv (no pyvenv.cfg
        // beside /opt/tools), as python itself decides from its executable's directory.
        let linked = try capture(path: "/opt/tools:/usr/bin")
        #expect(linked.executable == "/opt/tools/python3")
        #expect(linked.resolvedExecutable == "/root/miniconda3/bin/python3.10")
        #expect(linked.environmentKind == "system" && linked.prefix == "/root/miniconda3")

        // `..` past the root stays at the root, as the kernel's chroot does.
        let up = try capture(path: "/opt/up")
        #expect(up.resolvedExecutable == "/root/miniconda3/bin/python3.10")

        // /opt/host -> /usr/bin: the host's /usr/bin has a python3 too; ours is the recorded one.
        let host = try capture(path: "/opt/host")
        #expect(host.executable == "/opt/host/python3")
        #expect(host.resolvedExecutable == "/usr/bin/python3.11" && host.prefix == "/usr")

        // The kernel's answer inside the root (chroot + realpath), where we may chroot.
        guard getuid() == 0 else {
            print("not root: the chroot realpath cross-check is skipped (the expectations above still hold)")
            return
        }
        let copied = shell("cd '\(machine.root)' && for f in /usr/bin/realpath $(ldd /usr/bin/realpath | grep -o '/[^ ]*'); do mkdir -p .$(dirname $f) && cp -L $f .$f; done && echo ok")
        try #require(copied.output.trimmed == "ok", "copy of realpath failed: \(copied.output)")
        for (link, ours) in [("/venv/bin/python3", venv.resolvedExecutable), ("/opt/tools/python3", linked.resolvedExecutable),
                             ("/opt/up/python3", up.resolvedExecutable), ("/opt/host/python3", host.resolvedExecutable)] {
            let kernel = shell("chroot '\(machine.root)' /usr/bin/realpath '\(link)'").output.trimmed
            #expect(kernel == ours, Comment(rawValue: "\(link): chroot realpath \(kernel), ours \(ours)"))
        }
    }

    @Test("resolveSymlinks on a written tree: chains, loops and directories")
    func resolver() throws {
        let machine = ReferenceMachine("links")
        machine.write("/a/real", "x")
        machine.link("/a/one", to: "two")
        machine.link("/a/two", to: "/b/three")
        machine.link("/b/three", to: "../a/real")
        machine.link("/d", to: "a")
        machine.link("/loop1", to: "loop2")
        machine.link("/loop2", to: "loop1")
        let fs = RootedFileSystem(root: machine.root)
        #expect(resolveSymlinks("/a/one", fs) == "/a/real")
        #expect(resolveSymlinks("/d/one", fs) == "/a/real")
        #expect(resolveSymlinks("/d/../d/./one", fs) == "/a/real")
        #expect(resolveSymlinks("/a/missing", fs) == "/a/missing")
        #expect(resolveSymlinks("/loop1", fs).hasPrefix("/loop"))  // gives up after 40 links
        #expect(findOnPath("real", path: "/nowhere:/d", fs) == "/d/real")
        #expect(findOnPath("a", path: "/", fs) == nil)  // a directory is not a command
    }
}
