/// conda environments from the python section's `condaPackages` (and its pip distributions).
///
/// - `environment.yml`: `name`, `channels` (those the packages came from, in first-seen order),
///   `dependencies` pinned `name=version=build`, and a `pip:` list with the requirements export's
///   pins for distributions conda did not install. For a venv or system Python: `python=X.Y.Z`
///   and `pip` from conda-forge, and every distribution in the `pip:` list.
/// - `@EXPLICIT`: one package URL per line, the format `conda create --file` reads without
///   solving. Only possible where the record has each package's URL (`conda-meta/*.json` `url`);
///   a package without one is listed as not exported.
enum CondaExport {
    static func environmentYAML(_ input: ExportInput) throws(Export.Error) -> Export.Output {
        let conda = input.condaPackages
        guard !conda.isEmpty || input.has("python") else {
            throw Export.Error(description: "the manifest has no python section with data: nothing to export")
        }
        var channels: [String] = []
        for package in conda {
            if let channel = package.channel.map(channelName), !channels.contains(channel) { channels.append(channel) }
        }
        var out = Export.header(input, what: "environment.yml")
        if conda.isEmpty {
            // A venv or system Python: conda provides the interpreter, pip the distributions.
            out += "# The recorded Python was not a conda environment: python from conda-forge, distributions by pip.\n"
            channels = ["conda-forge"]
        }
        out += "name: provenance-export\n"
        out += "channels:\n"
        for channel in channels { out += "  - \(yaml(channel))\n" }
        out += "dependencies:\n"
        if conda.isEmpty {
            out += "  - \(yaml("python=" + Export.clean(input.pythonVersion ?? "3")))\n  - pip\n"
        }
        let condaNames = Set(conda.map { normalizeDistributionName($0.name) })
        for package in conda {
            let pin = [package.name, package.version, package.build].compactMap { $0.map(Export.clean) }.joined(separator: "=")
            out += "  - \(yaml(pin))\n"
        }
        // pip-installed distributions: those conda did not install (pip sees conda's too).
        var pip: [String] = []
        var skipped: [Export.Skipped] = []
        for distribution in input.distributions where !condaNames.contains(normalizeDistributionName(distribution.name)) {
            switch RequirementsExport.line(for: distribution) {
            case .requirement(let text, let extraIndex, _):
                if let extraIndex, !pip.contains("--extra-index-url \(extraIndex)") { pip.insert("--extra-index-url \(extraIndex)", at: 0) }
                pip.append(text)
            case .skipped(let text, let reason):
                skipped.append(Export.Skipped(text, reason))
            }
        }
        if !pip.isEmpty {
            out += "  - pip:\n"
            for line in pip { out += "      - \(yaml(line))\n" }
        }
        out += Export.skippedComments(skipped)
        return Export.Output(text: out, skipped: skipped)
    }

    static func explicit(_ input: ExportInput) throws(Export.Error) -> Export.Output {
        let conda = input.condaPackages
        guard !conda.isEmpty else {
            throw Export.Error(description: "the manifest records no conda packages (python.condaPackages): not a conda environment")
        }
        var lines: [String] = []
        var skipped: [Export.Skipped] = []
        for package in conda {
            let id = [package.name, package.version, package.build].compactMap { $0.map(Export.clean) }.joined(separator: "-")
            guard let url = package.url.map(Export.clean) else {
                skipped.append(Export.Skipped(id, "the record has no package URL (conda-meta url)"))
                continue
            }
            if url.contains(Secrets.mask) {
                skipped.append(Export.Skipped(id, "the channel URL's credentials were masked at capture"))
                continue
            }
            lines.append(package.md5.map { url + "#" + Export.clean($0) } ?? url)
        }
        var out = Export.header(input, what: "conda explicit specification (conda create --name NAME --file THIS)")
        out += Export.skippedComments(skipped)
        out += "@EXPLICIT\n"
        for line in lines { out += line + "\n" }
        return Export.Output(text: out, skipped: skipped)
    }

    /// A channel as environment.yml names it: `conda-forge` for `https://conda.anaconda.org/conda-forge`.
    static func channelName(_ channel: String) -> String {
        let cleaned = Export.clean(channel)
        for prefix in ["https://conda.anaconda.org/", "http://conda.anaconda.org/"] where cleaned.hasPrefix(prefix) {
            let rest = cleaned.dropFirst(prefix.count)
            if !rest.isEmpty, !rest.contains("/") { return String(rest) }
        }
        return cleaned
    }

    /// A YAML plain scalar when safe, else a double-quoted one.
    static func yaml(_ text: String) -> String {
        let plainSafe = !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-=+<>!/@:".contains($0)) }
            && !text.hasPrefix("-") && !text.contains(": ") && !text.hasSuffix(":") && !"!@".contains(text.first!)
        return plainSafe ? text : PylockExport.toml(text)
    }
}
