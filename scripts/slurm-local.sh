#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for tests of `--executor slurm`
# (see docs/cluster.md).
#
#   scripts/slurm-local.sh start    # munged + slurmctld + slurmd on loopback; idempotent
#   scripts/slurm-local.sh stop     # stops only what `start` started; idempotent
#   scripts/slurm-local.sh status
#
# Needs root and Debian's packages (apt-get install -y slurm-wlm munge). Exit status 2 means "refused"
# (not root, not Linux, packages missing, or a SLURM configuration that is not ours is present).
# State, logs and pid files live in $SLURM_LOCAL_DIR (default /tmp/promptgen-slurm). The job steps' srun
# only reads /etc/slurm/slurm.conf, so the configuration is written there, marked as ours, and removed by
# `stop`; a foreign /etc/slurm/slurm.conf is never touched.
set -euo pipefail

STATE="${SLURM_LOCAL_DIR:-/tmp/promptgen-slurm}"
CONF=/etc/slurm/slurm.conf
MARK="# Written by promptgen-bench scripts/slurm-local.sh; removed by 'scripts/slurm-local.sh stop'."
PARTITION="${SLURM_LOCAL_PARTITION:-debug}"

say() { echo "slurm-local: $*"; }
refuse() { say "$*" >&2; exit 2; }

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() { # stop_pidfile NAME PIDFILE: TERM, wait up to 20 s, then KILL that one pid
    local name=$1 pidfile=$2 pid i
    if alive "$pidfile"; then
        pid=$(cat "$pidfile")
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
        say "stopped $name (pid $pid)"
        STOPPED=1
    fi
    rm -f "$pidfile"
}

preflight() {
    [[ "$(uname -s)" == Linux ]] || refuse "needs Linux (this is $(uname -s))."
    [[ "$(id -u)" == 0 ]] || refuse "needs root (the daemons run as root on loopback); run it with sudo."
    local missing=()
    for c in munged munge unmunge slurmctld slurmd sinfo sbatch squeue scancel srun; do
        command -v "$c" >/dev/null || missing+=("$c")
    done
    ((${#missing[@]} == 0)) || refuse "missing ${missing[*]}; install them with: apt-get install -y slurm-wlm munge"
}

running() { alive "$STATE/slurmctld.pid" && alive "$STATE/slurmd.pid"; }

wait_idle() { # the node must come up idle (or already running jobs)
    local i state=""
    for i in $(seq 1 60); do
        state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n1 || true)
        case "$state" in idle* | mixed* | allocated*) say "node $(hostname -s) is $state"; return 0 ;; esac
        sleep 0.5
    done
    say "node did not come up (state '${state:-none}'); logs: $STATE/slurmctld.log $STATE/slurmd.log" >&2
    return 1
}

start() {
    preflight
    if running; then
        say "already running (state in $STATE)"
        wait_idle
        return 0
    fi
    if [[ -f "$CONF" ]] && ! grep -qF "$MARK" "$CONF"; then
        refuse "$CONF exists and was not written by this script; not touching a configured SLURM."
    fi
    mkdir -p "$STATE"/{state,spool}
    # Leftovers of an earlier run that was not stopped cleanly (only our own pid files).
    stop_pidfile slurmd "$STATE/slurmd.pid"
    stop_pidfile slurmctld "$STATE/slurmctld.pid"

    # munge: reuse a running munged (the system's or ours); otherwise start one and remember that we did.
    if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        if [[ ! -s /etc/munge/munge.key ]]; then
            mkdir -p /etc/munge
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
            chown munge:munge /etc/munge/munge.key 2>/dev/null || true
            chmod 400 /etc/munge/munge.key
            say "created /etc/munge/munge.key"
        fi
        mkdir -p /run/munge /var/log/munge /var/lib/munge
        chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
        munged --force --pid-file="$STATE/munged.pid" --log-file="$STATE/munged.log"
        for _ in $(seq 1 20); do [[ -s "$STATE/munged.pid" ]] && break; sleep 0.25; done
        munge -n | unmunge | grep -q 'STATUS: *Success' || refuse "munge does not work (munge -n | unmunge)."
        say "started munged (pid $(cat "$STATE/munged.pid"))"
    fi

    local host cpus mem
    host=$(hostname -s)
    cpus=$(nproc --all)
    # Advertise 90 % of physical memory so slurmd never finds less than configured (which drains the node).
    mem=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
    mkdir -p /etc/slurm
    cat >"$CONF" <<EOF
$MARK
ClusterName=promptgen-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# Jobs end quickly after scancel in tests (no 30 s grace before SIGKILL).
KillWait=5
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    # -c: start clean (no jobs or node state from an earlier cluster).
    slurmctld -c
    for _ in $(seq 1 40); do alive "$STATE/slurmctld.pid" && scontrol ping >/dev/null 2>&1 && break; sleep 0.5; done
    alive "$STATE/slurmctld.pid" || { say "slurmctld did not start; see $STATE/slurmctld.log" >&2; exit 1; }
    slurmd
    for _ in $(seq 1 40); do alive "$STATE/slurmd.pid" && break; sleep 0.5; done
    alive "$STATE/slurmd.pid" || { say "slurmd did not start; see $STATE/slurmd.log" >&2; exit 1; }
    say "started slurmctld (pid $(cat "$STATE/slurmctld.pid")) and slurmd (pid $(cat "$STATE/slurmd.pid"))"
    wait_idle
}

stop() {
    # No preflight beyond Linux/root: stopping must work even if packages were removed meanwhile.
    [[ "$(id -u)" == 0 ]] || refuse "needs root."
    STOPPED=0
    if [[ -d "$STATE" ]]; then
        if alive "$STATE/slurmctld.pid" && command -v scancel >/dev/null; then
            scancel --full --quiet --user root 2>/dev/null || true # no job outlives the cluster
        fi
        stop_pidfile slurmd "$STATE/slurmd.pid"
        stop_pidfile slurmctld "$STATE/slurmctld.pid"
        stop_pidfile munged "$STATE/munged.pid" # only if this script started it
    fi
    ((STOPPED)) || say "not running"
    if [[ -f "$CONF" ]] && grep -qF "$MARK" "$CONF"; then
        rm -f "$CONF"
        say "removed $CONF"
    fi
}

status() {
    if running; then
        say "running (state in $STATE)"
        sinfo
        squeue
    else
        say "not running"
        return 3
    fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 64
    ;;
esac
