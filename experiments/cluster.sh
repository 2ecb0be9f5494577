#!/usr/bin/env bash
# cluster.sh — a cluster on this machine: K emulated nodes, each a network namespace with its own
# host name and one link to a bridge (the switch), shaped to RATE in both directions with tc tbf;
# then COMMAND runs on them through Open MPI's own multi-node launch (a hostfile, and an rsh agent
# that enters a node's namespace instead of ssh), R ranks per node, over TCP between nodes.
#
# Everything lives in private namespaces made for this run (network, mount, PID): no traffic
# leaves them, and when the script ends — normally, interrupted, or killed — every node, link and
# rank goes with them. Needs root (or user namespaces), iproute2 and tc.
#
# Usage: experiments/cluster.sh [--nodes K] [--ranks-per-node R] [--map-by slot|node] [--rate RATE]
#                               [--tcp ALGORITHM] [--print-mpirun] [--check] [--] PROGRAM [ARG...]
#   --nodes K            emulated nodes (2)
#   --ranks-per-node R   ranks on each node (1); mpirun gets -n K*R
#   --map-by HOW         slot: each node filled in turn (default); node: ranks dealt to the nodes
#                        in turn (pipecast-sim's --map-by)
#   --rate RATE          each node's link, tc's units: 100mbit to 25gbit (1gbit)
#   --tcp ALGORITHM      the nodes' TCP congestion control (cubic, Linux's default, or reno where
#                        the kernel lets namespaces use only reno and bbr): a host's own default
#                        is not taken, since BBR stalls for tens of ms on these shaped links
#   --print-mpirun       print the mpirun command it runs
#   --check              only check the options (no PROGRAM): exit 0, or 2 with the message
# PROGRAM runs as mpirun's program, e.g. build/exec/pipecast-exec train models/vgg16.model ...
# Exit status: COMMAND's (mpirun's); 2 for usage errors; 4 when namespaces, the bridge or tc are
# refused here (the reason is printed).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
nodes=2 rpn=1 rate=1gbit show=0 check=0 map=slot tcp=
usage() { sed -n 's/^# \{0,1\}//; 11,25p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --nodes) nodes=${2:-}; shift 2 ;;
    --ranks-per-node) rpn=${2:-}; shift 2 ;;
    --map-by) map=${2:-}; shift 2 ;;
    --rate) rate=${2:-}; shift 2 ;;
    --tcp) tcp=${2:-}; shift 2 ;;
    --print-mpirun) show=1; shift ;;
    --check) check=1; shift ;;
    --) shift; break ;;
    -h|--help) usage ;;
    -*) echo "cluster.sh: unknown option '$1'" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || [ $check = 1 ] || { echo "cluster.sh: no PROGRAM to run" >&2; usage; }
case $nodes in ''|*[!0-9]*) echo "cluster.sh: --nodes '$nodes': expected 1 to 64" >&2; exit 2 ;; esac
case $rpn in ''|*[!0-9]*) echo "cluster.sh: --ranks-per-node '$rpn': expected 1 to 64" >&2; exit 2 ;; esac
if [ "$nodes" -lt 1 ] || [ "$nodes" -gt 64 ] || [ "$rpn" -lt 1 ] || [ "$rpn" -gt 64 ]; then
  echo "cluster.sh: --nodes and --ranks-per-node must be 1 to 64" >&2; exit 2
fi
if ! [[ $rate =~ ^[0-9]+(\.[0-9]+)?(k|m|g)bit$ ]]; then
  echo "cluster.sh: --rate '$rate': expected a rate like 100mbit, 1gbit or 25gbit" >&2; exit 2
fi
case $map in slot|node) ;; *) echo "cluster.sh: --map-by '$map': expected slot or node" >&2; exit 2 ;; esac
if [ -n "$tcp" ] && ! [[ $tcp =~ ^[a-z][a-z0-9_]{0,15}$ ]]; then
  echo "cluster.sh: --tcp '$tcp': expected a congestion control's name, like cubic, reno or bbr" >&2; exit 2
fi
[ $check = 0 ] || exit 0

# Outside: enter private network, mount and PID namespaces; the rest runs in there.
if [ -z "${PC_CLUSTER_INSIDE:-}" ]; then
  for tool in unshare setpriv pkill sysctl ip tc mpirun; do
    command -v $tool >/dev/null || { echo "cluster.sh: '$tool' is not installed (iproute2, util-linux, procps, openmpi-bin)" >&2; exit 4; }
  done
  if ! unshare -n -m -p --fork --kill-child true 2>/dev/null; then
    echo "cluster.sh: private namespaces are refused here (unshare -n -m -p needs root or user namespaces): no emulated cluster" >&2
    exit 4
  fi
  # unshare --fork holds INT and TERM back until its child ends, so this shell stays in front:
  # on INT, TERM or HUP it sends TERM to the script inside (which ends the cluster; INT would be
  # ignored there, as in any background job of a script) and exits as that signal asks; a KILL
  # of this shell takes the cluster along (--pdeathsig).
  PC_CLUSTER_INSIDE=1 setpriv --pdeathsig KILL unshare -n -m -p --fork --kill-child --propagation private --mount-proc \
    "$0" --nodes "$nodes" --ranks-per-node "$rpn" --map-by "$map" --rate "$rate" \
    $([ -n "$tcp" ] && echo "--tcp $tcp") $([ $show = 1 ] && echo --print-mpirun) -- "$@" <&0 &
  inner=$!
  got=
  for sig in INT TERM HUP; do trap "got=$sig; pkill -TERM -P $inner" $sig; done
  while kill -0 $inner 2>/dev/null; do wait $inner; done
  wait $inner
  st=$?
  case $got in INT) exit 130 ;; TERM) exit 143 ;; HUP) exit 129 ;; esac
  exit $st
fi

refused() { echo "cluster.sh: $1 is refused here: no emulated cluster" >&2; exit 4; }
subnet=10.77.0
# This script is the PID namespace's first process: when it ends, the kernel ends every process
# in it (mpirun, the nodes' daemons and ranks), and the namespaces with their links go too.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# the namespaces' names, and this run's own files (hostfile, agent, Open MPI's session files), on
# tmpfs mounts of this mount namespace: they go with it, also when the script is killed
mkdir -p /run/netns && mount -t tmpfs pipecast-netns /run/netns || refused "a private /run/netns"
run=/run/pipecast-cluster
mkdir -p "$run" && mount -t tmpfs pipecast-run "$run" || refused "a private $run"
ip link set lo up || refused "bringing up loopback"
ip link add pcbr0 type bridge && ip link set pcbr0 up || refused "a bridge (ip link add type bridge)"
ip addr add "$subnet.254/24" dev pcbr0 # the launcher's address: mpirun runs here
for i in $(seq 1 "$nodes"); do
  ip netns add "node$i" || refused "a network namespace (ip netns add)"
  ip link add "pcv$i" type veth peer name eth0 netns "node$i" || refused "a veth pair"
  ip link set "pcv$i" master pcbr0 up
  ip -n "node$i" link set lo up
  ip -n "node$i" addr add "$subnet.$i/24" dev eth0
  ip -n "node$i" link set eth0 up
  # the node's link, both ways: out of the node, and out of the switch toward it
  tc -n "node$i" qdisc add dev eth0 root tbf rate "$rate" burst 256kb latency 50ms ||
    refused "tc tbf (shaping a link)"
  tc qdisc add dev "pcv$i" root tbf rate "$rate" burst 256kb latency 50ms || refused "tc tbf"
  # TCP as a cluster's hosts run it: a namespace takes the kernel's default congestion control,
  # and where that is BBR it stalls for tens of ms on these links (its model of the path, with a
  # round trip of microseconds and a token bucket's bursts, collapses its rate); namespaces
  # may use only the algorithms the host allows them
  for cc in ${tcp:-cubic reno}; do
    ip netns exec "node$i" sysctl -qw net.ipv4.tcp_congestion_control="$cc" 2>/dev/null && break
    cc=
  done
  [ -n "$cc" ] || refused "TCP congestion control '${tcp:-cubic or reno}' in a namespace (allowed: $(cat /proc/sys/net/ipv4/tcp_allowed_congestion_control))"
  echo "$subnet.$i slots=$rpn" >>"$run/hostfile"
done

# The rsh agent: Open MPI calls it as `agent [options] HOST COMMAND...`, like ssh.
cat >"$run/agent" <<EOF
#!/bin/sh
while [ \$# -gt 0 ]; do case \$1 in -*) shift ;; *) break ;; esac; done
host=\$1; shift
node=node\${host##*.}
exec ip netns exec "\$node" unshare --uts /bin/sh -c "hostname \$node; \$*"
EOF
chmod +x "$run/agent"

export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
# Every node's daemon sees the whole machine and would bind its first rank to core 0: the
# emulated nodes share the cores, so no rank is bound.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Open MPI's session directories (/tmp/ompi.HOST.UID) would be shared with another cluster of the
# same node names running at the same time, and removed under it: this run's own
export OMPI_MCA_orte_tmpdir_base=$run
cmd=(mpirun -n $((nodes * rpn)) --hostfile "$run/hostfile" --map-by "$map" --mca plm_rsh_agent "$run/agent"
     --mca btl self,vader,tcp --mca btl_tcp_if_include "$subnet.0/24"
     --mca oob_tcp_if_include "$subnet.0/24" --mca mpi_yield_when_idle 1 --bind-to none "$@")
[ "$show" = 1 ] && echo "cluster.sh: $nodes nodes x $rpn ranks, links $rate, TCP $cc: ${cmd[*]}" >&2
# in the background, so that a signal's trap runs at once and not when mpirun ends
"${cmd[@]}" <&0 &
wait $!
