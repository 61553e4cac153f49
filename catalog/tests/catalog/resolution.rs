//! Resolution: each value's provenance, override expiry, stale overrides.

use catalog::ids::ComponentPath;
use catalog::resolve::{resolve, stale_overrides, Assignment, Cluster, Note, Provenance, RolloutPin, StaleOverride};
use catalog::{ClusterName, ComponentId, Error, OciTag, TierName};
use chrono::{Duration, Utc};

use crate::catalog_from;

const CATALOG: &str = r#"
artifacts:
  - {id: platform, url: "oci://registry.example.com/platform/components", oci_tag: v1.1.0}
tiers:
  - name: dev
  - name: prod
components:
  - {id: alpha, category: core, component_path: core/alpha/1.0.0}
  - {id: beta, category: core, component_path: core/beta/2.0.0, oci_tag: v1.1.0-1}
"#;

fn id(s: &str) -> ComponentId {
    ComponentId::parse(s).unwrap()
}
fn tag(s: &str) -> OciTag {
    OciTag::parse(s).unwrap()
}
fn prod_cluster() -> Cluster {
    Cluster::new(ClusterName::parse("prod-1").unwrap(), TierName::parse("prod").unwrap())
}

#[test]
fn each_value_says_where_it_came_from() {
    let catalog = catalog_from(CATALOG);
    let cluster = prod_cluster();
    let config = resolve(
        &catalog,
        &cluster,
        &Assignment::catalog_defaults(&catalog),
        &[],
        Utc::now(),
    )
    .unwrap();
    let sources: Vec<(&str, &str, &Provenance)> = config
        .components
        .iter()
        .map(|c| (c.id.as_str(), c.oci_tag.value.as_str(), &c.oci_tag.source))
        .collect();
    assert_eq!(
        sources,
        [
            ("alpha", "v1.1.0", &Provenance::ArtifactDefault),
            ("beta", "v1.1.0-1", &Provenance::ComponentDefault)
        ]
    );
    assert_eq!(config.components[0].overlay, "./core/alpha/1.0.0/prod");
}

#[test]
fn rollout_beats_override_beats_cluster_pin_beats_catalog_default() {
    let catalog = catalog_from(CATALOG);
    let mut cluster = prod_cluster();
    cluster.oci_tag = Some(tag("v1.0.0"));
    let mut assignments = Assignment::catalog_defaults(&catalog);
    assignments[1].oci_tag = Some(tag("v1.0.0-3"));
    assignments[1].component_path = Some(ComponentPath::parse("core/beta/2.0.1").unwrap());
    assignments[1].reason = Some("hotfix".into());
    let rollout = RolloutPin {
        rollout: "r7".into(),
        component: id("alpha"),
        oci_tag: Some(tag("v1.2.0")),
        component_path: None,
    };

    let config = resolve(
        &catalog,
        &cluster,
        &assignments,
        std::slice::from_ref(&rollout),
        Utc::now(),
    )
    .unwrap();
    let alpha = &config.components[0];
    assert_eq!(
        (alpha.oci_tag.value.as_str(), &alpha.oci_tag.source),
        ("v1.2.0", &Provenance::Rollout { id: "r7".into() })
    );
    assert_eq!(alpha.component_path.source, Provenance::ComponentDefault);
    let beta = &config.components[1];
    assert_eq!(beta.oci_tag.value.as_str(), "v1.0.0-3");
    assert_eq!(
        beta.oci_tag.source,
        Provenance::Override {
            reason: Some("hotfix".into())
        }
    );
    assert_eq!(beta.overlay, "./core/beta/2.0.1/prod");
    assert_eq!(beta.oci_tag.source.to_string(), "override (hotfix)");

    let without_rollout = resolve(&catalog, &cluster, &assignments, &[], Utc::now()).unwrap();
    assert_eq!(without_rollout.components[0].oci_tag.value.as_str(), "v1.0.0");
    assert_eq!(without_rollout.components[0].oci_tag.source, Provenance::ClusterPin);
    assert_eq!(without_rollout.components[0].oci_tag.source.kind(), "cluster pin");
}

#[test]
fn an_expired_override_is_ignored_and_reported() {
    let catalog = catalog_from(CATALOG);
    let now = Utc::now();
    let mut assignments = Assignment::catalog_defaults(&catalog);
    assignments[0].oci_tag = Some(tag("v1.0.0-1"));
    assignments[0].expires_at = Some(now - Duration::minutes(1));
    assignments[1].oci_tag = Some(tag("v1.2.0"));
    assignments[1].expires_at = Some(now + Duration::hours(1));
    let config = resolve(&catalog, &prod_cluster(), &assignments, &[], now).unwrap();
    assert_eq!(config.components[0].oci_tag.value.as_str(), "v1.1.0");
    assert_eq!(config.components[1].oci_tag.value.as_str(), "v1.2.0");
    assert_eq!(
        config.notes,
        [Note::ExpiredOverride {
            component: id("alpha"),
            expired_at: now - Duration::minutes(1)
        }]
    );
}

#[test]
fn overrides_not_newer_than_the_default_are_stale_after_a_release() {
    let catalog = catalog_from(CATALOG);
    let mut assignments = Assignment::catalog_defaults(&catalog);
    assignments[0].oci_tag = Some(tag("v1.0.0-2"));
    assignments[1].oci_tag = Some(tag("v1.1.0-2"));
    let stale = stale_overrides(&catalog, &prod_cluster(), &assignments);
    assert_eq!(
        stale,
        [StaleOverride {
            component: id("alpha"),
            override_tag: tag("v1.0.0-2"),
            default_tag: tag("v1.1.0")
        }]
    );

    assignments[1].oci_tag = Some(tag("v1.1.0-1"));
    let stale = stale_overrides(&catalog, &prod_cluster(), &assignments);
    assert_eq!(
        stale.len(),
        2,
        "an override equal to the component default is stale too"
    );
}

#[test]
fn a_disabled_cluster_runs_nothing_and_an_unknown_tier_is_refused() {
    let catalog = catalog_from(CATALOG);
    let mut cluster = prod_cluster();
    cluster.enabled = false;
    let config = resolve(
        &catalog,
        &cluster,
        &Assignment::catalog_defaults(&catalog),
        &[],
        Utc::now(),
    )
    .unwrap();
    assert!(config.components.is_empty());

    let cluster = Cluster::new(ClusterName::parse("x").unwrap(), TierName::parse("staging").unwrap());
    let err = resolve(&catalog, &cluster, &[], &[], Utc::now()).unwrap_err();
    assert_eq!(
        err,
        Error::Unknown {
            kind: "tier",
            name: "staging".into(),
            known: vec!["dev".into(), "prod".into()]
        }
    );
    assert_eq!(err.to_string(), "unknown tier \"staging\" (known: dev, prod)");
}

#[test]
fn assignments_for_unknown_components_are_noted_not_rendered() {
    let catalog = catalog_from(CATALOG);
    let assignments = vec![Assignment::plain(id("alpha")), Assignment::plain(id("ghost"))];
    let config = resolve(&catalog, &prod_cluster(), &assignments, &[], Utc::now()).unwrap();
    assert_eq!(config.components.len(), 1);
    assert_eq!(config.notes, [Note::UnknownComponent { component: id("ghost") }]);
}
