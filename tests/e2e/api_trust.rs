//! Trust: an acknowledged write is committed, a failed one leaves nothing behind and breaks no
//! later write, no accepted write leaves a cluster unservable, and bad input is a 4xx naming
//! the field.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::both;
use crate::support::app::{Backend, TestApp};

/// The labels of a cluster as a fresh connection (not the service's pool) reads them.
fn stored_labels(url: &str, cluster: &str) -> Value {
    use platform_catalog::db::schema::clusters;
    let mut conn = platform_catalog::db::connect(url).expect("a second connection");
    let text: String = clusters::table
        .find(cluster)
        .select(clusters::labels)
        .first(&mut conn)
        .expect("the cluster is stored");
    serde_json::from_str(&text).expect("stored labels are JSON")
}

fn audit_actions(app: &TestApp, target: &str) -> Vec<String> {
    let page = app.get(&format!("/api/v1/audit?target={target}")).json();
    page["items"]
        .as_array()
        .expect("an audit page")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

both!(
    a_panic_inside_a_write_rolls_it_back_and_the_next_write_is_committed,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let armed = Arc::new(AtomicBool::new(true));
        let trigger = armed.clone();
        app.state
            .set_write_fault(Some(Arc::new(move |reason: &str| {
                if reason.starts_with("cluster qa-eu-1") && trigger.swap(false, Ordering::SeqCst) {
                    panic!("injected fault inside a write");
                }
            })))
            .expect("the hook is set");

        let failed = app.patch("/api/v1/clusters/qa-eu-1", &json!({"labels": {"region": "lost"}}));
        assert_eq!(failed.status, 500, "{}", failed.body);
        let problem = failed.json();
        assert_eq!(problem["type"], "urn:platform-catalog:problem:internal");
        let request_id = failed.header("x-request-id").expect("every answer names its request");
        assert_eq!(problem["request_id"], request_id);
        assert_eq!(
            stored_labels(&app.database_url, "qa-eu-1"),
            json!({"region": "eu-west-1"})
        );

        let ok = app.patch("/api/v1/clusters/qa-eu-1", &json!({"labels": {"region": "kept"}}));
        assert_eq!(ok.status, 200, "{}", ok.body);
        // Committed: another connection sees it, and so does a service started afresh on the
        // same database.
        assert_eq!(stored_labels(&app.database_url, "qa-eu-1"), json!({"region": "kept"}));
        let restarted = platform_catalog::server::open(&app.database_url, 2).expect("a restart");
        let cluster = platform_catalog::service::clusters::get(&restarted, "qa-eu-1").expect("the cluster");
        assert_eq!(
            cluster.labels,
            std::collections::BTreeMap::from([("region".to_owned(), "kept".to_owned())])
        );
        assert_eq!(
            audit_actions(&app, "cluster/qa-eu-1"),
            vec!["cluster.update", "cluster.create"],
            "the failed write left no audit entry"
        );
        // Every later write commits too: the writer is not stuck inside the failed one.
        for i in 0..3 {
            let r = app.patch("/api/v1/clusters/dev-eu-1", &json!({"labels": {"n": i.to_string()}}));
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(
                stored_labels(&app.database_url, "dev-eu-1"),
                json!({"n": i.to_string(), "region": "eu-west-1"})
            );
        }
        assert_eq!(app.get("/readyz").status, 200);
    }
);

both!(
    a_soak_past_the_maximum_is_refused_naming_the_wave_and_advancing_never_panics,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let tag = app.post(
            "/api/v1/artifacts/platform/tags",
            &json!({"tag": "v1.2.0", "digest":
            "sha256:1111111111111111111111111111111111111111111111111111111111111111"}),
        );
        assert_eq!(tag.status, 201, "{}", tag.body);
        let refused = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.2.0",
                "waves": [{"tiers": ["dev"], "soak": "999999999d"}, {"tiers": ["qa", "prod"]}]}),
        );
        assert_eq!(refused.status, 422, "{}", refused.body);
        let problem = refused.json();
        assert_eq!(problem["errors"][0]["path"], "$.waves[0].soak");
        assert_eq!(
            problem["errors"][0]["message"],
            "\"999999999d\" is longer than the maximum of 3650d (ten years)"
        );
        let ok = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.2.0",
                "waves": [{"tiers": ["dev"], "soak": "3650d"}, {"tiers": ["qa", "prod"]}]}),
        );
        assert_eq!(ok.status, 201, "{}", ok.body);
        let id = ok.json()["id"].clone();
        assert_eq!(
            app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({})).status,
            200
        );
        let soaking = app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({}));
        assert_eq!(soaking.status, 409, "{}", soaking.body);
        let r = app.patch("/api/v1/clusters/qa-eu-1", &json!({"labels": {"after": "soak"}}));
        assert_eq!(r.status, 200);
        assert_eq!(
            stored_labels(&app.database_url, "qa-eu-1"),
            json!({"after": "soak", "region": "eu-west-1"})
        );
    }
);

both!(
    a_tag_without_a_digest_is_refused_for_a_pinned_tier_on_every_path_and_prod_stays_servable,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let tag = app.post("/api/v1/artifacts/platform/tags", &json!({"tag": "v1.2.0"}));
        assert_eq!(tag.status, 201, "{}", tag.body);
        let writes = [
            (
                "PUT",
                "/api/v1/clusters/prod-eu-1/components/grafana",
                json!({"oci_tag": "v1.2.0"}),
            ),
            ("PATCH", "/api/v1/clusters/prod-eu-1", json!({"oci_tag": "v1.2.0"})),
            ("PATCH", "/api/v1/components/grafana", json!({"oci_tag": "v1.2.0"})),
            (
                "POST",
                "/api/v1/releases",
                json!({"artifact": "platform", "oci_tag": "v1.2.0"}),
            ),
            (
                "POST",
                "/api/v1/hotfixes",
                json!({"component": "grafana", "oci_tag": "v1.2.0",
                "selector": {"tiers": ["prod"]}, "reason": "incident"}),
            ),
            (
                "POST",
                "/api/v1/rollouts",
                json!({"component": "grafana", "oci_tag": "v1.2.0"}),
            ),
        ];
        for (method, path, body) in writes {
            let r = app.request(method, path, Some(&body.to_string()), &[]);
            assert_eq!(r.status, 422, "{method} {path}: {}", r.body);
            let problem = r.json();
            assert_eq!(
                problem["type"], "urn:platform-catalog:problem:tag-policy",
                "{method} {path}"
            );
            let detail = problem["detail"].as_str().unwrap_or_default();
            assert!(
                detail.starts_with("tier prod refuses tag \"v1.2.0\" (rule pin_digest)"),
                "{method} {path}: {detail}"
            );
        }
        for cluster in ["prod-eu-1", "prod-us-1"] {
            let render = app.get(&format!("/api/v1/clusters/{cluster}/render"));
            assert_eq!(render.status, 200, "{cluster}: {}", render.body);
        }
        // The same tag is fine where digests are not pinned.
        let qa = app.put(
            "/api/v1/clusters/qa-eu-1/components/grafana",
            &json!({"oci_tag": "v1.2.0", "reason": "canary"}),
        );
        assert_eq!(qa.status, 200, "{}", qa.body);
    }
);

both!(
    a_rollback_to_a_revision_that_could_not_be_served_is_refused,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        // Revision 2 of qa-eu-1 runs v1.2.0 (no digest; qa does not pin), then qa starts pinning
        // only after the cluster moved on, and a rollback to revision 2 would be unservable.
        assert_eq!(
            app.post("/api/v1/artifacts/platform/tags", &json!({"tag": "v1.2.0"}))
                .status,
            201
        );
        let pinned = app.put(
            "/api/v1/clusters/qa-eu-1/components/grafana",
            &json!({"oci_tag": "v1.2.0", "reason": "canary"}),
        );
        assert_eq!(pinned.status, 200, "{}", pinned.body);
        let at_v120 = app.get("/api/v1/clusters/qa-eu-1").json()["revision"].clone();
        let back = app.put(
            "/api/v1/clusters/qa-eu-1/components/grafana",
            &json!({"oci_tag": "v1.1.0", "reason": "canary"}),
        );
        assert_eq!(back.status, 200, "{}", back.body);
        let policy = json!({"allow_mutable": false, "allow_prerelease": true, "pin_digest": true,
            "require_known_tag": true});
        let tier = app.put("/api/v1/tiers/qa", &policy);
        assert_eq!(tier.status, 200, "{}", tier.body);
        let before = app.get("/api/v1/clusters/qa-eu-1").json()["revision"].clone();
        let rollback = app.post("/api/v1/clusters/qa-eu-1/rollback", &json!({"revision": at_v120}));
        assert_eq!(rollback.status, 422, "{}", rollback.body);
        let detail = rollback.json()["detail"].as_str().unwrap_or_default().to_owned();
        assert!(
            detail.starts_with("tier qa refuses tag \"v1.2.0\" (rule pin_digest)"),
            "{detail}"
        );
        assert!(
            detail.ends_with("(cluster qa-eu-1 would run it for grafana)"),
            "{detail}"
        );
        assert_eq!(app.get("/api/v1/clusters/qa-eu-1").json()["revision"], before);
        assert_eq!(app.get("/api/v1/clusters/qa-eu-1/render").status, 200);
    }
);

both!(
    a_token_expiry_past_the_maximum_is_refused_naming_the_field,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let r = app.post(
            "/api/v1/tokens",
            &json!({"name": "ci", "role": "viewer", "expires": "999999999d"}),
        );
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(r.json()["errors"][0]["path"], "$.expires");
        assert_eq!(
            r.json()["errors"][0]["message"],
            "\"999999999d\" is longer than the maximum of 3650d (ten years)"
        );
        assert_eq!(
            app.post(
                "/api/v1/tokens",
                &json!({"name": "ci", "role": "viewer", "expires": "30d"})
            )
            .status,
            201
        );
    }
);

#[test]
fn token_create_with_an_expiry_past_the_maximum_exits_2_naming_the_flag() {
    let dir = crate::support::Scratch::new();
    let db = dir.path().join("c.db").display().to_string();
    let out = crate::support::run(
        &[
            "token",
            "create",
            "--database-url",
            &db,
            "--name",
            "ci",
            "--role",
            "admin",
            "--expires",
            "999999999d",
        ],
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        "error: --expires: \"999999999d\" is longer than the maximum of 3650d (ten years)"
    );
    assert!(!out.stderr.contains("panicked"));
}

both!(
    bodies_and_names_that_break_a_rule_are_refused_and_nothing_is_stored,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let array = app.request(
            "PUT",
            "/api/v1/clusters/prod-eu-1/components/grafana",
            Some(r#"[true,"v1.3.0",null,"x"]"#),
            &[],
        );
        assert_eq!(array.status, 422, "{}", array.body);
        assert_eq!(array.json()["errors"][0]["path"], "$");
        assert!(array.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("[body-object]"));

        let past = app.put(
            "/api/v1/clusters/qa-eu-1/components/grafana",
            &json!({"oci_tag": "v1.1.0", "reason": "canary", "expires_at": "2020-01-01T00:00:00Z"}),
        );
        assert_eq!(past.status, 422, "{}", past.body);
        assert_eq!(past.json()["errors"][0]["path"], "$.expires_at");
        let hold = app.post(
            "/api/v1/holds",
            &json!({"cluster": "qa-eu-1", "reason": "freeze", "expires_at": "2020-01-01T00:00:00Z"}),
        );
        assert_eq!(hold.status, 422, "{}", hold.body);
        assert_eq!(hold.json()["errors"][0]["path"], "$.expires_at");

        let label = app.patch("/api/v1/clusters/qa-eu-1", &json!({"labels": {"Bad Key!": "x"}}));
        assert_eq!(label.status, 422, "{}", label.body);
        assert_eq!(label.json()["errors"][0]["path"], "$.labels[\"Bad Key!\"]");
        assert_eq!(
            stored_labels(&app.database_url, "qa-eu-1"),
            json!({"region": "eu-west-1"})
        );

        let ghost = app.post(
            "/api/v1/tokens",
            &json!({"name": "ghost", "role": "cluster", "cluster": "no-such-cluster"}),
        );
        assert_eq!(ghost.status, 422, "{}", ghost.body);
        assert_eq!(ghost.json()["errors"][0]["path"], "$.cluster");
        let components = app.get("/api/v1/clusters/qa-eu-1/components").json();
        assert_eq!(components.to_string().matches("canary").count(), 1);
    }
);

both!(the_last_active_admin_token_cannot_be_revoked, |b: Backend| {
    let app = TestApp::with_fleet(b);
    // The first start issued `admin`; the test harness issued `test-admin` beside it.
    assert_eq!(app.delete("/api/v1/tokens/admin").status, 204);
    let refused = app.delete("/api/v1/tokens/test-admin");
    assert_eq!(refused.status, 409, "{}", refused.body);
    let detail = refused.json()["detail"].as_str().unwrap_or_default().to_owned();
    assert!(detail.contains("last active admin token"), "{detail}");
    assert!(detail.contains("token create --role admin"), "{detail}");
    assert_eq!(app.get("/api/v1/tokens").status, 200);
    // With a second admin, either may go.
    let second = app.post("/api/v1/tokens", &json!({"name": "second", "role": "admin"}));
    assert_eq!(second.status, 201, "{}", second.body);
    assert_eq!(app.delete("/api/v1/tokens/test-admin").status, 204);
});

both!(readyz_fails_while_the_database_cannot_take_a_write, |b: Backend| {
    use diesel::connection::SimpleConnection;
    let app = TestApp::with_fleet(b);
    assert_eq!(app.get("/readyz").status, 200);
    let mut blocker = platform_catalog::db::connect(&app.database_url).expect("a second connection");
    let lock = match b {
        Backend::Sqlite => "BEGIN IMMEDIATE; UPDATE write_lock SET generation = generation;",
        Backend::Postgres => "BEGIN; UPDATE write_lock SET generation = generation;",
    };
    blocker.batch_execute(lock).expect("the write lock is taken");
    let locked = app.get("/readyz");
    assert_eq!(locked.status, 503, "{}", locked.body);
    blocker.batch_execute("ROLLBACK").expect("the lock is released");
    assert_eq!(app.get("/readyz").status, 200);
});
