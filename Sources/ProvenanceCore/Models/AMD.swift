public struct AMDSection: SectionModel {
    public static let sectionID = "gpu.amd"

    /// Where the facts come from: `rocm-smi` or `sysfs` (fallback).
    public var source: String
    /// The amdgpu driver version (rocm-smi's `Driver version`; in-tree drivers report the
    /// kernel release).
    public var driverVersion: String?
    public var cardCount: Int
    /// Sorted by `pciBusNormalized`.
    public var cards: [AMDGPUCard]

    public init(source: String, driverVersion: String? = nil, cardCount: Int, cards: [AMDGPUCard]) {
        self.source = source
        self.driverVersion = driverVersion
        self.cardCount = cardCount
        self.cards = cards
    }
}

/// One AMD GPU as rocm-smi or amdgpu's sysfs describe it. Absent fields were not reported; those
/// reported as `N/A` are absent too and listed in `unavailable`.
public struct AMDGPUCard: Codable, Equatable, Sendable {
    /// The DRM card name: `card0`.
    public var card: String
    /// `Card Series` (ROCm 5.x+: a marketing name such as `Arcturus GL-XL [Instinct MI100]`; ROCm
    /// 4.x printed a PCI id here when it could not look the name up).
    public var series: String?
    /// `Device Name` (ROCm 6.x).
    public var deviceName: String?
    public var model: String?
    public var vendor: String?
    public var sku: String?
    /// `GPU ID` (ROCm ≤ 5) / `Device ID` (ROCm 6): the PCI device id, e.g. `0x738c`.
    public var deviceId: String?
    public var deviceRevision: String?
    public var subsystemId: String?
    /// `GFX Version`: the ISA, e.g. `gfx1031` (ROCm 6.x).
    public var gfxVersion: String?
    /// The ASIC's unique id (`Unique ID` / sysfs `unique_id`): identity, kept deliberately.
    public var uniqueId: String?
    public var serial: String?
    public var vbiosVersion: String?
    /// The address as the source writes it (`0000:1E:00.0`).
    public var pciBus: String?
    /// `0000:1e:00.0`: lowercase, as sysfs and lspci write it.
    public var pciBusNormalized: String?
    /// From sysfs: `0x1002`, `0x687f`, and the board's subsystem ids.
    public var pciVendorId: String?
    public var pciDeviceId: String?
    public var pciSubsystemVendorId: String?
    public var pciSubsystemDeviceId: String?
    public var vramTotalBytes: Int64?
    public var memoryVendor: String?
    public var numaNode: Int?
    /// Fields reported without a value: field name → the text printed.
    public var unavailable: [String: String]?

    public init(card: String) { self.card = card }
}

extension AMDSection {
    public static var listIdentities: [String: String] { ["cards": "card"] }

    public var summary: String {
        ["\(cardCount) AMD GPU\(cardCount == 1 ? "" : "s")", driverVersion.map { "driver " + $0 }].compactMap { $0 }.joined(separator: ", ")
    }
}
