#!/usr/bin/env bash
# The packed-install check (CI, after the tests): what a team gets from `npm install`.
#
#  1. pack every publishable package (pnpm pack; each builds with tsc first);
#  2. copy examples/webhook-app to a temporary directory, its @idtrail dependencies pointed at the
#     tarballs (plus domain and simulator, and a file importing every package), install with npm;
#  3. type-check it with its strict tsconfig (tsc --init's settings, no special flags);
#  4. on Node 22 and on Node 24 (npm's node@22 / node@24, cached in $IDTRAIL_NODE_CACHE): start it on
#     a database of its own, send it webhooks signed by the stripe SDK's generateTestHeaderString,
#     check each session's history through its route and through SQL on the audit views;
#  5. the packed CLI through node_modules/.bin, on both: `idtrail reconcile --help`, a sandbox
#     sweep of 50 sessions, `idtrail audit --help`, and `idtrail audit export --format jsonl` of the
#     app's database (its rows = session_history's); and `pnpm -s reconcile -- … --json >
#     report.json` writes only JSON (with `--report FILE`, the audit report there).
#
# Needs Postgres on 127.0.0.1:5432 (user postgres, trust), npm and the registry. Exit 0 when all pass.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
node24="$repo/node_modules/.bin/node"
work="$(mktemp -d /tmp/idtrail-packed-check.XXXXXX)"
node_cache="${IDTRAIL_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/idtrail-ci-node}"
database="idtrail_packed_check"
psql_db=(env PGOPTIONS="-c client_min_messages=warning" psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -tAq)
app_pid=""

progress() { printf '  [packed] %s\n' "$*"; }
fail() { printf '  [packed] FAILED: %s\n' "$*" >&2; exit 1; }
cleanup() {
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null && wait "$app_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# pnpm's npm_config_* settings are not npm's.
while IFS= read -r name; do unset "$name"; done < <(env | grep -io '^npm_config_[a-z0-9_-]*' || true)
npm_install() { npm install --no-audit --no-fund --loglevel=error "$@"; }

progress "packing the packages (built by their prepack)"
"$node24" "$repo/scripts/install-packed.ts" "$work/packed" --pack-only > "$work/tarballs.txt"
sed 's#.*/#    #' "$work/tarballs.txt"

progress "a copy of examples/webhook-app with the tarballs as its dependencies, installed with npm"
mkdir -p "$work/app"
cp -r "$repo/examples/webhook-app/src" "$repo/examples/webhook-app/tsconfig.json" "$work/app/"
cp "$repo/examples/webhook-app/packed-check/every-package.ts" "$work/app/src/"
"$node24" -e '
  const fs = require("node:fs")
  const [manifest, list] = process.argv.slice(1)
  const app = JSON.parse(fs.readFileSync(manifest, "utf8"))
  for (const tarball of fs.readFileSync(list, "utf8").trim().split("\n")) {
    const name = tarball.replace(/^.*\/idtrail-(.*)-\d+\.\d+\.\d+\.tgz$/, "@idtrail/$1")
    app.dependencies[name] = `file:${tarball}`
  }
  delete app.scripts
  console.log(JSON.stringify(app, null, 2))
' "$repo/examples/webhook-app/package.json" "$work/tarballs.txt" > "$work/app/package.json"
grep -q 'link:' "$work/app/package.json" && fail "a workspace link is left in the app's package.json"
(cd "$work/app" && npm_install) || fail "npm install of the tarballs"

progress "type-check with the app's strict tsconfig (and build it)"
(cd "$work/app" && PATH="$(dirname "$node24"):$PATH" ./node_modules/.bin/tsc -p tsconfig.json) || fail "tsc"

progress "a database of its own: $database"
"${psql_db[@]}" -c "drop database if exists $database" -c "create database $database"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database"

node_bin() { # the path of Node $1's binary, installed from npm's node@$1 on first use
  local dir="$node_cache/node$1"
  [ -x "$dir/node_modules/node/bin/node" ] || (mkdir -p "$dir" && cd "$dir" && npm_install --no-save "node@$1" >&2)
  echo "$dir/node_modules/node/bin/node"
}
free_port() { "$node24" -e 'const s=require("node:net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

for major in 22 24; do
  node="$(node_bin "$major")"
  version="$("$node" --version)"
  [[ "$version" == "v$major."* ]] || fail "node@$major gave $version"
  port="$(free_port)"
  export STRIPE_WEBHOOK_SECRET="whsec_packed_check_$major"
  progress "Node $version: start the app on port $port"
  (cd "$work/app" && PORT="$port" exec "$node" dist/server.js) > "$work/app-$major.log" 2>&1 &
  app_pid=$!
  for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.5; done
  curl -sf "http://127.0.0.1:$port/health" > /dev/null || { cat "$work/app-$major.log"; fail "the app did not start on Node $major"; }
  grep -q "node $version" "$work/app-$major.log" || fail "the app is not running on Node $version"

  progress "Node $version: send signed webhooks (stripe.webhooks.generateTestHeaderString)"
  ids="$(cd "$work/app" && "$node" dist/send-test-webhooks.js "http://127.0.0.1:$port" 3)" || fail "webhooks refused"
  for id in $ids; do
    route="$(curl -sf "http://127.0.0.1:$port/sessions/$id/history")" || fail "GET /sessions/$id/history"
    from_route="$("$node24" -e '
      const { history } = JSON.parse(process.argv[1])
      if (!history.every((e) => e.source === "webhook")) throw new Error("an entry not from a webhook")
      console.log(history.length, history.map((e) => e.stripeEventId).join(","))
    ' "$route")" || fail "the route's history of $id: $route"
    from_sql="$("${psql_db[@]}" -d "$database" -F ' ' -c "
      select count(*), string_agg(stripe_event_id, ',' order by version)
      from idtrail.session_history where session_id = '$id'")"
    status="$("${psql_db[@]}" -d "$database" -c "select status from idtrail.verification_sessions where session_id = '$id'")"
    [ "$from_route" = "$from_sql" ] || fail "$id: the route says '$from_route', session_history says '$from_sql'"
    [ "$status" = "verified" ] || fail "$id: status '$status' in verification_sessions, expected verified"
    progress "  $id: ${from_sql%% *} events in its history (route = SQL), verified"
  done
  kill "$app_pid" && wait "$app_pid" 2>/dev/null || true
  app_pid=""
done
"${psql_db[@]}" -d "$database" -c "select status, sessions from idtrail.session_counts_by_status" | sed 's/^/    /'

bins="$work/app/node_modules/.bin"
bin="$bins/idtrail-reconcile"
[ -x "$bin" ] && [ -x "$bins/idtrail" ] || fail "no idtrail and idtrail-reconcile in node_modules/.bin"
for major in 22 24; do
  node_dir="$(dirname "$(node_bin "$major")")"
  progress "Node $major: idtrail reconcile --help"
  PATH="$node_dir:$PATH" "$bins/idtrail" reconcile --help > "$work/help.txt" || fail "idtrail reconcile --help"
  head -n 3 "$work/help.txt" | sed 's/^/    /'
  progress "Node $major: idtrail-reconcile --simulate 50 --mode sweep --json"
  (cd "$work" && env -u DATABASE_URL PATH="$node_dir:$PATH" "$bin" --simulate 50 --mode sweep --json > report.json 2> report.log) ||
    { cat "$work/report.log"; fail "the sandbox run"; }
  "$node24" -e '
    const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"))
    if (r.examined !== 50 || r.complete !== true) throw new Error(`examined ${r.examined} of 50 sessions, complete: ${r.complete}`)
    console.log(`    ${r.examined} sessions examined, ${r.started ?? 0} started, complete: ${r.complete}`)
  ' "$work/report.json" || fail "the sandbox report"
  progress "Node $major: idtrail audit --help"
  PATH="$node_dir:$PATH" "$bins/idtrail" audit --help > "$work/audit-help.txt" || fail "idtrail audit --help"
  for sub in history state export report serve; do
    grep -Eq "^  $sub " "$work/audit-help.txt" || fail "idtrail audit --help does not list $sub"
  done
  progress "Node $major: idtrail audit export --format jsonl of the app's database"
  PATH="$node_dir:$PATH" "$bins/idtrail" audit export --from 2000-01-01 --to 2100-01-01 --format jsonl \
    > "$work/export.jsonl" 2> "$work/export.log" || { cat "$work/export.log"; fail "idtrail audit export"; }
  events="$("${psql_db[@]}" -d "$database" -c "select count(*) from idtrail.session_history")"
  "$node24" -e '
    const [header, ...rows] = require("node:fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l))
    if (!header.columns.some((c) => c.name === "session_id")) throw new Error("no columns header")
    if (rows.length !== Number(process.argv[2])) throw new Error(`${rows.length} rows, session_history has ${process.argv[2]} events`)
    if (!rows.every((r) => r.source === "webhook")) throw new Error("a row not from a webhook")
    console.log(`    ${rows.length} events exported (= session_history), ${header.columns.length} columns described`)
  ' "$work/export.jsonl" "$events" || fail "the export: $(head -c 300 "$work/export.jsonl")"
done
progress "the README's 'pnpm -s reconcile -- … --json > report.json' writes nothing but the report (--report FILE too)"
(cd "$repo" && env -u DATABASE_URL pnpm -s reconcile -- --simulate 20 --mode sweep --json --report "$work/pnpm-report.html" \
  > "$work/pnpm-report.json" 2> /dev/null) || fail "pnpm -s reconcile"
"$node24" -e 'JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"))' "$work/pnpm-report.json" ||
  fail "report.json is not JSON: $(head -c 300 "$work/pnpm-report.json")"
grep -q '<tr data-session-id="vs_' "$work/pnpm-report.html" || fail "--report wrote no audit report with sessions"
"${psql_db[@]}" -c "drop database if exists $database"
progress "passed in ${SECONDS} s"
