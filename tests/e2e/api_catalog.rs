//! Artifacts and tags, tiers and their policies over HTTP, on SQLite and PostgreSQL. The
//! helpers here serve `api_releases` too.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::both;
use crate::support::app::{Backend, Reply, TestApp};

pub(crate) const D120: &str = "sha256:8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6";
pub(crate) const D_OTHER: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
pub(crate) const CLUSTERS: [&str; 4] = ["dev-eu-1", "prod-eu-1", "prod-us-1", "qa-eu-1"];

pub(crate) fn strings(value: &Value, key: &str) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[key].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) fn error_paths(reply: &Reply) -> Vec<String> {
    strings(&reply.json()["errors"], "path")
}

pub(crate) fn revisions(app: &TestApp) -> BTreeMap<String, i64> {
    CLUSTERS
        .iter()
        .map(|c| {
            (
                c.to_string(),
                app.get(&format!("/api/v1/clusters/{c}")).json()["revision"]
                    .as_i64()
                    .unwrap(),
            )
        })
        .collect()
}

/// The effective tag of `component` on `cluster`, with its provenance kind.
pub(crate) fn effective_tag(app: &TestApp, cluster: &str, component: &str) -> (String, String) {
    let effective = app.get(&format!("/api/v1/clusters/{cluster}/effective")).json();
    let c = effective["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == component)
        .unwrap_or_else(|| panic!("{component} runs on {cluster}"))
        .clone();
    let tag = c["oci_tag"]["value"].as_str().unwrap().to_owned();
    (tag, c["oci_tag"]["source"]["kind"].as_str().unwrap().to_owned())
}

pub(crate) fn catalog_revision(app: &TestApp) -> i64 {
    let mut conn = app.state.conn().unwrap();
    platform_catalog::store::current_catalog_revision(&mut conn)
        .unwrap()
        .unwrap()
}

pub(crate) fn register_v120(app: &TestApp) {
    let reply = app.post(
        "/api/v1/artifacts/platform/tags",
        &json!({"tag": "v1.2.0", "digest": D120}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
}

both!(artifacts_show_url_default_tag_and_tag_count, |b: Backend| {
    let app = TestApp::with_catalog(b);
    let list = app.get("/api/v1/artifacts");
    assert_eq!(list.status, 200, "{}", list.body);
    let expected = json!({"id": "platform", "url": "oci://registry.example.com/platform/components",
                          "oci_tag": "v1.1.0", "tag_count": 5, "insecure": false});
    assert_eq!(list.json(), json!({"items": [expected.clone()]}));
    let one = app.get("/api/v1/artifacts/platform");
    assert_eq!((one.status, one.json()), (200, expected));
    assert!(one.header("etag").is_some());
    assert_eq!(app.get("/api/v1/artifacts/nope").status, 404);
});

both!(tag_registration_is_201_200_409_404_and_422, |b: Backend| {
    let app = TestApp::with_catalog(b);
    let path = "/api/v1/artifacts/platform/tags";
    let created = app.post(path, &json!({"tag": "v1.2.0", "digest": D120}));
    assert_eq!(created.status, 201, "{}", created.body);
    let body = created.json();
    assert_eq!(
        (&body["tag"], &body["digest"], &body["kind"]),
        (&json!("v1.2.0"), &json!(D120), &json!("release"))
    );
    assert!(body["registered_at"].as_str().unwrap().ends_with('Z'), "{body}");
    let again = app.post(path, &json!({"tag": "v1.2.0", "digest": D120}));
    assert_eq!((again.status, again.json()), (200, body));
    let moved = app.post(path, &json!({"tag": "v1.2.0", "digest": D_OTHER}));
    assert_eq!(moved.status, 409, "{}", moved.body);
    assert_eq!(moved.header("content-type"), Some("application/problem+json"));
    assert!(
        moved.json()["detail"].as_str().unwrap().contains("tags are immutable"),
        "{}",
        moved.body
    );
    assert_eq!(
        app.post("/api/v1/artifacts/nope/tags", &json!({"tag": "v1.2.0"}))
            .status,
        404
    );
    let bad_tag = app.post(path, &json!({"tag": "v1.2.0+build"}));
    assert_eq!((bad_tag.status, error_paths(&bad_tag)), (422, vec!["$.tag".to_owned()]));
    let bad_digest = app.post(path, &json!({"tag": "v1.2.1", "digest": "sha256:abc"}));
    assert_eq!(
        (bad_digest.status, error_paths(&bad_digest)),
        (422, vec!["$.digest".to_owned()])
    );
    // A tag first known without a digest gets it later; that is no new tag.
    assert_eq!(app.post(path, &json!({"tag": "v1.2.1-rc1"})).status, 201);
    let completed = app.post(path, &json!({"tag": "v1.2.1-rc1", "digest": D_OTHER}));
    assert_eq!(
        (completed.status, &completed.json()["kind"]),
        (200, &json!("prerelease"))
    );
    assert_eq!(app.get("/api/v1/artifacts/platform").json()["tag_count"], 7);
});

both!(tags_list_newest_first_and_filter_by_tier_policy, |b: Backend| {
    let app = TestApp::with_catalog(b);
    let all = app.get("/api/v1/artifacts/platform/tags");
    assert_eq!(all.status, 200, "{}", all.body);
    let all = all.json()["items"].clone();
    assert_eq!(
        strings(&all, "tag"),
        ["v1.1.0-1", "v1.1.0", "v1.1.0-rc1", "v1.0.0-1", "v1.0.0"]
    );
    assert_eq!(
        strings(&all, "kind"),
        ["hotfix", "release", "prerelease", "hotfix", "release"]
    );
    assert_eq!(
        all[1]["digest"],
        "sha256:6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4"
    );
    let prod = app.get("/api/v1/artifacts/platform/tags?tier=prod").json()["items"].clone();
    assert_eq!(strings(&prod, "tag"), ["v1.1.0-1", "v1.1.0", "v1.0.0-1", "v1.0.0"]);
    let unknown = app.get("/api/v1/artifacts/platform/tags?tier=staging");
    assert_eq!((unknown.status, error_paths(&unknown)), (422, vec!["tier".to_owned()]));
    assert_eq!(app.get("/api/v1/artifacts/nope/tags").status, 404);
});

both!(tiers_list_lowest_first_with_policy_and_etag, |b: Backend| {
    let app = TestApp::with_catalog(b);
    let tiers = app.get("/api/v1/tiers").json()["items"].clone();
    assert_eq!(strings(&tiers, "name"), ["dev", "qa", "prod"]);
    let prod = app.get("/api/v1/tiers/prod");
    assert_eq!(prod.status, 200);
    assert!(prod.header("etag").is_some());
    assert_eq!(
        prod.json(),
        json!({"name": "prod", "policy": {"allow_mutable": false, "allow_prerelease": false, "pin_digest": true,
               "require_known_tag": true, "pattern": "^v[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9]+)?$"}})
    );
    assert_eq!(app.get("/api/v1/tiers/staging").status, 404);
});

both!(a_tier_policy_put_is_a_new_revision_guarded_by_if_match, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let etag = app.get("/api/v1/tiers/dev").header("etag").unwrap().to_owned();
    let strict =
        json!({"allow_mutable": false, "allow_prerelease": true, "pin_digest": false, "require_known_tag": true})
            .to_string();
    let before = catalog_revision(&app);
    let ok = app.request("PUT", "/api/v1/tiers/dev", Some(&strict), &[("if-match", &etag)]);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["policy"]["allow_mutable"], false);
    assert_ne!(ok.header("etag"), Some(etag.as_str()));
    assert_eq!(catalog_revision(&app), before + 1);
    assert_eq!(app.get("/api/v1/tiers/dev").json()["policy"]["allow_mutable"], false);
    let stale = app.request("PUT", "/api/v1/tiers/dev", Some(&strict), &[("if-match", &etag)]);
    assert_eq!(stale.status, 412, "{}", stale.body);

    // Unpinning digests in prod changes both prod clusters' effective config: the plan says so.
    let unpin =
        json!({"allow_mutable": false, "allow_prerelease": false, "pin_digest": false, "require_known_tag": true});
    let plan = app.put("/api/v1/tiers/prod?dry_run=true", &unpin);
    assert_eq!(plan.status, 200, "{}", plan.body);
    assert_eq!(plan.json()["dry_run"], true);
    assert_eq!(strings(&plan.json()["changes"], "cluster"), ["prod-eu-1", "prod-us-1"]);
    assert_eq!(app.get("/api/v1/tiers/prod").json()["policy"]["pin_digest"], true);
    assert_eq!(catalog_revision(&app), before + 1);
});

both!(
    a_tier_policy_that_breaks_a_tag_in_use_is_422_and_stores_nothing,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let before = (
            catalog_revision(&app),
            app.get("/api/v1/tiers/prod").json(),
            revisions(&app),
        );
        // cert-manager's own default is the hotfix v1.1.0-1; this pattern refuses hotfixes.
        let no_hotfix = json!({"allow_mutable": false, "allow_prerelease": false, "pin_digest": true,
                           "require_known_tag": true, "pattern": "^v[0-9]+\\.[0-9]+\\.[0-9]+$"});
        let reply = app.put("/api/v1/tiers/prod", &no_hotfix);
        assert_eq!(reply.status, 422, "{}", reply.body);
        assert_eq!(error_paths(&reply), ["$.pattern"]);
        let message = reply.json()["errors"][0]["message"].as_str().unwrap().to_owned();
        assert!(message.starts_with("the own tag of component cert-manager ($.components[0].oci_tag): tier prod refuses tag \"v1.1.0-1\" (rule pattern)"), "{message}");
        // qa-eu-1 runs the canary v1.1.0-rc1 on grafana: qa cannot drop pre-releases under it.
        let qa =
            json!({"allow_mutable": false, "allow_prerelease": false, "pin_digest": false, "require_known_tag": true});
        let reply = app.put("/api/v1/tiers/qa", &qa);
        assert_eq!(
            (reply.status, error_paths(&reply)),
            (422, vec!["$.allow_prerelease".to_owned()])
        );
        assert!(
            reply
                .body
                .contains("cluster qa-eu-1 overrides grafana with \\\"v1.1.0-rc1\\\""),
            "{}",
            reply.body
        );
        let bad = json!({"allow_mutable": false, "allow_prerelease": false, "pin_digest": true, "require_known_tag": true, "pattern": "("});
        let reply = app.put("/api/v1/tiers/prod", &bad);
        assert_eq!((reply.status, error_paths(&reply)), (422, vec!["$.pattern".to_owned()]));
        let after = (
            catalog_revision(&app),
            app.get("/api/v1/tiers/prod").json(),
            revisions(&app),
        );
        assert_eq!(after, before);
    }
);

both!(
    a_tier_policy_broken_by_several_tags_in_use_names_each_with_its_field,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        // qa-eu-1 already runs the canary v1.1.0-rc1 on grafana; a second pre-release override.
        let put = app.put(
            "/api/v1/clusters/qa-eu-1/components/prometheus",
            &json!({"oci_tag": "v1.1.0-rc1", "reason": "canary"}),
        );
        assert_eq!(put.status, 200, "{}", put.body);
        let qa =
            json!({"allow_mutable": false, "allow_prerelease": false, "pin_digest": false, "require_known_tag": true});
        let reply = app.put("/api/v1/tiers/qa", &qa);
        assert_eq!(reply.status, 422, "{}", reply.body);
        let problem = reply.json();
        assert_eq!(problem["detail"], "the policy is broken by 2 tag(s) in use");
        assert_eq!(error_paths(&reply), ["$.allow_prerelease", "$.allow_prerelease"]);
        let messages: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        assert!(
            messages[0].starts_with("cluster qa-eu-1 overrides grafana with \"v1.1.0-rc1\""),
            "{messages:?}"
        );
        assert!(
            messages[1].starts_with("cluster qa-eu-1 overrides prometheus with \"v1.1.0-rc1\""),
            "{messages:?}"
        );
    }
);
