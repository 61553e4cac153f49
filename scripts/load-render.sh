#!/usr/bin/env bash
# Load test: a 50-component cluster's render over HTTP with keep-alive, 32 connections.
# Target on a 2-core machine: at least 10,000 requests/s with p99 under 10 ms.
#
#   scripts/load-render.sh [DATABASE_URL]     (default: a fresh SQLite file)
#
# Needs `wrk` (Debian: apt-get install wrk). Builds the release binary, starts the service on
# a free loopback port with a generated 50-component catalog and one prod cluster, and runs wrk
# against it. Everything stays on this machine and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v wrk >/dev/null || { echo "wrk is not installed (Debian: apt-get install wrk)" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

database_url=${1:-$work/load.db}
components=50

. scripts/load-common.sh
write_catalog $components
cat > "$work/clusters.yaml" <<CLUSTERS
clusters:
  - {name: prod-load-1, tier: prod}
CLUSTERS

start_service "$database_url"
# Flux on a cluster reads its render with a cluster token; the load does the same.
token=$("$binary" token create --database-url "$database_url" \
    --name "load-$(date +%s)" --role cluster --cluster prod-load-1 2>/dev/null)

url="http://127.0.0.1:$port/api/v1/clusters/prod-load-1/render"
bytes=$(curl -sf -H "Authorization: Bearer $token" "$url" | wc -c)
echo "render: $bytes bytes, $components components"
wrk --threads 2 --connections 32 --duration "${DURATION:-15s}" --latency -H "Authorization: Bearer $token" "$url"
