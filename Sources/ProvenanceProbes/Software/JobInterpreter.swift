import ProvenanceProbeKit

/// The Python interpreter a job's command line starts, so the python section describes what the
/// job runs rather than the `python3` of provenance's own PATH (a Slurm script that calls
/// `/scratch/venv/bin/python train.py` without activating the venv).
///
/// Recognised, after wrappers that run their arguments (`env`, `srun`, `mpirun`, `time`,
/// `nice`, `numactl`, `taskset`, …; their options are skipped): a program named `python`,
/// `python3` or `pythonX.Y` (a path, or found on PATH); a script whose `#!` line names one
/// (`torchrun`, `accelerate`, a venv's console scripts); `uv run` (the project's `.venv`, or
/// `UV_PROJECT_ENVIRONMENT`); `conda run -p PREFIX` and `conda run -n NAME` (in the conda
/// installation's `envs/`). Nil when the command starts none of these.
public enum JobInterpreter {
    /// Programs that run the rest of their arguments as a command.
    static let wrappers: Set<String> = ["env", "srun", "mpirun", "mpiexec", "time", "nice", "nohup", "numactl", "taskset",
                                        "stdbuf", "ionice", "chrt", "timeout", "exec", "singularity-exec"]

    /// The absolute path of the interpreter `commandLine` starts; `resolve` finds a program on
    /// the job's PATH, `workingDirectory` anchors relative paths.
    public static func python(commandLine: [String], environment: [String: String], workingDirectory: String,
                              fs: RootedFileSystem, resolve: (String) -> String?) -> String?
    {
        func absolute(_ path: String) -> String { DatasetSpec.absolutePath(path, workingDirectory: workingDirectory) }
        func program(_ word: String) -> String? {
            word.contains("/") ? (fs.exists(absolute(word)) ? absolute(word) : nil) : resolve(word)
        }
        var index = 0
        while index < commandLine.count {
            let word = commandLine[index]
            let name = String(word.split(separator: "/").last ?? "")
            if isPythonName(name) { return program(word) }
            if wrappers.contains(name) {
                // Skip the wrapper's options (and `VAR=value` of env) up to the command it runs.
                index += 1
                while index < commandLine.count, commandLine[index].hasPrefix("-") || commandLine[index].contains("=")
                    || Int(commandLine[index]) != nil
                {
                    index += 1
                }
                continue
            }
            if name == "uv", commandLine.dropFirst(index + 1).first == "run" {
                let project = environment["UV_PROJECT_ENVIRONMENT"].map(absolute) ?? absolute(".venv")
                return fs.exists(project + "/bin/python") ? project + "/bin/python" : nil
            }
            if name == "conda" || name == "mamba" || name == "micromamba", commandLine.dropFirst(index + 1).first == "run" {
                return condaRun(Array(commandLine.dropFirst(index + 2)), conda: program(word), environment: environment,
                                fs: fs, absolute: absolute)
            }
            // A script whose #! line names a Python (console scripts of a venv: torchrun, accelerate).
            if let path = program(word), let interpreter = shebangPython(path, fs: fs) { return interpreter }
            return nil
        }
        return nil
    }

    /// `python`, `python3`, `python3.11`, `python3.13t`.
    static func isPythonName(_ name: String) -> Bool {
        guard name.hasPrefix("python") else { return false }
        let rest = name.dropFirst("python".count)
        return rest.isEmpty || rest.allSatisfy { $0.isNumber || $0 == "." || $0 == "t" } && rest.first?.isNumber == true
    }

    /// The interpreter of a `#!/path/python` line at the start of a script. (`#!/usr/bin/env
    /// python3` names the `python3` of PATH, which the python probe finds by itself: nil.)
    static func shebangPython(_ path: String, fs: RootedFileSystem) -> String? {
        guard let bytes = (try? fs.readPrefix(path, maxBytes: 256)) ?? nil, bytes.starts(with: [0x23, 0x21]) else { return nil }
        let line = String(decoding: bytes.dropFirst(2).prefix { $0 != 0x0A }, as: UTF8.self)
        guard let first = line.split(separator: " ").first.map(String.init) else { return nil }
        return isPythonName(String(first.split(separator: "/").last ?? "")) && fs.exists(first) ? first : nil
    }

    /// `conda run -p PREFIX …` or `-n NAME` (in `$CONDA_ROOT/envs`, next to the conda program).
    static func condaRun(_ arguments: [String], conda: String?, environment: [String: String], fs: RootedFileSystem,
                         absolute: (String) -> String) -> String?
    {
        var prefix: String?
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "-p" || argument == "--prefix", index + 1 < arguments.count {
                prefix = absolute(arguments[index + 1])
            } else if argument == "-n" || argument == "--name", index + 1 < arguments.count {
                let name = arguments[index + 1]
                var roots: [String] = []
                if let root = environment["CONDA_ROOT"] ?? environment["MAMBA_ROOT_PREFIX"] { roots.append(root) }
                if let conda { roots.append(parent(parent(conda))) }
                prefix = roots.map { $0 + "/envs/" + name }.first { fs.exists($0 + "/bin/python") }
            }
            index += 1
        }
        return prefix.map { $0 + "/bin/python" }.flatMap { fs.exists($0) ? $0 : nil }
    }

    private static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
