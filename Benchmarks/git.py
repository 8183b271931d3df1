#!/usr/bin/env python3
"""Speed of `provenance capture` in and out of git repositories, side by side with references.

Not a test: it prints figures (issue "Fast in a repository"). In one run, each pair measured
alternately (ours, reference, ours, ...) so both see the same machine load:

  1. all default probes (`provenance capture`) in this checkout against Sacred's `host_info`
     (`python -c 'from sacred.host_info import get_host_info; get_host_info()'`, Sacred installed
     from the package index into a throwaway venv: a process start, as ours);
  2. all default probes outside any repository (a temporary directory), same reference;
  3. the git section alone (`capture --only git --repo R`) against the git CLI doing the same work,
     one process after the other: `git rev-parse HEAD`, `git status --porcelain=v2 -uall`,
     `git describe --tags --dirty`, and the patch with untracked files (`git diff HEAD --binary
     --full-index --no-renames` on a copy of the index where untracked files were added with
     `git add -N`, as the patch provenance stores includes them), on:
       - this checkout, as it is;
       - a generated repository of 50,000 files (500 directories), with 20 changes (15 modified,
         5 untracked);
       - real source trees: sdists of well-known packages from the package index (pinned
         versions), each unpacked and committed into a repository, clean and then dirty (20
         modified files, 2 untracked).
     Every pair is also checked for agreement: the same patch bytes (sha256) as git's, and
     the same status counts.

Our captures keep their caches in the scratch directory (XDG_CACHE_HOME). Each figure of ours is
given twice: as a researcher's repeated captures see it (the repository's state remembered by
the git state cache after two captures of it; the warm-up runs do that) and with the state
forgotten before every run (libgit2 reads the repository: a first capture, or one after a change).

Usage: Benchmarks/git.py [--runs N] [--skip-sacred] [--skip-sdists] [--keep]

Builds the release binary (static Swift runtime, as scripts/install.sh does, scratch path
.build-release) unless PROVENANCE_BIN names one. Prints medians (ms), the ratio ours/reference
(below 1: ours is faster) and the load average before and after; under each row, the median
CPU time (user + system of the processes, less sensitive to other load on the machine than the
wall clock) of both.
"""
import argparse
import json
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SDISTS = ["requests==2.32.3", "Django==5.1.4"]
GIT_ENV = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com", GIT_CONFIG_NOSYSTEM="1")


def build():
    binary = (os.path.abspath(os.environ["PROVENANCE_BIN"]) if os.environ.get("PROVENANCE_BIN") else None)
    if binary:
        return binary
    subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--scratch-path", ".build-release",
                    "--product", "provenance"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    return os.path.join(root, ".build-release/release/provenance")


def sh(script, cwd):
    subprocess.run(["sh", "-ec", script], cwd=cwd, check=True, env=GIT_ENV, stdout=subprocess.DEVNULL)


def wall(function):
    return timed(function)[0]


def timed(function):
    """Wall and CPU (user + system of the processes it waited for) milliseconds of one call."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    function()
    elapsed = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return elapsed, cpu


CPU = []  # (name, ours, reference) CPU medians, printed at the end


def side_by_side(runs, ours, reference, warm=3):
    """Median wall milliseconds of two callables, run alternately (their CPU medians go to CPU)."""
    for _ in range(warm):
        ours()
        reference()
    a, b, ca, cb = [], [], [], []
    for _ in range(runs):
        w, c = timed(ours)
        a.append(w)
        ca.append(c)
        w, c = timed(reference)
        b.append(w)
        cb.append(c)
    CPU.append((statistics.median(ca), statistics.median(cb)))
    return statistics.median(a), statistics.median(b)


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def row(name, ours, reference, label):
    cpu = CPU[-1] if CPU else (0.0, 0.0)
    print(f"  {name:<44} {ours:8.1f} {reference:9.1f}  {ours / reference:6.2f}   {label}\n"
          f"  {'  CPU (user + system)':<44} {cpu[0]:8.1f} {cpu[1]:9.1f}  {cpu[0] / max(cpu[1], 0.001):6.2f}", flush=True)


def git_cli(repository, scratch):
    """The git CLI doing what the git probe does: one process after the other."""
    index = os.path.join(scratch, "index")
    # The repository's index (in a linked worktree .git is a file naming the git directory).
    source = os.path.join(repository, subprocess.run(["git", "rev-parse", "--git-path", "index"], cwd=repository,
                                                     check=True, stdout=subprocess.PIPE, text=True).stdout.strip())

    def run():
        def git(*arguments, env=None):
            return subprocess.run(["git", *arguments], cwd=repository, env=env, check=False,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
        git("rev-parse", "HEAD")
        git("status", "--porcelain=v2", "-uall")
        git("describe", "--tags", "--dirty")
        # The patch with untracked files: intent-to-add them on a copy of the index.
        shutil.copyfile(source, index)
        environment = dict(os.environ, GIT_INDEX_FILE=index)
        git("add", "-N", "--all", env=environment)
        return git("diff", "HEAD", "--binary", "--full-index", "--no-renames", env=environment)
    return run


# Our captures keep their caches here (the git state cache, the command cache), not in ~/.cache.
OURS_ENV = dict(os.environ)


def forget_git_states():
    """Removes the git state caches (GitStateCache): the next capture reads the repository with libgit2."""
    directory = os.path.join(OURS_ENV["XDG_CACHE_HOME"], "provenance")
    for name in os.listdir(directory) if os.path.isdir(directory) else []:
        if name.startswith("git-") and name.endswith(".cache"):
            os.remove(os.path.join(directory, name))


def ours_git(binary, repository, output, remembered=True):
    """`capture --only git`; remembered=False forgets the git state before each run (libgit2 reads it)."""
    command = [binary, "capture", "-q", "--only", "git", "--repo", repository, "-o", output]

    def run():
        if not remembered:
            forget_git_states()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=OURS_ENV)
    return run


def agreement(binary, repository, scratch):
    """Whether our patch has git's bytes (untracked files included) and our counts git's."""
    output = os.path.join(scratch, "check.json")
    subprocess.run([binary, "capture", "-q", "--only", "git", "--repo", repository, "-o", output], check=True,
                   env=OURS_ENV)
    # The patch is named by its digest (check.diff.HEX12.patch): the manifest's attachments say which.
    attachments = json.load(open(output)).get("attachments", {})
    names = [a["file"] for a in attachments.values() if "file" in a]
    patch_path = os.path.join(scratch, names[0]) if names else os.path.join(scratch, "none")
    ours = open(patch_path, "rb").read() if os.path.exists(patch_path) else b""
    theirs = git_cli(repository, scratch)()
    if os.path.exists(patch_path):
        os.remove(patch_path)
    if hashlib.sha256(ours).digest() == hashlib.sha256(theirs).digest():
        return "same patch bytes"
    # libgit2 and git compress binary hunks (zlib) each in its own way; the rest must be equal.
    if without_binary_hunks(ours) == without_binary_hunks(theirs):
        return "same patch bytes but the zlib data of binary hunks"
    return f"PATCH DIFFERS ({len(ours)} vs {len(theirs)} bytes)"


def without_binary_hunks(patch):
    """The patch without the data of its binary hunks (from "GIT binary patch" to the next file)."""
    kept, inside = [], False
    for line in patch.split(b"\n"):
        if line.startswith(b"diff --git "):
            inside = False
        if not inside:
            kept.append(line)
        if line == b"GIT binary patch":
            inside = True
    return b"\n".join(kept)


def generated_repository(path, files=50_000, directories=500):
    os.makedirs(path)
    for d in range(directories):
        os.makedirs(os.path.join(path, f"d{d:03}"))
        for f in range(files // directories):
            with open(os.path.join(path, f"d{d:03}", f"f{f:03}.txt"), "w") as handle:
                handle.write(f"file {d} {f}\n" * 4)
    sh("git init -q -b main . && git add -A && git commit -q -m generated && git tag v1", path)
    make_dirty(path, modified=15, untracked=5)


def make_dirty(path, modified, untracked):
    tracked = subprocess.run(["git", "ls-files"], cwd=path, check=True, stdout=subprocess.PIPE,
                             text=True).stdout.split("\n")
    tracked = [t for t in tracked if t and os.path.isfile(os.path.join(path, t))
               and not os.path.islink(os.path.join(path, t))]
    step = max(1, len(tracked) // modified)
    for name in tracked[::step][:modified]:
        with open(os.path.join(path, name), "ab") as handle:
            handle.write(b"\n# a local change\n")
    for n in range(untracked):
        with open(os.path.join(path, f"untracked-{n}.txt"), "w") as handle:
            handle.write(f"untracked {n}\n")


def sdist_repositories(scratch):
    downloads = os.path.join(scratch, "sdists")
    names = ",".join(requirement.split("==")[0] for requirement in SDISTS)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", names,
                    "-d", downloads, *SDISTS], check=True)
    repositories = []
    for archive in sorted(os.listdir(downloads)):
        target = os.path.join(scratch, "src-" + archive.split("-")[0].lower())
        os.makedirs(target)
        subprocess.run(["tar", "-xzf", os.path.join(downloads, archive), "-C", target, "--strip-components=1"],
                       check=True)
        sh("git init -q -b main . && git add -Af && git commit -q -m sdist && git tag v1", target)
        repositories.append((archive.rsplit(".tar", 1)[0], target))
    return repositories


def sacred(scratch):
    venv = os.path.join(scratch, "sacred-venv")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([os.path.join(venv, "bin/pip"), "install", "-q", "sacred"], check=True)
    python = os.path.join(venv, "bin/python")
    command = [python, "-c", "from sacred.host_info import get_host_info; get_host_info()"]
    return lambda cwd: (lambda: subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--skip-sacred", action="store_true")
    parser.add_argument("--skip-sdists", action="store_true")
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()
    binary = build()
    scratch = tempfile.mkdtemp(prefix="provenance-bench-git-")
    try:
        print(f"load average before: {load()}   runs per figure: {options.runs} (medians, ms)")
        print(f"  {'':<44} {'ours':>8} {'reference':>9}  {'ratio':>6}   reference")
        output = os.path.join(scratch, "env.json")
        outside = os.path.join(scratch, "outside")
        os.makedirs(outside)
        OURS_ENV["XDG_CACHE_HOME"] = os.path.join(scratch, "cache")

        def ours_all(cwd, remembered=True):
            def run():
                if not remembered:
                    forget_git_states()
                subprocess.run([binary, "capture", "-q", "-o", output], cwd=cwd, check=True, env=OURS_ENV)
            return run
        # Files changed within 50 ms of a capture are not trusted by the git state cache.
        time.sleep(0.1)
        if not options.skip_sacred:
            host_info = sacred(scratch)
            a, b = side_by_side(options.runs, ours_all(root), host_info(root))
            row("all default probes, this checkout", a, b, "Sacred host_info")
            print(f"  {'':<44} Sacred host_info / ours: {b / a:.1f}x")
            a, b = side_by_side(options.runs, ours_all(root, remembered=False), host_info(root))
            row("  the same, git state not remembered", a, b, "Sacred host_info")
            print(f"  {'':<44} Sacred host_info / ours: {b / a:.1f}x")
            a, b = side_by_side(options.runs, ours_all(outside), host_info(outside))
            row("all default probes, outside a repository", a, b, "Sacred host_info")
            print(f"  {'':<44} Sacred host_info / ours: {b / a:.1f}x")
        else:
            for name, cwd, remembered in [("this checkout", root, True), ("this checkout, not remembered", root, False),
                                          ("outside a repository", outside, True)]:
                for _ in range(3):
                    ours_all(cwd, remembered)()
                times = sorted(wall(ours_all(cwd, remembered)) for _ in range(options.runs))
                print(f"  all default probes, {name:<24} {statistics.median(times):8.1f}")

        repositories = [("this checkout", root)]
        generated = os.path.join(scratch, "generated")
        generated_repository(generated)
        repositories.append(("50,000 files, 20 changes", generated))
        sdists = [] if options.skip_sdists else sdist_repositories(scratch)
        for name, path in sdists:
            files = int(subprocess.run(["git", "ls-files"], cwd=path, stdout=subprocess.PIPE, text=True,
                                       check=True).stdout.count("\n"))
            repositories.append((f"{name} ({files} files), clean", path))
        # Clean first, then the same trees made dirty.
        for name, path in sdists:
            repositories.append((f"{name}, dirty (20 changes + 2 untracked)", path, "dirty"))
        for name, path, *dirty in [(r + ("",))[:3] if len(r) == 2 else r for r in repositories]:
            if dirty and dirty[0] == "dirty":
                make_dirty(path, modified=20, untracked=2)
            # The files just written reach the disk first: the manifest's fsync (ours) would
            # otherwise wait for their write-back (tens of ms after the 50,000-file repository).
            os.sync()
            # Files changed within 50 ms of a capture are not trusted by the git state cache.
            time.sleep(0.1)
            a, b = side_by_side(options.runs, ours_git(binary, path, output), git_cli(path, scratch))
            row("git section: " + name, a, b, "git CLI; " + agreement(binary, path, scratch))
            a, b = side_by_side(options.runs, ours_git(binary, path, output, remembered=False), git_cli(path, scratch))
            row("  the same, git state not remembered", a, b, "git CLI")
        print(f"load average after: {load()}")
    finally:
        if options.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
