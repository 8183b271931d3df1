/// Renders an audit for people (text, one HTML page) and for programs (JSON).
extension AuditReport {
    /// How many node names a text line lists before "and N more".
    static let namesShown = 12

    static func value(_ value: JSONValue?) -> String {
        value == nil ? "(absent)" : DiffReport.short(value, limit: 100)
    }

    static func names(_ nodes: [String], limit: Int = namesShown) -> String {
        let shown = nodes.prefix(limit).joined(separator: ", ")
        return nodes.count > limit ? shown + ", … (\(nodes.count) in all)" : shown
    }

    /// Text: a verdict line, the groups, then per differing field the majority and the outliers.
    public func text(sideNames: [String] = ["A", "B"]) -> String {
        // One string, each line made terminal-safe as it is added (an array of lines, a safe copy
        // of it and their join held the report three times over: 277 MB each for two 45 MB
        // manifests that share nothing).
        var out = Lines()
        if let sideCounts {
            out.append(agrees
                ? "same: \(sideNames[0]) (\(sideCounts[0]) nodes) and \(sideNames[1]) (\(sideCounts[1]) nodes) have the same value distributions (policy \(policy))"
                : "differ: \(differences.count) field\(differences.count == 1 ? "" : "s") distributed differently in \(sideNames[0]) (\(sideCounts[0]) nodes) and \(sideNames[1]) (\(sideCounts[1]) nodes) (policy \(policy))")
            for difference in differences {
                out.append("")
                out.append(difference.path)
                for (index, side) in sideNames.enumerated() {
                    let parts = difference.shares.filter { $0.sideCounts![index] > 0 }
                        .map { "\(AuditReport.value($0.value)) ×\($0.sideCounts![index])" }
                    out.append("  \(side): " + (parts.isEmpty ? "(no nodes)" : parts.joined(separator: ", ")))
                }
            }
            return out.text
        }
        if agrees {
            out.append("agree: all \(nodeCount) node\(nodeCount == 1 ? "" : "s") have the same environment (policy \(policy))")
        } else {
            out.append("differ: \(differences.count) field\(differences.count == 1 ? " differs" : "s differ") across \(nodeCount) nodes in \(groups.count) groups (policy \(policy))")
        }
        out.append("")
        out.append("groups (identical environments):")
        for group in groups.prefix(20) {
            out.append("  \(group.fingerprint.prefix(19))  \(group.nodes.count) node\(group.nodes.count == 1 ? "" : "s"): \(AuditReport.names(group.nodes, limit: 8))")
        }
        if groups.count > 20 { out.append("  … \(groups.count - 20) more groups") }
        for difference in differences {
            out.append("")
            out.append("\(difference.path)")
            if difference.isTie {
                // No majority: every value with its nodes, none called the norm.
                for share in difference.shares {
                    out.append("  tied      \(AuditReport.value(share.value))  (\(share.nodes.count) of \(nodeCount)): \(AuditReport.names(share.nodes))")
                }
                continue
            }
            out.append("  majority  \(AuditReport.value(difference.majority.value))  (\(difference.majority.nodes.count) of \(nodeCount))")
            for outlier in difference.outliers {
                out.append("  outlier   \(AuditReport.value(outlier.value))  (\(outlier.nodes.count)): \(AuditReport.names(outlier.nodes))")
            }
        }
        return out.text
    }

    /// Appends lines to a string, terminal-safe: host names, paths and values come from the
    /// manifests, and nothing in them reaches the terminal raw.
    private struct Lines {
        var text = ""
        mutating func append(_ line: String) {
            text += line.terminalSafe
            text += "\n"
        }
    }

    /// JSON: node lists for the outliers, a count for the majority (which may hold thousands).
    public func json(sideNames: [String] = ["A", "B"]) -> JSONValue {
        var object = envelope(sideNames: sideNames)
        object["differences"] = .array(differences.map { json($0, sideNames: sideNames) })
        return .object(object)
    }

    /// `CanonicalJSON.pretty(json(sideNames:))`, handed to `write` in pieces of about 1 MiB, one
    /// difference at a time: the whole document of two 45 MB manifests that share nothing was 1 GB
    /// of text and 5 GB as one value.
    public func writePrettyJSON(sideNames: [String] = ["A", "B"], to write: ([UInt8]) -> Void) {
        var object = envelope(sideNames: sideNames)
        object["differences"] = .array([])
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20 + 65536)
        out.append(UInt8(ascii: "{"))
        for (index, key) in CanonicalJSON.sortedKeys(object).enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: "\n  ".utf8)
            CanonicalJSON.pretty(.string(key), level: 1, into: &out)
            out.append(contentsOf: ": ".utf8)
            guard key == "differences", !differences.isEmpty else {
                CanonicalJSON.pretty(object[key]!, level: 1, into: &out)
                continue
            }
            out.append(UInt8(ascii: "["))
            for (position, difference) in differences.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: "\n    ".utf8)
                CanonicalJSON.pretty(json(difference, sideNames: sideNames), level: 2, into: &out)
                if out.count >= 1 << 20 {
                    write(out)
                    out.removeAll(keepingCapacity: true)
                }
            }
            out.append(contentsOf: "\n  ]".utf8)
        }
        out.append(contentsOf: "\n}\n".utf8)
        write(out)
    }

    /// Every field of the JSON report but the differences.
    private func envelope(sideNames: [String]) -> [String: JSONValue] {
        var object: [String: JSONValue] = [
            "nodeCount": .int(Int64(nodeCount)),
            "policy": .string(policy),
            "agree": .bool(agrees),
            "groups": .array(groups.map {
                ["fingerprint": .string($0.fingerprint), "count": .int(Int64($0.nodes.count)),
                 "nodes": .array($0.nodes.map { .string($0) })]
            }),
        ]
        if let sideCounts {
            object["compare"] = .object([sideNames[0]: .int(Int64(sideCounts[0])), sideNames[1]: .int(Int64(sideCounts[1]))])
        }
        return object
    }

    private func json(_ difference: Difference, sideNames: [String]) -> JSONValue {
        func share(_ share: Share, listNodes: Bool) -> JSONValue {
            var object: [String: JSONValue] = ["count": .int(Int64(share.nodes.count))]
            object["value"] = share.value ?? .null
            if share.value == nil { object["absent"] = true }
            if listNodes { object["nodes"] = .array(share.nodes.map { .string($0) }) }
            if let counts = share.sideCounts {
                object["counts"] = .object([sideNames[0]: .int(Int64(counts[0])), sideNames[1]: .int(Int64(counts[1]))])
            }
            return .object(object)
        }
        var fields: [String: JSONValue] = [
            "section": .string(difference.section), "path": .string(difference.path),
            "majority": share(difference.majority, listNodes: sideCounts != nil),
            "outliers": .array(difference.outliers.map { share($0, listNodes: true) }),
        ]
        if difference.isTie { fields["tie"] = true }
        fields["distribution"] = .array(difference.shares.map {
            ["value": $0.value ?? .null, "count": .int(Int64($0.nodes.count))]
        })
        return .object(fields)
    }

    /// One self-contained HTML page (inline CSS, no scripts, everything escaped).
    public func html(title: String = "provenance audit", sideNames: [String] = ["A", "B"]) -> String {
        let e = AuditReport.escape
        var rows: [String] = []
        for difference in differences {
            let values = difference.shares.enumerated().map { index, share -> String in
                let kind = index == 0 ? "majority" : "outlier"
                var cell = "<div class=\"\(kind)\"><code>\(e(AuditReport.value(share.value)))</code> "
                if let counts = share.sideCounts {
                    cell += "<span class=\"n\">\(e(sideNames[0])) \(counts[0]) · \(e(sideNames[1])) \(counts[1])</span>"
                } else {
                    cell += "<span class=\"n\">\(share.nodes.count)</span>"
                    if index > 0 { cell += " <span class=\"nodes\">\(e(AuditReport.names(share.nodes, limit: 50)))</span>" }
                }
                return cell + "</div>"
            }.joined()
            rows.append("<tr><td><code>\(e(difference.path))</code></td><td>\(values)</td></tr>")
        }
        let verdict = text(sideNames: sideNames).lines.first ?? ""
        let groupRows = groups.prefix(100).map {
            "<tr><td><code>\(e(String($0.fingerprint.prefix(19))))</code></td><td>\($0.nodes.count)</td><td>\(e(AuditReport.names($0.nodes, limit: 50)))</td></tr>"
        }.joined(separator: "\n")
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(e(title))</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
            table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}
            th{background:#f4f4f4}code{font:13px ui-monospace,monospace}.n{color:#666}
            .outlier code{background:#fde2e2}.majority code{background:#e2f5e2}.nodes{color:#a00}
            .ok{color:#070}.bad{color:#a00}
            </style></head><body>
            <h1>\(e(title))</h1>
            <p class="\(agrees ? "ok" : "bad")">\(e(verdict))</p>
            \(sideCounts == nil ? "<h2>Groups</h2>\n<table><tr><th>fingerprint</th><th>nodes</th><th>names</th></tr>\n\(groupRows)\n</table>" : "")
            <h2>Differences</h2>
            <table><tr><th>field</th><th>values (majority first)</th></tr>
            \(rows.joined(separator: "\n"))
            </table>
            </body></html>

            """
    }

    /// Escapes text for HTML element content and attribute values (the renderer's escaping,
    /// which also drops control characters that HTML cannot carry).
    public static func escape(_ text: String) -> String {
        EnvironmentRenderer.escapeHTML(text)
    }
}
