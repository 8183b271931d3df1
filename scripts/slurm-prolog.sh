#!/bin/sh
# Slurm job prolog: captures this node's environment before each job, into
#   $PROVENANCE_DIR/$SLURM_JOB_ID/$SLURMD_NODENAME.json
# then `provenance audit $PROVENANCE_DIR/$SLURM_JOB_ID` shows the nodes that differ.
#
# slurm.conf:   Prolog=/path/to/slurm-prolog.sh
#               PrologFlags=Alloc      (run on every allocated node at allocation time)
# Settings (slurmd gives the prolog a minimal environment, so they come from a file):
#   /etc/provenance/prolog.conf (or $PROVENANCE_PROLOG_CONF), shell syntax, e.g.
#     PROVENANCE=/usr/local/bin/provenance
#     PROVENANCE_DIR=/shared/provenance      # on a file system all nodes and the audit see
#     PROVENANCE_TIMEOUT=30                  # the whole capture, in seconds
#     PROVENANCE_ARGS="--env MYLAB_*"        # extra `capture` options
# It never fails the job (a failing prolog drains the node): it always exits 0, and the
# capture is bounded by `timeout`.
conf=${PROVENANCE_PROLOG_CONF:-/etc/provenance/prolog.conf}
# shellcheck disable=SC1090
[ -r "$conf" ] && . "$conf" 2>/dev/null
PROVENANCE=${PROVENANCE:-provenance}
PROVENANCE_DIR=${PROVENANCE_DIR:-/var/spool/provenance}
PROVENANCE_TIMEOUT=${PROVENANCE_TIMEOUT:-30}
[ -n "$SLURM_JOB_ID" ] && [ -n "$SLURMD_NODENAME" ] || exit 0
case "$SLURM_JOB_ID$SLURMD_NODENAME" in */*|..*) exit 0 ;; esac
dir="$PROVENANCE_DIR/$SLURM_JOB_ID"
mkdir -p "$dir" 2>/dev/null || exit 0
# shellcheck disable=SC2086
timeout -k 2 "$PROVENANCE_TIMEOUT" "$PROVENANCE" capture -q --timeout 5 $PROVENANCE_ARGS \
    -o "$dir/$SLURMD_NODENAME.json" </dev/null >/dev/null 2>"$dir/$SLURMD_NODENAME.log" || true
[ -s "$dir/$SLURMD_NODENAME.log" ] || rm -f "$dir/$SLURMD_NODENAME.log"
exit 0
