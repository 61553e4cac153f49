//! The console's fleet matrix in a headless browser, on SQLite and PostgreSQL: cells, marks,
//! observed state from Flux events, filters, the CSV export, and user text shown as text.

use platform_catalog::service::tokens::Role;
use serde_json::json;

use crate::api_events::{at, event, report};
use crate::both;
use crate::support::app::{Backend, TestApp};
use crate::support::browser::Browser;
use crate::support::console::Client;

/// The script-free markup every user-supplied string is tried with.
pub(crate) const XSS: &str = "<script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\">";

/// The cell of `cluster` and `component` as the browser shows it: its text and classes.
fn cell(browser: &Browser, cluster: &str, component: &str) -> (String, String) {
    let script = format!(
        "const row = [...document.querySelectorAll('table.matrix tbody tr')].find(r => r.querySelector('th').textContent === '{cluster}');
         const col = [...row.closest('table').querySelectorAll('thead th')].findIndex(h => h.textContent === '{component}');
         const td = row.children[col];
         return [td.innerText, td.className, td.title];"
    );
    let v = browser.eval(&script);
    (
        v[0].as_str().unwrap_or("").replace('\n', " "),
        v[1].as_str().unwrap_or("").to_owned(),
    )
}

both!(
    the_matrix_shows_the_example_fleet_with_marks_and_turns_a_cell_failed_on_a_flux_event,
    |b: Backend| {
        let Some(browser) = Browser::start("ui_matrix::fleet") else {
            return;
        };
        let app = TestApp::with_fleet(b);
        let token = app.issue("ui-viewer", Role::Viewer, None);
        browser.sign_in(&app.base, &token);
        let tiers: Vec<String> = browser.all("main h2").iter().map(|e| browser.text(e)).collect();
        assert_eq!(tiers, ["Tier dev", "Tier qa", "Tier prod"]);
        assert_eq!(
            cell(&browser, "qa-eu-1", "grafana"),
            (
                "v1.1.0-rc1 ◆ override ? unknown".into(),
                "cell st-unknown pv-override".into()
            )
        );
        assert_eq!(
            cell(&browser, "prod-eu-1", "grafana"),
            ("v1.1.0 ○ default ? unknown".into(), "cell st-unknown pv-default".into())
        );
        assert_eq!(cell(&browser, "prod-us-1", "external-dns").0, "— not run");
        let summary: Vec<String> = browser
            .all("#tier-prod + ul.summary li")
            .iter()
            .map(|e| browser.text(e))
            .collect();
        assert!(summary.contains(&"grafana: v1.1.0 ×2".to_owned()), "{summary:?}");

        report(
            &app,
            "prod-eu-1",
            &event(
                "Kustomization",
                "grafana",
                "error",
                "ReconciliationFailed",
                None,
                &at(-5),
            ),
        );
        browser.goto(&format!("{}/ui/", app.base));
        assert_eq!(
            cell(&browser, "prod-eu-1", "grafana"),
            ("v1.1.0 ○ default ✗ failed".into(), "cell st-failed pv-default".into())
        );
        if b == Backend::Sqlite {
            browser.screenshot("docs/screenshots/matrix.png");
        }

        // The filter form narrows the rows; the wide mode shows each path.
        browser.goto(&format!("{}/ui/?tier=prod&name=us&wide=1", app.base));
        let rows: Vec<String> = browser
            .all("table.matrix tbody th")
            .iter()
            .map(|e| browser.text(e))
            .collect();
        assert_eq!(rows, ["prod-us-1"]);
        assert_eq!(
            cell(&browser, "prod-us-1", "grafana").0,
            "v1.1.0 ○ default ? unknown observability/grafana/7.3.9"
        );
    }
);

both!(the_csv_link_exports_the_rows_the_matrix_shows, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let token = app.issue("ui-viewer", Role::Viewer, None);
    let mut client = Client::new(&app);
    client.sign_in(&token, &[]);
    let page = client.get("/ui/?tier=qa");
    assert!(page.body.contains("href=\"/ui/fleet.csv?tier=qa\""), "{}", page.body);
    let csv = client.get("/ui/fleet.csv?tier=qa");
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], platform_catalog::http::fleet::CSV_HEADER);
    assert!(lines[1..].iter().all(|l| l.starts_with("qa-eu-1,qa,")), "{lines:?}");
    assert!(
        lines.contains(&"qa-eu-1,qa,region=eu-west-1,grafana,v1.1.0-rc1,observability/grafana/7.3.9,override,canary,,")
    );
});

both!(
    markup_in_an_override_reason_is_shown_as_text_and_never_runs,
    |b: Backend| {
        let Some(browser) = Browser::start("ui_matrix::xss") else {
            return;
        };
        let app = TestApp::with_fleet(b);
        let put = app.put(
            "/api/v1/clusters/dev-eu-1/components/grafana",
            &json!({"oci_tag": "v1.0.0", "reason": XSS}),
        );
        assert_eq!(put.status, 200, "{}", put.body);
        browser.sign_in(&app.base, &app.token);
        let title = browser.eval(
        "return [...document.querySelectorAll('td.pv-override')].map(td => td.title).find(t => t.includes('pwned'));",
    );
        assert_eq!(
            title.as_str(),
            Some(format!("observability/grafana/7.3.9 · {XSS}").as_str())
        );
        assert_eq!(browser.eval("return typeof window.pwned;"), json!("undefined"));
        assert_eq!(browser.all("main script, main img").len(), 0);
    }
);
