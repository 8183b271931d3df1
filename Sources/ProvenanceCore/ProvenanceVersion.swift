/// The version of provenance, written into every manifest.
public enum ProvenanceVersion {
    public static let current = "0.1.0"
}
