import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Secrets planted everywhere a user or a hostile manifest can put them; every output of every
/// command is searched for each of them: the count of leaks must be 0.
@Suite("Attack: no secret reaches any output", .serialized)
struct AttackSecretsTests {
    /// A distinct secret-looking tail per planted secret (mixed case and digits, as real ones).
    func tail(_ index: Int, length: Int = 24) -> String {
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
        var state = UInt64(0x9E37_79B9_7F4A_7C15) &* UInt64(index + 1)
        var out = "Q\(index)z"
        while out.count < length {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            out.append(alphabet[Int(state >> 33) % alphabet.count])
        }
        return out
    }

    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhdHRhY2sifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"

    @Test("65+ planted secrets: 0 in manifests, patches, run.json, attestations, render, audit, diff, verify, sums, stderr, caches")
    func planted() throws {
        let base = temporaryDirectory()
        var secrets: [String] = []
        func plant(_ secret: String) -> String { secrets.append(secret); return secret }

        // Environment: names that say secret, values that carry one inside, URL forms.
        let environment: [String: String] = [
            "HOME": base + "/home", "XDG_CACHE_HOME": base + "/cache", "XDG_CONFIG_HOME": base + "/config",
            "MYSQL_PWD": plant(tail(1)), "DB_PWD": plant(tail(2)), "GPG_PASSPHRASE": plant(tail(3)),
            "SSHPASS": plant(tail(4)), "AWS_SECRET_ACCESS_KEY": plant(tail(5, length: 40)),
            "GITHUB_TOKEN": plant("ghp_" + tail(6, length: 36)), "HF_TOKEN": plant("hf_" + tail(7, length: 34)),
            "WANDB_API_KEY": plant(tail(8, length: 40)), "OPENAI_API_KEY": plant("sk-" + tail(9, length: 40)),
            "DATABASE_URL": "postgres://app:\(plant(tail(10)))@db.example.org:5432/main",
            "PGOPTS": "host=db port=5432 password=\(plant(tail(11)))",
            "TOOL_OPTS": "--verbose --jwt \(plant(jwt))",
            "TOOL_FLAGS": "--user bob --hub \(plant("hf_" + tail(13, length: 34)))",
            "AZURE_STORAGE_CONNECTION_STRING":
                "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=\(plant(tail(14, length: 44)))==;EndpointSuffix=core.windows.net",
            "HF_ENDPOINT": "https://bob:\(plant("p#w?" + tail(15)))/x@hub.example.org/",
            "PIP_EXTRA_INDEX_URL": "https://conda.anaconda.org/t/\(plant(tail(16, length: 20)))/channel",
            "NCCL_NOTIFY_URL": "https://hooks.slack.com/services/T0001/B0001/\(plant(tail(17)))",
            "TORCH_ALERT_URL": "https://discord.com/api/webhooks/1234/\(plant(tail(18, length: 40)))",
            "CUDA_AUTH_HEADER": "Bearer \(plant(tail(19)))",
            "TF_CONFIG_EXTRA": "Authorization: Bearer \(plant(tail(20)))",
            "MLFLOW_TRACKING_URI": "https://user:\(plant(tail(21)))@mlflow.example.org",
            "SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "train --token \(plant("ghp_" + tail(22, length: 36)))",
            "SLURM_CLUSTER_NAME": "c1",
            "KUBERNETES_SERVICE_HOST": "10.0.0.1", "PROVENANCE_PODINFO_DIR": base + "/podinfo",
            "CI_JOB_TOKEN": plant(tail(23)), "AWS_ACCESS_KEY_ID": plant("AKIAQ3EGVP7YXWZ5ABCD"),
            "NPM_TOKEN": plant("npm_" + tail(25, length: 36)),
            "PYPI_PASSWORD": plant("pypi-" + tail(26, length: 40)),
            "GITLAB_PAT": plant("glpat-" + tail(27, length: 20)),
            "SLACK_BOT": plant("xoxb-" + tail(28, length: 40)),
            "OMP_SECRET_SAUCE": plant(tail(29)),
            "MALLOC_CONF_X": "prof:true,token:\(plant(tail(30)))",
            "NVIDIA_API_KEY": plant(tail(36)), "KMP_DSN_STRING": "Driver=x;Server=db;UID=u;PWD=\(plant(tail(37)))",
            "HF_HUB_HEADERS": "X-Api-Key: \(plant(tail(38)))",
        ]
        // Kubernetes downward API: label and annotation values.
        try AtomicFile.write(Array("""
            app="trainer"
            deploy-token="\(plant(tail(31)))"
            note="see \(plant("ghp_" + tail(32, length: 36)))"

            """.utf8), to: base + "/podinfo/labels")
        try AtomicFile.write(Array("""
            ci/url="https://ci:\(plant(tail(33)))@ci.example.org/job"
            ci/cmd="deploy --password \(plant(tail(34)))"
            ci/header="Authorization: Bearer \(plant(tail(35)))"

            """.utf8), to: base + "/podinfo/annotations")

        // Parameters and seeds.
        let parameters = [
            "db_pwd=\(plant(tail(40)))", "jwt=\(plant(jwt.replacing("attack", with: "attack2").replacing("eyJzdWIiOiJhdHRhY2sifQ", with: "eyJzdWIiOiJ4In0")))",
            "header=Bearer \(plant(tail(42)))", "api_token=\(plant(tail(43)))",
            "dsn=mysql://root:\(plant(tail(44)))@db/x", "notes=use \(plant("hf_" + tail(45, length: 34))) here",
            "passwd=\(plant(tail(46)))",
            "lr=0.1",
        ]
        // The command line: attached passwords, headers, passphrases, webhooks, shell strings.
        let command = [
            "python", "train.py", "--passphrase", plant(tail(50)), "--jwt=\(plant(jwt + "x"))",
            "mysql", "-u", "root", "-p\(plant(tail(52)))",
            "sshpass", "-p", plant(tail(53)),
            "curl", "-u", "bob:\(plant(tail(54)))", "-H", "Authorization: Bearer \(plant(tail(55)))",
            "https://hooks.slack.com/services/T1/B1/\(plant(tail(56)))",
            "https://discord.com/api/webhooks/99/\(plant(tail(57, length: 40)))",
            "bash", "-c", "deploy --token \(plant(tail(58))) --verbose",
            "--api-key=\(plant(tail(59)))", "https://alice:\(plant("se/cr#t?" + tail(60)))@git.example.org/r.git",
            "PASSWORD=\(plant(tail(61)))", "--header=X-Api-Key: \(plant(tail(62)))",
            "redis-cli", "-a", plant(tail(63)),
            "--db", "postgresql://u:\(plant(tail(64)))@h/d", "--secret", plant(tail(65)), "--epochs", "3",
        ]
        // A hostile manifest planted by someone else: unmasked secrets and an allow-list of "*".
        let hostile = Attack.manifest(sections: [
            "environment": ["variables": ["GITHUB_TOKEN": .string(plant("ghp_" + tail(70, length: 36))),
                                          "TOOL_OPTS": .string("--jwt " + plant(jwt + "y"))],
                            "masked": [], "extraPatterns": ["*"]],
            "run": ["parameters": ["password": .string(plant(tail(72)))]],
        ])
        try Attack.write(hostile, to: base + "/hostile.json")
        // The verifier's own secrets, which only the allow-list protects (plain values).
        let verifierEnvironment = environment.merging([
            "DEPLOY_KEY_MATERIAL": plant("plainvalue" + tail(80)), "CI_REGISTRY_THING": plant("plainvalue" + tail(81)),
        ]) { _, new in new }

        #expect(secrets.count >= 65, "planted \(secrets.count)")
        #expect(Set(secrets).count == secrets.count, "secrets must be distinct")

        var outputs: [(String, [UInt8])] = []
        func record(_ label: String, _ result: CommandResult) {
            outputs.append((label + " stdout", result.stdout))
            outputs.append((label + " stderr", result.stderr))
        }

        // capture (+ a git repository with a dirty file holding no secret), run, sums, caches.
        let repository = base + "/repo"
        _ = shell("mkdir -p '\(repository)' && cd '\(repository)' && git init -q -b main . && echo a > a && git add a && git -c user.email=a@b -c user.name=a commit -qm a && echo b > a")
        try AtomicFile.write(Array("data".utf8), to: base + "/data/x.bin")
        var captureArguments = ["capture", "-o", base + "/out/env.json", "--repo", repository,
                                "--dataset", "d=" + base + "/data", "--sums", base + "/out/sums.txt",
                                "--env", "MYSQL_*", "--env", "DB_*", "--env", "GPG_*", "--env", "SSHPASS", "--env", "AWS_*",
                                "--env", "GITHUB_*", "--env", "OPENAI_*", "--env", "DATABASE_*", "--env", "PG*",
                                "--env", "TOOL_*", "--env", "AZURE_*", "--env", "PIP_*", "--env", "CI_*",
                                "--env", "NPM_*", "--env", "PYPI_*", "--env", "GITLAB_*", "--env", "SLACK_*"]
        for parameter in parameters { captureArguments += ["--param", parameter] }
        let capture = provenance(captureArguments + ["--"] + command, environment: environment, timeout: 120)
        #expect(capture.outcome == .exited(0), "\(capture.stderrText)")
        record("capture", capture)
        // `run` records the working directory's repository: start it outside any (this test's own
        // source, uncommitted, holds the planted secrets).
        try AtomicFile.write(Array("#!/bin/sh\ncd '\(base)' && exec '\(Project.executable)' \"$@\"\n".utf8),
                             to: base + "/provenance-here", mode: 0o755)
        let run = LiveCommandRunner(environment: processEnvironment().merging(environment) { _, new in new }).run(
            [base + "/provenance-here", "run", "--out", base + "/run", "--env", "MYSQL_*", "--env", "TOOL_*"]
                             + parameters.flatMap { ["--param", $0] } + ["--", "/bin/true"] + command.dropFirst(1),
            timeout: 120)
        #expect(run.outcome == .exited(0), "\(run.stderrText)")
        record("run", run)

        // The outputs read by the other commands.
        record("render markdown", provenance(["render", base + "/out/env.json"], environment: environment))
        record("render latex", provenance(["render", "--format", "latex", base + "/out/env.json"], environment: environment))
        record("render html", provenance(["render", "--format", "html", base + "/out/env.json"], environment: environment))
        record("render hostile", provenance(["render", base + "/hostile.json"], environment: environment))
        for format in ["text", "json", "markdown"] {
            record("diff \(format)", provenance(["diff", "--format", format, base + "/out/env.json", base + "/hostile.json"],
                                                environment: environment))
            // Verify captures this machine now: the verifier's own environment is at stake.
            record("verify \(format)", provenance(["verify", base + "/hostile.json", "--format", format],
                                                  environment: verifierEnvironment, timeout: 120))
            record("verify --against \(format)", provenance(["verify", base + "/hostile.json", "--against", base + "/out/env.json",
                                                             "--format", format], environment: environment))
        }
        for format in ["text", "json", "html"] {
            record("audit \(format)", provenance(["audit", "--format", format, base + "/out/env.json", base + "/hostile.json",
                                                  base + "/run"], environment: environment))
        }
        record("keygen", provenance(["keygen", "--out", base + "/keys/k"], environment: environment))
        record("attest", provenance(["attest", base + "/out/env.json", "--key", base + "/keys/k.key",
                                     "-o", base + "/out/env.dsse.json"], environment: environment))

        for file in Attack.filesUnder(base + "/out") + Attack.filesUnder(base + "/run")
            + Attack.filesUnder(base + "/cache") + Attack.filesUnder(base + "/home")
        {
            outputs.append((file.path, file.bytes))
        }
        var leaked: [String: [String]] = [:]
        for secret in secrets {
            for (label, bytes) in outputs where Attack.contains(bytes, secret) { leaked[secret, default: []].append(label) }
        }
        print("attack secrets: planted \(secrets.count), leaked \(leaked.count), outputs searched \(outputs.count)")
        #expect(leaked.isEmpty, "\(leaked.count) of \(secrets.count) leaked: \(leaked.sorted { $0.key < $1.key }.prefix(10))")
        // What is not secret is still recorded.
        let manifest = try readJSON(base + "/out/env.json")
        #expect(manifest["sections"]?["run"]?["data"]?["parameters"]?["lr"] == "0.1")
        #expect(manifest["sections"]?["run"]?["data"]?["commandLine"]?.arrayValue?.last == "3")
    }
}
