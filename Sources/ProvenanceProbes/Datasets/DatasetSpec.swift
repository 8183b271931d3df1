#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One `--dataset NAME=PATH`: the name the manifest files it under and the file or directory to hash.
public struct DatasetSpec: Sendable, Equatable {
    /// `[A-Za-z0-9][A-Za-z0-9_-]*`, at most 64 characters: a JSON key of the `datasets` section,
    /// a segment of diff paths (`datasets.train.digest`) and part of the sidecar's file name.
    public var name: String
    /// The path to hash, absolute (made so from the working directory), symbolic links in it kept.
    public var path: String

    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }

    /// Parses `NAME=PATH`; a relative PATH is made absolute against `workingDirectory`.
    public static func parse(_ argument: String, workingDirectory: String) throws(DatasetSpecError) -> DatasetSpec {
        guard let equals = argument.firstIndex(of: "=") else {
            throw DatasetSpecError("--dataset takes NAME=PATH, got '\(argument)'")
        }
        let name = String(argument[..<equals])
        let path = String(argument[argument.index(after: equals)...])
        guard isValidName(name) else {
            throw DatasetSpecError(
                "invalid dataset name '\(name)': use letters, digits, '_' and '-' (at most 64, starting with a letter or digit)")
        }
        guard !path.isEmpty else { throw DatasetSpecError("--dataset \(name)= names no path") }
        return DatasetSpec(name: name, path: absolutePath(path, workingDirectory: workingDirectory))
    }

    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 64, isAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// Why a dataset path cannot be hashed (missing, not a file or directory); nil when it can.
    public static func problem(ofPath path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return String(cString: strerror(errno)).lowercased() }
        let type = info.st_mode & S_IFMT
        return type == S_IFDIR || type == S_IFREG ? nil : "not a regular file or directory"
    }

    /// `path` made absolute against `workingDirectory`, with empty and `.` segments and trailing
    /// slashes removed. `..` is kept: with symbolic links it cannot be resolved by text alone.
    public static func absolutePath(_ path: String, workingDirectory: String) -> String {
        let full = path.hasPrefix("/") ? path : workingDirectory + "/" + path
        let segments = full.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        return "/" + segments.joined(separator: "/")
    }
}

/// A `--dataset` argument that cannot be used.
public struct DatasetSpecError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
