/// The Run group of an appendix (a run directory's `run.json` with its `env.json`) and the
/// "Compute used" summary of several runs: the numbers the NeurIPS checklist asks for (type of
/// compute, memory, compute per run and in total). Pure: reads JSON values only.
extension EnvironmentSummary {
    /// A summary from groups already built (a compute summary of several runs).
    public init(groups: [Group], full: [FlatSection]? = nil) {
        self.groups = groups
        self.full = full
    }

    /// The appendix of a run directory: the environment of `manifest`, then the Run group of
    /// `run` and the compute it used.
    public init(manifest: JSONValue, run: JSONValue, full: Bool = false) {
        self.init(manifest: manifest, full: full)
        let group = EnvironmentSummary.runGroup(run: run, manifest: manifest)
        // Before the Manifest group, which stays last.
        let index = groups.lastIndex { $0.title == "Manifest" } ?? groups.count
        groups.insert(group, at: index)
        let compute = ComputeUsed(name: "this run", manifest: manifest, run: run)
        groups.insert(Group(title: "Compute used", rows: compute.rows), at: index + 1)
    }

    /// Command, seeds, parameters with where each came from, configuration files, exit status,
    /// start time and duration, peak memory, and the outputs with their digests.
    public static func runGroup(run: JSONValue, manifest: JSONValue) -> Group {
        var rows: [Row] = []
        if let command = run["command"]?.arrayValue {
            rows.append(Row(label: "Command", value: command.compactMap(\.stringValue).map(shellQuoted).joined(separator: " ")))
        }
        if let seeds = RunSection.read(from: manifest)?.seeds, !seeds.isEmpty {
            rows.append(Row(label: "Seeds", value: seeds.keys.sorted().map { "\($0) = \(seeds[$0]!)" }.joined(separator: ", ")))
        }
        if let values = run["parameters"]?["values"]?.objectValue {
            for key in values.keys.sorted() {
                let entry = values[key]!
                let value = entry["value"].map(scalarText) ?? "(no value)"
                var text = "\(value) (\(sourceText(entry["source"])))"
                if let overrides = entry["overrides"]?.arrayValue, !overrides.isEmpty {
                    text += "; overrides " + overrides.map { sourceText($0) }.joined(separator: ", ")
                }
                rows.append(Row(label: "Parameter \(key)", value: text))
            }
        }
        for config in run["parameters"]?["configs"]?.arrayValue ?? [] {
            guard let path = config["path"]?.stringValue else { continue }
            let parts = [config["format"]?.stringValue.map { "\($0) file" }, config["canonicalSHA256"]?.stringValue.map { "content digest \($0)" }]
            rows.append(Row(label: "Configuration file", value: ([path] + parts.compactMap { $0 }).joined(separator: ", ")))
        }
        if let exit = run["exit"] {
            if let code = exit["code"]?.intValue {
                rows.append(Row(label: "Exit status", value: code == 0 ? "0 (success)" : "\(code) (failure)"))
            } else if let signal = exit["signal"]?.intValue {
                rows.append(Row(label: "Exit status", value: "killed by signal \(signal)"))
            } else if let reason = exit["notStarted"]?.stringValue {
                rows.append(Row(label: "Exit status", value: "not started: \(reason)"))
            }
        }
        if let start = run["startTime"]?.stringValue {
            rows.append(Row(label: "Started", value: start + (run["endTime"]?.stringValue.map { ", ended \($0)" } ?? "")))
        }
        if let milliseconds = run["durationMs"]?.intValue {
            rows.append(Row(label: "Duration", value: durationText(milliseconds)))
        }
        if let text = peakMemoryText(run) { rows.append(Row(label: "Peak memory", value: text)) }
        for output in run["outputs"]?.arrayValue ?? [] {
            guard let path = output["path"]?.stringValue else { continue }
            rows.append(Row(label: "Output \(path)", value: outputText(output)))
        }
        return Group(title: "Run", rows: rows)
    }

    /// The largest resident set of the command or a process it waited for; "at most" when it is
    /// not above the launcher's own (Linux counts the spawning process's peak in the child's).
    static func peakMemoryText(_ run: JSONValue) -> String? {
        guard let bytes = run["resources"]?["maxRSSBytes"]?.intValue else { return nil }
        if let launcher = run["resources"]?["launcherMaxRSSBytes"]?.intValue, bytes <= launcher {
            return "at most \(formatBytes(bytes)) (the command stayed below what Linux counts of provenance itself)"
        }
        return "\(formatBytes(bytes)), the largest resident set of the command or a process it waited for"
    }

    /// An argument as a POSIX shell reads it back: bare when it holds only safe characters, else
    /// in single quotes (a `'` written `'\''`), so a reader can paste the command.
    static func shellQuoted(_ argument: String) -> String {
        let safe = argument.unicodeScalars.allSatisfy { scalar in
            (scalar.value >= 0x30 && scalar.value <= 0x39) || (scalar.value >= 0x41 && scalar.value <= 0x5A)
                || (scalar.value >= 0x61 && scalar.value <= 0x7A) || "-_./=:,+@%".unicodeScalars.contains(scalar)
        }
        if safe && !argument.isEmpty { return argument }
        return "'" + argument.replacing("'", with: "'\\''") + "'"
    }

    /// Where a parameter's value came from, in words.
    static func sourceText(_ source: JSONValue?) -> String {
        switch source?["kind"]?.stringValue {
        case "config": return "from the configuration file \(source?["file"]?.stringValue ?? "(unnamed)")"
        case "user": return "set on the command line"
        case "derived": return "derived by the job"
        case let kind?: return "source: \(kind)"
        case nil: return "source not recorded"
        }
    }

    /// "sha256:…, 1234 bytes" for a file; "sha256:…, 3 files, 1.2 MiB (…)" for a directory.
    static func outputText(_ output: JSONValue) -> String {
        if output["missing"] == .bool(true) { return "missing after the run" }
        if let error = output["error"]?.stringValue { return "not read: \(error)" }
        if let digest = output["sha256"]?.stringValue {
            return digest + (output["bytes"]?.intValue.map { ", \(formatBytes($0))" } ?? "")
        }
        if let digest = output["digest"]?.stringValue {
            var parts = [digest]
            if let count = output["fileCount"]?.intValue { parts.append("\(count) file\(count == 1 ? "" : "s")") }
            if let bytes = output["totalBytes"]?.intValue { parts.append(formatBytes(bytes)) }
            return parts.joined(separator: ", ")
        }
        return "no digest recorded"
    }

    /// "1 h 2 min 3.4 s (3723400 ms)".
    public static func durationText(_ milliseconds: Int64) -> String {
        let seconds = milliseconds / 1000
        let tenths = (milliseconds % 1000) / 100
        var parts: [String] = []
        if seconds >= 3600 { parts.append("\(seconds / 3600) h") }
        if seconds >= 60 { parts.append("\(seconds % 3600 / 60) min") }
        parts.append("\(seconds % 60).\(tenths) s")
        return parts.joined(separator: " ") + " (\(milliseconds) ms)"
    }

    /// `value` with `decimals` digits after the point, rounded half up (non-negative values).
    public static func fixed(_ value: Double, decimals: Int) -> String {
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int64((max(0, value) * Double(scale)).rounded())
        guard decimals > 0 else { return "\(scaled)" }
        let fraction = String(scaled % scale)
        return "\(scaled / scale)." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
}

/// The compute one run used: its machine's GPUs (model × count) and logical CPUs, times its
/// duration, and its peak memory where `run.json` records it.
public struct ComputeUsed: Sendable, Equatable {
    public var name: String
    public var hours: Double
    /// GPU model → count, on the machine the run ran on (every GPU the capture saw).
    public var gpus: [(model: String, count: Int)]
    public var logicalCPUs: Int?
    public var cpuModel: String?
    public var maxRSSBytes: Int64?
    /// The peak memory in words (`EnvironmentSummary.peakMemoryText`).
    public var peakMemory: String?
    /// CPU time the command spent (user + system), in hours, where recorded.
    public var cpuTimeHours: Double?

    public static func == (lhs: ComputeUsed, rhs: ComputeUsed) -> Bool {
        lhs.name == rhs.name && lhs.hours == rhs.hours && lhs.gpus.map(\.model) == rhs.gpus.map(\.model)
            && lhs.gpus.map(\.count) == rhs.gpus.map(\.count) && lhs.logicalCPUs == rhs.logicalCPUs
            && lhs.maxRSSBytes == rhs.maxRSSBytes && lhs.cpuTimeHours == rhs.cpuTimeHours
    }

    public init(name: String, manifest: JSONValue, run: JSONValue) {
        self.name = name
        hours = Double(run["durationMs"]?.intValue ?? 0) / 3_600_000
        var gpus: [(model: String, count: Int)] = []
        if let nvidia = NVIDIASection.read(from: manifest) { gpus += NVIDIASection.modelCounts(nvidia.gpus) }
        if let amd = AMDSection.read(from: manifest) {
            var order: [String] = []
            var counts: [String: Int] = [:]
            for card in amd.cards {
                let model = card.series ?? card.model ?? card.deviceName ?? "AMD GPU"
                if counts[model] == nil { order.append(model) }
                counts[model, default: 0] += 1
            }
            gpus += order.map { ($0, counts[$0]!) }
        }
        self.gpus = gpus
        let cpu = CPUSection.read(from: manifest)
        logicalCPUs = cpu?.logicalCPUs
        cpuModel = cpu?.modelName
        maxRSSBytes = run["resources"]?["maxRSSBytes"]?.intValue
        peakMemory = EnvironmentSummary.peakMemoryText(run)
        if let user = run["resources"]?["userCPUMs"]?.intValue, let system = run["resources"]?["systemCPUMs"]?.intValue {
            cpuTimeHours = Double(user + system) / 3_600_000
        }
    }

    var gpuText: String {
        gpus.isEmpty ? "no GPU"
            : gpus.map { "\($0.count) × \($0.model) × \(EnvironmentSummary.fixed(hours, decimals: 4)) h = "
                + "\(EnvironmentSummary.fixed(hours * Double($0.count), decimals: 4)) GPU-hours" }.joined(separator: "; ")
    }

    var cpuText: String {
        guard let logical = logicalCPUs else { return "CPUs not recorded" }
        var text = "\(logical) logical CPUs × \(EnvironmentSummary.fixed(hours, decimals: 4)) h = "
            + "\(EnvironmentSummary.fixed(hours * Double(logical), decimals: 4)) CPU-hours"
        if let busy = cpuTimeHours { text += " (\(EnvironmentSummary.fixed(busy, decimals: 4)) h of CPU time used)" }
        return text
    }

    /// The rows of one run: GPU-hours, CPU-hours, peak memory.
    public var rows: [EnvironmentSummary.Row] {
        var rows = [EnvironmentSummary.Row(label: "GPU time", value: gpuText),
                    EnvironmentSummary.Row(label: "CPU time", value: cpuText)]
        if let peakMemory { rows.append(EnvironmentSummary.Row(label: "Peak memory", value: peakMemory)) }
        return rows
    }

    /// The "Compute used" group of several runs: one row per run, then the totals (GPU-hours per
    /// model, CPU-hours, wall-clock hours, the largest peak memory).
    public static func group(_ runs: [ComputeUsed]) -> EnvironmentSummary.Group {
        var rows: [EnvironmentSummary.Row] = []
        for run in runs {
            var parts = [run.cpuModel.map { "on \($0)" }, run.gpuText, run.cpuText].compactMap { $0 }
            if let peak = run.peakMemory { parts.append("peak memory \(peak)") }
            rows.append(EnvironmentSummary.Row(label: run.name, value: parts.joined(separator: "; ")))
        }
        var order: [String] = []
        var gpuHours: [String: Double] = [:]
        for run in runs {
            for gpu in run.gpus {
                if gpuHours[gpu.model] == nil { order.append(gpu.model) }
                gpuHours[gpu.model, default: 0] += run.hours * Double(gpu.count)
            }
        }
        let plural = runs.count == 1 ? "" : "s"
        rows.append(EnvironmentSummary.Row(label: "Total wall-clock time", value:
            "\(EnvironmentSummary.fixed(runs.reduce(0) { $0 + $1.hours }, decimals: 4)) h over \(runs.count) run\(plural)"))
        rows.append(EnvironmentSummary.Row(label: "Total GPU time", value: order.isEmpty ? "no GPU"
            : order.map { "\($0): \(EnvironmentSummary.fixed(gpuHours[$0]!, decimals: 4)) GPU-hours" }.joined(separator: "; ")))
        let cpuHours = runs.reduce(0.0) { $0 + $1.hours * Double($1.logicalCPUs ?? 0) }
        rows.append(EnvironmentSummary.Row(label: "Total CPU time", value:
            "\(EnvironmentSummary.fixed(cpuHours, decimals: 4)) CPU-hours (logical CPUs × duration)"))
        if let peak = runs.compactMap(\.maxRSSBytes).max() {
            rows.append(EnvironmentSummary.Row(label: "Largest peak memory", value: EnvironmentSummary.formatBytes(peak)))
        }
        return EnvironmentSummary.Group(title: "Compute used", rows: rows)
    }
}
