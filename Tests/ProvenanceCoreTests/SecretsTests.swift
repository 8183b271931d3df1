import Testing

@testable import ProvenanceCore

/// The masking rules on their own: what must be masked, and what must stay (over-masking loses
/// the facts a manifest is for).
@Suite("Secrets: masking by name and by form")
struct SecretsMaskingTests {
    @Test("values that carry a secret inside are masked", arguments: [
        ("MYSQL_PWD", "x"), ("db_pwd", "x"), ("GPG_PASSPHRASE", "x"), ("SSHPASS", "x"),
        ("PGOPTS", "host=db password=abc"), ("CONN", "Driver=x;UID=u;PWD=abc"),
        ("AZ", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc==;EndpointSuffix=x"),
        ("OPTS", "--jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlMTIz"),
        ("OPTS", "--hub hf_AbCdEfGhIjKlMnOpQrStUvWx"), ("H", "Authorization: Bearer abc"), ("H", "X-Api-Key: abc"),
        ("CMD", "deploy --password abc"), ("JOB", "train --token ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    ])
    func masked(name: String, value: String) {
        #expect(Secrets.maskValue(value, name: name) == Secrets.mask)
    }

    @Test("ordinary values stay", arguments: [
        ("PATH", "/usr/local/auth-tools/bin:/opt/token-server/bin:/usr/bin"), ("PWD", "/home/u/project"),
        ("OLDPWD", "/home/u"), ("CUDA_VISIBLE_DEVICES", "0,1"), ("OMP_NUM_THREADS", "8"),
        ("TORCH_CUDA_ARCH_LIST", "8.0 9.0+PTX"), ("HF_HOME", "/data/hf"), ("PIP_INDEX_URL", "https://pypi.org/simple"),
        ("NCCL_SOCKET_IFNAME", "eth0"), ("LANG", "C.UTF-8"), ("GIT_COMMIT", "0123456789abcdef0123456789abcdef01234567"),
        ("MODEL", "bert-base-uncased"), ("TOKENIZERS_PARALLELISM", "false"), ("LD_PRELOAD", "/usr/lib/libjemalloc.so.2"),
    ])
    func kept(name: String, value: String) {
        #expect(Secrets.maskValue(value, name: name) == value)
    }

    @Test("URLs keep their shape")
    func urls() {
        #expect(Secrets.maskURL("https://u:pa/ss#w?d@host.org/x") == "https://[masked]@host.org/x")
        #expect(Secrets.maskURL("https://host.org:8443/simple") == "https://host.org:8443/simple")
        #expect(Secrets.maskURL("https://conda.anaconda.org/t/tk-123-abc/chan") == "https://conda.anaconda.org/t/[masked]/chan")
        #expect(Secrets.maskURL("https://hooks.slack.com/services/T1/B1/abc") == "https://hooks.slack.com/[masked]")
        #expect(Secrets.maskURL("https://discord.com/api/webhooks/1/abc") == "https://discord.com/[masked]")
        #expect(Secrets.maskURL("https://github.com/org/repo.git") == "https://github.com/org/repo.git")
    }

    @Test("command lines")
    func commandLines() {
        #expect(Secrets.maskCommandLine(["mysql", "-u", "root", "-phunter2", "db"]) == ["mysql", "-u", "root", "-p[masked]", "db"])
        #expect(Secrets.maskCommandLine(["sshpass", "-p", "x", "ssh", "h"]) == ["sshpass", "-p", "[masked]", "ssh", "h"])
        #expect(Secrets.maskCommandLine(["curl", "-u", "a:b", "-H", "Accept: json", "-H", "Authorization: Bearer x"])
            == ["curl", "-u", "[masked]", "-H", "Accept: json", "-H", "[masked]"])
        #expect(Secrets.maskCommandLine(["bash", "-c", "deploy --token abc --verbose"]) == ["bash", "-c", "deploy --token [masked] --verbose"])
        #expect(Secrets.maskCommandLine(["python", "train.py", "-p", "8", "--lr", "0.1", "--config", "configs/token-classifier.yaml"])
            == ["python", "train.py", "-p", "8", "--lr", "0.1", "--config", "configs/token-classifier.yaml"])
    }
}
