public struct PCISection: SectionModel {
    public static let sectionID = "pci"

    /// Sorted by slot (domain, bus, device, function).
    public var devices: [Device]
    /// The PCI ID database the names come from; nil when none could be read (names left out).
    public var names: NamesDatabase?

    public init(devices: [Device], names: NamesDatabase? = nil) {
        self.devices = devices
        self.names = names
    }

    public struct Device: Codable, Equatable, Sendable {
        /// `domain:bus:device.function`, as sysfs and `lspci -D` write it: `0000:00:1f.2`.
        public var slot: String
        /// Base class and subclass, 4 lowercase hex digits (`0300`), as `lspci -n` prints it.
        public var classCode: String?
        /// Programming interface, 2 hex digits.
        public var progIf: String?
        /// `VGA compatible controller`; `Base class [cccc]` when only the base class is known
        /// (as lspci prints it).
        public var className: String?
        /// 4 lowercase hex digits (`10de`).
        public var vendorId: String
        public var vendorName: String?
        public var deviceId: String
        public var deviceName: String?
        /// Left out when the device has no subsystem ids (subsystem vendor 0000 or ffff), as lspci does.
        public var subsystemVendorId: String?
        public var subsystemVendorName: String?
        public var subsystemDeviceId: String?
        public var subsystemDeviceName: String?
        /// 2 hex digits.
        public var revision: String?
        /// The kernel driver bound to the device (basename of the `driver` link): `nvidia`, `amdgpu`.
        public var driver: String?
        /// Left out when the kernel reports none (-1).
        public var numaNode: Int?
        /// The kernel's text, `16.0 GT/s PCIe`.
        public var maxLinkSpeed: String?
        /// The same in transfers per second (16000000000).
        public var maxLinkSpeedTransfersPerSecond: Int64?
        /// Lanes.
        public var maxLinkWidth: Int?
        /// `uevent` when libpci could not read the device and its ids come from the uevent file.
        public var source: String?

        public init(slot: String, classCode: String? = nil, progIf: String? = nil, className: String? = nil, vendorId: String, vendorName: String? = nil, deviceId: String, deviceName: String? = nil, subsystemVendorId: String? = nil, subsystemVendorName: String? = nil, subsystemDeviceId: String? = nil, subsystemDeviceName: String? = nil, revision: String? = nil, driver: String? = nil, numaNode: Int? = nil, maxLinkSpeed: String? = nil, maxLinkSpeedTransfersPerSecond: Int64? = nil, maxLinkWidth: Int? = nil, source: String? = nil) {
            self.slot = slot
            self.classCode = classCode
            self.progIf = progIf
            self.className = className
            self.vendorId = vendorId
            self.vendorName = vendorName
            self.deviceId = deviceId
            self.deviceName = deviceName
            self.subsystemVendorId = subsystemVendorId
            self.subsystemVendorName = subsystemVendorName
            self.subsystemDeviceId = subsystemDeviceId
            self.subsystemDeviceName = subsystemDeviceName
            self.revision = revision
            self.driver = driver
            self.numaNode = numaNode
            self.maxLinkSpeed = maxLinkSpeed
            self.maxLinkSpeedTransfersPerSecond = maxLinkSpeedTransfersPerSecond
            self.maxLinkWidth = maxLinkWidth
            self.source = source
        }
    }

    public struct NamesDatabase: Codable, Equatable, Sendable {
        /// The file (machine path; the host's path when `fromHost`).
        public var file: String
        /// Its `Version:` header line (`2023.04.10`).
        public var version: String?
        /// True when a recorded machine has no pci.ids and the host's was used.
        public var fromHost: Bool?

        public init(file: String, version: String? = nil, fromHost: Bool? = nil) {
            self.file = file
            self.version = version
            self.fromHost = fromHost
        }
    }
}

extension PCISection {
    public static var listIdentities: [String: String] { ["devices": "slot"] }

    public var summary: String {
        "\(devices.count) PCI device\(devices.count == 1 ? "" : "s")"
    }
}
