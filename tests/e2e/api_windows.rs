//! Promotion safety on SQLite and PostgreSQL: change windows and freezes refuse writes and hold
//! automatic steps, break-glass passes them, approvals hold a wave for another operator, and
//! `on_failure: rollback` returns the fleet when clusters report the rolled-out build failed.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveTime, Utc};
use platform_catalog::service::rollouts::gate::HealthGate;
use platform_catalog::service::tokens::Role;
use serde_json::{json, Value};

use crate::api_catalog::{effective_tag, register_v120, D120};
use crate::api_events::{at, event, report};
use crate::api_runner::{rollout_audit, wait_for};
use crate::both;
use crate::support::app::{Backend, TestApp};

/// The service's time now, UTC.
fn now(app: &TestApp) -> DateTime<Utc> {
    app.state.clock.now().and_utc()
}

/// Tomorrow (on the service's clock) at 10:00 UTC: the opening of a one-hour window on that day
/// alone, so today is always outside it.
fn tomorrow_ten(app: &TestApp) -> DateTime<Utc> {
    let day = now(app).date_naive().succ_opt().unwrap();
    day.and_time(NaiveTime::from_hms_opt(10, 0, 0).unwrap()).and_utc()
}

fn day_name(at: DateTime<Utc>) -> String {
    at.weekday().to_string().to_lowercase()
}

/// Sets prod's policy (its defaults) with these extra fields.
fn prod_policy(app: &TestApp, extra: Value) {
    let mut body = json!({"allow_mutable": false, "allow_prerelease": false,
        "pin_digest": true, "require_known_tag": true});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let reply = app.put("/api/v1/tiers/prod", &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// Prod may change tomorrow 10:00–11:00 UTC only; returns the opening.
fn window_tomorrow(app: &TestApp) -> DateTime<Utc> {
    let opening = tomorrow_ten(app);
    let window = json!({"days": [day_name(opening)], "from": "10:00", "to": "11:00", "tz": "UTC"});
    prod_policy(app, json!({"windows": [window]}));
    opening
}

/// Moves the service's clock to one minute after `at`.
fn move_clock_past(app: &TestApp, at: DateTime<Utc>) {
    let by = at - now(app) + chrono::Duration::minutes(1);
    app.state.clock.advance(by);
}

fn pin_grafana(app: &TestApp, cluster: &str, extra: Value) -> crate::support::app::Reply {
    let mut body = json!({"oci_tag": "v1.2.0"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.put(&format!("/api/v1/clusters/{cluster}/components/grafana"), &body)
}

fn opening_text(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

both!(
    a_write_outside_the_change_window_is_refused_naming_it_and_passes_inside_it,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let opening = window_tomorrow(&app);
        let tier = app.get("/api/v1/tiers/prod").json();
        assert_eq!(
            tier["policy"]["windows"],
            json!([{"days": [day_name(opening)], "from": "10:00", "to": "11:00", "tz": "UTC"}])
        );
        let refused = pin_grafana(&app, "prod-eu-1", json!({}));
        assert_eq!(refused.status, 422, "{}", refused.body);
        let problem = refused.json();
        assert_eq!(problem["type"], "urn:platform-catalog:problem:change-window");
        assert_eq!(
            problem["detail"],
            format!(
                "prod: outside its change windows ({} 10:00–11:00 UTC); next opening {}",
                day_name(opening),
                opening_text(opening)
            )
        );
        assert_eq!(effective_tag(&app, "prod-eu-1", "grafana").0, "v1.1.0");
        // Other tiers are not held.
        assert_eq!(pin_grafana(&app, "qa-eu-1", json!({})).status, 200);

        move_clock_past(&app, opening);
        let passed = pin_grafana(&app, "prod-eu-1", json!({}));
        assert_eq!(passed.status, 200, "{}", passed.body);
        assert_eq!(effective_tag(&app, "prod-eu-1", "grafana").0, "v1.2.0");
    }
);

both!(
    a_freeze_refuses_a_write_naming_its_reason_until_it_ends,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let start = now(&app) - chrono::Duration::hours(1);
        let end = now(&app) + chrono::Duration::hours(1);
        let freeze = json!({"from": opening_text(start), "to": opening_text(end), "reason": "year-end freeze"});
        prod_policy(&app, json!({"freezes": [freeze]}));
        let refused = pin_grafana(&app, "prod-us-1", json!({}));
        assert_eq!(refused.status, 422, "{}", refused.body);
        assert_eq!(
            refused.json()["detail"],
            format!(
                "prod: frozen until {0} (year-end freeze); next opening {0}",
                opening_text(end)
            )
        );
        move_clock_past(&app, end);
        assert_eq!(pin_grafana(&app, "prod-us-1", json!({})).status, 200);
    }
);

both!(
    break_glass_lets_an_admin_write_outside_the_window_and_no_one_else,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        window_tomorrow(&app);
        let glass = json!({"break_glass": {"reason": "incident 4711"}});
        let operator = app.issue("olga", Role::Operator, None);
        let body = json!({"oci_tag": "v1.2.0", "break_glass": {"reason": "incident 4711"}}).to_string();
        let path = "/api/v1/clusters/prod-eu-1/components/grafana";
        let not_admin = app.request_as(Some(&operator), "PUT", path, Some(&body));
        assert_eq!(not_admin.status, 403, "{}", not_admin.body);
        assert!(
            not_admin.body.contains("break_glass needs the admin role"),
            "{}",
            not_admin.body
        );
        let empty = pin_grafana(&app, "prod-eu-1", json!({"break_glass": {"reason": " "}}));
        assert_eq!(empty.status, 422, "{}", empty.body);
        assert!(empty.body.contains("$.break_glass.reason"), "{}", empty.body);

        let admin = pin_grafana(&app, "prod-eu-1", glass);
        assert_eq!(admin.status, 200, "{}", admin.body);
        assert_eq!(effective_tag(&app, "prod-eu-1", "grafana").0, "v1.2.0");
    }
);

both!(
    an_auto_step_waits_for_the_window_visibly_and_goes_once_the_clock_reaches_it,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let opening = window_tomorrow(&app);
        let reply = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.2.0", "waves": [
                {"tiers": ["dev", "qa"], "approval": "auto"},
                {"tiers": ["prod"], "approval": "auto"}]}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        let id = reply.json()["id"].clone();
        let r = wait_for(&app, &id, Duration::from_secs(20), |r| r["waiting"].is_string());
        assert_eq!(r["steps_applied"], 1, "dev and qa are not held: {r}");
        assert_eq!(
            r["waiting"],
            format!(
                "waiting for the change window: prod: outside its change windows ({} 10:00–11:00 UTC); next opening {}",
                day_name(opening),
                opening_text(opening)
            )
        );
        // Several runner rounds pass; the prod step stays where it is.
        std::thread::sleep(Duration::from_millis(500));
        let still = app.get(&format!("/api/v1/rollouts/{id}")).json();
        assert_eq!(still["steps_applied"], 1);
        assert_eq!(effective_tag(&app, "prod-eu-1", "grafana").0, "v1.1.0");

        move_clock_past(&app, opening);
        let done = wait_for(&app, &id, Duration::from_secs(20), |r| r["state"] == "completed");
        assert_eq!(done["waiting"], Value::Null);
        assert_eq!(effective_tag(&app, "prod-eu-1", "grafana").0, "v1.2.0");
    }
);

both!(
    a_step_into_a_tier_asking_for_approval_waits_refuses_its_creator_and_goes_for_another_operator,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        prod_policy(&app, json!({"approvals": 1}));
        let reply = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.2.0", "waves": [
                {"tiers": ["dev", "qa"], "approval": "auto"},
                {"tiers": ["prod"], "approval": "auto"}]}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        let id = reply.json()["id"].clone();
        let r = wait_for(&app, &id, Duration::from_secs(20), |r| {
            r["state"] == "awaiting_approval"
        });
        assert_eq!(r["steps_applied"], 1);
        assert_eq!(
            r["waiting"],
            "awaiting approval: wave wave-2 reaches a tier that asks for 1 approval(s); 0 given"
        );
        let advance = app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({}));
        assert_eq!(advance.status, 409, "{}", advance.body);
        assert!(advance.body.contains("approve"), "{}", advance.body);

        let own = app.post(&format!("/api/v1/rollouts/{id}/approve"), &json!({}));
        assert_eq!(own.status, 403, "{}", own.body);
        assert!(
            own.body.contains("rule approvals: test-admin created rollout"),
            "{}",
            own.body
        );
        let viewer = app.issue("vera", Role::Viewer, None);
        let path = format!("/api/v1/rollouts/{id}/approve");
        assert_eq!(app.request_as(Some(&viewer), "POST", &path, Some("{}")).status, 403);

        let bob = app.issue("bob", Role::Operator, None);
        let approved = app.request_as(Some(&bob), "POST", &path, Some("{}"));
        assert_eq!(approved.status, 200, "{}", approved.body);
        let shown = &approved.json()["rollout"];
        assert_eq!(shown["state"], "running");
        assert_eq!(shown["approvals"][0]["wave"], 1);
        assert_eq!(shown["approvals"][0]["by"], "bob");
        assert!(shown["approvals"][0]["at"].is_string());

        let done = wait_for(&app, &id, Duration::from_secs(20), |r| r["state"] == "completed");
        assert_eq!(done["approvals"].as_array().unwrap().len(), 1);
        assert_eq!(effective_tag(&app, "prod-us-1", "grafana").0, "v1.2.0");
        let actions: Vec<String> = rollout_audit(&app, &id).into_iter().map(|e| e.1).collect();
        assert!(
            actions
                .windows(2)
                .any(|w| w == ["rollout.await_approval", "rollout.approve"]),
            "{actions:?}"
        );
    }
);

both!(
    a_wave_with_on_failure_rollback_returns_the_fleet_and_its_audit_names_the_failure_events,
    |b: Backend| {
        let app = TestApp::with_fleet_and_gate(b, Arc::new(HealthGate));
        register_v120(&app);
        let clusters = ["dev-eu-1", "qa-eu-1", "prod-eu-1", "prod-us-1"];
        let before: Vec<(String, String)> = clusters.iter().map(|c| effective_tag(&app, c, "grafana")).collect();
        let reply = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.2.0", "waves": [
                {"clusters": ["dev-eu-1"], "approval": "auto"},
                {"tiers": ["qa", "prod"], "approval": "auto", "on_failure": "rollback"}]}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        let id = reply.json()["id"].clone();
        wait_for(&app, &id, Duration::from_secs(20), |r| r["steps_applied"] == 1);
        let revision = format!("v1.2.0@{D120}");
        let ready = event(
            "Kustomization",
            "grafana",
            "info",
            "ReconciliationSucceeded",
            Some(&revision),
            &at(1),
        );
        report(&app, "dev-eu-1", &ready);
        wait_for(&app, &id, Duration::from_secs(20), |r| r["steps_applied"] == 2);

        let failed = event(
            "Kustomization",
            "grafana",
            "error",
            "HealthCheckFailed",
            Some(&revision),
            &at(1),
        );
        report(&app, "prod-us-1", &failed);
        let r = wait_for(&app, &id, Duration::from_secs(20), |r| r["state"] != "running");
        assert_eq!(r["state"], "aborted", "{r}");
        let after: Vec<(String, String)> = clusters.iter().map(|c| effective_tag(&app, c, "grafana")).collect();
        assert_eq!(after, before, "every cluster runs what it ran before the rollout");

        let events = app.get("/api/v1/clusters/prod-us-1/events").json();
        let error_ids: Vec<i64> = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["severity"] == "error")
            .map(|e| e["id"].as_i64().unwrap())
            .collect();
        assert_eq!(error_ids.len(), 1, "{events}");
        let audit = app.get(&format!("/api/v1/audit?target=rollout/{id}&limit=100")).json();
        let rollback = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "rollout.rollback")
            .unwrap_or_else(|| panic!("no rollback entry: {audit}"));
        assert_eq!(rollback["actor"], "runner");
        assert_eq!(rollback["after"]["events"], json!(error_ids));
        assert_eq!(rollback["after"]["state"], "aborted");
    }
);

both!(
    a_tier_policy_with_a_bad_window_or_freeze_is_refused_naming_the_field,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let policy = |extra: Value| {
            let mut body = json!({"allow_mutable": false, "allow_prerelease": false,
                "pin_digest": true, "require_known_tag": true});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            app.put("/api/v1/tiers/prod", &body)
        };
        let zone =
            policy(json!({"windows": [{"days": ["mon"], "from": "09:00", "to": "16:00", "tz": "Mars/Olympus"}]}));
        assert_eq!(zone.status, 422, "{}", zone.body);
        assert_eq!(crate::api_catalog::error_paths(&zone), ["$.windows[0].tz"]);
        let order = policy(json!({"windows": [{"days": ["mon"], "from": "16:00", "to": "09:00", "tz": "UTC"}]}));
        assert_eq!(crate::api_catalog::error_paths(&order), ["$.windows[0].to"]);
        let freeze = policy(json!({"freezes": [{"from": "soon", "to": "2026-12-27T00:00:00Z", "reason": "x"}]}));
        assert_eq!(crate::api_catalog::error_paths(&freeze), ["$.freezes[0].from"]);
        let day = policy(json!({"windows": [{"days": ["monday"], "from": "09:00", "to": "16:00", "tz": "UTC"}]}));
        assert_eq!(day.status, 422, "{}", day.body);
        assert_eq!(app.get("/api/v1/tiers/prod").json()["policy"]["windows"], Value::Null);
    }
);

both!(
    a_manual_step_into_a_closed_tier_is_refused_and_two_approvals_need_two_operators,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let opening = tomorrow_ten(&app);
        let window = json!({"days": [day_name(opening)], "from": "10:00", "to": "11:00", "tz": "UTC"});
        prod_policy(&app, json!({"windows": [window], "approvals": 2}));
        let reply = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.2.0", "waves": [{"tiers": ["prod"]}, {"tiers": ["dev", "qa"]}]}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        let id = reply.json()["id"].clone();
        assert_eq!(reply.json()["state"], "awaiting_approval");
        let path = format!("/api/v1/rollouts/{id}/approve");
        let (ann, bob) = (
            app.issue("ann", Role::Operator, None),
            app.issue("bob", Role::Operator, None),
        );
        let first = app.request_as(Some(&ann), "POST", &path, Some("{}"));
        assert_eq!(first.status, 200, "{}", first.body);
        assert_eq!(first.json()["rollout"]["state"], "awaiting_approval", "one of two");
        let again = app.request_as(Some(&ann), "POST", &path, Some("{}"));
        assert_eq!(again.status, 409, "{}", again.body);
        assert!(again.body.contains("ann approved already"), "{}", again.body);
        let second = app.request_as(Some(&bob), "POST", &path, Some("{}"));
        assert_eq!(second.json()["rollout"]["state"], "planned");
        let approvals = second.json()["rollout"]["approvals"].clone();
        let mut by: Vec<&str> = approvals
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["by"].as_str().unwrap())
            .collect();
        by.sort_unstable();
        assert_eq!(by, ["ann", "bob"]);

        // Approved, but prod is outside its window: a person's advance is refused naming it.
        let advance = app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({}));
        assert_eq!(advance.status, 422, "{}", advance.body);
        assert!(
            advance.body.contains("prod: outside its change windows"),
            "{}",
            advance.body
        );
        move_clock_past(&app, opening);
        let advance = app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({}));
        assert_eq!(advance.status, 200, "{}", advance.body);
        assert_eq!(effective_tag(&app, "prod-eu-1", "grafana").0, "v1.2.0");
    }
);
