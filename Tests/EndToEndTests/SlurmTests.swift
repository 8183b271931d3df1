import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

/// Whether slurm-wlm, podman and busybox-static are installed (`scripts/install-deps.sh --test`
/// installs them).
private let clusterToolsInstalled = ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/srun", "/usr/bin/podman", "/bin/busybox"]
    .allSatisfy { RootedFileSystem().exists($0) }

@Suite("Slurm: a real four-node cluster on loopback, one podman image per node", .serialized)
struct SlurmTests {
    /// `scripts/slurm-e2e.sh` (its header says how): the prolog captures every node on the host
    /// (they agree); then an srun step runs each node's capture inside its own podman image —
    /// node1 and node2 the same (debian13), node3 rocky9, node4 ubuntu24, each carrying the real
    /// os-release files of a recorded machine — and the audit must group node1 with node2 and name
    /// node3 and node4 with the fields in which they differ.
    @Test("each node's task in its own podman image: the audit names the nodes that differ and how",
          .enabled(if: clusterToolsInstalled, "slurm-wlm, podman or busybox-static is not installed (scripts/install-deps.sh --test)"))
    func cluster() {
        let result = shell("bash \(Project.root)/scripts/slurm-e2e.sh \(Project.executable) 2>&1", timeout: 180)
        #expect(result.status == 0, "\(result.output)")
        let output = result.output
        // The prolog ran on the host for every node: they agree.
        #expect(output.contains("agree: all 4 nodes have the same environment"))
        // The containers: three groups, node1 and node2 together.
        #expect(output.contains(" fields differ across 4 nodes in 3 groups (policy strict)"))
        for group in ["2 nodes: node1, node2", "1 node: node3", "1 node: node4"] {
            #expect(output.contains("  \(group)\n"), "\(output)")
        }
        // How they differ: the distribution and the image.
        #expect(output.contains("""
            os.osRelease.ID
              majority  "debian"  (2 of 4)
              outlier   "rocky"  (1): node3
              outlier   "ubuntu"  (1): node4
            """))
        #expect(output.contains("""
            os.osRelease.VERSION_ID
              majority  "13"  (2 of 4)
              outlier   "24.04"  (1): node4
              outlier   "9.3"  (1): node3
            """))
        #expect(output.contains("""
            container.imageName
              majority  "localhost/provenance-e2e:debian13"  (2 of 4)
              outlier   "localhost/provenance-e2e:rocky9"  (1): node3
              outlier   "localhost/provenance-e2e:ubuntu24"  (1): node4
            """))
        #expect(output.contains("container.imageId\n"))
        // Nothing else differs: the sections outside the image (scheduler, kernel, CPU) agree.
        let fields = output.lines.filter { !$0.isEmpty && !$0.hasPrefix(" ") && $0.contains(".") && !$0.contains(" ") }
        #expect(fields.allSatisfy { $0.hasPrefix("os.osRelease") || $0.hasPrefix("container.image") }, "\(fields)")
        #expect(output.hasSuffix("slurm end-to-end: ok\n"))
    }
}
