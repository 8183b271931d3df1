// libpci for Swift: <pci/pci.h> plus non-variadic wrappers of its variadic calls.
//
// Swift cannot call C variadic functions, and libpci has no va_list variants, so each kind of
// `pci_lookup_name` request gets a static inline wrapper with its fixed arguments. Every wrapper
// adds the request kind to the caller's `flags` (PCI_LOOKUP_NO_NUMBERS, PCI_LOOKUP_NO_HWDB, ...);
// none ever adds PCI_LOOKUP_NETWORK. With PCI_LOOKUP_NO_NUMBERS the result is NULL when the id is
// not in the database; otherwise it points into `buffer` or into libpci's name table.
#ifndef PROVENANCE_CLIBPCI_SHIM_H
#define PROVENANCE_CLIBPCI_SHIM_H

#include <pci/pci.h>

/// The vendor's name. The corresponding C call is `pci_lookup_name(a, buf, size, flags | PCI_LOOKUP_VENDOR, vendor)`.
static inline char *provenance_pci_lookup_vendor(struct pci_access *access, char *buffer, int size, int flags,
                                                 int vendor) {
    return pci_lookup_name(access, buffer, size, flags | PCI_LOOKUP_VENDOR, vendor);
}

/// The device's name. The corresponding C call is `pci_lookup_name(..., flags | PCI_LOOKUP_DEVICE, vendor, device)`.
static inline char *provenance_pci_lookup_device(struct pci_access *access, char *buffer, int size, int flags,
                                                 int vendor, int device) {
    return pci_lookup_name(access, buffer, size, flags | PCI_LOOKUP_DEVICE, vendor, device);
}

/// The subsystem vendor's name. The corresponding C call is
/// `pci_lookup_name(..., flags | PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_VENDOR, subsystemVendor)`.
static inline char *provenance_pci_lookup_subsystem_vendor(struct pci_access *access, char *buffer, int size,
                                                           int flags, int subsystem_vendor) {
    return pci_lookup_name(access, buffer, size, flags | PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_VENDOR, subsystem_vendor);
}

/// The subsystem's name. The corresponding C call is
/// `pci_lookup_name(..., flags | PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_DEVICE, vendor, device, subsystemVendor, subsystemDevice)`.
static inline char *provenance_pci_lookup_subsystem_device(struct pci_access *access, char *buffer, int size,
                                                           int flags, int vendor, int device,
                                                           int subsystem_vendor, int subsystem_device) {
    return pci_lookup_name(access, buffer, size, flags | PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_DEVICE, vendor, device,
                           subsystem_vendor, subsystem_device);
}

/// The class's name (class << 8 | subclass). The corresponding C call is
/// `pci_lookup_name(..., flags | PCI_LOOKUP_CLASS, deviceClass)`.
static inline char *provenance_pci_lookup_class(struct pci_access *access, char *buffer, int size, int flags,
                                                int device_class) {
    return pci_lookup_name(access, buffer, size, flags | PCI_LOOKUP_CLASS, device_class);
}

/// The programming interface's name. The corresponding C call is
/// `pci_lookup_name(..., flags | PCI_LOOKUP_PROGIF, deviceClass, progIf)`.
static inline char *provenance_pci_lookup_prog_if(struct pci_access *access, char *buffer, int size, int flags,
                                                  int device_class, int prog_if) {
    return pci_lookup_name(access, buffer, size, flags | PCI_LOOKUP_PROGIF, device_class, prog_if);
}

#endif
