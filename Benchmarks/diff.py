#!/usr/bin/env python3
"""Wall time of `provenance diff`: two real manifests, and two manifests with 100,000 dataset files.

Usage: Benchmarks/diff.py [RUNS]
Builds the release binary (as scripts/install.sh does) unless PROVENANCE_BIN names one. The real
pair is two captures of this machine, the second with a changed kernel release and package
version; the large pair adds a `datasets` section of 100,000 files (derived digests) to a real
capture, with 10 files changed in the second. Times include process start-up.
"""
import copy
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
binary = (os.path.abspath(os.environ["PROVENANCE_BIN"]) if os.environ.get("PROVENANCE_BIN") else None)
if not binary:
    subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--scratch-path", ".build-release",
                    "--product", "provenance"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    binary = os.path.join(root, ".build-release/release/provenance")


def timed(args):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run([binary] + args, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
        assert result.returncode in (0, 2), result.returncode
    times.sort()
    return f"min {times[0]:.1f} ms  median {statistics.median(times):.1f} ms  max {times[-1]:.1f} ms"


with tempfile.TemporaryDirectory() as directory:
    a = os.path.join(directory, "a.json")
    subprocess.run([binary, "capture", "-q", "-o", a], check=True)
    manifest = json.load(open(a))
    changed = copy.deepcopy(manifest)
    changed["sections"]["os"]["data"]["kernel"]["release"] += "-changed"
    packages = changed["sections"].get("packages.dpkg", {}).get("data", {}).get("packages", [])
    if packages:
        packages[0]["version"] += "-changed"
    b = os.path.join(directory, "b.json")
    json.dump(changed, open(b, "w"), indent=2)
    print(f"diff of two real manifests ({os.path.getsize(a) // 1024} KB): {timed(['diff', a, b, '--format', 'json'])}")

    files = [{"path": f"shard-{i // 1000:03d}/item-{i:06d}.bin", "sizeBytes": 1024 + i % 4096,
              "sha256": hashlib.sha256(str(i).encode()).hexdigest()} for i in range(100_000)]
    big = copy.deepcopy(manifest)
    big["sections"]["datasets"] = {"status": "ok", "probeVersion": "1.0.0", "durationMs": 0, "issues": [],
                                   "data": {"train": {"path": "/data/train", "kind": "directory", "fileCount": len(files),
                                                      "totalBytes": sum(f["sizeBytes"] for f in files),
                                                      "digest": "sha256:" + "0" * 64, "files": files,
                                                      "skipped": [], "symlinks": []}}}
    big_a = os.path.join(directory, "big-a.json")
    json.dump(big, open(big_a, "w"))
    for index in range(0, 100_000, 10_000):
        files[index]["sha256"] = hashlib.sha256(b"changed" + str(index).encode()).hexdigest()
    big["sections"]["datasets"]["data"]["train"]["digest"] = "sha256:" + "1" * 64
    big_b = os.path.join(directory, "big-b.json")
    json.dump(big, open(big_b, "w"))
    print(f"diff with 100,000 dataset files ({os.path.getsize(big_a) // (1 << 20)} MB each, 11 changes): "
          f"{timed(['diff', big_a, big_b, '--format', 'json'])}")
