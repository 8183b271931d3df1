import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

#if canImport(Glibc)
import Glibc
#endif

/// Every recorded job or pod gives the facts read off its files by hand
/// (Fixtures/expected/scheduler.tsv).
@Suite("Scheduler probe on recorded machines")
struct RecordedSchedulerProbeTests {
    static let expected = ExpectedTable("scheduler")

    @Test("scheduler, request and (volatile) job identity", arguments: expected.fixtures)
    func facts(fixture: String) throws {
        let row = Self.expected.row(fixture)
        let section = try collect(SchedulerProbe(), onMachine: fixture)
        guard let scheduler = optional(row["scheduler"]) else {
            #expect(section.status == .absent, "\(section.issues)")
            return
        }
        #expect(section.status == .ok, "\(section.issues)")
        let data = try #require(section.data)
        #expect(data.objectValue?.keys.sorted() == [scheduler])
        let facts = data[scheduler]
        let job = section.volatile?[scheduler]
        switch scheduler {
        case "slurm":
            #expect(facts?["cluster"]?.stringValue == optional(row["cluster"]))
            #expect(facts?["partition"]?.stringValue == optional(row["partition"]))
            #expect(facts?["nodes"]?.intValue == Int64(row["nodes"] ?? ""))
            #expect(facts?["tasks"]?.intValue == Int64(row["tasks"] ?? ""))
            #expect(facts?["tasksPerNode"]?.stringValue == optional(row["tasks_per_node"]))
            #expect(facts?["cpusPerTask"]?.intValue == Int64(row["cpus_per_task"] ?? ""))
            #expect(job?["jobId"]?.stringValue == optional(row["job_id"]))
            #expect(job?["stepId"]?.stringValue == optional(row["step_id"]))
            #expect(job?["nodeName"]?.stringValue == optional(row["node_name"]))
            #expect(job?["procId"]?.stringValue == optional(row["proc_id"]))
            #expect(job?["nodeList"]?.stringValue == optional(row["node_list"]))
        case "kubernetes":
            #expect(facts?["namespace"]?.stringValue == optional(row["namespace"]))
            #expect(pairs(facts?["labels"]) == optional(row["labels"]))
            #expect(pairs(job?["annotations"]) == optional(row["annotations"]))
        default:
            Issue.record("no checks for \(scheduler)")
        }
    }

    func pairs(_ value: JSONValue?) -> String? {
        guard let object = value?.objectValue else { return nil }
        return object.keys.sorted().map { "\($0)=\(object[$0]?.stringValue ?? "")" }.joined(separator: ",")
    }

    @Test("tasks of one job and two jobs of the same request share the scheduler data; ids are volatile")
    func sameRequestSameData() throws {
        let sections = try ["sched-slurm-22.05-srun-job1-rank0", "sched-slurm-22.05-srun-job1-rank3",
                            "sched-slurm-22.05-srun-job3-rank3"].map { try collect(SchedulerProbe(), onMachine: $0) }
        #expect(sections[0].data == sections[1].data)
        #expect(sections[1].data == sections[2].data)
        #expect(sections[0].volatile != sections[1].volatile)
        #expect(sections[1].volatile != sections[2].volatile)
        // A different request (the batch job: 1 node, 2 tasks) is a different environment.
        #expect(try collect(SchedulerProbe(), onMachine: "sched-slurm-22.05-sbatch-batch").data != sections[0].data)
    }

    @Test("every sched- machine has expected facts")
    func coverage() {
        let covered = Set(Self.expected.fixtures)
        for name in Project.machineNames where name.hasPrefix("sched-") {
            #expect(covered.contains(name), "\(name) has no row in Fixtures/expected/scheduler.tsv")
        }
    }
}

@Suite("Scheduler probe: Kubernetes secrets, PBS, LSF")
struct SchedulerProbeTests {
    /// A pod as the kubelet lays it out: the recorded downward-API files, a service-account
    /// directory with a namespace and a planted token, the API service variables.
    func pod(token: String, tokenAsFIFO: Bool = false) throws -> ScratchMachine {
        let machine = ScratchMachine("k8s-pod")
        try machine.copy("/etc/podinfo/labels", from: "sched-k8s-downward-api-docs")
        try machine.copy("/etc/podinfo/annotations", from: "sched-k8s-downward-api-docs")
        let account = "/var/run/secrets/kubernetes.io/serviceaccount"
        try machine.write(account + "/namespace", "team-vision")
        try machine.write(account + "/ca.crt", "-----BEGIN CERTIFICATE-----\n")
        if tokenAsFIFO {
            #expect(mkfifo(machine.root + account + "/token", 0o600) == 0)
        } else {
            try machine.write(account + "/token", token)
        }
        try machine.environment(["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443",
                                 "HOSTNAME": "trainer-7d4b9c-x2x7q"])
        return machine
    }

    @Test("the service-account token never reaches the section, the manifest or an issue")
    func tokenNeverRecorded() throws {
        let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6InBsYW50ZWQifQ.planted-\(Int.random(in: 100_000...999_999))"
        let machine = try pod(token: token)
        let section = try machine.collect(SchedulerProbe())
        #expect(section.status == .ok, "\(section.issues)")
        #expect(section.data?["kubernetes"]?["namespace"] == "team-vision")
        let text = String(decoding: CanonicalJSON.serialize(section.json), as: UTF8.self)
        #expect(!text.contains(token) && !text.contains("planted"))
        #expect(!text.contains("BEGIN CERTIFICATE"))
        // The whole manifest, every probe, through the command line.
        let capture = LiveCommandRunner(environment: processEnvironment())
            .run([Project.executable, "capture", "--root", machine.root, "-o", "-", "-q"], timeout: 60)
        #expect(capture.outcome == .exited(0), "\(capture.stderrText)")
        #expect(capture.stdoutText.contains("team-vision"))
        #expect(!capture.stdoutText.contains(token) && !capture.stdoutText.contains("planted"))
    }

    @Test("the token is never opened: a FIFO in its place would be reported if it were")
    func tokenNeverOpened() throws {
        let machine = try pod(token: "", tokenAsFIFO: true)
        let section = try machine.collect(SchedulerProbe())
        #expect(section.status == .ok, "\(section.issues)")
        #expect(!section.issues.contains { $0.source.contains("token") || $0.message.contains("token") })
    }

    @Test("downward-API files: Go quoting, identity labels to volatile, secret-looking annotations masked")
    func downwardAPI() throws {
        let parsed = parseDownwardAPIFile("app=\"trainer\"\nnote=\"a \\\"quoted\\\" \\u00e9 value\\n\"\nbroken\n")
        #expect(parsed.fields == ["app": "trainer", "note": "a \"quoted\" \u{e9} value\n"])
        #expect(parsed.problems == ["malformed line 3: 'broken'"])

        let machine = ScratchMachine("podinfo")
        try machine.write("/etc/podinfo/labels", "app=\"trainer\"\npod-template-hash=\"7d4b9c\"\n")
        try machine.write("/etc/podinfo/annotations",
                          "kubernetes.io/config.seen=\"2026-11-23T16:37:28Z\"\nexample.com/api-token=\"s3cr3t\"\n")
        let section = try machine.collect(SchedulerProbe())
        #expect(section.data?["kubernetes"]?["labels"] == ["app": "trainer"])
        #expect(section.volatile?["kubernetes"]?["labels"] == ["pod-template-hash": "7d4b9c"])
        #expect(section.volatile?["kubernetes"]?["annotations"]?["example.com/api-token"] == .string(Secrets.mask))
    }

    // PBS and LSF: variables as the PBS Professional and LSF reference guides name them; no
    // recording of either was available.
    @Test("PBS: queue, server, nodes and slots from the node file; job id and hosts volatile")
    func pbs() throws {
        let machine = ScratchMachine("pbs")
        try machine.write("/var/spool/pbs/aux/4711.pbs01", "cn01\ncn01\ncn02\ncn02\n")
        try machine.environment(["PBS_JOBID": "4711.pbs01", "PBS_QUEUE": "workq", "PBS_SERVER": "pbs01",
                                 "PBS_NODEFILE": "/var/spool/pbs/aux/4711.pbs01", "PBS_ENVIRONMENT": "PBS_BATCH",
                                 "NCPUS": "2", "PBS_JOBNAME": "train"])
        let section = try machine.collect(SchedulerProbe())
        #expect(section.status == .ok, "\(section.issues)")
        #expect(section.data?["pbs"] == ["queue": "workq", "server": "pbs01", "mode": "batch", "nodes": 2, "slots": 4,
                                         "ncpus": 2])
        #expect(section.volatile?["pbs"]?["jobId"] == "4711.pbs01")
        #expect(section.volatile?["pbs"]?["nodeList"] == ["cn01", "cn02"])
    }

    @Test("LSF: queue, hosts and slots from LSB_MCPU_HOSTS, else LSB_HOSTS")
    func lsf() throws {
        let machine = ScratchMachine("lsf")
        try machine.environment(["LSB_JOBID": "881", "LSB_QUEUE": "normal", "LSB_MCPU_HOSTS": "hostA 4 hostB 2",
                                 "LSB_HOSTS": "hostA hostA hostA hostA hostB hostB"])
        let section = try machine.collect(SchedulerProbe())
        #expect(section.data?["lsf"] == ["queue": "normal", "hosts": 2, "slots": 6])
        #expect(section.volatile?["lsf"]?["hosts"] == ["hostA", "hostB"])
        #expect(parseHostSlots("hostA hostA hostB".split(separator: " ")) == (["hostA", "hostB"], 3))
        #expect(parseLSFMultiCPUHosts("hostA 4 hostB") == nil)
    }

    @Test("Slurm memory amounts")
    func slurmMemory() {
        #expect(parseSlurmMemory("100") == 100 << 20)
        #expect(parseSlurmMemory("4G") == 4 << 30)
        #expect(parseSlurmMemory("many") == nil)
    }

    @Test("no scheduler: absent")
    func none() throws {
        let section = try collect(SchedulerProbe(), onMachine: "host-procfs")
        #expect(section.status == .absent)
        #expect(section.issues.first?.message.hasPrefix("no batch job or pod") == true)
    }
}
