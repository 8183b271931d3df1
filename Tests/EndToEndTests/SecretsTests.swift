import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

/// Secrets planted in the environment, the command line and URLs never reach the manifest.
@Suite("No secrets in the manifest")
struct SecretsEndToEndTests {
    static let secrets = [
        "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "sk-proj-Zx81Qw93Lm20Rt55Yv", "hunter2-db-password", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz", "wandb-key-7f3a9c",
        "s3cr3t-in-url", "token-in-argv-991", "apikey-in-argv-552", "param-password-331", "cmdline-pw-777",
    ]

    @Test("environment variables, argv, URLs, parameters")
    func planted() throws {
        let directory = temporaryDirectory()
        let environment = [
            "AWS_ACCESS_KEY_ID": Self.secrets[0], "AWS_SECRET_ACCESS_KEY": Self.secrets[1], "GITHUB_TOKEN": Self.secrets[2],
            "OPENAI_API_KEY": Self.secrets[3], "DB_PASSWORD": Self.secrets[4], "HF_TOKEN": Self.secrets[5],
            "WANDB_API_KEY": Self.secrets[6], "HF_ENDPOINT": "https://bob:\(Self.secrets[7])@hub.example.org/",
            "TF_SOMETHING": Self.secrets[2], "CUDA_VISIBLE_DEVICES": "0,1", "NCCL_DEBUG": "INFO",
        ]
        let result = provenance(
            ["capture", "-q", "-o", directory + "/env.json", "--only", "environment", "--only", "run",
             "--env", "AWS_*", "--env", "GITHUB_*", "--env", "OPENAI_*", "--env", "DB_*",
             "--param", "db_password=\(Self.secrets[10])", "--param", "lr=0.1", "--seed", "torch=42",
             "--", "python", "train.py", "--token", Self.secrets[8], "--api-key=\(Self.secrets[9])",
             "https://alice:\(Self.secrets[7])@git.example.org/r.git", "PASSWORD=\(Self.secrets[11])", "--epochs", "3"],
            environment: environment)
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        let text = try #require(try RootedFileSystem().read(directory + "/env.json"))
        for secret in Self.secrets {
            #expect(!text.contains(secret), "secret \(secret) leaked into the manifest")
        }
        // What is not secret is still there.
        let manifest = try JSONParser.parse(text)
        let variables = manifest["sections"]?["environment"]?["data"]?["variables"]
        #expect(variables?["CUDA_VISIBLE_DEVICES"] == "0,1")
        #expect(variables?["AWS_SECRET_ACCESS_KEY"] == "[masked]")
        #expect(variables?["HF_ENDPOINT"] == "https://[masked]@hub.example.org/")
        let run = manifest["sections"]?["run"]?["data"]
        #expect(run?["commandLine"] == ["python", "train.py", "--token", "[masked]", "--api-key=[masked]",
                                        "https://[masked]@git.example.org/r.git", "PASSWORD=[masked]", "--epochs", "3"])
        #expect(run?["parameters"]?["lr"] == "0.1")
        #expect(run?["seeds"]?["torch"] == "42")
    }
}
