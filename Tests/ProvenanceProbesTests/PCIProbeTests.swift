import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

/// The pci probe on recorded machines (facts read off the files by hand: Fixtures/expected/pci.tsv).
@Suite("PCI probe on recorded machines")
struct RecordedPCIProbeTests {
    static let expected = ExpectedTable("pci")

    @Test("devices, first slot, ids, class and driver", arguments: expected.fixtures)
    func facts(fixture: String) throws {
        let row = Self.expected.row(fixture)
        let section = try collect(PCIProbe(), onMachine: fixture)
        #expect(section.status == .ok || section.status == .partial, "\(section.issues)")
        let devices = try #require(section.data?["devices"]?.arrayValue)
        #expect(devices.count == Int(row["device_count"] ?? ""))
        let first = try #require(devices.first)
        #expect(first["slot"]?.stringValue == row["first_slot"])
        let ids = "\(first["vendorId"]?.stringValue ?? "?"):\(first["deviceId"]?.stringValue ?? "?")"
        #expect(ids == row["first_vendor_device"])
        #expect(first["classCode"]?.stringValue == row["first_class"])
        #expect(first["driver"]?.stringValue == (row["first_driver"].flatMap { $0.isEmpty ? nil : $0 }))
        let slots = devices.compactMap { $0["slot"]?.stringValue }
        #expect(slots == slots.sorted())
    }

    @Test("every pci- machine has expected facts")
    func coverage() {
        let machines = Project.machineNames.filter { $0.hasPrefix("pci-") }
        #expect(machines.count >= 3)
        for name in machines { #expect(Self.expected.fixtures.contains(name), "\(name) has no row in pci.tsv") }
    }

    @Test("the amdgpu Vega 10 recording: subsystem, revision, maximum link in the data, current link volatile")
    func vega() throws {
        let section = try collect(PCIProbe(), onMachine: "pci-procfs-drm-card0-amdgpu-vega10")
        #expect(section.status == .ok, "\(section.issues)")
        let device = try #require(section.data?["devices"]?.arrayValue?.first)
        // Files: subsystem_vendor 0x1043, subsystem_device 0x04c4, revision 0xc1, numa_node -1,
        // max_link_speed "8.0 GT/s PCIe", max_link_width 16, current_link_* the same.
        #expect(device["subsystemVendorId"]?.stringValue == "1043")
        #expect(device["subsystemDeviceId"]?.stringValue == "04c4")
        #expect(device["revision"]?.stringValue == "c1")
        #expect(device["numaNode"] == nil)
        #expect(device["maxLinkSpeed"]?.stringValue == "8.0 GT/s PCIe")
        #expect(device["maxLinkSpeedTransfersPerSecond"]?.intValue == 8_000_000_000)
        #expect(device["maxLinkWidth"]?.intValue == 16)
        #expect(device["currentLinkSpeed"] == nil)
        let current = section.volatile?["currentLinks"]?["0000:09:00.0"]
        #expect(current?["linkSpeed"]?.stringValue == "8.0 GT/s PCIe")
        #expect(current?["linkWidth"]?.intValue == 16)
        // Names come from a pci.ids (the recording has none: the host's); libpci knows AMD.
        if section.data?["names"] != nil {
            #expect(section.data?["names"]?["fromHost"] == .bool(true))
            #expect(device["vendorName"]?.stringValue?.contains("AMD") == true)
        }
    }

    @Test("a device libpci cannot read (only uevent recorded) is described from uevent; the section is partial")
    func ueventOnly() throws {
        let section = try collect(PCIProbe(), onMachine: "pci-procfs-drm-card1-i915")
        #expect(section.status == .partial)
        #expect(section.issues.contains {
            $0.source == "/sys/bus/pci/devices/0000:00:02.0" && $0.message.hasPrefix("Cannot open /sys/bus/pci/devices/")
        }, "\(section.issues)")
        // Issue texts name machine paths, never the recording's directory.
        #expect(!section.issues.contains { $0.message.contains(Project.machines) })
        let device = try #require(section.data?["devices"]?.arrayValue?.first)
        #expect(device["source"]?.stringValue == "uevent")
        #expect(device["subsystemVendorId"]?.stringValue == "17aa")
        #expect(device["subsystemDeviceId"]?.stringValue == "2258")
        #expect(device["revision"] == nil)
    }

    @Test("no /sys/bus/pci: absent, not a crash", arguments: ["cpu-hwloc-s390x-20cpu", "os-gosysinfo-alpine3.17"])
    func absent(fixture: String) throws {
        let section = try collect(PCIProbe(), onMachine: fixture)
        #expect(section.status == .absent)
        #expect(section.issues.first?.source == "/sys/bus/pci")
    }

    @Test("libpci's error handler is caught: a missing sysfs tree is a thrown error, and the next call works")
    func libpciErrorIsCaught() throws {
        let access = try #require(PCIAccess.sysfs())
        access.setParameter("sysfs.path", Project.machines + "/cpu-hwloc-s390x-20cpu/sys/bus/pci")
        try access.initialize()
        #expect(throws: LibPCIError.self) { try access.scanBus() }
        do {
            try access.scanBus()
        } catch {
            #expect(error.function == "pci_scan_bus")
            #expect(error.message.hasPrefix("Cannot open ") && error.message.hasSuffix("/sys/bus/pci/devices"))
        }
        // The same thread goes on using libpci normally.
        let other = try #require(PCIAccess.sysfs())
        other.setParameter("sysfs.path", Project.machines + "/pci-this-vm/sys/bus/pci")
        try other.initialize()
        try other.scanBus()
        #expect(other.devices.count == 6)
    }
}

@Suite("PCI parsers")
struct PCIParserTests {
    @Test("link speeds as the kernel writes them (drivers/pci: pci_speed_string) in transfers per second",
          arguments: [("2.5 GT/s PCIe", 2_500_000_000 as Int64?), ("8.0 GT/s PCIe", 8_000_000_000),
                      ("16.0 GT/s PCIe", 16_000_000_000), ("64.0 GT/s PCIe", 64_000_000_000), ("Unknown", nil)])
    func linkSpeed(text: String, rate: Int64?) {
        #expect(parsePCILinkSpeed(text) == rate)
    }

    @Test("uevent of the recorded i915 device")
    func uevent() throws {
        let text = try #require(try RootedFileSystem(root: Project.machines + "/pci-procfs-drm-card1-i915")
            .read("/sys/bus/pci/devices/0000:00:02.0/uevent"))
        let parsed = try #require(parsePCIUevent(text))
        #expect(parsed.vendorID == 0x8086 && parsed.deviceID == 0x5917)
        #expect(parsed.deviceClass == 0x030000)
        #expect(parsed.subsystemVendorID == 0x17aa && parsed.subsystemDeviceID == 0x2258)
        #expect(parsed.slot == "0000:00:02.0" && parsed.driver == "i915")
    }
}

/// The live capture lists what lspci lists.
@Suite("PCI probe on this machine")
struct LivePCIProbeTests {
    func live() throws -> Section {
        let machine = Machine.live()
        let context = ProbeContext(machine: machine, commandTimeout: 5, deadline: monotonicSeconds() + 10)
        return Capture.collect(PCIProbe(), context)
    }

    /// `lspci -mm` style lines: the slot, then quoted fields and `-rXX` / `-pXX` options.
    func lspciRecords(_ arguments: String) throws -> [(slot: String, fields: [String], options: [String])] {
        let output = shell("lspci \(arguments)")
        try #require(output.status == 0, "lspci \(arguments) failed")
        return output.output.lines.filter { !$0.isEmpty }.map { line in
            var fields: [String] = []
            var options: [String] = []
            var rest = Substring(line)
            let slot = String(rest.prefix { $0 != " " })
            rest = rest.dropFirst(slot.count)
            while let start = rest.firstIndex(where: { $0 != " " }) {
                rest = rest[start...]
                if rest.first == "\"" {
                    let body = rest.dropFirst()
                    let end = body.firstIndex(of: "\"") ?? body.endIndex
                    fields.append(String(body[..<end]))
                    rest = end < body.endIndex ? body[body.index(after: end)...] : ""
                } else {
                    let word = rest.prefix { $0 != " " }
                    options.append(String(word))
                    rest = rest.dropFirst(word.count)
                }
            }
            return (slot, fields, options)
        }
    }

    @Test("same devices, ids, classes, revisions and subsystems as lspci -nmm -D; same count as lspci -n")
    func ids() throws {
        let section = try live()
        if section.status == .absent {
            #expect(shell("lspci -n").output.trimmed.isEmpty, "absent, but lspci lists devices")
            return
        }
        #expect(section.status == .ok, "\(section.issues)")
        let devices = try #require(section.data?["devices"]?.arrayValue)
        let records = try lspciRecords("-nmm -D")
        #expect(devices.map { $0["slot"]?.stringValue } == records.map(\.slot))
        #expect(devices.count == shell("lspci -n").output.lines.filter { !$0.isEmpty }.count)
        for (device, record) in zip(devices, records) {
            #expect(device["classCode"]?.stringValue == record.fields[0])
            #expect(device["vendorId"]?.stringValue == record.fields[1])
            #expect(device["deviceId"]?.stringValue == record.fields[2])
            let revision = record.options.first { $0.hasPrefix("-r") }.map { String($0.dropFirst(2)) } ?? "00"
            #expect(device["revision"]?.stringValue == revision)
            let progIf = record.options.first { $0.hasPrefix("-p") }.map { String($0.dropFirst(2)) } ?? "00"
            #expect(device["progIf"]?.stringValue == progIf)
            let subsystem = record.fields.count >= 5 ? (record.fields[3], record.fields[4]) : ("", "")
            #expect(device["subsystemVendorId"]?.stringValue ?? "" == subsystem.0)
            #expect(device["subsystemDeviceId"]?.stringValue ?? "" == subsystem.1)
        }
    }

    @Test("same names as lspci -mm -D (lspci's fallback text where the database has no name)")
    func names() throws {
        let section = try live()
        guard section.status != .absent else { return }
        let data = try #require(section.data)
        try #require(data["names"] != nil, "no pci.ids on this machine")
        let devices = try #require(data["devices"]?.arrayValue)
        let records = try lspciRecords("-mm -D")
        try #require(devices.count == records.count)
        for (device, record) in zip(devices, records) {
            func id(_ key: String) -> String { device[key]?.stringValue ?? "" }
            #expect(device["className"]?.stringValue ?? "Class \(id("classCode"))" == record.fields[0])
            #expect(device["vendorName"]?.stringValue ?? "Vendor \(id("vendorId"))" == record.fields[1])
            #expect(device["deviceName"]?.stringValue ?? "Device \(id("deviceId"))" == record.fields[2])
            if device["subsystemVendorId"] != nil {
                #expect(device["subsystemVendorName"]?.stringValue ?? "Unknown vendor \(id("subsystemVendorId"))"
                    == record.fields[3])
                #expect(device["subsystemDeviceName"]?.stringValue ?? "Device \(id("subsystemDeviceId"))"
                    == record.fields[4])
            } else {
                #expect(record.fields.count < 5 || (record.fields[3].isEmpty && record.fields[4].isEmpty))
            }
        }
        let version = shell("sed -n 's/^#[[:space:]]*Version:[[:space:]]*//p' \(data["names"]?["file"]?.stringValue ?? "")")
        #expect(data["names"]?["version"]?.stringValue == version.output.lines.first?.trimmed)
    }

    /// The names are remembered in the command cache; a changed database identity (here
    /// libpci's `~/.pciids-cache` appearing) makes the probe ask libpci again.
    @Test("names come from the command cache while the ID databases are unchanged")
    func nameCache() throws {
        let directory = "/tmp/provenance-pci-cache-\(Int.random(in: 0...1_000_000_000))"
        let environment = processEnvironment().merging(["XDG_CACHE_HOME": directory + "/cache", "HOME": directory]) { $1 }
        _ = shell("mkdir -p '\(directory)'")
        // The capture, not the probe, saves the cache once the probes are done.
        let cache = CommandCache(environment: environment)
        let first = liveSection(PCIProbe(cache: cache), environment: environment)
        cache.save()
        guard first.status != .absent else { return }
        let uncached = try live()
        #expect(first.data == uncached.data)

        // Plant a name in the stored entry: the next capture must show it (the cache is used).
        let path = directory + "/cache/provenance/commands-v1.json"
        var stored = try JSONParser.parse(try #require(try RootedFileSystem().readBytes(path)))
        guard case .object(var entries) = stored, let key = entries.keys.first(where: { $0.hasPrefix("pci-names") }),
              case .object(var entry)? = entries[key], case .object(var value)? = entry["value"],
              case .array(var rows)? = value["devices"], case .array(var row)? = rows.first
        else { Issue.record("no pci-names entry in \(path)"); return }
        row[1] = "Planted vendor"
        rows[0] = .array(row)
        value["devices"] = .array(rows)
        entry["value"] = .object(value)
        entries[key] = .object(entry)
        stored = .object(entries)
        try AtomicFile.write(CanonicalJSON.serialize(stored), to: path)
        let second = liveSection(PCIProbe(cache: CommandCache(environment: environment)), environment: environment)
        #expect(second.data?["devices"]?.arrayValue?.first?["vendorName"] == "Planted vendor")

        // Another database identity: libpci is asked again and the real name is back.
        _ = shell("touch '\(directory)/.pciids-cache'")
        let third = liveSection(PCIProbe(cache: CommandCache(environment: environment)), environment: environment)
        #expect(third.data == uncached.data)
        _ = shell("rm -rf '\(directory)'")
    }

    @Test("same kernel drivers as lspci -k, and NUMA nodes as sysfs states them")
    func drivers() throws {
        let section = try live()
        guard section.status != .absent else { return }
        let devices = try #require(section.data?["devices"]?.arrayValue)
        var drivers: [String: String] = [:]
        var slot = ""
        for line in shell("lspci -D -k").output.lines {
            if !line.hasPrefix("\t") {
                slot = String(line.prefix { $0 != " " })
            } else if line.hasPrefix("\tKernel driver in use: ") {
                drivers[slot] = String(line.dropFirst("\tKernel driver in use: ".count)).trimmed
            }
        }
        for device in devices {
            let slot = device["slot"]?.stringValue ?? ""
            #expect(device["driver"]?.stringValue == drivers[slot], "\(slot)")
            let node = Int64(shell("cat /sys/bus/pci/devices/\(slot)/numa_node").output.trimmed) ?? -1
            #expect(device["numaNode"]?.intValue == (node >= 0 ? node : nil), "\(slot)")
        }
    }
}
