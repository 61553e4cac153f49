//! The console's rollout pages in a headless browser, on SQLite and PostgreSQL: waves, steps
//! and each cluster's state kept current without reload, and advance and abort previewed
//! before they write.

use platform_catalog::service::tokens::Role;
use serde_json::json;

use crate::api_catalog::register_v120;
use crate::both;
use crate::support::app::{Backend, TestApp};
use crate::support::browser::Browser;
use crate::support::console::Client;

/// Waits until the live field `key` reads `want`.
fn field_reads(browser: &Browser, key: &str, want: &str) {
    let css = format!("[data-field={key}]");
    browser.wait(&format!("{key} = {want}"), || {
        (browser.text_of(&css) == want).then_some(())
    });
}

both!(
    an_operator_watches_a_rollout_move_without_reload_then_advances_and_aborts_it,
    |b: Backend| {
        let Some(browser) = Browser::start("ui_rollouts::live") else {
            return;
        };
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let created = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.2.0", "reason": "new dashboards"}),
        );
        assert_eq!(created.status, 201, "{}", created.body);
        let id = created.json()["id"].as_i64().unwrap();
        let total = created.json()["steps_total"].as_u64().unwrap();
        let token = app.issue("ui-operator", Role::Operator, None);
        browser.sign_in(&app.base, &token);
        browser.goto(&format!("{}/ui/rollouts", app.base));
        browser.click(&browser.find(&format!("a[href='/ui/rollouts/{id}']")));
        browser.wait("the rollout page", || {
            (browser.text_of("h1") == format!("Rollout #{id}: grafana to v1.2.0")).then_some(())
        });
        assert_eq!(browser.text_of("[data-field=state]"), "planned");
        assert_eq!(
            browser.text_of("[data-field=gate]"),
            "step 1 waits for an operator to advance"
        );
        assert_eq!(browser.text_of("[data-field='cluster-dev-eu-1']"), "… pending");
        browser.eval("window.sameLoad = 'yes'; return null;");

        // Another operator advances through the API: the open page follows without a reload.
        assert_eq!(
            app.post(&format!("/api/v1/rollouts/{id}/advance"), &json!({})).status,
            200
        );
        field_reads(&browser, "steps", &format!("1 of {total}"));
        field_reads(&browser, "state", "running");
        field_reads(&browser, "cluster-dev-eu-1", "✓ applied");
        assert_eq!(browser.eval("return window.sameLoad;"), json!("yes"));
        if b == Backend::Sqlite {
            browser.screenshot("docs/screenshots/rollout.png");
        }

        browser.press("Advance…");
        browser.wait("the preview", || {
            (browser.text_of("h1") == format!("Preview: advance rollout #{id}")).then_some(())
        });
        assert!(
            browser.text_of(".plan").contains("grafana: "),
            "{}",
            browser.text_of(".plan")
        );
        let before = app.get(&format!("/api/v1/rollouts/{id}")).json()["steps_applied"].clone();
        assert_eq!(before, json!(1), "a preview writes nothing");
        browser.press("Confirm");
        field_reads(&browser, "steps", &format!("2 of {total}"));

        browser.press("Abort…");
        browser.wait("the preview", || {
            (browser.text_of("h1") == format!("Preview: abort rollout #{id}")).then_some(())
        });
        browser.press("Confirm");
        field_reads(&browser, "state", "aborted");
        assert_eq!(app.get(&format!("/api/v1/rollouts/{id}")).json()["state"], "aborted");
    }
);

both!(
    a_viewer_sees_a_rollout_without_its_buttons_and_cannot_advance_it,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let created = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.2.0"}),
        );
        let id = created.json()["id"].as_i64().unwrap();
        let viewer = app.issue("ui-viewer", Role::Viewer, None);
        let mut client = Client::new(&app);
        client.sign_in(&viewer, &[]);
        let page = client.get(&format!("/ui/rollouts/{id}")).body;
        assert!(page.contains("data-poll=\"/ui/rollouts/"), "{page}");
        assert!(!page.contains("/advance\""), "{page}");
        let status = client.get(&format!("/ui/rollouts/{id}/status")).json();
        assert_eq!(status["state"], "planned");
        let csrf = client.csrf();
        let forged = client.post(
            &format!("/ui/rollouts/{id}/advance"),
            &[("csrf", &csrf), ("confirm", "1")],
        );
        assert_eq!(forged.status, 403);
        assert_eq!(app.get(&format!("/api/v1/rollouts/{id}")).json()["steps_applied"], 0);
    }
);

both!(
    an_operator_approves_a_rollout_awaiting_approval_from_its_page,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        register_v120(&app);
        let tier = app.put(
            "/api/v1/tiers/prod",
            &json!({"allow_mutable": false, "allow_prerelease": false,
                "pin_digest": true, "require_known_tag": true, "approvals": 1}),
        );
        assert_eq!(tier.status, 200, "{}", tier.body);
        let created = app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.2.0", "waves": [{"tiers": ["prod"]}, {"tiers": ["dev", "qa"]}]}),
        );
        assert_eq!(created.status, 201, "{}", created.body);
        assert_eq!(created.json()["state"], "awaiting_approval");
        let id = created.json()["id"].as_i64().unwrap();
        let operator = app.issue("ui-operator", Role::Operator, None);
        let mut client = Client::new(&app);
        client.sign_in(&operator, &[]);
        let page = client.get(&format!("/ui/rollouts/{id}")).body;
        assert!(page.contains(&format!("/ui/rollouts/{id}/approve")), "{page}");
        let status = client.get(&format!("/ui/rollouts/{id}/status")).json();
        assert_eq!(
            status["gate"],
            "awaiting approval: wave wave-1 reaches a tier that asks for 1 approval(s); 0 given"
        );
        let csrf = client.csrf();
        let approved = client.post(
            &format!("/ui/rollouts/{id}/approve"),
            &[("csrf", &csrf), ("confirm", "1")],
        );
        assert_eq!(approved.status, 303, "{}", approved.body);
        let r = app.get(&format!("/api/v1/rollouts/{id}")).json();
        assert_eq!(r["state"], "planned");
        assert_eq!(r["approvals"][0]["by"], "ui-operator");
    }
);
