import ProvenanceCore
import ProvenanceProbeKit

/// NVIDIA GPUs: driver version, the CUDA version the driver supports, and per GPU its model,
/// UUID, PCI address, serial, VBIOS, memory, ECC / MIG / persistence / compute modes, power
/// limits, MIG devices and virtualisation mode.
///
/// Runs `nvidia-smi -q -x` and parses its XML (`parseNVIDIASMIXML`). When nvidia-smi is not
/// installed, exits non-zero (status 9: it "couldn't communicate with the NVIDIA driver"), times
/// out or prints XML that cannot be parsed, falls back to `/proc/driver/nvidia/version` and
/// `/proc/driver/nvidia/gpus/*/information` (model, UUID, VBIOS, bus location) and reports the
/// nvidia-smi problem as an issue, so the section is `partial`.
///
/// Status when neither source answers, chosen for what an ML user reading the manifest needs:
/// - nvidia-smi not installed, or exiting with status 9, and no `/proc/driver/nvidia`: `absent`.
///   No NVIDIA kernel module is loaded, so this machine (or container) has no usable NVIDIA GPU;
///   that is a fact about the environment, not a broken capture.
/// - nvidia-smi hung (timed out), or failed any other way (another exit status, a signal,
///   unparsable output), and no `/proc/driver/nvidia`: `failed`, with the reason. A hanging
///   nvidia-smi usually means a GPU or driver in a bad state (Xid errors, a GSP timeout): the job
///   should not read "no GPU" in its manifest when the truth is "GPU broken".
/// - `/proc/driver/nvidia` present: `partial` with what procfs gives (it exists only when the
///   kernel module is loaded; nvidia-smi then typically fails in a container that sees the host's
///   /proc but has no `/dev/nvidia*` device nodes).
///
/// Volatile values (temperatures, utilisation, clocks, power draw, memory in use, processes,
/// the timestamp) are not in the data; per GPU temperature, utilisation and memory in use go to
/// `volatile`.
public struct NVIDIAProbe: Probe {
    public init() {}

    public static let command = ["nvidia-smi", "-q", "-x"]

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "gpu.nvidia", version: "1.1.0",
            summary: "NVIDIA driver and CUDA driver version; per GPU model, UUID, PCI address, serial, VBIOS, "
                + "memory, ECC/MIG/persistence modes, power limit, MIG devices, virtualisation",
            reads: ["/proc/driver/nvidia/version (fallback)", "/proc/driver/nvidia/gpus/*/information (fallback)"],
            runs: ["nvidia-smi -q -x"])
    }

    public typealias Output = NVIDIASection

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let result = context.run(Self.command)
        let problem: String
        if result.succeeded {
            do {
                let log = try parseNVIDIASMIXML(result.stdoutText)
                return output(from: log, report)
            } catch {
                problem = "unparsable output: \(error)"
            }
        } else {
            problem = result.failureDescription
        }

        if context.fs.isDirectory("/proc/driver/nvidia") {
            report.issue("nvidia-smi -q -x", problem)
            return readProcDriverNVIDIA(context.fs, report)
        }
        switch result.outcome {
        case .notFound:
            throw ProbeAbsent(
                source: "nvidia-smi",
                reason: "nvidia-smi is not installed and /proc/driver/nvidia does not exist: no NVIDIA driver loaded")
        case .exited(9):
            throw ProbeAbsent(
                source: "nvidia-smi",
                reason: "no NVIDIA driver loaded: nvidia-smi \(problem); /proc/driver/nvidia does not exist")
        default:
            throw ProbeFailure("nvidia-smi -q -x \(problem), and /proc/driver/nvidia does not exist")
        }
    }

    func output(from log: NVIDIASMILog, _ report: ProbeReport) -> Output {
        for problem in log.problems.prefix(20) { report.issue("nvidia-smi -q -x", problem) }
        if log.problems.count > 20 { report.issue("nvidia-smi -q -x", "\(log.problems.count - 20) more problems") }
        if let attached = log.attachedGPUs, attached != log.gpus.count {
            report.issue("nvidia-smi -q -x", "reports \(attached) attached GPUs but describes \(log.gpus.count)")
        }
        if log.driverVersion == nil && log.unavailable["driverVersion"] == nil {
            report.issue("nvidia-smi -q -x", "no <driver_version> element")
        }
        let volatile = log.volatile.compactMap { entry -> JSONValue? in
            var object: [String: JSONValue] = [:]
            if let bus = entry.pciBusIdNormalized { object["pciBusId"] = .string(bus) }
            if let value = entry.temperatureC { object["temperatureC"] = .int(value) }
            if let value = entry.utilizationPercent { object["utilizationPercent"] = .int(value) }
            if let value = entry.memoryUsedBytes { object["memoryUsedBytes"] = .int(value) }
            return object.count > 1 ? .object(object) : nil
        }
        if !volatile.isEmpty { report.volatile = .object(["gpus": .array(volatile)]) }
        return Output(
            source: "nvidia-smi", driverVersion: log.driverVersion, cudaDriverVersion: log.cudaDriverVersion,
            gpuCount: log.gpus.count, attachedGPUs: log.attachedGPUs, dtd: log.dtd, gpus: log.gpus,
            unavailable: log.unavailable.isEmpty ? nil : log.unavailable)
    }

    /// What `/proc/driver/nvidia` tells (it exists only while the kernel module is loaded).
    func readProcDriverNVIDIA(_ fs: RootedFileSystem, _ report: ProbeReport) -> Output {
        let base = "/proc/driver/nvidia"
        var output = Output(source: base, gpuCount: 0, gpus: [])
        do {
            if let text = try fs.read("\(base)/version") {
                output.driverVersion = parseNVIDIAProcVersion(text)
                if output.driverVersion == nil {
                    report.issue("\(base)/version", "no driver version in '\(text.lines.first?.prefix(120) ?? "")'")
                }
            } else {
                report.issue("\(base)/version", "does not exist")
            }
        } catch {
            report.issue("\(base)/version", error.message)
        }

        let gpuBase = "\(base)/gpus"
        var missingInformation: [String] = []
        let directories: [String]
        do {
            directories = try fs.list(gpuBase) ?? []
        } catch {
            report.issue(gpuBase, error.message)
            directories = []
        }
        for directory in directories where fs.isDirectory("\(gpuBase)/\(directory)") {
            var gpu = NVIDIAGPU()
            var unavailable: [String: String] = [:]
            // The directory is named after the bus location (`0000:3b:00.0`).
            gpu.pciBusId = directory
            gpu.pciBusIdNormalized = normalizePCIBusID(directory)
            let path = "\(gpuBase)/\(directory)/information"
            do {
                if let text = try fs.read(path) {
                    let fields = parseNVIDIAProcInformation(text)
                    // The driver prints `??.??.??.??.??` for a VBIOS it cannot read and `GPU-????...`
                    // for a UUID it cannot read yet.
                    func value(_ key: String, _ field: String) -> String? {
                        guard let text = fields[key], !text.isEmpty else { return nil }
                        if text.contains("?") || isNVIDIASMIUnavailableMarker(text) {
                            unavailable[field] = text
                            return nil
                        }
                        return text
                    }
                    gpu.productName = value("Model", "productName")
                    gpu.uuid = value("GPU UUID", "uuid")
                    gpu.vbiosVersion = value("Video BIOS", "vbiosVersion")
                    gpu.minorNumber = value("Device Minor", "minorNumber").flatMap { Int($0) }
                    gpu.gspFirmwareVersion = value("GPU Firmware", "gspFirmwareVersion")
                    if let location = value("Bus Location", "pciBusId"), let normalized = normalizePCIBusID(location) {
                        gpu.pciBusId = location
                        gpu.pciBusIdNormalized = normalized
                    }
                } else {
                    missingInformation.append(directory)
                }
            } catch {
                report.issue(path, error.message)
            }
            gpu.unavailable = unavailable.isEmpty ? nil : unavailable
            output.gpus.append(gpu)
        }
        if !missingInformation.isEmpty {
            report.issue(gpuBase, "no information file for \(missingInformation.joined(separator: ", "))")
        }
        output.gpus.sort { ($0.pciBusIdNormalized ?? $0.pciBusId ?? "") < ($1.pciBusIdNormalized ?? $1.pciBusId ?? "") }
        output.gpuCount = output.gpus.count
        return output
    }
}
