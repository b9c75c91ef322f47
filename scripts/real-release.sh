#!/usr/bin/env bash
# The main job on real input (issue 2, item 7): two consecutive published releases of real npm
# packages, fetched with `npm pack`, installed and updated with codemate-txn, then checked.
#
#   npm run real                 all pairs, each from local files and again over HTTP
#   npm run real -- typescript   only the pairs of the named package(s)
#   CODEMATE_TXN_REAL_HTTP=0     skip the HTTP variant
#
# Per pair: build both manifests with `manifest build`, install the first into a fresh target,
# add user files (user_data/, logs/, .env), update to the second with --json, then check that
# the target equals the unpacked second release byte for byte and mode for mode (content
# hashes, not mtimes: npm tarballs date every file 1985, so rsync -a would miss same-size
# changes), that the user files are untouched, that files identical in both releases kept their
# inode, and that `verify` finds no drift. Prints counts and wall times; exits 1 on any mismatch.
#
# The HTTP variant (issue 4) serves both unpacked releases from 127.0.0.1 with a plain static
# server (python3 -m http.server), installs and updates a second target from the manifest URLs,
# runs the same checks, and reports what the update downloaded (files, bytes, throughput): only
# the files that are new or changed by content.
#
# Tarballs are cached in ${CODEMATE_REAL_CACHE:-~/.cache/codemate-txn-real}. A failed pair's temp
# dir is kept for a look; CODEMATE_TXN_REAL_KEEP=1 keeps them all.
set -euo pipefail
umask 022
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CTX=${CODEMATE_TXN_BIN:-$ROOT/node_modules/.bin/codemate-txn}
LIST=$ROOT/scripts/tree-listing.js
CACHE=${CODEMATE_REAL_CACHE:-$HOME/.cache/codemate-txn-real}
PAIRS=("date-fns 2.29.3 2.30.0" "date-fns 2.30.0 3.0.0" "typescript 5.5.4 5.6.3")
USER_PATHS=(user_data logs .env)

die() { printf 'real: FAILED: %s\n' "$*" >&2; exit 1; }
now() { printf '%s' "${EPOCHREALTIME:-$(date +%s.%N)}"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fs", b - a }'; }

# The tarball of PKG@V in the cache (fetched once; a corrupt one is fetched again).
fetch() {
  local pkg=$1 v=$2 tgz=$CACHE/$1-$2.tgz
  if [ -f "$tgz" ] && tar -tzf "$tgz" >/dev/null 2>&1; then echo "$tgz"; return; fi
  mkdir -p "$CACHE"
  rm -f "$tgz"
  (cd "$CACHE" && npm pack "$pkg@$v" --pack-destination "$CACHE" --silent >/dev/null) || die "npm pack $pkg@$v failed"
  [ -f "$tgz" ] || die "npm pack $pkg@$v: expected $tgz, found nothing"
  echo "$tgz"
}

# Counts from an apply --json output, read defensively: whatever keys `counts` has.
counts() {
  node -e '
    const fs = require("node:fs");
    let j;
    try { j = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); }
    catch (e) { console.log("(no JSON on stdout: " + e.message + ")"); process.exit(0); }
    const c = j && typeof j.counts === "object" && j.counts !== null ? j.counts : null;
    const src = c ?? Object.fromEntries(Object.entries(j ?? {}).filter(([, v]) => typeof v === "number"));
    const s = Object.entries(src).map(([k, v]) => `${k}=${v}`).join(" ");
    console.log(s || "(no counts in the JSON: keys " + Object.keys(j ?? {}).join(",") + ")");
  ' "$1"
}

# What changed between two release trees, from their listings (the truth the counts should match).
tree_diff() {
  node -e '
    const { listTree } = require(process.argv[1]);
    const m = (d) => new Map(listTree(d, { dirs: false }).map((e) => [e.path, e]));
    const [a, b] = [m(process.argv[2]), m(process.argv[3])];
    const n = { added: 0, changed: 0, removed: 0, unchanged: 0, modeOnly: 0 };
    for (const [p, e] of b) {
      const o = a.get(p);
      if (!o) n.added++;
      else if (o.type === e.type && o.sha256 === e.sha256 && o.target === e.target) n[o.mode === e.mode ? "unchanged" : "modeOnly"]++;
      else n.changed++;
    }
    for (const p of a.keys()) if (!b.has(p)) n.removed++;
    require("node:fs").writeFileSync(process.argv[4], JSON.stringify(n));
    console.log(Object.entries(n).map(([k, v]) => `${k}=${v}`).join(" "));
  ' "$LIST" "$1" "$2" "$3"
}

# The update's counts must agree with the tree diff (for each count the JSON has).
counts_agree() {
  node -e '
    const fs = require("node:fs");
    const c = (JSON.parse(fs.readFileSync(process.argv[1], "utf8")) ?? {}).counts ?? {};
    const d = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    const pairs = { installed: "added", replaced: "changed", removed: "removed", unchanged: "unchanged", chmod: "modeOnly" };
    const bad = Object.entries(pairs).filter(([k, t]) => typeof c[k] === "number" && c[k] !== d[t]).map(([k, t]) => `${k}=${c[k]} but the trees say ${t}=${d[t]}`);
    const checked = Object.keys(pairs).filter((k) => typeof c[k] === "number");
    if (bad.length) { console.error(bad.join("; ")); process.exit(1); }
    console.log(checked.join(", ") || "(no counts to check)");
  ' "$1" "$2"
}

# One variant of a pair: V is "file" or "http"; M1, M2 the manifests (paths or URLs).
run_variant() {
  local V=$1 M1=$2 M2=$3
  local INST=$W/$V-install
  local T=$INST/$pkg t0 t1 rc
  mkdir -p "$INST"
  t0=$(now); rc=0
  "$CTX" apply "$M1" --target "$T" --json >"$W/$V-apply-1.json" 2>"$W/$V-apply-1.err" || rc=$?
  t1=$(now)
  [ "$rc" = 0 ] || { cat "$W/$V-apply-1.json" "$W/$V-apply-1.err" >&2; die "install of $pkg@$a exited $rc"; }
  echo "   install $a:  $(secs "$t0" "$t1")   $(counts "$W/$V-apply-1.json")"
  diff <(node "$LIST" "$T" --exclude .codemate-version) <(node "$LIST" "$R1") >"$W/$V-diff-1.txt" \
    || { head -20 "$W/$V-diff-1.txt" >&2; die "after install the target differs from $pkg@$a (< target, > release; $W/$V-diff-1.txt)"; }

  mkdir -p "$T/user_data/db" "$T/logs"
  printf '{"notes":["mine"]}\n' >"$T/user_data/db/state.json"
  head -c 4096 /dev/urandom >"$T/user_data/blob.bin"
  printf 'started\n' >"$T/logs/app.log"
  printf 'TOKEN=not-a-real-token\n' >"$T/.env"
  local USER_ONLY=() NOT_USER=(--exclude .codemate-version)
  for p in "${USER_PATHS[@]}"; do USER_ONLY+=(--only "$p"); NOT_USER+=(--exclude "$p"); done
  node "$LIST" "$T" "${USER_ONLY[@]}" >"$W/$V-user-before.txt"
  node "$LIST" "$T" --inodes >"$W/$V-inodes-before.txt"

  t0=$(now); rc=0
  "$CTX" apply "$M2" --target "$T" --json >"$W/$V-apply-2.json" 2>"$W/$V-apply-2.err" || rc=$?
  t1=$(now)
  [ "$rc" = 0 ] || { cat "$W/$V-apply-2.json" "$W/$V-apply-2.err" >&2; die "update to $pkg@$b exited $rc"; }
  echo "   update $b:   $(secs "$t0" "$t1")   $(counts "$W/$V-apply-2.json")"
  local agreed; agreed=$(counts_agree "$W/$V-apply-2.json" "$W/tree-diff.json") || die "the update's counts disagree with the tree diff"
  echo "   ok  counts agree with the tree diff ($agreed)"

  diff <(node "$LIST" "$T" "${NOT_USER[@]}") <(node "$LIST" "$R2") >"$W/$V-diff-2.txt" \
    || { head -20 "$W/$V-diff-2.txt" >&2; die "after the update the target differs from $pkg@$b (< target, > release; $W/$V-diff-2.txt)"; }
  echo "   ok  target equals $pkg@$b: $(node "$LIST" "$R2" | wc -l | tr -d ' ') entries, byte for byte and mode for mode"
  diff <(node "$LIST" "$T" "${USER_ONLY[@]}") "$W/$V-user-before.txt" >/dev/null || die "user files changed by the update"
  echo "   ok  user files untouched: ${USER_PATHS[*]}"
  [ "$(cat "$T/.codemate-version")" = "$b" ] || die ".codemate-version: expected $b, found $(cat "$T/.codemate-version")"
  local n; n=$(node "$ROOT/scripts/check-untouched.js" "$R1" "$R2" "$T" "$W/$V-inodes-before.txt") || die "unchanged files were rewritten"
  echo "   ok  $n files identical in both releases kept their inodes"
  local left; left=$(find "$INST" -mindepth 1 -maxdepth 1 ! -name "$pkg" ! -name "$pkg.journal.db*" ! -name "$pkg.journal.db.lock" ! -name "$pkg.lock" -print)
  [ -z "$left" ] || die "left behind beside the target: $left"
  echo "   ok  no staging or backup left behind"
  t0=$(now); rc=0
  "$CTX" verify --target "$T" >"$W/$V-verify.out" 2>&1 || rc=$?
  t1=$(now)
  [ "$rc" = 0 ] || { cat "$W/$V-verify.out" >&2; die "verify exited $rc"; }
  echo "   ok  verify: no drift ($(secs "$t0" "$t1"))"
  if command -v sqlite3 >/dev/null 2>&1; then
    local J=$INST/$pkg.journal.db
    echo "   journal: $(sqlite3 -batch "$J" "select group_concat(kind || ' ' || coalesce(from_version, 'none') || ' -> ' || to_version || ' ' || state, '; ') from txn_history"); installed_files: $(sqlite3 -batch "$J" 'select count(*) from installed_files') rows"
  fi

  if [ "$V" = http ]; then
    echo "   download:      $(download_summary "$W/$V-apply-1.json" install)"
    echo "                  $(download_summary "$W/$V-apply-2.json" update)"
  fi
}

# Serves DIR on 127.0.0.1 (a free port) with python3's plain static server; sets BASE, SERVER_PID.
serve() {
  local log=$1/http-server.log
  python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$1" >"$log" 2>&1 &
  SERVER_PID=$!
  local port="" i
  for i in $(seq 1 100); do
    port=$(sed -nE 's/.*port ([0-9]+).*/\1/p' "$log" | head -1)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || die "python3 -m http.server did not start: $(cat "$log")"
  BASE=http://127.0.0.1:$port
}

# What an apply --json over HTTP downloaded: files, bytes, time and throughput.
download_summary() {
  node -e '
    const j = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    const d = j.download;
    if (!d) { console.log(process.argv[2] + ": (no download in the JSON)"); process.exit(0); }
    const mib = d.bytes / 1048576;
    const rate = d.ms > 0 ? (mib / (d.ms / 1000)).toFixed(1) + " MiB/s" : "n/a";
    console.log(`${process.argv[2]}: ${d.files} files, ${d.bytes} bytes (${mib.toFixed(2)} MiB) in ${d.ms} ms, ${rate}; ${d.requests} requests, ${d.retries} retries`);
  ' "$1" "$2"
}

# One pair, in its own process so `set -e` holds throughout.
one_pair() {
  local pkg=$1 a=$2 b=$3
  W=$(mktemp -d "${TMPDIR:-/tmp}/codemate-txn-real.XXXXXX")
  SERVER_PID=""
  trap 'if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi' EXIT
  echo "== $pkg $a -> $b   (work dir $W)"

  for v in "$a" "$b"; do
    mkdir -p "$W/rel-$v"
    tar -xzf "$(fetch "$pkg" "$v")" -C "$W/rel-$v" --no-same-owner
    [ -d "$W/rel-$v/package" ] || die "$pkg@$v: expected package/ in the tarball"
    (cd "$W/rel-$v" && "$CTX" manifest build ./package --app "$pkg" --version "$v" --source ./package -o manifest.json) \
      || die "manifest build of $pkg@$v failed"
  done
  local R1=$W/rel-$a/package R2=$W/rel-$b/package
  echo "   release files: $a $(find "$R1" -type f | wc -l | tr -d ' '), $b $(find "$R2" -type f | wc -l | tr -d ' ')"
  echo "   tree diff:     $(tree_diff "$R1" "$R2" "$W/tree-diff.json")"

  echo "   -- from local files"
  run_variant file "$W/rel-$a/manifest.json" "$W/rel-$b/manifest.json"
  if [ "${CODEMATE_TXN_REAL_HTTP:-1}" != 0 ]; then
    if command -v python3 >/dev/null 2>&1; then
      serve "$W"
      echo "   -- over HTTP from $BASE (python3 -m http.server)"
      run_variant http "$BASE/rel-$a/manifest.json" "$BASE/rel-$b/manifest.json"
      kill "$SERVER_PID" 2>/dev/null || true
      SERVER_PID=""
    else
      echo "   -- over HTTP: skipped (python3 not found)"
    fi
  fi

  if [ "${CODEMATE_TXN_REAL_KEEP:-}" = 1 ]; then echo "   (kept $W)"; else rm -rf "$W"; fi
}

if [ "${1:-}" = --one-pair ]; then shift; one_pair "$@"; exit 0; fi

[ -x "$CTX" ] || die "no CLI at $CTX: expected the codemate-txn bin; run \`npm install\` first"
command -v npm >/dev/null || die "npm is needed for npm pack"

failed=()
ran=0
for pair in "${PAIRS[@]}"; do
  read -r pkg a b <<<"$pair"
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx -- "$pkg"; then continue; fi
  ran=$((ran + 1))
  if ! bash "${BASH_SOURCE[0]}" --one-pair "$pkg" "$a" "$b"; then failed+=("$pkg $a -> $b"); fi
  echo
done
[ "$ran" -gt 0 ] || die "no pair matches: $* (known: date-fns, typescript)"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'real: %d of %d pairs FAILED:\n' "${#failed[@]}" "$ran" >&2
  printf '  - %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "real: all $ran pairs passed"
