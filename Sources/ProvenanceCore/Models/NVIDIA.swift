public struct NVIDIASection: SectionModel {
    public static let sectionID = "gpu.nvidia"

    /// Where the facts come from: `nvidia-smi` or `/proc/driver/nvidia` (fallback).
    public var source: String
    public var driverVersion: String?
    /// The newest CUDA version the driver supports (nvidia-smi's `<cuda_version>`, "CUDA
    /// Version" in its table). Not the CUDA toolkit installed, which can be older.
    public var cudaDriverVersion: String?
    /// The number of GPUs described in `gpus`.
    public var gpuCount: Int
    /// The number of GPUs nvidia-smi says are attached, when it says so.
    public var attachedGPUs: Int?
    /// The DTD nvidia-smi's XML declares (`nvsmi_device_v12.dtd`).
    public var dtd: String?
    /// Sorted by `pciBusIdNormalized`.
    public var gpus: [NVIDIAGPU]
    /// Machine fields reported without a value: field → nvidia-smi's text.
    public var unavailable: [String: String]?

    public init(source: String, driverVersion: String? = nil, cudaDriverVersion: String? = nil, gpuCount: Int, attachedGPUs: Int? = nil, dtd: String? = nil, gpus: [NVIDIAGPU], unavailable: [String: String]? = nil) {
        self.source = source
        self.driverVersion = driverVersion
        self.cudaDriverVersion = cudaDriverVersion
        self.gpuCount = gpuCount
        self.attachedGPUs = attachedGPUs
        self.dtd = dtd
        self.gpus = gpus
        self.unavailable = unavailable
    }
}

/// One NVIDIA GPU. Absent fields were not reported; those nvidia-smi reported as `N/A`,
/// `[Not Supported]` and the like are absent too and listed in `unavailable`.
public struct NVIDIAGPU: Codable, Equatable, Sendable {
    public var productName: String?
    public var productBrand: String?
    /// `<product_architecture>` (`Ampere`, `Turing`); drivers before about 450 do not report it.
    public var architecture: String?
    public var uuid: String?
    /// The address as nvidia-smi writes it, e.g. `00000000:3B:00.0`.
    public var pciBusId: String?
    /// The same address as sysfs and lspci write it, e.g. `0000:3b:00.0`.
    public var pciBusIdNormalized: String?
    /// `<pci_device_id>`: device and vendor id as one hex number (`20B210DE`: device 0x20b2, NVIDIA).
    public var pciDeviceId: String?
    public var pciSubsystemId: String?
    public var boardId: String?
    public var boardPartNumber: String?
    public var gpuPartNumber: String?
    /// The board serial number (identity of the hardware, kept deliberately).
    public var serial: String?
    public var vbiosVersion: String?
    public var gspFirmwareVersion: String?
    public var minorNumber: Int?
    /// `fb_memory_usage/total`: the memory the GPU offers, in bytes.
    public var memoryTotalBytes: Int64?
    /// `Default`, `Exclusive_Process`, `Prohibited`.
    public var computeMode: String?
    /// `Enabled` / `Disabled` (Linux only).
    public var persistenceMode: String?
    public var eccMode: ModePair?
    /// The power limit in force (`current_power_limit`, before DTD v12 `enforced_power_limit`,
    /// else `power_limit`), in milliwatts.
    public var powerLimitMilliwatts: Int64?
    public var defaultPowerLimitMilliwatts: Int64?
    public var minPowerLimitMilliwatts: Int64?
    public var maxPowerLimitMilliwatts: Int64?
    public var migMode: ModePair?
    /// `<applications_clocks>`: the clocks set for applications (`nvidia-smi -ac`), configuration
    /// rather than state; and `<default_applications_clocks>`, the board's defaults.
    public var applicationClocks: ClockPair?
    public var defaultApplicationClocks: ClockPair?
    /// `<deferred_clocks>/<mem_clock>`: the memory clock locked with `nvidia-smi
    /// --lock-memory-clocks-deferred`, applied at the next driver load, in MHz. nvidia-smi's XML
    /// reports no other locked clock (`-lgc` / `-lmc` leave no trace in it, drivers 418–595).
    public var deferredMemoryClockMHz: Int64?
    /// `<clock_policy>`: whether auto boost is on now (`autoBoost`) and by default
    /// (`autoBoostDefault`), `On` / `Off`, where the board supports the setting.
    public var autoBoost: String?
    public var autoBoostDefault: String?
    /// Every MIG device, sorted by GPU instance and compute instance; present when MIG is on.
    public var migDevices: [NVIDIAMIGDevice]?
    /// `<gpu_virtualization_mode>/<virtualization_mode>`: `None`, `Pass-Through`, `VGPU` (a vGPU
    /// guest), `Host VGPU`, `Host VSGA`.
    public var virtualizationMode: String?
    /// `<host_vgpu_mode>`: `Non SR-IOV` / `SR-IOV` on a vGPU host.
    public var hostVGPUMode: String?
    /// WDDM / TCC on Windows.
    public var driverModel: String?
    /// Fields reported without a value: field name (`serial`, `eccMode.current`) → nvidia-smi's text.
    public var unavailable: [String: String]?

    public init() {}
}

/// A current / pending pair (ECC and MIG modes change at the next reset).
public struct ModePair: Codable, Equatable, Sendable {
    public var current: String?
    public var pending: String?
    public init(current: String? = nil, pending: String? = nil) {
        self.current = current
        self.pending = pending
    }
}

/// One MIG device (a compute instance of a GPU instance). nvidia-smi's XML names no profile; the
/// multiprocessor and engine counts and the memory identify the slice (`3g.40gb` and so on).
public struct NVIDIAMIGDevice: Codable, Equatable, Sendable {
    public var index: Int?
    public var gpuInstanceId: Int?
    public var computeInstanceId: Int?
    public var multiprocessorCount: Int?
    public var copyEngineCount: Int?
    public var encoderCount: Int?
    public var decoderCount: Int?
    public var ofaCount: Int?
    public var jpgCount: Int?
    public var memoryTotalBytes: Int64?
    public var bar1TotalBytes: Int64?
    public var unavailable: [String: String]?

    public init(index: Int? = nil, gpuInstanceId: Int? = nil, computeInstanceId: Int? = nil, multiprocessorCount: Int? = nil, copyEngineCount: Int? = nil, encoderCount: Int? = nil, decoderCount: Int? = nil, ofaCount: Int? = nil, jpgCount: Int? = nil, memoryTotalBytes: Int64? = nil, bar1TotalBytes: Int64? = nil, unavailable: [String: String]? = nil) {
        self.index = index
        self.gpuInstanceId = gpuInstanceId
        self.computeInstanceId = computeInstanceId
        self.multiprocessorCount = multiprocessorCount
        self.copyEngineCount = copyEngineCount
        self.encoderCount = encoderCount
        self.decoderCount = decoderCount
        self.ofaCount = ofaCount
        self.jpgCount = jpgCount
        self.memoryTotalBytes = memoryTotalBytes
        self.bar1TotalBytes = bar1TotalBytes
        self.unavailable = unavailable
    }
}

extension NVIDIASection {
    public static var listIdentities: [String: String] { ["gpus": "pciBusIdNormalized", "gpus[].migDevices": "index"] }

    public var summary: String {
        gpuSummary
    }
}

extension NVIDIASection {
    /// "4 × NVIDIA A100-SXM4-80GB, driver 550.54.15, CUDA 12.4": GPUs grouped by model.
    var gpuSummary: String {
        var parts = [NVIDIASection.modelCounts(gpus).map { "\($0.count) × \($0.model)" }.joined(separator: " + ")]
        if gpus.isEmpty { parts = ["\(gpuCount) NVIDIA GPUs"] }
        if let driverVersion { parts.append("driver \(driverVersion)") }
        if let cudaDriverVersion { parts.append("CUDA \(cudaDriverVersion)") }
        return parts.joined(separator: ", ")
    }

    /// How many GPUs of each model, in the order the models first appear.
    public static func modelCounts(_ gpus: [NVIDIAGPU]) -> [(model: String, count: Int)] {
        var order: [String] = []
        var counts: [String: Int] = [:]
        for gpu in gpus {
            let model = gpu.productName ?? "NVIDIA GPU"
            if counts[model] == nil { order.append(model) }
            counts[model, default: 0] += 1
        }
        return order.map { ($0, counts[$0]!) }
    }
}

/// A graphics and memory clock pair, in MHz.
public struct ClockPair: Codable, Sendable, Equatable {
    public var graphicsMHz: Int64?
    public var memoryMHz: Int64?
    public init(graphicsMHz: Int64? = nil, memoryMHz: Int64? = nil) {
        self.graphicsMHz = graphicsMHz
        self.memoryMHz = memoryMHz
    }
}
