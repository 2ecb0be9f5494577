# tap.sh — TAP helpers for the shell tests; source it after setting `tmp` (a scratch folder).
# ok/not_ok/skip count and print results; not_ok shows the files named in TAP_LOGS (default: the
# command's stderr and stdout as `expect` saves them); tap_end prints the plan and fails when any
# test did.
n=0
fails=0
TAP_LOGS=${TAP_LOGS:-"$tmp/err $tmp/out"}

ok() { n=$((n + 1)); echo "ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
not_ok() {
  n=$((n + 1))
  fails=$((fails + 1))
  echo "not ok $n - $1"
  # shellcheck disable=SC2086
  tail -n 15 $TAP_LOGS 2>/dev/null | sed 's/^/# /'
}

# expect STATUS FRAGMENT DESCRIPTION -- COMMAND...: the exit status, and a fragment of stderr
# (none when FRAGMENT is empty).
expect() {
  want=$1 frag=$2 what=$3
  shift 4
  "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  got=$?
  if [ "$got" -eq "$want" ] && { [ -z "$frag" ] || grep -qF -- "$frag" "$tmp/err"; }; then ok "$what"
  else echo "# exit $got (want $want), stderr should contain: $frag"; not_ok "$what"; fi
}

# stdout_has FRAGMENT DESCRIPTION: the last `expect`'s stdout contains FRAGMENT.
stdout_has() {
  if grep -qF -- "$1" "$tmp/out"; then ok "$2"; else echo "# stdout should contain: $1"; not_ok "$2"; fi
}

# nonempty FILE DESCRIPTION
nonempty() {
  if [ -s "$1" ]; then ok "$2"; else echo "# $1 is missing or empty"; not_ok "$2"; fi
}

# kill_while_writing DIR SECONDS: kills (-9) the training job $job that checkpoints into DIR at a
# moment when a stage file is half written (a temporary file in DIR/iter-*), waiting up to
# SECONDS for one; sets killed=1 when it did. The job is over afterwards ($job empty).
kill_while_writing() {
  killed=0
  for _ in $(seq $(($2 * 20))); do
    if ls "$1"/iter-*/*.tmp-* >/dev/null 2>&1; then
      pkill -9 -f "pipecast-exec train .*$1" && killed=1
      break
    fi
    sleep 0.05
  done
  kill -9 "$job" 2>/dev/null
  wait "$job" 2>/dev/null
  job=
}

tap_end() {
  echo "1..$n"
  [ "$fails" -eq 0 ]
}
