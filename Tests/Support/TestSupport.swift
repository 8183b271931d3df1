import ProvenanceCore
import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#endif

/// Where the project's files are, seen from the tests.
public enum Project {
    /// The package root, found from this file's path (Tests/Support/TestSupport.swift).
    public static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    public static var fixtures: String { root + "/Fixtures" }
    public static var machines: String { fixtures + "/machines" }

    /// Every recorded machine under Fixtures/machines.
    public static var machineNames: [String] {
        (try? RootedFileSystem(root: machines).list("/"))?.filter { !$0.hasPrefix(".") } ?? []
    }

    /// The directory holding the built products (the test bundle runs from there).
    public static var productsDirectory: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let path = String(decoding: buffer[0..<max(0, count)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
    }

    /// The `provenance` executable built with the tests.
    public static var executable: String { productsDirectory + "/provenance" }
}

/// A hand-derived table of expected facts (Fixtures/expected/NAME.tsv), one row per fixture.
public struct ExpectedTable: Sendable {
    public let rows: [[String: String]]

    public init(_ name: String) {
        let text = (try? RootedFileSystem(root: Project.fixtures).read("/expected/\(name).tsv")) ?? nil ?? ""
        let lines = text.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first else {
            rows = []
            return
        }
        rows = lines.dropFirst().map { cells in
            var row: [String: String] = [:]
            for (index, column) in header.enumerated() where index < cells.count { row[column] = cells[index] }
            return row
        }
    }

    public var fixtures: [String] { rows.compactMap { $0["fixture"] } }

    public func row(_ fixture: String) -> [String: String] { rows.first { $0["fixture"] == fixture } ?? [:] }
}

/// Runs one probe on a recorded machine of Fixtures/machines, as `capture --root` would.
public func collect<P: Probe>(_ probe: P, onMachine name: String, timeout: Double = 5) throws -> Section {
    let machine = try Machine.recorded(root: Project.machines + "/" + name, clock: FixedClock(secondsSinceEpoch: 0))
    let context = ProbeContext(machine: machine, commandTimeout: timeout, deadline: monotonicSeconds() + timeout)
    return Capture.collect(probe, context)
}

/// Runs a command on this machine and returns its standard output (tests' independent answers).
public func shell(_ command: String, timeout: Double = 30) -> (status: Int32?, output: String) {
    let result = LiveCommandRunner(environment: processEnvironment()).run(["/bin/sh", "-c", command], timeout: timeout)
    if case .exited(let code) = result.outcome { return (code, result.stdoutText) }
    return (nil, result.stdoutText)
}
