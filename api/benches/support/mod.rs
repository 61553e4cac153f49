//! What the service benchmarks share: running a measurement on a scratch SQLite file and on a
//! scratch PostgreSQL database, the caller they act as, and a fleet of generated clusters.

use std::time::Instant;

use diesel::connection::SimpleConnection;
use platform_catalog::service::fleet::{self, ClusterEntry, ClustersDocument};
use platform_catalog::service::{AppState, Caller};

pub fn caller() -> Caller {
    Caller::internal("bench", "bench")
}

/// Creates `n` clusters named by `name`, spread over dev, qa and prod in turn, and says how
/// long that took.
pub fn import_fleet(state: &AppState, n: usize, name: impl Fn(usize) -> String) {
    let clusters = (0..n)
        .map(|i| ClusterEntry {
            name: name(i),
            tier: ["dev", "qa", "prod"][i % 3].into(),
            labels: Default::default(),
            enabled: true,
            flux_namespace: None,
            oci_tag: None,
            components: Default::default(),
            revision: None,
        })
        .collect();
    let started = Instant::now();
    fleet::import(state, &caller(), ClustersDocument { clusters }).expect("clusters");
    eprintln!(
        "  setup: {n} clusters created in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Calls `measure(backend, database_url)` on a fresh SQLite file, then on a fresh PostgreSQL
/// database (`PLATFORM_CATALOG_BENCH_POSTGRES`, default the local server), dropping both after.
pub fn on_both_backends(name: &str, measure: impl Fn(&str, &str)) {
    let dir = std::env::temp_dir().join(format!("platform-catalog-{name}-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    measure("sqlite", &dir.join("bench.db").display().to_string());
    let _ = std::fs::remove_dir_all(&dir);

    let admin = std::env::var("PLATFORM_CATALOG_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let Ok(mut conn) = platform_catalog::db::connect(&admin) else {
        eprintln!("postgresql: skipped, {admin} does not answer");
        return;
    };
    let db = format!("pc_{name}_bench_{}", std::process::id());
    conn.batch_execute(&format!("CREATE DATABASE {db}"))
        .expect("a bench database");
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .unwrap_or(admin.clone());
    measure("postgresql", &format!("{base}/{db}"));
    let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
}
