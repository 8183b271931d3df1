/// `pylock.toml` (PEP 751, lock-version 1.0) from the python section.
///
/// PEP 751 requires every package to name its files with their hashes (`wheels`/`sdist`), or
/// one direct source (`vcs` with a commit id, `directory`, `archive` with hashes). A manifest
/// records which distributions are installed, not the hashes of the wheels they came from, so:
/// - VCS installs become `[packages.vcs]` (type, url, commit-id);
/// - archives from a URL with a recorded hash become `[packages.archive]`;
/// - everything else (packages from an index, local paths, editable installs) cannot be locked
///   from the manifest alone: each is listed in `[tool.provenance]` `unlocked` with its version,
///   its index and why, and in the returned `skipped`. `pip lock -r requirements.txt` (pip ≥ 25.1)
///   resolves their files and hashes from the index.
enum PylockExport {
    static func render(_ input: ExportInput) throws(Export.Error) -> Export.Output {
        guard input.has("python") else {
            throw Export.Error(description: "the manifest has no python section with data: nothing to export")
        }
        var packages = ""
        var unlocked: [(name: String, version: String, index: String?, reason: String)] = []
        for distribution in input.distributions {
            let name = normalizeDistributionName(Export.clean(distribution.name))
            let version = Export.clean(distribution.version)
            let url = distribution.directURL.map(Export.clean)
            if let url, !distribution.editable, !url.contains(Secrets.mask), !url.hasPrefix("file:"), let commit = distribution.vcsCommit {
                packages += "\n[[packages]]\nname = \(toml(name))\nversion = \(toml(version))\n"
                packages += "vcs = { type = \"git\", url = \(toml(url)), commit-id = \(toml(Export.clean(commit))) }\n"
                continue
            }
            if let url, !distribution.editable, !url.contains(Secrets.mask), !url.hasPrefix("file:"),
               let hash = distribution.archiveHash, let equals = hash.firstIndex(of: "=")
            {
                let algorithm = Export.clean(String(hash[..<equals]))
                let value = Export.clean(String(hash[hash.index(after: equals)...]))
                packages += "\n[[packages]]\nname = \(toml(name))\nversion = \(toml(version))\n"
                packages += "archive = { url = \(toml(url)), hashes = { \(toml(algorithm)) = \(toml(value)) } }\n"
                continue
            }
            let reason: String
            var index: String? = nil
            if distribution.editable {
                reason = "editable install from a local directory"
            } else if let url, url.contains(Secrets.mask) {
                reason = "installed from a URL whose credentials were masked at capture"
            } else if let url, url.hasPrefix("file:") {
                reason = "installed from a local path"
            } else if url != nil {
                reason = "installed from a URL with no recorded hash"
            } else {
                switch RequirementsExport.line(for: distribution) {
                case .requirement(_, let extraIndex, _):
                    index = extraIndex ?? "https://pypi.org/simple"
                    reason = "from an index: the manifest has no wheel hashes (PEP 751 requires them)"
                case .skipped(_, let why):
                    reason = why
                }
            }
            unlocked.append((name, version, index, reason))
        }
        var out = Export.header(input, what: "pylock.toml (PEP 751)")
        if !unlocked.isEmpty {
            out += "# \(unlocked.count) distribution(s) could not be locked from the manifest: see [tool.provenance] unlocked.\n"
            out += "# For those from an index, `provenance export requirements` and `pip lock -r requirements.txt` resolve their files and hashes.\n"
        }
        out += "lock-version = \"1.0\"\n"
        out += "created-by = \"provenance\"\n"
        if let version = input.pythonVersion, version.split(separator: ".").count >= 2 {
            let parts = version.split(separator: ".")
            out += "requires-python = \(toml("==\(Export.clean(String(parts[0]))).\(Export.clean(String(parts[1]))).*"))\n"
        }
        // `packages` must come before any table: an empty array when nothing could be locked.
        if packages.isEmpty { out += "packages = []\n" }
        out += packages
        if !unlocked.isEmpty {
            out += "\n[tool.provenance]\nunlocked = [\n"
            for entry in unlocked {
                out += "  { name = \(toml(entry.name)), version = \(toml(entry.version))"
                if let index = entry.index { out += ", index = \(toml(index))" }
                out += ", reason = \(toml(entry.reason)) },\n"
            }
            out += "]\n"
        }
        let skipped = unlocked.map { Export.Skipped("\($0.name) \($0.version)", $0.reason) }
        return Export.Output(text: out, skipped: skipped)
    }

    /// A TOML basic string.
    static func toml(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if Export.isControl(scalar) {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
