//! Rendered output: snapshots of the example catalog, and byte-for-byte determinism.

use std::collections::HashMap;

use catalog::ids::{ArtifactId, Digest};
use catalog::render::{render, DigestMode, NoDigests, RenderOptions, Rendering};
use catalog::resolve::{resolve, Assignment, Cluster, EffectiveConfig, Note};
use catalog::{Catalog, ClusterName, ComponentId, Error, OciTag, TierName};

use crate::example;

fn config_for(catalog: &Catalog, tier: &str, assignments: &[Assignment]) -> EffectiveConfig {
    let cluster = Cluster::new(
        ClusterName::parse(&format!("{tier}-1")).unwrap(),
        TierName::parse(tier).unwrap(),
    );
    resolve(catalog, &cluster, assignments, &[], chrono::Utc::now()).unwrap()
}

fn render_tier<'c>(config: &'c EffectiveConfig, opts: &RenderOptions<'_>) -> Rendering<'c> {
    render(config, opts).unwrap()
}

fn offline(revision: Option<u64>) -> RenderOptions<'static> {
    RenderOptions {
        revision,
        digests: &NoDigests,
        mode: DigestMode::TagWhenUnknown,
    }
}

fn prod_digests() -> HashMap<(ArtifactId, OciTag), Digest> {
    [("v1.1.0", "1"), ("v1.1.0-1", "2")]
        .into_iter()
        .map(|(tag, fill)| {
            let key = (ArtifactId::parse("platform").unwrap(), OciTag::parse(tag).unwrap());
            (key, Digest::parse(&format!("sha256:{}", fill.repeat(64))).unwrap())
        })
        .collect()
}

#[test]
fn dev_cluster_renders_tags_for_every_component() {
    let loaded = example();
    let c = &loaded.catalog;
    let config = config_for(c, "dev", &Assignment::catalog_defaults(c));
    let rendering = render_tier(&config, &offline(Some(3)));
    assert!(rendering.warnings.is_empty());
    insta::assert_snapshot!("dev_yaml", rendering.to_yaml());
}

#[test]
fn prod_cluster_renders_digests_when_they_are_known() {
    let loaded = example();
    let c = &loaded.catalog;
    let digests = prod_digests();
    let opts = RenderOptions {
        revision: Some(42),
        digests: &digests,
        mode: DigestMode::Require,
    };
    let config = config_for(c, "prod", &Assignment::catalog_defaults(c));
    let rendering = render_tier(&config, &opts);
    insta::assert_snapshot!("prod_yaml", rendering.to_yaml());
    insta::assert_snapshot!("prod_inputs", rendering.inputs_json().unwrap());
}

#[test]
fn qa_cluster_renders_a_json_list() {
    let loaded = example();
    let c = &loaded.catalog;
    let config = config_for(c, "qa", &Assignment::catalog_defaults(c));
    insta::assert_snapshot!("qa_json", render_tier(&config, &offline(None)).to_json());
}

#[test]
fn prod_without_digests_is_refused_by_the_service_and_warned_offline() {
    let loaded = example();
    let c = &loaded.catalog;
    let cluster = Cluster::new(ClusterName::parse("prod-1").unwrap(), TierName::parse("prod").unwrap());
    let config = resolve(c, &cluster, &Assignment::catalog_defaults(c), &[], chrono::Utc::now()).unwrap();
    let strict = RenderOptions {
        revision: Some(1),
        digests: &NoDigests,
        mode: DigestMode::Require,
    };
    assert_eq!(
        render(&config, &strict).unwrap_err(),
        Error::DigestUnresolved {
            tier: "prod".into(),
            component: "cert-manager".into(),
            tag: "v1.1.0-1".into()
        }
    );
    let rendering = render(&config, &offline(None)).unwrap();
    assert_eq!(
        rendering.warnings,
        [
            "tier prod pins digests, but no digest is known here: rendered tags instead for cert-manager (v1.1.0-1), \
          external-dns (v1.1.0), grafana (v1.1.0), ingress-nginx (v1.1.0), prometheus (v1.1.0)"
        ]
    );
}

#[test]
fn rendering_is_byte_for_byte_deterministic_whatever_the_assignment_order() {
    let first = {
        let loaded = example();
        let c = &loaded.catalog;
        let config = config_for(c, "qa", &Assignment::catalog_defaults(c));
        let r = render_tier(&config, &offline(Some(9)));
        (r.to_yaml(), r.to_json(), r.inputs_json().unwrap())
    };
    let loaded = example();
    let c = &loaded.catalog;
    let mut reversed = Assignment::catalog_defaults(c);
    reversed.reverse();
    let config = config_for(c, "qa", &reversed);
    let second = render_tier(&config, &offline(Some(9)));
    assert_eq!(
        first,
        (second.to_yaml(), second.to_json(), second.inputs_json().unwrap())
    );
}

#[test]
fn depends_on_names_only_components_enabled_on_the_cluster() {
    let loaded = example();
    let c = &loaded.catalog;
    let mut assignments = Assignment::catalog_defaults(c);
    let prometheus = ComponentId::parse("prometheus").unwrap();
    assignments
        .iter_mut()
        .filter(|a| a.component == prometheus)
        .for_each(|a| a.enabled = false);
    let cluster = Cluster::new(ClusterName::parse("dev-1").unwrap(), TierName::parse("dev").unwrap());
    let config = resolve(c, &cluster, &assignments, &[], chrono::Utc::now()).unwrap();
    let grafana = config.components.iter().find(|e| e.id.as_str() == "grafana").unwrap();
    assert!(grafana.depends_on.is_empty());
    assert_eq!(
        config.notes,
        [Note::MissingDependency {
            component: ComponentId::parse("grafana").unwrap(),
            dependency: prometheus
        }]
    );
    let rendering = render(&config, &offline(None)).unwrap();
    assert!(!rendering.to_yaml().contains("name: prometheus"));
    assert_eq!(rendering.objects().len(), 8);
}

#[test]
fn the_fast_yaml_writer_agrees_with_the_generic_one_object_by_object() {
    let loaded = example();
    let c = &loaded.catalog;
    let digests = prod_digests();
    let opts = RenderOptions {
        revision: Some(42),
        digests: &digests,
        mode: DigestMode::Require,
    };
    for tier in ["dev", "prod"] {
        let config = config_for(c, tier, &Assignment::catalog_defaults(c));
        let rendering = render_tier(&config, &opts);
        for (object, value) in rendering.objects().iter().zip(rendering.values()) {
            let mut fast = String::new();
            object.write_yaml(&mut fast);
            assert_eq!(fast, catalog::yaml::to_yaml(&value));
        }
    }
}
