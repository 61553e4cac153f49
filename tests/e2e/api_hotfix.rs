//! Hotfixes over HTTP: one call pins a component to a hotfix build on selected clusters; the
//! next release makes the overrides stale and they collapse.

use serde_json::{json, Value};

use crate::api_catalog::{effective_tag, register_v120, revisions};
use crate::both;
use crate::support::app::{Backend, TestApp};

/// Each stale override of grafana as (cluster, tag, reason, kind).
fn stale(app: &TestApp) -> Vec<(String, String, Option<String>, String)> {
    let list = app.get("/api/v1/overrides/stale?component=grafana").json();
    assert_eq!(list.get("next_cursor"), None, "{list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["cluster"].as_str().unwrap().to_owned(),
                s["override_tag"].as_str().unwrap().to_owned(),
                s["reason"].as_str().map(str::to_owned),
                s["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn canary() -> (String, String, Option<String>, String) {
    (
        "qa-eu-1".into(),
        "v1.1.0-rc1".into(),
        Some("canary".into()),
        "deliberate".into(),
    )
}

fn hotfix_body() -> Value {
    json!({"component": "grafana", "oci_tag": "v1.1.0-1", "component_path": "observability/grafana/7.3.9",
           "selector": {"tiers": ["prod"]}, "reason": "CVE-2026-1"})
}

both!(
    a_hotfix_pins_the_selected_clusters_then_goes_stale_and_collapses_after_a_release,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let before = revisions(&app);
        let dry = app.post("/api/v1/hotfixes?dry_run=true", &hotfix_body());
        assert_eq!(dry.status, 200, "{}", dry.body);
        assert_eq!(dry.json()["dry_run"], true);
        assert_eq!(dry.json()["changes"].as_array().unwrap().len(), 2);
        assert_eq!(revisions(&app), before, "a dry run writes nothing");

        let reply = app.post("/api/v1/hotfixes", &hotfix_body());
        assert_eq!(reply.status, 200, "{}", reply.body);
        let done = reply.json();
        assert_eq!(done["clusters"], json!(["prod-eu-1", "prod-us-1"]));
        assert_eq!(done["skipped"], json!([]));
        for c in ["prod-eu-1", "prod-us-1"] {
            assert_eq!(
                effective_tag(&app, c, "grafana"),
                ("v1.1.0-1".into(), "override".into())
            );
            let audit = app
                .get(&format!("/api/v1/audit?target=cluster/{c}/components/grafana"))
                .json();
            assert_eq!(audit["items"][0]["action"], "hotfix", "{audit}");
            assert_eq!(audit["items"][0]["after"]["reason"], "hotfix: CVE-2026-1");
        }
        assert_eq!(effective_tag(&app, "dev-eu-1", "grafana").0, "v1.1.0");
        // Newer than the default: not stale yet; only the qa canary is.
        assert_eq!(stale(&app), [canary()]);

        register_v120(&app);
        let release = app.post(
            "/api/v1/releases",
            &json!({"artifact": "platform", "oci_tag": "v1.2.0"}),
        );
        assert_eq!(release.status, 200, "{}", release.body);
        let hotfix = Some("hotfix: CVE-2026-1".to_owned());
        assert_eq!(
            stale(&app),
            [
                (
                    "prod-eu-1".into(),
                    "v1.1.0-1".into(),
                    hotfix.clone(),
                    "superseded".into()
                ),
                ("prod-us-1".into(), "v1.1.0-1".into(), hotfix, "superseded".into()),
                canary(),
            ]
        );
        let collapse = app.post("/api/v1/overrides/collapse", &json!({"component": "grafana"}));
        assert_eq!(collapse.status, 200, "{}", collapse.body);
        // The superseded hotfixes collapse; the canary is deliberate and not named, so it stays.
        let done = collapse.json();
        let clusters = |list: &Value| -> Vec<String> {
            list.as_array()
                .unwrap()
                .iter()
                .map(|s| s["cluster"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(clusters(&done["collapsed"]), ["prod-eu-1", "prod-us-1"]);
        assert_eq!(clusters(&done["kept"]), ["qa-eu-1"]);
        assert_eq!(done["changes"].as_array().unwrap().len(), 2);
        assert_eq!(stale(&app), [canary()]);
        for c in ["prod-eu-1", "prod-us-1"] {
            assert_eq!(
                effective_tag(&app, c, "grafana"),
                ("v1.2.0".into(), "artifact_default".into())
            );
        }
    }
);

both!(a_hotfix_skips_held_clusters_and_obeys_tier_policy, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let h = app.post(
        "/api/v1/holds",
        &json!({"cluster": "prod-us-1", "component": "grafana", "reason": "audit"}),
    );
    assert_eq!(h.status, 201, "{}", h.body);
    let reply = app.post("/api/v1/hotfixes", &hotfix_body());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let done = reply.json();
    assert_eq!(done["clusters"], json!(["prod-eu-1"]));
    assert_eq!(done["skipped"][0]["cluster"], "prod-us-1");
    assert_eq!(done["skipped"][0]["reason"], "held");
    assert_eq!(effective_tag(&app, "prod-us-1", "grafana").0, "v1.1.0");

    let rc = app.post(
        "/api/v1/hotfixes",
        &json!({"component": "grafana", "oci_tag": "v1.1.0-rc1", "selector": {"clusters": ["prod-eu-1"]}}),
    );
    assert_eq!(rc.status, 422, "{}", rc.body);
    assert!(
        rc.json()["detail"].as_str().unwrap().starts_with("tier prod refuses"),
        "{}",
        rc.body
    );
    let cases = [
        (
            json!({"component": "grafana", "oci_tag": "v1.1.0-1", "selector": {}}),
            "$.selector",
        ),
        (
            json!({"component": "nope", "oci_tag": "v1.1.0-1", "selector": {"tiers": ["prod"]}}),
            "$.component",
        ),
        (
            json!({"component": "grafana", "oci_tag": "v1.1.0-1", "selector": {"tiers": ["nope"]}}),
            "$.selector.tiers[0]",
        ),
        (
            json!({"component": "grafana", "oci_tag": "v1.1.0-1", "selector": {"clusters": ["nope"]}}),
            "$.selector.clusters[0]",
        ),
        (
            json!({"component": "grafana", "oci_tag": "latest!", "selector": {"tiers": ["prod"]}}),
            "$.oci_tag",
        ),
    ];
    for (body, path) in cases {
        let reply = app.post("/api/v1/hotfixes", &body);
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert_eq!(reply.json()["errors"][0]["path"], path, "{body}: {}", reply.body);
    }
});
