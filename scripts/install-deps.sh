#!/usr/bin/env bash
# Installs the system packages provenance needs to build and test on Debian 12.
# Usage: scripts/install-deps.sh [--test]   (--test adds what the test suite uses)
set -euo pipefail

# libgit2-dev: the git probe reads repositories through libgit2, linked from its static archive and
# those of the -dev packages it depends on; libpci-dev, pci.ids: the pci probe; libyaml-dev: YAML policies
# and site-probe definitions (libyaml's parser, from its static archive); libstdc++-12-dev:
# libstdc++.a, which the release binary takes the Swift runtime's C++ library from (Linker/);
# binutils: readelf, with which scripts/install.sh checks the libraries the binary loads.
packages=(pkg-config ca-certificates libpci-dev pci.ids libgit2-dev libyaml-dev libstdc++-12-dev binutils)
if [[ "${1:-}" == "--test" ]]; then
    # procps: ps for the process-group tests; util-linux: lscpu to cross-check the cpu probe;
    # python3-jsonschema: an independent JSON Schema validator for the manifests; pciutils: lspci
    # to cross-check the pci probe; gcc/make: toolchain versions to compare with;
    # podman runc fuse-overlayfs uidmap catatonit busybox-static: a real container for the
    # container probe's end-to-end test (Tests/EndToEndTests/ContainerTests.swift);
    # openssl: reads the keys `provenance keygen` writes; texlive-latex-base: pdflatex compiles
    # the LaTeX `provenance render` writes; python3-pip: securesystemslib (below);
    # slurm-wlm: a real four-node Slurm cluster on loopback for the prolog/srun/audit test;
    # git and diffutils: the git probe's tests build repositories and re-apply the stored patch;
    # rocm-smi: the real tool, which says "no AMD GPU" here (gpu.amd must be absent, not failed);
    # strace: the attack suite kills a capture at a chosen rename (inject=rename:signal=SIGKILL);
    # python3-venv: throwaway venvs into which tests pip-install real wheels from the package index
    # (nvidia-cuda-runtime-cu12, six, mlflow-skinny, wandb); python3-yaml: the traced Python job of
    # Tests/EndToEndTests/TraceTests.swift reads a YAML config (busybox-static is its static program);
    # chromium: the HTML appendix is loaded headless, its DOM checked and a screenshot taken.
    packages+=(procps util-linux python3 python3-jsonschema python3-yaml pciutils gcc make
               podman runc fuse-overlayfs uidmap catatonit busybox-static
               python3-pip python3-venv openssl texlive-latex-base slurm-wlm rocm-smi git diffutils strace
               chromium)
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

if [[ "${1:-}" == "--test" ]] && ! python3 -c 'import yaml' 2>/dev/null; then
    # python3 on PATH is not Debian's: give it PyYAML too (the traced job of TraceTests).
    python3 -m pip install --quiet pyyaml
fi

if [[ "${1:-}" == "--test" ]] && ! python3 -c 'import securesystemslib.dsse, securesystemslib.signer, cryptography' 2>/dev/null; then
    # An independent DSSE implementation for Tests/Interop/dsse_interop.py (not in Debian 12).
    # Debian's own python3 is "externally managed" (PEP 668); pyenv/venv interpreters are not.
    pip_flags=()
    python3 -m pip install --help 2>/dev/null | grep -q -- --break-system-packages && \
        [[ -f "$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')/EXTERNALLY-MANAGED" ]] && \
        pip_flags+=(--break-system-packages)
    python3 -m pip install --quiet "${pip_flags[@]}" 'securesystemslib[crypto]>=1.0'
fi
