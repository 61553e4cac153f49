//! Promotions on SQLite and PostgreSQL: the set qa runs ready moves to prod as one rollout, with
//! its evidence record; a promotion lacking evidence is refused listing the components.

use serde_json::{json, Value};

use crate::api_events::{at, event, report};
use crate::api_evidence::{app_requiring_evidence, D111};
use crate::both;
use crate::support::app::{Backend, TestApp};
use platform_catalog::service::tokens::Role;

fn ready(app: &TestApp, cluster: &str, second: i64) {
    let revision = format!("v1.1.0-1@{D111}");
    let sent = event(
        "Kustomization",
        "grafana",
        "info",
        "ReconciliationSucceeded",
        Some(&revision),
        &at(second),
    );
    report(app, cluster, &sent);
}

/// Grafana in a cluster's effective config.
fn grafana_on(app: &TestApp, cluster: &str) -> Value {
    let effective = app.get(&format!("/api/v1/clusters/{cluster}/effective")).json();
    let found = effective["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "grafana")
        .cloned();
    found.unwrap_or_else(|| panic!("no grafana on {cluster}: {effective}"))
}

fn grafana_from_qa() -> Value {
    json!({"from": {"tier": "qa"}, "to": {"tier": "prod"}, "components": ["grafana"], "reason": "qa soaked it"})
}

both!(
    a_promotion_from_qa_moves_exactly_its_ready_set_and_keeps_the_evidence,
    |b: Backend| {
        let app = app_requiring_evidence(b);
        let qa = app.put(
            "/api/v1/clusters/qa-eu-1/components/grafana",
            &json!({"oci_tag": "v1.1.0-1"}),
        );
        assert_eq!(qa.status, 200, "{}", qa.body);
        ready(&app, "qa-eu-1", 1);
        let early = app.post("/api/v1/promotions", &grafana_from_qa());
        assert_eq!(early.status, 422, "{}", early.body);
        let message = early.json()["errors"][0]["message"].as_str().unwrap().to_owned();
        assert!(
            message.starts_with(&format!(
                "grafana: qa: 0 of 1 clusters ready at {D111} for 1h; qa-eu-1 ready for"
            )),
            "{message}"
        );
        app.state.clock.advance(chrono::Duration::hours(1));
        let dry = app.post("/api/v1/promotions?dry_run=true", &grafana_from_qa());
        assert_eq!(dry.status, 200, "{}", dry.body);
        let dry = dry.json();
        let stored = (dry.get("id"), &dry["rollout"], &dry["rollout_state"], &dry["dry_run"]);
        assert_eq!(stored, (None, &json!(null), &json!(null), &json!(true)), "{dry}");
        let made = app.post("/api/v1/promotions", &grafana_from_qa());
        assert_eq!(made.status, 201, "{}", made.body);
        let p = made.json();
        let grafana = &p["components"][0];
        assert_eq!(p["components"].as_array().unwrap().len(), 1);
        assert_eq!(
            (&grafana["oci_tag"], &grafana["digest"], &grafana["component_path"]),
            (&json!("v1.1.0-1"), &json!(D111), &json!("observability/grafana/7.3.9"))
        );
        assert_eq!(grafana["sources"][0]["cluster"], "qa-eu-1");
        assert_eq!(grafana["sources"][0]["applied_revision"], format!("v1.1.0-1@{D111}"));
        let targets: Vec<&str> = grafana["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["cluster"].as_str().unwrap())
            .collect();
        assert_eq!(targets, ["prod-eu-1", "prod-us-1"]);
        assert_eq!(grafana["targets"][0]["returns_to"]["oci_tag"], "v1.1.0");
        assert_eq!(p["requested_by"], "test-admin");
        assert_eq!(p["rollout_state"], "planned");
        let rollout = p["rollout"].as_i64().unwrap();
        let r = app.get(&format!("/api/v1/rollouts/{rollout}")).json();
        assert_eq!(r["kind"], "promotion");
        // The steps go through the engine, so each is checked for evidence again as it applies.
        let advance = format!("/api/v1/rollouts/{rollout}/advance");
        for _ in 0..2 {
            let reply = app.post(&advance, &json!({}));
            assert_eq!(reply.status, 200, "{}", reply.body);
        }
        ready(&app, "prod-eu-1", 2);
        ready(&app, "prod-us-1", 3);
        let record = app.get(&format!("/api/v1/promotions/{}", p["id"])).json();
        for t in record["components"][0]["targets"].as_array().unwrap() {
            assert_eq!(
                (&t["state"], &t["applied_digest"]),
                (&json!("ready"), &json!(D111)),
                "{t}"
            );
        }
        let done = app.post(&advance, &json!({}));
        assert_eq!(done.status, 200, "{}", done.body);
        assert_eq!(done.json()["rollout"]["state"], "completed");
        // Prod keeps the promoted build; the catalog default, which dev and qa follow, stays.
        let promoted = json!({"value": "v1.1.0-1", "source": {"kind": "override", "detail": format!("promotion (rollout {rollout})")}});
        assert_eq!(grafana_on(&app, "prod-eu-1")["oci_tag"], promoted);
        assert_eq!(grafana_on(&app, "prod-us-1")["oci_tag"], promoted);
        assert_eq!(grafana_on(&app, "dev-eu-1")["oci_tag"]["value"], "v1.1.0");
        let list = app.get("/api/v1/promotions").json();
        assert_eq!(list["items"][0]["id"], p["id"]);
        assert_eq!(list["items"][0]["rollout_state"], "completed");
    }
);

both!(
    a_promotion_lacking_evidence_is_refused_listing_every_missing_component,
    |b: Backend| {
        let app = app_requiring_evidence(b);
        ready(&app, "qa-eu-1", 1);
        let reply = app.post(
            "/api/v1/promotions",
            &json!({"from": {"cluster": "qa-eu-1"}, "to": {"tier": "prod"}}),
        );
        assert_eq!(reply.status, 422, "{}", reply.body);
        let problem = reply.json();
        let errors: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        assert!(
            errors.contains(&"grafana: qa-eu-1 has not reported v1.1.0-rc1 ready"),
            "{errors:?}"
        );
        assert!(
            errors.contains(&"prometheus: qa-eu-1 has not reported v1.1.0 ready"),
            "{errors:?}"
        );
        assert!(problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("evidence is missing for "));
        assert_eq!(app.get("/api/v1/promotions").json(), json!({"items": []}));
    }
);

both!(
    a_promotion_into_a_tier_asking_for_approval_shows_who_approved_in_its_record,
    |b: Backend| {
        let app = app_requiring_evidence(b);
        let policy = json!({
            "allow_mutable": false, "allow_prerelease": false, "pin_digest": true, "require_known_tag": true,
            "require_verified": [{"tier": "qa", "clusters": 1, "ready_for": "1h"}], "approvals": 1,
        });
        let reply = app.put("/api/v1/tiers/prod", &policy);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let qa = app.put(
            "/api/v1/clusters/qa-eu-1/components/grafana",
            &json!({"oci_tag": "v1.1.0-1"}),
        );
        assert_eq!(qa.status, 200, "{}", qa.body);
        ready(&app, "qa-eu-1", 1);
        app.state.clock.advance(chrono::Duration::hours(1));
        let made = app.post("/api/v1/promotions", &grafana_from_qa());
        assert_eq!(made.status, 201, "{}", made.body);
        let p = made.json();
        assert_eq!(p["rollout_state"], "awaiting_approval");
        assert_eq!(p["approvals"], json!([]));

        let bob = app.issue("bob", Role::Operator, None);
        let path = format!("/api/v1/rollouts/{}/approve", p["rollout"]);
        let approved = app.request_as(Some(&bob), "POST", &path, Some("{}"));
        assert_eq!(approved.status, 200, "{}", approved.body);
        let record = app.get(&format!("/api/v1/promotions/{}", p["id"])).json();
        let approvals = record["approvals"].as_array().unwrap();
        assert_eq!(approvals.len(), 1, "{record}");
        assert_eq!((&approvals[0]["wave"], &approvals[0]["by"]), (&json!(0), &json!("bob")));
        assert!(
            approvals[0]["at"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{record}"
        );
        assert_eq!(record["rollout_state"], "planned");
    }
);

/// The audit entries of action `break_glass`, newest first.
fn break_glass_entries(app: &TestApp) -> Vec<Value> {
    let audit = app.get("/api/v1/audit?limit=500").json();
    let items = audit["items"].as_array().unwrap();
    items.iter().filter(|e| e["action"] == "break_glass").cloned().collect()
}

both!(
    a_break_glass_promotion_applies_its_prod_steps_without_evidence_each_audited,
    |b: Backend| {
        let app = app_requiring_evidence(b);
        let qa = app.put(
            "/api/v1/clusters/qa-eu-1/components/grafana",
            &json!({"oci_tag": "v1.1.0-1"}),
        );
        assert_eq!(qa.status, 200, "{}", qa.body);
        ready(&app, "qa-eu-1", 1);
        let mut body = grafana_from_qa();
        body["break_glass"] = json!({"reason": "prod is down, the fix cannot wait"});
        let made = app.post("/api/v1/promotions", &body);
        assert_eq!(made.status, 201, "{}", made.body);
        let p = made.json();
        assert_eq!(p["break_glass"], "prod is down, the fix cannot wait");
        let rollout = app.get(&format!("/api/v1/rollouts/{}", p["rollout"])).json();
        assert_eq!(rollout["break_glass"], "prod is down, the fix cannot wait");
        let before = break_glass_entries(&app).len();

        let advance = format!("/api/v1/rollouts/{}/advance", p["rollout"]);
        let step = app.post(&advance, &json!({}));
        assert_eq!(step.status, 200, "{}", step.body);
        let entries = break_glass_entries(&app);
        assert_eq!(entries.len(), before + 1, "{entries:?}");
        assert!(
            entries[0].to_string().contains("prod is down, the fix cannot wait"),
            "{entries:?}"
        );
        for _ in 0..2 {
            let reply = app.post(&advance, &json!({}));
            assert_eq!(reply.status, 200, "{}", reply.body);
        }
        assert_eq!(break_glass_entries(&app).len(), before + 3);
        assert_eq!(grafana_on(&app, "prod-eu-1")["oci_tag"]["value"], "v1.1.0-1");
        assert_eq!(grafana_on(&app, "prod-us-1")["oci_tag"]["value"], "v1.1.0-1");
    }
);

both!(
    a_promotion_naming_a_malformed_source_or_component_is_refused_at_that_field,
    |b: Backend| {
        let app = app_requiring_evidence(b);
        let cases = [
            (
                json!({"from": {"cluster": "QA_EU_1"}, "to": {"tier": "prod"}}),
                "$.from.cluster",
            ),
            (json!({"from": {"tier": "qa"}, "to": {"tier": "Prod!"}}), "$.to.tier"),
            (
                json!({"from": {"tier": "qa"}, "to": {"tier": "prod"}, "components": ["grafana", "No Such"]}),
                "$.components[1]",
            ),
        ];
        for (body, path) in cases {
            let reply = app.post("/api/v1/promotions", &body);
            assert_eq!(reply.status, 422, "{body}: {}", reply.body);
            let problem = reply.json();
            let paths: Vec<&str> = problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["path"].as_str().unwrap())
                .collect();
            assert_eq!(paths, [path], "{problem}");
        }
        let listed = app.get("/api/v1/promotions").json();
        assert_eq!(listed["items"], json!([]), "nothing was stored");
    }
);
