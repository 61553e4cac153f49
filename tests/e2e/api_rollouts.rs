//! Rollouts over HTTP, on SQLite and PostgreSQL: planning, stepping, pause, abort, completion.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::api_catalog::{effective_tag, register_v120, revisions, CLUSTERS};
use crate::both;
use crate::support::app::{Backend, TestApp};

/// Each wave's name and its steps' clusters.
fn shape(rollout: &Value) -> Vec<(String, Vec<Vec<String>>)> {
    rollout["waves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let steps = w["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    s["clusters"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c["cluster"].as_str().unwrap().to_owned())
                        .collect()
                })
                .collect();
            (w["name"].as_str().unwrap().to_owned(), steps)
        })
        .collect()
}

fn grafana_rollout(app: &TestApp) -> Value {
    let reply = app.post(
        "/api/v1/rollouts",
        &json!({"component": "grafana", "oci_tag": "v1.2.0"}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()
}

fn act(app: &TestApp, id: &Value, action: &str) -> Value {
    let reply = app.post(&format!("/api/v1/rollouts/{id}/{action}"), &json!({}));
    assert_eq!(reply.status, 200, "{action}: {}", reply.body);
    reply.json()
}

/// Every cluster's render without the revision annotation, which every new revision changes.
fn renders(app: &TestApp) -> BTreeMap<String, String> {
    CLUSTERS
        .iter()
        .map(|c| {
            let reply = app.get(&format!("/api/v1/clusters/{c}/render"));
            assert_eq!(reply.status, 200, "{}", reply.body);
            let body: Vec<&str> = reply
                .body
                .lines()
                .filter(|l| !l.contains("platform-catalog.io/revision:"))
                .collect();
            (c.to_string(), body.join("\n"))
        })
        .collect()
}

both!(
    default_waves_are_a_canary_then_each_tier_with_prod_in_batches,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let before = revisions(&app);
        let dry = app.post(
            "/api/v1/rollouts?dry_run=true",
            &json!({"component": "grafana", "oci_tag": "v1.2.0"}),
        );
        assert_eq!(dry.status, 200, "{}", dry.body);
        let r = grafana_rollout(&app);
        let expected = vec![
            ("canary".to_owned(), vec![vec!["dev-eu-1".to_owned()]]),
            ("qa".to_owned(), vec![vec!["qa-eu-1".to_owned()]]),
            (
                "prod".to_owned(),
                vec![vec!["prod-eu-1".to_owned()], vec!["prod-us-1".to_owned()]],
            ),
        ];
        assert_eq!(shape(&r), expected);
        assert_eq!(shape(&dry.json()), expected, "a dry run plans the same");
        let dry = dry.json();
        assert_eq!(
            (&dry["dry_run"], &dry["id"], &dry["state"]),
            (&json!(true), &Value::Null, &Value::Null),
            "a dry run shows no stored id or state"
        );
        assert_eq!((&r["dry_run"], r["id"].is_i64()), (&json!(false), true));
        assert_eq!(
            (r["state"].as_str(), r["steps_total"].as_u64()),
            (Some("planned"), Some(4))
        );
        assert_eq!(r["kind"], "component");
        assert_eq!(r["component_paths"], json!({"grafana": null}));
        let qa = &r["waves"][1]["steps"][0]["clusters"][0]["components"][0];
        assert_eq!(qa["component"], "grafana");
        assert_eq!(qa["from"]["oci_tag"], "v1.1.0-rc1");
        assert_eq!(qa["to"]["oci_tag"], "v1.2.0");
        assert_eq!(qa["to"]["component_path"], "observability/grafana/7.3.9");
        // Planning changes no cluster.
        assert_eq!(revisions(&app), before);
        let list = app.get("/api/v1/rollouts").json()["items"].clone();
        assert_eq!(list.as_array().unwrap().len(), 1, "the dry run stored nothing: {list}");
        let one = app.get(&format!("/api/v1/rollouts/{}", r["id"]));
        assert_eq!((one.status, one.json()), (200, r.clone()));
        assert_eq!(app.get("/api/v1/rollouts/999").status, 404);
        assert_eq!(app.get("/api/v1/rollouts/abc").status, 404);
        let audit = app.get(&format!("/api/v1/audit?target=rollout/{}", r["id"])).json();
        assert_eq!(audit["items"][0]["action"], "rollout.create", "{audit}");
    }
);

both!(
    advancing_steps_moves_only_the_stepped_clusters_then_completion_moves_the_default,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let r = grafana_rollout(&app);
        let id = &r["id"];
        let steps = [vec!["dev-eu-1"], vec!["qa-eu-1"], vec!["prod-eu-1"], vec!["prod-us-1"]];
        let mut stepped: Vec<&str> = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let before = revisions(&app);
            let out = act(&app, id, "advance");
            stepped.extend(step);
            assert_eq!(out["rollout"]["state"], "running");
            assert_eq!(out["rollout"]["steps_applied"], i as u64 + 1);
            let changed: Vec<&str> = out["changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["cluster"].as_str().unwrap())
                .collect();
            assert_eq!(changed, *step, "step {i} changes exactly its clusters");
            let after = revisions(&app);
            for c in CLUSTERS {
                let (tag, kind) = effective_tag(&app, c, "grafana");
                if stepped.contains(&c) {
                    assert_eq!(
                        (tag.as_str(), kind.as_str()),
                        ("v1.2.0", "rollout"),
                        "{c} after step {i}"
                    );
                } else {
                    assert_ne!(kind, "rollout", "{c} is not stepped yet after step {i}");
                    assert_eq!(after[c], before[c], "{c} has no new revision");
                }
            }
            let effective = app.get("/api/v1/clusters/dev-eu-1/effective").json();
            let g = effective["components"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == "grafana")
                .unwrap()
                .clone();
            assert_eq!(g["oci_tag"]["source"]["detail"], id.to_string());
        }
        let shown = app.get(&format!("/api/v1/rollouts/{id}")).json();
        assert!(shown["waves"][2]["steps"][1]["applied_at"].is_string(), "{shown}");
        // Every step applied: the next advance completes.
        let done = act(&app, id, "advance");
        assert_eq!(done["rollout"]["state"], "completed");
        assert_eq!(app.get("/api/v1/components/grafana").json()["oci_tag"], "v1.2.0");
        for c in CLUSTERS {
            let (tag, kind) = effective_tag(&app, c, "grafana");
            assert_eq!((tag.as_str(), kind.as_str()), ("v1.2.0", "component_default"), "{c}");
        }
        // The canary override on qa (v1.1.0-rc1) was made stale and collapsed.
        assert_eq!(app.get("/api/v1/overrides/stale").json(), json!({"items": []}));
        let mut conn = app.state.conn().unwrap();
        let pins = platform_catalog::store::rollouts::all_pins(&mut conn).unwrap();
        assert!(pins.is_empty(), "{pins:?}");
        let refused = app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({}));
        assert_eq!(refused.status, 409, "{}", refused.body);
    }
);

both!(a_paused_rollout_refuses_to_advance_until_resumed, |b: Backend| {
    let app = TestApp::with_fleet(b);
    register_v120(&app);
    let r = grafana_rollout(&app);
    let id = &r["id"];
    let viewer = app.issue("viewer", platform_catalog::service::tokens::Role::Viewer, None);
    let shown = app.request_as(Some(&viewer), "GET", &format!("/api/v1/rollouts/{id}"), None);
    assert_eq!(shown.status, 200, "{}", shown.body);
    let denied = app.request_as(
        Some(&viewer),
        "POST",
        &format!("/api/v1/rollouts/{id}/advance"),
        Some("{}"),
    );
    assert_eq!(
        denied.status, 403,
        "viewers read rollouts but do not move them: {}",
        denied.body
    );
    let early = app.post(&format!("/api/v1/rollouts/{id}/pause"), &json!({}));
    assert_eq!(early.status, 409, "a planned rollout is not running: {}", early.body);
    act(&app, id, "advance");
    assert_eq!(act(&app, id, "pause")["rollout"]["state"], "paused");
    let refused = app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({}));
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.json()["detail"].as_str().unwrap().contains("paused"),
        "{}",
        refused.body
    );
    assert_eq!(effective_tag(&app, "qa-eu-1", "grafana").1, "override");
    // A catalog change re-resolves every cluster at once; the applied step's pin stays on top.
    let patched = app.patch("/api/v1/components/prometheus", &json!({"interval": "15m"}));
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(
        effective_tag(&app, "dev-eu-1", "grafana"),
        ("v1.2.0".into(), "rollout".into())
    );
    assert_eq!(act(&app, id, "resume")["rollout"]["state"], "running");
    let out = act(&app, id, "advance");
    assert_eq!(out["rollout"]["steps_applied"], 2);
    assert_eq!(effective_tag(&app, "qa-eu-1", "grafana").1, "rollout");
    let again = app.post(&format!("/api/v1/rollouts/{id}/resume"), &json!({}));
    assert_eq!(again.status, 409, "{}", again.body);
});

both!(
    abort_restores_byte_equal_renders_and_dry_runs_store_nothing,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let before = renders(&app);
        let r = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.2.0",
                "component_paths": {"grafana": "observability/grafana/7.4.0"}}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let id = &r.json()["id"];
        let revs = revisions(&app);
        let dry = act(&app, id, "advance?dry_run=true");
        assert_eq!(dry["dry_run"], true);
        assert_eq!(dry["changes"][0]["cluster"], "dev-eu-1");
        assert_eq!(
            dry["changes"][0]["components"][0]["to"]["component_path"],
            "observability/grafana/7.4.0"
        );
        assert_eq!(revisions(&app), revs, "the dry run wrote no revision");
        assert_eq!(app.get(&format!("/api/v1/rollouts/{id}")).json()["state"], "planned");
        for _ in 0..3 {
            act(&app, id, "advance");
        }
        assert_ne!(renders(&app), before);
        let dry_abort = act(&app, id, "abort?dry_run=true");
        assert_eq!(dry_abort["changes"].as_array().unwrap().len(), 3);
        assert_eq!(app.get(&format!("/api/v1/rollouts/{id}")).json()["state"], "running");
        let aborted = act(&app, id, "abort");
        assert_eq!(aborted["rollout"]["state"], "aborted");
        assert_eq!(aborted["changes"].as_array().unwrap().len(), 3);
        assert_eq!(renders(&app), before, "every cluster runs exactly what it ran before");
        for c in CLUSTERS {
            assert_ne!(effective_tag(&app, c, "grafana").1, "rollout");
        }
        let refused = app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({}));
        assert_eq!(refused.status, 409, "{}", refused.body);
        let audit = app.get(&format!("/api/v1/audit?target=rollout/{id}")).json();
        let actions: Vec<&str> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "rollout.abort",
                "rollout.advance",
                "rollout.advance",
                "rollout.advance",
                "rollout.create"
            ]
        );
    }
);

both!(a_second_rollout_of_the_same_component_is_409_naming_it, |b: Backend| {
    let app = TestApp::with_fleet(b);
    register_v120(&app);
    let first = grafana_rollout(&app);
    let again = app.post(
        "/api/v1/rollouts",
        &json!({"component": "grafana", "oci_tag": "v1.2.0"}),
    );
    assert_eq!(again.status, 409, "{}", again.body);
    let detail = again.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains(&format!("rollout {}", first["id"]))
            && detail.contains("grafana")
            && detail.contains("cluster dev-eu-1"),
        "{detail}"
    );
    let release = app.post("/api/v1/rollouts", &json!({"release": "platform", "oci_tag": "v1.2.0"}));
    assert_eq!(release.status, 409, "a release moves grafana too: {}", release.body);
    // Another component is free to roll out.
    let other = app.post(
        "/api/v1/rollouts",
        &json!({"component": "prometheus", "oci_tag": "v1.2.0"}),
    );
    assert_eq!(other.status, 201, "{}", other.body);
    act(&app, &first["id"], "abort");
    let after = app.post(
        "/api/v1/rollouts",
        &json!({"component": "grafana", "oci_tag": "v1.2.0"}),
    );
    assert_eq!(after.status, 201, "{}", after.body);
    let list = app.get("/api/v1/rollouts").json()["items"].clone();
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    let created = [&after.json()["id"], &other.json()["id"], &first["id"]].map(|v| v.as_i64().unwrap());
    assert_eq!(ids, created, "newest first");
});

both!(
    a_tag_a_target_tier_refuses_is_422_and_bad_input_names_the_field,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let rc = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.1.0-rc1"}),
        );
        assert_eq!(rc.status, 422, "{}", rc.body);
        assert_eq!(rc.json()["type"], "urn:platform-catalog:problem:tag-policy");
        assert!(
            rc.json()["detail"]
                .as_str()
                .unwrap()
                .starts_with("tier prod refuses tag \"v1.1.0-rc1\""),
            "{}",
            rc.body
        );
        let unknown = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v9.9.9"}),
        );
        assert_eq!(unknown.status, 422, "{}", unknown.body);
        let cases = [
            (json!({"component": "nope", "oci_tag": "v1.2.0"}), "$.component"),
            (json!({"release": "nope", "oci_tag": "v1.2.0"}), "$.release"),
            (
                json!({"component": "grafana", "release": "platform", "oci_tag": "v1.2.0"}),
                "$",
            ),
            (json!({"component": "grafana", "oci_tag": "v1.2.0+x"}), "$.oci_tag"),
            (
                json!({"component": "grafana", "oci_tag": "v1.2.0", "component_paths": {"grafana": "../x"}}),
                "$.component_paths.grafana",
            ),
            (
                json!({"component": "grafana", "oci_tag": "v1.2.0", "component_paths": {"loki": "a/b"}}),
                "$.component_paths.loki",
            ),
            (
                json!({"component": "grafana", "oci_tag": "v1.2.0", "waves": [{"tiers": ["dev", "qa"]}]}),
                "$.waves",
            ),
            (
                json!({"component": "grafana", "oci_tag": "v1.2.0", "waves": [{"tiers": ["nope"]}]}),
                "$.waves[0].tiers[0]",
            ),
            (
                json!({"component": "grafana", "oci_tag": "v1.2.0", "waves": [{"approval": "later"}]}),
                "$.waves[0].approval",
            ),
            (
                json!({"component": "grafana", "oci_tag": "v1.2.0", "waves": [{"batch_size": 0}]}),
                "$.waves[0].batch_size",
            ),
        ];
        for (body, path) in cases {
            let reply = app.post("/api/v1/rollouts", &body);
            assert_eq!(reply.status, 422, "{body}: {}", reply.body);
            assert_eq!(reply.json()["errors"][0]["path"], path, "{body}: {}", reply.body);
        }
        assert_eq!(app.get("/api/v1/rollouts").json(), json!({"items": []}));
    }
);

both!(
    a_release_rollout_moves_the_default_and_collapses_stale_overrides,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let r = app.post(
        "/api/v1/rollouts",
        &json!({"release": "platform", "oci_tag": "v1.2.0", "reason": "quarterly",
                "waves": [{"name": "early", "tiers": ["dev", "qa"]}, {"tiers": ["prod"], "batch_size": 2, "soak": "2s"}]}),
    );
        assert_eq!(r.status, 201, "{}", r.body);
        let r = r.json();
        assert_eq!(r["kind"], "release");
        assert_eq!(
            shape(&r),
            vec![
                (
                    "early".to_owned(),
                    vec![vec!["dev-eu-1".to_owned(), "qa-eu-1".to_owned()]]
                ),
                (
                    "wave-2".to_owned(),
                    vec![vec!["prod-eu-1".to_owned(), "prod-us-1".to_owned()]]
                ),
            ]
        );
        // cert-manager has its own tag and does not follow the release.
        assert!(r["component_paths"].get("cert-manager").is_none(), "{r}");
        let id = &r["id"];
        act(&app, id, "advance");
        assert_eq!(
            effective_tag(&app, "qa-eu-1", "prometheus"),
            ("v1.2.0".into(), "rollout".into())
        );
        assert_eq!(effective_tag(&app, "qa-eu-1", "cert-manager").1, "component_default");
        assert_eq!(effective_tag(&app, "prod-eu-1", "prometheus").1, "artifact_default");
        act(&app, id, "advance");
        // The last wave soaks two seconds after its step before completion may apply.
        let soaking = app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({}));
        assert_eq!(soaking.status, 409, "{}", soaking.body);
        assert!(soaking.body.contains("soaks until"), "{}", soaking.body);
        std::thread::sleep(std::time::Duration::from_millis(2100));
        act(&app, id, "advance");
        assert_eq!(app.get(&format!("/api/v1/rollouts/{id}")).json()["state"], "completed");
        assert_eq!(app.get("/api/v1/artifacts/platform").json()["oci_tag"], "v1.2.0");
        for c in CLUSTERS {
            assert_eq!(
                effective_tag(&app, c, "prometheus"),
                ("v1.2.0".into(), "artifact_default".into()),
                "{c}"
            );
        }
        assert_eq!(
            effective_tag(&app, "qa-eu-1", "grafana"),
            ("v1.2.0".into(), "artifact_default".into())
        );
        assert_eq!(effective_tag(&app, "prod-eu-1", "cert-manager").0, "v1.1.0-1");
        let mut conn = app.state.conn().unwrap();
        assert!(platform_catalog::store::rollouts::all_pins(&mut conn)
            .unwrap()
            .is_empty());
    }
);

both!(
    a_step_over_many_clusters_changes_each_exactly_once_and_abort_restores_them,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        // More clusters than re-resolution handles one by one, so the whole-table path runs.
        let names: Vec<String> = (0..40).map(|i| format!("dev-bulk-{i:02}")).collect();
        for name in &names {
            let reply = app.post("/api/v1/clusters", &json!({"name": name, "tier": "dev"}));
            assert_eq!(reply.status, 201, "{}", reply.body);
        }
        let before: BTreeMap<&String, String> = names
            .iter()
            .map(|n| (n, app.get(&format!("/api/v1/clusters/{n}/render")).body))
            .collect();
        let reply = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.1.0-1",
                "waves": [{"name": "dev", "tiers": ["dev"]}, {"name": "rest", "tiers": ["qa", "prod"]}]}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        let rollout = reply.json();
        act(&app, &rollout["id"], "advance");
        for name in &names {
            let effective = app.get(&format!("/api/v1/clusters/{name}/effective")).json();
            assert_eq!(effective["revision"], 2, "{name}: exactly one new revision");
            let grafana = effective["components"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == "grafana")
                .unwrap()
                .clone();
            assert_eq!(grafana["oci_tag"]["value"], "v1.1.0-1", "{name}");
            assert_eq!(grafana["oci_tag"]["source"]["kind"], "rollout", "{name}");
        }
        act(&app, &rollout["id"], "abort");
        for name in &names {
            let after = app.get(&format!("/api/v1/clusters/{name}/render")).body;
            let strip = |s: &str| {
                s.lines()
                    .filter(|l| !l.contains("platform-catalog.io/revision:"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(strip(&after), strip(&before[name]), "{name}");
        }
    }
);

both!(
    a_release_or_default_change_of_what_a_rollout_moves_is_409_until_it_ends,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let rollout = grafana_rollout(&app);
        let id = rollout["id"].clone();
        let release = json!({"artifact": "platform", "oci_tag": "v1.2.0"});
        let refused = app.post("/api/v1/releases", &release);
        assert_eq!(refused.status, 409, "{}", refused.body);
        let detail = refused.json()["detail"].as_str().unwrap().to_owned();
        assert_eq!(
            detail,
            format!("rollout {id} (planned) is moving grafana to v1.2.0: complete or abort it before a release")
        );
        let patched = app.patch("/api/v1/components/grafana", &json!({"oci_tag": "v1.2.0"}));
        assert_eq!(patched.status, 409, "{}", patched.body);
        let harmless = app.patch("/api/v1/components/grafana", &json!({"interval": "5m"}));
        assert_eq!(harmless.status, 200, "{}", harmless.body);

        act(&app, &id, "abort");
        let released = app.post("/api/v1/releases", &release);
        assert_eq!(released.status, 200, "{}", released.body);
    }
);
