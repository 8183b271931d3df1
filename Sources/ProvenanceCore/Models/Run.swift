public struct RunSection: SectionModel {
    public static let sectionID = "run"

    public var commandLine: [String]?
    public var seeds: [String: String]?
    public var parameters: [String: String]?
    public var workingDirectory: String?
    public var userID: UInt32?
    public var groupID: UInt32?
    /// Determinism settings the job's frameworks document and its environment lacks (advice,
    /// added by the capture pipeline from the python section; `DeterminismChecklist`).
    public var determinism: [DeterminismChecklist.Advice]?

    public init(commandLine: [String]? = nil, seeds: [String: String]? = nil, parameters: [String: String]? = nil, workingDirectory: String? = nil, userID: UInt32? = nil, groupID: UInt32? = nil) {
        self.commandLine = commandLine
        self.seeds = seeds
        self.parameters = parameters
        self.workingDirectory = workingDirectory
        self.userID = userID
        self.groupID = groupID
    }
}

extension RunSection {
    public var summary: String {
        commandLine.map { $0.joined(separator: " ") } ?? "no command"
    }
}
