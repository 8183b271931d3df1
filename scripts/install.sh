#!/usr/bin/env bash
# Builds provenance (release, static Swift runtime) and installs it with its man pages, shell
# completions, the Slurm job prolog and the trace interposer.
# Usage: scripts/install.sh [PREFIX]   (default /usr/local)
#   PREFIX/bin/provenance
#   PREFIX/share/man/man1/provenance*.1                      (docs/man: generated, scripts/generate-man.sh)
#   PREFIX/share/bash-completion/completions/provenance       (bash-completion loads it on demand)
#   PREFIX/share/zsh/site-functions/_provenance
#   PREFIX/share/fish/vendor_completions.d/provenance.fish
#   PREFIX/lib/provenance/slurm-prolog.sh                     (docs/slurm.md)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${1:-/usr/local}"

scripts/install-deps.sh
build() { swift build -c release --static-swift-stdlib --scratch-path .build-release --product provenance; }
build
# The binary loads libpci (with zlib) and glibc only. A build directory from before a library
# was linked statically keeps objects whose link flags still name its shared library (SwiftPM
# does not rebuild them when a module map changes): such a build is made again from scratch.
if readelf -d .build-release/release/provenance | grep NEEDED \
    | grep -vqE '\[(libpci\.so\.3|libm\.so\.6|libz\.so\.1|libc\.so\.6|ld-linux-[a-z0-9_-]+\.so\.[0-9])\]'; then
    echo "the build in .build-release predates the libraries linked statically: building again from scratch" >&2
    rm -rf .build-release
    build
fi
# The interposer of `provenance run --trace`, found by the binary in ../lib/provenance/.
swift build -c release --static-swift-stdlib --scratch-path .build-release --product provenance-trace
sudo=""
[[ -w "$prefix" || $(id -u) -eq 0 ]] || sudo="sudo"
binary=.build-release/release/provenance
$sudo install -D -m 0755 "$binary" "$prefix/bin/provenance"
$sudo install -D -m 0644 .build-release/release/libprovenance-trace.so "$prefix/lib/provenance/libprovenance-trace.so"
$sudo install -d "$prefix/share/man/man1"
$sudo install -m 0644 docs/man/*.1 "$prefix/share/man/man1/"
completions=$(mktemp -d)
trap 'rm -rf "$completions"' EXIT
"$binary" --generate-completion-script bash > "$completions/provenance"
"$binary" --generate-completion-script zsh > "$completions/_provenance"
"$binary" --generate-completion-script fish > "$completions/provenance.fish"
$sudo install -D -m 0644 "$completions/provenance" "$prefix/share/bash-completion/completions/provenance"
$sudo install -D -m 0644 "$completions/_provenance" "$prefix/share/zsh/site-functions/_provenance"
$sudo install -D -m 0644 "$completions/provenance.fish" "$prefix/share/fish/vendor_completions.d/provenance.fish"
$sudo install -D -m 0755 scripts/slurm-prolog.sh "$prefix/lib/provenance/slurm-prolog.sh"
if command -v mandb >/dev/null && [[ "$prefix" == /usr/local ]]; then $sudo mandb -q 2>/dev/null || true; fi
echo "installed $prefix/bin/provenance ($("$prefix/bin/provenance" --version)), its man pages, completions and trace interposer"
