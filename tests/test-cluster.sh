#!/bin/bash
# test-cluster.sh — experiments/cluster.sh (mpi suite). TAP on stdout.
#   - two emulated nodes are two hosts to Open MPI;
#   - a pipeline over their TCP link ends bit-identical to the one-process run;
#   - calibrate across them writes the inter link, and the simulator reads it as such;
#   - an interrupted or killed cluster leaves no rank, namespace or link behind;
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

"$cluster" --nodes 2 --rate 1gbit -- hostname >"$tmp/hosts" 2>"$tmp/err"
st=$?
if [ "$st" = 4 ]; then
  why=$(head -1 "$tmp/err")
  for t in "two hosts" "a pipeline over TCP, bit-identical" "calibrate across nodes" \
           "interrupted: nothing left" "killed: nothing left"; do
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

run="$models/tiny-cnn.model --iters 3 --batch 16 -m 4 --schedule 1f1b"
"$cluster" --nodes 2 --rate 10gbit -- "$x" train $run --save "$tmp/nodes.pcw" >"$tmp/out" 2>"$tmp/err" </dev/null
"$x" train $run --save "$tmp/one.pcw" >/dev/null 2>&1 </dev/null
if cmp -s "$tmp/nodes.pcw" "$tmp/one.pcw"; then
  ok "a pipeline across two nodes over TCP ends bit-identical to one process"
else
  not_ok "a pipeline across two nodes over TCP ends bit-identical to one process"
fi

# calibrate across the nodes: inter rows only, which the simulator reads as one rank per node
"$cluster" --nodes 2 --rate 1gbit -- "$x" calibrate --max-bytes 65536 --out "$tmp/net.tsv" \
  >"$tmp/out" 2>"$tmp/err" </dev/null
"${PC_SIM:-false}" run "$models/tiny-cnn.model" --stages 2 --batch 16 --net "$tmp/net.tsv" \
  >"$tmp/sim" 2>&1
if grep -q "^# ranks 2 (2 nodes, at least 1 rank each" "$tmp/net.tsv" && grep -q "^inter" "$tmp/net.tsv" &&
   ! grep -q "^intra" "$tmp/net.tsv" && grep -q "inter only: calibrated with one rank per node" "$tmp/sim"; then
  ok "calibrate across two nodes writes the inter link, and the simulator says what it assumes"
else
  not_ok "calibrate across two nodes writes the inter link, and the simulator says what it assumes"
fi

# A long run, ended from outside: no rank survives, no namespace or link is left on the host.
leftovers() { pgrep -f "pipecast-exec train .*$tmp/long" >/dev/null || [ -e /run/netns/node1 ] || ip link show pcbr0 >/dev/null 2>&1; }
for how in INT KILL; do
  "$cluster" --nodes 2 -- "$x" train "$models/mlp32.model" --set width=256,input=64 --iters 100000 \
    --times "$tmp/long-$how.csv" >"$tmp/log" 2>&1 </dev/null &
  job=$!
  for _ in $(seq 200); do grep -q "^iter" "$tmp/log" && break; sleep 0.1; done
  kill -$how $job
  wait $job 2>/dev/null
  sleep 1
  what=$([ $how = INT ] && echo interrupted || echo killed)
  if grep -q "^iter" "$tmp/log" && ! leftovers; then ok "$what: nothing left behind"
  else not_ok "$what: nothing left behind"; fi
done

tap_end
