#!/usr/bin/env bash
# Builds provenance (release, static Swift runtime) and installs it as /usr/local/bin/provenance.
# Usage: scripts/install.sh [PREFIX]   (default /usr/local)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${1:-/usr/local}"

scripts/install-deps.sh
swift build -c release --static-swift-stdlib --scratch-path .build-release --product provenance
sudo=""
[[ -w "$prefix/bin" || $(id -u) -eq 0 ]] || sudo="sudo"
$sudo install -D -m 0755 .build-release/release/provenance "$prefix/bin/provenance"
echo "installed $prefix/bin/provenance ($("$prefix/bin/provenance" --version))"
