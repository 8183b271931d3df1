import Foundation
import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

/// The environment a shell has after evaluating Lmod's output (`NAME=value;` / `export NAME;` /
/// `unset NAME;`, `\;` escaping a semicolon in a value), every step applied in order.
func environmentAfterShellEval(_ text: String) -> [String: String] {
    var environment: [String: String] = [:]
    for line in text.split(separator: "\n") {
        if line.hasPrefix("unset ") {
            environment[String(line.dropFirst(6).prefix { $0 != ";" })] = nil
            continue
        }
        guard let equals = line.firstIndex(of: "="), line[..<equals].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
              !line[..<equals].isEmpty else { continue }
        var value = ""
        var rest = line[line.index(after: equals)...]
        while let character = rest.first, character != ";" {
            if character == "\\", rest.count > 1 { rest = rest.dropFirst() }
            value.append(rest.first!)
            rest = rest.dropFirst()
        }
        environment[String(line[..<equals])] = value
    }
    return environment
}

@Suite("software.stack on hpc-env reference data (read in place)",
       .enabled(if: ReferenceData.available, Comment(rawValue: ReferenceData.missing)))
struct SoftwareStackReferenceTests {
    func collect(_ machine: ReferenceMachine) throws -> SoftwareStackSection {
        let section = try machine.collect(SoftwareStackProbe())
        #expect(section.status == .ok, "\(section.issues)")
        return try JSONDecoder().decode(SoftwareStackSection.self, from: Data(CanonicalJSON.serialize(try #require(section.data))))
    }

    @Test("Lmod loading EasyBuild's goolf-1.4.10 stack: 16 modules with their files, 16 EasyBuild packages")
    func lmodEasyBuild() throws {
        let environment = environmentAfterShellEval(try ReferenceData.read("hpc-env/lmod/lmod-rt-eb-out.txt"))
        let machine = ReferenceMachine("lmod")
        machine.environment(environment)
        let stack = try collect(machine)
        let modules = try #require(stack.modules)
        #expect(modules.loaded.count == 16)
        #expect(modules.loaded.first == LoadedModule(fullName: "GCC/4.7.2", name: "GCC", version: "4.7.2",
                                                     file: "ProjectDIR/rt/eb/mf/GCC/4.7.2"))
        #expect(modules.loaded.last?.fullName == "bam2fastq/1.1.0-goolf-1.4.10")
        #expect(modules.modulePath == ["ProjectDIR/rt/eb/mf"])
        let easybuild = try #require(stack.easybuild)
        #expect(easybuild.count == 16)
        #expect(easybuild.first { $0.name == "OPENMPI" }?.version == "1.6.4")
        #expect(easybuild.first { $0.name == "OPENMPI" }?.root == "/home/xyzzy/.local/easybuild/software/OpenMPI/1.6.4-GCC-4.7.2")
    }

    @Test("Lmod compiler/MPI hierarchy after 35 steps (swaps, unloads): the final modules")
    func lmodHierarchy() throws {
        let environment = environmentAfterShellEval(try ReferenceData.read("hpc-env/lmod/lmod-rt-hierarchy-out.txt"))
        let machine = ReferenceMachine("lmod")
        machine.environment(environment)
        let stack = try collect(machine)
        let loaded = try #require(stack.modules?.loaded)
        #expect(loaded.map(\.fullName) == (environment["LOADEDMODULES"] ?? "").split(separator: ":").map(String.init))
        #expect(!loaded.isEmpty)
    }

    @Test("Spack environment: the lock's digest (as sha256sum says), Spack version, 681 roots, 1238 concrete specs")
    func spack() throws {
        let lock = ReferenceData.path + "/hpc-env/spack/ncar-derecho-23.09-spack.lock"
        let machine = ReferenceMachine("spack")
        machine.link("/opt/envs/derecho/spack.lock", to: lock)
        machine.environment(["SPACK_ENV": "/opt/envs/derecho", "CONDA_PREFIX": "/opt/conda", "CONDA_DEFAULT_ENV": "base",
                             "CONDA_SHLVL": "1"])
        let stack = try collect(machine)
        let spack = try #require(stack.spack)
        let digest = shell("sha256sum '\(lock)'").output.split(separator: " ").first.map(String.init)
        #expect(spack.lockSHA256 == digest)
        #expect(spack.spackVersion == "0.22.0.dev0" && spack.lockfileVersion == 5)
        #expect(spack.roots?.count == 681 && spack.roots?.contains("cray-mpich@8.1.25%gcc@12.2.0") == true)
        #expect(spack.concreteSpecCount == 1238)
        #expect(stack.conda == CondaEnvironment(name: "base", prefix: "/opt/conda", shellLevel: 1))
        #expect(stack.modules == nil)
    }

    @Test("no module, EasyBuild, Spack or conda variable: absent")
    func absent() throws {
        let machine = ReferenceMachine("nostack")
        machine.environment(["PATH": "/usr/bin"])
        #expect(try machine.collect(SoftwareStackProbe()).status == .absent)
    }
}
