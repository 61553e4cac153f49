//! Benchmarks: a release that moves 1,000 clusters, and a rollout step that changes 1,000
//! clusters, committed on SQLite and on PostgreSQL. Target: under 1 s for each commit on each
//! backend, on a 2-core machine.
//!
//! `cargo bench -p platform-catalog --bench release` (PostgreSQL from
//! `PLATFORM_CATALOG_BENCH_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/postgres`;
//! skipped with a note when it does not answer).

// A test or benchmark fails loudly where a result is not what it expects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use catalog::{ArtifactId, ComponentId, OciTag, TierName};
use platform_catalog::service::artifacts::{import_tags, TagEntry, TagsDocument};
use platform_catalog::service::releases::{release, CreateRelease};
use platform_catalog::service::rollouts::{self, Approval, CreateRollout, CreateWave, Moves, OnFailure};
use platform_catalog::service::{import_catalog, AppState};
use support::caller;

const CLUSTERS: usize = 1000;

fn digest(n: usize) -> String {
    format!("sha256:{:064x}", n + 1)
}

fn setup(url: &str) -> std::sync::Arc<AppState> {
    let state = platform_catalog::server::open(url, 4).expect("the database opens");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("COMPONENTS.yaml")).expect("the example catalog");
    let loaded = catalog::validate::load("COMPONENTS.yaml", &text).expect("a valid catalog");
    import_catalog(&state, &caller(), loaded.catalog.to_document(), "bench").expect("import");
    let tags = ["v1.1.0", "v1.1.0-1", "v1.2.0", "v1.3.0", "v1.4.0"];
    let doc = TagsDocument {
        tags: tags
            .iter()
            .enumerate()
            .map(|(i, t)| TagEntry {
                artifact: "platform".into(),
                tag: (*t).into(),
                digest: Some(digest(i)),
            })
            .collect(),
    };
    import_tags(&state, &caller(), &doc).expect("tags");
    support::import_fleet(&state, CLUSTERS, |i| format!("c{i:04}"));
    state
}

fn measure(backend: &str, url: &str) {
    eprintln!("{backend}:");
    let state = setup(url);
    for tag in ["v1.2.0", "v1.3.0", "v1.4.0"] {
        let spec = CreateRelease {
            artifact: ArtifactId::parse("platform").expect("an artifact id"),
            oci_tag: OciTag::parse(tag).expect("a tag"),
            components: None,
            reason: None,
        };
        let started = Instant::now();
        let outcome = release(&state, &caller(), spec, false).expect("the release commits");
        let elapsed = started.elapsed();
        println!(
            "{backend}: release {tag} moved {} clusters, committed in {:.0} ms",
            outcome.changes.len(),
            elapsed.as_secs_f64() * 1000.0
        );
    }
    measure_rollout_step(backend, &state);
}

/// One wave of every cluster in one step: the step pins 1,000 clusters at once.
fn measure_rollout_step(backend: &str, state: &AppState) {
    let tier = |name: &str| TierName::parse(name).expect("a tier name");
    let wave = CreateWave {
        name: Some("everything".into()),
        tiers: vec![tier("dev"), tier("qa"), tier("prod")],
        labels: Default::default(),
        clusters: Vec::new(),
        batch_size: None,
        soak: None,
        max_failures: 0,
        approval: Approval::Manual,
        on_failure: OnFailure::Halt,
    };
    let spec = CreateRollout {
        moves: Moves::Component(ComponentId::parse("grafana").expect("a component id")),
        oci_tag: OciTag::parse("v1.1.0-1").expect("a tag"),
        component_paths: Default::default(),
        waves: Some(vec![wave]),
        reason: Some("bench".into()),
    };
    let rollout = rollouts::create(state, &caller(), spec, false).expect("the rollout is planned");
    let started = Instant::now();
    let outcome = rollouts::advance(state, &caller(), rollout.value.id, false).expect("the step commits");
    println!(
        "{backend}: rollout step changed {} clusters, committed in {:.0} ms",
        outcome.changes.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
}

fn main() {
    support::on_both_backends("release", measure);
}
