#!/usr/bin/env bash
# Regenerates the man pages in docs/man from the command definitions, with swift-argument-parser's
# generate-manual (offline: it runs `provenance --experimental-dump-help` and writes mdoc).
# ManPagesTests fails when a page no longer matches the commands; run this and commit docs/man.
# Usage: scripts/generate-man.sh [DATE]   (default: the date of the last commit, so reruns are stable)
set -euo pipefail
cd "$(dirname "$0")/.."
date="${1:-$(git log -1 --format=%cs)}"
arguments=(--multi-page --date "$date" --authors "the provenance authors")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The plugin (`swift package generate-manual`) builds every product first, which on a busy 2-core
# machine took over 15 minutes; building the tool and the binary alone takes seconds when warm.
# Both run the same generate-manual tool with the same arguments.
swift build --product provenance
swift build --product generate-manual
bin=$(swift build --show-bin-path)
# `swift build --product generate-manual` names the tool generate-manual; the plugin, generate-manual-tool.
tool="$bin/generate-manual"
[[ -x "$bin/generate-manual-tool" ]] && tool="$bin/generate-manual-tool"
"$tool" "$bin/provenance" "${arguments[@]}" --output-directory "$out"
rm -rf docs/man && mkdir -p docs/man
cp "$out"/*.1 docs/man/
rm -f docs/man/provenance.help.1     # `provenance help` is ArgumentParser's, not a command of ours
ls docs/man
