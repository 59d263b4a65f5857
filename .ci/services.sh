#!/usr/bin/env bash
# Starts the servers that tests/distributed needs, installing them with apt-get where
# the machine lacks them:
#   - redis-server on 127.0.0.1:$ATTRIB_REDIS_PORT (default 6399), with a password;
#   - a single-node SLURM cluster (munged, slurmctld, slurmd on this host; no accounting).
#
# Prints `export NAME=value` lines on stdout (everything else goes to stderr), for
# .ci/run to source:
#   ATTRIB_TEST_REDIS_URL   redis://:<password>@127.0.0.1:<port>
#   ATTRIB_TEST_SLURM_BIN   a folder holding sbatch/squeue/scancel/sinfo/scontrol wrappers
#
# Slurm has no option to listen on loopback only, so slurmctld and slurmd run in a
# network namespace of their own ("attrib-slurm") that has nothing but `lo`; the
# wrappers run the client commands inside it. Jobs run there too (they need no network).
#
# Idempotent: a second run finds the servers alive and only prints the exports. State,
# logs and the generated slurm.conf live under $ATTRIB_SERVICES_DIR
# (default /var/tmp/attrib-services). Needs root for apt-get and SLURM; without root
# only redis is tried.
set -euo pipefail

STATE="${ATTRIB_SERVICES_DIR:-/var/tmp/attrib-services}"
REDIS_PORT="${ATTRIB_REDIS_PORT:-6399}"
NETNS=attrib-slurm
log() { printf 'services: %s\n' "$*" >&2; }
mkdir -p "$STATE"
chmod 700 "$STATE"

# Bounded wait: wait_for SECONDS COMMAND...
wait_for() {
  local seconds=$1
  shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then return 1; fi
    sleep 0.5
  done
}
# A pid file names a live process of that program (pid files outlive killed daemons, and
# their pids get reused): alive PIDFILE (the program is the file's base name).
alive() {
  [[ -f "$1" ]] || return 1
  local pid name
  pid="$(cat "$1")" name="$(basename "$1" .pid)"
  kill -0 "$pid" 2>/dev/null && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$name"* ]]
}

# --- install ---------------------------------------------------------------------------
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
if [[ $EUID -eq 0 ]]; then
  command -v slurmctld >/dev/null || missing+=(slurm-wlm)
  command -v munged >/dev/null || missing+=(munge)
  command -v ip >/dev/null || missing+=(iproute2)
fi
if ((${#missing[@]})); then
  if [[ $EUID -ne 0 ]]; then
    log "missing ${missing[*]} and not root: cannot install them"
  else
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    (
      flock 9
      apt-get update -qq >&2
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    ) 9>/tmp/apt.lock
  fi
fi

# --- redis ---------------------------------------------------------------------------
start_redis() {
  command -v redis-server >/dev/null || return 1
  local dir="$STATE/redis"
  mkdir -p "$dir"
  [[ -f "$dir/password" ]] || (umask 077 && head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/password")
  local pass
  pass="$(cat "$dir/password")"
  if ! alive "$dir/redis.pid"; then
    log "starting redis-server on 127.0.0.1:$REDIS_PORT"
    # The password goes through a config file, not the command line (ps shows that).
    (umask 077 && cat >"$dir/redis.conf" <<EOF
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
requirepass $pass
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir
save ""
appendonly no
EOF
    )
    redis-server "$dir/redis.conf" >&2
  fi
  if ! wait_for 20 env REDISCLI_AUTH="$pass" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping; then
    log "redis did not answer on port $REDIS_PORT (see $dir/redis.log)"
    return 1
  fi
  echo "export ATTRIB_TEST_REDIS_URL=redis://:$pass@127.0.0.1:$REDIS_PORT"
}

# --- slurm ---------------------------------------------------------------------------
start_slurm() {
  [[ $EUID -eq 0 ]] || { log "not root: no SLURM"; return 1; }
  command -v slurmctld >/dev/null && command -v munged >/dev/null && command -v ip >/dev/null || return 1
  local dir="$STATE/slurm" host
  host="$(hostname -s)"
  mkdir -p "$dir/ctld" "$dir/d" "$dir/bin"

  # munge: the key the package created (or a new one), the daemon as root.
  if [[ ! -s /etc/munge/munge.key ]]; then
    mkdir -p /etc/munge
    (umask 077 && dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none)
  fi
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "starting munged"
    chown -R root:root /etc/munge /run/munge /var/lib/munge /var/log/munge
    chmod 700 /etc/munge && chmod 600 /etc/munge/munge.key
    munged --force >&2
    wait_for 20 bash -c 'munge -n </dev/null | unmunge' || { log "munged did not start"; return 1; }
  fi

  # A network namespace with only loopback for the daemons and the client commands.
  # (nsenter rather than `ip netns exec`, which remounts /sys without the cgroup mounts
  # slurmd looks for.) The extra address on lo is for getaddrinfo(AI_ADDRCONFIG), which
  # finds no IPv4 address when the only interface is loopback; it is not routed anywhere.
  if [[ ! -e "/run/netns/$NETNS" ]]; then ip netns add "$NETNS"; fi
  ip netns exec "$NETNS" ip link set lo up
  ip netns exec "$NETNS" ip -br addr show dev lo | grep -q 10.254.254.254 || ip netns exec "$NETNS" ip addr add 10.254.254.254/32 dev lo

  local mem cpus
  cpus="$(nproc)"
  mem="$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)"
  cat >"$dir/slurm.conf.new" <<EOF
# Written by attrib's .ci/services.sh: a single-node test cluster, no accounting.
ClusterName=attrib-ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/d
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=60
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
MaxArraySize=1001
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  # cgroups: none of our plugins needs them, but slurmd 22.05 initializes a cgroup
  # plugin anyway; without systemd (a container, CI) it must not ask systemd for scopes.
  # (Noted in slurm.conf so that a change restarts the daemons like any other.)
  echo "# cgroup.conf beside this file: CgroupPlugin=autodetect IgnoreSystemd=yes IgnoreSystemdOnFailure=yes" >>"$dir/slurm.conf.new"
  printf 'CgroupPlugin=autodetect\nIgnoreSystemd=yes\nIgnoreSystemdOnFailure=yes\n' >"$dir/cgroup.conf"
  local changed=0
  if ! cmp -s "$dir/slurm.conf.new" "$dir/slurm.conf"; then
    mv "$dir/slurm.conf.new" "$dir/slurm.conf"
    changed=1
  else
    rm -f "$dir/slurm.conf.new"
  fi

  for cmd in sbatch squeue scancel sinfo scontrol; do
    cat >"$dir/bin/$cmd" <<EOF
#!/bin/sh
# $cmd against the test cluster of .ci/services.sh (inside its network namespace).
SLURM_CONF=$dir/slurm.conf exec nsenter --net=/run/netns/$NETNS /usr/bin/$cmd "\$@"
EOF
    chmod 755 "$dir/bin/$cmd"
  done

  local inns=(nsenter --net="/run/netns/$NETNS" env SLURM_CONF="$dir/slurm.conf")
  if ((changed)); then
    # A new config: restart whatever runs with the old one.
    for d in slurmd slurmctld; do
      if alive "$dir/$d.pid"; then kill "$(cat "$dir/$d.pid")" || true; fi
    done
    wait_for 20 bash -c "! kill -0 \$(cat $dir/slurmd.pid 2>/dev/null || echo 0) 2>/dev/null && ! kill -0 \$(cat $dir/slurmctld.pid 2>/dev/null || echo 0) 2>/dev/null" || true
  fi
  if ! alive "$dir/slurmctld.pid"; then
    log "starting slurmctld"
    "${inns[@]}" slurmctld -f "$dir/slurm.conf" >&2
  fi
  if ! alive "$dir/slurmd.pid"; then
    log "starting slurmd"
    "${inns[@]}" slurmd -f "$dir/slurm.conf" >&2
  fi
  if ! wait_for 60 bash -c "'$dir/bin/sinfo' -h -o %t | grep -Eq '^(idle|mix|alloc)'"; then
    log "the SLURM node is not idle after 60 s:"
    "$dir/bin/sinfo" -N -l >&2 || true
    tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
    return 1
  fi
  log "SLURM: $("$dir/bin/sinfo" -h -o '%P %D %t')"
  echo "export ATTRIB_TEST_SLURM_BIN=$dir/bin"
}

status=0
start_redis || { log "redis: not available"; status=1; }
start_slurm || { log "slurm: not available"; status=1; }
exit $status
