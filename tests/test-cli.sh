#!/bin/sh
# test-cli.sh — pipecast-sim's command line: output of describe, and exit status 2 with a message
# naming the problem for each kind of bad input. TAP on stdout. Needs PC_SIM and PC_MODELS_DIR.
set -u
sim=${PC_SIM:?PC_SIM is not set}
models=${PC_MODELS_DIR:?PC_MODELS_DIR is not set}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"

expect 0 "" "describe vgg16 at ImageNet size" -- "$sim" describe "$models/vgg16.model" --set input=3x224x224,classes=1000
stdout_has "138,357,544 parameters, 15.4703 G multiply-adds" "vgg16: torchvision's parameter and multiply-add counts"
expect 0 "" "describe resnet50 at ImageNet size" -- "$sim" describe "$models/resnet50.model" --set input=3x224x224,classes=1000
stdout_has "25,557,032 parameters, 4.0892 G multiply-adds" "resnet50: torchvision's parameter and multiply-add counts"
expect 0 "" "describe mlp32 with 4 stages" -- "$sim" describe "$models/mlp32.model" --stages 4
stdout_has "32,547,850 parameters" "mlp32: 31*(1024*1024+1024)+(1024*10+10) parameters"
stdout_has "partition (4 stages):" "mlp32: partition printed back"
expect 0 "" "describe resnet50 --format csv with a partition" -- "$sim" describe "$models/resnet50.model" -p "conv1..layer2.1 | layer2.2..fc" --format csv
stdout_has "index,layer,kind,output,params,fwd_flops" "csv: layer header"
stdout_has "stage,first,last,layers,params" "csv: stage header"
stdout_has "layer2.1.relu,0,1," "csv: the tensor crossing the cut"
if [ "$(grep -c '^[0-9]*,layer' "$tmp/out")" -gt 150 ]; then ok "csv: one row per layer"; else not_ok "csv: one row per layer"; fi
expect 0 "" "describe with two --set options" -- "$sim" describe "$models/mlp32.model" --set width=64 --set=classes=5
stdout_has "width=64 (set), input=1024, classes=5 (set)" "--set repeated: every one applies"
expect 2 "--set 'width=32': given twice" "--set repeated with one parameter twice is refused" -- \
  "$sim" describe "$models/mlp32.model" --set width=64 --set width=32
expect 0 "" "describe tiny-mlp uses its split markers" -- "$sim" describe "$models/tiny-mlp.model"
stdout_has "fc1..relu2 | fc3..loss" "split markers become the partition"
"$sim" describe "$models/tiny-cnn.model" --stages 3 >"$tmp/a" 2>&1
"$sim" describe "$models/tiny-cnn.model" --stages 3 >"$tmp/b" 2>&1
if cmp -s "$tmp/a" "$tmp/b"; then ok "describe is deterministic"; else not_ok "describe is deterministic"; fi

# Bad input: exit status 2 and a message naming what and where.
printf 'input 3x8x8\nflatten\nconv out=4 k=3\n' >"$tmp/conv-after-flatten.model"
: >"$tmp/empty.model"
printf 'input 4\nseq s {\n fc out=2\n' >"$tmp/open.model"
printf 'input 4\nfc out=2\n\0junk' >"$tmp/binary.model"
expect 2 "conv-after-flatten.model:3:1: layer 'conv1': conv needs an image input" "conv after flatten" -- "$sim" describe "$tmp/conv-after-flatten.model"
expect 2 "empty.model:1:1: empty model" "empty file" -- "$sim" describe "$tmp/empty.model"
expect 2 "open.model:4:1: unterminated block" "unterminated block" -- "$sim" describe "$tmp/open.model"
expect 2 "binary.model:3: a NUL byte" "binary file" -- "$sim" describe "$tmp/binary.model"
expect 2 "No such file" "missing file" -- "$sim" describe "$tmp/nope.model"
expect 2 "no parameter 'widht'" "--set unknown parameter" -- "$sim" describe "$models/mlp32.model" --set widht=3
expect 2 "expected a number or a shape" "--set malformed value" -- "$sim" describe "$models/mlp32.model" --set width=wide
expect 2 "no layer or scope is called 'layer9'" "partition naming an unknown layer" -- "$sim" describe "$models/resnet50.model" -p "conv1..layer9 | layer2.."
expect 2 "overlap or are out of order" "overlapping ranges" -- "$sim" describe "$models/mlp32.model" -p "fc1..fc10 | fc5..loss"
expect 2 "are in no stage" "out-of-order ranges" -- "$sim" describe "$models/mlp32.model" -p "fc9..loss | fc1..relu8"
expect 2 "65 stages but only 64 layers" "more stages than layers" -- "$sim" describe "$models/mlp32.model" --stages 65
expect 2 "add up to 48 layers, but the model has 64" "counts that do not add up" -- "$sim" describe "$models/mlp32.model" -p 16,16,16
expect 2 "--stages must be positive" "negative stage count" -- "$sim" describe "$models/mlp32.model" --stages -2
expect 2 "balancing by time needs measured layer times" "--by time where no layer times are read" -- "$sim" describe "$models/mlp32.model" --stages 2 --by time
expect 2 "--format 'xml'" "unknown format" -- "$sim" describe "$models/mlp32.model" --format xml
expect 2 "Unknown option" "unknown flag" -- "$sim" describe "$models/mlp32.model" --frobnicate
expect 2 "expected one MODEL" "no model" -- "$sim" describe
expect 2 "unknown command 'descrbe'" "unknown command" -- "$sim" descrbe "$models/mlp32.model"
expect 0 "" "--help" -- "$sim" --help

tap_end
