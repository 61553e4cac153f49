#!/usr/bin/env bash
# Fleet scale: N clusters (half prod, a quarter qa, a quarter dev) x C components, seeded at
# start-up, one release moving every cluster to a new build, then the drift report twice and
# three pages of the fleet view (first, middle, CSV).
#
#   scripts/load-fleet.sh [DATABASE_URL]   (default: a fresh SQLite file; a postgres:// URL is
#                                           dropped and created again, so name a scratch database)
#   N=10000 C=40 (defaults)                 fleet size
#   SIZES="1000 5000 10000 20000"           one run per size instead, then a CSV of all of them
#                                           and an SVG chart at $SVG (default docs/fleet-growth.svg)
#
# Goals (10,000 x 40 on 2 cores): start < 15 s, release < 3 s, first drift < 300 ms,
# peak RSS < 300 MB. Prints each figure, then one CSV line per figure:
#   csv,backend,clusters,components,figure,value,unit
# Builds the release binary; everything stays on this machine and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
. scripts/load-common.sh

url_arg=${1:-}
backend=sqlite
[[ "$url_arg" == postgres* ]] && backend=postgres

# Milliseconds since the epoch.
now_ms() { date +%s%3N; }

# Writes $work/clusters.yaml: n clusters, half prod, a quarter qa, a quarter dev.
write_fleet() {
    local n=$1
    python3 - "$n" > "$work/clusters.yaml" <<'PY'
import sys
n = int(sys.argv[1])
print("clusters:")
for i in range(n):
    tier = "prod" if i % 4 in (0, 1) else ("qa" if i % 4 == 2 else "dev")
    print(f"  - {{name: {tier}-{i:06d}, tier: {tier}}}")
PY
}

# A fresh database for one run: a new SQLite file, or the postgres database dropped and made again.
fresh_database() {
    if [ "$backend" = postgres ]; then
        local name=${url_arg##*/}
        name=${name%%\?*}
        local admin=${url_arg%/*}/postgres
        psql -q "$admin" -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
        psql -q "$admin" -c "CREATE DATABASE \"$name\"" >/dev/null
        database_url=$url_arg
    else
        rm -f "$work/fleet.db" "$work/fleet.db-wal" "$work/fleet.db-shm"
        database_url=$work/fleet.db
    fi
}

# Prints a figure and appends its CSV line to $work/figures.csv.
figure() {
    local name=$1 value=$2 unit=$3
    printf '  %-28s %10s %s\n' "$name" "$value" "$unit"
    echo "csv,$backend,$n,$components,$name,$value,$unit" >> "$work/figures.csv"
}

# Seconds with three decimals from milliseconds.
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

run_one() {
    n=$1
    components=${C:-40}
    write_catalog "$components"
    write_fleet "$n"
    fresh_database
    echo "fleet: $n clusters x $components components on $backend"
    local t0 t1 token body
    t0=$(now_ms)
    READY_WITHIN=${READY_WITHIN:-600} start_service "$database_url"
    t1=$(now_ms)
    figure start_s "$(secs $((t1 - t0)))" s
    token=$("$binary" token create --database-url "$database_url" --name "fleet-$(date +%s%N)" --role admin 2>/dev/null)
    body='{"artifact": "platform", "oci_tag": "v1.2.0"}'
    t0=$(now_ms)
    local code
    code=$(curl -s -o "$work/release.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port/api/v1/releases")
    t1=$(now_ms)
    [ "$code" = 200 ] || { echo "the release answered $code: $(head -c 400 "$work/release.json")" >&2; exit 1; }
    local moved
    moved=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["changes"]))' "$work/release.json")
    [ "$moved" = "$n" ] || { echo "the release moved $moved clusters, not $n" >&2; exit 1; }
    figure release_s "$(secs $((t1 - t0)))" s
    for which in first again; do
        local took
        took=$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" \
            "http://127.0.0.1:$port/api/v1/drift?limit=100")
        figure "drift_${which}_ms" "$(python3 -c "print(round($took * 1000))")" ms
    done
    # The fleet view: its first page, a page in the middle (the cursor names the cluster before
    # it), and the same page as CSV.
    local middle
    middle=$(python3 -c "import sys; n=int(sys.argv[1]); t='prod' if (n//2)%4 in (0,1) else ('qa' if (n//2)%4==2 else 'dev'); print(('fleet:'+t+'-%06d' % (n//2)).encode().hex())" "$n")
    for which in first middle csv; do
        local query=limit=100 accept=application/json took
        [ "$which" = first ] || query="limit=100&cursor=$middle"
        [ "$which" != csv ] || accept=text/csv
        took=$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" -H "Accept: $accept" \
            "http://127.0.0.1:$port/api/v1/fleet?$query")
        figure "fleet_page_${which}_ms" "$(python3 -c "print(round($took * 1000))")" ms
    done
    local hwm
    hwm=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$server/status")
    figure peak_rss_mb "$hwm" MB
    kill "$server"
    wait "$server" 2>/dev/null || true
    server=
}

build_release
: > "$work/figures.csv"
for size in ${SIZES:-${N:-10000}}; do
    run_one "$size"
done
cat "$work/figures.csv"
if [ -n "${SIZES:-}" ]; then
    python3 scripts/fleet-chart.py "$work/figures.csv" "${SVG:-docs/fleet-growth.svg}"
    [ -z "${CSV:-}" ] || cp "$work/figures.csv" "$CSV"
fi
