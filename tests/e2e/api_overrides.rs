//! Stale overrides told apart: superseded hotfixes collapse, deliberate pins (rollback,
//! canary, hold) only when named; on SQLite and PostgreSQL.

use serde_json::{json, Value};

use crate::api_catalog::{effective_tag, register_v120, revisions};
use crate::both;
use crate::support::app::{Backend, TestApp};

/// Each stale override as `cluster/component kind`.
fn kinds(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}/{} {}",
                s["cluster"].as_str().unwrap(),
                s["component"].as_str().unwrap(),
                s["kind"].as_str().unwrap()
            )
        })
        .collect()
}

/// A fleet where prod-us-1 has a grafana hotfix the v1.2.0 release superseded, and prod-eu-1
/// was rolled back from that release to what it ran before.
fn rolled_back_after_a_release(app: &TestApp) -> i64 {
    let hotfix = app.put(
        "/api/v1/clusters/prod-us-1/components/grafana",
        &json!({"oci_tag": "v1.1.0-1", "reason": "hotfix"}),
    );
    assert_eq!(hotfix.status, 200, "{}", hotfix.body);
    let before = revisions(app)["prod-eu-1"];
    register_v120(app);
    let release = app.post(
        "/api/v1/releases",
        &json!({"artifact": "platform", "oci_tag": "v1.2.0"}),
    );
    assert_eq!(release.status, 200, "{}", release.body);
    let rollback = app.post("/api/v1/clusters/prod-eu-1/rollback", &json!({"revision": before}));
    assert_eq!(rollback.status, 200, "{}", rollback.body);
    before
}

both!(
    a_collapse_without_a_filter_takes_superseded_hotfixes_and_leaves_rollback_pins_and_canaries,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let before = rolled_back_after_a_release(&app);
        let stale = app.get("/api/v1/overrides/stale").json();
        let expected = [
            "prod-eu-1/external-dns deliberate",
            "prod-eu-1/grafana deliberate",
            "prod-eu-1/ingress-nginx deliberate",
            "prod-eu-1/prometheus deliberate",
            "prod-us-1/grafana superseded",
            "qa-eu-1/grafana deliberate",
        ];
        assert_eq!(kinds(&stale["items"]), expected);
        let pin = &stale["items"][1];
        assert_eq!(pin["reason"], format!("rollback to revision {before}"));
        assert_eq!(
            pin["why"],
            format!("a rollback pin (\"rollback to revision {before}\"); name cluster and component to collapse it")
        );

        let reply = app.post("/api/v1/overrides/collapse", &json!({}));
        assert_eq!(reply.status, 200, "{}", reply.body);
        let done = reply.json();
        assert_eq!(kinds(&done["collapsed"]), ["prod-us-1/grafana superseded"]);
        assert_eq!(kinds(&done["kept"]).len(), 5, "{done}");
        assert_eq!(
            effective_tag(&app, "prod-eu-1", "grafana"),
            ("v1.1.0".into(), "override".into()),
            "the rollback holds"
        );
        assert_eq!(effective_tag(&app, "prod-us-1", "grafana").0, "v1.2.0");

        // Only the cluster named: still not a deliberate pin.
        let reply = app.post("/api/v1/overrides/collapse", &json!({"cluster": "prod-eu-1"}));
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["collapsed"], json!([]));
        // Named by cluster and component: that one goes, and only it.
        let reply = app.post(
            "/api/v1/overrides/collapse",
            &json!({"cluster": "prod-eu-1", "component": "grafana", "reason": "v1.2.0 fixes the dashboards"}),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(kinds(&reply.json()["collapsed"]), ["prod-eu-1/grafana deliberate"]);
        assert_eq!(
            effective_tag(&app, "prod-eu-1", "grafana"),
            ("v1.2.0".into(), "artifact_default".into())
        );
        assert_eq!(effective_tag(&app, "prod-eu-1", "prometheus").0, "v1.1.0");
    }
);

both!(
    an_override_a_hold_keeps_is_deliberate_until_the_hold_ends,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let hold = app.post(
            "/api/v1/holds",
            &json!({"cluster": "prod-eu-1", "component": "grafana", "reason": "quarter close"}),
        );
        assert_eq!(hold.status, 201, "{}", hold.body);
        let id = hold.json()["id"].as_i64().unwrap();
        register_v120(&app);
        let release = app.post(
            "/api/v1/releases",
            &json!({"artifact": "platform", "oci_tag": "v1.2.0"}),
        );
        assert_eq!(release.status, 200, "{}", release.body);
        let stale = app.get("/api/v1/overrides/stale?cluster=prod-eu-1").json();
        assert_eq!(kinds(&stale["items"]), ["prod-eu-1/grafana deliberate"]);
        assert_eq!(stale["items"][0]["why"], format!("kept by hold {id}: quarter close"));
        assert_eq!(app.delete(&format!("/api/v1/holds/{id}")).status, 204);
        let stale = app.get("/api/v1/overrides/stale?cluster=prod-eu-1").json();
        assert_eq!(kinds(&stale["items"]), ["prod-eu-1/grafana superseded"]);
        assert_eq!(
            stale["items"][0]["why"],
            format!("kept by hold {id}, which has ended; the default v1.2.0 runs it")
        );
    }
);

both!(stale_overrides_come_in_pages, |b: Backend| {
    let app = TestApp::with_fleet(b);
    rolled_back_after_a_release(&app);
    let pages = crate::support::http::pages(&app, "/api/v1/overrides/stale?limit=4");
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [4, 2]);
    let bad = app.get("/api/v1/overrides/stale?limit=0");
    assert_eq!(bad.status, 422, "{}", bad.body);
});
