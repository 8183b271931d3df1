import ProvenanceProbeKit

/// The probes compiled into provenance, in the order `provenance probes` lists them.
public enum BuiltinProbes {
    /// What the command line passes to the probes that take settings.
    public struct Options: Sendable {
        /// `capture --repo`: the repositories of the git probe (empty: the working directory's).
        public var repositories: [String] = []
        /// `capture --diff-max-bytes`: the largest git patch kept.
        public var diffMaxBytes = GitProbe.defaultDiffMaxBytes
        /// Where the git probe leaves its patches for the command line to write.
        public var attachments: AttachmentStore?

        public init(repositories: [String] = [], diffMaxBytes: Int = GitProbe.defaultDiffMaxBytes,
                    attachments: AttachmentStore? = nil)
        {
            self.repositories = repositories
            self.diffMaxBytes = diffMaxBytes
            self.attachments = attachments
        }
    }

    /// Every built-in probe with default settings.
    public static var all: [any Probe] { all(Options()) }

    /// Every built-in probe, configured.
    public static func all(_ options: Options) -> [any Probe] {
        [OSProbe(), CPUProbe(), MemoryProbe(),
         GitProbe(repositories: options.repositories, diffMaxBytes: options.diffMaxBytes, patches: options.attachments)]
    }
}
