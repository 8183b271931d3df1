#!/usr/bin/env bash
# End-to-end: a real Slurm cluster of four nodes on loopback (slurm-wlm, one slurmd per node, see
# /work/shared/INFRA.md), the prolog and an srun capture on every node, then an audit.
# Usage: scripts/slurm-e2e.sh PATH/TO/provenance          (root; needs slurm-wlm, podman, busybox-static)
#
# Node drift: all four nodes share this machine, so each node's srun task runs the capture inside
# a podman image of its own, built here without a registry: busybox-static plus the release files
# of a recorded machine (Fixtures/machines/os-distro-*: real os-release files). node1 and node2
# run the same image (debian13), node3 another (rocky9), node4 a third (ubuntu24). The provenance
# binary and its shared libraries are bound read-only into the containers (as
# Tests/EndToEndTests/ContainerTests.swift does). The manifests land in SHARED/JOBID/NODE.json.
# Exit 0 when the audit groups node1 with node2 and names node3 and node4 with their os-release
# and image fields; prints the reports. Every daemon is stopped by its pid file at the end, the
# podman store is removed, even on failure.
set -euo pipefail
bin=$(readlink -f "$1")
repo=$(cd "$(dirname "$0")/.." && pwd)
BASE=$(mktemp -d /tmp/provenance-slurm.XXXXXX)
mkdir -p "$BASE"/{state,spool,run,log,prolog,shared,out,podman}
host=$(hostname)
port0=$((20000 + RANDOM % 30000))
nodes=(node1 node2 node3 node4)
declare -A image_of=([node1]=debian13 [node2]=debian13 [node3]=rocky9 [node4]=ubuntu24)

# Podman as INFRA.md says works here: runc, cgroupfs, file events, raised ulimits; the store and
# libpod's runtime directory in $BASE, passed as flags (nothing shared with other podman users).
export CONTAINERS_CONF=$repo/scripts/podman-containers.conf
podman=(podman --root "$BASE/podman/root" --runroot "$BASE/podman/runroot" --tmpdir "$BASE/podman/tmp")

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
    if [ -d "$BASE/podman/root" ]; then
        "${podman[@]}" rm --all --force >/dev/null 2>&1 || true
        "${podman[@]}" rmi --all --force >/dev/null 2>&1 || true
        # Podman may leave its store's mounts behind: unmount them, deepest first.
        awk -v base="$BASE/" 'index($5, base) == 1 {print $5}' /proc/self/mountinfo | sort -r |
            while read -r mount; do umount -l "$mount" 2>/dev/null || true; done
    fi
    [ "${KEEP_BASE:-}" ] || rm -rf "$BASE"
}
trap stop EXIT

# The images: one per recorded machine, a deterministic tar of busybox + its release files.
for machine in $(printf '%s\n' "${image_of[@]}" | sort -u); do
    rootfs=$BASE/podman/rootfs-$machine
    mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/provenance"
    cp /bin/busybox "$rootfs/bin/"
    ln -s busybox "$rootfs/bin/sh"
    cp -R "$repo/Fixtures/machines/os-distro-$machine/." "$rootfs/"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$rootfs.tar" .
    "${podman[@]}" import -q "$rootfs.tar" "localhost/provenance-e2e:$machine" > /dev/null
done
"${podman[@]}" images --format '{{.Repository}}:{{.Tag}} {{.ID}}' | sort

# The binary and every shared library `ldd` names, bound read-only at the paths it asks for.
mounts="-v $bin:/usr/local/bin/provenance:ro"
for lib in $(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    mounts="$mounts -v $(readlink -f "$lib"):$lib:ro"
done

# The srun task: this node's image, the Slurm environment passed in (the scheduler section),
# the manifest written to SHARED/JOBID/NODE.json through a bind mount.
cat > "$BASE/task.sh" <<TASK
#!/bin/sh
set -e
case "\$SLURMD_NODENAME" in
$(for n in "${nodes[@]}"; do echo "    $n) image=localhost/provenance-e2e:${image_of[$n]} ;;"; done)
    *) echo "no image for \$SLURMD_NODENAME" >&2; exit 1 ;;
esac
out=$BASE/shared/\$SLURM_JOB_ID
mkdir -p "\$out"
export CONTAINERS_CONF=$CONTAINERS_CONF
exec ${podman[*]} run --rm --network=none --privileged --env 'SLURM*' -v "\$out:/provenance" $mounts \\
    "\$image" /usr/local/bin/provenance capture -q -o "/provenance/\$SLURMD_NODENAME.json"
TASK
chmod +x "$BASE/task.sh"

cat > "$BASE/prolog.sh" <<PROLOG
#!/bin/sh
PROVENANCE_PROLOG_CONF=$BASE/prolog.conf exec $repo/scripts/slurm-prolog.sh
PROLOG
chmod +x "$BASE/prolog.sh"
printf 'PROVENANCE=%s\nPROVENANCE_DIR=%s\nPROVENANCE_TIMEOUT=30\n' "$bin" "$BASE/prolog" > "$BASE/prolog.conf"

{
    cat <<CONF
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
CONF
    for index in "${!nodes[@]}"; do
        echo "NodeName=${nodes[$index]} NodeHostname=$host NodeAddr=127.0.0.1 Port=$((port0 + 1 + index)) CPUs=2 RealMemory=2000 State=UNKNOWN"
    done
    echo "PartitionName=all Nodes=node[1-${#nodes[@]}] Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES"
} > "$BASE/slurm.conf"
export SLURM_CONF=$BASE/slurm.conf
slurmctld -f "$SLURM_CONF"
for n in "${nodes[@]}"; do slurmd -f "$SLURM_CONF" -N "$n"; done
for _ in $(seq 100); do
    [ "$(sinfo -h -N -o '%t' 2>/dev/null | grep -c idle || true)" = ${#nodes[@]} ] && break
    sleep 0.1
done
sinfo -N
count=${#nodes[@]}

# The prolog: one manifest per node, named by job id and node name, captured on the host.
job=$(timeout 60 srun -N$count --ntasks-per-node=1 sh -c 'echo $SLURM_JOB_ID' | head -1)
echo "job $job: prolog wrote: $(ls "$BASE/prolog/$job" | tr "\n" " ")"
for n in "${nodes[@]}"; do test -s "$BASE/prolog/$job/$n.json"; done
"$bin" audit --name-by file "$BASE/prolog/$job"          # the same host on every node: agree (exit 0)

# srun: one task per node, each inside its node's image, writing SHARED/JOBID/NODE.json.
timeout 120 srun -N$count --ntasks-per-node=1 "$BASE/task.sh"
job=$(ls "$BASE/shared")                                  # the one job that ran there
echo "job $job: the containers wrote: $(ls "$BASE/shared/$job" | tr "\n" " ")"
status=0
"$bin" audit --name-by file "$BASE/shared/$job" > "$BASE/report.txt" || status=$?
cat "$BASE/report.txt"
test $status = 2
grep -q '^  sha256:[0-9a-f]*  2 nodes: node1, node2$' "$BASE/report.txt"
grep -q '^os.osRelease.ID$' "$BASE/report.txt"
grep -q 'outlier   "rocky"  (1): node3$' "$BASE/report.txt"
grep -q 'outlier   "ubuntu"  (1): node4$' "$BASE/report.txt"
grep -q '^container.imageName$' "$BASE/report.txt"
grep -q 'outlier   "localhost/provenance-e2e:rocky9"  (1): node3$' "$BASE/report.txt"

# srun's own file patterns in --output: %n is the node's index in the job (0.json, 1.json, …);
# %N is the host name, which one host running several slurmd shares (all would write one file),
# so here only %n is checked. The manifest goes to standard output with `-o -`.
timeout 60 srun -N$count --ntasks-per-node=1 -o "$BASE/out/%n.json" "$bin" capture -q -o -
for index in "${!nodes[@]}"; do test -s "$BASE/out/$index.json"; done
"$bin" audit --name-by file "$BASE/out" > /dev/null
echo "slurm end-to-end: ok"
