/// An entry that was not hashed, and why.
public struct DatasetSkip: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// Special files: listed, never opened.
        case fifo, socket, blockDevice, characterDevice
        /// A file or directory that could not be opened or read.
        case unreadable
        /// A file whose size, times or inode differed before and after it was read (twice).
        case changed
        /// Listed, then gone before it could be hashed.
        case vanished
        /// A directory that is its own ancestor (a bind mount of a parent): not walked again.
        case directoryLoop
    }

    public var path: [UInt8]
    public var kind: Kind
    public var reason: String

    /// Whether the skip is a problem of the capture (the section becomes `partial`), rather than
    /// a special file that is not data.
    public var isProblem: Bool {
        switch kind {
        case .fifo, .socket, .blockDevice, .characterDevice, .directoryLoop: return false
        case .unreadable, .changed, .vanished: return true
        }
    }
}
