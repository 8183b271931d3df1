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
        // Each tool's executable is resolved and its answer looked up in the cache here; only the
        // commands the cache cannot answer run, each on its own thread (an unchanged machine runs
        // none and starts no thread: twelve threads cost about 0.5 ms of CPU).
        let invocations = Self.tools.map { invocation($0.name, $0.arguments, context) }
        var results = invocations.map { invocation in
            invocation.cacheable ? cache?.cachedResult(invocation.argv, executable: invocation.runPath!) : nil
        }
        let missing = results.indices.filter { results[$0] == nil }
        let ran = concurrentMap(missing.map { invocations[$0] }) { invocation in
            if let cache = self.cache, invocation.cacheable {
                return cache.run(invocation.argv, executable: invocation.runPath!) { context.run(invocation.argv) }
            }
            return context.run(invocation.argv)
        }
        for (index, result) in zip(missing, ran) { results[index] = result }

        var found: [String: Tool] = [:]
        for (invocation, result) in zip(invocations, results) {
            if let result, let tool = tool(invocation, result, report) { found[invocation.name] = tool }
        }
        if found.isEmpty { throw ProbeAbsent(source: "PATH", reason: "none of the known toolchains is installed") }
        return Output(tools: found)
    }

    /// What to run for one tool: its version command, the PATH hit and the file it resolves to.
    struct Invocation: Sendable {
        var name: String
        var argv: [String]
        var onPath: String?
        var runPath: String?
        var resolved: String?
        /// Whether the answer may come from the cache (a live machine, a real executable).
        var cacheable: Bool
    }

    private func invocation(_ name: String, _ arguments: [String], _ context: ProbeContext) -> Invocation {
        let fs = context.fs
        let onPath = context.commands.resolve(name)
        // The file to start: the PATH hit (multi-call binaries such as swift-driver and rustup
        // look at argv[0]), or the interpreter a pyenv shim stands for.
        var runPath = onPath
        if let path = onPath, path.contains("/shims/") {
            runPath = resolvePyenvShim(path, environment: context.environment,
                                       workingDirectory: context.process.workingDirectory, fs: fs) ?? path
        }
        // Links resolved once (a readlink per path component), again only for a rustup proxy.
        var resolved = runPath.map { resolveSymlinks($0, fs) }
        if let path = runPath, resolved?.hasSuffix("/rustup") == true {
            runPath = resolveRustupProxy(path, environment: context.environment,
                                         workingDirectory: context.process.workingDirectory, fs: fs) ?? path
            resolved = runPath.map { resolveSymlinks($0, fs) }
        }
        let argv = (fs.isLive && runPath != nil ? [runPath!] : [name]) + arguments
        // Dispatchers whose answer changes without the file changing are never cached.
        let dispatcher = resolved.map { path in
            path.contains("/shims/") || ["rustup", "asdf", "mise", "ccache"].contains(String(path.split(separator: "/").last ?? ""))
        } ?? true
        return Invocation(name: name, argv: argv, onPath: onPath, runPath: runPath, resolved: resolved,
                          cacheable: cache != nil && fs.isLive && runPath != nil && !dispatcher)
    }

    /// The tool as its version command's result describes it; nil when it is not installed.
    private func tool(_ invocation: Invocation, _ result: CommandResult, _ report: ProbeReport) -> Tool? {
        let argv = invocation.argv
        let onPath = invocation.onPath
        let resolved = invocation.resolved
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
