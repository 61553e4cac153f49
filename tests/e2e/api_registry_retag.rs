//! Promotions that retag against a real registry: the target tag is added to the same manifest
//! (one digest under both tags), registered in the catalog, and run by the target clusters; a
//! target tag held at another digest is refused with nothing written.

use serde_json::{json, Value};

use crate::api_events::{at, event, report};
use crate::api_registry::{push, Fixture, REPO};
use crate::both;
use crate::support::app::Backend;

const STAGING: &str = "staging-v1.1.0-1";
const PRODUCTION: &str = "production-v1.1.0-1";

/// A registry holding a `staging-` build that qa-eu-1 runs and reports ready, with tier policies
/// that take prefixed tags (not versions, so allowed as mutable; prod pins them by digest).
fn staged(b: Backend) -> Option<(Fixture, String)> {
    let f = Fixture::new(b)?;
    let staging = push(&f.registry, &f.tree, STAGING, &[]);
    f.sync();
    f.import_clusters();
    let qa = json!({"allow_mutable": true, "allow_prerelease": true, "pin_digest": false, "require_known_tag": false});
    let prod = json!({"allow_mutable": true, "allow_prerelease": false, "pin_digest": true, "require_known_tag": true,
        "pattern": "^(production-)?v[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9]+)?$"});
    for (tier, policy) in [("qa", qa), ("prod", prod)] {
        let reply = f.app.put(&format!("/api/v1/tiers/{tier}"), &policy);
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let put = f.app.put(
        "/api/v1/clusters/qa-eu-1/components/grafana",
        &json!({"oci_tag": STAGING}),
    );
    assert_eq!(put.status, 200, "{}", put.body);
    let revision = format!("{STAGING}@{staging}");
    let sent = event(
        "Kustomization",
        "grafana",
        "info",
        "ReconciliationSucceeded",
        Some(&revision),
        &at(1),
    );
    report(&f.app, "qa-eu-1", &sent);
    Some((f, staging))
}

fn retagged() -> Value {
    json!({"from": {"cluster": "qa-eu-1"}, "to": {"tier": "prod"}, "components": ["grafana"],
        "retag": {"from_prefix": "staging-", "to_prefix": "production-"}})
}

both!(
    a_promotion_with_retag_leaves_one_digest_under_both_tags_and_prod_runs_the_new_tag,
    |b: Backend| {
        let Some((f, staging)) = staged(b) else { return };
        let dry = f.app.post("/api/v1/promotions?dry_run=true", &retagged());
        assert_eq!(dry.status, 200, "{}", dry.body);
        assert_eq!(dry.json()["components"][0]["target_tag"], PRODUCTION);
        assert_eq!(
            f.registry.digest(REPO, PRODUCTION),
            None,
            "a dry run touches no registry"
        );

        let made = f.app.post("/api/v1/promotions", &retagged());
        assert_eq!(made.status, 201, "{}", made.body);
        let p = made.json();
        let grafana = &p["components"][0];
        assert_eq!(
            (&grafana["oci_tag"], &grafana["target_tag"], &grafana["digest"]),
            (&json!(STAGING), &json!(PRODUCTION), &json!(staging))
        );
        assert_eq!(f.registry.digest(REPO, STAGING), Some(staging.clone()));
        assert_eq!(f.registry.digest(REPO, PRODUCTION), Some(staging.clone()));
        let tags = f.app.get("/api/v1/artifacts/platform/tags").json()["items"].clone();
        let registered = tags.as_array().unwrap().iter().find(|t| t["tag"] == PRODUCTION);
        assert_eq!(registered.map(|t| &t["digest"]), Some(&json!(staging)), "{tags}");

        let advance = format!("/api/v1/rollouts/{}/advance", p["rollout"]);
        for _ in 0..2 {
            let reply = f.app.post(&advance, &json!({}));
            assert_eq!(reply.status, 200, "{}", reply.body);
        }
        for cluster in ["prod-eu-1", "prod-us-1"] {
            let render = f.app.get(&format!("/api/v1/clusters/{cluster}/render"));
            assert_eq!(render.status, 200, "{}", render.body);
            assert!(render.body.contains(PRODUCTION), "{cluster}: {}", render.body);
            assert!(render.body.contains(&staging), "{cluster}: {}", render.body);
            assert!(!render.body.contains(STAGING), "{cluster}: {}", render.body);
        }
    }
);

both!(
    a_retag_onto_a_tag_held_at_another_digest_is_refused_naming_both_and_writes_nothing,
    |b: Backend| {
        let Some((f, staging)) = staged(b) else { return };
        std::fs::write(f.tree.path().join("README.md"), "another build\n").expect("writable");
        let other = push(&f.registry, &f.tree, PRODUCTION, &[]);
        assert_ne!(other, staging);

        let refused = f.app.post("/api/v1/promotions", &retagged());
        assert_eq!(refused.status, 409, "{}", refused.body);
        let detail = refused.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(&other) && detail.contains(&staging), "{detail}");
        assert_eq!(f.registry.digest(REPO, PRODUCTION), Some(other));
        assert_eq!(f.app.get("/api/v1/promotions").json(), json!({"items": []}));
    }
);

both!(
    a_retag_the_registry_fails_is_refused_with_503_naming_registry_and_tag,
    |b: Backend| {
        let Some((mut f, _)) = staged(b) else { return };
        f.registry.stop();
        let refused = f.app.post("/api/v1/promotions", &retagged());
        assert_eq!(refused.status, 503, "{}", refused.body);
        let detail = refused.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.contains(&f.registry.addr) && detail.contains(PRODUCTION),
            "{detail}"
        );
        assert_eq!(f.app.get("/api/v1/promotions").json(), json!({"items": []}));
        let tags = f.app.get("/api/v1/artifacts/platform/tags").json()["items"].clone();
        assert!(
            !tags.as_array().unwrap().iter().any(|t| t["tag"] == PRODUCTION),
            "{tags}"
        );
    }
);
