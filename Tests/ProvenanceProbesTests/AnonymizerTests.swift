import ProvenanceCore
import ProvenanceTestSupport
import ProvenanceProbeKit
import Testing

@Suite("Anonymizer and masked parts")
struct AnonymizerTests {
    /// Real `nvidia-smi -q -x` output of an A100 (Fixtures/machines/gpu-telegraf-a100-sxm4-v12).
    static func a100XML() throws -> String {
        try #require(try RootedFileSystem(root: Project.machines + "/gpu-telegraf-a100-sxm4-v12").read("/commands/nvidia-smi-q-x.xml"))
    }

    @Test("finds the UUIDs of real nvidia-smi output, inside GPU-… and MIG-… ids")
    func findsUUIDs() throws {
        let xml = try Self.a100XML()
        let uuids = Anonymizer.uuids(in: xml)
        #expect(uuids.contains("513536b6-7d19-9063-b049-1e69664bb298"))
        #expect(uuids.allSatisfy { $0.count == 36 })
        #expect(Anonymizer.macAddresses(in: xml).isEmpty)
        #expect(Anonymizer.macAddresses(in: "link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff") == ["52:54:00:12:34:56", "ff:ff:ff:ff:ff:ff"])
        // PCI addresses and times are not MACs.
        #expect(Anonymizer.macAddresses(in: "00000000:07:00.0 12:30:45").isEmpty)
    }

    @Test("consistent, deterministic, shape-keeping placeholders; whole words only")
    func replaces() throws {
        let xml = try Self.a100XML()
        let values: [Anonymizer.Kind: Set<String>] = [
            .uuid: Anonymizer.uuids(in: xml), .serial: ["1650522003820"], .hostName: ["gpu-node7"], .user: ["alice", "root"],
        ]
        let anonymizer = Anonymizer(values: values)
        #expect(anonymizer == Anonymizer(values: values))
        #expect(anonymizer.replacements["root"] == nil)
        let replaced = anonymizer.apply(to: xml)
        #expect(!replaced.contains("513536b6-7d19-9063-b049-1e69664bb298") && !replaced.contains("1650522003820"))
        #expect(replaced.contains("<serial>serial-1</serial>"))
        let placeholder = try #require(anonymizer.replacements["513536b6-7d19-9063-b049-1e69664bb298"])
        #expect(replaced.contains("<uuid>GPU-\(placeholder)</uuid>"))
        #expect(Anonymizer.uuids(in: placeholder) == [placeholder])
        #expect(anonymizer.apply(to: "ssh alice@gpu-node7; malice; gpu-node77") == "ssh user-1@host-1; malice; gpu-node77")
        let json: JSONValue = ["gpu-node7": ["owner": "alice", "count": 3]]
        #expect(anonymizer.apply(to: json) == ["host-1": ["owner": "user-1", "count": 3]])
        #expect(anonymizer.counts[.user] == 1 && anonymizer.counts[.hostName] == 1)
    }

    @Test("maskedParts: what masking removed, nothing else")
    func maskedParts() {
        let url = "https://alice:hunter2@pypi.example.org/simple"
        #expect(Secrets.maskedParts(raw: url, masked: Secrets.maskURL(url)) == ["alice:hunter2"])
        #expect(Secrets.maskedParts(raw: "ghp_abc", masked: Secrets.mask) == ["ghp_abc"])
        #expect(Secrets.maskedParts(raw: "plain", masked: "plain").isEmpty)
        let query = "https://h.example/x?token=abcdef123&b=1&sig=zzz999"
        #expect(Secrets.maskedParts(raw: query, masked: Secrets.maskURL(query)) == ["abcdef123", "zzz999"])
    }
}
