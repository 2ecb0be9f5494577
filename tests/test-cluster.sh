#!/bin/bash
# test-cluster.sh — experiments/cluster.sh (mpi suite). TAP on stdout.
#   - two emulated nodes are two hosts to Open MPI;
#   - a pipeline over their TCP link ends bit-identical to the one-process run;
#   - calibrate across them writes the inter link, and the simulator reads it as such; the
#     TCP transport ran with a 4 MiB eager limit, without its progress thread, and with a
#     loss-based congestion control (--tcp picks another);
#   - a cluster interrupted, terminated or killed ends at once, leaving no rank, namespace or
#     link behind;
#   - two clusters at once do not disturb each other;
#   - bad flags exit 2.
# Skips with the reason where namespaces or tc are refused (cluster.sh's status 4).
# Needs PC_EXEC, PC_SIM and PC_MODELS_DIR.
set -u
x=${PC_EXEC:?PC_EXEC is not set}
models=${PC_MODELS_DIR:?PC_MODELS_DIR is not set}
cluster=$(cd "$(dirname "$0")/.." && pwd)/experiments/cluster.sh
export OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'pkill -9 -f "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"

expect 2 "--rate 'fast': expected a rate like" "a bad --rate" -- "$cluster" --rate fast -- hostname
expect 2 "--nodes and --ranks-per-node must be 1 to 64" "--nodes 0" -- "$cluster" --nodes 0 -- hostname
# --check: the options alone, for the scripts that check their rates before any work
expect 0 "" "--check: good options, no PROGRAM" -- "$cluster" --rate 25gbit --nodes 4 --check
expect 2 "--rate '25gb': expected a rate like" "--check: a bad rate" -- "$cluster" --rate 25gb --check
expect 2 "--tcp 'cubic;': expected a congestion control's name" "a bad --tcp" -- "$cluster" --tcp 'cubic;' --check

"$cluster" --nodes 2 --rate 1gbit -- hostname >"$tmp/hosts" 2>"$tmp/err"
st=$?
if [ "$st" = 4 ]; then
  why=$(head -1 "$tmp/err")
  for t in "two hosts" "ranks placed by slot and by node" "a pipeline over TCP, bit-identical" \
           "large messages driven by the communication thread, bit-identical" \
           "data parallel over TCP, buckets during the backward" "two clusters at once" "calibrate across nodes" \
           "INT: nothing left" "TERM: nothing left" "KILL: nothing left" "--tcp: the nodes' congestion control"; do
    skip "$t" "${why:-cluster.sh refused}"
  done
  tap_end
  exit
fi
if [ "$st" = 0 ] && [ "$(sort "$tmp/hosts" | tr '\n' ' ')" = "node1 node2 " ]; then
  ok "two emulated nodes are two hosts"
else
  not_ok "two emulated nodes are two hosts"
fi
# --map-by: slot fills each node in turn (a node per replica), node deals the ranks out (a node
# per stage), as pipecast-sim's --map-by assumes
where() { "$cluster" --nodes 2 --ranks-per-node 2 --map-by "$1" -- \
            sh -c 'echo "$OMPI_COMM_WORLD_RANK:$(hostname)"' 2>&1 | sort | tr '\n' ' '; }
slot=$(where slot) node=$(where node)
if [ "$slot" = "0:node1 1:node1 2:node2 3:node2 " ] && [ "$node" = "0:node1 1:node2 2:node1 3:node2 " ]; then
  ok "ranks placed by slot and by node"
else
  echo "# slot: $slot; node: $node"; not_ok "ranks placed by slot and by node"
fi
expect 2 "--map-by 'core': expected slot or node" "a bad --map-by" -- "$cluster" --map-by core --check

# same_as_one WHAT TRAIN-ARGS...: a pipeline on the two nodes ends with one process's weights
same_as_one() {
  local what=$1; shift
  rm -f "$tmp/nodes.pcw" "$tmp/one.pcw"
  "$cluster" --nodes 2 --rate 10gbit -- "$x" train "$@" --save "$tmp/nodes.pcw" >"$tmp/out" 2>"$tmp/err" </dev/null
  "$x" train "$@" --save "$tmp/one.pcw" >/dev/null 2>&1 </dev/null
  if cmp -s "$tmp/nodes.pcw" "$tmp/one.pcw"; then ok "$what"
  else tail -3 "$tmp/err" | sed 's/^/# /'; not_ok "$what"; fi
}
same_as_one "a pipeline across two nodes over TCP ends bit-identical to one process" \
  "$models/tiny-cnn.model" --iters 3 --batch 16 -m 4 --schedule 1f1b

# Messages of 128 KiB (width 4096, microbatches of 8), which the communication thread keeps
# moving while a layer computes; and 2 replicas reducing their gradients (134 MB: 2 buckets) in
# buckets over TCP (the same bits as at the step, as test-mpi shows on one node).
printf 'input 4096\nfc fc1 out=4096\nrelu relu1\nfc fc2 out=4096\nrelu relu2\nfc fc3 out=10\nsoftmax_xent loss\n' \
  >"$tmp/wide.model"
same_as_one "large messages across two nodes, driven by the communication thread: bit-identical to one process" \
  "$tmp/wide.model" --iters 2 --batch 32 -m 4 --schedule 1f1b
run="$tmp/wide.model --iters 2 --batch 16 --replicas 2 --stages 1"
for mode in thread layers; do
  "$cluster" --nodes 2 --rate 10gbit -- env PC_PROGRESS=$mode "$x" train $run --save "$tmp/dp-$mode.pcw" \
    >"$tmp/out" 2>"$tmp/err" </dev/null
done
if [ -s "$tmp/dp-thread.pcw" ] && cmp -s "$tmp/dp-thread.pcw" "$tmp/dp-layers.pcw"; then
  ok "data parallel across two nodes: gradients reduced by bucket during the backward, the same bits as at the step"
else
  tail -3 "$tmp/err" | sed 's/^/# /'
  not_ok "data parallel across two nodes: gradients reduced by bucket during the backward, the same bits as at the step"
fi

# Two clusters at once (same node names, same user): each keeps its own Open MPI session files
both=1
for i in 1 2 3 4 5 6 7 8; do
  "$cluster" --nodes 2 -- "$x" train "$models/tiny-cnn.model" --iters 2 --batch 16 -m 2 >"$tmp/a.out" 2>"$tmp/a.err" </dev/null &
  a=$!
  "$cluster" --nodes 2 -- "$x" train "$models/tiny-cnn.model" --iters 2 --batch 16 -m 2 >"$tmp/b.out" 2>"$tmp/b.err" </dev/null
  sb=$?
  wait $a
  sa=$?
  if [ $sa != 0 ] || [ $sb != 0 ]; then both=0; cat "$tmp/a.err" "$tmp/b.err" | grep -v "^pipecast\|^partition\|^data" | head -3 | sed 's/^/# /'; break; fi
done
if [ $both = 1 ]; then ok "two clusters at once: eight pairs of runs, each run whole"
else not_ok "two clusters at once: eight pairs of runs, each run whole"; fi

# calibrate across the nodes: inter rows only, which the simulator reads as one rank per node
"$cluster" --nodes 2 --rate 1gbit -- "$x" calibrate --max-bytes 65536 --out "$tmp/net.tsv" \
  >"$tmp/out" 2>"$tmp/err" </dev/null
"${PC_SIM:-false}" run "$models/tiny-cnn.model" --stages 2 --batch 16 --net "$tmp/net.tsv" \
  >"$tmp/sim" 2>&1
if grep -q "^# ranks 2 (2 nodes, at least 1 rank each" "$tmp/net.tsv" && grep -q "^inter" "$tmp/net.tsv" &&
   grep -q "^# tcp_eager_limit_bytes 4194304$" "$tmp/net.tsv" && grep -q "^# tcp_progress_thread 0$" "$tmp/net.tsv" &&
   grep -Eq "^# tcp_congestion_control (cubic|reno)$" "$tmp/net.tsv" &&
   ! grep -q "^intra" "$tmp/net.tsv" && grep -q "inter only: calibrated with one rank per node" "$tmp/sim"; then
  ok "calibrate across two nodes writes the inter link (TCP: 4 MiB eager limit, no progress thread, cubic or reno), and the simulator says what it assumes"
else
  grep "^# " "$tmp/net.tsv" | sed 's/^/# /'
  not_ok "calibrate across two nodes writes the inter link (TCP: 4 MiB eager limit, no progress thread, cubic or reno), and the simulator says what it assumes"
fi
# --tcp: every node runs the one asked for, whatever the host's default and the script's own
cc_of() { "$cluster" --nodes 2 "$@" -- cat /proc/sys/net/ipv4/tcp_congestion_control 2>"$tmp/err" </dev/null |
            tr '\n' ' '; }
mine=$(cc_of)
case $mine in "cubic cubic ") want=reno ;; *) want=bbr ;; esac
got=$(cc_of --tcp $want)
if [ "$got" = "$want $want " ] && { [ "$mine" = "cubic cubic " ] || [ "$mine" = "reno reno " ]; }; then
  ok "--tcp: the nodes' congestion control"
elif grep -q "is refused here" "$tmp/err"; then skip "--tcp: the nodes' congestion control" "$(head -1 "$tmp/err")"
else echo "# default '$mine', --tcp $want '$got'"; not_ok "--tcp: the nodes' congestion control"; fi

# A long run, ended from outside — Ctrl-C (INT to its process group, as a terminal sends it),
# TERM or KILL to the script — ends at once, and no rank, namespace, link or file is left on the
# host.
leftovers() {
  pgrep -f "pipecast-exec train .*$tmp/long" >/dev/null || [ -e /run/netns/node1 ] || ip link show pcbr0 >/dev/null 2>&1 ||
    [ -n "$(ls -A /run/pipecast-cluster 2>/dev/null)" ] || [ "$(ls -d /tmp/pipecast-cluster-* 2>/dev/null | wc -l)" != "$files" ]
}
files=$(ls -d /tmp/pipecast-cluster-* 2>/dev/null | wc -l) # an older cluster.sh's folders
for how in INT TERM KILL; do
  set -m # a process group of its own, and INT not ignored, as for a job in a terminal
  "$cluster" --nodes 2 -- "$x" train "$models/mlp32.model" --set width=256,input=64 --lr 0.001 \
    --iters 100000 --times "$tmp/long-$how.csv" >"$tmp/log" 2>&1 </dev/null &
  job=$!
  set +m
  for _ in $(seq 200); do grep -q "^iter" "$tmp/log" && break; sleep 0.1; done
  if [ $how = INT ]; then kill -INT -- -$job; else kill -$how $job; fi
  # the job would run for minutes: 30 s is ample for it to end by the signal
  for _ in $(seq 300); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
  st=
  if kill -0 $job 2>/dev/null; then
    kill -9 -- -$job 2>/dev/null
    st=running
  fi
  wait $job 2>/dev/null
  rc=$?
  [ -n "$st" ] || st=$rc
  sleep 1
  want=$(case $how in INT) echo 130 ;; TERM) echo 143 ;; KILL) echo 137 ;; esac)
  if grep -q "^iter" "$tmp/log" && [ "$st" = "$want" ] && ! leftovers; then
    ok "$how: the job ends with status $want, nothing left behind"
  else
    echo "# status $st (want $want)"; tail -3 "$tmp/log" | sed 's/^/# /'
    not_ok "$how: the job ends with status $want, nothing left behind"
  fi
done

tap_end
