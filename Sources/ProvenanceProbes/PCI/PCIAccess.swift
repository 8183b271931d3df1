import CLibPCI
import CPCIErrors

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A libpci error, caught: libpci's own handler would have printed it and exited the process.
public struct LibPCIError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The libpci function that failed (`pci_scan_bus`).
    public var function: String
    /// libpci's message (`Cannot open /sys/bus/pci/devices`).
    public var message: String

    public var description: String { "\(function): \(message)" }
}

/// One libpci access handle (`struct pci_access`), owned: created by `pci_alloc`, released by
/// `pci_cleanup`. Each member names the C function it calls.
///
/// Errors libpci raises through its error callback become thrown `LibPCIError`s (the guarded
/// calls of the CPCIErrors target); its warnings are recorded and returned by `takeWarnings()`.
/// Not thread-safe: use one instance from one thread.
final class PCIAccess {
    private let handle: UnsafeMutablePointer<pci_access>
    /// The ID file path given to `pci_set_name_list_path(…, 0)`: libpci keeps the pointer, so it
    /// lives as long as the handle.
    private var ownedNameListPath: UnsafeMutablePointer<CChar>?

    /// Allocates a handle using `method` and installs the recording error handlers.
    ///
    /// The corresponding C functions are `pci_alloc` and `provenance_pci_catch_errors`; the
    /// method is stored in `access->method`. Returns nil when libpci cannot allocate.
    init?(method: pci_access_type) {
        guard let handle = pci_alloc() else { return nil }
        self.handle = handle
        provenance_pci_catch_errors(handle)
        handle.pointee.method = method.rawValue
    }

    /// A handle using the Linux sysfs method (`PCI_ACCESS_SYS_BUS_PCI`), never auto-detection,
    /// which may fall back to /proc/bus/pci or port I/O.
    static func sysfs() -> PCIAccess? { PCIAccess(method: PCI_ACCESS_SYS_BUS_PCI) }

    deinit {
        // The corresponding C function is `pci_cleanup` (frees the devices, the name list and the
        // handle; it writes libpci's ID cache only when network lookups dirtied it, which never
        // happens here).
        pci_cleanup(handle)
        free(ownedNameListPath)
    }

    /// Sets a named parameter (`sysfs.path`, `hwdb.disable`); false when libpci has none of that
    /// name. libpci copies the value. The corresponding C function is `pci_set_param`.
    @discardableResult
    func setParameter(_ name: String, _ value: String) -> Bool {
        name.withCString { name in
            value.withCString { value in
                pci_set_param(handle, UnsafeMutablePointer(mutating: name), UnsafeMutablePointer(mutating: value)) == 0
            }
        }
    }

    /// The value of a named parameter. The corresponding C function is `pci_get_param`.
    func parameter(_ name: String) -> String? {
        name.withCString { name in
            pci_get_param(handle, UnsafeMutablePointer(mutating: name)).map { String(cString: $0) }
        }
    }

    /// Uses `path` as the PCI ID database (pci.ids). The corresponding C function is
    /// `pci_set_name_list_path(access, path, 0)`; this object owns the string.
    func setNameListPath(_ path: String) {
        let copy = strdup(path)
        pci_set_name_list_path(handle, copy, 0)
        free(ownedNameListPath)
        ownedNameListPath = copy
    }

    /// The ID database libpci reads (`access->id_file_name`; libpci changes it from `pci.ids.gz`
    /// to `pci.ids` when only the uncompressed file exists).
    var nameListPath: String? { handle.pointee.id_file_name.map { String(cString: $0) } }

    /// Flags libpci adds to every name lookup (`access->id_lookup_mode`; its default,
    /// `PCI_LOOKUP_CACHE`, consults `~/.pciids-cache` when a name is missing from pci.ids).
    var lookupMode: UInt32 {
        get { handle.pointee.id_lookup_mode }
        set { handle.pointee.id_lookup_mode = newValue }
    }

    /// Initialises the access method. The corresponding C function is `pci_init` (guarded by
    /// `provenance_pci_init`).
    func initialize() throws(LibPCIError) {
        try check(provenance_pci_init(handle), "pci_init")
    }

    /// Lists the devices of the bus (with the sysfs method: the entries of
    /// `sysfs.path/devices`). The corresponding C function is `pci_scan_bus` (guarded by
    /// `provenance_pci_scan_bus`).
    func scanBus() throws(LibPCIError) {
        try check(provenance_pci_scan_bus(handle), "pci_scan_bus")
    }

    /// The devices found by `scanBus()`, in libpci's list order (`access->devices`).
    var devices: [PCIDevice] {
        var result: [PCIDevice] = []
        var next = handle.pointee.devices
        while let device = next {
            result.append(PCIDevice(pointer: device))
            next = device.pointee.next
        }
        return result
    }

    /// Reads the `PCI_FILL_*` fields of a device; returns the fields now known. The corresponding
    /// C function is `pci_fill_info` (guarded by `provenance_pci_fill_info`).
    func fillInfo(_ device: PCIDevice, _ flags: Int32) throws(LibPCIError) -> Int32 {
        var known: Int32 = 0
        try check(provenance_pci_fill_info(device.pointer, flags, &known), "pci_fill_info")
        return known
    }

    /// Reads the ID database now; false when it cannot be opened (names are then all unknown).
    /// The corresponding C function is `pci_load_name_list` (guarded by
    /// `provenance_pci_load_name_list`). Loading up front keeps the later lookups free of
    /// anything that could raise a libpci error.
    func loadNameList() throws(LibPCIError) -> Bool {
        var loaded: Int32 = 0
        try check(provenance_pci_load_name_list(handle, &loaded), "pci_load_name_list")
        return loaded != 0
    }

    /// The vendor's name, nil when unknown. The corresponding C function is `pci_lookup_name`
    /// with `PCI_LOOKUP_VENDOR` (through `provenance_pci_lookup_vendor`).
    func vendorName(_ vendor: UInt16, flags: Int32) -> String? {
        lookup { provenance_pci_lookup_vendor(handle, $0, $1, flags, Int32(vendor)) }
    }

    /// The device's name. `pci_lookup_name` with `PCI_LOOKUP_DEVICE`.
    func deviceName(vendor: UInt16, device: UInt16, flags: Int32) -> String? {
        lookup { provenance_pci_lookup_device(handle, $0, $1, flags, Int32(vendor), Int32(device)) }
    }

    /// The subsystem vendor's name. `pci_lookup_name` with `PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_VENDOR`.
    func subsystemVendorName(_ subsystemVendor: UInt16, flags: Int32) -> String? {
        lookup { provenance_pci_lookup_subsystem_vendor(handle, $0, $1, flags, Int32(subsystemVendor)) }
    }

    /// The subsystem's name. `pci_lookup_name` with `PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_DEVICE`.
    func subsystemDeviceName(vendor: UInt16, device: UInt16, subsystemVendor: UInt16, subsystemDevice: UInt16,
                             flags: Int32) -> String?
    {
        lookup {
            provenance_pci_lookup_subsystem_device(handle, $0, $1, flags, Int32(vendor), Int32(device),
                                                   Int32(subsystemVendor), Int32(subsystemDevice))
        }
    }

    /// The name of a class (`class << 8 | subclass`). `pci_lookup_name` with `PCI_LOOKUP_CLASS`:
    /// when only the base class is known, libpci answers `Base name [cccc]`, as lspci prints.
    func className(_ deviceClass: UInt16, flags: Int32) -> String? {
        lookup { provenance_pci_lookup_class(handle, $0, $1, flags, Int32(deviceClass)) }
    }

    /// libpci's warnings since the last call, oldest first (then forgotten). The corresponding C
    /// functions are `provenance_pci_take_warning` and `provenance_pci_dropped_warnings`.
    func takeWarnings() -> [String] {
        var warnings: [String] = []
        var buffer = [CChar](repeating: 0, count: 512)
        while provenance_pci_take_warning(&buffer, buffer.count) != 0 {
            warnings.append(buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        let dropped = provenance_pci_dropped_warnings()
        if dropped > 0 { warnings.append("\(dropped) more warnings") }
        return warnings
    }

    private func lookup(_ call: (UnsafeMutablePointer<CChar>, Int32) -> UnsafeMutablePointer<CChar>?) -> String? {
        var buffer = [CChar](repeating: 0, count: 1024)
        return buffer.withUnsafeMutableBufferPointer { buffer in
            call(buffer.baseAddress!, Int32(buffer.count)).map { String(cString: $0) }
        }
    }

    private func check(_ status: Int32, _ function: String) throws(LibPCIError) {
        if status != 0 {
            throw LibPCIError(function: function, message: String(cString: provenance_pci_last_error()))
        }
    }
}

/// One device of a `PCIAccess` (a `struct pci_dev`, owned by the access handle: valid while it lives).
struct PCIDevice {
    let pointer: UnsafeMutablePointer<pci_dev>

    /// `domain:bus:device.function` as sysfs and `lspci -D` write it: `0000:00:1f.2`.
    var slot: String {
        let device = pointer.pointee
        return "\(hex(UInt32(bitPattern: device.domain), 4)):\(hex(device.bus, 2)):\(hex(device.dev, 2)).\(device.func)"
    }

    /// For sorting by bus address.
    var address: (Int32, UInt8, UInt8, UInt8) {
        let device = pointer.pointee
        return (device.domain, device.bus, device.dev, device.func)
    }

    var vendorID: UInt16 { pointer.pointee.vendor_id }
    var deviceID: UInt16 { pointer.pointee.device_id }
    /// Base class and subclass (`0x0300`).
    var deviceClass: UInt16 { pointer.pointee.device_class }
    var progIf: UInt8 { pointer.pointee.prog_if }
    var revision: UInt8 { pointer.pointee.rev_id }
    var subsystemVendorID: UInt16 { pointer.pointee.subsys_vendor_id }
    var subsystemID: UInt16 { pointer.pointee.subsys_id }
    /// -1 when unknown.
    var numaNode: Int32 { pointer.pointee.numa_node }
}

/// Lowercase hexadecimal, zero-padded to `width` digits (`hex(0x10de, 4)` = `10de`).
func hex<T: BinaryInteger>(_ value: T, _ width: Int) -> String {
    let digits = String(value, radix: 16)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}
