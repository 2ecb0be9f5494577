#!/bin/bash
# test-faults.sh — faults during a pipelined run (mpi suite). TAP on stdout.
#   - a rank killed mid-iteration ends every rank, with mpirun's status 137, naming the rank;
#   - a stopped rank (a hang) becomes the same with --timeout;
#   - a kill during a checkpoint write leaves the previous checkpoint intact and resumable;
#   - NaN in a stage's weights stops the run naming the stage and the layer;
#   - a model whose memory need exceeds the machine's is refused up front with the estimate.
# Needs PC_EXEC and PC_MODELS_DIR.
set -u
x=${PC_EXEC:?PC_EXEC is not set}
models=${PC_MODELS_DIR:?PC_MODELS_DIR is not set}
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
tmp=$(mktemp -d)
# the shared-memory segments of the ranks these tests kill or stop go with $tmp, not /dev/shm
export OMPI_MCA_btl_vader_backing_directory=$tmp
job=
trap '[ -n "$job" ] && kill -9 $job 2>/dev/null; pkill -9 -f "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
TAP_LOGS="$tmp/log"
. "$(dirname "$0")/tap.sh"

# PID of the rank R of the job whose command line mentions $tmp (ranks read OMPI_COMM_WORLD_RANK).
rank_pid() {
  for p in $(pgrep -f "pipecast-exec train .*$tmp"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1"; then
      echo "$p"
      return
    fi
  done
}

# wait_for PATTERN FILE SECONDS
wait_for() {
  for _ in $(seq $(($3 * 10))); do
    grep -q -- "$1" "$2" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Waits for job $job; a watchdog kills it after 120 s, so that the test fails and does not hang.
# Sets st (its exit status), ended (1 when it ended by itself, 0 when the watchdog killed it) and
# secs (seconds it took after the fault; reported, not asserted: the machine's speed varies).
finish() {
  local t0=$SECONDS watchdog
  rm -f "$tmp/watchdog-fired"
  (sleep 120; kill -0 "$job" 2>/dev/null && touch "$tmp/watchdog-fired" && kill -9 "$job") \
    >/dev/null 2>&1 &
  watchdog=$!
  wait "$job"
  st=$?
  kill "$watchdog" 2>/dev/null
  wait "$watchdog" 2>/dev/null
  job=
  secs=$((SECONDS - t0))
  ended=1
  [ -e "$tmp/watchdog-fired" ] && ended=0
}

long="$models/mlp32.model --set width=256,input=64 --batch 32 --iters 100000 --print-every 1"

# 1. A rank killed mid-iteration.
mpirun -n 2 "$x" train $long --save "$tmp/unused.pcw" >"$tmp/log" 2>&1 </dev/null &
job=$!
if wait_for "^iter    3" "$tmp/log" 120 && pid=$(rank_pid 1) && [ -n "$pid" ]; then
  kill -9 "$pid"
  finish
  # mpirun's own status for a rank killed by signal 9 (README, Exit status)
  if [ "$st" -eq 137 ] && [ "$ended" = 1 ] && grep -q "rank 1" "$tmp/log"; then
    ok "killed rank: the job ends in ${secs} s with status 137, naming rank 1"
  else
    echo "# status $st after $secs s (ended by itself: $ended)"; not_ok "killed rank: the job ends by itself naming rank 1"
  fi
else
  kill -9 "$job" 2>/dev/null; job=; not_ok "killed rank: the job did not start"
fi

# 2. A stopped rank: --timeout turns the hang into the same end.
mpirun -n 2 "$x" train $long --timeout 3 --save "$tmp/unused2.pcw" >"$tmp/log" 2>&1 </dev/null &
job=$!
if wait_for "^iter    3" "$tmp/log" 120 && pid=$(rank_pid 1) && [ -n "$pid" ]; then
  kill -STOP "$pid"
  finish
  kill -9 "$pid" 2>/dev/null
  if [ "$st" -ne 0 ] && [ "$ended" = 1 ] && grep -q "rank 0: stage 0 timed out after 3 s waiting " "$tmp/log"; then
    ok "hung rank: --timeout 3 ends the job in ${secs} s with status $st, saying where rank 0 waited"
  else
    echo "# status $st after $secs s (ended by itself: $ended)"; not_ok "hung rank: --timeout ends the job"
  fi
else
  kill -9 "$job" 2>/dev/null; job=; not_ok "hung rank: the job did not start"
fi

# 2b. The same with data parallelism: a stopped replica leaves the other waiting — in the ring
# all-reduce of the gradients, or at the iteration's end, depending on where the stop lands —
# and --timeout ends that wait too.
mpirun -n 2 "$x" train $long --replicas 2 --stages 1 --timeout 3 --save "$tmp/unused3.pcw" \
  >"$tmp/log" 2>&1 </dev/null &
job=$!
if wait_for "^iter    3" "$tmp/log" 120 && pid=$(rank_pid 1) && [ -n "$pid" ]; then
  kill -STOP "$pid"
  finish
  kill -9 "$pid" 2>/dev/null
  if [ "$st" -ne 0 ] && [ "$ended" = 1 ] &&
     grep -q "rank 0: stage 0 timed out after 3 s waiting " "$tmp/log"; then
    ok "hung replica: --timeout 3 ends the job in ${secs} s with status $st, saying where rank 0 waited"
  else
    echo "# status $st after $secs s (ended by itself: $ended)"; sed 's/^/# /' "$tmp/log" | grep -v "^# iter" | head -5
    not_ok "hung replica: --timeout ends the job"
  fi
else
  kill -9 "$job" 2>/dev/null; job=; not_ok "hung replica: the job did not start"
fi

# 3. Killed during a checkpoint write: the previous checkpoint stays loadable.
ck="$tmp/ck"
big="$models/mlp32.model --batch 16 --microbatches 2 --print-every 1"
mpirun -n 2 "$x" train $big --iters 100000 --checkpoint "$ck" --checkpoint-every 1 >"$tmp/log" 2>&1 </dev/null &
job=$!
killed=0
wait_for "iteration" "$ck/checkpoint" 120
kill_while_writing "$ck" 60
it=$(sed -n 's/^iteration //p' "$ck/checkpoint" 2>/dev/null)
if [ "$killed" = 1 ] && [ -n "$it" ] &&
   mpirun -n 2 "$x" train $big --iters $((it + 1)) --resume "$ck" >"$tmp/log" 2>&1 </dev/null &&
   grep -q "resumed from $ck at iteration $it" "$tmp/log"; then
  ok "killed while writing a checkpoint: iteration $it stays intact and resumes"
else
  echo "# killed=$killed iteration=$it"; not_ok "killed while writing a checkpoint: the previous one stays loadable"
fi

# 4. NaN in the weights of stage 1 (layer fc3 of tiny-mlp).
"$x" train "$models/tiny-mlp.model" --iters 1 --warmup 0 --save "$tmp/w.pcw" >"$tmp/log" 2>&1
python3 - "$tmp/w.pcw" "$tmp/nan.pcw" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
head, _, body = data.partition(b"data\n")
offset = 0
for line in head.decode().splitlines():
    parts = line.split(" ")
    if len(parts) == 2 and parts[0].endswith((".weight", ".bias", ".running_mean", ".running_var")):
        if parts[0] == "fc3.weight":
            break
        offset += int(parts[1]) * 4
body = body[:offset + 12] + struct.pack("<f", float("nan")) + body[offset + 16:]
open(sys.argv[2], "wb").write(head + b"data\n" + body)
PY
mpirun -n 2 "$x" train "$models/tiny-mlp.model" -p "fc1..relu2 | fc3.." --load "$tmp/nan.pcw" --iters 3 >"$tmp/log" 2>&1 </dev/null
st=$?
if [ "$st" -ne 0 ] && grep -q "stage 1, layer 'fc3': a NaN or infinite output" "$tmp/log"; then
  ok "NaN in the weights: stopped naming stage 1 and layer fc3"
else
  not_ok "NaN in the weights: stopped naming stage 1 and layer fc3"
fi

# 5. More memory than the machine has: refused before any work, with the estimate.
mpirun -n 2 "$x" train "$models/vgg16.model" --set input=3x512x512 --batch 512 >"$tmp/log" 2>&1 </dev/null
st=$?
if [ "$st" -eq 2 ] && grep -q "needs [0-9.]* GiB (.*), more than the [0-9.]* GiB available" "$tmp/log" &&
   ! grep -q "^iter" "$tmp/log"; then
  ok "too big for the machine: refused up front with the estimate"
else
  not_ok "too big for the machine: refused up front with the estimate"
fi

tap_end
