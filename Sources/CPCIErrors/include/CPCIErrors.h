// Guarded libpci calls: libpci errors become return values instead of exit(1).
//
// libpci reports a fatal problem (no /sys/bus/pci, an unreadable mandatory sysfs attribute, out of
// memory) by calling `access->error`, whose default prints the message and calls exit(1); it must
// not return. Its callbacks are variadic function pointers, which Swift can neither write nor
// call, so they live here in C: `provenance_pci_catch_errors` installs an error handler that
// records the message and `longjmp`s back into the `provenance_pci_*` function that made the libpci
// call, which then returns -1. The jump only ever crosses libpci's own C frames, never Swift ones.
// Warnings are recorded (not printed) and taken with `provenance_pci_take_warning`. An error
// raised outside a guarded call has nowhere to return to and aborts the process with its message;
// only a name lookup can do that, when out of memory, so load the names with
// `provenance_pci_load_name_list` before calling `pci_lookup_name`.
//
// State is per thread: each guarded call must be made on the thread that reads its outcome, and
// one `pci_access` must not be used from two threads at once (libpci is not thread-safe).
// After an error, libpci may have left a directory or file handle of the failed step open.
#ifndef PROVENANCE_CPCIERRORS_H
#define PROVENANCE_CPCIERRORS_H

#include <stddef.h>

struct pci_access;
struct pci_dev;

/// Installs the recording error, warning and debug handlers on `access`. Call it after
/// `pci_alloc` and before `provenance_pci_init`.
void provenance_pci_catch_errors(struct pci_access *access);

/// `pci_init(access)`, guarded. Returns 0, or -1 after a libpci error (see provenance_pci_last_error).
int provenance_pci_init(struct pci_access *access);

/// `pci_scan_bus(access)`, guarded. Returns 0 or -1.
int provenance_pci_scan_bus(struct pci_access *access);

/// `pci_fill_info(device, flags)`, guarded. Returns 0 and stores the device's known fields in
/// `*known_fields`, or returns -1.
int provenance_pci_fill_info(struct pci_dev *device, int flags, int *known_fields);

/// `pci_load_name_list(access)`, guarded. Returns 0 and stores 1 (loaded) or 0 (no readable ID
/// file) in `*loaded`, or returns -1.
int provenance_pci_load_name_list(struct pci_access *access, int *loaded);

/// The message of this thread's last libpci error ("" when none).
const char *provenance_pci_last_error(void);

/// Moves this thread's oldest recorded libpci warning into `buffer` (NUL-terminated, truncated to
/// `size`) and returns 1, or returns 0 when there is none. At most 32 warnings are kept per
/// thread; later ones are counted in provenance_pci_dropped_warnings.
int provenance_pci_take_warning(char *buffer, size_t size);

/// Warnings not kept since the last call (and resets the count).
int provenance_pci_dropped_warnings(void);

#endif
