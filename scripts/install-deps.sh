#!/usr/bin/env bash
# Installs the system packages provenance needs to build and test on Debian 12.
# Usage: scripts/install-deps.sh [--test]   (--test adds what the test suite uses)
set -euo pipefail

packages=(pkg-config ca-certificates)
if [[ "${1:-}" == "--test" ]]; then
    # procps: ps for the process-group tests; util-linux: lscpu to cross-check the cpu probe;
    # python3-jsonschema: an independent JSON Schema validator for the manifests.
    # slurm-wlm: a real three-node Slurm cluster on loopback for the prolog/srun/audit test.
    packages+=(procps util-linux python3 python3-jsonschema slurm-wlm)
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq -o DPkg::Lock::Timeout=900
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=900 "${missing[@]}"
fi

if [[ "${1:-}" == "--test" ]] && ! python3 -c 'import jsonschema' 2>/dev/null; then
    # python3 on PATH is not Debian's (pyenv, venv): give it jsonschema too.
    python3 -m pip install --quiet jsonschema
fi
