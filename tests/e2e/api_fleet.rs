//! The fleet view over HTTP, on SQLite and PostgreSQL: each cluster's components with tag,
//! path, provenance, observed state and drift, as JSON pages and CSV, with the clusters list's
//! filters and paging.

use serde_json::{json, Value};

use crate::api_catalog::error_paths;
use crate::api_events::{at, event, report, D110};
use crate::both;
use crate::support::app::{Backend, TestApp};

/// The example fleet with qa's ingress-nginx failing to build, prod-eu-1's grafana reported
/// ready at its desired tag, and a hotfix of prometheus on prod-us-1.
fn reporting_fleet(b: Backend) -> TestApp {
    let app = TestApp::with_fleet(b);
    report(
        &app,
        "qa-eu-1",
        &event("Kustomization", "ingress-nginx", "error", "BuildFailed", None, &at(-10)),
    );
    report(
        &app,
        "prod-eu-1",
        &event(
            "Kustomization",
            "grafana",
            "info",
            "ReconciliationSucceeded",
            Some(&format!("v1.1.0@{D110}")),
            &at(-10),
        ),
    );
    let hotfix = app.post(
        "/api/v1/hotfixes",
        &json!({"component": "prometheus", "oci_tag": "v1.1.0-1", "selector": {"clusters": ["prod-us-1"]}}),
    );
    assert_eq!(hotfix.status, 200, "{}", hotfix.body);
    app
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

both!(
    the_example_fleet_shows_every_cluster_and_component_with_why_and_what_it_reports,
    |b: Backend| {
        let app = reporting_fleet(b);
        let reply = app.get("/api/v1/fleet");
        assert_eq!(reply.status, 200, "{}", reply.body);
        let body = serde_json::to_string_pretty(&reply.json()).unwrap();
        insta::assert_snapshot!("fleet_json", body);
    }
);

both!(the_fleet_as_csv_is_one_line_per_cluster_and_component, |b: Backend| {
    let app = reporting_fleet(b);
    let reply = app.request("GET", "/api/v1/fleet", None, &[("accept", "text/csv")]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(reply.header("x-next-cursor"), None);
    insta::assert_snapshot!("fleet_csv", reply.body);
});

both!(the_fleet_takes_the_clusters_filters_and_pages_by_name, |b: Backend| {
    let app = TestApp::with_fleet(b);
    assert_eq!(
        names(&app.get("/api/v1/fleet?tier=prod").json()),
        ["prod-eu-1", "prod-us-1"]
    );
    assert_eq!(
        names(&app.get("/api/v1/fleet?label=region%3Dus-east-1").json()),
        ["prod-us-1"]
    );
    let dns = app.get("/api/v1/fleet?component=external-dns").json();
    assert_eq!(names(&dns), ["dev-eu-1", "prod-eu-1", "qa-eu-1"]);
    for c in dns["items"].as_array().unwrap() {
        assert_eq!(c["components"].as_array().unwrap().len(), 1, "{c}");
        assert_eq!(c["components"][0]["component"], "external-dns");
    }
    let first = app.get("/api/v1/fleet?limit=3").json();
    assert_eq!(names(&first), ["dev-eu-1", "prod-eu-1", "prod-us-1"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let last = app.get(&format!("/api/v1/fleet?limit=3&cursor={cursor}")).json();
    assert_eq!(
        (names(&last), last.get("next_cursor")),
        (vec!["qa-eu-1".to_owned()], None)
    );
    let csv = app.request("GET", "/api/v1/fleet?limit=3", None, &[("accept", "text/csv")]);
    assert_eq!(csv.header("x-next-cursor"), Some(cursor));
});

both!(a_pin_shows_as_an_override_and_a_cluster_tag_as_a_pin, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let pin = app.patch(
        "/api/v1/clusters/prod-eu-1/components/grafana",
        &json!({"oci_tag": "v1.1.0-rc1", "reason": "rollback"}),
    );
    assert_eq!(pin.status, 422, "prod refuses pre-releases: {}", pin.body);
    let pin = app.patch(
        "/api/v1/clusters/dev-eu-1/components/grafana",
        &json!({"oci_tag": "v1.0.0", "reason": "rollback"}),
    );
    assert_eq!(pin.status, 200, "{}", pin.body);
    let whole = app.patch("/api/v1/clusters/qa-eu-1", &json!({"oci_tag": "v1.0.0"}));
    assert_eq!(whole.status, 200, "{}", whole.body);
    let fleet = app.get("/api/v1/fleet?component=grafana").json();
    let cells: Vec<(String, String, Value)> = fleet["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let g = &c["components"][0];
            (
                c["name"].as_str().unwrap().to_owned(),
                format!(
                    "{} {}",
                    g["oci_tag"].as_str().unwrap(),
                    g["provenance"].as_str().unwrap()
                ),
                g["detail"].clone(),
            )
        })
        .collect();
    let expected = vec![
        ("dev-eu-1".to_owned(), "v1.0.0 override".to_owned(), json!("rollback")),
        ("prod-eu-1".to_owned(), "v1.1.0 default".to_owned(), Value::Null),
        ("prod-us-1".to_owned(), "v1.1.0 default".to_owned(), Value::Null),
        // The canary override still decides grafana; the cluster's tag the others.
        ("qa-eu-1".to_owned(), "v1.1.0-rc1 override".to_owned(), json!("canary")),
    ];
    assert_eq!(cells, expected);
    let qa = app.get("/api/v1/fleet?tier=qa&component=prometheus").json();
    assert_eq!(qa["items"][0]["components"][0]["provenance"], "pin");
});

both!(a_malformed_fleet_filter_or_cursor_is_refused_by_name, |b: Backend| {
    let app = TestApp::with_fleet(b);
    for (query, field) in [("label=region", "label"), ("cursor=zz", "cursor"), ("limit=0", "limit")] {
        let reply = app.get(&format!("/api/v1/fleet?{query}"));
        assert_eq!(reply.status, 422, "{query}: {}", reply.body);
        assert_eq!(error_paths(&reply), [field], "{query}");
    }
    let unknown = app.get("/api/v1/fleet?colour=red");
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert!(
        unknown.json()["detail"].as_str().unwrap().contains("\"colour\""),
        "{}",
        unknown.body
    );
    let other = app.get("/api/v1/clusters?limit=1").json();
    let reply = app.get(&format!(
        "/api/v1/fleet?cursor={}",
        other["next_cursor"].as_str().unwrap()
    ));
    assert_eq!(
        reply.status, 422,
        "a clusters cursor is not a fleet cursor: {}",
        reply.body
    );
});
