//! Releases and stale overrides over HTTP, on SQLite and PostgreSQL.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::api_catalog::{
    catalog_revision, effective_tag, error_paths, register_v120, revisions, strings, CLUSTERS, D120,
};
use crate::both;
use crate::support::app::{Backend, TestApp};

both!(
    a_release_to_a_tag_a_tier_refuses_is_422_naming_rule_tier_and_tag,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let reply = app.post(
            "/api/v1/releases",
            &json!({"artifact": "platform", "oci_tag": "v1.2.0"}),
        );
        assert_eq!(reply.status, 422, "{}", reply.body);
        let problem = reply.json();
        assert_eq!(problem["type"], "urn:platform-catalog:problem:tag-policy");
        assert_eq!(error_paths(&reply), ["$.oci_tag"]);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .starts_with("tier dev refuses tag \"v1.2.0\" (rule require_known_tag)"),
            "{problem}"
        );
        let rc = app.post(
            "/api/v1/releases",
            &json!({"artifact": "platform", "oci_tag": "v1.1.0-rc1"}),
        );
        assert_eq!(rc.status, 422, "{}", rc.body);
        assert!(
            rc.json()["detail"]
                .as_str()
                .unwrap()
                .starts_with("tier prod refuses tag \"v1.1.0-rc1\" (rule allow_prerelease)"),
            "{}",
            rc.body
        );
        let unknown = app.post("/api/v1/releases", &json!({"artifact": "nope", "oci_tag": "v1.1.0"}));
        assert_eq!(
            (unknown.status, error_paths(&unknown)),
            (422, vec!["$.artifact".to_owned()])
        );
        let no_component = app.post(
            "/api/v1/releases",
            &json!({"artifact": "platform", "oci_tag": "v1.1.0", "components": [{"id": "loki"}]}),
        );
        assert_eq!(
            (no_component.status, error_paths(&no_component)),
            (422, vec!["$.components[0].id".to_owned()])
        );
        let bad_path = app.post(
            "/api/v1/releases",
            &json!({"artifact": "platform", "oci_tag": "v1.1.0",
                    "components": [{"id": "prometheus"}, {"id": "grafana", "component_path": "../grafana"}]}),
        );
        assert_eq!(
            (bad_path.status, error_paths(&bad_path)),
            (422, vec!["$.components[1].component_path".to_owned()])
        );
        let empty = app.post(
            "/api/v1/releases",
            &json!({"artifact": "platform", "oci_tag": "v1.1.0", "components": []}),
        );
        assert_eq!(
            (empty.status, error_paths(&empty)),
            (422, vec!["$.components".to_owned()])
        );
        assert_eq!(app.get("/api/v1/artifacts/platform").json()["oci_tag"], "v1.1.0");
        assert_eq!(app.get("/api/v1/components/grafana").json()["oci_tag"], Value::Null);
    }
);

both!(a_release_moves_every_cluster_that_follows_the_default, |b: Backend| {
    let app = TestApp::with_fleet(b);
    register_v120(&app);
    let (catalog_before, before) = (catalog_revision(&app), revisions(&app));
    let reply = app.post(
        "/api/v1/releases",
        &json!({"artifact": "platform", "oci_tag": "v1.2.0"}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let plan = reply.json();
    assert_eq!(
        (&plan["dry_run"], &plan["catalog_revision"]),
        (&json!(false), &json!(catalog_before + 1))
    );
    let moved: BTreeMap<String, Vec<String>> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let cluster = c["cluster"].as_str().unwrap().to_owned();
            assert_eq!(c["from_revision"], before[&cluster], "{c}");
            assert_eq!(c["to_revision"], before[&cluster] + 1, "{c}");
            for change in c["components"].as_array().unwrap() {
                assert_eq!(
                    (&change["from"]["oci_tag"], &change["to"]["oci_tag"]),
                    (&json!("v1.1.0"), &json!("v1.2.0"))
                );
            }
            (cluster, strings(&c["components"], "component"))
        })
        .collect();
    let four = ["external-dns", "grafana", "ingress-nginx", "prometheus"]
        .map(String::from)
        .to_vec();
    assert_eq!(moved["dev-eu-1"], four);
    assert_eq!(moved["prod-eu-1"], four);
    assert_eq!(moved["prod-us-1"], ["grafana", "ingress-nginx", "prometheus"]);
    assert_eq!(moved["qa-eu-1"], ["external-dns", "ingress-nginx", "prometheus"]);
    let after = revisions(&app);
    assert!(CLUSTERS.iter().all(|c| after[*c] == before[*c] + 1), "{after:?}");
    assert_eq!(
        effective_tag(&app, "prod-eu-1", "grafana"),
        ("v1.2.0".into(), "artifact_default".into())
    );
    assert_eq!(
        effective_tag(&app, "prod-eu-1", "cert-manager"),
        ("v1.1.0-1".into(), "component_default".into())
    );
    assert_eq!(
        effective_tag(&app, "qa-eu-1", "grafana"),
        ("v1.1.0-rc1".into(), "override".into())
    );
    assert!(app
        .get("/api/v1/clusters/prod-eu-1/render")
        .body
        .contains(&format!("digest: {D120}")));
    assert_eq!(app.get("/api/v1/artifacts/platform").json()["oci_tag"], "v1.2.0");
    // The same release again changes nothing and makes no revision.
    let again = app
        .post(
            "/api/v1/releases",
            &json!({"artifact": "platform", "oci_tag": "v1.2.0"}),
        )
        .json();
    assert_eq!(
        (
            again["catalog_revision"].as_i64(),
            again["changes"].as_array().map(Vec::len)
        ),
        (Some(catalog_before + 1), Some(0))
    );
    assert_eq!(revisions(&app), after);
});

both!(a_release_dry_run_shows_the_plan_and_writes_nothing, |b: Backend| {
    let app = TestApp::with_fleet(b);
    register_v120(&app);
    let (catalog_before, before) = (catalog_revision(&app), revisions(&app));
    let reply = app.post(
        "/api/v1/releases?dry_run=true",
        &json!({"artifact": "platform", "oci_tag": "v1.2.0"}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let plan = reply.json();
    assert_eq!(
        (&plan["dry_run"], &plan["catalog_revision"]),
        (&json!(true), &json!(catalog_before + 1))
    );
    assert_eq!(strings(&plan["changes"], "cluster"), CLUSTERS);
    assert_eq!((catalog_revision(&app), revisions(&app)), (catalog_before, before));
    assert_eq!(app.get("/api/v1/artifacts/platform").json()["oci_tag"], "v1.1.0");
    assert_eq!(effective_tag(&app, "dev-eu-1", "grafana").0, "v1.1.0");
});

both!(a_component_release_moves_only_its_own_tag_and_path, |b: Backend| {
    let app = TestApp::with_fleet(b);
    register_v120(&app);
    let body = json!({"artifact": "platform", "oci_tag": "v1.2.0",
                      "components": [{"id": "grafana", "component_path": "observability/grafana/7.4.0"}]});
    let reply = app.post("/api/v1/releases", &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let grafana = app.get("/api/v1/components/grafana").json();
    assert_eq!(
        (&grafana["oci_tag"], &grafana["component_path"]),
        (&json!("v1.2.0"), &json!("observability/grafana/7.4.0"))
    );
    assert_eq!(app.get("/api/v1/artifacts/platform").json()["oci_tag"], "v1.1.0");
    let changes = reply.json()["changes"].clone();
    assert_eq!(strings(&changes, "cluster"), CLUSTERS);
    for c in changes.as_array().unwrap() {
        assert_eq!(strings(&c["components"], "component"), ["grafana"], "{c}");
    }
    // qa-eu-1 keeps its canary tag; only the path follows the component.
    let qa = changes
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cluster"] == "qa-eu-1")
        .unwrap();
    assert_eq!(
        qa["components"][0]["to"],
        json!({"oci_tag": "v1.1.0-rc1", "component_path": "observability/grafana/7.4.0"})
    );
    assert_eq!(
        effective_tag(&app, "dev-eu-1", "grafana"),
        ("v1.2.0".into(), "component_default".into())
    );
});

both!(
    a_hotfix_override_goes_stale_at_the_next_release_and_collapses,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let hotfix = app.put(
            "/api/v1/clusters/prod-eu-1/components/grafana",
            &json!({"oci_tag": "v1.1.0-1", "reason": "hotfix"}),
        );
        assert_eq!(hotfix.status, 200, "{}", hotfix.body);
        // The canary on qa-eu-1 (v1.1.0-rc1) is older than v1.1.0 already; the hotfix is newer.
        let stale = app.get("/api/v1/overrides/stale");
        assert_eq!(stale.status, 200, "{}", stale.body);
        assert_eq!(
            stale.json(),
            json!({"items": [{"cluster": "qa-eu-1", "component": "grafana", "override_tag": "v1.1.0-rc1",
                "default_tag": "v1.1.0", "reason": "canary", "kind": "deliberate",
                "why": "a canary (\"canary\"); name cluster and component to collapse it"}]})
        );
        register_v120(&app);
        let release = app.post(
            "/api/v1/releases",
            &json!({"artifact": "platform", "oci_tag": "v1.2.0"}),
        );
        assert_eq!(release.status, 200, "{}", release.body);
        let hotfix_item = json!({"cluster": "prod-eu-1", "component": "grafana", "override_tag": "v1.1.0-1",
                             "default_tag": "v1.2.0", "reason": "hotfix", "kind": "superseded",
                             "why": "a hotfix the default v1.2.0 supersedes"});
        let stale = app.get("/api/v1/overrides/stale").json();
        assert_eq!(strings(&stale["items"], "cluster"), ["prod-eu-1", "qa-eu-1"]);
        assert_eq!(stale["items"][0], hotfix_item);
        let filtered = app
            .get("/api/v1/overrides/stale?cluster=prod-eu-1&component=grafana")
            .json();
        assert_eq!(filtered, json!({"items": [hotfix_item]}));
        let unknown = app.get("/api/v1/overrides/stale?cluster=nope");
        assert_eq!(
            (unknown.status, error_paths(&unknown)),
            (422, vec!["cluster".to_owned()])
        );

        let revision = revisions(&app)["prod-eu-1"];
        let plan = app.post(
            "/api/v1/overrides/collapse?dry_run=true",
            &json!({"cluster": "prod-eu-1"}),
        );
        assert_eq!(plan.status, 200, "{}", plan.body);
        assert_eq!(plan.json()["dry_run"], true);
        assert_eq!(
            app.get("/api/v1/overrides/stale").json()["items"]
                .as_array()
                .unwrap()
                .len(),
            2
        );

        let reply = app.post("/api/v1/overrides/collapse", &json!({"cluster": "prod-eu-1"}));
        assert_eq!(reply.status, 200, "{}", reply.body);
        let done = reply.json();
        assert_eq!(done["dry_run"], false);
        assert_eq!((&done["collapsed"], &done["kept"]), (&json!([hotfix_item]), &json!([])));
        assert_eq!(
            done["changes"],
            json!([{"cluster": "prod-eu-1", "from_revision": revision, "to_revision": revision + 1, "components": [
            {"component": "grafana",
             "from": {"oci_tag": "v1.1.0-1", "component_path": "observability/grafana/7.3.9"},
             "to": {"oci_tag": "v1.2.0", "component_path": "observability/grafana/7.3.9"}}]}])
        );
        assert_eq!(
            effective_tag(&app, "prod-eu-1", "grafana"),
            ("v1.2.0".into(), "artifact_default".into())
        );
        let assignments = app.get("/api/v1/clusters/prod-eu-1/components").json();
        let grafana = assignments
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["component"] == "grafana")
            .unwrap();
        assert_eq!(
            (&grafana["enabled"], &grafana["oci_tag"], &grafana["component_path"]),
            (&json!(true), &Value::Null, &Value::Null)
        );
        assert_eq!(
            strings(&app.get("/api/v1/overrides/stale").json()["items"], "cluster"),
            ["qa-eu-1"]
        );
        let unknown = app.post("/api/v1/overrides/collapse", &json!({"component": "loki"}));
        assert_eq!(
            (unknown.status, error_paths(&unknown)),
            (422, vec!["$.component".to_owned()])
        );
    }
);

both!(a_release_lists_what_it_left_alone_and_why, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let pin = app.patch("/api/v1/clusters/dev-eu-1", &json!({"oci_tag": "v1.1.0"}));
    assert_eq!(pin.status, 200, "{}", pin.body);
    let hotfix = app.put(
        "/api/v1/clusters/prod-us-1/components/grafana",
        &json!({"oci_tag": "v1.1.0-1", "reason": "hotfix"}),
    );
    assert_eq!(hotfix.status, 200, "{}", hotfix.body);
    register_v120(&app);
    let reply = app.post(
        "/api/v1/releases",
        &json!({"artifact": "platform", "oci_tag": "v1.2.0"}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let pinned = |component: &str| {
        json!({"component": component, "cluster": "dev-eu-1", "reason": "pinned",
                   "detail": "the cluster's pin v1.1.0 decides its tag"})
    };
    assert_eq!(
        reply.json()["left_alone"],
        json!([
            {"component": "cert-manager", "cluster": null, "reason": "own_tag",
             "detail": "it follows its own tag v1.1.0-1"},
            pinned("external-dns"), pinned("grafana"), pinned("ingress-nginx"), pinned("prometheus"),
            {"component": "grafana", "cluster": "prod-us-1", "reason": "override",
             "detail": "its override v1.1.0-1 (hotfix) decides its tag"},
            {"component": "grafana", "cluster": "qa-eu-1", "reason": "override",
             "detail": "its override v1.1.0-rc1 (canary) decides its tag"},
        ])
    );
    assert_eq!(reply.json()["held"], json!([]));
});
