//! Drift over HTTP, on SQLite and PostgreSQL: every kind of finding from posted events, the
//! report's filters and paging, metrics, and the rollout gate's health query.

use chrono::{DateTime, Utc};
use platform_catalog::service::observed::health::{step_health, Health, HealthQuery};
use serde_json::{json, Value};

use crate::api_events::{at, event, report, D100, D110, MOVED};
use crate::both;
use crate::support::app::{Backend, TestApp};

fn kinds(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} {}",
                f["kind"].as_str().unwrap(),
                f["cluster"].as_str().unwrap_or("-"),
                f["component"].as_str().or(f["object"]["name"].as_str()).unwrap_or("-")
            )
        })
        .collect()
}

fn ok(name: &str, revision: &str) -> Value {
    event(
        "Kustomization",
        name,
        "info",
        "ReconciliationSucceeded",
        Some(revision),
        &at(-10),
    )
}

/// Reports every kind of drift once (besides silence, which needs time).
fn drifting_fleet(b: Backend) -> TestApp {
    let app = TestApp::with_fleet(b);
    report(&app, "dev-eu-1", &ok("grafana", &format!("v1.0.0@{D100}")));
    report(&app, "dev-eu-1", &ok("prometheus", &format!("v1.1.0@{MOVED}")));
    report(&app, "dev-eu-1", &ok("mystery", "v9.9.9"));
    report(
        &app,
        "qa-eu-1",
        &event("Kustomization", "ingress-nginx", "error", "BuildFailed", None, &at(-10)),
    );
    report(&app, "prod-eu-1", &ok("grafana", D110));
    report(&app, "prod-us-1", &ok("grafana", &format!("v1.0.0@{D100}")));
    // qa runs grafana v1.1.0-rc1; a bare digest of another tag is another version.
    report(&app, "qa-eu-1", &ok("grafana", D110));
    report(&app, "prod-eu-1", &ok("external-dns", &format!("v1.1.0@{D110}")));
    report(&app, "prod-us-1", &ok("ingress-nginx", &format!("v1.1.0@{D110}")));
    report(&app, "prod-eu-1", &ok("ingress-nginx", &format!("v1.1.0@{MOVED}")));
    app
}

fn drift(app: &TestApp, query: &str) -> Value {
    let reply = app.get(&format!("/api/v1/drift?silent_after=1h{query}"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

both!(every_kind_of_drift_is_found_from_what_clusters_report, |b: Backend| {
    let app = drifting_fleet(b);
    let all = drift(&app, "&limit=500");
    assert_eq!(
        kinds(&all),
        [
            "version_mismatch dev-eu-1 grafana",
            "unmanaged dev-eu-1 mystery",
            "digest_mismatch dev-eu-1 prometheus",
            "digest_mismatch prod-eu-1 ingress-nginx",
            "version_mismatch prod-us-1 grafana",
            "version_mismatch qa-eu-1 grafana",
            "failed qa-eu-1 ingress-nginx",
            "mixed_versions - ingress-nginx",
        ],
        "{all}"
    );
    let mixed = &all["items"][7];
    assert_eq!(mixed["tier"], "prod");
    assert_eq!(mixed["desired_tag"], "v1.1.0");
    assert_eq!(mixed["digests"], json!({D110: ["prod-us-1"], MOVED: ["prod-eu-1"]}));
    let failed = &all["items"][6];
    assert_eq!(
        failed["object"],
        json!({"kind": "Kustomization", "namespace": "flux-system", "name": "ingress-nginx"})
    );
    assert_eq!(
        failed["detail"],
        "Kustomization BuildFailed: BuildFailed for ingress-nginx"
    );
    let moved = &all["items"][2];
    assert_eq!(
        (moved["desired_digest"].as_str(), moved["applied_revision"].clone()),
        (Some(D110), json!(format!("v1.1.0@{MOVED}")))
    );
    assert_eq!(all["total"], 8);
    let count = |kind: &str, tier: &str| {
        all["counts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == kind && c["tier"] == tier)
            .map(|c| c["count"].as_u64().unwrap())
    };
    assert_eq!(count("digest_mismatch", "dev"), Some(1));
    assert_eq!(count("mixed_versions", "prod"), Some(1));
    assert_eq!(count("silent", "dev"), None);

    // Filters.
    assert_eq!(kinds(&drift(&app, "&kind=failed")), ["failed qa-eu-1 ingress-nginx"]);
    assert_eq!(
        kinds(&drift(&app, "&tier=prod&component=ingress-nginx")),
        [
            "digest_mismatch prod-eu-1 ingress-nginx",
            "mixed_versions - ingress-nginx"
        ]
    );
    assert_eq!(
        kinds(&drift(&app, "&cluster=prod-us-1")),
        ["version_mismatch prod-us-1 grafana", "mixed_versions - ingress-nginx"],
        "fleet findings naming the cluster are kept"
    );
    let bad = app.get("/api/v1/drift?kind=sideways");
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.json()["errors"][0]["path"], "kind");
    assert_eq!(app.get("/api/v1/drift?silent_after=soon").status, 422);

    // Paging walks the same list.
    let first = drift(&app, "&limit=4");
    assert_eq!(kinds(&first), kinds(&all)[..4]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = drift(&app, &format!("&limit=4&cursor={cursor}"));
    assert_eq!(kinds(&second), kinds(&all)[4..]);
    assert_eq!(second.get("next_cursor"), None);

    // The cluster's status shows the same, per component.
    let status = app.get("/api/v1/clusters/dev-eu-1/status").json();
    let grafana = status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "grafana")
        .unwrap();
    assert_eq!(grafana["drift"], json!(["version_mismatch"]));
    assert_eq!(status["findings"].as_array().unwrap().len(), 3);

    // A later success clears the failure.
    report(
        &app,
        "qa-eu-1",
        &event(
            "Kustomization",
            "ingress-nginx",
            "info",
            "ReconciliationSucceeded",
            Some(&format!("v1.1.0@{D110}")),
            &at(-1),
        ),
    );
    assert_eq!(drift(&app, "&kind=failed")["total"], 0);
});

both!(components_that_stop_reporting_are_silent, |b: Backend| {
    let app = TestApp::with_fleet(b);
    report(&app, "dev-eu-1", &ok("grafana", &format!("v1.1.0@{D110}")));
    // By default a freshly registered fleet is not silent yet (2 × 10m + 5m).
    assert_eq!(app.get("/api/v1/drift?kind=silent").json()["total"], 0);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let silent = app
        .get("/api/v1/drift?kind=silent&silent_after=1s&cluster=dev-eu-1")
        .json();
    let names = kinds(&silent);
    assert_eq!(
        names,
        [
            "silent dev-eu-1 cert-manager",
            "silent dev-eu-1 external-dns",
            "silent dev-eu-1 grafana",
            "silent dev-eu-1 ingress-nginx",
            "silent dev-eu-1 prometheus",
        ]
    );
    assert!(silent["items"][0]["detail"]
        .as_str()
        .unwrap()
        .starts_with("no event ever received"));
    assert!(silent["items"][2]["detail"]
        .as_str()
        .unwrap()
        .starts_with("no event since"));
});

both!(
    metrics_count_drift_by_kind_and_tier_and_show_event_ages,
    |b: Backend| {
        let app = drifting_fleet(b);
        let metrics = app.get("/metrics");
        assert_eq!(metrics.status, 200);
        for line in [
            "platform_catalog_drift_findings{kind=\"failed\",tier=\"qa\"} 1\n",
            "platform_catalog_drift_findings{kind=\"mixed_versions\",tier=\"prod\"} 1\n",
            "platform_catalog_drift_findings{kind=\"version_mismatch\",tier=\"dev\"} 1\n",
            "platform_catalog_observed_last_event_age_seconds_count{tier=\"prod\"} 2\n",
        ] {
            assert!(metrics.body.contains(line), "{line} in {}", metrics.body);
        }
        assert!(metrics
            .body
            .contains("platform_catalog_observed_last_event_age_seconds{tier=\"dev\",quantile=\"1\"} "));
    }
);

both!(step_health_follows_the_events_posted_after_the_step, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let since = Utc::now().naive_utc() - chrono::Duration::seconds(30);
    let query = |cluster: &str, component: &str| HealthQuery {
        cluster: cluster.into(),
        component: component.into(),
        oci_tag: "v1.1.0".into(),
        digest: Some(D110.into()),
        wait: true,
    };
    let items = [
        query("prod-eu-1", "grafana"),
        query("prod-us-1", "grafana"),
        query("qa-eu-1", "prometheus"),
        query("dev-eu-1", "grafana"),
        query("dev-eu-1", "prometheus"),
    ];
    let health = |app: &TestApp| -> Vec<Health> {
        let mut conn = app.state.conn().unwrap();
        step_health(&mut conn, &items, since)
            .unwrap()
            .into_iter()
            .map(|(_, _, h)| h)
            .collect()
    };
    assert_eq!(health(&app), vec![Health::Pending; 5]);
    let before = (DateTime::<Utc>::from_naive_utc_and_offset(since, Utc) - chrono::Duration::seconds(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // Ready, but from before the step: still pending.
    report(
        &app,
        "prod-eu-1",
        &event(
            "Kustomization",
            "grafana",
            "info",
            "ReconciliationSucceeded",
            Some(&format!("v1.1.0@{D110}")),
            &before,
        ),
    );
    assert_eq!(health(&app)[0], Health::Pending);
    report(
        &app,
        "prod-eu-1",
        &event(
            "Kustomization",
            "grafana",
            "info",
            "ReconciliationSucceeded",
            Some(D110),
            &at(-5),
        ),
    );
    report(
        &app,
        "prod-us-1",
        &event(
            "Kustomization",
            "grafana",
            "error",
            "HealthCheckFailed",
            Some(&format!("v1.1.0@{D110}")),
            &at(-5),
        ),
    );
    report(
        &app,
        "qa-eu-1",
        &event(
            "Kustomization",
            "prometheus",
            "info",
            "Progressing",
            Some(&format!("v1.1.0@{D110}")),
            &at(-5),
        ),
    );
    report(
        &app,
        "dev-eu-1",
        &event(
            "Kustomization",
            "grafana",
            "info",
            "ReconciliationSucceeded",
            Some(&format!("v1.0.0@{D100}")),
            &at(-5),
        ),
    );
    report(
        &app,
        "dev-eu-1",
        &event(
            "OCIRepository",
            "prometheus",
            "error",
            "ArtifactFailed",
            Some("v1.1.0"),
            &at(-5),
        ),
    );
    assert_eq!(
        health(&app),
        vec![
            Health::Ready,
            Health::Failed {
                reason: "HealthCheckFailed".into(),
                message: "HealthCheckFailed for grafana".into()
            },
            Health::Pending,
            Health::Pending,
            Health::Failed {
                reason: "ArtifactFailed".into(),
                message: "ArtifactFailed for prometheus".into()
            },
        ]
    );
    // A later success of the desired revision clears the failure.
    report(
        &app,
        "prod-us-1",
        &event(
            "Kustomization",
            "grafana",
            "info",
            "ReconciliationSucceeded",
            Some(&format!("v1.1.0@{D110}")),
            &at(-1),
        ),
    );
    assert_eq!(health(&app)[1], Health::Ready);
});
