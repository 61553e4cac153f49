//! `export` and `import`: the export is one YAML stream that `validate` and `import` read, and
//! a full export imported into an empty database renders every cluster byte for byte as before,
//! from SQLite to PostgreSQL and back.

use std::collections::BTreeMap;

use platform_catalog::service::AppState;
use serde_json::json;

use crate::support::app::{database, Backend, TestApp};
use crate::support::{run, Scratch};

/// A cluster's YAML, JSON and inputs renders.
type Bodies = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Every cluster's renders, by name.
fn renders(state: &AppState) -> BTreeMap<String, Bodies> {
    let mut conn = state.conn().unwrap();
    platform_catalog::store::clusters(&mut conn)
        .unwrap()
        .into_iter()
        .map(|c| {
            let r =
                platform_catalog::service::current_render(state, &c.name).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            (c.name, (r.yaml.to_vec(), r.json.to_vec(), r.inputs.to_vec()))
        })
        .collect()
}

fn export(url: &str, extra: &[&str]) -> String {
    let out = run(&[&["export", "--database-url", url], extra].concat(), None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout
}

fn import(url: &str, stream: &str) {
    let dir = Scratch::new();
    let file = dir.path().join("backup.yaml");
    std::fs::write(&file, stream).unwrap();
    let out = run(&["import", file.to_str().unwrap(), "--database-url", url], None);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

fn ok(reply: crate::support::app::Reply) {
    assert!(reply.status < 300, "{}: {}", reply.status, reply.body);
}

/// The example fleet moved on by every kind of write whose result a render shows or an
/// import must keep: a hold that keeps a component through a release, a hotfix with its own
/// path, an override that expires, a tier policy that pins digests, a component taken off a
/// cluster, a cluster-wide pin, and several revisions per cluster.
fn moved_on(app: &TestApp) {
    let in_a_week =
        (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    ok(app.post(
        "/api/v1/holds",
        &json!({"cluster": "prod-eu-1", "component": "grafana", "reason": "customer freeze", "expires_at": in_a_week}),
    ));
    crate::api_catalog::register_v120(app);
    ok(app.post(
        "/api/v1/releases",
        &json!({"artifact": "platform", "oci_tag": "v1.2.0"}),
    ));
    ok(app.post(
        "/api/v1/hotfixes",
        &json!({"component": "external-dns", "oci_tag": "v1.1.0-1", "component_path": "core/external-dns/1.14.2",
                "selector": {"clusters": ["prod-eu-1"]}, "reason": "CVE-2026-7"}),
    ));
    ok(app.patch(
        "/api/v1/clusters/qa-eu-1/components/grafana",
        &json!({"oci_tag": "v1.1.0-rc1", "reason": "canary", "expires_at": in_a_week}),
    ));
    ok(app.put(
        "/api/v1/tiers/qa",
        &json!({"allow_mutable": false, "allow_prerelease": true, "pin_digest": true, "require_known_tag": true}),
    ));
    ok(app.delete("/api/v1/clusters/dev-eu-1/components/grafana"));
    ok(app.patch("/api/v1/clusters/prod-us-1", &json!({"oci_tag": "v1.1.0"})));
}

#[test]
fn a_full_export_imported_from_sqlite_into_postgresql_and_back_renders_every_cluster_byte_for_byte() {
    let app = TestApp::with_fleet(Backend::Sqlite);
    moved_on(&app);
    let before = renders(&app.state);
    assert_eq!(before.len(), 4);
    let backup = export(&app.database_url, &["--all"]);

    let (_pg, pg_url) = database(Backend::Postgres);
    import(&pg_url, &backup);
    let pg = platform_catalog::server::open(&pg_url, 2).unwrap();
    assert_eq!(renders(&pg), before, "PostgreSQL renders what SQLite rendered");
    let again = export(&pg_url, &["--all"]);
    assert_eq!(again, backup, "the import holds everything the export said");

    let (_lite, lite_url) = database(Backend::Sqlite);
    import(&lite_url, &again);
    let lite = platform_catalog::server::open(&lite_url, 2).unwrap();
    assert_eq!(renders(&lite), before, "and back to SQLite, the same again");
    let holds = platform_catalog::service::holds::list(&lite).unwrap();
    assert_eq!(
        holds
            .iter()
            .map(|h| (h.cluster.as_deref(), h.reason.as_str()))
            .collect::<Vec<_>>(),
        [(Some("prod-eu-1"), "customer freeze")]
    );
}

#[test]
fn a_full_export_is_refused_while_a_rollout_moves_clusters() {
    let app = TestApp::with_fleet(Backend::Sqlite);
    crate::api_catalog::register_v120(&app);
    ok(app.post(
        "/api/v1/rollouts",
        &json!({"component": "grafana", "oci_tag": "v1.2.0"}),
    ));
    let out = run(&["export", "--all", "--database-url", &app.database_url], None);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("rollout(s) 1 (planned) still move clusters"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_default_export_is_one_stream_that_validate_and_import_accept() {
    let app = TestApp::with_fleet(Backend::Sqlite);
    let stream = export(&app.database_url, &[]);
    assert_eq!(
        stream.matches("---\n").count(),
        2,
        "the catalog, then the clusters: {stream}"
    );
    let dir = Scratch::new();
    let file = dir.path().join("export.yaml");
    std::fs::write(&file, &stream).unwrap();
    let file = file.to_str().unwrap();
    let validated = run(&["validate", file], None);
    assert_eq!(validated.code, 0, "{}", validated.stdout);
    assert!(
        validated
            .stdout
            .ends_with("valid (5 components, 1 artifact, 3 tiers)\n"),
        "{}",
        validated.stdout
    );

    // The builds are not part of the default export: a new database takes them (with the
    // catalog they belong to) first.
    let (_db, url) = database(Backend::Sqlite);
    let tags = run(
        &[
            "import",
            "--catalog",
            "COMPONENTS.yaml",
            "--tags",
            "examples/tags.yaml",
            "--database-url",
            &url,
        ],
        None,
    );
    assert_eq!(tags.code, 0, "{}", tags.stderr);
    import(&url, &stream);
    let state = platform_catalog::server::open(&url, 2).unwrap();
    assert_eq!(renders(&state), renders(&app.state));
    assert_eq!(export(&url, &[]), stream);
}
