# What the load scripts share: a generated catalog and starting the service on it. Sourced by
# scripts/load-*.sh from the repository root, with `work` set to their scratch directory.

# The made-up digest of the generated catalog's one tag, v1.1.0.
digest="sha256:$(printf 'ab%.0s' $(seq 32))"

# Writes $work/components.yaml (N components of one artifact, tiers dev and prod) and
# $work/tags.yaml (its tag v1.1.0 at $digest).
write_catalog() {
    local components=$1
    {
        echo "artifacts:"
        echo "  - {id: platform, url: 'oci://registry.example.com/platform/components', oci_tag: v1.1.0}"
        echo "tiers:"
        echo "  - name: dev"
        echo "  - name: prod"
        echo "components:"
        for i in $(seq -w 1 "$components"); do
            echo "  - {id: c$i, category: core, component_path: core/c$i/1.0.0, target_namespace: ns-$i}"
        done
    } > "$work/components.yaml"
    printf 'tags:\n  - {artifact: platform, tag: v1.1.0, digest: "%s"}\n' "$digest" > "$work/tags.yaml"
}

# Builds the release binary and starts it on a free loopback port with the catalog above and
# $work/clusters.yaml; sets `port` and `server` (the caller's EXIT trap stops it). Fails when
# the service is not ready within 60 s.
start_service() {
    local database_url=$1
    cargo build --release --quiet
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # The generated catalog names a registry that does not exist: no build paths to check there.
    RUST_LOG=warn target/release/platform-catalog serve --bind "127.0.0.1:$port" --database-url "$database_url" \
        --verify-paths false \
        --catalog "$work/components.yaml" --tags "$work/tags.yaml" --clusters "$work/clusters.yaml" &
    server=$!
    for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "the service did not become ready" >&2; exit 1; }
}
