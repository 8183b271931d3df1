import CLibPCI
import ProvenanceCore
import ProvenanceProbeKit

/// PCI devices, through libpci (pciutils): per device its slot, class, vendor, device and
/// subsystem ids and names, revision, kernel driver, NUMA node and PCIe link.
///
/// libpci reads the sysfs access method only (`PCI_ACCESS_SYS_BUS_PCI`, never auto-detection,
/// which could fall back to /proc/bus/pci or port I/O): `/sys/bus/pci/devices/*/{vendor,device,
/// class,revision,subsystem_vendor,subsystem_device,numa_node}`, and `config` only when a device
/// lacks `revision` or `subsystem_vendor`. Names come from the PCI ID database `/usr/share/misc/pci.ids`
/// (libpci's default on the live machine, where udev's hwdb answers for ids pci.ids lacks); never
/// from the network. The probe itself reads the `driver` link of each device,
/// `max_link_speed` / `max_link_width` and `current_link_speed` / `current_link_width`, and, for a
/// device libpci cannot read (a recording with only some attributes), its `uevent`. Runs nothing.
///
/// Under `--root` libpci reads `ROOT/sys/bus/pci` (`sysfs.path`), with udev's hwdb and libpci's
/// name cache (`~/.pciids-cache`) off, and names from `ROOT/usr/share/misc/pci.ids` (or
/// `/usr/share/hwdata/pci.ids`), else from the host's pci.ids: `names` says which file and
/// version answered.
///
/// - No `/sys/bus/pci`, or no device in it (containers, some VMs): `absent`.
/// - libpci cannot list the devices: `failed` with libpci's message (libpci's own error handler
///   would have exited the process; the CPCIErrors target catches it instead).
/// - libpci cannot read one device: the device is described from its `uevent` when that has the
///   ids, and the section is `partial`.
///
/// On a live machine the names found are remembered in the command cache, keyed by the devices'
/// ids and the identities (device, inode, size, times) of pci.ids, udev's hwdb and libpci's own
/// name cache: while none of these changes, pci.ids is not loaded again (`capture --no-cache`
/// loads it).
///
/// The current link speed and width go to `volatile`, keyed by slot: GPUs and NICs lower them
/// when idle (power management), so they change between captures of an unchanged machine; the
/// maximum link speed and width are in the data.
public struct PCIProbe: Probe {
    /// Remembers the names of the devices found (live machines only): libpci loading pci.ids
    /// costs 10–20 ms of every capture, and the devices and the databases rarely change.
    let cache: CommandCache?

    public init(cache: CommandCache? = nil) {
        self.cache = cache
    }

    /// The attributes of each device libpci reads itself (not through the probe's file system)
    /// with the fill flags the probe asks for: the scan reads `resource`, `irq`, `vendor`,
    /// `device` and `class`; filling reads `revision`, `subsystem_*` and `numa_node`.
    public static let libpciAttributes = ["vendor", "device", "class", "irq", "resource", "revision",
                                          "subsystem_vendor", "subsystem_device", "numa_node"]

    /// Where pci.ids is looked for on a recorded machine (then on the host): Debian's path first,
    /// then hwdata's (Fedora, RHEL, Arch).
    public static let idFilePaths = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"]

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "pci", version: "1.0.0",
            summary: "PCI devices (libpci): slot, class, vendor/device/subsystem ids and names, revision, "
                + "driver, NUMA node, PCIe link",
            reads: ["/sys/bus/pci/devices/*/{" + Self.libpciAttributes.joined(separator: ",") + "} (libpci)",
                    "/sys/bus/pci/devices/*/config (libpci, only without revision or subsystem_vendor)",
                    "/sys/bus/pci/devices/*/driver (link)",
                    "/sys/bus/pci/devices/*/{max,current}_link_{speed,width}",
                    "/sys/bus/pci/devices/*/uevent (devices libpci cannot read)",
                    "/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids (recorded machines)"])
    }

    public typealias Output = PCISection
    public typealias Device = PCISection.Device
    public typealias NamesDatabase = PCISection.NamesDatabase

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let fs = context.fs
        let base = "/sys/bus/pci"
        guard fs.isDirectory(base) else {
            throw ProbeAbsent(source: base, reason: "no PCI bus in sysfs (a container or a machine without PCI)")
        }
        guard fs.isDirectory("\(base)/devices"), (try? fs.list("\(base)/devices"))?.isEmpty != true else {
            throw ProbeAbsent(source: "\(base)/devices", reason: "no PCI devices")
        }

        guard let access = PCIAccess.sysfs() else { throw ProbeFailure("libpci: pci_alloc failed") }
        // Messages of libpci name host paths; the manifest names machine paths.
        func machineText(_ text: String) -> String { fs.isLive ? text : text.replacing(fs.root, with: "") }
        func reportWarnings() {
            for warning in access.takeWarnings() { report.issue("libpci", machineText(warning)) }
        }

        access.setParameter("sysfs.path", fs.hostPath(base))
        var lookupFlags = Int32(bitPattern: PCI_LOOKUP_NO_NUMBERS.rawValue)
        var names: NamesDatabase?
        if !fs.isLive {
            access.setParameter("hwdb.disable", "1")
            access.lookupMode = 0  // not PCI_LOOKUP_CACHE: no ~/.pciids-cache of the host
            lookupFlags |= Int32(bitPattern: PCI_LOOKUP_NO_HWDB.rawValue)
            let host = RootedFileSystem(root: "/")
            if let path = Self.idFilePaths.first(where: { fs.exists($0) }) {
                access.setNameListPath(fs.hostPath(path))
                names = NamesDatabase(file: path, version: pciIDsVersion(fs, path))
            } else if let path = Self.idFilePaths.first(where: { host.exists($0) }) {
                access.setNameListPath(path)
                names = NamesDatabase(file: path, version: pciIDsVersion(host, path), fromHost: true)
            }
        }

        do {
            try access.initialize()
            try access.scanBus()
        } catch {
            reportWarnings()
            throw ProbeFailure("libpci: \(machineText(error.description))")
        }
        reportWarnings()

        // What libpci reads itself, for a recording of the machine (`provenance record`).
        if fs.log != nil {
            for slot in (try? fs.list("\(base)/devices")) ?? nil ?? [] {
                for name in Self.libpciAttributes { fs.noteExternalRead("\(base)/devices/\(slot)/\(name)") }
                if !fs.exists("\(base)/devices/\(slot)/revision") || !fs.exists("\(base)/devices/\(slot)/subsystem_vendor") {
                    fs.noteExternalRead("\(base)/devices/\(slot)/config")
                }
            }
        }

        let fill = PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_CLASS_EXT | PCI_FILL_SUBSYS | PCI_FILL_NUMA_NODE
        var devices: [Device] = []
        var currentLinks: [String: JSONValue] = [:]
        for device in access.devices.sorted(by: { $0.address < $1.address }) {
            let slot = device.slot
            let path = "\(base)/devices/\(slot)"
            var entry: Device
            do {
                let known = try access.fillInfo(device, fill)
                entry = Device(slot: slot, classCode: hex(device.deviceClass, 4), vendorId: hex(device.vendorID, 4),
                               deviceId: hex(device.deviceID, 4))
                if known & PCI_FILL_CLASS_EXT != 0 {
                    entry.progIf = hex(device.progIf, 2)
                    // Without a `revision` attribute libpci reads config space; a recording
                    // without `config` would give its placeholder 0xff.
                    if fs.exists("\(path)/revision") || fs.exists("\(path)/config") {
                        entry.revision = hex(device.revision, 2)
                    }
                }
                if known & PCI_FILL_SUBSYS != 0 {
                    setSubsystem(&entry, vendor: device.subsystemVendorID, device: device.subsystemID)
                }
                if known & PCI_FILL_NUMA_NODE != 0, device.numaNode >= 0 { entry.numaNode = Int(device.numaNode) }
            } catch {
                reportWarnings()
                guard let uevent = fs.attributeText("\(path)/uevent").flatMap(parsePCIUevent),
                      let vendor = uevent.vendorID, let deviceID = uevent.deviceID
                else {
                    report.issue(path, "\(machineText(error.message)); left out")
                    continue
                }
                report.issue(path, "\(machineText(error.message)); ids read from uevent")
                entry = Device(slot: slot, classCode: uevent.deviceClass.map { hex($0 >> 8, 4) },
                               vendorId: hex(vendor, 4), deviceId: hex(deviceID, 4), source: "uevent")
                if let deviceClass = uevent.deviceClass { entry.progIf = hex(deviceClass & 0xff, 2) }
                if let subsystemVendor = uevent.subsystemVendorID, let subsystemDevice = uevent.subsystemDeviceID {
                    setSubsystem(&entry, vendor: subsystemVendor, device: subsystemDevice)
                }
                if let node = fs.attribute("\(path)/numa_node").flatMap({ Int($0) }), node >= 0 { entry.numaNode = node }
            }
            reportWarnings()

            if let target = fs.readLink("\(path)/driver") {
                entry.driver = target.split(separator: "/").last.map(String.init)
            }
            entry.maxLinkSpeed = fs.attribute("\(path)/max_link_speed")
            entry.maxLinkSpeedTransfersPerSecond = entry.maxLinkSpeed.flatMap(parsePCILinkSpeed)
            entry.maxLinkWidth = fs.attribute("\(path)/max_link_width").flatMap { Int($0) }

            var current: [String: JSONValue] = [:]
            if let speed = fs.attribute("\(path)/current_link_speed") {
                current["linkSpeed"] = .string(speed)
                if let rate = parsePCILinkSpeed(speed) { current["linkSpeedTransfersPerSecond"] = .int(rate) }
            }
            if let width = fs.attribute("\(path)/current_link_width").flatMap({ Int64($0) }) {
                current["linkWidth"] = .int(width)
            }
            if !current.isEmpty { currentLinks[slot] = .object(current) }
            devices.append(entry)
        }
        if !currentLinks.isEmpty { report.volatile = .object(["currentLinks": .object(currentLinks)]) }

        let cacheKey = "pci-names\u{1F}" + devices.map(\.idKey).joined(separator: ";")
        let identity = fs.isLive ? Self.namesIdentity(environment: context.environment) : nil
        if let cache, let identity, let cached = cache.value(for: cacheKey, identity: identity),
           Self.applyCachedNames(cached, to: &devices, names: &names)
        {
            return Output(devices: devices, names: names)
        }
        // On the live machine udev's hwdb still answers when pci.ids cannot be read.
        let hwdbOnly = fs.isLive ? "names only from udev's hwdb" : "names left out"
        do {
            if try access.loadNameList() {
                if fs.isLive, let path = access.nameListPath { names = NamesDatabase(file: path, version: pciIDsVersion(fs, path)) }
                if let path = names?.file, names?.fromHost != true { fs.noteExternalRead(path) }
            } else {
                report.issue(names?.file ?? access.nameListPath ?? "pci.ids", "PCI ID database not readable: \(hwdbOnly)")
                names = nil
            }
        } catch {
            report.issue("libpci", "\(machineText(error.description)): \(hwdbOnly)")
            names = nil
        }
        reportWarnings()
        let lookUpNames = names != nil || fs.isLive

        if lookUpNames {
            for index in devices.indices { addNames(&devices[index], access, flags: lookupFlags) }
        }
        if let cache, let identity, let names {
            cache.remember(Self.cachedNames(devices, names), for: cacheKey, identity: identity)
        }
        return Output(devices: devices, names: names)
    }

    /// The files names may come from on the live machine, each with its identity (or `-`).
    static func namesIdentity(environment: [String: String]) -> String {
        var paths = idFilePaths + ["/usr/share/misc/pci.ids.gz", "/etc/udev/hwdb.bin", "/usr/lib/udev/hwdb.bin",
                                   "/lib/udev/hwdb.bin"]
        if let home = environment["HOME"], home.hasPrefix("/") { paths.append(home + "/.pciids-cache") }
        return paths.map { "\($0)=\(CommandCache.identity(of: $0) ?? "-")" }.joined(separator: ";")
    }

    /// The names of `devices` and where they came from, for the cache.
    static func cachedNames(_ devices: [Device], _ names: NamesDatabase) -> JSONValue {
        func string(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
        return .object([
            "file": .string(names.file), "version": string(names.version),
            "devices": .array(devices.map { device in
                .array([string(device.className), string(device.vendorName), string(device.deviceName),
                        string(device.subsystemVendorName), string(device.subsystemDeviceName)])
            }),
        ])
    }

    /// Puts cached names on `devices`; false (nothing changed) when the entry does not fit them.
    static func applyCachedNames(_ cached: JSONValue, to devices: inout [Device], names: inout NamesDatabase?) -> Bool {
        guard let file = cached["file"]?.stringValue, let rows = cached["devices"]?.arrayValue, rows.count == devices.count,
              rows.allSatisfy({ $0.arrayValue?.count == 5 })
        else { return false }
        for (index, row) in rows.enumerated() {
            let values = row.arrayValue!.map(\.stringValue)
            devices[index].className = values[0]
            devices[index].vendorName = values[1]
            devices[index].deviceName = values[2]
            devices[index].subsystemVendorName = values[3]
            devices[index].subsystemDeviceName = values[4]
        }
        names = NamesDatabase(file: file, version: cached["version"]?.stringValue)
        return true
    }

    private func setSubsystem(_ entry: inout Device, vendor: UInt16, device: UInt16) {
        guard vendor != 0, vendor != 0xffff else { return }
        entry.subsystemVendorId = hex(vendor, 4)
        entry.subsystemDeviceId = hex(device, 4)
    }

    private func addNames(_ entry: inout Device, _ access: PCIAccess, flags: Int32) {
        guard let vendor = UInt16(entry.vendorId, radix: 16), let device = UInt16(entry.deviceId, radix: 16) else { return }
        if let deviceClass = entry.classCode.flatMap({ UInt16($0, radix: 16) }) { entry.className = access.className(deviceClass, flags: flags) }
        entry.vendorName = access.vendorName(vendor, flags: flags)
        entry.deviceName = access.deviceName(vendor: vendor, device: device, flags: flags)
        if let subsystemVendor = entry.subsystemVendorId.flatMap({ UInt16($0, radix: 16) }),
           let subsystemDevice = entry.subsystemDeviceId.flatMap({ UInt16($0, radix: 16) })
        {
            entry.subsystemVendorName = access.subsystemVendorName(subsystemVendor, flags: flags)
            entry.subsystemDeviceName = access.subsystemDeviceName(
                vendor: vendor, device: device, subsystemVendor: subsystemVendor, subsystemDevice: subsystemDevice,
                flags: flags)
        }
    }

    /// The `Version:` of a pci.ids file, from its first lines.
    private func pciIDsVersion(_ fs: RootedFileSystem, _ path: String) -> String? {
        guard let bytes = (try? fs.readPrefix(path, maxBytes: 2048)) ?? nil else { return nil }
        return parsePCIIDsVersion(String(decoding: bytes, as: UTF8.self))
    }
}

/// The version in a pci.ids header (`#\tVersion: 2023.04.10`), nil when it has none.
public func parsePCIIDsVersion(_ text: String) -> String? {
    for line in text.lines.prefix(30) {
        let trimmed = line.trimmingCharacters(in: "# \t")
        if trimmed.hasPrefix("Version:") {
            let version = String(trimmed.dropFirst("Version:".count)).trimmed
            return version.isEmpty ? nil : version
        }
    }
    return nil
}

/// A PCIe link speed as sysfs writes it (`8.0 GT/s PCIe`, `2.5 GT/s`, `16 GT/s`) in transfers
/// per second; nil for `Unknown` or anything else.
public func parsePCILinkSpeed(_ text: String) -> Int64? {
    let words = text.split(separator: " ")
    guard words.count >= 2, words[1] == "GT/s" else { return nil }
    let number = words[0].split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    guard let whole = Int64(number[0]) else { return nil }
    var fraction: Int64 = 0
    if number.count == 2 {
        let digits = number[1]
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy(\.isASCII), let value = Int64(digits) else { return nil }
        fraction = value * Int64(pow10(9 - digits.count))
    }
    return whole * 1_000_000_000 + fraction
}

private func pow10(_ exponent: Int) -> Int {
    var result = 1
    for _ in 0..<exponent { result *= 10 }
    return result
}

/// The PCI facts of a device's sysfs `uevent` (`PCI_CLASS=30000`, `PCI_ID=8086:5917`,
/// `PCI_SUBSYS_ID=17AA:2258`, `PCI_SLOT_NAME=0000:00:02.0`, `DRIVER=i915`).
public struct PCIUevent: Equatable, Sendable {
    public var vendorID: UInt16?
    public var deviceID: UInt16?
    /// Class, subclass and programming interface (24 bits).
    public var deviceClass: UInt32?
    public var subsystemVendorID: UInt16?
    public var subsystemDeviceID: UInt16?
    public var slot: String?
    public var driver: String?
}

/// Parses a PCI device's `uevent` (`KEY=VALUE` lines); nil when it has no `PCI_ID`.
public func parsePCIUevent(_ text: String) -> PCIUevent? {
    var result = PCIUevent()
    for line in text.lines {
        guard let equals = line.firstIndex(of: "=") else { continue }
        let key = line[..<equals]
        let value = String(line[line.index(after: equals)...]).trimmed
        func pair() -> (UInt16, UInt16)? {
            let parts = value.split(separator: ":")
            guard parts.count == 2, let first = UInt16(parts[0], radix: 16), let second = UInt16(parts[1], radix: 16)
            else { return nil }
            return (first, second)
        }
        switch key {
        case "PCI_ID": if let (vendor, device) = pair() { result.vendorID = vendor; result.deviceID = device }
        case "PCI_SUBSYS_ID":
            if let (vendor, device) = pair() { result.subsystemVendorID = vendor; result.subsystemDeviceID = device }
        case "PCI_CLASS": result.deviceClass = UInt32(value, radix: 16)
        case "PCI_SLOT_NAME": result.slot = value
        case "DRIVER": result.driver = value
        default: break
        }
    }
    return result.vendorID == nil ? nil : result
}

extension RootedFileSystem {
    /// The whole text of a small file, nil when absent or unreadable.
    fileprivate func attributeText(_ path: String) -> String? { (try? read(path)) ?? nil }
}

extension PCISection.Device {
    /// What the names depend on: class, vendor, device and subsystem ids.
    var idKey: String {
        "\(classCode ?? "")|\(vendorId)|\(deviceId)|\(subsystemVendorId ?? "")|\(subsystemDeviceId ?? "")"
    }
}
