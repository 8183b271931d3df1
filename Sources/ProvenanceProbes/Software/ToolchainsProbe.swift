import ProvenanceCore
import ProvenanceProbeKit

/// Compilers, interpreters and build tools: which executable answers on PATH and its version.
///
/// Runs each tool's own version command concurrently, each with the command timeout
/// (`gcc --version`, `java -version`, `go version`, ...), and parses the version from its output.
/// A tool that is not on PATH is left out. pyenv shims are resolved to the interpreter they
/// would run. On a live machine the outputs are cached by the executable's identity
/// (`CommandCache`): an unchanged compiler is not started again before every job.
public struct ToolchainsProbe: Probe {
    /// Tool name → the argument list that prints its version.
    public static let tools: [(name: String, arguments: [String])] = [
        ("gcc", ["--version"]), ("g++", ["--version"]), ("clang", ["--version"]), ("nvcc", ["--version"]),
        ("python3", ["--version"]), ("swift", ["--version"]), ("rustc", ["--version"]), ("go", ["version"]),
        ("java", ["-version"]), ("cmake", ["--version"]), ("make", ["--version"]), ("ld", ["--version"]),
    ]

    let cache: CommandCache?

    /// `cache`: remembers outputs between captures (live machines only).
    public init(cache: CommandCache? = nil) {
        self.cache = cache
    }

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "toolchains", version: "1.0.0",
            summary: "Versions and resolved paths of gcc, g++, clang, nvcc, python3, swift, rustc, go, java, cmake, make, ld",
            reads: ["links: /** (each tool's PATH hit and every symbolic link it resolves through, wherever they lead)",
                    "$PYENV_ROOT/version, $PYENV_ROOT/versions/*/bin/*, $PWD/.python-version (and each parent's: pyenv shims)",
                    "$RUSTUP_HOME/settings.toml, $RUSTUP_HOME/toolchains/*/bin/*, "
                        + "$PWD/rust-toolchain{,.toml} (and each parent's: rustup proxies)",
                    "environment: PATH, PYENV_ROOT, PYENV_VERSION, RUSTUP_HOME, RUSTUP_TOOLCHAIN, HOME"],
            runs: Self.tools.map { ([$0.name] + $0.arguments).joined(separator: " ") })
    }

    public typealias Tool = ToolchainsSection.Tool
    public typealias Output = ToolchainsSection

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let answers = concurrentMap(Self.tools.map { ToolQuery(name: $0.name, arguments: $0.arguments) }) { query in
            (query.name, self.query(query.name, query.arguments, context, report))
        }

        var found: [String: Tool] = [:]
        for (name, tool) in answers { found[name] = tool }
        if found.isEmpty { throw ProbeAbsent(source: "PATH", reason: "none of the known toolchains is installed") }
        return Output(tools: found)
    }

    struct ToolQuery: Sendable {
        var name: String
        var arguments: [String]
    }

    private func query(_ name: String, _ arguments: [String], _ context: ProbeContext, _ report: ProbeReport) -> Tool? {
        let fs = context.fs
        let onPath = context.commands.resolve(name)
        // The file to start: the PATH hit (multi-call binaries such as swift-driver and rustup
        // look at argv[0]), or the interpreter a pyenv shim stands for.
        var runPath = onPath
        if let path = onPath, path.contains("/shims/") {
            runPath = resolvePyenvShim(path, environment: context.environment,
                                       workingDirectory: context.process.workingDirectory, fs: fs) ?? path
        }
        if let path = runPath, resolveSymlinks(path, fs).hasSuffix("/rustup") {
            runPath = resolveRustupProxy(path, environment: context.environment,
                                         workingDirectory: context.process.workingDirectory, fs: fs) ?? path
        }
        let resolved = runPath.map { resolveSymlinks($0, fs) }
        let argv = (fs.isLive && runPath != nil ? [runPath!] : [name]) + arguments
        let result: CommandResult
        // Dispatchers whose answer changes without the file changing are never cached.
        let dispatcher = resolved.map { path in
            path.contains("/shims/") || ["rustup", "asdf", "mise", "ccache"].contains(String(path.split(separator: "/").last ?? ""))
        } ?? true
        if let cache, fs.isLive, let runPath, !dispatcher {
            result = cache.run(argv, executable: runPath) { context.run(argv) }
        } else {
            result = context.run(argv)
        }
        if result.outcome == .notFound { return nil }
        // `java -version` and old Pythons print to stderr.
        let text = result.stdoutText.trimmed.isEmpty ? result.stderrText : result.stdoutText
        let version = parseToolVersion(text)
        if !result.succeeded {
            report.issue(argv.joined(separator: " "), result.failureDescription)
        } else if version == nil {
            report.issue(argv.joined(separator: " "), "no version in its output")
        }
        // The banner only when it is printable text (no control bytes, valid UTF-8).
        let banner = text.lines.first { !$0.trimmed.isEmpty }?.trimmed.filter { character in
            !character.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0 == "\u{FFFD}" }
        }
        return Tool(version: version, path: onPath ?? result.executable, resolvedPath: resolved ?? result.executable,
                    banner: banner.map { String($0.prefix(200)) })
    }
}

/// The version in a tool's version output: on the first line that has one, the word after
/// `version` if there is such a word, else the last version-like word (`gcc (Debian 12.2.0-14)
/// 12.2.0` → `12.2.0`, `Cuda compilation tools, release 11.8, V11.8.89` → `11.8.89`,
/// `openjdk version "17.0.15" 2025-04-15` → `17.0.15`, `go version go1.22.1 linux/amd64` → `1.22.1`).
public func parseToolVersion(_ text: String) -> String? {
    func versionWord(_ word: Substring) -> String? {
        var token = word.trimmingCharacters(in: "\"'(),;:")
        for prefix in ["go", "V", "v"] where token.hasPrefix(prefix) && token.dropFirst(prefix.count).first?.isNumber == true {
            token = String(token.dropFirst(prefix.count))
        }
        let digits = token.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard digits.contains("."), digits.first?.isNumber == true else { return nil }
        // Only what reads as a version: ASCII letters, digits and `.+-~_` after the numbers, and
        // not too long (a tool printing garbage bytes must not have them recorded as its version).
        guard token.count <= 64,
              token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".+-~_".contains($0)) })
        else { return nil }
        return token
    }
    for line in text.lines {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if let index = words.firstIndex(where: { $0.lowercased() == "version" }), index + 1 < words.count,
           let version = versionWord(words[index + 1])
        {
            return version
        }
        if let version = words.reversed().lazy.compactMap(versionWord).first { return version }
    }
    return nil
}
