#!/usr/bin/env python3
"""Overhead of `provenance run --trace` on a job, side by side with strace.

Not a test: it prints figures. The job: a Python script in a throwaway venv that imports numpy and
reads 10,000 small files (1 KiB each, in 100 directories), summing their bytes with numpy. In one
run, interleaved, R times each (medians printed):

  1. untraced: the job alone;
  2. traced: the job with the interposer preloaded (LD_PRELOAD + PROVENANCE_TRACE_DIR), exactly as
     `provenance run --trace` starts it; the target is <= 5% over untraced;
  3. strace: `strace -f -e trace=file -o /dev/null` on the job, for scale;
  4. after the job, separately: `provenance run --trace` end to end against `provenance run`, and
     the time it reported digesting the inputs and outputs (run.json `trace.digestMs`).

Usage: Benchmarks/trace.py [--files N] [--runs R] [--keep]

Uses the binary and library of the debug build (.build/debug) unless PROVENANCE_BIN names a
binary (the library is looked for beside it, then in ../lib/provenance/). Needs network access to
the package index once (numpy into the venv; pip's cache serves later runs) and strace.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

JOB = """
import os, sys
import numpy as np
total = 0
for directory in sorted(os.listdir(sys.argv[1])):
    for name in sorted(os.listdir(os.path.join(sys.argv[1], directory))):
        with open(os.path.join(sys.argv[1], directory, name), "rb") as f:
            total += int(np.frombuffer(f.read(), dtype=np.uint8).sum())
with open(sys.argv[2], "w") as f:
    f.write(str(total))
"""


def locate():
    binary = (os.path.abspath(os.environ["PROVENANCE_BIN"]) if os.environ.get("PROVENANCE_BIN") else None) or os.path.join(root, ".build/debug/provenance")
    here = os.path.dirname(os.path.realpath(binary))
    for library in [os.path.join(here, "libprovenance-trace.so"),
                    os.path.join(here, "../lib/provenance/libprovenance-trace.so")]:
        if os.path.exists(library):
            return binary, os.path.realpath(library)
    sys.exit(f"no libprovenance-trace.so beside {binary}: build first (swift build)")


def timed(command, environment):
    start = time.perf_counter()
    subprocess.run(command, check=True, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--keep", action="store_true")
    arguments = parser.parse_args()
    binary, library = locate()
    base = tempfile.mkdtemp(prefix="provenance-trace-bench-")
    trace_dir = None
    try:
        venv = os.path.join(base, "venv")
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([venv + "/bin/pip", "install", "-q", "numpy"], check=True)
        python = venv + "/bin/python"
        data = os.path.join(base, "data")
        for index in range(arguments.files):
            directory = os.path.join(data, "d%03d" % (index % 100))
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, "f%05d" % index), "wb") as f:
                f.write(os.urandom(1024))
        script = os.path.join(base, "job.py")
        with open(script, "w") as f:
            f.write(JOB)
        result = os.path.join(base, "result.txt")
        job = [python, script, data, result]
        plain = dict(os.environ)
        # Where provenance puts the segments (memory), as `run --trace` does.
        trace_dir = tempfile.mkdtemp(prefix="provenance-trace-bench-", dir="/dev/shm")
        traced = dict(os.environ, LD_PRELOAD=library, PROVENANCE_TRACE_DIR=trace_dir)
        strace = ["strace", "-f", "-e", "trace=file", "-o", "/dev/null"] + job

        timed(job, plain)  # warm the page cache and numpy's bytecode
        times = {"untraced": [], "traced": [], "strace": []}
        for _ in range(arguments.runs):
            times["untraced"].append(timed(job, plain))
            shutil.rmtree(trace_dir, ignore_errors=True)
            os.mkdir(trace_dir)
            times["traced"].append(timed(job, traced))
            times["strace"].append(timed(strace, plain))
        segments = 0
        for name in os.listdir(trace_dir):
            with open(os.path.join(trace_dir, name), "rb") as f:
                segments += int.from_bytes(f.read(16)[8:16], "little")  # the header's used count

        # End to end, with the capture and the digests after the job.
        end_to_end = {"run": [], "run --trace": []}
        digest_ms = []
        for index in range(max(3, arguments.runs // 3)):
            out = os.path.join(base, "runs", str(index))
            end_to_end["run"].append(timed([binary, "run", "--out", out + "-plain", "--"] + job, plain))
            end_to_end["run --trace"].append(timed([binary, "run", "--trace", "--out", out, "--"] + job, plain))
            with open(os.path.join(out, "run.json")) as f:
                record = json.load(f)["trace"]
            digest_ms.append(record["digestMs"])
        inputs = len(record["inputs"])

        median = {name: statistics.median(values) for name, values in times.items()}
        print(f"job: import numpy, read {arguments.files} files of 1 KiB; {arguments.runs} runs each, medians")
        print(f"{'':24} {'seconds':>8} {'vs untraced':>12}")
        for name in ["untraced", "traced", "strace"]:
            print(f"{name:24} {median[name]:8.3f} {median[name] / median['untraced'] * 100 - 100:+11.1f}%")
        print(f"trace written by the interposer in the last traced run: {segments / 1e6:.2f} MB")
        print(f"provenance run           {statistics.median(end_to_end['run']):8.3f} s (capture + job)")
        print(f"provenance run --trace   {statistics.median(end_to_end['run --trace']):8.3f} s "
              f"(capture + job + digests); digesting {inputs} inputs and outputs after the job: "
              f"{statistics.median(digest_ms):.0f} ms (median)")
        print(f"load average: {os.getloadavg()[0]:.2f}")
    finally:
        if arguments.keep:
            print("kept", base)
        else:
            shutil.rmtree(base, ignore_errors=True)
        if trace_dir:
            shutil.rmtree(trace_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
