import ProvenanceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Replays the commands of a recorded machine from `DIR/commands/commands.json`
/// (format: ../shared/FIXTURES.md, extensions: Fixtures/README.md).
///
/// - `argv[0]` matches by basename, the other arguments exactly; the first matching entry wins.
/// - `stdout` / `stderr` name files next to `commands.json`; `exitCode` defaults to 0.
/// - `"hang": true` never finishes: the runner waits out the timeout and reports `.timedOut`.
/// - A command that is not listed is not installed.
/// Nothing is started.
public struct ReplayCommandRunner: CommandRunner {
    public struct Entry: Sendable, Equatable {
        public var argv: [String]
        public var stdout: [UInt8]
        public var stderr: [UInt8]
        public var exitCode: Int32
        public var hang: Bool
    }

    public let entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// Loads `commands/commands.json` of a recorded machine; no file means no commands.
    public init(machine fs: RootedFileSystem) throws(ReplayError) {
        let listPath = "/commands/commands.json"
        let bytes: [UInt8]
        do {
            guard let read = try fs.readBytes(listPath) else {
                self.entries = []
                return
            }
            bytes = read
        } catch {
            throw ReplayError("\(fs.hostPath(listPath)): \(error.message)")
        }
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes)
        } catch {
            throw ReplayError("\(fs.hostPath(listPath)): \(error)")
        }
        guard let list = document["commands"]?.arrayValue else {
            throw ReplayError("\(fs.hostPath(listPath)): expected an object with a \"commands\" array")
        }
        var entries: [Entry] = []
        for (index, item) in list.enumerated() {
            let place = "\(fs.hostPath(listPath)): commands[\(index)]"
            guard let argvValues = item["argv"]?.arrayValue, !argvValues.isEmpty else {
                throw ReplayError("\(place): \"argv\" must be a non-empty array of strings")
            }
            let argv = argvValues.compactMap(\.stringValue)
            guard argv.count == argvValues.count else { throw ReplayError("\(place): \"argv\" must hold strings only") }
            func output(_ key: String) throws(ReplayError) -> [UInt8] {
                guard let value = item[key] else { return [] }
                guard let name = value.stringValue, !name.isEmpty, !name.hasPrefix("/"),
                      !name.split(separator: "/").contains("..")
                else {
                    throw ReplayError("\(place): \"\(key)\" must name a file next to commands.json")
                }
                let content: [UInt8]?
                do {
                    content = try fs.readBytes("/commands/" + name)
                } catch {
                    throw ReplayError("\(place): \(error.message)")
                }
                guard let content else { throw ReplayError("\(place): \(key) file '\(name)' does not exist") }
                return content
            }
            var exitCode: Int32 = 0
            if let code = item["exitCode"] {
                guard let value = code.intValue, let exact = Int32(exactly: value) else {
                    throw ReplayError("\(place): \"exitCode\" must be an integer")
                }
                exitCode = exact
            }
            var hang = false
            if let value = item["hang"] {
                guard case .bool(let flag) = value else { throw ReplayError("\(place): \"hang\" must be true or false") }
                hang = flag
            }
            entries.append(
                Entry(argv: argv, stdout: hang ? [] : try output("stdout"), stderr: hang ? [] : try output("stderr"),
                      exitCode: exitCode, hang: hang))
        }
        self.entries = entries
    }

    public func run(_ argv: [String], timeout: Double) -> CommandResult {
        guard let entry = entries.first(where: { matches($0.argv, argv) }) else {
            return CommandResult(outcome: .notFound)
        }
        let executable = entry.argv[0].hasPrefix("/") ? entry.argv[0] : nil
        if entry.hang {
            // The recorded process never finishes: wait out the timeout like the live runner does.
            let deadline = monotonicSeconds() + max(0, timeout)
            while monotonicSeconds() < deadline {
                usleep(UInt32(min(50_000, max(1, (deadline - monotonicSeconds()) * 1e6))))
            }
            return CommandResult(outcome: .timedOut(seconds: timeout), executable: executable)
        }
        return CommandResult(
            outcome: .exited(entry.exitCode), stdout: entry.stdout, stderr: entry.stderr, executable: executable)
    }

    public func resolve(_ name: String) -> String? {
        entries.first { basename($0.argv[0]) == basename(name) && $0.argv[0].hasPrefix("/") }?.argv[0]
    }

    private func matches(_ recorded: [String], _ asked: [String]) -> Bool {
        guard recorded.count == asked.count, let first = recorded.first, let askedFirst = asked.first else {
            return false
        }
        return basename(first) == basename(askedFirst) && recorded.dropFirst().elementsEqual(asked.dropFirst())
    }

    private func basename(_ path: String) -> Substring {
        path.split(separator: "/", omittingEmptySubsequences: true).last ?? Substring(path)
    }
}

/// A recorded machine whose `commands/commands.json` cannot be used.
public struct ReplayError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
