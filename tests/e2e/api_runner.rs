//! The rollout runner in the service: `auto` waves move by themselves after their soak, a
//! pause stops them, and a step gate's failures over a wave's budget halt the rollout.

use std::time::{Duration, Instant};

use platform_catalog::db::DbConnection;
use platform_catalog::error::Error;
use platform_catalog::service::rollouts::gate::{GateInput, StepGate, Verdict};
use platform_catalog::service::rollouts::runner::{self, Action};
use serde_json::{json, Value};

use crate::api_catalog::{effective_tag, register_v120, CLUSTERS};
use crate::both;
use crate::support::app::{Backend, TestApp};

/// Polls the rollout until `done` says so, for at most `limit`.
pub(crate) fn wait_for(app: &TestApp, id: &Value, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let r = app.get(&format!("/api/v1/rollouts/{id}")).json();
        if done(&r) {
            return r;
        }
        assert!(started.elapsed() < limit, "gave up waiting: {r}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Each step's `applied_at`, in order.
pub(crate) fn applied(r: &Value) -> Vec<Option<String>> {
    r["waves"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["steps"].as_array().unwrap().iter())
        .map(|s| s["applied_at"].as_str().map(str::to_owned))
        .collect()
}

/// The audit entries about a rollout, oldest first, as (actor, action, step).
pub(crate) fn rollout_audit(app: &TestApp, id: &Value) -> Vec<(String, String, Option<i64>)> {
    let audit = app.get(&format!("/api/v1/audit?target=rollout/{id}&limit=100")).json();
    let mut items: Vec<(String, String, Option<i64>)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["after"]["step"].as_i64(),
            )
        })
        .collect();
    items.reverse();
    items
}

fn time(s: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap()
}

both!(
    an_auto_rollout_completes_by_itself_waiting_out_each_soak,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let reply = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.2.0", "waves": [
                {"tiers": ["dev", "qa"], "approval": "auto", "soak": "1s"},
                {"tiers": ["prod"], "batch_size": 1, "approval": "auto"}]}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        let id = reply.json()["id"].clone();
        let r = wait_for(&app, &id, Duration::from_secs(20), |r| r["state"] == "completed");
        let at: Vec<String> = applied(&r)
            .into_iter()
            .map(|a| a.expect("every step applied"))
            .collect();
        assert_eq!(at.len(), 3);
        let soaked = time(&at[1]) - time(&at[0]);
        assert!(
            soaked >= chrono::Duration::seconds(1),
            "the second step waited out the soak: {at:?}"
        );
        let expected = vec![
            ("test-admin".to_owned(), "rollout.create".to_owned(), None),
            ("runner".to_owned(), "rollout.advance".to_owned(), Some(0)),
            ("runner".to_owned(), "rollout.advance".to_owned(), Some(1)),
            ("runner".to_owned(), "rollout.advance".to_owned(), Some(2)),
            ("runner".to_owned(), "rollout.complete".to_owned(), None),
        ];
        assert_eq!(rollout_audit(&app, &id), expected);
        for c in CLUSTERS {
            assert_eq!(
                effective_tag(&app, c, "grafana"),
                ("v1.2.0".into(), "component_default".into()),
                "{c}"
            );
        }
    }
);

both!(a_paused_auto_rollout_stays_put_until_resumed, |b: Backend| {
    let app = TestApp::with_fleet(b);
    register_v120(&app);
    let reply = app.post(
        "/api/v1/rollouts",
        &json!({"component": "grafana", "oci_tag": "v1.2.0", "waves": [
            {"clusters": ["dev-eu-1"], "soak": "2s"},
            {"tiers": ["qa", "prod"], "approval": "auto"}]}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.json()["id"].clone();
    std::thread::sleep(Duration::from_millis(400));
    let untouched = app.get(&format!("/api/v1/rollouts/{id}")).json();
    assert_eq!(untouched["state"], "planned", "a manual first wave waits for a person");
    let advanced = app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({}));
    assert_eq!(advanced.status, 200, "{}", advanced.body);
    let paused = app.post(&format!("/api/v1/rollouts/{id}/pause"), &json!({}));
    assert_eq!(paused.status, 200, "{}", paused.body);
    std::thread::sleep(Duration::from_millis(3000));
    let r = app.get(&format!("/api/v1/rollouts/{id}")).json();
    assert_eq!(
        (r["state"].as_str(), r["steps_applied"].as_i64()),
        (Some("paused"), Some(1))
    );
    let resumed = app.post(&format!("/api/v1/rollouts/{id}/resume"), &json!({}));
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    let r = wait_for(&app, &id, Duration::from_secs(20), |r| r["state"] == "completed");
    assert_eq!(r["steps_applied"], 2);
    assert_eq!(effective_tag(&app, "prod-us-1", "grafana").0, "v1.2.0");
});

/// A gate that reports the given clusters failed, every time.
struct Failing(Vec<&'static str>);

impl StepGate for Failing {
    fn check(&self, _: &mut DbConnection, _: &GateInput<'_>) -> Result<Verdict, Error> {
        Ok(Verdict::Fail {
            clusters: self.0.iter().map(|c| c.to_string()).collect(),
            reason: "unhealthy".into(),
        })
    }
}

both!(
    gate_failures_within_max_failures_proceed_and_past_it_halt_the_rollout,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        // The long soak keeps the service's own runner (soak gate) from moving past step 0, so
        // only the failing gates below decide.
        let reply = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.2.0", "waves": [
                {"tiers": ["dev", "qa", "prod"], "batch_size": 2, "approval": "auto", "soak": "1h", "max_failures": 1}]}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        let id = reply.json()["id"].clone();
        let n = id.as_i64().unwrap();
        wait_for(&app, &id, Duration::from_secs(20), |r| r["steps_applied"] == 1);
        let one = runner::try_move(&app.state, &Failing(vec!["dev-eu-1"]), n, 1).unwrap();
        assert_eq!(one, Some(Action::Applied(1)), "one failure is within the budget");
        // Steps are [dev-eu-1, prod-eu-1] and [prod-us-1, qa-eu-1]: each failure is kept on the
        // step that moved the cluster.
        let two = runner::try_move(&app.state, &Failing(vec!["qa-eu-1"]), n, 2).unwrap();
        assert!(
            matches!(&two, Some(Action::Halted(why)) if why.contains("dev-eu-1, qa-eu-1")),
            "{two:?}"
        );
        let r = app.get(&format!("/api/v1/rollouts/{id}")).json();
        assert_eq!(
            (r["state"].as_str(), r["steps_applied"].as_i64()),
            (Some("halted"), Some(2))
        );
        assert!(
            r["halted_reason"].as_str().unwrap().contains("over its max_failures 1"),
            "{r}"
        );
        assert_eq!(r["waves"][0]["steps"][0]["failed"], json!(["dev-eu-1"]));
        assert_eq!(r["waves"][0]["steps"][1]["failed"], json!(["qa-eu-1"]));
        let states: Vec<&str> = r["waves"][0]["steps"][1]["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["state"].as_str().unwrap())
            .collect();
        assert_eq!(states, ["applied", "failed"], "qa-eu-1 failed, prod-us-1 did not");
        assert_eq!(
            runner::try_move(&app.state, &Failing(vec![]), n, 2).unwrap(),
            None,
            "nothing moves a halted rollout"
        );
        let advance = app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({}));
        assert_eq!(advance.status, 409, "{}", advance.body);
        let abort = app.post(&format!("/api/v1/rollouts/{id}/abort"), &json!({}));
        assert_eq!(abort.status, 200, "{}", abort.body);
        assert_eq!(effective_tag(&app, "dev-eu-1", "grafana").0, "v1.1.0");
    }
);

both!(
    a_step_the_runner_saw_is_not_applied_again_once_someone_else_applied_it,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let reply = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.2.0", "waves": [
                {"tiers": ["dev", "qa", "prod"], "batch_size": 1, "approval": "auto", "soak": "1h"}]}),
        );
        let id = reply.json()["id"].clone();
        let n = id.as_i64().unwrap();
        wait_for(&app, &id, Duration::from_secs(20), |r| r["steps_applied"] == 1);
        // A round that saw no step applied comes late, with a gate that lets anything through:
        // the step it saw is no longer the next one, so it applies nothing.
        let late = runner::try_move(&app.state, &Proceeding, n, 0).unwrap();
        assert_eq!(late, None);
        let on_time = runner::try_move(&app.state, &Proceeding, n, 1).unwrap();
        assert_eq!(on_time, Some(Action::Applied(1)));
        let advances = rollout_audit(&app, &id)
            .into_iter()
            .filter(|e| e.1 == "rollout.advance")
            .count();
        assert_eq!(advances, 2);
    }
);

/// A gate that always lets the step through.
struct Proceeding;

impl StepGate for Proceeding {
    fn check(&self, _: &mut DbConnection, _: &GateInput<'_>) -> Result<Verdict, Error> {
        Ok(Verdict::Proceed)
    }
}

both!(
    a_step_the_rules_now_refuse_halts_the_rollout_instead_of_retrying_forever,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let reply = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.2.0", "waves": [
                {"tiers": ["dev", "qa"], "approval": "auto", "soak": "1h"},
                {"tiers": ["prod"], "approval": "auto"}]}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        let id = reply.json()["id"].clone();
        wait_for(&app, &id, Duration::from_secs(20), |r| r["steps_applied"] == 1);
        // prod now takes v1.1.x builds only: the planned prod step breaks the rule.
        let tier = app.put(
            "/api/v1/tiers/prod",
            &json!({"allow_mutable": false, "allow_prerelease": false,
                "pin_digest": true, "require_known_tag": true, "pattern": "^v1\\.1\\.[0-9]+(-[0-9]+)?$"}),
        );
        assert_eq!(tier.status, 200, "{}", tier.body);
        let done = runner::run_once(&app.state, &Proceeding).unwrap();
        let n = id.as_i64().unwrap();
        assert!(
            matches!(done.as_slice(), [(i, Action::Halted(why))] if *i == n && why.contains("rule pattern")),
            "{done:?}"
        );
        let r = app.get(&format!("/api/v1/rollouts/{id}")).json();
        assert_eq!(r["state"], "halted");
        assert_eq!(r["steps_applied"], 1);
        assert_eq!(effective_tag(&app, "prod-eu-1", "grafana").0, "v1.1.0");
        assert!(
            runner::run_once(&app.state, &Proceeding).unwrap().is_empty(),
            "a halted rollout stays put"
        );
    }
);
