/// Renders diffs and policy verdicts for people (text, Markdown) and for programs (JSON).
public enum DiffReport {
    /// Sections in order of how much they change results; others follow alphabetically.
    public static let sectionOrder = [
        "git", "datasets", "gpu.nvidia", "gpu.amd", "cuda", "python", "packages", "libc", "toolchains", "container",
        "environment", "os", "cpu", "memory", "pci", "scheduler", "run",
    ]

    static func rank(_ section: String) -> Int { sectionOrder.firstIndex(of: section) ?? sectionOrder.count }

    /// Changes grouped by section, most important section first.
    public static func grouped(_ changes: [ManifestDiff.Change]) -> [(section: String, changes: [ManifestDiff.Change])] {
        var groups: [String: [ManifestDiff.Change]] = [:]
        for change in changes { groups[change.section, default: []].append(change) }
        return groups.keys.sorted { (rank($0), $0) < (rank($1), $1) }.map { ($0, groups[$0]!) }
    }

    /// A value as one short line: strings quoted, documents compact, long ones cut.
    public static func short(_ value: JSONValue?, limit: Int = 80) -> String {
        guard let value else { return "(none)" }
        let text = CanonicalJSON.string(value)
        // Digests in full: a cut digest cannot be checked against anything.
        if case .string(let string) = value, string.hasPrefix("sha256:") { return text }
        return text.count > limit ? String(text.prefix(limit - 1)) + "…" : text
    }

    struct Palette {
        let on: Bool
        func paint(_ text: String, _ code: String) -> String { on ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
        func added(_ t: String) -> String { paint(t, "32") }
        func removed(_ t: String) -> String { paint(t, "31") }
        func changed(_ t: String) -> String { paint(t, "33") }
        func bold(_ t: String) -> String { paint(t, "1") }
    }

    static func describe(_ change: ManifestDiff.Change) -> String {
        if let gained = change.gained, let lost = change.lost {
            let parts = gained.map { "+" + ($0.stringValue ?? CanonicalJSON.string($0)) }
                + lost.map { "-" + ($0.stringValue ?? CanonicalJSON.string($0)) }
            let text = parts.prefix(12).joined(separator: " ")
            return parts.count > 12 ? text + " … (\(parts.count) in all)" : text
        }
        switch change.kind {
        case .added: return short(change.new)
        case .removed: return short(change.old)
        case .changed:
            if let readable = readableChange(change.old, change.new) { return readable }
            return "\(short(change.old, limit: 60)) → \(short(change.new, limit: 60))"
        }
    }

    /// Two long strings shown so the change can be read: PATH-like values (`:`-separated paths)
    /// as the entries gained and lost, other long strings around their first difference. Nil
    /// when the plain form is readable as it is.
    static func readableChange(_ old: JSONValue?, _ new: JSONValue?) -> String? {
        guard case .string(let a)? = old, case .string(let b)? = new, a.count > 60 || b.count > 60 else { return nil }
        func entries(_ text: String) -> [String]? {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            return parts.count >= 2 && parts.allSatisfy({ $0.isEmpty || $0.hasPrefix("/") }) ? parts : nil
        }
        if let before = entries(a), let after = entries(b) {
            let lost = before.filter { !after.contains($0) }
            let gained = after.filter { !before.contains($0) }
            let moved = lost.isEmpty && gained.isEmpty ? " (same entries, another order)" : ""
            return "path list: " + (lost.map { "-" + $0 } + gained.map { "+" + $0 }).joined(separator: " ") + moved
        }
        let x = Array(a), y = Array(b)
        var start = 0
        while start < min(x.count, y.count) && x[start] == y[start] { start += 1 }
        let from = max(0, start - 20)
        func window(_ characters: [Character]) -> String {
            let end = min(characters.count, start + 40)
            return (from > 0 ? "…" : "") + String(characters[from..<max(from, end)]) + (end < characters.count ? "…" : "")
        }
        return "\"\(window(x))\" → \"\(window(y))\" (from character \(start + 1))"
    }

    static func symbol(_ kind: ManifestDiff.Kind) -> String {
        switch kind {
        case .added: return "+"
        case .removed: return "-"
        case .changed: return "~"
        }
    }

    // MARK: diff

    public static func text(_ diff: ManifestDiff, oldName: String, newName: String, color: Bool) -> String {
        let palette = Palette(on: color)
        let groups = grouped(diff.changes)
        let oldName = oldName.terminalSafe, newName = newName.terminalSafe
        if groups.isEmpty { return "no differences (\(oldName) → \(newName))\n" }
        var lines = Lines()
        lines.append("\(diff.changes.count) difference\(diff.changes.count == 1 ? "" : "s") in \(groups.count) "
            + "section\(groups.count == 1 ? "" : "s") (\(oldName) → \(newName))")
        for group in groups {
            lines.append("")
            lines.append(palette.bold(group.section.terminalSafe))
            for change in group.changes {
                // Data is made terminal-safe before the palette adds its own escapes.
                let line = "  \(symbol(change.kind)) \(change.path): \(describe(change))".terminalSafe
                switch change.kind {
                case .added: lines.append(palette.added(line))
                case .removed: lines.append(palette.removed(line))
                case .changed: lines.append(palette.changed(line))
                }
            }
        }
        return lines.text
    }

    /// Lines appended to one string, each ending in a newline (an array of lines and its join
    /// held a report of 500,000 changes twice).
    struct Lines {
        var text = ""
        mutating func append(_ line: String) {
            text += line
            text += "\n"
        }
    }

    public static func markdown(_ diff: ManifestDiff, oldName: String, newName: String) -> String {
        let groups = grouped(diff.changes)
        var lines = ["# Environment differences", "", "\(code(oldName)) → \(code(newName)): \(diff.changes.count) "
            + "difference\(diff.changes.count == 1 ? "" : "s") in \(groups.count) section\(groups.count == 1 ? "" : "s")."]
        for group in groups {
            lines += ["", "## \(cell(group.section))", "", "| | field | recorded | now |", "|---|---|---|---|"]
            for change in group.changes {
                let old = change.lost.map { setMembers($0, "-") } ?? short(change.old, limit: 60)
                let new = change.gained.map { setMembers($0, "+") } ?? short(change.new, limit: 60)
                lines.append("| \(symbol(change.kind)) | \(code(change.path)) | \(cell(old)) | \(cell(new)) |")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func setMembers(_ values: [JSONValue], _ sign: String) -> String {
        let words = values.map { sign + ($0.stringValue ?? CanonicalJSON.string($0)) }
        return words.prefix(12).joined(separator: " ") + (words.count > 12 ? " …" : "")
    }

    /// Text in a Markdown table cell: the one Markdown escaper render uses too (HTML, links,
    /// emphasis, the cell separator, line breaks).
    static func cell(_ text: String) -> String { EnvironmentRenderer.escapeMarkdown(text) }

    /// A path or name as a code span; text a code span cannot hold (a backtick, control bytes)
    /// is escaped as plain text instead. HTML inside a code span is not interpreted.
    static func code(_ text: String) -> String {
        if text.contains("`") || text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return cell(text)
        }
        return "`" + text.replacing("|", with: "\\|") + "`"
    }

    public static func json(_ change: ManifestDiff.Change) -> JSONValue {
        var object: [String: JSONValue] = [
            "section": .string(change.section), "path": .string(change.path), "kind": .string(change.kind.rawValue),
        ]
        if let gained = change.gained, let lost = change.lost {
            // A set: what it gained and lost says it all.
            object["gained"] = .array(gained)
            object["lost"] = .array(lost)
        } else {
            if let old = change.old { object["old"] = old }
            if let new = change.new { object["new"] = new }
        }
        return .object(object)
    }

    public static func json(_ diff: ManifestDiff, old: JSONValue, new: JSONValue) -> JSONValue {
        [
            "old": ["fingerprint": old["fingerprint"] ?? nil, "hostName": old["hostName"] ?? nil,
                    "captureTime": old["captureTime"] ?? nil],
            "new": ["fingerprint": new["fingerprint"] ?? nil, "hostName": new["hostName"] ?? nil,
                    "captureTime": new["captureTime"] ?? nil],
            "identical": .bool(diff.isEmpty),
            "changes": .array(diff.changes.map(json)),
        ]
    }

    // MARK: verify

    public static func text(_ violations: [Violation], policy: Policy, compared: Int, color: Bool) -> String {
        let palette = Palette(on: color)
        let errors = violations.filter { $0.severity == .error }.count
        let warnings = violations.count - errors
        var lines = Lines()
        if violations.isEmpty {
            lines.append("verified: the environment holds under policy \(policy.name.terminalSafe) (\(compared) difference"
                + "\(compared == 1 ? "" : "s") ignored by the policy)")
        } else {
            lines.append("\(errors == 0 ? "verified with warnings" : "verification failed"): \(errors) "
                + "error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s") under policy \(policy.name.terminalSafe)")
        }
        for violation in violations {
            let change = violation.change
            let label = violation.severity == .error ? palette.removed("error  ") : palette.changed("warning")
            let values = change.gained != nil
                ? describe(change)
                : readableChange(change.old, change.new).map { "recorded → now: " + $0 }
                    ?? "recorded \(short(change.old, limit: 60)), now \(short(change.new, limit: 60))"
            let line = "\(change.path): \(values): \(violation.reason) "
                + "(rule \(violation.rule.rawValue) for \(violation.pattern))"
            lines.append("  \(label) " + line.terminalSafe)
            if let fix = violation.fix { lines.append("          fix: " + fix.terminalSafe) }
        }
        return lines.text
    }

    public static func json(_ violations: [Violation], policy: Policy) -> JSONValue {
        let errors = violations.filter { $0.severity == .error }.count
        return [
            "policy": .string(policy.name),
            "holds": .bool(errors == 0),
            "errors": .int(Int64(errors)),
            "warnings": .int(Int64(violations.count - errors)),
            "violations": .array(violations.map { violation in
                var object = json(violation.change).objectValue ?? [:]
                object["rule"] = .string(violation.rule.rawValue)
                object["pattern"] = .string(violation.pattern)
                object["severity"] = .string(violation.severity.rawValue)
                object["reason"] = .string(violation.reason)
                if let fix = violation.fix { object["fix"] = .string(fix) }
                return .object(object)
            }),
        ]
    }

    public static func markdown(_ violations: [Violation], policy: Policy) -> String {
        var lines = ["# Environment verification", "", "Policy \(code(policy.name)): "
            + (violations.contains { $0.severity == .error } ? "**fails**." : "holds."), ""]
        if !violations.isEmpty {
            lines += ["| severity | field | recorded | now | rule | why | fix |", "|---|---|---|---|---|---|---|"]
            for v in violations {
                lines.append("| \(v.severity.rawValue) | \(code(v.change.path)) | \(cell(short(v.change.old, limit: 50))) | "
                    + "\(cell(short(v.change.new, limit: 50))) | \(v.rule.rawValue) \(code(v.pattern)) | \(cell(v.reason)) | "
                    + "\(v.fix.map(code) ?? "") |")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
