import Foundation
import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

extension ReferenceMachine {
    /// Records commands whose outputs are reference files (linked next to commands.json).
    func commands(_ entries: [(argv: [String], file: String)]) {
        var list: [JSONValue] = []
        for (index, entry) in entries.enumerated() {
            let name = "out-\(index).txt"
            link("/commands/\(name)", to: "\(ReferenceData.path)/\(entry.file)")
            list.append(["argv": .array(entry.argv.map(JSONValue.string)), "stdout": .string(name), "exitCode": 0])
        }
        write("/commands/commands.json", CanonicalJSON.string(["commands": .array(list)]))
    }
}

func decodeSection<T: Decodable>(_ type: T.Type, _ section: Section) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(CanonicalJSON.serialize(try #require(section.data))))
}

@Suite("rdma and mpi on hpc-fabric reference data (read in place)",
       .enabled(if: ReferenceData.available, Comment(rawValue: ReferenceData.missing)))
struct FabricReferenceTests {
    func adapters(_ tree: String) throws -> [RDMAAdapter] {
        let machine = ReferenceMachine("ib")
        machine.link("/sys/class/infiniband", to: "\(ReferenceData.path)/hpc-fabric/infiniband/\(tree)")
        let section = try machine.collect(InfiniBandProbe())
        #expect(section.status == .ok, "\(section.issues)")
        return try decodeSection(InfiniBandSection.self, section).adapters
    }

    /// `ibstat` of the same H100 node (gpud test data): CA type, firmware, rate and link layer per CA.
    func ibstat(_ text: String) -> [String: [String: String]] {
        var result: [String: [String: String]] = [:]
        var current: String?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("CA '") {
                current = String(line.dropFirst(4).prefix { $0 != "'" })
            } else if let current, let colon = line.firstIndex(of: ":") {
                let key = line[..<colon].trimmed
                if result[current]?[key] == nil { result[current, default: [:]][key] = line[line.index(after: colon)...].trimmed }
            }
        }
        return result
    }

    @Test("H100 node: 8 ConnectX-7 NDR and a BlueField-3 bond, as ibstat of that node reports them")
    func h100() throws {
        let adapters = try adapters("gpud-h100-node-sys-class-infiniband")
        #expect(adapters.count == 9)
        let theirs = ibstat(try ReferenceData.read("hpc-fabric/ibstat/gpud-ibstat-h100-ib-ndr-all-active.txt"))
        #expect(Set(theirs.keys) == Set(adapters.map(\.name)))
        for adapter in adapters {
            let expected = try #require(theirs[adapter.name])
            #expect(adapter.hcaType == expected["CA type"], "\(adapter.name)")
            #expect(adapter.firmware == expected["Firmware version"], "\(adapter.name)")
            let port = try #require(adapter.ports.first)
            #expect(port.rateGbps.map(String.init) == expected["Rate"], "\(adapter.name)")
            #expect(port.linkLayer == expected["Link layer"], "\(adapter.name)")
            #expect(port.state?.lowercased() == expected["State"]?.lowercased(), "\(adapter.name)")
        }
        let bond = try #require(adapters.first { $0.name == "mlx5_bond_0" })
        #expect(bond.hcaType == "MT41692" && bond.ports.first?.linkLayer == "Ethernet")
        #expect(bond.ports.first?.rate == "200 Gb/sec (2X NDR)" && bond.ports.first?.physicalState == "LinkUp")
    }

    @Test("ConnectX-3 (2 ports), Omni-Path hfi1 and iWARP i40iw")
    func others() throws {
        let procfs = try adapters("procfs-sys-class-infiniband")
        #expect(procfs.map(\.name) == ["hfi1_0", "mlx4_0", "mlx5_0"])
        #expect(procfs.first { $0.name == "hfi1_0" }?.ports.first?.rateGbps == 100)
        let mlx4 = try #require(procfs.first { $0.name == "mlx4_0" })
        #expect(mlx4.ports.map(\.number) == [1, 2] && mlx4.firmware == "2.31.5050" && mlx4.hcaType == "MT4099")
        let iwarp = try #require(try adapters("node_exporter-sys-class-infiniband").first { $0.name == "i40iw0" })
        #expect(iwarp.ports.first?.rate == "10 Gb/sec (4X)" && iwarp.ports.first?.rateGbps == 10)
    }

    @Test("Open MPI 4.0.1 with UCX and CUDA (ompi_info), UCX 1.11.1, libfabric, MPICH and Intel MPI from recorded commands")
    func mpi() throws {
        let machine = ReferenceMachine("mpi")
        machine.commands([
            (["ompi_info"], "hpc-fabric/ompi_info/cori-gpu-openmpi-4.0.1-ucx-cuda.txt"),
            (["mpichversion"], "hpc-fabric/mpichversion/mpich-4.2a1-ch4-ofi-mpichversion.txt"),
            (["mpirun", "--version"], "hpc-fabric/intel-mpi/tacc-container-impi-2019u7-mpirun-version.txt"),
            (["ucx_info", "-v"], "hpc-fabric/ucx_info/azhpc-centos-hpc-7.9-ucx-1.11.1-ucx_info-v.txt"),
            (["fi_info", "--version"], "hpc-fabric/fi_info/habana-container-libfabric-1.19.0amzn3.0-fi_info-version.txt"),
        ])
        let section = try machine.collect(MPIProbe())
        #expect(section.status == .ok, "\(section.issues)")
        let mpi = try decodeSection(MPISection.self, section)
        let implementations = try #require(mpi.implementations)
        #expect(implementations.map(\.name) == ["Intel MPI", "MPICH", "Open MPI"])
        let ompi = try #require(implementations.first { $0.name == "Open MPI" })
        #expect(ompi.version == "4.0.1")
        #expect(ompi.prefix == "/usr/common/software/openmpi/4.0.1-ucx-1.6/gnu-7.3.0-cuda-10.1.168")
        #expect(ompi.configure?.contains("'--with-ucx=") == true)
        #expect(ompi.transportComponents?["pml"]?.contains("ucx") == true)
        let mpich = try #require(implementations.first { $0.name == "MPICH" })
        #expect(mpich.version == "4.2a1" && mpich.device == "ch4:ofi")
        let impi = try #require(implementations.first { $0.name == "Intel MPI" })
        #expect(impi.version == "2019 Update 7" && impi.build == "20200312")
        #expect(mpi.ucx?.version == "1.11.1" && mpi.ucx?.revision == "c58db6b")
        #expect(mpi.ucx?.configure?.contains("--with-cuda=/usr/local/cuda-11.2") == true)
        #expect(mpi.libfabric?.version == "1.19.0amzn3.0" && mpi.libfabric?.api == "1.19")
    }

    @Test("ompi_info with a wrapped configure line (Open MPI 4.0.2), MPICH 3.1rc1's older alignment")
    func otherFormats() throws {
        let ompi = try #require(parseOmpiInfo(try ReferenceData.read("hpc-fabric/ompi_info/futuresystems-juliet-openmpi-4.0.2-ucx-cuda.txt")))
        #expect(ompi.version == "4.0.2")
        #expect(ompi.configure?.contains("'--with-cuda=/usr/local/cuda-10.1'") == true)
        #expect(ompi.configure?.contains("'--with-ucx=/opt/ucx-1.10.0'") == true)
        #expect(ompi.transportComponents?["btl"] == ["openib", "self", "smcuda", "tcp", "vader"])
        let mpich = try #require(parseMpichVersion(try ReferenceData.read("hpc-fabric/mpichversion/mpich-3.1rc1-ch3-nemesis-mpichversion.txt")))
        #expect(mpich.version == "3.1rc1" && mpich.device == "ch3:nemesis")
        #expect(parseFiInfoVersion(try ReferenceData.read("hpc-fabric/fi_info/habana-container-libfabric-1.20.0-fi_info-version.txt"))?.version == "1.20.0")
    }

    @Test("no /sys/class/infiniband and no MPI command: absent")
    func absent() throws {
        let machine = ReferenceMachine("nofabric")
        machine.write("/etc/os-release", "ID=x\n")
        #expect(try machine.collect(InfiniBandProbe()).status == .absent)
        #expect(try machine.collect(MPIProbe()).status == .absent)
    }
}
