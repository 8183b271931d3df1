import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

/// Whether slurm-wlm is installed (`scripts/install-deps.sh --test` installs it).
private let slurmInstalled = RootedFileSystem().exists("/usr/sbin/slurmctld") && RootedFileSystem().exists("/usr/bin/srun")

@Suite("Slurm: a real three-node cluster on loopback", .serialized)
struct SlurmTests {
    @Test("the prolog and srun capture every node; the audit names the node that differs and how",
          .enabled(if: slurmInstalled, "slurm-wlm is not installed (scripts/install-deps.sh --test)"))
    func cluster() {
        let result = shell("bash \(Project.root)/scripts/slurm-e2e.sh \(Project.executable) 2>&1", timeout: 120)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("agree: all 3 nodes have the same environment"))
        #expect(result.output.contains("environment.variables.OMP_NUM_THREADS\n  majority  (absent)  (2 of 3)\n  outlier   \"1\"  (1): node3"))
        #expect(result.output.hasSuffix("slurm end-to-end: ok\n"))
    }
}
