import ProvenanceProbeKit

/// The probes compiled into provenance, in the order `provenance probes` lists them.
public enum BuiltinProbes {
    public static var all: [any Probe] {
        [OSProbe(), CPUProbe(), MemoryProbe(), DatasetsProbe()]
    }
}
