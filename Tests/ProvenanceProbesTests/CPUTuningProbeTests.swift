import Foundation
import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

/// A recorded machine whose /sys and /proc are the reference-data tree (linked, read in place).
func tuningMachine(_ name: String) -> ReferenceMachine {
    let machine = ReferenceMachine("tuning")
    let source = "\(ReferenceData.path)/sys-tuning/\(name)"
    for top in ["sys", "proc"] where RootedFileSystem().isDirectory("\(source)/\(top)") {
        machine.link("/\(top)", to: "\(source)/\(top)")
    }
    return machine
}

@Suite("tuning on sys-tuning reference data (read in place)",
       .enabled(if: ReferenceData.available, Comment(rawValue: ReferenceData.missing)))
struct CPUTuningReferenceTests {
    func data(_ name: String) throws -> CPUTuningSection {
        let section = try tuningMachine(name).collect(CPUTuningProbe())
        #expect(section.status == .ok, "\(section.issues)")
        let data = try #require(section.data)
        return try JSONDecoder().decode(CPUTuningSection.self, from: Data(CanonicalJSON.serialize(data)))
    }

    @Test("2-socket Xeon: intel_pstate passive (intel_cpufreq), ondemand, turbo allowed, SMT on, 9 vulnerabilities")
    func arbiterd() throws {
        let tuning = try data("arbiterd-intel-2s-48cpu")
        let policy = try #require(tuning.frequencyScaling?.first)
        #expect(tuning.frequencyScaling?.count == 1)
        #expect(policy.cpus == "0" && policy.driver == "intel_cpufreq" && policy.governor == "ondemand")
        #expect(policy.minimumKHz == 1_200_000 && policy.maximumKHz == 3_500_000)
        #expect(tuning.intelPState?.status == "passive" && tuning.intelPState?.noTurbo == false)
        #expect(tuning.boost == true)
        #expect(tuning.smtControl == "on" && tuning.smtActive == true)
        #expect(tuning.vulnerabilities?.count == 9)
        #expect(tuning.vulnerabilities?["meltdown"] == "Vulnerable")
        #expect(tuning.vulnerabilities?["spectre_v2"] == "Vulnerable, IBPB: disabled, STIBP: disabled")
    }

    @Test("CoreOS on Hyper-V (sosreport): NUMA balancing off, full ASLR, THP always, mitigations")
    func coreos() throws {
        let tuning = try data("coreos-sosreport-hyperv")
        #expect(tuning.numaBalancing == 0 && tuning.randomizeVASpace == 2)
        #expect(tuning.transparentHugePages == "always")
        #expect(tuning.vulnerabilities?["meltdown"] == "Mitigation: PTI")
        #expect(tuning.smtControl == "on")
        #expect(tuning.frequencyScaling == nil)
    }

    @Test("cpufreq per CPU (older kernels, node_exporter) and per policy (procfs): intel_pstate powersave",
          arguments: [("node_exporter-fixtures", Int64(3_700_000)), ("procfs-fixtures", Int64(2_400_000))])
    func layouts(name: String, maximum: Int64) throws {
        let tuning = try data(name)
        let policy = try #require(tuning.frequencyScaling?.first)
        #expect(policy.cpus == "0" && policy.driver == "intel_pstate" && policy.governor == "powersave")
        #expect(policy.minimumKHz == 800_000 && policy.maximumKHz == maximum)
    }

    @Test("render says the settings in words: SMT, transparent huge pages, NUMA balancing, governor")
    func rendered() throws {
        func rows(_ name: String) throws -> [String: String] {
            let section = try tuningMachine(name).collect(CPUTuningProbe())
            let manifest: JSONValue = ["sections": ["tuning": ["status": "ok", "data": try #require(section.data)]]]
            let group = EnvironmentSummary(manifest: manifest).groups.first { $0.title == "CPU tuning" }
            return Dictionary(uniqueKeysWithValues: (group?.rows ?? []).map { ($0.label, $0.value) })
        }
        let coreos = try rows("coreos-sosreport-hyperv")
        #expect(coreos["SMT"] == "on (several threads per core); smt/control = on")
        #expect(coreos["Transparent huge pages"] == "always")
        #expect(coreos["NUMA balancing"] == "off (0)")
        let arbiterd = try rows("arbiterd-intel-2s-48cpu")
        #expect(arbiterd["CPU governor"] == "ondemand (intel_cpufreq)")
        #expect(arbiterd["Boost"] == "on")
    }

    @Test("sysfs choice files")
    func selection() {
        #expect(parseSysfsSelection("always [madvise] never") == "madvise")
        #expect(parseSysfsSelection("always defer defer+madvise [madvise] never") == "madvise")
        #expect(parseSysfsSelection("on") == "on")
    }
}

@Suite("tuning on this machine")
struct CPUTuningLiveTests {
    @Test("vulnerabilities equal lscpu's, SMT control and THP equal the files")
    func live() throws {
        let machine = Machine.live(clock: FixedClock(secondsSinceEpoch: 0))
        let section = Capture.collect(CPUTuningProbe(), ProbeContext(machine: machine, commandTimeout: 5,
                                                                    deadline: monotonicSeconds() + 5))
        let data = try #require(section.data)
        let tuning = try JSONDecoder().decode(CPUTuningSection.self, from: Data(CanonicalJSON.serialize(data)))
        // lscpu prints `Vulnerability Itlb multihit:   Not affected` for vulnerabilities/itlb_multihit.
        var theirs: [String: String] = [:]
        for line in shell("LC_ALL=C lscpu").output.lines where line.hasPrefix("Vulnerability ") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            theirs[line[line.index(line.startIndex, offsetBy: 14)..<colon].lowercased()] = line[line.index(after: colon)...].trimmed
        }
        // lscpu rewrites the kernel's colons (`Mitigation: PTI` → `Mitigation; PTI`, `STIBP: disabled`
        // → `STIBP disabled`): compare without colons and semicolons.
        func plain(_ text: String) -> String { String(text.filter { $0 != ":" && $0 != ";" }) }
        theirs = theirs.mapValues(plain)
        let ours = Dictionary(uniqueKeysWithValues: (tuning.vulnerabilities ?? [:]).map {
            (String($0.key.map { $0 == "_" ? " " : $0 }).lowercased(), plain($0.value))
        })
        #expect(!theirs.isEmpty)
        #expect(ours == theirs)
        let control = shell("cat /sys/devices/system/cpu/smt/control 2>/dev/null").output.trimmed
        #expect(tuning.smtControl == (control.isEmpty ? nil : control))
        let thp = shell("sed 's/.*\\[\\(.*\\)\\].*/\\1/' /sys/kernel/mm/transparent_hugepage/enabled").output.trimmed
        #expect(tuning.transparentHugePages == thp)
        #expect(tuning.randomizeVASpace.map(String.init) == shell("cat /proc/sys/kernel/randomize_va_space").output.trimmed)
    }
}
