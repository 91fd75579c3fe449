#!/usr/bin/env bash
# Checks that two builds of tonewatch print byte-identical output: every
# record (with --frames), the summary, the coaching report and a saved
# profile, on the bundled example call and, when the shared data is there,
# on the real call auto_repairs_40.
#
#   benches/eval/same_output.sh OLD NEW [DATA_DIR]
#
# OLD and NEW are tonewatch binaries or git revisions; a revision is built
# (release) in a worktree of its own under $TMPDIR. DATA_DIR defaults to
# ../shared/data beside the checkout. Exit 0 when every output matches,
# 1 with the first differing lines otherwise.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
old="${1:?usage: same_output.sh OLD NEW [DATA_DIR]}"
new="${2:?usage: same_output.sh OLD NEW [DATA_DIR]}"
data="${3:-$root/../shared/data}"
work="$(mktemp -d)"
trap 'git -C "$root" worktree prune; rm -rf "$work"' EXIT

binary() { # REV_OR_PATH NAME -> path of a tonewatch binary
  if [ -x "$1" ] && [ -f "$1" ]; then
    echo "$1"
    return
  fi
  local tree="$work/$2"
  git -C "$root" worktree add --detach -q "$tree" "$1"
  (cd "$tree" && cargo build --release --locked -q --bin tonewatch) >&2
  echo "$tree/target/release/tonewatch"
}
old_bin="$(binary "$old" old)"
new_bin="$(binary "$new" new)"

cases=("example|$root/fixtures/example_call.wav")
if [ -d "$data/calls/auto_repairs_40" ]; then
  cases+=("auto_repairs_40|--agent $data/calls/auto_repairs_40/agent.wav --customer $data/calls/auto_repairs_40/customer.wav")
fi

status=0
for c in "${cases[@]}"; do
  name="${c%%|*}"
  args="${c#*|}"
  for side in old new; do
    bin="$old_bin"
    [ "$side" = new ] && bin="$new_bin"
    # shellcheck disable=SC2086
    "$bin" replay $args --frames --report "$work/$name.$side.html" \
      --profile "$work/$name.$side.profile.toml" >"$work/$name.$side.jsonl"
  done
  for ext in jsonl html profile.toml; do
    if [ ! -e "$work/$name.old.$ext" ] && [ ! -e "$work/$name.new.$ext" ]; then
      echo "$name.$ext: written by neither"
    elif cmp -s "$work/$name.old.$ext" "$work/$name.new.$ext"; then
      echo "$name.$ext: identical ($(wc -c <"$work/$name.new.$ext") bytes)"
    else
      echo "$name.$ext: DIFFERS"
      diff "$work/$name.old.$ext" "$work/$name.new.$ext" | head -10 || true
      status=1
    fi
  done
done
exit $status
