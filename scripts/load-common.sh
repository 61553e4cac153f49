# What the load scripts share: a generated catalog and starting the service on it. Sourced by
# scripts/load-*.sh from the repository root, with `work` set to their scratch directory.

# The made-up digest of the generated catalog's one tag, v1.1.0.
digest="sha256:$(printf 'ab%.0s' $(seq 32))"
# And of v1.2.0, the build a fleet-wide release moves to.
digest2="sha256:$(printf 'cd%.0s' $(seq 32))"

# Where cargo puts the release binary (CARGO_TARGET_DIR when set).
binary="${CARGO_TARGET_DIR:-target}/release/platform-catalog"

# Writes $work/components.yaml (N components of one artifact, tiers dev, qa and prod, prod
# pinning digests) and $work/tags.yaml (its tags v1.1.0 and v1.2.0, each with a digest).
write_catalog() {
    local components=$1
    {
        echo "artifacts:"
        echo "  - {id: platform, url: 'oci://registry.example.com/platform/components', oci_tag: v1.1.0}"
        echo "tiers:"
        echo "  - name: dev"
        echo "  - name: qa"
        echo "  - name: prod"
        echo "    policy: {allow_mutable: false, allow_prerelease: false, pin_digest: true}"
        echo "components:"
        for i in $(seq -w 1 "$components"); do
            echo "  - {id: c$i, category: core, component_path: core/c$i/1.0.0, target_namespace: ns-$i}"
        done
    } > "$work/components.yaml"
    printf 'tags:\n  - {artifact: platform, tag: v1.1.0, digest: "%s"}\n  - {artifact: platform, tag: v1.2.0, digest: "%s"}\n' \
        "$digest" "$digest2" > "$work/tags.yaml"
}

# Builds the release binary and starts it on a free loopback port with the catalog above and
# $work/clusters.yaml; sets `port` and `server` (the caller's EXIT trap stops it). Fails when
# the service is not ready within 60 s (READY_WITHIN seconds when set). Further arguments go to
# `serve`.
start_service() {
    local database_url=$1
    shift
    [ -n "${built:-}" ] || build_release
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # The generated catalog names a registry that does not exist: no build paths to check there.
    RUST_LOG=${RUST_LOG:-warn} "$binary" serve --bind "127.0.0.1:$port" --database-url "$database_url" \
        --verify-paths false \
        --catalog "$work/components.yaml" --tags "$work/tags.yaml" --clusters "$work/clusters.yaml" "$@" &
    server=$!
    for _ in $(seq 1 $((${READY_WITHIN:-60} * 20))); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.05; done
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "the service did not become ready" >&2; exit 1; }
}

# Builds the release binary once (lto: slow the first time).
build_release() {
    cargo build --release --quiet
    built=1
}

# Sets `free` to a free loopback port.
free_port() {
    free=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
}
