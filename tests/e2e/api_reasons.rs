//! Why a cluster changed: revisions carry the reason the person gave, and the audit log by
//! cluster finds every write that changed what the cluster runs; on SQLite and PostgreSQL.

use serde_json::json;

use crate::api_catalog::{register_v120, revisions};
use crate::both;
use crate::support::app::{Backend, TestApp};

/// The reason of a cluster's newest revision.
fn latest_reason(app: &TestApp, cluster: &str) -> String {
    let list = app.get(&format!("/api/v1/clusters/{cluster}/revisions?limit=1")).json();
    list["items"][0]["reason"].as_str().unwrap().to_owned()
}

both!(
    each_write_s_reason_becomes_the_reason_of_the_revisions_it_makes,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let grafana = "/api/v1/clusters/prod-eu-1/components/grafana";
        let start = revisions(&app)["prod-eu-1"];
        let pin = app.put(
            grafana,
            &json!({"oci_tag": "v1.1.0-1", "reason": "CVE-2026-0042 in the dashboards"}),
        );
        assert_eq!(pin.status, 200, "{}", pin.body);
        assert_eq!(latest_reason(&app, "prod-eu-1"), "CVE-2026-0042 in the dashboards");
        // Without a reason the revision says what the write did.
        let unpin = app.put(grafana, &json!({}));
        assert_eq!(unpin.status, 200, "{}", unpin.body);
        assert_eq!(latest_reason(&app, "prod-eu-1"), "grafana on prod-eu-1 changed");
        let patch = app.patch(grafana, &json!({"oci_tag": "v1.1.0-1", "reason": "patched pin"}));
        assert_eq!(patch.status, 200, "{}", patch.body);
        assert_eq!(latest_reason(&app, "prod-eu-1"), "patched pin");

        let hotfix = app.post(
            "/api/v1/hotfixes",
            &json!({"component": "prometheus", "oci_tag": "v1.1.0-1", "selector": {"clusters": ["prod-us-1"]},
                    "reason": "CVE-2026-0043"}),
        );
        assert_eq!(hotfix.status, 200, "{}", hotfix.body);
        assert_eq!(latest_reason(&app, "prod-us-1"), "hotfix: CVE-2026-0043");

        register_v120(&app);
        let release = app.post(
            "/api/v1/releases",
            &json!({"artifact": "platform", "oci_tag": "v1.2.0", "reason": "monthly platform release"}),
        );
        assert_eq!(release.status, 200, "{}", release.body);
        assert_eq!(latest_reason(&app, "dev-eu-1"), "monthly platform release");

        let rollback = app.post(
            "/api/v1/clusters/prod-eu-1/rollback",
            &json!({"revision": start, "reason": "ingress errors after the release"}),
        );
        assert_eq!(rollback.status, 200, "{}", rollback.body);
        let expected = format!("rollback to revision {start}: ingress errors after the release");
        assert_eq!(latest_reason(&app, "prod-eu-1"), expected);
        let a = app.get("/api/v1/clusters/prod-eu-1/components").json();
        let prometheus = a
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["component"] == "prometheus")
            .unwrap();
        assert_eq!(prometheus["reason"], expected.as_str());
    }
);

/// The actions and targets of a cluster's audit entries, newest first.
fn audit_of(app: &TestApp, cluster: &str) -> Vec<String> {
    crate::support::http::pages(app, &format!("/api/v1/audit?cluster={cluster}&limit=3"))
        .concat()
        .iter()
        .map(|e| format!("{} {}", e["action"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect()
}

both!(
    the_audit_log_by_cluster_finds_every_write_that_changed_what_it_runs,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let labels = app.patch(
            "/api/v1/clusters/prod-eu-1",
            &json!({"labels": {"region": "eu-west-2"}}),
        );
        assert_eq!(labels.status, 200, "{}", labels.body);
        let pin = app.put(
            "/api/v1/clusters/prod-eu-1/components/external-dns",
            &json!({"oci_tag": "v1.1.0-1", "reason": "dns fix"}),
        );
        assert_eq!(pin.status, 200, "{}", pin.body);
        let elsewhere = app.put(
            "/api/v1/clusters/dev-eu-1/components/grafana",
            &json!({"oci_tag": "v1.1.0-1"}),
        );
        assert_eq!(elsewhere.status, 200, "{}", elsewhere.body);
        let hotfix = app.post(
            "/api/v1/hotfixes",
            &json!({"component": "grafana", "oci_tag": "v1.1.0-1", "selector": {"tiers": ["prod"]}}),
        );
        assert_eq!(hotfix.status, 200, "{}", hotfix.body);
        register_v120(&app);
        let rollout = app.post(
            "/api/v1/rollouts",
            &json!({"component": "prometheus", "oci_tag": "v1.2.0"}),
        );
        assert_eq!(rollout.status, 201, "{}", rollout.body);
        let id = rollout.json()["id"].clone();
        for _ in 0..3 {
            let step = app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({}));
            assert_eq!(step.status, 200, "{}", step.body);
        }
        let abort = app.post(&format!("/api/v1/rollouts/{id}/abort"), &json!({}));
        assert_eq!(abort.status, 200, "{}", abort.body);
        let release = app.post(
            "/api/v1/releases",
            &json!({"artifact": "platform", "oci_tag": "v1.2.0"}),
        );
        assert_eq!(release.status, 200, "{}", release.body);

        assert_eq!(
            audit_of(&app, "prod-eu-1"),
            [
                "release artifact/platform".to_owned(),
                format!("rollout.abort rollout/{id}"),
                format!("rollout.advance rollout/{id}"),
                "hotfix cluster/prod-eu-1/components/grafana".to_owned(),
                "assignment.put cluster/prod-eu-1/components/external-dns".to_owned(),
                "cluster.update cluster/prod-eu-1".to_owned(),
                "cluster.create cluster/prod-eu-1".to_owned(),
            ]
        );
        // The exact target is still there for the cluster's own settings.
        let own = app.get("/api/v1/audit?target=cluster/prod-eu-1").json();
        assert_eq!(own["items"].as_array().unwrap().len(), 2, "{own}");
        let unknown = app.get("/api/v1/audit?cluster=nope").json();
        assert_eq!(unknown, json!({"items": []}));
    }
);

/// Whether `text` is an RFC 3339 UTC time with milliseconds, like `2026-12-02T03:20:45.123Z`.
fn is_millis_utc(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 24
        && b[10] == b'T'
        && b[19] == b'.'
        && b[23] == b'Z'
        && b.iter()
            .enumerate()
            .all(|(i, c)| [4, 7, 10, 13, 16, 19, 23].contains(&i) || c.is_ascii_digit())
}

both!(times_in_answers_and_messages_are_utc_with_milliseconds, |b: Backend| {
    let app = TestApp::with_fleet(b);
    register_v120(&app);
    let r = app.post(
        "/api/v1/rollouts",
        &json!({"component": "grafana", "oci_tag": "v1.2.0",
                    "waves": [{"clusters": ["dev-eu-1"], "soak": "1h"}, {"tiers": ["qa", "prod"]}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = r.json();
    assert!(is_millis_utc(r["created_at"].as_str().unwrap()), "{r}");
    let id = &r["id"];
    assert_eq!(
        app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({})).status,
        200
    );
    let soaking = app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({}));
    assert_eq!(soaking.status, 409, "{}", soaking.body);
    let detail = soaking.json()["detail"].as_str().unwrap().to_owned();
    let until = detail
        .split_once("soaks until ")
        .and_then(|(_, rest)| rest.split_once(';'))
        .map(|(t, _)| t.to_owned())
        .unwrap_or_else(|| panic!("{detail}"));
    assert!(is_millis_utc(&until), "{detail}");
    let past = app.put(
        "/api/v1/clusters/prod-eu-1/components/grafana",
        &json!({"oci_tag": "v1.1.0-1", "expires_at": "2020-01-01T00:00:00Z"}),
    );
    assert_eq!(past.status, 422, "{}", past.body);
    let message = past.json()["errors"][0]["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("2020-01-01T00:00:00.000Z is not in the future (now is "),
        "{message}"
    );
    let now = message
        .split("now is ")
        .nth(1)
        .and_then(|t| t.split(')').next())
        .unwrap();
    assert!(is_millis_utc(now), "{message}");
    let status = app.get("/api/v1/clusters/dev-eu-1/status");
    assert_eq!(status.status, 200, "{}", status.body);
});
