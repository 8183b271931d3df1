import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceProbes
import ProvenanceTestSupport
import Testing

/// A real virtual environment with a real package from the package index, made once per test
/// process (python3 -m venv; pip install six). Nil when it cannot be made (no network).
let testVenv: (path: String, log: String)? = {
    let directory = temporaryDirectory() + "/venv"
    let made = shell("python3 -m venv '\(directory)' && '\(directory)/bin/python' -m pip install -q six==1.16.0 2>&1",
                     timeout: 240)
    return made.status == 0 ? (directory, made.output) : nil
}()

@Suite("provenance run describes the job's own interpreter", .serialized)
struct RunInterpreterTests {
    @Test("run -- VENV/bin/python job.py without activation records that venv and its packages (as its pip list)")
    func venvWithoutActivation() throws {
        let venv = try #require(testVenv, "could not make a venv with pip install six (package index unreachable?)")
        let directory = temporaryDirectory()
        var environment = processEnvironment()
        environment["VIRTUAL_ENV"] = nil
        environment["SOURCE_DATE_EPOCH"] = "1700000000"
        let result = LiveCommandRunner(environment: environment).run(
            [Project.executable, "run", "-q", "--only", "python", "--out", directory + "/r", "--",
             venv.path + "/bin/python", "-c", "import six"], timeout: 60)
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        let python = try #require(try readJSON(directory + "/r/env.json")["sections"]?["python"]?["data"])
        #expect(python["executable"]?.stringValue == venv.path + "/bin/python")
        #expect(python["environmentKind"] == "venv")
        #expect(python["prefix"]?.stringValue == venv.path)
        let recorded = Set((python["distributions"]?.arrayValue ?? []).compactMap { item -> String? in
            guard let name = item["name"]?.stringValue, let version = item["version"]?.stringValue else { return nil }
            return normalizeDistributionName(name) + "==" + version
        })
        let pipList = shell("'\(venv.path)/bin/python' -m pip list --format=freeze 2>/dev/null").output
        let expected = Set(pipList.split(separator: "\n").map { line -> String in
            let parts = line.split(separator: "=", omittingEmptySubsequences: true)
            return normalizeDistributionName(String(parts.first ?? "")) + "==" + String(parts.last ?? "")
        })
        #expect(expected.contains("six==1.16.0"))
        #expect(recorded == expected, "recorded \(recorded.sorted()), pip list \(expected.sorted())")
    }

    @Test("the interpreter of a job's command line: python names, wrappers, console scripts, uv run")
    func commandLines() throws {
        let venv = try #require(testVenv, "could not make a venv")
        let fs = RootedFileSystem()
        func interpreter(_ line: [String], _ environment: [String: String] = [:]) -> String? {
            JobInterpreter.python(commandLine: line, environment: environment, workingDirectory: "/tmp", fs: fs,
                                  resolve: { LiveCommandRunner(environment: processEnvironment()).resolve($0) })
        }
        let python = venv.path + "/bin/python"
        #expect(interpreter([python, "train.py"]) == python)
        #expect(interpreter(["srun", "-N", "2", "env", "OMP_NUM_THREADS=4", python, "-m", "x"]) == python)
        // pip is a console script of the venv: its #! line names the venv's python.
        #expect(interpreter([venv.path + "/bin/pip", "list"])?.hasPrefix(venv.path + "/bin/python") == true)
        #expect(interpreter(["uv", "run", "train.py"], ["UV_PROJECT_ENVIRONMENT": venv.path]) == python)
        #expect(interpreter(["sh", "-c", "python train.py"]) == nil)
        #expect(interpreter(["true"]) == nil)
    }
}
