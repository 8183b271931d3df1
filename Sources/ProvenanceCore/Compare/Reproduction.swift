/// What makes a recorded manifest comparable with a capture of *another* machine: the same
/// repositories and datasets are found by identity rather than by absolute path, and each
/// difference comes with what a person can run to remove it.
public enum Reproduction {
    /// `current` with each git repository's `path` set to the recorded path of the repository it
    /// is (the same remote without credentials; else the same commit; else the only one on each
    /// side), so `git.repositories[PATH]…` names the same repository on both machines.
    public static func aligningRepositories(_ current: JSONValue, with recorded: JSONValue) -> JSONValue {
        let old = repositories(in: recorded)
        guard case .object(var manifest) = current, case .object(var sections)? = manifest["sections"],
              case .object(var section)? = sections["git"], case .object(var data)? = section["data"],
              case .array(var now)? = data["repositories"], !old.isEmpty
        else { return current }
        var taken = Set<Int>()
        func match(_ repository: JSONValue) -> Int? {
            let remotes = remoteIdentities(repository)
            if !remotes.isEmpty, let index = old.indices.first(where: { !taken.contains($0) && !remoteIdentities(old[$0]).isDisjoint(with: remotes) }) {
                return index
            }
            if let commit = repository["commit"], let index = old.indices.first(where: { !taken.contains($0) && old[$0]["commit"] == commit }) {
                return index
            }
            return old.count == 1 && now.count == 1 && taken.isEmpty ? 0 : nil
        }
        for index in now.indices {
            guard let recordedIndex = match(now[index]), case .object(var repository) = now[index],
                  let path = old[recordedIndex]["path"]
            else { continue }
            taken.insert(recordedIndex)
            repository["path"] = path
            now[index] = .object(repository)
        }
        data["repositories"] = .array(now)
        section["data"] = .object(data)
        sections["git"] = .object(section)
        manifest["sections"] = .object(sections)
        return .object(manifest)
    }

    static func repositories(in manifest: JSONValue) -> [JSONValue] {
        manifest["sections"]?["git"]?["data"]?["repositories"]?.arrayValue ?? []
    }

    /// A repository's remotes as `host/path` without scheme, user, credentials or `.git`
    /// (`git@github.com:org/r.git` and `https://[masked]@github.com/org/r` are the same).
    static func remoteIdentities(_ repository: JSONValue) -> Set<String> {
        Set((repository["remotes"]?.objectValue ?? [:]).values.compactMap { $0.stringValue.map(remoteIdentity) })
    }

    public static func remoteIdentity(_ url: String) -> String {
        var text = Substring(url)
        if let scheme = text.firstRange(of: "://") { text = text[scheme.upperBound...] }
        if let at = text.lastIndex(of: "@"), !text[..<at].contains("/") { text = text[text.index(after: at)...] }
        // scp-like `host:path`.
        if let colon = text.firstIndex(of: ":"), !text[..<colon].contains("/") {
            let rest = text[text.index(after: colon)...]
            let port = rest.prefix { $0.isNumber }
            text = Substring(text[..<colon] + "/" + rest.dropFirst(rest.hasPrefix(port + "/") && !port.isEmpty ? port.count + 1 : 0))
        }
        var identity = String(text).lowercased()
        while identity.hasSuffix("/") { identity.removeLast() }
        if identity.hasSuffix(".git") { identity.removeLast(4) }
        return identity
    }

    /// The violations without a dataset's digest when files of that dataset are named: the
    /// files say what changed, the digest only repeats it.
    public static func withoutRedundantDigests(_ violations: [Violation]) -> [Violation] {
        let datasetsWithFiles = Set(violations.compactMap { violation -> String? in
            let path = violation.change.path
            guard path.hasPrefix("datasets."), let range = path.firstRange(of: ".files[") else { return nil }
            return String(path[..<range.lowerBound])
        })
        return violations.filter { violation in
            let path = violation.change.path
            guard path.hasPrefix("datasets."), path.hasSuffix(".digest") else { return true }
            return !datasetsWithFiles.contains(String(path.dropLast(".digest".count)))
        }
    }

    /// A command or action that removes a difference, where provenance knows one.
    public static func fix(for change: ManifestDiff.Change, recorded: JSONValue) -> String? {
        let path = change.path
        func quoted(_ value: JSONValue?) -> String? { value?.stringValue }
        // Python distributions: python.distributions[NAME].version, or a distribution missing now.
        if path.hasPrefix("python.distributions[") {
            let name = element(of: path, after: "python.distributions[")
            if path.hasSuffix("].version"), let version = quoted(change.old), let name {
                return "pip install '\(name)==\(version)'"
            }
            if change.kind == .removed, let name, let version = change.old?["version"]?.stringValue {
                return "pip install '\(name)==\(version)'"
            }
            if change.kind == .added, let name { return "pip uninstall \(name)  (not installed when recorded)" }
        }
        if path.hasPrefix("packages.dpkg.packages[") || path.hasPrefix("packages.dpkg.") {
            if let name = element(of: path, after: "packages.dpkg.packages["), path.hasSuffix("].version"),
               let version = quoted(change.old)
            {
                return "apt-get install '\(name)=\(version)'"
            }
        }
        // Code: the recorded commit and patch.
        if path.hasPrefix("git.repositories["), let repositoryPath = element(of: path, after: "git.repositories[") {
            let repository = repositories(in: recorded).first { $0["path"]?.stringValue == repositoryPath }
            guard let commit = repository?["commit"]?.stringValue else { return nil }
            var command = "git -C \(shellQuoted(repositoryPath)) checkout \(commit)"
            if let digest = repository?["diff"]?["sha256"]?.stringValue, repository?["diff"]?["sizeBytes"] != 0 {
                let file = recorded["attachments"]?[digest]?["file"]?.stringValue ?? "the recorded patch (\(digest))"
                command += " && git apply --binary \(file)"
            }
            return command
        }
        // Data: which file differs, with both digests.
        if path.hasPrefix("datasets."), let range = path.firstRange(of: ".files[") {
            let name = String(path[path.index(path.startIndex, offsetBy: "datasets.".count)..<range.lowerBound])
            let file = element(of: String(path[range.lowerBound...]), after: ".files[") ?? "?"
            let dataset = recorded["sections"]?["datasets"]?["data"]?[name]?["path"]?.stringValue ?? name
            switch change.kind {
            case .changed: return "\(dataset)/\(file) differs: recorded sha256 \(change.old?.stringValue ?? "?"), now \(change.new?.stringValue ?? "?")"
            case .removed: return "\(dataset)/\(file) is missing: restore it (recorded sha256 \(change.old?["sha256"]?.stringValue ?? "?"))"
            case .added: return "\(dataset)/\(file) was not in the recorded dataset: remove it"
            }
        }
        // Determinism and library environment.
        if path.hasPrefix("environment.variables.") {
            let name = String(path.dropFirst("environment.variables.".count))
            if let value = quoted(change.old), value != "[masked]" { return "export \(name)=\(shellQuoted(value))" }
            if change.kind == .added { return "unset \(name)" }
        }
        return nil
    }

    /// The text between `prefix` and the matching `]`.
    static func element(of path: String, after prefix: String) -> String? {
        guard let start = path.firstRange(of: prefix)?.upperBound else { return nil }
        var depth = 0
        var index = start
        while index < path.endIndex {
            if path[index] == "[" { depth += 1 }
            if path[index] == "]" {
                if depth == 0 { return String(path[start..<index]) }
                depth -= 1
            }
            index = path.index(after: index)
        }
        return nil
    }

    static func shellQuoted(_ text: String) -> String {
        text.allSatisfy { $0.isLetter || $0.isNumber || "/._-:=+,".contains($0) } ? text
            : "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    /// The files two patches change differently: added (only in `current`), removed (only in
    /// `recorded`) or changed (in both, other hunks), from the `diff --git a/X b/X` headers.
    public static func patchDifferences(recorded: [UInt8], current: [UInt8]) -> [(file: String, change: String)] {
        let old = patchFiles(recorded)
        let new = patchFiles(current)
        var result: [(String, String)] = []
        for file in Set(old.keys).union(new.keys).sorted() {
            switch (old[file], new[file]) {
            case (nil, _?): result.append((file, "added"))
            case (_?, nil): result.append((file, "removed"))
            case (let a?, let b?) where a != b: result.append((file, "changed"))
            default: break
            }
        }
        return result
    }

    /// A patch split per file: `b/` path → that file's part of the patch.
    static func patchFiles(_ patch: [UInt8]) -> [String: ArraySlice<UInt8>] {
        let marker = Array("diff --git ".utf8)
        var starts: [Int] = []
        var index = 0
        while index + marker.count <= patch.count {
            if (index == 0 || patch[index - 1] == 0x0A) && patch[index..<index + marker.count].elementsEqual(marker) {
                starts.append(index)
            }
            if let newline = patch[index...].firstIndex(of: 0x0A) { index = newline + 1 } else { break }
        }
        var files: [String: ArraySlice<UInt8>] = [:]
        for (number, start) in starts.enumerated() {
            let end = number + 1 < starts.count ? starts[number + 1] : patch.count
            let part = patch[start..<end]
            let header = String(decoding: part.prefix { $0 != 0x0A }, as: UTF8.self)
            let name = header.firstRange(of: " b/").map { String(header[$0.upperBound...]) } ?? header
            files[name] = part
        }
        return files
    }
}
