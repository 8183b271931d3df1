/// Double-blind appendices (`render --anonymize`): the identifying values of the rendered
/// documents (manifests, run records) replaced consistently, with the same `Anonymizer` as
/// `record --anonymize`: host and cluster names, user names, serial numbers, UUIDs and MAC
/// addresses as the recorder finds them, plus what only an appendix shows — paths outside the
/// system's directories (home, project, data, scratch: `path-N`), remote URLs (`remote-N`) and the
/// organisation and repository names in them (`org-N`).
extension EnvironmentSummary {
    /// Directories whose paths say nothing about the author (the system's own).
    public static let systemPathPrefixes = [
        "/usr/", "/lib/", "/lib32/", "/lib64/", "/libx32/", "/bin/", "/sbin/", "/etc/", "/opt/", "/proc/", "/sys/",
        "/dev/", "/boot/", "/var/lib/", "/run/",
    ]

    /// The same summary with every identifying value of `documents` (and every non-system path it
    /// shows) replaced, in labels, values and the full listing.
    public func anonymized(documents: [JSONValue]) -> EnvironmentSummary {
        var values: [Anonymizer.Kind: Set<String>] = [:]
        for document in documents {
            for (kind, found) in Anonymizer.identifyingValues(inManifest: document) { values[kind, default: []].formUnion(found) }
            // Remotes whatever their form (a URL, or a path where `url.insteadOf` rewrote it).
            for repository in GitSection.read(from: document)?.repositories ?? [] {
                for url in repository.remotes.values where !url.isEmpty {
                    values[.remote, default: []].insert(url)
                    values[.organisation, default: []].formUnion(EnvironmentSummary.remoteNames(url))
                }
            }
            // A run record's own fields (its host name is read above); the strings of either document.
            EnvironmentSummary.visitStrings(document) { key, text in
                if key == "hostName" { values[.hostName, default: []].insert(text) }
                for url in EnvironmentSummary.remoteURLs(in: text) {
                    values[.remote, default: []].insert(url)
                    values[.organisation, default: []].formUnion(EnvironmentSummary.remoteNames(url))
                }
                values[.user, default: []].formUnion(EnvironmentSummary.homeUsers(in: text))
            }
        }
        var texts: [String] = []
        for group in groups { for row in group.rows { texts += [row.label, row.value] } }
        for section in full ?? [] { for row in section.rows { texts += [row.label, row.value] } }
        for text in texts {
            values[.path, default: []].formUnion(EnvironmentSummary.personalPaths(in: text))
            for url in EnvironmentSummary.remoteURLs(in: text) { values[.remote, default: []].insert(url) }
        }
        let anonymizer = Anonymizer(values: values)
        func scrub(_ row: Row) -> Row { Row(label: anonymizer.apply(to: row.label), value: anonymizer.apply(to: row.value)) }
        return EnvironmentSummary(
            groups: groups.map { Group(title: $0.title, rows: $0.rows.map(scrub)) },
            full: full?.map { FlatSection(id: anonymizer.apply(to: $0.id), status: $0.status, rows: $0.rows.map(scrub)) })
    }

    static func visitStrings(_ value: JSONValue, key: String? = nil, _ body: (String?, String) -> Void) {
        switch value {
        case .string(let text): body(key, text)
        case .array(let items): for item in items { visitStrings(item, key: key, body) }
        case .object(let members):
            for (name, member) in members {
                body(nil, name)
                visitStrings(member, key: name, body)
            }
        default: break
        }
    }

    /// Whitespace-, comma-, quote- and `=`-separated tokens of `text`.
    static func tokens(_ text: String) -> [Substring] {
        text.split { $0 == " " || $0 == "," || $0 == ";" || $0 == "\"" || $0 == "'" || $0 == "=" || $0 == "(" || $0 == ")"
            || $0 == "\t" || $0 == "\n" || $0 == "<" || $0 == ">" }
    }

    /// Remote URLs: `scheme://…` and scp-like `user@host:path`.
    static func remoteURLs(in text: String) -> [String] {
        tokens(text).compactMap { token -> String? in
            if let range = token.firstRange(of: "://"), token[..<range.lowerBound].allSatisfy({ $0.isLetter || $0 == "+" }),
               !token[..<range.lowerBound].isEmpty
            {
                return String(token)
            }
            if let at = token.firstIndex(of: "@"), let colon = token[at...].firstIndex(of: ":"), colon > token.index(after: at),
               !token.hasPrefix("/"), token[colon...].count > 1
            {
                return String(token)
            }
            return nil
        }
    }

    /// The path components of a remote URL that name people or projects (organisation, repository,
    /// without `.git`): every component after the host.
    static func remoteNames(_ url: String) -> Set<String> {
        var rest = Substring(url)
        var components: [Substring]
        if let range = rest.firstRange(of: "://") {
            rest = rest[range.upperBound...]
            components = rest.drop { $0 != "/" }.split(separator: "/")
        } else if let colon = rest.firstIndex(of: ":"), !rest.hasPrefix("/") {
            components = rest[rest.index(after: colon)...].split(separator: "/")
        } else {
            // A local path: its last two components (`…/org/repo.git`), not the directories above.
            components = Array(rest.split(separator: "/").suffix(2))
        }
        var names: Set<String> = []
        for component in components {
            var name = String(component)
            if name.hasSuffix(".git") { name = String(name.dropLast(4)) }
            if name.count >= 2 { names.insert(name) }
        }
        return names
    }

    /// User names in home directories (`/home/NAME`, `/Users/NAME`, `/u/NAME`).
    static func homeUsers(in text: String) -> Set<String> {
        var users: Set<String> = []
        for prefix in ["/home/", "/Users/", "/u/"] {
            var rest = Substring(text)
            while let range = rest.firstRange(of: prefix) {
                let name = rest[range.upperBound...].prefix { $0 != "/" && $0 != " " && $0 != ":" && $0 != "," && $0 != "\"" }
                if !name.isEmpty { users.insert(String(name)) }
                rest = rest[range.upperBound...]
            }
        }
        return users
    }

    /// Absolute paths outside the system's directories, and `~/…` paths.
    static func personalPaths(in text: String) -> Set<String> {
        var paths: Set<String> = []
        for token in tokens(text) where token.count > 1 && (token.hasPrefix("/") || token.hasPrefix("~/")) {
            let path = String(token)
            if !systemPathPrefixes.contains(where: { path.hasPrefix($0) || path + "/" == $0 }) { paths.insert(path) }
        }
        return paths
    }
}
