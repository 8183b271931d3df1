#!/usr/bin/env python3
"""Wall time of `provenance capture` (release build), repeated runs: prints min/median/p90/max.

Usage: Benchmarks/capture.py [RUNS] [-- extra capture arguments]
Builds the release binary (static Swift runtime, as scripts/install.sh does) unless
PROVENANCE_BIN names one. Each run writes a manifest to a temporary directory.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
args = sys.argv[1:]
extra = []
if "--" in args:
    extra = args[args.index("--") + 1:]
    args = args[:args.index("--")]
runs = int(args[0]) if args else 50

binary = (os.path.abspath(os.environ["PROVENANCE_BIN"]) if os.environ.get("PROVENANCE_BIN") else None)
if not binary:
    subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--scratch-path", ".build-release",
                    "--product", "provenance"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    binary = os.path.join(root, ".build-release/release/provenance")

with tempfile.TemporaryDirectory() as directory:
    output = os.path.join(directory, "env.json")
    command = [binary, "capture", "-q", "-o", output] + extra
    for _ in range(5):  # warm the page cache
        subprocess.run(command, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
    print(f"provenance capture {' '.join(extra)}".strip())
    print(f"  runs {runs}  min {times[0]:.1f} ms  median {statistics.median(times):.1f} ms  "
          f"p90 {p90:.1f} ms  max {times[-1]:.1f} ms")
