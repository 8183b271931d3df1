import ArgumentParser
import ProvenanceProbeKit
import ProvenanceProbes
import Testing
@testable import provenance

/// `capture` command lines read by `QuickCaptureLine` and by ArgumentParser: the same request, or
/// the quick reader leaves the line to ArgumentParser.
@Suite("capture's command line read without ArgumentParser")
struct QuickCaptureLineTests {
    /// What a request says, field by field (its environment, directory and clock are the
    /// process's in both).
    static func facts(_ request: CaptureRequest) -> [String] {
        [
            "root \(String(describing: request.root))", "selection \(request.selection)", "timeout \(request.timeout)",
            "probeTimeouts \(request.probeTimeouts)", "probeDirectories \(request.probeDirectories)",
            "useCache \(request.useCache)", "environmentPatterns \(request.environmentPatterns)",
            "commandLine \(request.commandLine)", "seeds \(request.seeds)", "parameters \(request.parameters)",
            "repositories \(request.repositories)", "diffMaxBytes \(request.diffMaxBytes)", "datasets \(request.datasets)",
            "datasetListLimit \(request.datasetListLimit)", "datasetThreads \(String(describing: request.datasetThreads))",
            "datasetListFiles \(request.datasetListFiles)", "datasetProgress \(request.datasetProgress != nil)",
            "sums \(String(describing: request.sums))", "output \(request.output)", "inlineDiff \(request.inlineDiff)",
            "alsoWrites \(request.alsoWrites)", "environment \(request.environment == processEnvironment())",
            "workingDirectory \(request.workingDirectory)",
        ]
    }

    @Test("lines the quick reader reads give ArgumentParser's request, quiet and canonical flags", arguments: [
        [], ["-q"], ["--quiet"], ["-o", "out.json"], ["--output", "a/b.json"], ["--output=x.json"], ["-o", "-"], ["--output=-"],
        ["--canonical"], ["--inline-diff"], ["--no-cache"], ["--root", "/tmp/m"], ["--root=/m"],
        ["--only", "git", "--only=os"], ["--probe", "gpu.topology"], ["--no-probe", "cuda", "--no-probe", "pci"],
        ["--repo", "../r", "--repo=/abs"], ["--env", "MYLAB_*"], ["--dataset", "d=data"], ["--seed", "torch=1", "--seed", "np=2"],
        ["--param", "lr=0.1"], ["-q", "-o", "e.json", "--", "python", "train.py", "--lr", "0.1"], ["--", "-q"], ["--"],
        ["--only", "git", "-q", "--canonical", "--inline-diff", "--no-cache", "--seed", "s=1", "--param", "p=2", "--env", "E",
         "--repo", "r", "--dataset", "n=p", "--root", "/x", "-o", "o.json", "--", "cmd", "--flag", "-x"],
        ["--param", "a=b=c"], ["--seed", "é=1"], ["-o", "dir with space/e.json"],
    ])
    func sameRequest(_ arguments: [String]) throws {
        let quick = try #require(QuickCaptureLine.parse(arguments), "the quick reader reads \(arguments)")
        let parsed = try #require(try CaptureCommand.parseAsRoot(arguments) as? CaptureCommand)
        #expect(Self.facts(try quick.request()) == Self.facts(try parsed.request()), "\(arguments)")
        #expect(quick.quiet == parsed.options.quiet, "\(arguments)")
        #expect(quick.canonical == parsed.canonical, "\(arguments)")
    }

    @Test("everything else is left to ArgumentParser", arguments: [
        ["-h"], ["--help"], ["--version"], ["-qo", "x"], ["-ox.json"], ["--out", "x"], ["--timeout", "3"], ["--sums", "s"],
        ["--dataset-threads", "2"], ["--probe-timeout", "git=3"], ["--probes-dir", "d"], ["--diff-max-bytes", "9"],
        ["--dataset-list-limit", "5"], ["-o"], ["--only"], ["-o", "--quiet"], ["--only", "-x"], ["-q", "-q"],
        ["-q", "--quiet"], ["-o", "a", "-o", "b"], ["--root", "a", "--root=b"], ["--quiet=yes"], ["stray"], ["-"],
        ["--canonical", "--canonical"], ["---"], ["--=x"], ["--output="], ["-o", ""],
    ])
    func leftToArgumentParser(_ arguments: [String]) {
        #expect(QuickCaptureLine.parse(arguments) == nil, "\(arguments)")
    }
}
