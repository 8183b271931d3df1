/// A subcommand's command line in the forms typed before every job, read without ArgumentParser.
///
/// Parsing through ArgumentParser was 3.3–3.7 ms of every capture (a tenth of one outside a
/// repository on 2 cores), 39% of it the Swift runtime scanning the binary's 5,409 protocol
/// conformances for the option wrappers' types; no option of ArgumentParser avoids the scan. So
/// `capture` and `run` read their common lines here (`QuickCaptureLine`, `QuickRunLine`):
/// flags, `--name V` and `--name=V` for the options their `Grammar` names, short names given
/// there, then `--` and the job's command. A single-valued option or flag at most once; a value
/// not empty and not starting with `-` (but `-` itself where the grammar allows it). Anything
/// else (help, `--version`, any other option, a misspelt or grouped one) gives nil, and
/// ArgumentParser reads the line as before, errors and all. The tests of each subcommand's quick
/// reader hold it and ArgumentParser to the same result on a corpus of command lines.
struct QuickLine: Equatable {
    /// The options a subcommand's quick reader reads.
    struct Grammar {
        /// Flags, by long name.
        var flags: Set<String>
        /// The options that take a value, by long name; `true` for those that may be repeated.
        var valueOptions: [String: Bool]
        /// Short names (`-q`) of flags and options, to their long names.
        var shortNames: [String: String] = [:]
        /// Options whose value may be `-` (standard output).
        var dashValues: Set<String> = []
    }

    /// The flags given, by long name.
    var flags: Set<String> = []
    /// The values given, by long name, in order.
    var values: [String: [String]] = [:]
    /// What follows `--`.
    var command: [String] = []

    /// The line after the subcommand's name, or nil when ArgumentParser has to read it.
    static func parse(_ arguments: [String], _ grammar: Grammar) -> QuickLine? {
        var line = QuickLine()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                line.command = Array(arguments[index...])
                return line
            }
            var name: String
            var value: String?
            if let long = grammar.shortNames[argument] {
                name = long
            } else if argument.hasPrefix("--"), argument.count > 2 {
                name = String(argument.dropFirst(2))
                if let equals = name.firstIndex(of: "=") {
                    value = String(name[name.index(after: equals)...])
                    name = String(name[..<equals])
                }
            } else {
                return nil
            }
            if grammar.flags.contains(name) {
                guard value == nil, line.flags.insert(name).inserted else { return nil }
                continue
            }
            guard let repeatable = grammar.valueOptions[name], repeatable || line.values[name] == nil else { return nil }
            if value == nil {
                guard index < arguments.count else { return nil }
                value = arguments[index]
                index += 1
            }
            guard let value, !value.isEmpty, !value.hasPrefix("-") || (value == "-" && grammar.dashValues.contains(name))
            else { return nil }
            line.values[name, default: []].append(value)
        }
        return line
    }

    /// The values of a repeatable option (none when not given).
    func all(_ name: String) -> [String] { values[name] ?? [] }

    /// The value of a single-valued option, if given.
    func one(_ name: String) -> String? { values[name]?.last }
}
