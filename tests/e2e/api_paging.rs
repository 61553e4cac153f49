//! Every list comes a page at a time, `{"items", "next_cursor"}` with `limit` and `cursor`, on
//! SQLite and PostgreSQL.

use serde_json::{json, Value};

use crate::api_catalog::{error_paths, register_v120};
use crate::both;
use crate::support::app::{Backend, TestApp};
use crate::support::http::pages;

/// The pages of `path` (which has a `?`) as lists of `key`.
fn keys(app: &TestApp, path: &str, key: &str) -> Vec<Vec<Value>> {
    pages(app, path)
        .into_iter()
        .map(|page| page.iter().map(|item| item[key].clone()).collect())
        .collect()
}

both!(catalog_lists_page_in_their_order_to_the_end, |b: Backend| {
    let app = TestApp::with_fleet(b);
    assert_eq!(
        keys(&app, "/api/v1/components?limit=2", "id"),
        [
            vec![json!("cert-manager"), json!("external-dns")],
            vec![json!("grafana"), json!("ingress-nginx")],
            vec![json!("prometheus")],
        ]
    );
    assert_eq!(
        keys(&app, "/api/v1/tiers?limit=2", "name"),
        [vec![json!("dev"), json!("qa")], vec![json!("prod")]]
    );
    assert_eq!(keys(&app, "/api/v1/artifacts?limit=1", "id"), [vec![json!("platform")]]);
    assert_eq!(
        keys(&app, "/api/v1/artifacts/platform/tags?limit=2", "tag"),
        [
            vec![json!("v1.1.0-1"), json!("v1.1.0")],
            vec![json!("v1.1.0-rc1"), json!("v1.0.0-1")],
            vec![json!("v1.0.0")],
        ]
    );
    let one = app.get("/api/v1/components?limit=5").json();
    assert_eq!(
        (one["items"].as_array().unwrap().len(), one.get("next_cursor")),
        (5, None)
    );
});

both!(holds_tokens_and_rollouts_page_to_the_end, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let mut ids = Vec::new();
    for cluster in ["dev-eu-1", "qa-eu-1", "prod-eu-1"] {
        let h = app.post("/api/v1/holds", &json!({"cluster": cluster, "reason": "freeze"}));
        assert_eq!(h.status, 201, "{}", h.body);
        ids.push(h.json()["id"].clone());
    }
    assert_eq!(
        keys(&app, "/api/v1/holds?limit=2", "id"),
        [vec![ids[0].clone(), ids[1].clone()], vec![ids[2].clone()]]
    );
    for id in &ids {
        assert_eq!(app.delete(&format!("/api/v1/holds/{id}")).status, 204);
    }

    app.issue("ci", platform_catalog::service::tokens::Role::Operator, None);
    let tokens: Vec<Value> = keys(&app, "/api/v1/tokens?limit=1", "name").concat();
    // `admin` is the token the first start issued.
    assert_eq!(tokens, [json!("admin"), json!("ci"), json!("test-admin")]);

    register_v120(&app);
    let mut rollouts = Vec::new();
    for component in ["grafana", "prometheus"] {
        let r = app.post(
            "/api/v1/rollouts",
            &json!({"component": component, "oci_tag": "v1.2.0"}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        rollouts.push(r.json()["id"].clone());
    }
    assert_eq!(
        keys(&app, "/api/v1/rollouts?limit=1", "id"),
        [vec![rollouts[1].clone()], vec![rollouts[0].clone()]],
        "newest first"
    );
});

both!(a_bad_limit_or_a_foreign_cursor_is_422_naming_it, |b: Backend| {
    let app = TestApp::with_fleet(b);
    for list in [
        "components",
        "tiers",
        "artifacts",
        "artifacts/platform/tags",
        "tokens",
        "holds",
        "rollouts",
        "overrides/stale",
    ] {
        let zero = app.get(&format!("/api/v1/{list}?limit=0"));
        assert_eq!(
            (zero.status, error_paths(&zero)),
            (422, vec!["limit".to_owned()]),
            "{list}"
        );
        let big = app.get(&format!("/api/v1/{list}?limit=501"));
        assert_eq!(big.status, 422, "{list}");
        let foreign = app.get(&format!("/api/v1/{list}?cursor=7265763a31"));
        assert_eq!(
            (foreign.status, error_paths(&foreign)),
            (422, vec!["cursor".to_owned()]),
            "{list}"
        );
    }
});
