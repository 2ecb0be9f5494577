#!/bin/bash
# test-files.sh — nothing lost, nothing unbounded (mpi suite). TAP on stdout.
#   - a checkpoint folder holding another run's checkpoint is refused, and replacing it stays
#     whole; a stage file of another checkpoint is refused on resume;
#   - outputs onto devices, symlinks, FIFOs, a full disk; output flags checked before any work;
#   - inputs that are devices, FIFOs or too large; counts that would reach an assertion;
#   - the small items: --stages 0, --lr nan, --checkpoint-every alone, a resume with another
#     --lr, a stray byte in a message.
# Needs PC_EXEC, PC_SIM and PC_MODELS_DIR.
set -u
x=${PC_EXEC:?PC_EXEC is not set}
sim=${PC_SIM:?PC_SIM is not set}
models=${PC_MODELS_DIR:?PC_MODELS_DIR is not set}
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
tmp=$(mktemp -d)
# the shared-memory segments of the ranks these tests kill or stop go with $tmp, not /dev/shm
export OMPI_MCA_btl_vader_backing_directory=$tmp
job=
trap '[ -n "$job" ] && kill -9 $job 2>/dev/null; pkill -9 -f "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"
tiny="$models/tiny-mlp.model"

# checksum of every file under DIR, names included
sums() { (cd "$1" && find . -type f | sort | xargs -r sha256sum); }

# --- checkpoints of two runs ---------------------------------------------------------------
ck="$tmp/ck"
mpirun -n 2 "$x" train "$tiny" --iters 3 --checkpoint "$ck" >"$tmp/out" 2>"$tmp/err" </dev/null
sums "$ck" >"$tmp/a.sums"
expect 2 "--checkpoint $ck holds the checkpoint of another run (iteration 3 of tiny-mlp" \
  "another run's checkpoint folder is refused up front" -- \
  mpirun -n 2 "$x" train "$tiny" --iters 3 --seed 2 --checkpoint "$ck"
if ! grep -q "^iter" "$tmp/out" && sums "$ck" | cmp -s - "$tmp/a.sums"; then
  ok "the refused run trained nothing and left the checkpoint as it was"
else
  not_ok "the refused run trained nothing and left the checkpoint as it was"
fi
expect 0 "" "the same run resumed into its own folder goes on" -- \
  mpirun -n 2 "$x" train "$tiny" --iters 5 --resume "$ck" --checkpoint "$ck"
if grep -q "^iteration 5$" "$ck/checkpoint" && [ "$(ls -d "$ck"/iter-* | wc -l)" -eq 1 ]; then
  ok "its checkpoint at iteration 5 is committed, the older folder removed"
else
  not_ok "its checkpoint at iteration 5 is committed, the older folder removed"
fi
sums "$ck" >"$tmp/a5.sums"

# A stage file of another checkpoint, put into the committed folder, is refused on resume.
mpirun -n 2 "$x" train "$tiny" --iters 5 --seed 2 --checkpoint "$tmp/ck2" >/dev/null 2>&1 </dev/null
cp -r "$ck" "$tmp/mixed"
cp "$tmp"/ck2/iter-*/stage-0.pcw "$tmp"/mixed/iter-*/stage-0.pcw
expect 2 "belongs to another checkpoint" "a stage file of another checkpoint is refused on resume" -- \
  mpirun -n 2 "$x" train "$tiny" --iters 6 --resume "$tmp/mixed"

# --checkpoint-replace, killed while it writes: the folder holds one whole checkpoint (the old
# run's, or the new one's), never a mix.
big="$models/mlp32.model --batch 16 --microbatches 2"
mpirun -n 2 "$x" train $big --iters 2 --checkpoint "$tmp/ck3" >/dev/null 2>&1 </dev/null
old=$(sed -n 's/^run //p' "$tmp/ck3/checkpoint")
mpirun -n 2 "$x" train $big --seed 2 --iters 100000 --checkpoint "$tmp/ck3" --checkpoint-every 1 \
  --checkpoint-replace >"$tmp/log" 2>&1 </dev/null &
job=$!
kill_while_writing "$tmp/ck3" 60
now=$(sed -n 's/^run //p' "$tmp/ck3/checkpoint")
seed=1
[ "$now" != "$old" ] && seed=2
it=$(sed -n 's/^iteration //p' "$tmp/ck3/checkpoint")
if [ "$killed" = 1 ] &&
   mpirun -n 2 "$x" train $big --seed $seed --iters $((it + 1)) --resume "$tmp/ck3" \
     >"$tmp/out" 2>"$tmp/err" </dev/null; then
  ok "replacing a checkpoint, killed mid-write: a whole one remains (seed $seed, iteration $it)"
else
  echo "# killed=$killed run $old -> $now"; not_ok "replacing a checkpoint, killed mid-write: a whole one remains"
fi

# A resume with another --lr is stated.
expect 0 "" "a resume with another --lr" -- \
  mpirun -n 2 "$x" train "$tiny" --iters 6 --lr 0.02 --resume "$ck"
stdout_has "note: the checkpoint was trained with lr=0.01 momentum=0.9 weight_decay=0; this run goes on with lr=0.02" \
  "a resume with another --lr says so"
expect 2 "'seed=1', this run has 'seed=2'" "a resume with another seed names the difference" -- \
  mpirun -n 2 "$x" train "$tiny" --iters 6 --seed 2 --resume "$ck"
expect 2 "holds the state of --optimizer sgd (lr=0.01 momentum=0.9 weight_decay=0), not of adamw: resume with --optimizer sgd" \
  "a resume with another optimizer is refused, naming both" -- \
  mpirun -n 2 "$x" train "$tiny" --iters 6 --optimizer adamw --resume "$ck"
# the model's parameters as they resolve, however --set writes them
expect 0 "" "a resume whose --set gives the parameters' own values goes on" -- \
  mpirun -n 2 "$x" train "$tiny" --iters 6 --set " width=32" --set classes=4 --resume "$ck"
expect 2 "'params=width=32,input=16,classes=4', this run has 'params=width=16,input=16,classes=4'" \
  "a resume with another parameter names it" -- mpirun -n 2 "$x" train "$tiny" --iters 6 --set width=16 --resume "$ck"
# a checkpoint written before the parameters were recorded (its --set as typed) resumes
cp -r "$ck" "$tmp/ck-before"
sed -i 's/^config params=[^ ]* \(.*\)$/config \1 set=/' "$tmp/ck-before/checkpoint"
expect 0 "" "a checkpoint of the earlier format resumes" -- \
  mpirun -n 2 "$x" train "$tiny" --iters 6 --resume "$tmp/ck-before"

# --- outputs ---------------------------------------------------------------------------------
expect 0 "" "--save /dev/null writes through" -- "$x" train "$tiny" --iters 1 --save /dev/null
if [ -c /dev/null ]; then ok "/dev/null is still a device"; else not_ok "/dev/null is still a device"; fi
if [ -c /dev/full ]; then
  expect 1 "train: --save /dev/full: writing failed: No space left on device" "--save /dev/full: exit 1 naming it" -- \
    "$x" train "$tiny" --iters 1 --save /dev/full
  if [ -c /dev/full ]; then ok "/dev/full is still a device"; else not_ok "/dev/full is still a device"; fi
  expect 1 "run: --trace /dev/full: writing failed: No space left on device" "sim run --trace /dev/full: exit 1" -- \
    "$sim" run "$tiny" --batch 8 --trace /dev/full
else
  for what in "--save /dev/full" "/dev/full stays" "sim run --trace /dev/full"; do skip "$what" "no /dev/full here"; done
fi
ln -s "$tmp/target.pcw" "$tmp/link.pcw"
expect 0 "" "--save onto a symlink" -- "$x" train "$tiny" --iters 1 --save "$tmp/link.pcw"
if [ -L "$tmp/link.pcw" ] && [ -s "$tmp/target.pcw" ]; then
  ok "--save onto a symlink writes its target and keeps the link"
else
  not_ok "--save onto a symlink writes its target and keeps the link"
fi
mkfifo "$tmp/fifo"
for flag in --save --times --summary --trace --profile-samples; do
  expect 2 "$flag $tmp/fifo: cannot write there (a named FIFO" "$flag onto a named FIFO is refused before any work" -- \
    timeout 60 "$x" train "$tiny" --iters 2 $flag "$tmp/fifo"
done
"$x" train "$tiny" --iters 3 --times /dev/stdout 2>"$tmp/err" </dev/null | grep -c "^[0-9],0\." >"$tmp/rows"
"$x" train "$tiny" --iters 2 --summary >(cat >"$tmp/summary.json") >/dev/null 2>&1 </dev/null
sleep 0.5
if [ "$(cat "$tmp/rows")" = 3 ] && grep -q '"iterations": 2' "$tmp/summary.json"; then
  ok "--times /dev/stdout into a pipe and --summary into a process substitution are written through"
else
  not_ok "--times /dev/stdout into a pipe and --summary into a process substitution are written through"
fi
expect 2 "--save: an empty file name" "--save '' is refused before any work" -- \
  "$x" train "$tiny" --iters 2 --save ''
if ! grep -q "^iter" "$tmp/out"; then ok "--save '': no iteration ran"; else not_ok "--save '': no iteration ran"; fi
expect 2 "--times $tmp: cannot write there (a directory)" "--times onto a folder" -- \
  "$x" train "$tiny" --iters 1 --times "$tmp"
expect 2 "--gemm $tmp/no/g.tsv: cannot write there (its folder does not exist)" \
  "calibrate --gemm into a missing folder, before measuring" -- \
  mpirun -n 2 "$x" calibrate "$tiny" --gemm "$tmp/no/g.tsv"
mkdir -p "$tmp/figs/sweep.png"
expect 2 "$tmp/figs/sweep.png: cannot write there (a directory)" \
  "sweep: a figure path that cannot be written is refused before the grid" -- \
  "$sim" sweep "$tiny" --batch 8 -o "$tmp/figs"

# A full disk: exit 1 with a message, the earlier file whole, no temporary file left.
mkdir -p "$tmp/disk"
if unshare -m true 2>/dev/null; then
  unshare -m --propagation private bash -c '
    mount -t tmpfs -o size=64k tmpfs "$1" || exit 9
    echo earlier >"$1/times.csv"
    head -c 60000 /dev/zero >"$1/filler" 2>/dev/null
    "$2" train "$3" --iters 400 --print-every 400 --times "$1/times.csv" >"$1/../full.out" 2>"$1/../full.err"
    echo $? >"$1/../full.status"
    cat "$1/times.csv" >"$1/../full.times"
    ls "$1" >"$1/../full.ls"' _ "$tmp/disk" "$x" "$tiny" 2>/dev/null ||
    true
fi
if [ ! -e "$tmp/full.status" ]; then
  skip "--times onto a full disk" "no private mount namespace here (unshare -m)"
else
  if [ "$(cat "$tmp/full.status")" = 1 ] && grep -q "times.csv: writing failed: No space left on device" "$tmp/full.err" &&
     [ "$(cat "$tmp/full.times")" = earlier ] && [ "$(cat "$tmp/full.ls" | tr '\n' ' ')" = "filler times.csv " ]; then
    ok "--times onto a full disk: exit 1 naming it, the earlier file whole, nothing left over"
  else
    echo "# status $(cat "$tmp/full.status"), files: $(cat "$tmp/full.ls" | tr '\n' ' ')"; cat "$tmp/full.err" | sed 's/^/# /'
    not_ok "--times onto a full disk: exit 1 naming it, the earlier file whole, nothing left over"
  fi
fi

# --- inputs ----------------------------------------------------------------------------------
if [ -c /dev/zero ]; then
  expect 2 "/dev/zero: a character device, not a file to read" "describe /dev/zero is refused" -- \
    timeout 20 "$sim" describe /dev/zero
  expect 2 "/dev/zero: a character device" "run --profile /dev/zero is refused" -- \
    timeout 20 "$sim" run "$tiny" --batch 8 --profile /dev/zero
  expect 2 "/dev/zero: a character device" "compare /dev/zero is refused" -- \
    timeout 20 "$sim" compare /dev/zero /dev/zero
else
  for what in describe "run --profile" compare; do skip "$what /dev/zero" "no /dev/zero here"; done
fi
expect 2 "fifo:1:1: empty model" "a model FIFO with no writer reads as empty, no hang" -- \
  timeout 20 "$sim" describe "$tmp/fifo"
expect 2 "$tmp/fifo: a FIFO, not a file to read" "--load from a FIFO is refused, no hang" -- \
  timeout 20 "$x" train "$tiny" --load "$tmp/fifo"
printf 'input 4\n' >"$tmp/pipe.model"
echo "fc out=2" >>"$tmp/pipe.model"
echo "softmax_xent" >>"$tmp/pipe.model"
expect 0 "" "a model read through a pipe (process substitution)" -- \
  "$sim" describe <(cat "$tmp/pipe.model")
head -c $((17 << 20)) /dev/zero | tr '\0' '#' >"$tmp/huge.model"
expect 2 "huge.model: larger than the 16 MiB this reader accepts" "a model file over the bound" -- \
  "$sim" describe "$tmp/huge.model"

# --- counts that would reach an assertion ----------------------------------------------------
expect 2 "would make about 3.22e+09 ops, more than the" "sim: 268435456 microbatches refused" -- \
  timeout 20 "$sim" run "$tiny" --batch 268435456 -m 268435456
expect 2 "would make about 1.29e+10 ops, more than the" "exec: 2147483647 microbatches refused" -- \
  timeout 20 "$x" train "$tiny" --batch 2147483647 -m 2147483647
if ldd "$sim" | grep -q libasan; then
  skip "sim: op lists larger than memory refused with the estimate" "AddressSanitizer needs more address space than the limit"
else
  expect 2 "needing an estimated 36.0 GiB, more than the 7.6 GiB this process may use" \
    "sim: op lists larger than memory refused with the estimate" -- \
    bash -c 'ulimit -v 8000000 && exec timeout 20 "$0" run "$1" --batch 1048576 -m 1048576 --stages 64' \
    "$sim" "$models/mlp32.model"
fi

# --- the small items -------------------------------------------------------------------------
expect 2 "--stages must be positive, got 0" "describe --stages 0" -- "$sim" describe "$tiny" --stages 0
expect 2 "--stages must be at least 1, got 0" "train --stages 0" -- "$x" train "$tiny" --stages 0
expect 2 "--lr must be a finite number above 0, got nan" "--lr nan names --lr" -- "$x" train "$tiny" --lr nan
expect 2 "--optimizer 'adam': expected sgd or adamw" "--optimizer unknown" -- \
  "$x" train "$tiny" --optimizer adam
expect 2 "--momentum is SGD's; AdamW's moments decay by --beta1 and --beta2" "--momentum with adamw" -- \
  "$x" train "$tiny" --optimizer adamw --momentum 0.5
expect 2 "--beta1, --beta2 and --eps are AdamW's: give --optimizer adamw" "--beta2 with sgd" -- \
  "$x" train "$tiny" --beta2 0.99
expect 2 "--beta2 must be at least 0 and below 1, got 1" "--beta2 1" -- \
  "$x" train "$tiny" --optimizer adamw --beta2 1
expect 2 "--lr-schedule 'linear': expected constant or cosine" "--lr-schedule unknown" -- \
  "$x" train "$tiny" --lr-schedule linear
expect 2 "--warmup-iters must be 0 to --iters (10), got 11" "--warmup-iters beyond --iters" -- \
  "$x" train "$tiny" --warmup-iters 11
expect 2 "--clip-grad-norm must be a finite number above 0 (or 0: no clipping), got -1" \
  "--clip-grad-norm negative" -- "$x" train "$tiny" --clip-grad-norm -1
expect 2 "--momentum must be at least 0 and below 1, got nan" "--momentum nan" -- \
  "$x" train "$tiny" --momentum nan
expect 2 "--eval-samples 100 goes with --eval-every K" "--eval-samples alone" -- \
  "$x" train "$tiny" --eval-samples 100
expect 2 "--eval-every must be at least 0, got -1" "--eval-every negative" -- \
  "$x" train "$tiny" --eval-every -1
expect 2 "--eval-every: 3 test samples make no microbatch of each replica's (microbatches of 4 on 1 replica)" \
  "--eval-samples below a microbatch" -- "$x" train "$tiny" --batch 16 -m 4 --eval-every 1 --eval-samples 3
expect 2 "--times and --summary name one file, $tmp/same.out" "two outputs onto one file are refused" -- \
  "$x" train "$tiny" --times "$tmp/same.out" --summary "$tmp/same.out"
cp "$tiny" "$tmp/mm.model"
expect 2 "--save $tmp/mm.model is the model file" "--save onto the model file is refused" -- \
  "$x" train "$tmp/mm.model" --save "$tmp/mm.model"
if cmp -s "$tiny" "$tmp/mm.model"; then ok "the model file stays as it was"; else not_ok "the model file stays as it was"; fi
expect 2 "--load $tmp/none.pcw and --resume $tmp/none-ck: a resumed run starts from its checkpoint's weights" \
  "--load with --resume is refused" -- "$x" train "$tiny" --load "$tmp/none.pcw" --resume "$tmp/none-ck"
expect 2 "--chunks must be at least 1, got 0" "train: --chunks 0 is refused" -- "$x" train "$tiny" --chunks 0
expect 2 "--set 'width=9': given twice" "train: every --set read (one parameter in two is refused)" -- \
  "$x" train "$models/mlp32.model" --set width=8 --set input=8,width=9
expect 2 "--checkpoint-every 2 needs --checkpoint DIR" "--checkpoint-every without --checkpoint" -- \
  "$x" train "$tiny" --checkpoint-every 2
(cd "$tmp" && "$x" train "$tiny" --iters 2 --checkpoint ck-slash/ >out 2>err </dev/null)
if [ $? = 0 ] && [ -f "$tmp/ck-slash/checkpoint" ]; then ok "--checkpoint DIR/ (a new folder with a slash) is made"
else not_ok "--checkpoint DIR/ (a new folder with a slash) is made"; fi
printf 'input 4\nfc out=2 \377\n' >"$tmp/byte.model"
expect 2 "byte.model:2:10: " "a stray byte in a model file" -- "$sim" describe "$tmp/byte.model"
if grep -qF '\xFF' "$tmp/err" && iconv -f UTF-8 -t UTF-8 "$tmp/err" >/dev/null 2>&1; then
  ok "the stray byte is shown as \\xFF, the message is UTF-8"
else
  not_ok "the stray byte is shown as \\xFF, the message is UTF-8"
fi

tap_end
