#!/usr/bin/env python3
"""Dataset hashing speed of `provenance capture --dataset`, side by side with references.

Not a test: it prints figures. In one run it measures

  1. GB/s over large files (default 4 x 1 GiB, page cache warm) against the CPU's SHA-256
     ceiling: `openssl speed -evp sha256 -bytes 16384` (one core) x the CPUs this process may use;
  2. files/s over many small files (default 200,000 x 1 KiB in 200 directories) against
     `find DIR -type f -print0 | xargs -0 -P<cpus> sha256sum`;
  3. the stat cache: re-capturing each unchanged dataset against its first (cache-writing) capture,
     for those two and a 10,000-file dataset of 100 KiB files.

Usage: Benchmarks/datasets.py [--big-files N] [--big-gib G] [--small-files N] [--medium-files N]
                              [--runs R] [--keep]

Builds the release binary (static Swift runtime, as scripts/install.sh does) unless PROVENANCE_BIN
names one. The data (about 5.8 GB) goes to a temporary directory under /tmp and is removed at the
end (--keep leaves it). Each figure is the best of R runs; wall-clock times of the whole command
(process start, listing, hashing, writing the manifest and sidecar included). On a busy machine the
wall-clock figures fall with the CPU left over: the CPU-time column (user + system seconds of the
command) and the load average printed with the results show how much that was.
"""
import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build():
    binary = (os.path.abspath(os.environ["PROVENANCE_BIN"]) if os.environ.get("PROVENANCE_BIN") else None)
    if binary:
        return binary
    subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--scratch-path", ".build-release",
                    "--product", "provenance"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    return os.path.join(root, ".build-release/release/provenance")


def timed(command, environment=None, shell=False):
    """Wall seconds and CPU seconds (user + system of the children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, env=environment, shell=shell, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def best(runs, command, environment=None, shell=False):
    results = [timed(command, environment, shell) for _ in range(runs)]
    return min(results, key=lambda r: r[0])


def openssl_per_core():
    """Bytes per second of one core: `openssl speed` counts CPU time, so it is the core's ceiling."""
    output = subprocess.run(["openssl", "speed", "-evp", "sha256", "-bytes", "16384", "-seconds", "3"],
                            check=True, capture_output=True, text=True).stdout
    match = re.search(r"^sha256\s+([0-9.]+)k\s*$", output, re.MULTILINE | re.IGNORECASE)
    if not match:
        sys.exit("cannot parse openssl speed output:\n" + output)
    return float(match.group(1)) * 1000


def make_big(directory, files, gib):
    os.makedirs(directory)
    block = os.urandom(16 << 20)  # SHA-256 speed does not depend on the content
    for index in range(files):
        with open(os.path.join(directory, f"part-{index}.bin"), "wb") as f:
            for _ in range(gib * 64):
                f.write(block)
    return files * gib << 30


def make_small(directory, files, size=1024):
    per_directory = 1000
    block = os.urandom(size)
    for index in range(files):
        sub = os.path.join(directory, f"d{index // per_directory:04d}")
        if index % per_directory == 0:
            os.makedirs(sub)
        with open(os.path.join(sub, f"f{index:07d}.bin"), "wb") as f:
            f.write(os.urandom(size) if size <= 4096 else block[index % 4096:] + block[:index % 4096])


def warm(directory):
    subprocess.run(f"find '{directory}' -type f -print0 | xargs -0 cat > /dev/null", shell=True, check=True)


def section(manifest):
    with open(manifest) as f:
        return json.load(f)["sections"]["datasets"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--big-files", type=int, default=4)
    parser.add_argument("--big-gib", type=int, default=1)
    parser.add_argument("--small-files", type=int, default=200_000)
    parser.add_argument("--medium-files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    binary = build()
    cpus = len(os.sched_getaffinity(0))
    work = tempfile.mkdtemp(prefix="provenance-datasets-bench-", dir="/tmp")
    environment = dict(os.environ, XDG_CACHE_HOME=os.path.join(work, "cache"))
    out = os.path.join(work, "out")
    os.makedirs(out)
    load_before = os.getloadavg()
    try:
        per_core = openssl_per_core()
        ceiling = per_core * cpus

        big = os.path.join(work, "big")
        big_bytes = make_big(big, args.big_files, args.big_gib)
        small = os.path.join(work, "small")
        make_small(small, args.small_files)
        medium = os.path.join(work, "medium")
        make_small(medium, args.medium_files, 100 << 10)
        time.sleep(2.2)  # files changed within 2 s of a capture are not cached
        warm(big)
        warm(small)
        warm(medium)

        def capture(name, path, *extra):
            return [binary, "capture", "-q", "--only", "datasets", "--dataset", f"{name}={path}",
                    "-o", os.path.join(out, f"{name}.json"), *extra]

        # 1. Large files.
        big_wall, big_cpu = best(args.runs, capture("big", big, "--no-cache"), environment)
        big_hash_ms = section(os.path.join(out, "big.json"))["durationMs"]

        # 2. Small files.
        pipeline = f"find '{small}' -type f -print0 | xargs -0 -P{cpus} sha256sum > '{out}/small.sums'"
        best(1, pipeline, shell=True)  # warm-up
        pipe_wall, pipe_cpu = best(args.runs, pipeline, shell=True)
        small_wall, small_cpu = best(args.runs, capture("small", small, "--no-cache"), environment)
        small_section = section(os.path.join(out, "small.json"))
        assert small_section["data"]["small"]["fileCount"] == args.small_files

        # 3. The stat cache: first capture (writes the cache), then unchanged re-captures.
        cache = {}
        for name, path in (("big", big), ("small", small), ("medium", medium)):
            first_wall, _ = timed(capture(name, path), environment)
            again_wall, _ = best(args.runs, capture(name, path), environment)
            statistics = section(os.path.join(out, f"{name}.json"))["volatile"][name]
            assert statistics["filesRead"] == 0, statistics
            cache[name] = (first_wall, again_wall)
        load_after = os.getloadavg()

        gb = big_bytes / 1e9
        print(f"provenance dataset hashing ({cpus} CPUs; load average {load_before[0]:.1f} before, "
              f"{load_after[0]:.1f} after; best of {args.runs})")
        print()
        print(f"{'':34} {'provenance':>22} {'reference':>36} {'ratio':>8} {'target':>8}")
        print(f"{f'{args.big_files} x {args.big_gib} GiB, warm, wall':34} {gb / big_wall:17.2f} GB/s "
              f"{f'openssl {per_core / 1e9:.2f} GB/s x {cpus} = {ceiling / 1e9:.2f}':>31} GB/s "
              f"{gb / big_wall / (ceiling / 1e9):7.0%} {'>= 90%':>8}")
        print(f"{'  hashing only (section duration)':34} {gb / (big_hash_ms / 1000):17.2f} GB/s "
              f"{'':36} {gb / (big_hash_ms / 1000) / (ceiling / 1e9):7.0%}")
        print(f"{'  per CPU-second (user + system)':34} {gb / big_cpu:17.2f} GB/s "
              f"{f'openssl {per_core / 1e9:.2f}':>31} GB/s {gb / big_cpu / (per_core / 1e9):7.0%}")
        print(f"{f'{args.small_files:,} x 1 KiB, warm, wall':34} {args.small_files / small_wall:16,.0f} files/s "
              f"{f'find | xargs -P{cpus} sha256sum {args.small_files / pipe_wall:,.0f}':>30} files/s "
              f"{pipe_wall / small_wall:7.1f}x {'>= 3x':>8}")
        print(f"{'  CPU seconds':34} {small_cpu:20.2f} s {pipe_cpu:33.2f} s {pipe_cpu / small_cpu:7.1f}x")
        for name, label in (("big", f"{args.big_files} x {args.big_gib} GiB"), ("small", f"{args.small_files:,} x 1 KiB"),
                            ("medium", f"{args.medium_files:,} x 100 KiB")):
            first, again = cache[name]
            print(f"{f'cache re-capture, {label}':34} {again * 1000:19.0f} ms "
                  f"{f'first capture {first * 1000:,.0f}':>33} ms {first / again:7.0f}x {'>= 50x':>8}")
    finally:
        if args.keep:
            print(f"data kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
