//! Changing part of an assignment over HTTP: merge patches and unpinning, on SQLite and
//! PostgreSQL.

use serde_json::{json, Value};

use crate::api_catalog::{effective_tag, error_paths, revisions};
use crate::both;
use crate::support::app::{Backend, TestApp};

const EXTERNAL_DNS: &str = "/api/v1/clusters/prod-us-1/components/external-dns";

/// The assignment as listed, without its author and creation time.
fn assignment(app: &TestApp, cluster: &str, component: &str) -> Value {
    let list = app.get(&format!("/api/v1/clusters/{cluster}/components")).json();
    let mut found = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["component"] == component)
        .unwrap_or_else(|| panic!("{component} is assigned to {cluster}: {list}"))
        .clone();
    let object = found.as_object_mut().unwrap();
    object.remove("author");
    object.remove("created_at");
    found
}

fn merge_patch(app: &TestApp, path: &str, body: &Value) -> crate::support::app::Reply {
    app.request(
        "PATCH",
        path,
        Some(&body.to_string()),
        &[("content-type", "application/merge-patch+json")],
    )
}

both!(
    a_merge_patch_pins_a_tag_on_a_disabled_component_and_leaves_it_disabled,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let before = revisions(&app)["prod-us-1"];
        let reply = merge_patch(
            &app,
            EXTERNAL_DNS,
            &json!({"oci_tag": "v1.1.0-1", "reason": "CVE-2026-0042"}),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(reply.header("etag").is_some());
        let expected = json!({"cluster": "prod-us-1", "component": "external-dns", "enabled": false,
            "oci_tag": "v1.1.0-1", "component_path": null, "reason": "CVE-2026-0042", "expires_at": null});
        assert_eq!(assignment(&app, "prod-us-1", "external-dns"), expected);
        // A disabled component does not run: nothing the cluster runs changed.
        assert_eq!(revisions(&app)["prod-us-1"], before);

        // `null` clears a field; the fields not sent stay.
        let reply = app.patch(EXTERNAL_DNS, &json!({"reason": null}));
        assert_eq!(reply.status, 200, "{}", reply.body);
        let expected = json!({"cluster": "prod-us-1", "component": "external-dns", "enabled": false,
            "oci_tag": "v1.1.0-1", "component_path": null, "reason": null, "expires_at": null});
        assert_eq!(assignment(&app, "prod-us-1", "external-dns"), expected);

        // Enabling it is one field too, and the pin comes along.
        let reply = app.patch(EXTERNAL_DNS, &json!({"enabled": true}));
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(
            effective_tag(&app, "prod-us-1", "external-dns"),
            ("v1.1.0-1".into(), "override".into())
        );
    }
);

both!(
    a_merge_patch_refuses_a_null_enabled_an_unknown_field_and_a_bad_tag_naming_the_field,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let cleared = app.patch(EXTERNAL_DNS, &json!({"enabled": null}));
        assert_eq!(
            (cleared.status, error_paths(&cleared)),
            (422, vec!["$.enabled".to_owned()])
        );
        let bad = app.patch(EXTERNAL_DNS, &json!({"oci_tag": "not a tag"}));
        assert_eq!((bad.status, error_paths(&bad)), (422, vec!["$.oci_tag".to_owned()]));
        let unknown = app.patch(EXTERNAL_DNS, &json!({"author": "someone"}));
        assert_eq!(unknown.status, 422, "{}", unknown.body);
        assert!(
            unknown.json()["detail"]
                .as_str()
                .unwrap()
                .contains("unknown field `author`"),
            "{}",
            unknown.body
        );
        let text = app.request("PATCH", EXTERNAL_DNS, Some("{}"), &[("content-type", "text/plain")]);
        assert_eq!(text.status, 400, "{}", text.body);
        let nowhere = app.patch("/api/v1/clusters/prod-us-1/components/loki", &json!({"enabled": true}));
        assert_eq!(nowhere.status, 404, "{}", nowhere.body);
        // Nothing was changed by the refusals.
        assert_eq!(
            assignment(&app, "prod-us-1", "external-dns"),
            json!({"cluster": "prod-us-1", "component": "external-dns", "enabled": false,
                "oci_tag": null, "component_path": null, "reason": null, "expires_at": null})
        );
    }
);

both!(
    put_still_replaces_the_whole_assignment_and_enables_what_it_pins,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let reply = app.put(EXTERNAL_DNS, &json!({"oci_tag": "v1.1.0-1"}));
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["enabled"], true);
    }
);

both!(
    unpinning_removes_the_override_and_keeps_the_component_on_the_cluster,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let qa = "/api/v1/clusters/qa-eu-1/components/grafana/override";
        let before = revisions(&app)["qa-eu-1"];
        let plan = app.delete(&format!("{qa}?dry_run=true"));
        assert_eq!(plan.status, 200, "{}", plan.body);
        let plan = plan.json();
        assert_eq!(plan["dry_run"], true);
        assert_eq!(
            plan["changes"][0]["components"],
            json!([{"component": "grafana",
                "from": {"oci_tag": "v1.1.0-rc1", "component_path": "observability/grafana/7.3.9"},
                "to": {"oci_tag": "v1.1.0", "component_path": "observability/grafana/7.3.9"}}])
        );
        assert_eq!(revisions(&app)["qa-eu-1"], before);

        let reply = app.delete(qa);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let expected = json!({"cluster": "qa-eu-1", "component": "grafana", "enabled": true,
            "oci_tag": null, "component_path": null, "reason": null, "expires_at": null});
        assert_eq!(assignment(&app, "qa-eu-1", "grafana"), expected);
        assert_eq!(
            effective_tag(&app, "qa-eu-1", "grafana"),
            ("v1.1.0".into(), "artifact_default".into())
        );
        assert_eq!(revisions(&app)["qa-eu-1"], before + 1);
        let again = app.delete(qa);
        assert_eq!(again.status, 404, "{}", again.body);
        assert!(
            again.json()["detail"].as_str().unwrap().contains("qa-eu-1/grafana"),
            "{}",
            again.body
        );
        assert_eq!(
            app.delete("/api/v1/clusters/qa-eu-1/components/loki/override").status,
            404
        );
        assert_eq!(
            app.delete("/api/v1/clusters/nope/components/grafana/override").status,
            404
        );
    }
);

both!(unpinning_a_disabled_component_leaves_it_disabled, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let reply = app.patch(EXTERNAL_DNS, &json!({"oci_tag": "v1.1.0-1", "reason": "hotfix"}));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = app.delete(&format!("{EXTERNAL_DNS}/override"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        assignment(&app, "prod-us-1", "external-dns"),
        json!({"cluster": "prod-us-1", "component": "external-dns", "enabled": false,
            "oci_tag": null, "component_path": null, "reason": null, "expires_at": null})
    );
});
