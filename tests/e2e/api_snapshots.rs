//! What the API shows, snapshotted: the three renders over HTTP and the main error documents.
//! Times and request ids are redacted; a change shows as a diff (`cargo insta review`).

use serde_json::json;

use crate::support::app::{Backend, TestApp};

/// RFC 3339 times become `[time]`, so a snapshot does not depend on the clock.
fn redact(text: &str) -> String {
    let times = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z").expect("a valid pattern");
    times.replace_all(text, "[time]").into_owned()
}

/// The answer as a snapshot shows it: status, content type and body.
fn shown(r: &crate::support::app::Reply) -> String {
    let body = match serde_json::from_str::<serde_json::Value>(&r.body) {
        Ok(v) if r.header("content-type").is_some_and(|c| c.contains("json")) => {
            serde_json::to_string_pretty(&v).unwrap_or_default()
        }
        _ => r.body.clone(),
    };
    format!(
        "{} {}\n{}",
        r.status,
        r.header("content-type").unwrap_or(""),
        redact(&body)
    )
}

#[test]
fn the_three_renders_of_a_prod_cluster_over_http() {
    let app = TestApp::with_fleet(Backend::Sqlite);
    let token = app.issue(
        "flux-prod-eu-1",
        platform_catalog::service::tokens::Role::Cluster,
        Some("prod-eu-1"),
    );
    for (name, path) in [
        ("render_yaml", "/api/v1/clusters/prod-eu-1/render"),
        ("render_json", "/api/v1/clusters/prod-eu-1/render?format=json"),
        ("render_inputs", "/api/v1/clusters/prod-eu-1/inputs"),
    ] {
        let r = app.request_as(Some(&token), "GET", path, None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        insta::assert_snapshot!(name, shown(&r));
    }
}

#[test]
fn the_main_error_documents() {
    let app = TestApp::with_fleet(Backend::Sqlite);
    let viewer = app.issue("viewer", platform_catalog::service::tokens::Role::Viewer, None);
    let cases = [
        (
            "error_tag_policy",
            app.put(
                "/api/v1/clusters/prod-eu-1/components/grafana",
                &json!({"oci_tag": "latest", "reason": "canary"}),
            ),
        ),
        (
            "error_body_not_an_object",
            app.request("PUT", "/api/v1/clusters/prod-eu-1/components/grafana", Some("[1]"), &[]),
        ),
        (
            "error_malformed_json",
            app.request("POST", "/api/v1/holds", Some("{\"reason\":"), &[]),
        ),
        ("error_unknown_cluster", app.get("/api/v1/clusters/nowhere")),
        (
            "error_method_not_allowed",
            app.request("PUT", "/api/v1/clusters", None, &[]),
        ),
        ("error_no_token", app.request_as(None, "GET", "/api/v1/clusters", None)),
        (
            "error_role_too_low",
            app.request_as(Some(&viewer), "DELETE", "/api/v1/clusters/qa-eu-1", None),
        ),
        (
            "error_expiry_in_the_past",
            app.post(
                "/api/v1/holds",
                &json!({"cluster": "qa-eu-1", "reason": "freeze", "expires_at": "2020-01-01T00:00:00Z"}),
            ),
        ),
        (
            "error_duration_over_the_maximum",
            app.post(
                "/api/v1/tokens",
                &json!({"name": "ci", "role": "viewer", "expires": "999999999d"}),
            ),
        ),
    ];
    for (name, reply) in cases {
        insta::assert_snapshot!(name, shown(&reply));
    }
}
