#!/usr/bin/env bash
# The main job on the bundled sample app (test-fixtures/sample): fresh install of 1.0.0 into a
# temp target, user files added, update to 2.0.0, checks, then the journal's history.
# Run from anywhere after `npm install`:  npm run demo
# Exits non-zero as soon as a step or a check fails (the temp dir is then kept for a look).
# CODEMATE_TXN_DEMO_KEEP=1 keeps the temp dir on success too.
set -Eeuo pipefail
umask 022

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CTX=${CODEMATE_TXN_BIN:-$ROOT/node_modules/.bin/codemate-txn}   # override to try another build
LIST=$ROOT/scripts/tree-listing.js
FIXTURES=$ROOT/test-fixtures/sample

if [ -t 1 ]; then B=$'\033[1m'; G=$'\033[32m'; N=$'\033[0m'; else B=; G=; N=; fi
STEP=0
step() { STEP=$((STEP + 1)); printf '\n%s==> %d. %s%s\n' "$B" "$STEP" "$*" "$N"; }
okay() { printf '%s  ok%s  %s\n' "$G" "$N" "$*"; }
die()  { printf 'demo: FAILED: %s\n' "$*" >&2; exit 1; }
ctx()  { printf '  $ codemate-txn %s\n' "$*"; "$CTX" "$@"; }

[ -x "$CTX" ] || die "no CLI at $CTX: expected the codemate-txn bin; run \`npm install\` first"
[ -d "$FIXTURES/release-1.0.0" ] || die "no sample releases in $FIXTURES"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/codemate-txn-demo.XXXXXX")
OK=0
finish() {
  if [ "$OK" = 1 ] && [ "${CODEMATE_TXN_DEMO_KEEP:-}" != 1 ]; then rm -rf "$TMP"
  else echo "demo: temp dir kept: $TMP" >&2; fi
}
trap finish EXIT
trap 'echo "demo: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR

T=$TMP/install/sample-app
J=$TMP/install/sample-app.journal.db
USER_PATHS=(user_data logs .env config/user_settings.json notes-to-self.txt)
only_user() { local a=(); for p in "${USER_PATHS[@]}"; do a+=(--only "$p"); done; echo "${a[@]}"; }
not_user()  { local a=(--exclude .codemate-version); for p in "${USER_PATHS[@]}"; do a+=(--exclude "$p"); done; echo "${a[@]}"; }

# --------------------------------------------------------------------------------------------
step "Build the two releases: copy test-fixtures/sample, make manifests with 'manifest build'"
for v in 1.0.0 2.0.0; do
  rel=$TMP/rel-$v
  mkdir -p "$rel"
  cp -RP "$FIXTURES/release-$v" "$rel/files"
  # Git keeps only the exec bit; make modes independent of the checkout's umask.
  find "$rel/files" -type d -exec chmod 755 {} +
  find "$rel/files" -type f -perm -u+x -exec chmod 755 {} +
  find "$rel/files" -type f ! -perm -u+x -exec chmod 644 {} +
done
# An empty directory can't live in git; 2.0.0 ships one (the manifest gets a dir entry for it).
mkdir -p "$TMP/rel-2.0.0/files/plugins/enabled"
for v in 1.0.0 2.0.0; do
  (cd "$TMP/rel-$v" && ctx manifest build ./files --app sample --version "$v" --source ./files -o manifest.json)
  node -e '
    const m = require(process.argv[1]); const n = {};
    for (const e of m.files) { const t = e.type || "file"; n[t] = (n[t] || 0) + 1; }
    console.log(`  ${m.app} ${m.version}: ${m.files.length} entries (${Object.entries(n).map(([k, v]) => `${v} ${k}`).join(", ")}), source ${m.source}`);
  ' "$TMP/rel-$v/manifest.json"
done

# --------------------------------------------------------------------------------------------
step "Fresh install of 1.0.0 into $T"
mkdir -p "$(dirname "$T")"
ctx apply "$TMP/rel-1.0.0/manifest.json" --target "$T"
[ "$(node "$LIST" "$T" --exclude .codemate-version)" = "$(node "$LIST" "$TMP/rel-1.0.0/files")" ] \
  || die "the target differs from release 1.0.0"
okay "target equals release 1.0.0 (content, modes, symlink, dirs)"
[ "$(cat "$T/.codemate-version")" = 1.0.0 ] || die ".codemate-version: expected 1.0.0, found $(cat "$T/.codemate-version")"
okay ".codemate-version says 1.0.0"
echo "  the installed app says: $("$T/bin/run" --version) / $("$T/bin/run" greet Ada)"

# --------------------------------------------------------------------------------------------
step "The user works: notes, logs, .env, edited settings, a file of their own"
"$T/bin/run" note "remember the milk" >/dev/null
mkdir -p "$T/logs" && printf '2024-01-01T00:00:00Z started\n' > "$T/logs/app.log"
printf 'API_TOKEN=not-a-real-token\n' > "$T/.env"
printf '{\n  "theme": "dark",\n  "defaultName": "Ada"\n}\n' > "$T/config/user_settings.json"
printf 'my own file, never installed by codemate-txn\n' > "$T/notes-to-self.txt"
# shellcheck disable=SC2046
USER_BEFORE=$(node "$LIST" "$T" $(only_user))
echo "$USER_BEFORE" | sed 's/^/  /'
# Files identical in both releases must not be touched by the update: remember their inodes.
node "$LIST" "$T" --inodes > "$TMP/inodes-before.txt"

# --------------------------------------------------------------------------------------------
step "Dry run of the update to 2.0.0 (prints the plan, changes nothing)"
SNAP=$(node "$LIST" "$T")
ctx apply "$TMP/rel-2.0.0/manifest.json" --target "$T" --dry-run
[ "$SNAP" = "$(node "$LIST" "$T")" ] || die "--dry-run changed the target"
okay "target unchanged by --dry-run"

# --------------------------------------------------------------------------------------------
step "Update to 2.0.0"
ctx apply "$TMP/rel-2.0.0/manifest.json" --target "$T"
echo "  the updated app says: $("$T/bin/run" --version) / $("$T/bin/run" greet)"
echo "  its new markdown plugin lists the user's notes: $("$T/bin/run" markdown | cut -c1-60)"

# --------------------------------------------------------------------------------------------
step "Check: user files untouched, tree equals 2.0.0, unchanged files not touched"
# shellcheck disable=SC2046
[ "$USER_BEFORE" = "$(node "$LIST" "$T" $(only_user))" ] || die "user files changed by the update"
okay "user files byte-identical: ${USER_PATHS[*]}"
# shellcheck disable=SC2046
diff <(node "$LIST" "$T" $(not_user)) <(node "$LIST" "$TMP/rel-2.0.0/files" --exclude config/user_settings.json) \
  || die "the target differs from release 2.0.0 (diff above: < target, > release)"
okay "everything else equals release 2.0.0 (content, modes, symlink, dirs)"
[ "$(readlink "$T/lib/current")" = v2 ] || die "lib/current: expected -> v2"
okay "symlink lib/current -> v2"
[ ! -e "$T/lib/v1" ] && [ ! -e "$T/docs/faq.md" ] && [ ! -e "$T/app/commands/version.js" ] || die "removed files are still there"
okay "removed: lib/v1/, docs/faq.md, app/commands/version.js"
[ -x "$T/scripts/postinstall.sh" ] || die "scripts/postinstall.sh: expected mode 755"
okay "mode change: scripts/postinstall.sh is now 755"
[ -d "$T/plugins/enabled" ] || die "plugins/enabled: expected an (empty) directory"
okay "empty dir plugins/enabled created"
[ "$(cat "$T/.codemate-version")" = 2.0.0 ] || die ".codemate-version: expected 2.0.0"
okay ".codemate-version says 2.0.0"
n=$(node "$ROOT/scripts/check-untouched.js" "$TMP/rel-1.0.0/files" "$TMP/rel-2.0.0/files" "$T" "$TMP/inodes-before.txt") || die "unchanged files were touched by the update"
okay "$n files identical in both releases kept their inodes (never touched)"
[ ! -e "$TMP/install/sample-app.staging" ] && [ ! -e "$TMP/install/backup_staging" ] || die "staging or backup left behind"
okay "no staging or backup left behind"
ctx verify --target "$T"
okay "verify: no drift"

# --------------------------------------------------------------------------------------------
step "The journal's history"
ctx log --target "$T"
if command -v sqlite3 >/dev/null 2>&1; then
  echo
  echo "  \$ sqlite3 $J 'select * from txn_history'"
  sqlite3 -header -column "$J" 'select * from txn_history'
  echo
  echo "  \$ sqlite3 $J 'select version, count(*) from installed_files group by version'"
  sqlite3 -header -column "$J" 'select version, count(*) as files from installed_files group by version'
else
  echo "  (no sqlite3 shell on PATH: skipping the raw SQL view)"
fi

OK=1
printf '\n%sdemo: all steps passed%s\n' "$G" "$N"
