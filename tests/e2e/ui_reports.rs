//! The console's drift and audit pages over HTTP, on SQLite and PostgreSQL: the API's filters,
//! and links from each finding and entry to its cluster or rollout.

use platform_catalog::service::tokens::Role;
use serde_json::json;

use crate::api_events::{at, event, report};
use crate::both;
use crate::support::app::{Backend, TestApp};
use crate::support::console::Client;

both!(
    the_drift_page_lists_a_failed_component_linking_to_its_cluster,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
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
        let viewer = app.issue("ui-viewer", Role::Viewer, None);
        let mut client = Client::new(&app);
        client.sign_in(&viewer, &[]);
        let page = client.get("/ui/drift?kind=failed").body;
        assert!(
        page.contains("<td>≠ failed</td><td>prod</td><td><a href=\"/ui/clusters/prod-eu-1\">prod-eu-1</a></td><td>grafana</td>"),
        "{page}"
    );
        assert!(client.get("/ui/drift?kind=failed&tier=dev").body.contains("✓ No drift"));
        let bad = client.get("/ui/drift?kind=sideways");
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("must be one of version_mismatch"), "{}", bad.body);
    }
);

both!(
    the_audit_page_links_each_entry_to_its_cluster_or_rollout,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let put = app.put(
            "/api/v1/clusters/dev-eu-1/components/grafana",
            &json!({"oci_tag": "v1.0.0", "reason": "older"}),
        );
        assert_eq!(put.status, 200, "{}", put.body);
        let mut client = Client::new(&app);
        client.sign_in(&app.token, &[]);
        let page = client.get("/ui/audit?actor=test-admin").body;
        assert!(
        page.contains("<td>test-admin</td><td>assignment.put</td><td><a href=\"/ui/clusters/dev-eu-1\">cluster/dev-eu-1/components/grafana</a></td>"),
        "{page}"
    );
        assert!(!client.get("/ui/audit?actor=nobody").body.contains("assignment.put"));
    }
);
