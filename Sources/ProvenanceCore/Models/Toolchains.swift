public struct ToolchainsSection: SectionModel {
    public static let sectionID = "toolchains"

    public var tools: [String: Tool]

    public init(tools: [String: Tool]) {
        self.tools = tools
    }

    public struct Tool: Codable, Equatable, Sendable {
        public var version: String?
        /// Where the tool was found on PATH.
        public var path: String?
        /// The file that answered, symbolic links (and pyenv shims) resolved.
        public var resolvedPath: String?
        /// The first line of its version output.
        public var banner: String?

        public init(version: String? = nil, path: String? = nil, resolvedPath: String? = nil, banner: String? = nil) {
            self.version = version
            self.path = path
            self.resolvedPath = resolvedPath
            self.banner = banner
        }
    }
}

extension ToolchainsSection {
    public var summary: String {
        tools.keys.sorted().map { name in [name, tools[name]!.version].compactMap { $0 }.joined(separator: " ") }.joined(separator: ", ")
    }
}
