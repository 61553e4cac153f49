#!/usr/bin/env bash
# Measures a registry sync of 1,000 tags: a local docker-registry (CNCF distribution) holding
# one pushed build under 1,000 tags, and the service's POST /api/v1/artifacts/{id}/sync against
# it (list every page, resolve every digest, store 1,000 tags with their audit entries).
#
#   scripts/sync-1000-tags.sh [TAGS] [DATABASE_URL]   (default: 1000 tags, a fresh SQLite file)
#
# Needs docker-registry (apt-get install docker-registry) and curl. Builds the release binary.
# Everything stays on this machine and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v docker-registry >/dev/null || { echo "docker-registry is not installed (apt-get install docker-registry)" >&2; exit 2; }
tags=${1:-1000}
work=$(mktemp -d)
trap 'kill "${server:-}" "${registry:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
database_url=${2:-$work/sync.db}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
reg_port=$(free_port)
cat > "$work/registry.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$reg_port}
YAML
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
registry=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$reg_port/v2/" >/dev/null && break; sleep 0.1; done

# PLATFORM_CATALOG_BIN: a binary built already (skips the release build).
bin=${PLATFORM_CATALOG_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release -q
    bin=target/release/platform-catalog
fi
repo="127.0.0.1:$reg_port/platform/components"

echo "== pushing the example tree and tagging it $tags times"
"$bin" push --insecure --tree examples/platform-repo --artifact "oci://$repo" --tag v1.0.0 >/dev/null
accept="application/vnd.oci.image.manifest.v1+json"
curl -sf -H "Accept: $accept" "http://127.0.0.1:$reg_port/v2/platform/components/manifests/v1.0.0" -o "$work/manifest.json"
for i in $(seq 1 $((tags - 1))); do
    [ "$i" -gt 1 ] && echo "next"
    echo "url = \"http://127.0.0.1:$reg_port/v2/platform/components/manifests/v1.0.$i\""
    echo "request = \"PUT\""
    echo "header = \"Content-Type: $accept\""
    echo "data-binary = \"@$work/manifest.json\""
    echo "output = \"/dev/null\""
done > "$work/curl.cfg"
if [ "$tags" -gt 1 ]; then curl -sSf --no-progress-meter --parallel --parallel-max 16 -K "$work/curl.cfg"; fi

sed -e "s|oci://registry.example.com/platform/components|oci://$repo\n    insecure: true|" COMPONENTS.yaml > "$work/components.yaml"
port=$(free_port)
"$bin" serve --auth none --bind "127.0.0.1:$port" --database-url "$database_url" --catalog "$work/components.yaml" \
    2>"$work/serve.log" &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

echo "== first sync ($tags new tags)"
/usr/bin/time -f "%e s" curl -sf -X POST "http://127.0.0.1:$port/api/v1/artifacts/platform/sync" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print("registry_tags=%d new=%d server duration_ms=%d" % (r["registry_tags"], len(r["new_tags"]), r["duration_ms"]))'
echo "== second sync (nothing new)"
/usr/bin/time -f "%e s" curl -sf -X POST "http://127.0.0.1:$port/api/v1/artifacts/platform/sync" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print("registry_tags=%d new=%d server duration_ms=%d" % (r["registry_tags"], len(r["new_tags"]), r["duration_ms"]))'
