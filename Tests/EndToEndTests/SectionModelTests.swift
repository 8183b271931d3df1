import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

/// Decodes section data as its model and encodes it back.
private func roundTrip<M: SectionModel>(_ type: M.Type, _ data: JSONValue) throws -> JSONValue {
    try JSONValueEncoder().encode(try JSONValueDecoder().decode(M.self, from: data))
}

/// The recorded A100 machine, copied into `directory`, with its GPU's VBIOS version replaced:
/// the same machine after a firmware update.
private func machineWithNewVBIOS(in directory: String) -> String {
    let copy = directory + "/a100-new-vbios"
    let result = shell("""
        cp -r '\(Project.fixtures)/machines/gpu-telegraf-a100-sxm4-v12' '\(copy)' && \
        sed -i 's|<vbios_version>92.00.36.00.02</vbios_version>|<vbios_version>92.00.45.00.03</vbios_version>|' \
        '\(copy)/commands/nvidia-smi-q-x.xml' && grep -c 92.00.45.00.03 '\(copy)/commands/nvidia-smi-q-x.xml'
        """)
    #expect(result.status == 0 && result.output.trimmed == "1", "\(result.output)")
    return copy
}

@Suite("Section models: the contract of the manifest's data")
struct SectionModelTests {
    @Test("every section of every recorded machine decodes as its model and encodes back to the same data")
    func goldensRoundTrip() throws {
        var checked = Set<String>()
        for machine in Project.machineNames {
            let manifest = try readJSON(try #require(RecordedCaptures.shared.manifest(machine)))
            for (id, section) in manifest["sections"]?.objectValue ?? [:] {
                guard let data = section["data"] else { continue }
                let model = try #require(SectionModels.model(for: id), "\(id) has no model")
                let back = try roundTrip(model, data)
                #expect(back == data, "\(machine): \(id) does not round-trip through \(model)")
                checked.insert(id)
            }
        }
        #expect(checked.count >= 11, "\(checked.sorted())")
    }

    @Test("one model per built-in probe, with distinct section ids")
    func registry() {
        let ids = SectionModels.all.map { $0.sectionID }
        #expect(Set(ids).count == ids.count)
        let probes = provenance(["probes", "--format", "json"])
        for id in ids { #expect(probes.stdoutText.contains("\"\(id)\""), "\(id) is not a built-in probe") }
    }

    @Test("the committed schema is what the models generate (regenerate: provenance schema -o Schemas/manifest-VERSION.schema.json)")
    func schemaIsGenerated() throws {
        let path = Project.root + "/Schemas/manifest-\(Manifest.schemaVersion).schema.json"
        let committed = try #require(try RootedFileSystem().readBytes(path), "\(path) is missing")
        let generated = CanonicalJSON.pretty(ManifestSchema.generate())
        #expect(committed == generated, "\(path) drifted from the models: run provenance schema -o \(path)")
        let printed = provenance(["schema"])
        #expect(printed.outcome == .exited(0))
        #expect(Array(printed.stdoutText.utf8) == generated)
    }

    @Test("live captures, with a git repository and a dataset, and with site probes, validate against the generated schema")
    func liveValidates() throws {
        let directory = temporaryDirectory()
        let repository = directory + "/repo"
        let setup = shell("""
            set -e; mkdir -p '\(repository)' '\(directory)/data'; cd '\(repository)'
            git init -q && git config user.email t@example.org && git config user.name T
            echo a > a.txt && git add a.txt && git commit -q -m a && echo b > a.txt && echo c > '\(directory)/data/c'
            """)
        #expect(setup.status == 0, "\(setup.output)")
        let plain = provenance(["capture", "-q", "--repo", repository, "--dataset", "d=\(directory)/data",
                                "-o", directory + "/live.json"], environment: ["XDG_CACHE_HOME": directory + "/cache"])
        #expect(plain.outcome == .exited(0), "\(plain.stderrText)")
        let site = provenance(["capture", "-q", "--probes-dir", Project.root + "/Probes", "-o", directory + "/site.json"])
        #expect(site.outcome == .exited(0), "\(site.stderrText)")
        let siteManifest = try readJSON(directory + "/site.json")
        #expect(siteManifest["sections"]?["kernelmodules"]?["status"] == "ok", "the site probe did not run")
        let validation = validateWithSchema([directory + "/live.json", directory + "/site.json"])
        #expect(validation.ok, "\(validation.output)")
        // The sections the goldens lack (git, datasets, python, toolchains...) round-trip too.
        for (id, section) in try readJSON(directory + "/live.json")["sections"]?.objectValue ?? [:] {
            guard let data = section["data"] else { continue }
            let model = try #require(SectionModels.model(for: id), "\(id) has no model")
            #expect(try roundTrip(model, data) == data, "live: \(id) does not round-trip through \(model)")
        }
        // A site probe's section is open; a built-in one is typed: a field no model has fails.
        guard case .object(var root) = siteManifest, case .object(var sections)? = root["sections"],
              case .object(var os)? = sections["os"], case .object(var data)? = os["data"]
        else { Issue.record("no os section"); return }
        data["inventedField"] = 1
        os["data"] = .object(data)
        sections["os"] = .object(os)
        root["sections"] = .object(sections)
        try write(.object(root), directory + "/tampered.json")
        let tampered = validateWithSchema([directory + "/tampered.json"])
        #expect(!tampered.ok && tampered.output.contains("inventedField"), "\(tampered.output)")
    }

    @Test("every rule of the built-in policies names a field of the models; none ignores by default")
    func policyRulesAreLive() {
        let fields = ManifestSchema.fieldPaths()
        #expect(fields.contains("gpu.nvidia.gpus[*].vbiosVersion"))
        for policy in Policy.builtins {
            #expect(policy.fallback.rule != .ignore, "\(policy.name) ignores what it has no rule for")
            for rule in policy.rules {
                let text = rule.pattern.text
                let live = fields.contains { field in rule.pattern.matches(field) || PathPattern(field).matches(text) }
                #expect(live, "\(policy.name): rule \(text) matches no field of the section models")
            }
        }
    }

    @Test("diff and audit name the same changed GPU field by the same path (a recorded A100, its VBIOS updated)")
    func diffAndAuditAgree() throws {
        let directory = temporaryDirectory()
        let updated = machineWithNewVBIOS(in: directory)
        for (name, root) in [("old", Project.fixtures + "/machines/gpu-telegraf-a100-sxm4-v12"), ("new", updated)] {
            let result = provenance(["capture", "-q", "--root", root, "-o", "\(directory)/\(name).json"])
            #expect(result.outcome == .exited(0), "\(result.stderrText)")
        }
        let diff = provenance(["diff", directory + "/old.json", directory + "/new.json", "--format", "json"])
        #expect(diff.outcome == .exited(2), "\(diff.stderrText)")
        let diffPaths = try JSONParser.parse(diff.stdoutText)["changes"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? []
        let audit = provenance(["audit", directory + "/old.json", directory + "/new.json", "--format", "json", "--name-by", "file"])
        #expect(audit.outcome == .exited(2), "\(audit.stderrText)")
        let auditPaths = try JSONParser.parse(audit.stdoutText)["differences"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? []
        let expected = "gpu.nvidia.gpus[0000:01:00.0].vbiosVersion"
        #expect(diffPaths == [expected], "\(diff.stdoutText)")
        #expect(auditPaths == [expected], "\(audit.stdoutText)")
        // verify (the default policy) names it the same way.
        let verify = provenance(["verify", directory + "/old.json", "--root", updated, "--policy", "strict"])
        #expect(verify.outcome == .exited(2))
        #expect(verify.stdoutText.contains(expected) || verify.stderrText.contains(expected), "\(verify.stdoutText)\(verify.stderrText)")
    }
}
