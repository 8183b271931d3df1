// libpci error handling for provenance: see include/CPCIErrors.h.
#include "CPCIErrors.h"

#include <pci/pci.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MESSAGE_SIZE = 512, MAX_WARNINGS = 32 };

static _Thread_local jmp_buf *active_guard;
static _Thread_local char last_error[MESSAGE_SIZE];
static _Thread_local char warnings[MAX_WARNINGS][MESSAGE_SIZE];
static _Thread_local int warning_first, warning_count, warnings_dropped;

static void format_message(char *buffer, const char *format, va_list arguments) {
    vsnprintf(buffer, MESSAGE_SIZE, format, arguments);
    size_t length = strlen(buffer);
    while (length > 0 && (buffer[length - 1] == '\n' || buffer[length - 1] == ' ')) buffer[--length] = 0;
}

// libpci's error callback: must not return. Inside a guarded call it jumps back to the guard.
// Outside one (only a name lookup running out of memory can get here) there is nothing safe to
// return to, so the process aborts with the message, as libpci's own handler would have exited.
static void PCI_NONRET record_error(char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    format_message(last_error, format, arguments);
    va_end(arguments);
    if (active_guard) longjmp(*active_guard, 1);
    fprintf(stderr, "provenance: libpci: %s\n", last_error);
    abort();
}

static void record_warning(char *format, ...) {
    if (warning_count == MAX_WARNINGS) {
        warnings_dropped++;
        return;
    }
    va_list arguments;
    va_start(arguments, format);
    format_message(warnings[(warning_first + warning_count) % MAX_WARNINGS], format, arguments);
    va_end(arguments);
    warning_count++;
}

static void ignore_debug(char *format, ...) { (void)format; }

void provenance_pci_catch_errors(struct pci_access *access) {
    access->error = record_error;
    access->warning = record_warning;
    access->debug = ignore_debug;
}

// Runs one libpci statement with the error handler jumping back here; evaluates to 0 or -1.
#define GUARDED(statement)                                   \
    do {                                                     \
        jmp_buf guard;                                       \
        jmp_buf *outer = active_guard;                       \
        last_error[0] = 0;                                   \
        if (setjmp(guard)) {                                 \
            active_guard = outer;                            \
            return -1;                                       \
        }                                                    \
        active_guard = &guard;                               \
        statement;                                           \
        active_guard = outer;                                \
    } while (0)

int provenance_pci_init(struct pci_access *access) {
    GUARDED(pci_init(access));
    return 0;
}

int provenance_pci_scan_bus(struct pci_access *access) {
    GUARDED(pci_scan_bus(access));
    return 0;
}

int provenance_pci_fill_info(struct pci_dev *device, int flags, int *known_fields) {
    int known = 0;
    GUARDED(known = pci_fill_info(device, flags));
    *known_fields = known;
    return 0;
}

int provenance_pci_load_name_list(struct pci_access *access, int *loaded) {
    int result = 0;
    GUARDED(result = pci_load_name_list(access));
    *loaded = result;
    return 0;
}

const char *provenance_pci_last_error(void) { return last_error; }

int provenance_pci_take_warning(char *buffer, size_t size) {
    if (warning_count == 0) return 0;
    if (size > 0) snprintf(buffer, size, "%s", warnings[warning_first]);
    warning_first = (warning_first + 1) % MAX_WARNINGS;
    warning_count--;
    return 1;
}

int provenance_pci_dropped_warnings(void) {
    int dropped = warnings_dropped;
    warnings_dropped = 0;
    return dropped;
}
