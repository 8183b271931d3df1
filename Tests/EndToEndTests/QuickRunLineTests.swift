import ArgumentParser
import ProvenanceProbeKit
import ProvenanceProbes
import Testing
@testable import provenance

/// `run` command lines read by `QuickRunLine` and by ArgumentParser: the same job, or the quick
/// reader leaves the line to ArgumentParser.
@Suite("run's command line read without ArgumentParser")
struct QuickRunLineTests {
    /// What a job says, field by field, its capture's request included.
    static func facts(_ job: RunJob) throws -> [String] {
        [
            "out \(String(describing: job.out))", "outputs \(job.outputs)", "configs \(job.configs)", "strict \(job.strict)",
            "quiet \(job.quiet)", "noCache \(job.noCache)", "trace \(job.trace)", "traceInclude \(job.traceInclude)",
            "traceExclude \(job.traceExclude)", "command \(job.command)",
        ] + QuickCaptureLineTests.facts(try job.request())
    }

    @Test("lines the quick reader reads give ArgumentParser's job", arguments: [
        ["--", "true"], ["-q", "--", "python", "train.py"], ["--quiet", "--", "x"], ["--out", "runs/a", "--", "x"],
        ["--out=r", "--", "x"], ["--output", "model.pt", "--output=logs/*.txt", "--", "x"], ["--config", "c.yaml", "--", "x"],
        ["--strict", "--", "x"], ["--no-cache", "--", "x"], ["--trace", "--", "x"],
        ["--trace", "--trace-include", "/usr/lib", "--trace-exclude=/proc", "--", "x"], ["--root", "/m", "--", "x"],
        ["--only", "git", "--only=os", "--probe", "gpu.topology", "--no-probe", "cuda", "--", "x"],
        ["--repo", "../r", "--env", "MYLAB_*", "--dataset", "d=data", "--", "x"],
        ["--seed", "torch=1", "--seed", "np=2", "--param", "lr=0.1", "--", "python", "train.py", "--lr", "0.1", "-q"],
        ["-q", "--strict", "--no-cache", "--trace", "--out", "o", "--output", "m", "--config", "c.json", "--root", "/x",
         "--only", "git", "--repo", "r", "--env", "E", "--dataset", "n=p", "--seed", "s=1", "--param", "p=2", "--", "cmd", "--flag"],
        ["--param", "a=b=c", "--", "x"], ["--out", "dir with space", "--", "sh", "-c", "exit 3"], ["--", "--"],
    ])
    func sameJob(_ arguments: [String]) throws {
        let quick = try #require(QuickRunLine.parse(arguments), "the quick reader reads \(arguments)")
        let parsed = try #require(try RunCommand.parseAsRoot(arguments) as? RunCommand)
        #expect(try Self.facts(quick.job) == Self.facts(parsed.runJob()), "\(arguments)")
    }

    @Test("everything else is left to ArgumentParser, which reads or refuses it", arguments: [
        ["-h"], ["--help"], ["--version"], [], ["-q"], ["--"], ["--out", "x"], ["-o", "x", "--", "x"],
        ["--timeout", "3", "--", "x"], ["--probe-timeout", "git=3", "--", "x"], ["--probes-dir", "d", "--", "x"],
        ["--diff-max-bytes", "9", "--", "x"], ["--dataset-threads", "2", "--", "x"], ["--dataset-list-limit", "5", "--", "x"],
        ["--canonical", "--", "x"], ["--inline-diff", "--", "x"], ["--trace-include", "/a", "--", "x"],
        ["--trace", "--trace-exclude", "relative", "--", "x"], ["--trace", "--trace-include=rel", "--", "x"],
        ["--out", "a", "--out", "b", "--", "x"], ["--root", "a", "--root=b", "--", "x"], ["-q", "-q", "--", "x"],
        ["-q", "--quiet", "--", "x"], ["--strict", "--strict", "--", "x"], ["--trace=yes", "--", "x"], ["--out", "--", "x"],
        ["--out", "", "--", "x"], ["--output", "-", "--", "x"], ["--out", "-x", "--", "x"], ["stray", "--", "x"],
        ["python", "train.py"], ["-qs", "--", "x"], ["--=x", "--", "x"], ["---", "--", "x"],
    ])
    func leftToArgumentParser(_ arguments: [String]) {
        #expect(QuickRunLine.parse(arguments) == nil, "\(arguments)")
    }

    @Test("a line the quick reader leaves because validate() refuses it is refused by ArgumentParser", arguments: [
        [], ["-q"], ["--"], ["--trace-include", "/a", "--", "x"], ["--trace", "--trace-exclude", "relative", "--", "x"],
    ])
    func refusedLines(_ arguments: [String]) {
        #expect(QuickRunLine.parse(arguments) == nil, "\(arguments)")
        #expect(throws: (any Error).self, "\(arguments)") { try RunCommand.parseAsRoot(arguments) }
    }
}
