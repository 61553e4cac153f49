//! The service's core paths over HTTP, on SQLite and PostgreSQL.

use serde_json::json;

use crate::both;
use crate::support::app::{Backend, TestApp};

both!(health_and_readiness_answer, |b: Backend| {
    let app = TestApp::empty(b);
    assert_eq!(app.get("/healthz").status, 200);
    assert_eq!(app.get("/readyz").status, 200);
});

both!(components_list_in_id_order_with_resolved_defaults, |b: Backend| {
    let app = TestApp::with_catalog(b);
    let reply = app.get("/api/v1/components");
    assert_eq!(reply.status, 200);
    let ids: Vec<String> = reply.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        ["cert-manager", "external-dns", "grafana", "ingress-nginx", "prometheus"]
    );
    let grafana = app.get("/api/v1/components/grafana").json();
    assert_eq!(grafana["artifact"], "platform");
    assert_eq!(grafana["interval"], "10m");
    assert_eq!(grafana["depends_on"], json!(["prometheus"]));
});

both!(a_new_component_is_validated_against_the_whole_catalog, |b: Backend| {
    let app = TestApp::with_catalog(b);
    let reply = app.post(
        "/api/v1/components",
        &json!({"id": "loki", "category": "observability", "component_path": "../loki", "depends_on": ["vault"]}),
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/problem+json"));
    let problem = reply.json();
    let paths: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["$.component_path", "$.depends_on[0]"]);
    assert_eq!(app.get("/api/v1/components/loki").status, 404);

    let reply = app.post(
        "/api/v1/components",
        &json!({"id": "loki", "category": "observability", "component_path": "observability/loki/5.0.0"}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.json()["timeout"], "5m");
});

both!(
    a_latest_default_tag_is_refused_naming_rule_tier_and_tag,
    |b: Backend| {
        let app = TestApp::with_catalog(b);
        let reply = app.patch("/api/v1/components/grafana", &json!({"oci_tag": "latest"}));
        assert_eq!(reply.status, 422, "{}", reply.body);
        let problem = reply.json();
        assert_eq!(problem["errors"][0]["path"], "$.oci_tag");
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("tier qa refuses tag \"latest\" (rule allow_mutable)"),
            "{message}"
        );
    }
);

both!(
    malformed_json_is_400_and_a_wrong_type_is_422_naming_the_field,
    |b: Backend| {
        let app = TestApp::with_catalog(b);
        let reply = app.request("POST", "/api/v1/components", Some("{\"id\": "), &[]);
        assert_eq!(reply.status, 400, "{}", reply.body);
        let reply = app.post(
            "/api/v1/components",
            &json!({"id": "x", "category": "c", "component_path": "p", "prune": "yes"}),
        );
        assert_eq!(reply.status, 422, "{}", reply.body);
        assert_eq!(reply.json()["errors"][0]["path"], "$.prune");
        let reply = app.post(
            "/api/v1/components",
            &json!({"id": "x", "category": "c", "component_path": "p", "colour": 1}),
        );
        assert_eq!(reply.status, 422);
        assert!(
            reply.json()["detail"]
                .as_str()
                .unwrap()
                .contains("unknown field `colour`"),
            "{}",
            reply.body
        );
    }
);

both!(an_oversized_body_is_413, |b: Backend| {
    let app = TestApp::with_catalog(b);
    let big = format!("{{\"id\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let reply = app.request("POST", "/api/v1/components", Some(&big), &[]);
    assert_eq!(reply.status, 413, "{}", &reply.body[..reply.body.len().min(300)]);
});

both!(
    clusters_get_every_component_and_render_deterministically,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let clusters = app.get("/api/v1/clusters?tier=prod").json();
        let names: Vec<&str> = clusters["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["prod-eu-1", "prod-us-1"]);
        let render = app.get("/api/v1/clusters/prod-eu-1/render");
        assert_eq!(render.status, 200, "{}", render.body);
        assert_eq!(render.header("content-type"), Some("application/yaml"));
        assert!(render
            .body
            .contains("    digest: sha256:7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5\n"));
        let etag = render.header("etag").unwrap().to_owned();
        let again = app.request(
            "GET",
            "/api/v1/clusters/prod-eu-1/render",
            None,
            &[("if-none-match", &etag)],
        );
        assert_eq!((again.status, again.body.as_str()), (304, ""));
        let us = app.get("/api/v1/clusters/prod-us-1/render");
        assert!(
            !us.body.contains("name: external-dns"),
            "external-dns is disabled on prod-us-1"
        );
    }
);

both!(
    an_override_changes_the_effective_config_with_provenance_and_a_new_revision,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let before = app.get("/api/v1/clusters/dev-eu-1").json()["revision"]
            .as_i64()
            .unwrap();
        let reply = app.put(
            "/api/v1/clusters/dev-eu-1/components/grafana",
            &json!({"oci_tag": "v1.1.0-rc1", "component_path": "observability/grafana/7.3.9", "reason": "canary"}),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        let effective = app.get("/api/v1/clusters/dev-eu-1/effective").json();
        assert_eq!(effective["revision"], before + 1);
        let grafana = effective["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "grafana")
            .unwrap()
            .clone();
        assert_eq!(
            grafana["oci_tag"],
            json!({"value": "v1.1.0-rc1", "source": {"kind": "override", "detail": "canary"}})
        );
        // Writing the same override again changes nothing and makes no revision.
        app.put(
            "/api/v1/clusters/dev-eu-1/components/grafana",
            &json!({"oci_tag": "v1.1.0-rc1", "component_path": "observability/grafana/7.3.9", "reason": "canary"}),
        );
        assert_eq!(app.get("/api/v1/clusters/dev-eu-1").json()["revision"], before + 1);
    }
);

both!(a_prerelease_override_is_refused_in_prod, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let reply = app.put(
        "/api/v1/clusters/prod-eu-1/components/grafana",
        &json!({"oci_tag": "v1.1.0-rc1"}),
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert!(
        reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("(rule allow_prerelease)"),
        "{}",
        reply.body
    );
    let reply = app.put(
        "/api/v1/clusters/prod-eu-1/components/grafana",
        &json!({"oci_tag": "v9.9.9"}),
    );
    assert_eq!(reply.status, 422);
    assert!(
        reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("(rule require_known_tag)"),
        "{}",
        reply.body
    );
});

both!(a_stale_if_match_is_412_and_the_current_one_succeeds, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let current = app.get("/api/v1/clusters/qa-eu-1");
    let etag = current.header("etag").unwrap().to_owned();
    let body = json!({"tier": "qa", "labels": {"region": "eu-west-2"}}).to_string();
    let ok = app.request("PUT", "/api/v1/clusters/qa-eu-1", Some(&body), &[("if-match", &etag)]);
    assert_eq!(ok.status, 200, "{}", ok.body);
    let stale = app.request("PUT", "/api/v1/clusters/qa-eu-1", Some(&body), &[("if-match", &etag)]);
    assert_eq!(stale.status, 412, "{}", stale.body);
});

both!(a_dry_run_shows_the_plan_and_writes_nothing, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let reply = app.put(
        "/api/v1/clusters/qa-eu-1/components/grafana?dry_run=true",
        &json!({"oci_tag": "v1.1.0-1"}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let plan = reply.json();
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["changes"][0]["cluster"], "qa-eu-1");
    assert_eq!(plan["changes"][0]["components"][0]["component"], "grafana");
    assert_eq!(plan["changes"][0]["components"][0]["from"]["oci_tag"], "v1.1.0-rc1");
    assert_eq!(plan["changes"][0]["components"][0]["to"]["oci_tag"], "v1.1.0-1");
    assert_eq!(
        plan["changes"][0]["diff"],
        "--- grafana\n+++ grafana\n   annotations:\n-    platform-catalog.io/oci-tag: v1.1.0-rc1\n\
         +    platform-catalog.io/oci-tag: v1.1.0-1\n   ref:\n-    tag: v1.1.0-rc1\n+    tag: v1.1.0-1\n"
    );
    let assignment = app.get("/api/v1/clusters/qa-eu-1/components").json();
    let grafana = assignment
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["component"] == "grafana")
        .unwrap()
        .clone();
    assert_eq!(grafana["oci_tag"], "v1.1.0-rc1");
});

both!(deleting_a_component_in_use_is_409_unless_forced, |b: Backend| {
    let app = TestApp::with_fleet(b);
    assert_eq!(app.delete("/api/v1/components/external-dns").status, 409);
    let reply = app.delete("/api/v1/components/external-dns?force=true");
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert!(!app
        .get("/api/v1/clusters/dev-eu-1/render")
        .body
        .contains("external-dns"));
    // grafana depends on prometheus: removing prometheus breaks the catalog.
    let reply = app.delete("/api/v1/components/prometheus?force=true");
    assert_eq!(reply.status, 422, "{}", reply.body);
});

both!(
    an_expired_override_stops_applying_and_the_sweep_records_a_revision,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let expires = (chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
        let reply = app.put(
            "/api/v1/clusters/dev-eu-1/components/grafana",
            &json!({"oci_tag": "v1.0.0-1", "reason": "rollback", "expires_at": expires}),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        let grafana_tag = |app: &TestApp| {
            let effective = app.get("/api/v1/clusters/dev-eu-1/effective").json();
            let c = effective["components"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == "grafana")
                .unwrap()
                .clone();
            (
                effective["revision"].as_i64().unwrap(),
                c["oci_tag"]["value"].as_str().unwrap().to_owned(),
            )
        };
        let (revision, tag) = grafana_tag(&app);
        assert_eq!(tag, "v1.0.0-1");
        let sweeper = platform_catalog::service::expiry::Sweeper::default();
        assert_eq!(sweeper.sweep(&app.state).unwrap(), 0, "nothing has expired yet");
        std::thread::sleep(std::time::Duration::from_millis(1700));
        assert_eq!(sweeper.sweep(&app.state).unwrap(), 1);
        assert_eq!(grafana_tag(&app), (revision + 1, "v1.1.0".to_owned()));
        assert_eq!(sweeper.sweep(&app.state).unwrap(), 0, "each expiry is handled once");
    }
);

both!(clusters_list_a_page_at_a_time_in_name_order, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let mut names = Vec::new();
    let mut path = "/api/v1/clusters?limit=3".to_owned();
    loop {
        let page = app.get(&path).json();
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/clusters?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(names, ["dev-eu-1", "prod-eu-1", "prod-us-1", "qa-eu-1"]);
    let bad = app.get("/api/v1/clusters?cursor=zz");
    assert_eq!(bad.status, 422);
    assert_eq!(bad.json()["errors"][0]["path"], "cursor");
    assert_eq!(app.get("/api/v1/clusters?limit=0").json()["errors"][0]["path"], "limit");
});

both!(
    a_merge_patch_that_is_not_an_object_is_refused_naming_the_rule,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        for path in ["/api/v1/clusters/dev-eu-1", "/api/v1/components/grafana"] {
            let reply = app.patch(path, &json!([1, 2]));
            assert_eq!(reply.status, 422, "{path}: {}", reply.body);
            assert_eq!(reply.json()["errors"][0]["path"], "$");
            assert_eq!(
                reply.json()["errors"][0]["message"],
                "the body must be a JSON object ({...}) [body-object]; arrays, strings, numbers and null are refused"
            );
        }
    }
);

both!(
    a_cluster_merge_patch_refuses_an_unknown_member_whatever_its_value,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let before = app.get("/api/v1/clusters/dev-eu-1").json();
        let valued = app.patch("/api/v1/clusters/dev-eu-1", &json!({"colour": "red"}));
        let null = app.patch("/api/v1/clusters/dev-eu-1?dry_run=true", &json!({"colour": null}));
        assert_eq!(valued.status, 422, "{}", valued.body);
        assert_eq!((null.status, null.json()), (422, valued.json()));
        // A null for a member the cluster has still resets it, as RFC 7396 says.
        let reset = app.patch("/api/v1/clusters/dev-eu-1?dry_run=true", &json!({"labels": null}));
        assert_eq!(reset.status, 200, "{}", reset.body);
        assert_eq!(app.get("/api/v1/clusters/dev-eu-1").json(), before);
    }
);

/// The problem document a stale `If-Match` gets.
fn stale(sent: &str, current: &str) -> serde_json::Value {
    json!({
        "type": "urn:platform-catalog:problem:precondition-failed",
        "title": "Precondition Failed",
        "status": 412,
        "detail": format!("If-Match {sent} does not match the current version {current}; read it again and retry"),
    })
}

both!(
    an_assignment_put_is_guarded_by_the_version_its_etag_names,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let path = "/api/v1/clusters/qa-eu-1/components/grafana";
        let put = |tag: &str, if_match: &[(&str, &str)]| {
            app.request("PUT", path, Some(&json!({"oci_tag": tag}).to_string()), if_match)
        };
        let first = put("v1.1.0-1", &[]);
        assert_eq!(first.status, 200, "{}", first.body);
        let read = first.header("etag").unwrap().to_owned();
        let second = put("v1.1.0-rc1", &[("if-match", &read)]);
        assert_eq!(second.status, 200, "{}", second.body);
        let current = second.header("etag").unwrap().to_owned();
        assert_ne!(read, current);

        let refused = put("v1.1.0-1", &[("if-match", &read)]);
        assert_eq!(refused.status, 412, "{}", refused.body);
        assert_eq!(refused.json(), stale(&read, &current));
        let kept = app.get("/api/v1/clusters/qa-eu-1/components").json();
        let grafana = kept
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["component"] == "grafana")
            .unwrap();
        assert_eq!(grafana["oci_tag"], "v1.1.0-rc1", "the refused write changed nothing");

        // A version of an assignment that is not there is refused too; `*` expects any.
        assert_eq!(app.delete(path).status, 204);
        let absent = put("v1.1.0-1", &[("if-match", &current)]);
        assert_eq!(absent.status, 412, "{}", absent.body);
        assert_eq!(
            absent.json()["detail"],
            format!("If-Match {current}: the assignment does not exist")
        );
        assert_eq!(put("v1.1.0-1", &[("if-match", "*")]).status, 200);
    }
);

both!(
    a_cluster_delete_is_guarded_by_the_version_its_etag_names,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let path = "/api/v1/clusters/dev-eu-1";
        let read = app.get(path).header("etag").unwrap().to_owned();
        let changed = app.patch(path, &json!({"labels": {"team": "core"}}));
        assert_eq!(changed.status, 200, "{}", changed.body);
        let current = app.get(path).header("etag").unwrap().to_owned();
        assert_eq!(
            changed.header("etag"),
            Some(current.as_str()),
            "a write answers the ETag a read shows"
        );

        let refused = app.request("DELETE", path, None, &[("if-match", &read)]);
        assert_eq!(refused.status, 412, "{}", refused.body);
        assert_eq!(refused.json(), stale(&read, &current));
        assert_eq!(app.get(path).status, 200, "the refused delete removed nothing");

        let weak = format!("\"other\", W/{current}");
        let deleted = app.request("DELETE", path, None, &[("if-match", &weak)]);
        assert_eq!(deleted.status, 204, "{}", deleted.body);
        assert_eq!(app.get(path).status, 404);
    }
);
