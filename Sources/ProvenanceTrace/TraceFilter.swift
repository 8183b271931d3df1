/// Which traced files are listed and which are only counted ("summarised") under a tree.
///
/// Order of precedence: a `--trace-exclude` prefix, then a `--trace-include` prefix (the longest
/// matching prefix of the two wins), then the default system trees: /proc, /sys, /dev, the
/// interpreters' libraries (any `…/lib/pythonX.Y/…`, which holds the standard library,
/// site-packages and dist-packages, and `__pycache__`), the shared libraries (/lib, /lib64,
/// /usr/lib, /usr/lib64, /usr/local/lib/pythonX.Y) and the loader cache /etc/ld.so.cache.
public struct TraceFilter: Sendable {
    public var include: [[UInt8]]
    public var exclude: [[UInt8]]
    /// Trees that are provenance's own (the trace directory): never listed.
    public var own: [[UInt8]]

    public init(include: [String] = [], exclude: [String] = [], own: [String] = []) {
        self.include = include.map { TracePath.normalise(Array($0.utf8)) }
        self.exclude = exclude.map { TracePath.normalise(Array($0.utf8)) }
        self.own = own.map { TracePath.normalise(Array($0.utf8)) }
    }

    static let systemTrees = ["/proc", "/sys", "/dev", "/lib", "/lib64", "/usr/lib", "/usr/lib64", "/etc/ld.so.cache"]
        .map { Array($0.utf8) }

    /// nil: list the file; otherwise the name of the tree it is summarised under.
    public func tree(of path: [UInt8]) -> String? {
        for prefix in own where TracePath.isInside(path, prefix) { return "provenance trace files" }
        let excluded = exclude.filter { TracePath.isInside(path, $0) }.map(\.count).max() ?? -1
        let included = include.filter { TracePath.isInside(path, $0) }.map(\.count).max() ?? -1
        if excluded > included, let prefix = exclude.first(where: { $0.count == excluded && TracePath.isInside(path, $0) }) {
            return String(decoding: prefix, as: UTF8.self)
        }
        if included >= 0 { return nil }
        if let python = Self.pythonLibrary(path) { return python }
        for prefix in Self.systemTrees where TracePath.isInside(path, prefix) {
            return String(decoding: prefix, as: UTF8.self)
        }
        return nil
    }

    /// `…/lib/pythonX.Y` (the tree up to it), or `__pycache__`, when `path` is inside one.
    static func pythonLibrary(_ path: [UInt8]) -> String? {
        let parts = path.split(separator: UInt8(ascii: "/"))
        for index in parts.indices.dropLast() {
            if parts[index].elementsEqual("__pycache__".utf8) { return "__pycache__" }
            if index > 0, parts[index - 1].elementsEqual("lib".utf8), parts[index].starts(with: "python".utf8) {
                return "/" + parts[...index].map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
            }
        }
        return nil
    }
}
