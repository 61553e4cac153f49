//! The evidence rule on SQLite and PostgreSQL: prod takes a build only after qa ran its digest
//! ready for long enough (time moved by the service's clock), a failure since withdraws it, and
//! an admin's break-glass passes it, audited.

use platform_catalog::service::tokens::Role;
use serde_json::{json, Value};

use crate::api_events::{at, event, report};
use crate::both;
use crate::support::app::{Backend, TestApp};

/// The digest of v1.1.0-1, the hotfix build no cluster runs in the example fleet.
pub(crate) const D111: &str = "sha256:7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5";

/// The example fleet, with prod requiring one qa cluster ready for an hour.
pub(crate) fn app_requiring_evidence(b: Backend) -> TestApp {
    let app = TestApp::with_fleet(b);
    app_requiring_evidence_on(&app);
    app
}

/// Makes prod require one qa cluster ready for an hour.
fn app_requiring_evidence_on(app: &TestApp) {
    let policy = json!({
        "allow_mutable": false, "allow_prerelease": false, "pin_digest": true, "require_known_tag": true,
        "pattern": "^v[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9]+)?$",
        "require_verified": [{"tier": "qa", "clusters": 1, "ready_for": "1h"}],
    });
    let reply = app.put("/api/v1/tiers/prod", &policy);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json()["policy"]["require_verified"],
        json!([{"tier": "qa", "clusters": 1, "ready_for": "1h"}])
    );
}

fn override_prod(app: &TestApp, extra: Value) -> crate::support::app::Reply {
    let mut body = json!({"oci_tag": "v1.1.0-1", "reason": "roll grafana forward"});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    app.put("/api/v1/clusters/prod-eu-1/components/grafana", &body)
}

/// qa-eu-1's Kustomization of grafana reports on v1.1.0-1, `second` seconds into the test
/// (Flux's own time, which only tells reports apart; the rule reads the service's clock).
fn qa_reports(app: &TestApp, severity: &str, reason: &str, second: i64) {
    let revision = format!("v1.1.0-1@{D111}");
    let sent = event(
        "Kustomization",
        "grafana",
        severity,
        reason,
        Some(&revision),
        &at(second),
    );
    report(app, "qa-eu-1", &sent);
}

both!(
    a_prod_override_to_a_digest_qa_never_ran_is_refused_with_the_evidence,
    |b: Backend| {
        let app = app_requiring_evidence(b);
        let reply = override_prod(&app, json!({}));
        assert_eq!(reply.status, 422, "{}", reply.body);
        let detail = reply.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.contains(&format!(
                "(rule require_verified): qa: 0 of 1 clusters ready at {D111} for 1h; no qa cluster reported it"
            )),
            "{detail}"
        );
    }
);

both!(
    a_prod_override_is_accepted_once_qa_reported_the_digest_ready_for_an_hour,
    |b: Backend| {
        let app = app_requiring_evidence(b);
        qa_reports(&app, "info", "ReconciliationSucceeded", 1);
        app.state.clock.advance(chrono::Duration::minutes(12));
        let early = override_prod(&app, json!({}));
        assert_eq!(early.status, 422, "{}", early.body);
        let detail = early.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("qa: 0 of 1 clusters ready at"), "{detail}");
        assert!(detail.contains("; qa-eu-1 ready for 12m"), "{detail}");
        // Flux repeats the ready report every reconcile; the period runs from the first.
        qa_reports(&app, "info", "ReconciliationSucceeded", 2);
        app.state.clock.advance(chrono::Duration::minutes(48));
        let reply = override_prod(&app, json!({}));
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["oci_tag"], "v1.1.0-1");
    }
);

both!(a_failure_reported_since_withdraws_the_evidence, |b: Backend| {
    let app = app_requiring_evidence(b);
    qa_reports(&app, "info", "ReconciliationSucceeded", 3);
    app.state.clock.advance(chrono::Duration::hours(2));
    qa_reports(&app, "error", "HealthCheckFailed", 4);
    let reply = override_prod(&app, json!({}));
    assert_eq!(reply.status, 422, "{}", reply.body);
    let detail = reply.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("qa: 0 of 1 clusters ready at"), "{detail}");
    assert!(detail.contains("; qa-eu-1 reported it failed at "), "{detail}");
    // Ready again: a new period starts, and must last the hour again.
    qa_reports(&app, "info", "ReconciliationSucceeded", 5);
    assert_eq!(override_prod(&app, json!({})).status, 422);
    app.state.clock.advance(chrono::Duration::hours(1));
    assert_eq!(override_prod(&app, json!({})).status, 200);
});

both!(
    break_glass_by_an_admin_passes_the_evidence_rule_and_is_audited,
    |b: Backend| {
        let app = app_requiring_evidence(b);
        let glass = json!({"break_glass": {"reason": "CVE fix cannot wait for qa"}});
        let reply = override_prod(&app, glass);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let audit = app.get("/api/v1/audit?target=break-glass").json();
        let entry = &audit["items"][0];
        assert_eq!(entry["action"], "break_glass");
        let after = &entry["after"];
        assert_eq!(after["reason"], "CVE fix cannot wait for qa");
        assert_eq!(after["rules_skipped"], json!(["require_verified"]));
        assert_eq!(after["skipped"][0]["cluster"], "prod-eu-1");
        assert_eq!(after["skipped"][0]["component"], "grafana");
        assert_eq!(after["skipped"][0]["tag"], "v1.1.0-1");
        let evidence = after["skipped"][0]["evidence"].as_str().unwrap();
        assert!(evidence.starts_with("qa: 0 of 1 clusters ready at"), "{evidence}");
    }
);

both!(break_glass_by_an_operator_is_forbidden_naming_the_role, |b: Backend| {
    let app = app_requiring_evidence(b);
    let operator = app.issue("ops-oncall", Role::Operator, None);
    let body = json!({"oci_tag": "v1.1.0-1", "break_glass": {"reason": "in a hurry"}});
    let reply = app.request_as(
        Some(&operator),
        "PUT",
        "/api/v1/clusters/prod-eu-1/components/grafana",
        Some(&body.to_string()),
    );
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(
        reply.json()["detail"],
        "break_glass needs the admin role; ops-oncall has the operator role"
    );
    let audit = app.get("/api/v1/audit?target=break-glass").json();
    assert_eq!(audit["items"], json!([]));
});

both!(
    a_break_glass_reason_longer_than_the_document_allows_is_refused_naming_it,
    |b: Backend| {
        let app = app_requiring_evidence(b);
        let body = json!({"oci_tag": "v1.1.0-1", "break_glass": {"reason": "x".repeat(501)}});
        let reply = app.request(
            "PUT",
            "/api/v1/clusters/prod-eu-1/components/grafana",
            Some(&body.to_string()),
            &[],
        );
        assert_eq!(reply.status, 422, "{}", reply.body);
        assert_eq!(
            reply.json()["errors"],
            json!([{"path": "$.break_glass.reason", "message": "must be at most 500 characters"}])
        );
        let audit = app.get("/api/v1/audit?target=break-glass").json();
        assert_eq!(audit["items"], json!([]));
    }
);

both!(a_tier_cannot_require_evidence_from_an_unknown_tier, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let policy = json!({
        "allow_mutable": false, "allow_prerelease": false, "pin_digest": true, "require_known_tag": true,
        "require_verified": [{"tier": "staging", "clusters": 1, "ready_for": "1h"}],
    });
    let reply = app.put("/api/v1/tiers/prod", &policy);
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.json()["errors"][0]["path"], "$.require_verified[0].tier");
});

both!(
    every_rollout_step_into_prod_is_checked_for_evidence_when_it_applies,
    |b: Backend| {
        let app = app_requiring_evidence(b);
        let created = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.1.0-1"}),
        );
        assert_eq!(created.status, 201, "{}", created.body);
        let advance = format!("/api/v1/rollouts/{}/advance", created.json()["id"]);
        // dev-eu-1, then qa-eu-1: tiers without the rule.
        for _ in 0..2 {
            let reply = app.post(&advance, &json!({}));
            assert_eq!(reply.status, 200, "{}", reply.body);
        }
        qa_reports(&app, "info", "ReconciliationSucceeded", 6);
        let early = app.post(&advance, &json!({}));
        assert_eq!(early.status, 422, "{}", early.body);
        let detail = early.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("qa: 0 of 1 clusters ready at"), "{detail}");
        assert!(
            detail.contains("(cluster prod-eu-1 would run it for grafana)"),
            "{detail}"
        );
        app.state.clock.advance(chrono::Duration::hours(1));
        let reply = app.post(&advance, &json!({}));
        assert_eq!(reply.status, 200, "{}", reply.body);
        let changes = reply.json()["changes"].clone();
        let moved: Vec<&str> = changes
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["cluster"].as_str().unwrap())
            .collect();
        assert_eq!(moved, ["prod-eu-1"]);
    }
);

both!(a_rollback_to_a_revision_qa_never_verified_is_refused, |b: Backend| {
    let app = TestApp::with_fleet(b);
    // prod-eu-1 runs v1.1.0-1 before the rule exists: its revision 2.
    let pinned = app.put(
        "/api/v1/clusters/prod-eu-1/components/grafana",
        &json!({"oci_tag": "v1.1.0-1"}),
    );
    assert_eq!(pinned.status, 200, "{}", pinned.body);
    let unpinned = app.delete("/api/v1/clusters/prod-eu-1/components/grafana/override");
    assert_eq!(unpinned.status, 200, "{}", unpinned.body);
    app_requiring_evidence_on(&app);
    let reply = app.post("/api/v1/clusters/prod-eu-1/rollback", &json!({"revision": 2}));
    assert_eq!(reply.status, 422, "{}", reply.body);
    let detail = reply.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("(rule require_verified): qa: 0 of 1 clusters ready at"),
        "{detail}"
    );
});
