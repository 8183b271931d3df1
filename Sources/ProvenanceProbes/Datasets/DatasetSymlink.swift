/// One symbolic link: where it is and what it says. It is never followed.
public struct DatasetSymlink: Sendable, Equatable {
    /// Where the link leads when resolved (`realpath` of the link).
    public enum Resolution: String, Sendable {
        /// To something inside the dataset (hashed under its own path if it is a regular file).
        case inside
        /// Out of the dataset: not followed, not hashed.
        case outside
        /// To nothing.
        case dangling
        /// Into a loop of links (ELOOP).
        case loop
        /// Could not be resolved for another reason (a component is not a directory, permissions).
        case unresolvable
    }

    public var path: [UInt8]
    public var target: [UInt8]
    public var resolution: Resolution
}
