/// `requirements.txt` from the python section: exact pins for pip.
///
/// - From an index: `name==version`. A local version label that names a PyTorch wheel index
///   (`+cu124`, `+cpu`, `+rocm6.1`) adds `--extra-index-url https://download.pytorch.org/whl/LABEL`;
///   any other local label has no known index and is commented out.
/// - VCS installs (PEP 610 `vcs_info`): `name @ git+URL@COMMIT`.
/// - Archives from a URL: `name @ URL`, with `--hash` when the record has the archive's hash
///   and every other line has one too (pip checks hashes for all lines or none).
/// - Editable installs, local directories and local files: commented out with the reason.
enum RequirementsExport {
    /// What one distribution becomes in a requirements file.
    enum Line: Equatable {
        case requirement(String, extraIndex: String?, hash: String?)
        case skipped(String, reason: String)
    }

    static func render(_ input: ExportInput) throws(Export.Error) -> Export.Output {
        guard input.has("python") else {
            throw Export.Error(description: "the manifest has no python section with data: nothing to export")
        }
        let lines = input.distributions.map(line(for:))
        var skipped: [Export.Skipped] = []
        var extraIndexes: [String] = []
        var requirements: [(String, String?)] = []
        var commented: [String] = []
        for line in lines {
            switch line {
            case .requirement(let text, let extraIndex, let hash):
                if let extraIndex, !extraIndexes.contains(extraIndex) { extraIndexes.append(extraIndex) }
                requirements.append((text, hash))
            case .skipped(let text, let reason):
                skipped.append(Export.Skipped(text, reason))
                commented.append("# \(Export.clean(text))  # not exported: \(Export.clean(reason))")
            }
        }
        let allHashed = !requirements.isEmpty && requirements.allSatisfy { $0.1 != nil }
        var out = Export.header(input, what: "requirements.txt")
        if let version = input.pythonVersion { out += "# Python \(Export.clean(version))\n" }
        if !allHashed && requirements.contains(where: { $0.1 != nil }) {
            out += "# Hashes are given as comments: pip checks hashes for every line or none, and not every line has one.\n"
        }
        for index in extraIndexes { out += "--extra-index-url \(index)\n" }
        for (text, hash) in requirements {
            if let hash {
                out += allHashed ? "\(text) --hash=\(Export.clean(hash))\n" : "\(text)  # --hash=\(Export.clean(hash))\n"
            } else {
                out += text + "\n"
            }
        }
        if !commented.isEmpty {
            out += "\n" + commented.joined(separator: "\n") + "\n"
        }
        return Export.Output(text: out, skipped: skipped)
    }

    /// What a distribution's record says about where it came from, as one requirement line.
    static func line(for distribution: ExportInput.Distribution) -> Line {
        let name = Export.clean(distribution.name)
        let version = Export.clean(distribution.version)
        if let url = distribution.directURL.map(Export.clean) {
            if distribution.editable {
                return .skipped("-e \(url)", reason: "editable install of \(name) \(version) from a local directory; install it from its source")
            }
            if url.contains(Secrets.mask) {
                return .skipped("\(name) @ \(url)", reason: "the URL's credentials were masked at capture; add them to install \(name) \(version)")
            }
            if let commit = distribution.vcsCommit.map(Export.clean) {
                let vcsURL = url.contains("+") && url.firstRange(of: "://") != nil
                    && url[..<url.firstRange(of: "://")!.lowerBound].contains("+") ? url : "git+" + url
                if vcsURL.hasPrefix("git+file:") {
                    return .skipped("\(name) @ \(vcsURL)@\(commit)", reason: "installed from a local clone (\(name) \(version)); push the commit and use its remote")
                }
                return .requirement("\(name) @ \(vcsURL)@\(commit)", extraIndex: nil, hash: nil)
            }
            if url.hasPrefix("file:") {
                return .skipped("\(name) @ \(url)", reason: "installed from a local path (\(name) \(version)); the file is not on an index")
            }
            return .requirement("\(name) @ \(url)", extraIndex: nil, hash: distribution.archiveHash.map(hashOption))
        }
        if let plus = version.firstIndex(of: "+") {
            let label = String(version[version.index(after: plus)...])
            if let index = pytorchIndex(forLocalLabel: label) {
                return .requirement("\(name)==\(version)", extraIndex: index, hash: nil)
            }
            return .skipped("\(name)==\(version)", reason: "local version label '+\(label)' names no known index (the package index refuses local versions)")
        }
        return .requirement("\(name)==\(version)", extraIndex: nil, hash: nil)
    }

    /// PEP 610 writes `sha256=HEX`; pip's option reads `sha256:HEX`.
    static func hashOption(_ hash: String) -> String {
        guard let equals = hash.firstIndex(of: "=") else { return hash }
        return hash[..<equals] + ":" + hash[hash.index(after: equals)...]
    }

    /// The PyTorch wheel index that publishes a local version label: `cu124`, `cu118`, `cpu`,
    /// `rocm6.1`, `xpu` (https://download.pytorch.org/whl/LABEL).
    static func pytorchIndex(forLocalLabel label: String) -> String? {
        let isDigits: (Substring) -> Bool = { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
        let known = label == "cpu" || label == "xpu"
            || (label.hasPrefix("cu") && isDigits(label.dropFirst(2)))
            || (label.hasPrefix("rocm") && label.dropFirst(4).split(separator: ".", omittingEmptySubsequences: false).allSatisfy(isDigits))
        return known ? "https://download.pytorch.org/whl/\(label)" : nil
    }
}
