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
digest="sha256:$(printf 'ab%.0s' $(seq 32))"

{
    echo "artifacts:"
    echo "  - {id: platform, url: 'oci://registry.example.com/platform/components', oci_tag: v1.1.0}"
    echo "tiers:"
    echo "  - name: dev"
    echo "  - name: prod"
    echo "components:"
    for i in $(seq -w 1 $components); do
        echo "  - {id: c$i, category: core, component_path: core/c$i/1.0.0, target_namespace: ns-$i}"
    done
} > "$work/components.yaml"
printf 'tags:\n  - {artifact: platform, tag: v1.1.0, digest: "%s"}\n' "$digest" > "$work/tags.yaml"
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

cargo build --release --quiet
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The generated catalog names a registry that does not exist: no build paths to check there.
RUST_LOG=warn target/release/platform-catalog serve --bind "127.0.0.1:$port" --database-url "$database_url" \
    --verify-paths false \
    --catalog "$work/components.yaml" --tags "$work/tags.yaml" --clusters "$work/clusters.yaml" &
server=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "the service did not become ready" >&2; exit 1; }
# Posting for many clusters takes an operator token (a cluster token posts for its own cluster).
LOAD_TOKEN=$(target/release/platform-catalog token create --database-url "$database_url" \
    --name "load-$(date +%s)" --role operator 2>/dev/null)
export LOAD_TOKEN

wrk --threads 2 --connections 32 --duration "${DURATION:-15s}" --latency -s "$work/events.lua" "http://127.0.0.1:$port"
curl -sf -H "Authorization: Bearer $LOAD_TOKEN" "http://127.0.0.1:$port/api/v1/clusters/load-1/events?limit=1" \
    | python3 -c 'import json,sys; e=json.load(sys.stdin)["items"][0]; print("last event stored:", e["message"])'
