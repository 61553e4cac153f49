//! Holds over HTTP: rollouts and releases leave held clusters and components alone until the
//! hold ends; planning also skips clusters a pin or a newer override decides.

use serde_json::{json, Value};

use crate::api_catalog::{effective_tag, register_v120};
use crate::both;
use crate::support::app::{Backend, TestApp};

fn hold(app: &TestApp, body: Value) -> Value {
    let reply = app.post("/api/v1/holds", &body);
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()
}

fn step_clusters(r: &Value) -> Vec<String> {
    r["waves"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["steps"].as_array().unwrap().iter())
        .flat_map(|s| s["clusters"].as_array().unwrap().iter())
        .map(|c| c["cluster"].as_str().unwrap().to_owned())
        .collect()
}

both!(
    a_held_cluster_is_skipped_by_a_rollout_and_kept_by_a_release,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let h = hold(&app, json!({"cluster": "prod-eu-1", "reason": "customer freeze"}));
        assert_eq!(
            (h["active"].as_bool(), h["created_by"].as_str()),
            (Some(true), Some("test-admin"))
        );
        let r = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.2.0"}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let r = r.json();
        assert_eq!(step_clusters(&r), ["dev-eu-1", "qa-eu-1", "prod-us-1"]);
        let detail = format!("hold {}: customer freeze", h["id"]);
        assert_eq!(
            r["skipped"],
            json!([{"cluster": "prod-eu-1", "component": "grafana", "reason": "held", "detail": detail}])
        );
        let abort = app.post(&format!("/api/v1/rollouts/{}/abort", r["id"]), &json!({}));
        assert_eq!(abort.status, 200, "{}", abort.body);

        let release = app.post(
            "/api/v1/releases",
            &json!({"artifact": "platform", "oci_tag": "v1.2.0"}),
        );
        assert_eq!(release.status, 200, "{}", release.body);
        let held: Vec<(String, String, String)> = release.json()["held"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                assert_eq!(k["hold"], h["id"]);
                (
                    k["cluster"].as_str().unwrap().to_owned(),
                    k["component"].as_str().unwrap().to_owned(),
                    k["oci_tag"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let kept = |c: &str| ("prod-eu-1".to_owned(), c.to_owned(), "v1.1.0".to_owned());
        assert_eq!(
            held,
            [
                kept("external-dns"),
                kept("grafana"),
                kept("ingress-nginx"),
                kept("prometheus")
            ]
        );
        assert_eq!(
            effective_tag(&app, "prod-eu-1", "grafana"),
            ("v1.1.0".into(), "override".into())
        );
        assert_eq!(
            effective_tag(&app, "prod-us-1", "grafana"),
            ("v1.2.0".into(), "artifact_default".into())
        );
        let audit = app.get("/api/v1/audit?target=hold/1").json();
        assert_eq!(audit["items"][0]["action"], "hold.create", "{audit}");
    }
);

both!(a_hold_placed_after_planning_is_skipped_by_its_step, |b: Backend| {
    let app = TestApp::with_fleet(b);
    register_v120(&app);
    let r = app.post(
        "/api/v1/rollouts",
        &json!({"component": "grafana", "oci_tag": "v1.2.0"}),
    );
    let id = r.json()["id"].clone();
    hold(
        &app,
        json!({"cluster": "qa-eu-1", "component": "grafana", "reason": "debugging"}),
    );
    for _ in 0..5 {
        let step = app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({}));
        assert_eq!(step.status, 200, "{}", step.body);
    }
    let r = app.get(&format!("/api/v1/rollouts/{id}")).json();
    assert_eq!(r["state"], "completed");
    let qa = &r["waves"][1]["steps"][0];
    assert_eq!(qa["skipped"][0]["cluster"], "qa-eu-1", "{qa}");
    assert_eq!(qa["skipped"][0]["reason"], "held");
    assert_eq!(qa["clusters"][0]["state"], "skipped");
    assert_eq!(r["waves"][0]["steps"][0]["clusters"][0]["state"], "applied");
    assert!(qa["applied_at"].is_string());
    // Its canary override (older than the new default) is held too, so it does not collapse.
    assert_eq!(
        effective_tag(&app, "qa-eu-1", "grafana"),
        ("v1.1.0-rc1".into(), "override".into())
    );
    assert_eq!(
        effective_tag(&app, "dev-eu-1", "grafana"),
        ("v1.2.0".into(), "component_default".into())
    );
});

both!(an_ended_hold_no_longer_holds, |b: Backend| {
    let app = TestApp::with_fleet(b);
    register_v120(&app);
    // An expiry must lie ahead when the hold is made: this one ends a moment later.
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(600)).to_rfc3339();
    let past = hold(
        &app,
        json!({"cluster": "prod-eu-1", "reason": "over", "expires_at": soon}),
    );
    assert_eq!(past["active"], true);
    std::thread::sleep(std::time::Duration::from_millis(700));
    let past = app.get(&format!("/api/v1/holds/{}", past["id"])).json();
    assert_eq!(past["active"], false);
    let deleted = hold(&app, json!({"component": "grafana", "reason": "until deleted"}));
    let gone = app.delete(&format!("/api/v1/holds/{}", deleted["id"]));
    assert_eq!(gone.status, 204, "{}", gone.body);
    assert_eq!(app.get(&format!("/api/v1/holds/{}", deleted["id"])).status, 404);
    let list = app.get("/api/v1/holds").json()["items"].clone();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(app.get(&format!("/api/v1/holds/{}", past["id"])).json(), past);
    let r = app.post(
        "/api/v1/rollouts",
        &json!({"component": "grafana", "oci_tag": "v1.2.0"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["skipped"], json!([]));
    let audit = app.get(&format!("/api/v1/audit?target=hold/{}", deleted["id"])).json();
    assert_eq!(audit["items"][0]["action"], "hold.delete", "{audit}");
});

both!(holds_are_refused_without_what_or_why, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let cases = [
        (json!({"reason": "x"}), "$"),
        (json!({"cluster": "prod-eu-1", "reason": " "}), "$.reason"),
        (json!({"cluster": "nope", "reason": "x"}), "$.cluster"),
        (json!({"component": "nope", "reason": "x"}), "$.component"),
        (
            json!({"cluster": "prod-eu-1", "reason": "x", "expires_at": "tomorrow"}),
            "$.expires_at",
        ),
    ];
    for (body, path) in cases {
        let reply = app.post("/api/v1/holds", &body);
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert_eq!(reply.json()["errors"][0]["path"], path, "{body}: {}", reply.body);
    }
    let no_reason = app.post("/api/v1/holds", &json!({"cluster": "prod-eu-1"}));
    assert_eq!(no_reason.status, 422, "{}", no_reason.body);
    assert!(no_reason.body.contains("reason"), "{}", no_reason.body);
    assert_eq!(app.get("/api/v1/holds").json(), json!({"items": []}));
    assert_eq!(app.delete("/api/v1/holds/7").status, 404);
});

both!(
    clusters_a_pin_or_a_newer_override_decides_are_skipped_at_planning,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let pin = app.patch("/api/v1/clusters/prod-us-1", &json!({"oci_tag": "v1.1.0"}));
        assert_eq!(pin.status, 200, "{}", pin.body);
        let newer = app.put(
            "/api/v1/clusters/dev-eu-1/components/grafana",
            &json!({"oci_tag": "v1.2.0", "reason": "trying"}),
        );
        assert_eq!(newer.status, 200, "{}", newer.body);
        let r = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.1.0-1"}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let r = r.json();
        assert_eq!(step_clusters(&r), ["qa-eu-1", "prod-eu-1"]);
        let skipped: Vec<(&str, &str)> = r["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["cluster"].as_str().unwrap(), s["reason"].as_str().unwrap()))
            .collect();
        assert_eq!(skipped, [("dev-eu-1", "override"), ("prod-us-1", "pinned")]);
    }
);

/// A grafana rollout to v1.2.0 with its canary (dev-eu-1) and qa (qa-eu-1) steps applied, and
/// a hold on qa-eu-1 placed after its step; returns the rollout id and the hold id.
fn held_after_its_step(app: &TestApp) -> (Value, Value) {
    register_v120(app);
    let r = app.post(
        "/api/v1/rollouts",
        &json!({"component": "grafana", "oci_tag": "v1.2.0"}),
    );
    let id = r.json()["id"].clone();
    for _ in 0..2 {
        let step = app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({}));
        assert_eq!(step.status, 200, "{}", step.body);
    }
    let h = hold(app, json!({"cluster": "qa-eu-1", "reason": "investigating"}));
    (id, h["id"].clone())
}

both!(
    aborting_a_rollout_leaves_a_cluster_held_since_its_step_where_it_is,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let (id, _) = held_after_its_step(&app);
        let abort = app.post(&format!("/api/v1/rollouts/{id}/abort"), &json!({}));
        assert_eq!(abort.status, 200, "{}", abort.body);
        assert_eq!(
            effective_tag(&app, "dev-eu-1", "grafana"),
            ("v1.1.0".into(), "artifact_default".into())
        );
        assert_eq!(
            effective_tag(&app, "qa-eu-1", "grafana"),
            ("v1.2.0".into(), "override".into())
        );
    }
);

both!(
    completing_a_rollout_does_not_bring_back_an_older_override_on_a_held_cluster,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let (id, hold_id) = held_after_its_step(&app);
        for _ in 0..3 {
            let step = app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({}));
            assert_eq!(step.status, 200, "{}", step.body);
        }
        assert_eq!(app.get(&format!("/api/v1/rollouts/{id}")).json()["state"], "completed");
        // Without the hold its v1.1.0-rc1 canary override would collapse; held, it must not
        // take over again either: the cluster stays on what it ran.
        assert_eq!(
            effective_tag(&app, "qa-eu-1", "grafana"),
            ("v1.2.0".into(), "override".into())
        );
        let a = app.get("/api/v1/clusters/qa-eu-1/components").json();
        let grafana = a
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["component"] == "grafana")
            .unwrap()
            .clone();
        assert_eq!(grafana["reason"], format!("hold {hold_id}"), "{grafana}");
    }
);
