#!/usr/bin/env bash
# Load test: a 50-component cluster's render over HTTP with keep-alive, 32 connections, beside
# nginx serving the same body as a static file in the same run (the ratio of the two is what
# holds from one machine to another). Goal on a 2-core machine: at least 0.6 of nginx's
# requests/s, p99 under 5 ms.
#
#   scripts/load-render.sh [DATABASE_URL]     (default: a fresh SQLite file)
#   DURATION=15s ROUNDS=3                     each wrk run, and how many service/nginx pairs
#                                             (medians are reported)
#   WORKERS=1                                 the service's worker threads and nginx's worker
#                                             processes: the same number for both
#
# Needs `wrk` and nginx (Debian: apt-get install wrk nginx-light). Builds the release binary,
# starts the service on a free loopback port with a generated 50-component catalog and one prod
# cluster, starts nginx on another free loopback port, runs wrk against each in turn, and stops
# both. Everything stays on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v wrk >/dev/null || { echo "wrk is not installed (Debian: apt-get install wrk)" >&2; exit 2; }
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "nginx is not installed (Debian: apt-get install nginx-light)" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill "${server:-}" 2>/dev/null || true; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT

database_url=${1:-$work/load.db}
components=50

. scripts/load-common.sh
write_catalog $components
cat > "$work/clusters.yaml" <<CLUSTERS
clusters:
  - {name: prod-load-1, tier: prod}
CLUSTERS

# The same number of workers for both servers; wrk (2 threads) shares the two cores with them.
workers=${WORKERS:-1}
start_service "$database_url" --workers "$workers"
# Flux on a cluster reads its render with a cluster token; the load does the same.
token=$("$binary" token create --database-url "$database_url" \
    --name "load-$(date +%s)" --role cluster --cluster prod-load-1 2>/dev/null)

url="http://127.0.0.1:$port/api/v1/clusters/prod-load-1/render"
mkdir -p "$work/www"
curl -sf -H "Authorization: Bearer $token" "$url" > "$work/www/render.yaml"
bytes=$(wc -c < "$work/www/render.yaml")
echo "render: $bytes bytes, $components components, $workers worker(s) each"

# nginx serving the same body, keep-alive, as small a configuration as serves it fast.
free_port
cat > "$work/nginx.conf" <<NGINX
worker_processes $workers;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$free;
        root $work/www;
        location / { default_type application/yaml; }
    }
}
NGINX
"$nginx" -c "$work/nginx.conf" -p "$work"
static="http://127.0.0.1:$free/render.yaml"
for _ in $(seq 1 50); do curl -sf -o /dev/null "$static" && break; sleep 0.1; done

# Requests/s and p99 (ms) of one wrk run, appended to $work/<name>.runs; the raw output is kept
# in $work/<name>-<round>.txt.
measure() {
    local name=$1 round=$2; shift 2
    wrk --threads 2 --connections 32 --duration "${DURATION:-15s}" --latency "$@" > "$work/$name-$round.txt"
    python3 - "$work/$name-$round.txt" >> "$work/$name.runs" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
print(rps, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit])
PY
    printf '  %-8s %12s requests/s   p99 %s ms\n' "$name" $(tail -n 1 "$work/$name.runs")
}
# The two in turn, ROUNDS times: on a machine busy with other work, alternating short runs and
# taking medians says more than one long run of each.
rounds=${ROUNDS:-3}
echo "keep-alive, 32 connections, ${DURATION:-15s} each, service then nginx, $rounds round(s):"
for round in $(seq 1 "$rounds"); do
    measure service "$round" -H "Authorization: Bearer $token" "$url"
    measure nginx "$round" "$static"
done
python3 - "$work/service.runs" "$work/nginx.runs" <<'PY'
import statistics, sys
service = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
nginx = [tuple(map(float, l.split())) for l in open(sys.argv[2])]
ratios = [s[0] / n[0] for s, n in zip(service, nginx)]
median = statistics.median
print(f"  medians: service {median(s[0] for s in service):.0f} requests/s, p99 {median(s[1] for s in service):.2f} ms; "
      f"nginx {median(n[0] for n in nginx):.0f} requests/s, p99 {median(n[1] for n in nginx):.2f} ms")
print(f"  ratio service/nginx: median {median(ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)}; goal at least 0.6)")
print(f"csv,render,service_rps,{median(s[0] for s in service):.0f}")
print(f"csv,render,service_p99_ms,{median(s[1] for s in service):.2f}")
print(f"csv,render,nginx_rps,{median(n[0] for n in nginx):.0f}")
print(f"csv,render,ratio,{median(ratios):.2f}")
PY
