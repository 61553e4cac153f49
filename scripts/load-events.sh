#!/usr/bin/env bash
# Load test: Flux events posted to the receiver, 32 connections, every event distinct (no
# duplicates), spread over 100 clusters × 40 components.
# Target on a 2-core machine: at least 5,000 events/s taken in, on SQLite and PostgreSQL.
#
#   scripts/load-events.sh [DATABASE_URL]     (default: a fresh SQLite file)
#
# Needs `wrk` (Debian: apt-get install wrk). Builds the release binary, starts the service on
# a free loopback port with a generated catalog and fleet, and runs wrk against it. Everything
# stays on this machine and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v wrk >/dev/null || { echo "wrk is not installed (Debian: apt-get install wrk)" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

database_url=${1:-$work/load.db}
components=40
clusters=100

. scripts/load-common.sh
write_catalog $components
{
    echo "clusters:"
    for i in $(seq 1 $clusters); do echo "  - {name: load-$i, tier: prod}"; done
} > "$work/clusters.yaml"

# Each wrk thread numbers its own events, so no two requests carry the same event.
cat > "$work/events.lua" <<LUA
local n = 0
function setup(thread)
    n = n + 1
    thread:set("tid", n)
end
function init(args)
    counter = 0
end
function request()
    counter = counter + 1
    local cluster = (counter % $clusters) + 1
    local component = (counter % $components) + 1
    local body = string.format(
        '{"involvedObject":{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization",' ..
        '"name":"c%02d","namespace":"flux-system"},"severity":"info","timestamp":"2026-11-22T08:%02d:%02dZ",' ..
        '"message":"Applied revision: v1.1.0 (thread %d, event %d)","reason":"ReconciliationSucceeded",' ..
        '"metadata":{"revision":"v1.1.0@$digest"},"reportingController":"kustomize-controller",' ..
        '"reportingInstance":"kustomize-controller-7f9c8b6d4-x2x9q"}',
        component, math.floor(counter / 60) % 60, counter % 60, tid, counter)
    return wrk.format("POST", "/api/v1/clusters/load-" .. cluster .. "/events/flux",
        {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("LOAD_TOKEN")}, body)
end
LUA

start_service "$database_url"
# Posting for many clusters takes an operator token (a cluster token posts for its own cluster).
LOAD_TOKEN=$(target/release/platform-catalog token create --database-url "$database_url" \
    --name "load-$(date +%s)" --role operator 2>/dev/null)
export LOAD_TOKEN

wrk --threads 2 --connections 32 --duration "${DURATION:-15s}" --latency -s "$work/events.lua" "http://127.0.0.1:$port"
curl -sf -H "Authorization: Bearer $LOAD_TOKEN" "http://127.0.0.1:$port/api/v1/clusters/load-1/events?limit=1" \
    | python3 -c 'import json,sys; e=json.load(sys.stdin)["items"][0]; print("last event stored:", e["message"])'
