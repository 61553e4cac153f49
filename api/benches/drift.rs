//! Benchmark: the fleet drift report over 10,000 clusters × 40 components, on SQLite and on
//! PostgreSQL. Target: under 300 ms per report once the service has read the fleet (the first
//! report reads every cluster's revision and every observed row; later ones read only what
//! changed), on a 2-core machine.
//!
//! `cargo bench -p platform-catalog --bench drift` (PostgreSQL from
//! `PLATFORM_CATALOG_BENCH_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/postgres`;
//! skipped with a note when it does not answer). `DRIFT_BENCH_CLUSTERS` sets the fleet size.

// A test or benchmark fails loudly where a result is not what it expects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use chrono::Utc;
use diesel::prelude::*;
use platform_catalog::db::models_observed::ObservedRow;
use platform_catalog::db::schema::observed;
use platform_catalog::db::DbConnection;
use platform_catalog::service::artifacts::{import_tags, TagEntry, TagsDocument};
use platform_catalog::service::observed::drift::{report, Filter};
use platform_catalog::service::{import_catalog, AppState};
use support::caller;

const COMPONENTS: usize = 40;

fn clusters() -> usize {
    std::env::var("DRIFT_BENCH_CLUSTERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000)
}

const GOOD: &str = "sha256:00000000000000000000000000000000000000000000000000000000000000aa";
const MOVED: &str = "sha256:00000000000000000000000000000000000000000000000000000000000000bb";

fn catalog() -> serde_json::Value {
    let mut yaml = String::from(
        "artifacts:\n  - {id: platform, url: 'oci://registry.example.com/platform/components', oci_tag: v1.1.0}\n\
         tiers:\n  - name: dev\n  - name: qa\n  - name: prod\ncomponents:\n",
    );
    for i in 0..COMPONENTS {
        yaml.push_str(&format!(
            "  - {{id: c{i:02}, category: core, component_path: core/c{i:02}/1.0.0, target_namespace: ns-{i:02}}}\n"
        ));
    }
    catalog::validate::load("bench.yaml", &yaml)
        .expect("a valid catalog")
        .catalog
        .to_document()
}

fn setup(url: &str, n: usize) -> std::sync::Arc<AppState> {
    let state = platform_catalog::server::open(url, 4).expect("the database opens");
    import_catalog(&state, &caller(), catalog(), "bench").expect("import");
    let doc = TagsDocument {
        tags: vec![TagEntry {
            artifact: "platform".into(),
            tag: "v1.1.0".into(),
            digest: Some(GOOD.into()),
        }],
    };
    import_tags(&state, &caller(), &doc).expect("tags");
    support::import_fleet(&state, n, |i| format!("k{i:05}"));
    let started = Instant::now();
    // Every component reports; one in 50 applies a moved tag, one in 200 failed.
    // Reported a minute ago: older than the overlap every refresh re-reads.
    let now = Utc::now().naive_utc() - chrono::Duration::seconds(60);
    let rows: Vec<ObservedRow> = (0..n)
        .flat_map(|i| (0..COMPONENTS).map(move |c| (i, c)))
        .map(|(i, c)| {
            let k = i * COMPONENTS + c;
            let digest = if k % 50 == 0 { MOVED } else { GOOD };
            ObservedRow {
                cluster: format!("k{i:05}"),
                kind: "Kustomization".into(),
                namespace: "flux-system".into(),
                name: format!("c{c:02}"),
                component: Some(format!("c{c:02}")),
                state: if k % 200 == 7 { "failed" } else { "ready" }.into(),
                reason: "ReconciliationSucceeded".into(),
                message: "Applied revision".into(),
                last_revision: Some(format!("v1.1.0@{digest}")),
                applied_revision: Some(format!("v1.1.0@{digest}")),
                applied_tag: Some("v1.1.0".into()),
                applied_digest: Some(digest.into()),
                event_at: now,
                received_at: now,
                applied_at: Some(now),
            }
        })
        .collect();
    let mut conn = state.conn().expect("a connection");
    conn.transaction(|c| {
        // Multi-row inserts need the backend's own connection.
        for chunk in rows.chunks(1000) {
            match &mut **c {
                DbConnection::Sqlite(c) => diesel::insert_into(observed::table).values(chunk).execute(c)?,
                DbConnection::Postgresql(c) => diesel::insert_into(observed::table).values(chunk).execute(c)?,
            };
        }
        Ok::<_, diesel::result::Error>(())
    })
    .expect("observed rows");
    eprintln!(
        "  setup: {} observed rows stored in {:.1} s",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    state
}

fn measure(backend: &str, url: &str) {
    let n = clusters();
    eprintln!("{backend}:");
    let state = setup(url, n);
    let started = Instant::now();
    let first = report(&state, &Filter::default()).expect("a report");
    let cold = started.elapsed();
    let mut warm = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let r = report(&state, &Filter::default()).expect("a report");
        warm.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.findings.len(), first.findings.len());
    }
    warm.sort_by(f64::total_cmp);
    let one = Filter {
        cluster: Some("k00042".into()),
        ..Filter::default()
    };
    let started = Instant::now();
    let r = report(&state, &one).expect("a report");
    let single = started.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{backend}: drift report over {n} clusters × {COMPONENTS} components ({} findings): \
         first {:.0} ms, then median {:.0} ms (max {:.0} ms); one cluster's tier {single:.0} ms ({} findings)",
        first.findings.len(),
        cold.as_secs_f64() * 1000.0,
        warm[2],
        warm[4],
        r.findings.len()
    );
}

fn main() {
    support::on_both_backends("drift", measure);
}
