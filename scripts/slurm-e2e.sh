#!/usr/bin/env bash
# End-to-end: a real Slurm cluster of three nodes on loopback (slurm-wlm, one slurmd per node,
# see /work/shared/INFRA.md), the prolog and an srun capture on every node, then an audit.
# Usage: scripts/slurm-e2e.sh PATH/TO/provenance
# Node drift: all three nodes share this machine, so node3's task gets OMP_NUM_THREADS=1 (an
# allow-listed variable) through the step's per-task program file (srun --multi-prog).
# Exit 0 when the audit names node3 and the variable; prints the reports. Every daemon is stopped
# by its pid file at the end, even on failure.
set -euo pipefail
bin=$(readlink -f "$1")
repo=$(cd "$(dirname "$0")/.." && pwd)
BASE=$(mktemp -d /tmp/provenance-slurm.XXXXXX)
mkdir -p "$BASE"/{state,spool,run,log,prolog,srun}
host=$(hostname)
port0=$((20000 + RANDOM % 30000))

stop() {
    for pidfile in "$BASE"/run/*.pid; do
        [ -e "$pidfile" ] || continue
        pid=$(cat "$pidfile" 2>/dev/null || true)
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    for _ in $(seq 50); do
        alive=0
        for pidfile in "$BASE"/run/*.pid; do
            [ -e "$pidfile" ] || continue
            pid=$(cat "$pidfile" 2>/dev/null || true)
            [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1
        done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for pidfile in "$BASE"/run/*.pid; do
        [ -e "$pidfile" ] || continue
        pid=$(cat "$pidfile" 2>/dev/null || true)
        [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    done
    [ "${KEEP_BASE:-}" ] || rm -rf "$BASE"
}
trap stop EXIT

cat > "$BASE/prolog.sh" <<PROLOG
#!/bin/sh
PROVENANCE_PROLOG_CONF=$BASE/prolog.conf exec $repo/scripts/slurm-prolog.sh
PROLOG
chmod +x "$BASE/prolog.sh"
printf 'PROVENANCE=%s\nPROVENANCE_DIR=%s\nPROVENANCE_TIMEOUT=30\n' "$bin" "$BASE/prolog" > "$BASE/prolog.conf"

cat > "$BASE/slurm.conf" <<CONF
ClusterName=provtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port0
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool/slurmd-%n
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd-%n.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
InactiveLimit=0
KillWait=5
Prolog=$BASE/prolog.sh
PrologFlags=Alloc
NodeName=node1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((port0 + 1)) CPUs=2 RealMemory=2000 State=UNKNOWN
NodeName=node2 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((port0 + 2)) CPUs=2 RealMemory=2000 State=UNKNOWN
NodeName=node3 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((port0 + 3)) CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=all Nodes=node[1-3] Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF=$BASE/slurm.conf
slurmctld -f "$SLURM_CONF"
for n in node1 node2 node3; do slurmd -f "$SLURM_CONF" -N $n; done
for _ in $(seq 100); do
    [ "$(sinfo -h -N -o '%t' 2>/dev/null | grep -c idle || true)" = 3 ] && break
    sleep 0.1
done
sinfo -N

# The prolog: one manifest per node, named by job id and node name.
job=$(timeout 60 srun -N3 --ntasks-per-node=1 sh -c 'echo $SLURM_JOB_ID' | head -1)
echo "job $job: prolog wrote: $(ls "$BASE/prolog/$job")"
for n in node1 node2 node3; do test -s "$BASE/prolog/$job/$n.json"; done
"$bin" audit --name-by file "$BASE/prolog/$job"          # the same host three times: agree (exit 0)

# srun: one task per node, each writes DIR/$SLURMD_NODENAME.json (srun's %n is for --output only).
cat > "$BASE/multi.conf" <<MULTI
0-1 sh -c 'exec "$bin" capture -q -o "$BASE/srun/\$SLURMD_NODENAME.json"'
2   env OMP_NUM_THREADS=1 sh -c 'exec "$bin" capture -q -o "$BASE/srun/\$SLURMD_NODENAME.json"'
MULTI
timeout 60 srun -N3 --ntasks-per-node=1 --multi-prog "$BASE/multi.conf"
status=0
"$bin" audit --name-by file "$BASE/srun" > "$BASE/report.txt" || status=$?
cat "$BASE/report.txt"
test $status = 2
grep -q '^environment.variables.OMP_NUM_THREADS$' "$BASE/report.txt"
grep -q 'outlier   "1"  (1): node3$' "$BASE/report.txt"

# srun's own file patterns in --output: %n is the node's index in the job (0.json, 1.json, 2.json);
# %N is the host name, which one host running three slurmd shares (all three would write one
# file), so here only %n is checked. The manifest goes to standard output with `-o -`.
mkdir -p "$BASE/out"
timeout 60 srun -N3 --ntasks-per-node=1 -o "$BASE/out/%n.json" "$bin" capture -q -o -
for n in 0 1 2; do test -s "$BASE/out/$n.json"; done
"$bin" audit --name-by file "$BASE/out" > /dev/null
echo "slurm end-to-end: ok"
