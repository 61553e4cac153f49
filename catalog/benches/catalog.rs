//! Benchmarks: sorting 100,000 mixed tags, and rendering a 50-component cluster.
//!
//! Targets on a 2-core machine: the sort under 50 ms, the render under 200 µs.

// A test or benchmark fails loudly where a result is not what it expects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use catalog::render::{render, DigestMode, NoDigests, RenderOptions};
use catalog::resolve::{resolve, Assignment, Cluster};
use catalog::tag::sort_tags;
use catalog::validate::load;
use catalog::{ClusterName, TierName};
use criterion::{criterion_group, criterion_main, Criterion};

/// Releases, hotfixes, pre-releases, with and without `v`, in a scrambled order.
fn mixed_tags(n: usize) -> Vec<String> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|_| {
            let r = next();
            let (major, minor, patch) = (r % 5, (r >> 8) % 20, (r >> 16) % 30);
            let v = if (r >> 24) % 4 == 0 { "" } else { "v" };
            match (r >> 32) % 6 {
                0 | 1 => format!("{v}{major}.{minor}.{patch}"),
                2 | 3 => format!("{v}{major}.{minor}.{patch}-{}", (r >> 40) % 12 + 1),
                4 => format!("{v}{major}.{minor}.{patch}-rc{}", (r >> 40) % 5),
                _ => format!("{v}{major}.{minor}.{patch}-beta.{}", (r >> 40) % 3),
            }
        })
        .collect()
}

fn catalog_with(components: usize) -> catalog::Catalog {
    let mut text = String::from(
        "artifacts:\n  - {id: platform, url: 'oci://registry.example.com/platform/components', oci_tag: v1.1.0}\n\
         tiers:\n  - name: dev\n  - name: qa\n  - name: prod\n    policy: {pin_digest: false}\ncomponents:\n",
    );
    for i in 0..components {
        let deps = if i > 0 { format!("[c{:02}]", i - 1) } else { "[]".into() };
        text.push_str(&format!(
            "  - {{id: c{i:02}, category: core, component_path: core/c{i:02}/1.{i}.0, target_namespace: ns-{i}, depends_on: {deps}}}\n"
        ));
    }
    match load("bench.yaml", &text) {
        Ok(loaded) => loaded.catalog,
        Err(report) => panic!("bench catalog is valid:\n{report}"),
    }
}

fn bench(c: &mut Criterion) {
    let tags = mixed_tags(100_000);
    c.bench_function("sort 100,000 mixed tags", |b| {
        b.iter(|| black_box(sort_tags(tags.iter().map(String::as_str), None)).sorted.len())
    });

    let catalog = catalog_with(50);
    let cluster = Cluster::new(ClusterName::parse("prod-1").unwrap(), TierName::parse("prod").unwrap());
    let assignments = Assignment::catalog_defaults(&catalog);
    let now = chrono::Utc::now();
    let opts = RenderOptions {
        revision: Some(42),
        digests: &NoDigests,
        mode: DigestMode::Require,
    };
    let config = resolve(&catalog, &cluster, &assignments, &[], now).unwrap();
    c.bench_function("render 50-component cluster to YAML", |b| {
        b.iter(|| black_box(render(&config, &opts).unwrap().to_yaml()).len())
    });
    c.bench_function("resolve + render 50-component cluster to YAML", |b| {
        b.iter(|| {
            let config = resolve(&catalog, &cluster, &assignments, &[], now).unwrap();
            black_box(render(&config, &opts).unwrap().to_yaml()).len()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
