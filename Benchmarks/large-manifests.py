#!/usr/bin/env python3
"""Wall time, CPU time and peak RSS of diff, verify --against, audit and render on large manifests,
side by side with a reference that reads the same files: Python's `json` load plus a naive
dictionary diff (packages matched by name), and `jq -S` of both files, then `diff` of the two.

Usage: Benchmarks/large-manifests.py [PACKAGES] [--runs R]   (PACKAGES defaults to 280000: 45 MB)
Writes manifests the way the attack suite does (Tests/EndToEndTests/Attack/AttackCorpusTests.swift,
`largeManifest`): one `packages` section of PACKAGES records with long names, two-space indented,
keys sorted. Pairs: `a`/`b` differ in every 997th version (a few hundred changes, the usual case);
`a`/`renamed` share no package (every record removed and added: the largest report there is).
Also a policy of 10,000 rules (the most a policy may hold) with verify.
Uses PROVENANCE_BIN, else builds the release binary as Benchmarks/capture.py does. Prints the load
average beside each figure: on a shared machine wall time is not CPU time.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
arguments = sys.argv[1:]
runs = int(arguments.pop(arguments.index("--runs") + 1)) if "--runs" in arguments else 1
count = int(next((a for a in arguments if a.isdigit()), "280000"))

binary = (os.path.abspath(os.environ["PROVENANCE_BIN"]) if os.environ.get("PROVENANCE_BIN") else None)
if not binary:
    subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--scratch-path", ".build-release",
                    "--product", "provenance"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    binary = os.path.join(root, ".build-release/release/provenance")


def manifest(host, name, version):
    packages = [{"name": name(i), "version": version(i), "source": "pip"} for i in range(count)]
    return {"schemaVersion": "1.0.0", "hostName": host, "captureTime": "2026-01-01T00:00:00Z",
            "fingerprint": "sha256:" + "0" * 64,
            "sections": {"packages": {"status": "ok", "probeVersion": "1.0.0", "data": {"packages": packages}}}}


def long_name(i):
    return f"package-{i}-with-a-rather-long-name-for-realism"


def measure(command, expected=(0, 2)):
    """Best of `runs`: (wall s, CPU s, peak RSS MiB, output bytes, load average)."""
    best = None
    for _ in range(runs):
        with tempfile.TemporaryFile() as output:
            result = subprocess.run(["/usr/bin/time", "-v"] + command, stdout=output, stderr=subprocess.PIPE, text=True)
            size = output.tell()
        assert result.returncode in expected, (command, result.returncode, result.stderr[-1000:])
        wall = re.search(r"Elapsed \(wall clock\) time.*: (.*)", result.stderr).group(1).split(":")
        wall = float(wall[-1]) + 60 * int(wall[-2]) + (3600 * int(wall[-3]) if len(wall) > 2 else 0)
        cpu = float(re.search(r"User time \(seconds\): ([\d.]+)", result.stderr).group(1)) + \
            float(re.search(r"System time \(seconds\): ([\d.]+)", result.stderr).group(1))
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1)) / 1024
        figures = (wall, cpu, rss, size, os.getloadavg()[0])
        best = figures if best is None or figures[1] < best[1] else best
    return best


def show(label, figures, reference=None):
    wall, cpu, rss, size, load = figures
    line = f"{label:<44} wall {wall:6.2f} s  CPU {cpu:6.2f} s  peak {rss:7.0f} MiB  output {size / 1e6:6.1f} MB  load {load:4.1f}"
    if reference:
        line += f"   | reference CPU {reference[1]:6.2f} s, peak {reference[2]:5.0f} MiB: ×{cpu / reference[1]:.2f} CPU"
    print(line, flush=True)


NAIVE_DIFF = r"""
import json, sys
def load(path):
    with open(path) as f:
        document = json.load(f)
    return {p["name"]: p for p in document["sections"]["packages"]["data"]["packages"]}
a, b = load(sys.argv[1]), load(sys.argv[2])
changes = [(n, a.get(n), b.get(n)) for n in sorted(set(a) | set(b)) if a.get(n) != b.get(n)]
json.dump([{"path": n, "old": o, "new": v} for n, o, v in changes], sys.stdout)
"""

directory = tempfile.mkdtemp(prefix="provenance-large-bench.")
try:
    files = {}
    for label, host, name, version in [
        ("a", "a", long_name, lambda i: f"1.0.{i}"),
        ("b", "b", long_name, lambda i: f"2.0.{i}" if i % 997 == 0 else f"1.0.{i}"),
        ("c", "c", long_name, lambda i: f"3.0.{i}" if i % 997 == 0 else f"1.0.{i}"),
        ("renamed", "renamed", lambda i: f"other-{i}-with-a-rather-long-name-for-realism", lambda i: f"1.0.{i}"),
    ]:
        files[label] = os.path.join(directory, label + ".json")
        with open(files[label], "w") as f:
            json.dump(manifest(host, name, version), f, indent=2, sort_keys=True)
    policy = os.path.join(directory, "policy.json")
    with open(policy, "w") as f:
        json.dump({"rules": [{"path": f"packages.packages[x{i}].version", "rule": "equal"} for i in range(9_999)]
                   + [{"path": "packages.**", "rule": "equal"}]}, f)
    size = os.path.getsize(files["a"])
    print(f"{count} packages: {size / 1e6:.1f} MB a manifest ({size / (1 << 20):.1f} MiB; the limit is 64 MiB)")
    a, b, c, renamed = files["a"], files["b"], files["c"], files["renamed"]
    python = [sys.executable, "-c", NAIVE_DIFF]
    jq = shutil.which("jq")
    for pair, (x, y) in [("a/b (few changes)", (a, b)), ("a/renamed (nothing shared)", (a, renamed))]:
        print(f"\n{pair}")
        reference = measure(python + [x, y], expected=(0,))
        show("reference: python json load + dict diff", reference)
        if jq:
            # Into files, not `<(…)`: the shell waits for jq, so its CPU time is counted.
            sorted_x, sorted_y = os.path.join(directory, "x.sorted"), os.path.join(directory, "y.sorted")
            show("reference: jq -S . A, B; diff",
                 measure(["bash", "-c", f"{jq} -S . {x} > {sorted_x}; {jq} -S . {y} > {sorted_y}; diff {sorted_x} {sorted_y}"],
                         expected=(0, 1)))
        show("provenance diff --format json", measure([binary, "diff", "--format", "json", x, y]), reference)
        show("provenance verify --against", measure([binary, "verify", x, "--against", y]), reference)
        show("provenance verify --against --format json",
             measure([binary, "verify", x, "--against", y, "--format", "json"]), reference)
        show("provenance audit", measure([binary, "audit", x, y]), reference)
        show("provenance audit --format json", measure([binary, "audit", "--format", "json", x, y]), reference)
        show("provenance verify, 10,000-rule policy",
             measure([binary, "verify", x, "--against", y, "--policy", policy]), reference)
    print("\nothers")
    show("provenance audit a b c", measure([binary, "audit", a, b, c]))
    show("provenance audit --compare a b", measure([binary, "audit", "--compare", a, b]))
    show("provenance render (markdown)", measure([binary, "render", a]))
finally:
    shutil.rmtree(directory)
