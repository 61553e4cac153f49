//! The health gate over HTTP, on SQLite and PostgreSQL: `auto` waves move on when the clusters
//! of the last step report its revision ready through Flux events, and stop on failures.

use std::sync::Arc;
use std::time::Duration;

use platform_catalog::service::rollouts::gate::HealthGate;
use platform_catalog::service::rollouts::runner;
use serde_json::{json, Value};

use crate::api_catalog::{effective_tag, register_v120, CLUSTERS, D120};
use crate::api_events::{at, event, report};
use crate::api_runner::wait_for;
use crate::both;
use crate::flux_wire::{send_all, Kc};
use crate::support::app::{Backend, TestApp};

fn reconciled(cluster: &str, app: &TestApp, severity: &str, reason: &str) {
    let revision = format!("v1.2.0@{D120}");
    // A second ahead: Flux stamps whole seconds, the step's time has fractions.
    report(
        app,
        cluster,
        &event("Kustomization", "grafana", severity, reason, Some(&revision), &at(1)),
    );
}

/// grafana to v1.2.0: dev-eu-1 alone, then qa and prod together; all automatic.
fn start(app: &TestApp, on_failure: &str) -> (Value, i64) {
    register_v120(app);
    let reply = app.post(
        "/api/v1/rollouts",
        &json!({"component": "grafana", "oci_tag": "v1.2.0", "waves": [
            {"clusters": ["dev-eu-1"], "approval": "auto"},
            {"tiers": ["qa", "prod"], "approval": "auto", "on_failure": on_failure}]}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.json()["id"].clone();
    let n = id.as_i64().unwrap();
    wait_for(app, &id, Duration::from_secs(20), |r| r["steps_applied"] == 1);
    assert_eq!(
        runner::try_move(&app.state, &HealthGate, n, 1).unwrap(),
        None,
        "no report yet: the next step waits"
    );
    (id, n)
}

both!(
    an_auto_wave_moves_on_when_the_step_reports_ready_and_halts_when_a_cluster_fails,
    |b: Backend| {
        let app = TestApp::with_fleet_and_gate(b, Arc::new(HealthGate));
        let (id, n) = start(&app, "halt");
        reconciled("dev-eu-1", &app, "info", "Progressing");
        assert_eq!(
            runner::try_move(&app.state, &HealthGate, n, 1).unwrap(),
            None,
            "progressing is not ready"
        );

        reconciled("dev-eu-1", &app, "info", "ReconciliationSucceeded");
        let r = wait_for(&app, &id, Duration::from_secs(20), |r| r["steps_applied"] == 2);
        assert_eq!(r["state"], "running");
        assert_eq!(effective_tag(&app, "prod-us-1", "grafana").0, "v1.2.0");

        reconciled("prod-eu-1", &app, "info", "ReconciliationSucceeded");
        reconciled("qa-eu-1", &app, "error", "HealthCheckFailed");
        let r = wait_for(&app, &id, Duration::from_secs(20), |r| r["state"] != "running");
        assert_eq!(r["state"], "halted", "{r}");
        let why = r["halted_reason"].as_str().unwrap();
        assert!(why.contains("over its max_failures 0"), "{why}");
        assert!(why.contains("qa-eu-1: grafana: HealthCheckFailed"), "{why}");
        assert_eq!(r["waves"][1]["steps"][0]["failed"], json!(["qa-eu-1"]));
        // Halting keeps what is applied and applies nothing more.
        assert_eq!(effective_tag(&app, "qa-eu-1", "grafana").0, "v1.2.0");
        assert_eq!(effective_tag(&app, "dev-eu-1", "grafana").0, "v1.2.0");
        let catalog = app.get("/api/v1/components/grafana").json();
        assert_ne!(catalog["oci_tag"], "v1.2.0", "the default did not move: {catalog}");
    }
);

both!(
    a_wave_with_on_failure_abort_returns_every_cluster_when_a_cluster_fails,
    |b: Backend| {
        let app = TestApp::with_fleet_and_gate(b, Arc::new(HealthGate));
        let clusters = ["dev-eu-1", "qa-eu-1", "prod-eu-1", "prod-us-1"];
        let before: Vec<(String, String)> = clusters.iter().map(|c| effective_tag(&app, c, "grafana")).collect();
        let (id, _) = start(&app, "abort");
        reconciled("dev-eu-1", &app, "info", "ReconciliationSucceeded");
        wait_for(&app, &id, Duration::from_secs(20), |r| r["steps_applied"] == 2);

        reconciled("prod-us-1", &app, "error", "ReconciliationFailed");
        let r = wait_for(&app, &id, Duration::from_secs(20), |r| r["state"] != "running");
        assert_eq!(r["state"], "aborted", "{r}");
        assert!(r["halted_reason"].as_str().unwrap().contains("prod-us-1"), "{r}");
        let after: Vec<(String, String)> = clusters.iter().map(|c| effective_tag(&app, c, "grafana")).collect();
        assert_eq!(after, before, "every cluster runs what it ran before the rollout");
    }
);

both!(an_unknown_on_failure_is_refused_naming_the_field, |b: Backend| {
    let app = TestApp::with_fleet(b);
    register_v120(&app);
    let reply = app.post(
        "/api/v1/rollouts",
        &json!({"component": "grafana", "oci_tag": "v1.2.0",
            "waves": [{"tiers": ["dev", "qa", "prod"], "on_failure": "ignore"}]}),
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert!(reply.body.contains("$.waves[0].on_failure"), "{}", reply.body);
    assert!(
        reply.body.contains("\\\"ignore\\\" is not halt, abort or rollback"),
        "{}",
        reply.body
    );
});

/// grafana to v1.2.0, a wave for each of `clusters`, then one for the rest of the fleet; every
/// wave automatic.
fn start_one_by_one(app: &TestApp, clusters: &[&str]) -> Value {
    register_v120(app);
    let mut waves: Vec<Value> = clusters
        .iter()
        .map(|c| json!({"clusters": [c], "approval": "auto"}))
        .collect();
    waves.push(json!({"tiers": ["dev", "qa", "prod"], "approval": "auto"}));
    let reply = app.post(
        "/api/v1/rollouts",
        &json!({"component": "grafana", "oci_tag": "v1.2.0", "waves": waves}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()["id"].clone()
}

both!(
    a_health_gated_rollout_completes_on_a_fleet_of_flux_2_8_3_that_never_sends_reconciliation_succeeded,
    |b: Backend| {
        let app = TestApp::with_fleet_and_gate(b, Arc::new(HealthGate));
        // Three waves of one cluster each, then the last one: every step waits for health.
        let id = start_one_by_one(&app, &["dev-eu-1", "qa-eu-1", "prod-eu-1"]);
        let revision = format!("v1.2.0@{D120}");
        let kc = Kc { name: "grafana" };
        let steps: [&[&str]; 4] = [&["dev-eu-1"], &["qa-eu-1"], &["prod-eu-1"], &["prod-us-1"]];
        for (i, clusters) in steps.iter().enumerate() {
            wait_for(&app, &id, Duration::from_secs(20), |r| r["steps_applied"] == i + 1);
            let r = app.get(&format!("/api/v1/rollouts/{id}")).json();
            assert_eq!(r["state"], "running", "nothing reported yet: {r}");
            // grafana waits for health (`wait: true`): the change set, then the health check.
            for cluster in *clusters {
                send_all(&app, cluster, &kc.release_2_8_early(&revision, &at(1), true));
            }
        }
        let r = wait_for(&app, &id, Duration::from_secs(20), |r| r["state"] != "running");
        assert_eq!(r["state"], "completed", "{r}");
        for cluster in CLUSTERS {
            assert_eq!(effective_tag(&app, cluster, "grafana").0, "v1.2.0");
        }
    }
);

both!(a_cancelled_health_check_then_success_counts_no_failure, |b: Backend| {
    let app = TestApp::with_fleet_and_gate(b, Arc::new(HealthGate));
    let id = start_one_by_one(&app, &["dev-eu-1"]);
    wait_for(&app, &id, Duration::from_secs(20), |r| r["steps_applied"] == 1);
    let n = id.as_i64().unwrap();
    let revision = format!("v1.2.0@{D120}");
    let kc = Kc { name: "grafana" };
    send_all(
        &app,
        "dev-eu-1",
        &[kc.change_set(&revision, &at(1)), kc.health_canceled(&revision, &at(1))],
    );
    assert_eq!(
        runner::try_move(&app.state, &HealthGate, n, 1).unwrap(),
        None,
        "a cancelled health check waits"
    );
    let r = app.get(&format!("/api/v1/rollouts/{id}")).json();
    assert_eq!(
        (r["state"].as_str(), &r["waves"][0]["steps"][0]["failed"]),
        (Some("running"), &json!([]))
    );
    send_all(&app, "dev-eu-1", &kc.release(&revision, &at(2), true));
    let r = wait_for(&app, &id, Duration::from_secs(20), |r| r["steps_applied"] == 2);
    assert_eq!(r["waves"][0]["steps"][0]["failed"], json!([]), "{r}");
    assert_eq!(r["state"], "running");
});
