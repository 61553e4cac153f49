//! Digest-pinned renders and path verification against a real registry.

use serde_json::{json, Value};

use crate::api_registry::{caller, catalog_text, Fixture, REPO};
use crate::both;
use crate::support::app::Backend;

fn verify_paths(f: &Fixture) {
    f.app
        .state
        .set_registry_settings(platform_catalog::registry::RegistrySettings {
            verify_paths: true,
            retries: 1,
            ..Default::default()
        })
        .unwrap();
}

/// Each OCIRepository's `spec.ref` in a rendered cluster, by component.
fn oci_refs(render_json: &Value) -> Vec<(String, Value)> {
    let items = render_json["items"]
        .as_array()
        .or_else(|| render_json.as_array())
        .expect("a list of objects");
    items
        .iter()
        .filter(|o| o["kind"] == "OCIRepository")
        .map(|o| {
            (
                o["metadata"]["name"].as_str().unwrap().to_owned(),
                o["spec"]["ref"].clone(),
            )
        })
        .collect()
}

both!(
    a_prod_render_is_pinned_to_the_digests_the_registry_reported,
    |b: Backend| {
        let Some(f) = Fixture::new(b) else { return };
        f.sync();
        f.import_clusters();
        let reply = f.app.get("/api/v1/clusters/prod-eu-1/render?format=json");
        assert_eq!(reply.status, 200, "{}", reply.body);
        let refs = oci_refs(&reply.json());
        assert!(!refs.is_empty());
        for (name, r) in &refs {
            let digest = r["digest"]
                .as_str()
                .unwrap_or_else(|| panic!("{name} is not pinned: {r}"));
            let expected = if name.contains("cert-manager") {
                "v1.1.0-1"
            } else {
                "v1.1.0"
            };
            assert_eq!(digest, f.pushed[expected], "{name}");
            assert_eq!(Some(digest.to_owned()), f.registry.digest(REPO, expected));
        }
        let dev = f.app.get("/api/v1/clusters/dev-eu-1/render?format=json");
        assert!(
            oci_refs(&dev.json()).iter().all(|(_, r)| r.get("digest").is_none()),
            "dev follows tags"
        );
    }
);

both!(
    a_pinned_render_whose_tag_has_no_digest_is_409_naming_the_tag,
    |b: Backend| {
        let Some(f) = Fixture::new(b) else { return };
        f.sync();
        f.import_clusters();
        let registered = f.app.post("/api/v1/artifacts/platform/tags", &json!({"tag": "v1.2.0"}));
        assert_eq!(registered.status, 201, "{}", registered.body);
        // An import that would point prod at a build without a digest is refused like any write.
        let text = catalog_text(&f.registry, "").replace("    oci_tag: v1.1.0  ", "    oci_tag: v1.2.0  ");
        let loaded = catalog::validate::load("COMPONENTS.yaml", &text).expect("valid");
        let refused =
            platform_catalog::service::import_catalog(&f.app.state, &caller(), loaded.catalog.to_document(), "test")
                .expect_err("the import is refused");
        assert!(
            refused
                .to_string()
                .starts_with("tier prod refuses tag \"v1.2.0\" (rule pin_digest)"),
            "{refused}"
        );
        assert_eq!(f.app.get("/api/v1/clusters/prod-eu-1/render").status, 200);
        // A digest lost behind the service's back (a database edited by hand): the render is
        // refused, never served by bare tag.
        {
            use diesel::connection::SimpleConnection;
            let mut conn = platform_catalog::db::connect(&f.app.database_url).expect("a second connection");
            conn.batch_execute("UPDATE artifact_tags SET digest = NULL WHERE tag = 'v1.1.0'")
                .expect("the digest is removed");
        }
        // prod-us-1 was never rendered, so no cached render hides the lost digest.
        let reply = f.app.get("/api/v1/clusters/prod-us-1/render");
        assert_eq!(reply.status, 409, "{}", reply.body);
        let detail = reply.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("no digest is known for tag \"v1.1.0\""), "{detail}");
        assert!(detail.contains("never served a bare tag"), "{detail}");
    }
);

both!(
    an_override_to_a_path_missing_from_the_build_is_422_naming_path_tag_and_digest,
    |b: Backend| {
        let Some(f) = Fixture::new(b) else { return };
        f.sync();
        f.import_clusters();
        verify_paths(&f);
        let put = |body: Value| f.app.put("/api/v1/clusters/dev-eu-1/components/grafana", &body);
        let refused =
            put(json!({"oci_tag": "v1.1.0", "component_path": "observability/grafana/9.9.9", "reason": "try"}));
        assert_eq!(refused.status, 422, "{}", refused.body);
        let detail = refused.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.contains("observability/grafana/9.9.9/dev/kustomization.yaml"),
            "{detail}"
        );
        assert!(detail.contains("v1.1.0"), "{detail}");
        assert!(detail.contains(&f.pushed["v1.1.0"]), "{detail}");
        let unchanged = f.app.get("/api/v1/clusters/dev-eu-1/components").body;
        assert!(!unchanged.contains("9.9.9"), "nothing was written: {unchanged}");

        let accepted =
            put(json!({"oci_tag": "v1.0.0", "component_path": "observability/grafana/7.3.9", "reason": "rollback"}));
        assert_eq!(accepted.status, 200, "{}", accepted.body);

        let release = f.app.post(
            "/api/v1/releases",
            &json!({"artifact": "platform", "oci_tag": "v1.1.0",
                "components": [{"id": "grafana", "component_path": "observability/grafana/8.0.0"}]}),
        );
        assert_eq!(release.status, 422, "{}", release.body);
        assert!(
            release.body.contains("observability/grafana/8.0.0/"),
            "{}",
            release.body
        );
    }
);

both!(
    a_cached_listing_still_checks_paths_while_the_registry_is_down,
    |b: Backend| {
        let Some(mut f) = Fixture::new(b) else { return };
        f.sync();
        f.import_clusters();
        verify_paths(&f);
        let put = |body: Value| f.app.put("/api/v1/clusters/dev-eu-1/components/grafana", &body);
        let first =
            put(json!({"oci_tag": "v1.1.0-rc1", "component_path": "observability/grafana/7.3.9", "reason": "pin"}));
        assert_eq!(first.status, 200, "{}", first.body);
        let cached = f.app.state.registry().unwrap().cached_listings();
        assert_eq!(cached, 1);
        f.registry.stop();

        let refused =
            put(json!({"oci_tag": "v1.1.0-rc1", "component_path": "observability/grafana/0.0.1", "reason": "pin"}));
        assert_eq!(
            refused.status, 422,
            "the cached listing of v1.1.0-rc1 answers: {}",
            refused.body
        );
        // An uncached build cannot be checked while the registry is down: the write is not blocked.
        let unchecked =
            put(json!({"oci_tag": "v1.0.0", "component_path": "observability/grafana/0.0.1", "reason": "pin"}));
        assert_eq!(unchecked.status, 200, "{}", unchecked.body);
        // The registry is remembered as down for a while, so later writes do not wait out the
        // retries again; cached listings still answer meanwhile.
        let registry = f.app.state.registry().unwrap();
        assert!(registry.down_recently(&f.registry.addr));
        let still_refused =
            put(json!({"oci_tag": "v1.1.0-rc1", "component_path": "observability/grafana/0.0.2", "reason": "pin"}));
        assert_eq!(still_refused.status, 422, "{}", still_refused.body);
    }
);

both!(
    a_rollout_to_a_path_missing_from_the_build_is_refused_before_it_is_stored,
    |b: Backend| {
        let Some(f) = Fixture::new(b) else { return };
        f.sync();
        f.import_clusters();
        verify_paths(&f);
        let body = json!({"component": "grafana", "oci_tag": "v1.1.0-1",
            "component_paths": {"grafana": "observability/grafana/9.9.9"}});
        let dry = f.app.post("/api/v1/rollouts?dry_run=true", &body);
        assert_eq!(dry.status, 422, "{}", dry.body);
        let refused = f.app.post("/api/v1/rollouts", &body);
        assert_eq!(refused.status, 422, "{}", refused.body);
        let detail = refused.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.contains("observability/grafana/9.9.9/dev/kustomization.yaml"),
            "{detail}"
        );
        assert!(detail.contains(&f.pushed["v1.1.0-1"]), "{detail}");
        let stored = f.app.get("/api/v1/rollouts");
        assert_eq!(stored.status, 200, "{}", stored.body);
        assert_eq!(stored.json(), json!({"items": []}), "nothing was stored");

        let existing = f.app.post(
            "/api/v1/rollouts",
            &json!({"component": "grafana", "oci_tag": "v1.1.0-1",
                "component_paths": {"grafana": "observability/grafana/7.3.9"}}),
        );
        assert_eq!(existing.status, 201, "{}", existing.body);
    }
);

both!(
    a_hotfix_or_a_component_change_to_a_path_missing_from_the_build_is_422,
    |b: Backend| {
        let Some(f) = Fixture::new(b) else { return };
        f.sync();
        f.import_clusters();
        verify_paths(&f);
        let hotfix = f.app.post(
            "/api/v1/hotfixes",
            &json!({"component": "grafana", "oci_tag": "v1.1.0-1",
                "component_path": "observability/grafana/9.9.9", "selector": {"clusters": ["prod-eu-1"]}}),
        );
        assert_eq!(hotfix.status, 422, "{}", hotfix.body);
        assert!(
            hotfix
                .body
                .contains("observability/grafana/9.9.9/prod/kustomization.yaml"),
            "{}",
            hotfix.body
        );
        let patched = f.app.patch(
            "/api/v1/components/grafana",
            &json!({"component_path": "observability/grafana/9.9.9"}),
        );
        assert_eq!(patched.status, 422, "{}", patched.body);
        assert!(
            patched.body.contains("observability/grafana/9.9.9/"),
            "{}",
            patched.body
        );
        let component = f.app.get("/api/v1/components/grafana").json();
        assert_eq!(
            component["component_path"], "observability/grafana/7.3.9",
            "nothing was written"
        );
    }
);
