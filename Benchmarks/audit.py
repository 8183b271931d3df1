#!/usr/bin/env python3
"""Wall time and peak RSS of `provenance audit` over N manifests derived from a real capture.

Usage: Benchmarks/audit.py [N] [--runs R] [--keep]     (N defaults to 10000, R to 3)
Captures this machine once (`provenance capture -o base.json`), then writes N node manifests:
every node gets its own hostName, capture time, durations and a per-node CPU serial (identity,
ignored by the audit); 1% get another kernel release, 0.5% an extra OMP_NUM_THREADS, node 7 another
glibc version. Then runs `/usr/bin/time -v provenance audit DIR --format json` R times and prints each run's wall
time, CPU time, load average and peak resident set size, the best run, and whether the planted
outliers were reported exactly (every run must report them).
Uses PROVENANCE_BIN, else builds the release binary as Benchmarks/capture.py does.
"""
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
arguments = sys.argv[1:]
runs = int(arguments.pop(arguments.index("--runs") + 1)) if "--runs" in arguments else 3
count = int(next((a for a in arguments if a.isdigit()), "10000"))
keep = "--keep" in arguments

binary = (os.path.abspath(os.environ["PROVENANCE_BIN"]) if os.environ.get("PROVENANCE_BIN") else None)
if not binary:
    subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--scratch-path", ".build-release",
                    "--product", "provenance"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    binary = os.path.join(root, ".build-release/release/provenance")

directory = tempfile.mkdtemp(prefix="provenance-audit-bench.")
try:
    base_path = os.path.join(directory, "base.json")
    subprocess.run([binary, "capture", "-q", "-o", base_path], check=True)
    with open(base_path) as f:
        base = json.load(f)
    sections = base["sections"]
    nodes = os.path.join(directory, "nodes")
    os.mkdir(nodes)
    kernel_nodes = set(range(3, count, 100))
    omp_nodes = set(range(5, count, 200))
    for index in range(count):
        node = copy.copy(base)
        node["hostName"] = "n%05d" % index
        node["captureTime"] = "2026-11-23T17:%02d:%02dZ" % (index // 60 % 60, index % 60)
        node["sections"] = dict(sections)
        for sid in ("cpu", "os", "environment", "libc"):
            if sid in sections:
                node["sections"][sid] = copy.deepcopy(sections[sid])
                node["sections"][sid]["durationMs"] = index % 17
        if "cpu" in node["sections"] and isinstance(node["sections"]["cpu"].get("data"), dict):
            node["sections"]["cpu"]["data"]["serial"] = "SN-%06d" % index
        if index in kernel_nodes:
            node["sections"]["os"]["data"]["kernel"]["release"] = "6.1.0-99-amd64"
        if index in omp_nodes:
            node["sections"]["environment"]["data"].setdefault("variables", {})["OMP_NUM_THREADS"] = "1"
        if index == 7 and "libc" in node["sections"]:
            node["sections"]["libc"]["data"]["version"] = "2.99"
        with open(os.path.join(nodes, "n%05d.json" % index), "w") as f:
            json.dump(node, f, separators=(",", ":"))
    size = sum(os.path.getsize(os.path.join(nodes, n)) for n in os.listdir(nodes))
    print(f"{count} manifests, {size / 1e6:.1f} MB ({size // count} bytes each)")

    subprocess.run(["sync"])
    expected = {"os.kernel.release": sorted("n%05d" % i for i in kernel_nodes),
                "environment.variables.OMP_NUM_THREADS": sorted("n%05d" % i for i in omp_nodes)}
    if "libc" in sections:
        expected["libc.version"] = ["n00007"]
    results = []
    for run in range(runs):
        result = subprocess.run(["/usr/bin/time", "-v", binary, "audit", nodes, "--format", "json"],
                                capture_output=True, text=True)
        assert result.returncode == 2, result.stderr[-2000:]
        wall = re.search(r"Elapsed \(wall clock\) time.*: (.*)", result.stderr).group(1)
        minutes, seconds = wall.split(":")[-2:]
        wall = int(minutes) * 60 + float(seconds)
        cpu = float(re.search(r"User time \(seconds\): ([\d.]+)", result.stderr).group(1)) + \
            float(re.search(r"System time \(seconds\): ([\d.]+)", result.stderr).group(1))
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
        report = json.loads(result.stdout)
        found = {d["path"]: sorted(n for o in d["outliers"] for n in o["nodes"]) for d in report["differences"]}
        load = os.getloadavg()[0]
        results.append((wall, cpu, load, rss))
        print(f"audit run {run + 1}: wall {wall:.2f} s, CPU (user+sys) {cpu:.2f} s, load average {load:.1f}, "
              f"peak RSS {rss / 1024:.1f} MiB, {len(report['groups'])} groups, {len(report['differences'])} differing fields")
        if found != expected:
            print("planted outliers reported exactly: False")
            print(json.dumps({"found": found, "expected": expected})[:2000])
            sys.exit(1)
    wall, cpu, load, rss = min(results)
    print(f"best of {runs}: wall {wall:.2f} s, CPU {cpu:.2f} s, load average {load:.1f}, peak RSS {rss / 1024:.1f} MiB")
    print("planted outliers reported exactly: True")
finally:
    if keep:
        print("kept", directory)
    else:
        shutil.rmtree(directory)
