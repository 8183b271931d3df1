public struct EnvironmentSection: SectionModel {
    public static let sectionID = "environment"

    /// Recorded variables by name; masked values read `[masked]`.
    public var variables: [String: String]
    /// Names whose values were masked.
    public var masked: [String]
    /// The allow-list patterns in force beyond the defaults.
    public var extraPatterns: [String]?

    public init(variables: [String: String], masked: [String], extraPatterns: [String]? = nil) {
        self.variables = variables
        self.masked = masked
        self.extraPatterns = extraPatterns
    }
}

extension EnvironmentSection {
    public var summary: String {
        "\(variables.count) variables (\(masked.count) masked)"
    }
}
