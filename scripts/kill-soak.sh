#!/usr/bin/env bash
# Kill soak (issue 3, item 8): SIGKILL `codemate-txn apply` at random moments while it updates the
# real date-fns 2.29.3 -> 2.30.0 release pair (5,722 files, 1,727 changed), then `recover`, and
# check the target is exactly the old or exactly the new release (user files included), nothing is
# left beside it, and a further apply reaches the new version.
#
#   scripts/kill-soak.sh [TRIALS]      (default 30; env CODEMATE_TXN_SOAK_SEED for a fixed seed)
#
# Tarballs come from npm pack, cached in ${CODEMATE_REAL_CACHE:-~/.cache/codemate-txn-real}.
set -euo pipefail
umask 022
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CTX=${CODEMATE_TXN_BIN:-$ROOT/node_modules/.bin/codemate-txn}
LIST=$ROOT/scripts/tree-listing.js
CACHE=${CODEMATE_REAL_CACHE:-$HOME/.cache/codemate-txn-real}
TRIALS=${1:-30}
SEED=${CODEMATE_TXN_SOAK_SEED:-$$}
RANDOM=$SEED
PKG=date-fns A=2.29.3 B=2.30.0

die() { printf 'kill-soak: FAILED: %s\n' "$*" >&2; exit 1; }
[ -x "$CTX" ] || die "no CLI at $CTX; run npm install first"

fetch() {
  local tgz=$CACHE/$PKG-$1.tgz
  if [ ! -f "$tgz" ] || ! tar -tzf "$tgz" >/dev/null 2>&1; then
    mkdir -p "$CACHE"; rm -f "$tgz"
    (cd "$CACHE" && npm pack "$PKG@$1" --pack-destination "$CACHE" --silent >/dev/null) || die "npm pack $PKG@$1 failed"
  fi
  echo "$tgz"
}

W=$(mktemp -d "${TMPDIR:-/tmp}/codemate-txn-soak.XXXXXX")
trap 'rm -rf "$W"' EXIT
for v in "$A" "$B"; do
  mkdir -p "$W/rel-$v"
  tar -xzf "$(fetch "$v")" -C "$W/rel-$v" --no-same-owner
  (cd "$W/rel-$v" && "$CTX" manifest build ./package --app "$PKG" --version "$v" --source ./package -o manifest.json)
done
T=$W/inst/$PKG

# Template: A installed plus user files.
mkdir -p "$W/inst"
"$CTX" apply "$W/rel-$A/manifest.json" --target "$T" --quiet
mkdir -p "$T/user_data" "$T/logs"; echo mine >"$T/user_data/notes.txt"; echo log >"$T/logs/app.log"; echo 'K=v' >"$T/.env"
cp -a "$W/inst" "$W/tmpl"
node "$LIST" "$T" >"$W/old.txt"
restore() { rm -rf "$W/inst"; cp -a "$W/tmpl" "$W/inst"; }

# Reference: uninterrupted updates, timed (median of 3), give the new listing and the kill window.
times=()
for k in 1 2 3; do
  restore
  s=$(date +%s%N)
  "$CTX" apply "$W/rel-$B/manifest.json" --target "$T" --quiet
  e=$(date +%s%N)
  times+=($(( (e - s) / 1000000 )))
done
node "$LIST" "$T" >"$W/new.txt"
window_ms=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
echo "kill-soak: $PKG $A -> $B, uninterrupted update ${window_ms} ms; $TRIALS trials, seed $SEED"

old=0 new=0 bad=0 finished=0
for ((i = 1; i <= TRIALS; i++)); do
  restore
  # Uniform over 0..1.5x the reference update (process start included), so kills land in every
  # phase, after the commit point too, and some runs finish first.
  delay_ms=$(( (RANDOM * 32768 + RANDOM) % (window_ms + window_ms / 2 + 1) ))
  "$CTX" apply "$W/rel-$B/manifest.json" --target "$T" --quiet >/dev/null 2>&1 &
  pid=$!
  sleep "$(awk -v m="$delay_ms" 'BEGIN { printf "%.3f", m / 1000 }')"
  if kill -9 "$pid" 2>/dev/null; then :; else finished=$((finished + 1)); fi
  wait "$pid" 2>/dev/null || true
  rc=0; "$CTX" recover --target "$T" --quiet >"$W/recover.out" 2>&1 || rc=$?
  node "$LIST" "$T" >"$W/now.txt"
  left=$(find "$W/inst" -mindepth 1 -maxdepth 1 ! -name "$PKG" ! -name "$PKG.journal.db*" -print)
  if [ "$rc" != 0 ]; then what="recover exited $rc: $(head -3 "$W/recover.out")"
  elif [ -n "$left" ]; then what="left behind: $left"
  elif cmp -s "$W/now.txt" "$W/old.txt"; then what=old
  elif cmp -s "$W/now.txt" "$W/new.txt"; then what=new
  else what="neither old nor new: $(diff "$W/now.txt" "$W/old.txt" | head -5 | tr '\n' ' ')"; fi
  case $what in
    old) old=$((old + 1)) ;;
    new) new=$((new + 1)) ;;
    *) bad=$((bad + 1)); echo "  trial $i (kill after ${delay_ms} ms): $what" ;;
  esac
  # And the next apply reaches the new version.
  if [ "$what" = old ] || [ "$what" = new ]; then
    "$CTX" apply "$W/rel-$B/manifest.json" --target "$T" --quiet || { bad=$((bad + 1)); echo "  trial $i: apply after recover failed"; }
    node "$LIST" "$T" | cmp -s - "$W/new.txt" || { bad=$((bad + 1)); echo "  trial $i: apply after recover did not reach $B"; }
  fi
done
echo "kill-soak: $((old + new))/$TRIALS trials ended exactly old or new (old $old, new $new; $finished finished before the kill); $bad problems"
[ "$bad" -eq 0 ]
