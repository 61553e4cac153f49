//! The console's cluster page in a headless browser, on SQLite and PostgreSQL: components and
//! their provenance, Flux events, revisions and their diff, and pin, unpin and rollback each
//! previewed before they write; viewers get no write and a forged one is refused.

use platform_catalog::service::tokens::Role;
use serde_json::{json, Value};

use crate::api_events::{at, event, report};
use crate::both;
use crate::support::app::{Backend, TestApp};
use crate::support::browser::Browser;
use crate::support::console::Client;
use crate::ui_matrix::XSS;

/// What the fleet API says `cluster` runs of `component`.
fn running(app: &TestApp, cluster: &str, component: &str) -> Value {
    let fleet = app.get("/api/v1/fleet?limit=500").json();
    let row = fleet["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == cluster)
        .unwrap()
        .clone();
    let cell = row["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == component)
        .unwrap();
    json!([cell["oci_tag"], cell["provenance"]])
}

both!(
    an_operator_pins_and_unpins_a_component_after_seeing_what_moves,
    |b: Backend| {
        let Some(browser) = Browser::start("ui_cluster::pin") else {
            return;
        };
        let app = TestApp::with_fleet(b);
        let token = app.issue("ui-operator", Role::Operator, None);
        browser.sign_in(&app.base, &token);
        browser.goto(&format!("{}/ui/clusters/prod-eu-1", app.base));
        assert_eq!(browser.text_of("h1"), "Cluster prod-eu-1");
        browser.type_into(&browser.find("#pin-tag-grafana"), "v1.0.0");
        browser.type_into(&browser.find("#pin-reason-grafana"), "hold back");
        browser.press("Pin grafana…");
        browser.wait("the preview", || {
            (browser.text_of("h1") == "Preview: pin grafana on prod-eu-1 to v1.0.0").then_some(())
        });
        assert_eq!(browser.text_of(".plan li"), "grafana: v1.1.0 → v1.0.0");
        assert!(browser.text_of(".plan pre").contains("v1.0.0"));
        assert_eq!(
            running(&app, "prod-eu-1", "grafana"),
            json!(["v1.1.0", "default"]),
            "a preview writes nothing"
        );
        browser.press("Confirm");
        browser.wait("the cluster page", || {
            (browser.text_of("h1") == "Cluster prod-eu-1").then_some(())
        });
        assert_eq!(running(&app, "prod-eu-1", "grafana"), json!(["v1.0.0", "override"]));
        assert_eq!(browser.text_of("#component-grafana .tag"), "v1.0.0");
        assert_eq!(browser.text_of("#component-grafana .prov"), "◆ override");
        assert_eq!(
            browser.text_of("#component-grafana .override"),
            "hold back by ui-operator"
        );
        assert_eq!(browser.text_of(".revisions tbody tr td:nth-child(4)"), "hold back");
        if b == Backend::Sqlite {
            browser.screenshot("docs/screenshots/cluster.png");
        }

        browser.press("Unpin grafana…");
        browser.wait("the preview", || {
            (browser.text_of("h1") == "Preview: unpin grafana on prod-eu-1").then_some(())
        });
        assert_eq!(browser.text_of(".plan li"), "grafana: v1.0.0 → v1.1.0");
        browser.press("Confirm");
        browser.wait("the cluster page", || {
            (browser.text_of("h1") == "Cluster prod-eu-1").then_some(())
        });
        assert_eq!(running(&app, "prod-eu-1", "grafana"), json!(["v1.1.0", "default"]));
    }
);

both!(
    the_cluster_page_shows_the_rendered_diff_between_two_revisions,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let put = app.put(
            "/api/v1/clusters/dev-eu-1/components/grafana",
            &json!({"oci_tag": "v1.0.0", "reason": "older"}),
        );
        assert_eq!(put.status, 200, "{}", put.body);
        let mut client = Client::new(&app);
        client.sign_in(&app.token, &[]);
        let page = client.get("/ui/clusters/dev-eu-1?from=1&to=2").body;
        assert!(page.contains("<h3>Rendered diff from revision 1 to 2</h3>"), "{page}");
        let diff = page
            .split("<pre class=\"diff\">")
            .nth(1)
            .unwrap()
            .split("</pre>")
            .next()
            .unwrap();
        assert!(diff.starts_with("--- grafana\n+++ grafana\n"), "{diff}");
        assert!(
            diff.lines().any(|l| l.starts_with('-') && l.contains("v1.1.0")),
            "{diff}"
        );
        assert!(
            diff.lines().any(|l| l.starts_with('+') && l.contains("v1.0.0")),
            "{diff}"
        );
        assert_eq!(client.get("/ui/clusters/nowhere").status, 404);
    }
);

both!(
    a_viewer_gets_no_write_forms_and_a_forged_write_is_refused,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let viewer = app.issue("ui-viewer", Role::Viewer, None);
        let mut client = Client::new(&app);
        client.sign_in(&viewer, &[]);
        let page = client.get("/ui/clusters/prod-eu-1").body;
        assert!(!page.contains("/pin\"") && !page.contains("/rollback\""), "{page}");
        let csrf = client.csrf();
        let forged = client.post(
            "/ui/clusters/prod-eu-1/pin",
            &[
                ("csrf", &csrf),
                ("component", "grafana"),
                ("oci_tag", "v1.0.0"),
                ("confirm", "1"),
            ],
        );
        assert_eq!(forged.status, 403);
        assert!(
            forged
                .body
                .contains("may not POST /ui/clusters/{name}/pin (it needs operator)"),
            "{}",
            forged.body
        );
        let operator = app.issue("ui-operator", Role::Operator, None);
        let mut client = Client::new(&app);
        client.sign_in(&operator, &[]);
        let no_csrf = client.post(
            "/ui/clusters/prod-eu-1/pin",
            &[("component", "grafana"), ("oci_tag", "v1.0.0"), ("confirm", "1")],
        );
        assert_eq!(no_csrf.status, 403);
        assert_eq!(running(&app, "prod-eu-1", "grafana"), json!(["v1.1.0", "default"]));
    }
);

both!(
    markup_in_a_flux_event_message_is_shown_as_text_and_never_runs,
    |b: Backend| {
        let Some(browser) = Browser::start("ui_cluster::xss") else {
            return;
        };
        let app = TestApp::with_fleet(b);
        let mut failed = event(
            "Kustomization",
            "grafana",
            "error",
            "ReconciliationFailed",
            None,
            &at(-5),
        );
        failed["message"] = json!(XSS);
        report(&app, "qa-eu-1", &failed);
        browser.sign_in(&app.base, &app.token);
        browser.goto(&format!("{}/ui/clusters/qa-eu-1", app.base));
        assert_eq!(browser.text_of(".events .message"), XSS);
        assert_eq!(browser.text_of("#component-grafana .st-failed"), "✗ failed");
        assert_eq!(browser.eval("return typeof window.pwned;"), json!("undefined"));
        assert_eq!(browser.all("main script, main img").len(), 0);
    }
);

both!(an_operator_rolls_a_cluster_back_after_the_preview, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let put = app.put(
        "/api/v1/clusters/dev-eu-1/components/grafana",
        &json!({"oci_tag": "v1.0.0", "reason": "older"}),
    );
    assert_eq!(put.status, 200, "{}", put.body);
    let operator = app.issue("ui-operator", Role::Operator, None);
    let mut client = Client::new(&app);
    client.sign_in(&operator, &[]);
    let csrf = client.csrf();
    let fields = [("csrf", csrf.as_str()), ("revision", "1"), ("reason", "bad dashboards")];
    let preview = client.post("/ui/clusters/dev-eu-1/rollback", &fields);
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(
        preview
            .body
            .contains("<h1>Preview: roll dev-eu-1 back to revision 1</h1>"),
        "{}",
        preview.body
    );
    assert!(
        preview.body.contains("<li>grafana: v1.0.0 → v1.1.0</li>"),
        "{}",
        preview.body
    );
    assert_eq!(running(&app, "dev-eu-1", "grafana"), json!(["v1.0.0", "override"]));
    let confirmed = client.post(
        "/ui/clusters/dev-eu-1/rollback",
        &[fields[0], fields[1], fields[2], ("confirm", "1")],
    );
    assert_eq!(
        (confirmed.status, confirmed.header("location")),
        (303, Some("/ui/clusters/dev-eu-1"))
    );
    assert_eq!(running(&app, "dev-eu-1", "grafana"), json!(["v1.1.0", "default"]));
});
