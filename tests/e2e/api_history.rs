//! History over HTTP: revisions, rollback and the audit log, on SQLite and PostgreSQL.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::both;
use crate::support::app::{Backend, TestApp};
use crate::support::http::{assert_problem, item, pages, send};

fn revision_of(app: &TestApp, cluster: &str) -> i64 {
    app.get(&format!("/api/v1/clusters/{cluster}")).json()["revision"]
        .as_i64()
        .unwrap()
}

fn numbers(items: &[Value], key: &str) -> Vec<i64> {
    items.iter().map(|i| i[key].as_i64().unwrap()).collect()
}

fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    pages(app, &format!("/api/v1/audit?limit=500&{query}")).concat()
}

fn revision_yaml(app: &TestApp, cluster: &str, n: i64) -> String {
    let reply = app.get(&format!("/api/v1/clusters/{cluster}/revisions/{n}"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["render"]["yaml"].as_str().unwrap().to_owned()
}

fn without_revision_annotation(yaml: &str) -> String {
    yaml.lines()
        .filter(|l| !l.contains("platform-catalog.io/revision"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn put_grafana(app: &TestApp, cluster: &str, body: Value) {
    send(
        app,
        "PUT",
        &format!("/api/v1/clusters/{cluster}/components/grafana"),
        body,
        "put",
        200,
    );
}

both!(
    revisions_list_newest_first_and_page_to_the_end_without_duplicates,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        assert_eq!(revision_of(&app, "dev-eu-1"), 1);
        for i in 1..=4 {
            put_grafana(
                &app,
                "dev-eu-1",
                json!({"oci_tag": "v1.1.0", "reason": format!("canary {i}")}),
            );
        }
        let pages = pages(&app, "/api/v1/clusters/dev-eu-1/revisions?limit=2");
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
        let paged = pages.concat();
        assert_eq!(numbers(&paged, "revision"), [5, 4, 3, 2, 1]);
        let whole = app.get("/api/v1/clusters/dev-eu-1/revisions").json();
        assert_eq!(whole["items"].as_array().unwrap(), &paged);
        assert!(whole.get("next_cursor").is_none(), "{whole}");

        let newest = &paged[0];
        assert_eq!(newest["actor"], "test-admin");
        assert_eq!(newest["reason"], "canary 4", "the reason the person gave");
        assert!(newest["catalog_revision"].as_i64().unwrap() >= 1);
        let created = newest["created_at"].as_str().unwrap();
        assert!(created.ends_with('Z') && created.contains('T'), "{created}");
        assert_eq!(
            item(&newest["components"], "id", "grafana"),
            &json!({"id": "grafana", "oci_tag": "v1.1.0", "component_path": "observability/grafana/7.3.9"})
        );
        assert_eq!(paged[4]["actor"], "test");

        assert_eq!(app.get("/api/v1/clusters/nowhere-1/revisions").status, 404);
    }
);

both!(a_revision_shows_its_effective_config_and_its_render, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let served = app.get("/api/v1/clusters/dev-eu-1/render");
    put_grafana(&app, "dev-eu-1", json!({"oci_tag": "v1.1.0-rc1", "reason": "canary"}));

    let first = app.get("/api/v1/clusters/dev-eu-1/revisions/1");
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.header("etag").is_some());
    let first = first.json();
    assert_eq!(
        (first["cluster"].clone(), first["revision"].clone()),
        (json!("dev-eu-1"), json!(1))
    );
    assert_eq!(first["render"]["yaml"], served.body.as_str());
    assert_eq!(first["render"]["etag"], served.header("etag").unwrap());
    let grafana = |r: &Value| item(&r["effective"]["components"], "id", "grafana")["oci_tag"].clone();
    assert_eq!(grafana(&first)["source"]["kind"], "artifact_default");

    let second = app.get("/api/v1/clusters/dev-eu-1/revisions/2").json();
    assert_eq!(
        grafana(&second),
        json!({"value": "v1.1.0-rc1", "source": {"kind": "override", "detail": "canary"}})
    );
    assert_eq!(
        second["render"]["yaml"],
        app.get("/api/v1/clusters/dev-eu-1/render").body.as_str()
    );

    for missing in ["3", "0", "two"] {
        let reply = app.get(&format!("/api/v1/clusters/dev-eu-1/revisions/{missing}"));
        assert_eq!(reply.status, 404, "{missing}: {}", reply.body);
        assert_eq!(reply.header("content-type"), Some("application/problem+json"));
    }
    assert_eq!(app.get("/api/v1/clusters/nowhere-1/revisions/1").status, 404);
});

both!(
    a_rollback_restores_the_exact_render_of_the_revision_as_a_new_revision,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        put_grafana(
            &app,
            "dev-eu-1",
            json!({"oci_tag": "v1.1.0-rc1", "component_path": "observability/grafana/7.4.0", "reason": "canary"}),
        );
        let path = |id: &str| format!("/api/v1/clusters/dev-eu-1/components/{id}");
        send(
            &app,
            "PUT",
            &path("external-dns"),
            json!({"enabled": false}),
            "off",
            200,
        );
        let hotfix = json!({"oci_tag": "v1.0.0", "reason": "hotfix"});
        send(&app, "PUT", &path("prometheus"), hotfix, "hotfix", 200);
        assert_eq!(revision_of(&app, "dev-eu-1"), 4);

        let rollback = "/api/v1/clusters/dev-eu-1/rollback";
        let done = send(&app, "POST", rollback, json!({"revision": 2}), "back", 200);
        assert_eq!(
            (done["rolled_back_to"].clone(), done["revision"].clone()),
            (json!(2), json!(5))
        );
        let changed: Vec<&str> = done["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["component"].as_str().unwrap())
            .collect();
        assert_eq!(changed, ["external-dns", "prometheus"]);
        assert_eq!(revision_of(&app, "dev-eu-1"), 5);
        let (old, new) = (revision_yaml(&app, "dev-eu-1", 2), revision_yaml(&app, "dev-eu-1", 5));
        assert_ne!(old, new, "the revision annotation differs");
        assert_eq!(without_revision_annotation(&old), without_revision_annotation(&new));
        assert_eq!(app.get("/api/v1/clusters/dev-eu-1/render").body, new);
        let effective = app.get("/api/v1/clusters/dev-eu-1/effective").json();
        let grafana = item(&effective["components"], "id", "grafana");
        assert_eq!(grafana["oci_tag"]["source"]["detail"], "rollback to revision 2");

        // Back to the catalog defaults: no override is left behind.
        let done = send(&app, "POST", rollback, json!({"revision": 1}), "again", 200);
        assert_eq!(done["revision"], 6);
        assert_eq!(
            without_revision_annotation(&revision_yaml(&app, "dev-eu-1", 1)),
            without_revision_annotation(&revision_yaml(&app, "dev-eu-1", 6))
        );
        for a in app
            .get("/api/v1/clusters/dev-eu-1/components")
            .json()
            .as_array()
            .unwrap()
        {
            let overrides = (&a["enabled"], &a["oci_tag"], &a["component_path"]);
            assert_eq!(overrides, (&json!(true), &Value::Null, &Value::Null), "{a}");
        }
    }
);

both!(a_rollback_dry_run_shows_the_plan_and_writes_nothing, |b: Backend| {
    let app = TestApp::with_fleet(b);
    put_grafana(&app, "dev-eu-1", json!({"oci_tag": "v1.1.0-rc1", "reason": "canary"}));
    let rollback = "/api/v1/clusters/dev-eu-1/rollback?dry_run=true";
    let plan = send(&app, "POST", rollback, json!({"revision": 1}), "plan", 200);
    assert_eq!(plan["dry_run"], true);
    let change = &plan["changes"][0];
    assert_eq!(
        (change["cluster"].clone(), change["from_revision"].clone()),
        (json!("dev-eu-1"), json!(2))
    );
    assert_eq!(change["to_revision"], 3);
    assert_eq!(change["components"][0]["component"], "grafana");
    assert_eq!(change["components"][0]["from"]["oci_tag"], "v1.1.0-rc1");
    assert_eq!(change["components"][0]["to"]["oci_tag"], "v1.1.0");

    assert_eq!(revision_of(&app, "dev-eu-1"), 2);
    let revisions = app.get("/api/v1/clusters/dev-eu-1/revisions").json();
    assert_eq!(numbers(revisions["items"].as_array().unwrap(), "revision"), [2, 1]);
    let assignments = app.get("/api/v1/clusters/dev-eu-1/components").json();
    assert_eq!(item(&assignments, "component", "grafana")["oci_tag"], "v1.1.0-rc1");
    assert!(audit(&app, "target=cluster/dev-eu-1")
        .iter()
        .all(|e| e["action"] != "cluster.rollback"));
});

both!(
    a_rollback_to_an_unknown_revision_is_404_and_a_bad_body_is_422,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let reply = app.post("/api/v1/clusters/dev-eu-1/rollback", &json!({"revision": 99}));
        assert_eq!(reply.status, 404, "{}", reply.body);
        assert_eq!(reply.header("content-type"), Some("application/problem+json"));
        let reply = app.post("/api/v1/clusters/nowhere-1/rollback", &json!({"revision": 1}));
        assert_eq!(reply.status, 404, "{}", reply.body);
        for body in [
            json!({}),
            json!({"revision": 0}),
            json!({"revision": -3}),
            json!({"revision": "1"}),
            json!({"revision": 1.5}),
        ] {
            let reply = app.post("/api/v1/clusters/dev-eu-1/rollback", &body);
            assert_problem(&reply, 422, "$.revision");
        }
        assert_eq!(revision_of(&app, "dev-eu-1"), 1);
        assert!(audit(&app, "").iter().all(|e| e["action"] != "cluster.rollback"));
    }
);

both!(
    a_rollback_is_refused_when_the_catalog_no_longer_has_a_component,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let gone = app.delete("/api/v1/components/external-dns?force=true");
        assert_eq!(gone.status, 204, "{}", gone.body);
        let reply = app.post("/api/v1/clusters/dev-eu-1/rollback", &json!({"revision": 1}));
        assert_eq!(reply.status, 409, "{}", reply.body);
        assert!(
            reply.json()["detail"].as_str().unwrap().contains("external-dns"),
            "{}",
            reply.body
        );
    }
);

both!(
    every_write_leaves_an_audit_entry_with_actor_and_request_id,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        send(
            &app,
            "POST",
            "/api/v1/clusters",
            json!({"name": "dev-eu-2", "tier": "dev"}),
            "abc",
            201,
        );
        let canary = json!({"oci_tag": "v1.1.0-rc1", "reason": "canary"});
        send(
            &app,
            "PUT",
            "/api/v1/clusters/dev-eu-2/components/grafana",
            canary,
            "def",
            200,
        );
        send(
            &app,
            "POST",
            "/api/v1/clusters/dev-eu-2/rollback",
            json!({"revision": 1}),
            "ghi",
            200,
        );

        let cluster = audit(&app, "target=cluster/dev-eu-2");
        let summary: Vec<String> = cluster
            .iter()
            .map(|e| format!("{} {} {}", e["action"], e["actor"], e["request_id"]))
            .collect();
        let expected = [
            r#""cluster.rollback" "test-admin" "ghi""#,
            r#""cluster.create" "test-admin" "abc""#,
        ];
        assert_eq!(summary, expected);
        assert_eq!(cluster[1]["before"], Value::Null);
        assert_eq!(cluster[1]["after"]["tier"], "dev");
        assert_eq!(cluster[0]["after"]["rollback_to"], 1);
        assert_eq!(cluster[0]["after"]["assignments"]["grafana"]["oci_tag"], Value::Null);
        assert_eq!(cluster[0]["before"]["assignments"]["grafana"]["oci_tag"], "v1.1.0-rc1");

        let assignment = audit(&app, "target=cluster/dev-eu-2/components/grafana");
        assert_eq!(assignment.len(), 1, "{assignment:?}");
        assert_eq!(
            (assignment[0]["action"].clone(), assignment[0]["request_id"].clone()),
            (json!("assignment.put"), json!("def"))
        );
        assert_eq!(assignment[0]["after"]["reason"], "canary");

        let everything = audit(&app, "");
        let abc = item(&Value::from(everything.clone()), "request_id", "abc").clone();
        assert_eq!(abc["action"], "cluster.create");
        assert!(abc["at"].as_str().unwrap().ends_with('Z'));
        let ids = numbers(&everything, "id");
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    }
);

both!(audit_filters_by_target_actor_and_since_and_pages, |b: Backend| {
    let app = TestApp::with_fleet(b);
    put_grafana(&app, "dev-eu-1", json!({"oci_tag": "v1.1.0", "reason": "first"}));
    std::thread::sleep(Duration::from_millis(50));
    put_grafana(&app, "qa-eu-1", json!({"oci_tag": "v1.1.0", "reason": "second"}));
    let everything = audit(&app, "");
    let second = &everything[0];
    assert_eq!(second["target"], "cluster/qa-eu-1/components/grafana");

    let since = second["at"].as_str().unwrap();
    let recent = audit(&app, &format!("since={since}"));
    assert_eq!(numbers(&recent, "id"), [second["id"].as_i64().unwrap()]);
    assert!(audit(&app, "since=2999-01-01T00:00:00Z").is_empty());
    assert_eq!(audit(&app, "since=2000-01-01T00:00:00%2B02:00").len(), everything.len());

    let first = audit(&app, "target=cluster/dev-eu-1/components/grafana");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["after"]["reason"], "first");
    let mine = audit(&app, "actor=test-admin");
    assert_eq!(mine.len(), 2);
    assert!(audit(&app, "actor=test").iter().all(|e| e["actor"] == "test"));

    let paged = pages(&app, "/api/v1/audit?limit=2");
    assert!(paged.len() > 2, "the fleet import alone writes more than four entries");
    assert!(paged.iter().all(|p| p.len() <= 2));
    assert_eq!(paged.concat(), everything);
});

both!(
    malformed_since_limit_and_cursor_are_422_naming_the_parameter,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        assert_problem(&app.get("/api/v1/audit?since=yesterday"), 422, "since");
        // An unescaped `+` arrives as a space.
        assert_problem(&app.get("/api/v1/audit?since=2026-01-01T00:00:00+01:00"), 422, "since");
        for limit in ["0", "501", "-1", "many", ""] {
            assert_problem(&app.get(&format!("/api/v1/audit?limit={limit}")), 422, "limit");
            assert_problem(
                &app.get(&format!("/api/v1/clusters/dev-eu-1/revisions?limit={limit}")),
                422,
                "limit",
            );
        }
        for cursor in ["nope", "7a", "", "%00"] {
            assert_problem(&app.get(&format!("/api/v1/audit?cursor={cursor}")), 422, "cursor");
            assert_problem(
                &app.get(&format!("/api/v1/clusters/dev-eu-1/revisions?cursor={cursor}")),
                422,
                "cursor",
            );
        }
        // One list's cursor means nothing to another.
        let audit_cursor = app.get("/api/v1/audit?limit=1").json()["next_cursor"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_problem(
            &app.get(&format!("/api/v1/clusters/dev-eu-1/revisions?cursor={audit_cursor}")),
            422,
            "cursor",
        );
    }
);

both!(twenty_concurrent_writers_lose_no_update, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let target = "cluster/dev-eu-1/components/grafana";
    let before = revision_of(&app, "dev-eu-1");
    std::thread::scope(|s| {
        for i in 0..20 {
            let app = &app;
            s.spawn(move || {
                let (path, id) = ("/api/v1/clusters/dev-eu-1/components/grafana", format!("writer-{i}"));
                send(app, "PUT", path, json!({"oci_tag": "v1.1.0", "reason": id}), &id, 200);
            });
        }
    });
    let entries = audit(&app, &format!("target={target}"));
    assert_eq!(entries.len(), 20, "{entries:?}");
    assert!(entries.iter().all(|e| e["action"] == "assignment.put"));
    let writers: BTreeSet<String> = (0..20).map(|i| format!("writer-{i}")).collect();
    let strings = |f: fn(&Value) -> &Value| -> BTreeSet<String> {
        entries.iter().map(|e| f(e).as_str().unwrap().to_owned()).collect()
    };
    let (ids, reasons) = (strings(|e| &e["request_id"]), strings(|e| &e["after"]["reason"]));
    assert_eq!((&ids, &reasons), (&writers, &writers));
    // Each write saw the one before it: its `before` is the previous write's `after`.
    for pair in entries.windows(2) {
        assert_eq!(pair[0]["before"], pair[1]["after"], "a lost update between {pair:?}");
    }

    assert_eq!(revision_of(&app, "dev-eu-1"), before + 20);
    let revisions = pages(&app, "/api/v1/clusters/dev-eu-1/revisions?limit=7").concat();
    let expected: Vec<i64> = (1..=before + 20).rev().collect();
    assert_eq!(numbers(&revisions, "revision"), expected);
    let newest = app.get("/api/v1/clusters/dev-eu-1/components").json();
    let grafana = item(&newest, "component", "grafana");
    assert_eq!(grafana["reason"], entries[0]["after"]["reason"], "the last write wins");
});
