//! Start-up files in the real binary: they seed an empty database, a restart with the same
//! files never undoes what the API did, and edited files are refused (or applied through the
//! write engine with `--apply-files`). Also: `kill -9` in the middle of a write leaves all of it
//! or none of it.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::both;
use crate::support::app::{database, Backend};
use crate::support::serve::{Served, FILES};
use crate::support::{repo_root, Scratch};

const V120: &str = "sha256:1212121212121212121212121212121212121212121212121212121212121212";

/// The example catalog with the artifact's default moved to `tag`, written into `dir`.
fn edited_catalog(dir: &Scratch, tag: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join("COMPONENTS.yaml")).expect("the example catalog");
    let edited = text.replacen("oci_tag: v1.1.0 ", &format!("oci_tag: {tag} "), 1);
    assert_ne!(text, edited, "the example catalog names its default as expected");
    let path = dir.path().join("COMPONENTS.yaml");
    std::fs::write(&path, edited).expect("the edited catalog is written");
    path.display().to_string()
}

fn register_v120(s: &Served, token: &str) {
    let tag = json!({"tag": "v1.2.0", "digest": V120});
    let (status, body) = s.send("POST", "/api/v1/artifacts/platform/tags", token, Some(&tag));
    assert_eq!(status, 201, "{body}");
}

fn with_catalog<'a>(catalog: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--catalog", catalog, "--tags", "examples/tags.yaml"];
    args.extend_from_slice(&["--clusters", "examples/clusters.yaml"]);
    args.extend_from_slice(rest);
    args
}

fn artifact_default(s: &Served, token: &str) -> Value {
    let (status, artifact) = s.send("GET", "/api/v1/artifacts/platform", token, None);
    assert_eq!(status, 200, "{artifact}");
    artifact["oci_tag"].clone()
}

both!(
    rerunning_the_setup_command_after_an_api_release_keeps_the_release,
    |b: Backend| {
        let dir = Scratch::new();
        let (_db, url) = database(b);
        let first = Served::start_with(&url, dir.path(), "first", &FILES);
        assert!(
            first.log().contains("seeded the empty database from the files"),
            "{}",
            first.log()
        );
        let token = first.first_token();
        register_v120(&first, &token);
        let release = json!({"artifact": "platform", "oci_tag": "v1.2.0"});
        let (status, body) = first.send("POST", "/api/v1/releases", &token, Some(&release));
        assert_eq!(status, 200, "{body}");
        let collapse = json!({"cluster": "qa-eu-1", "component": "grafana"});
        let (status, body) = first.send("POST", "/api/v1/overrides/collapse", &token, Some(&collapse));
        assert_eq!(status, 200, "{body}");
        drop(first);

        let second = Served::start_with(&url, dir.path(), "second", &FILES);
        assert_eq!(artifact_default(&second, &token), "v1.2.0", "{}", second.log());
        let (_, components) = second.send("GET", "/api/v1/clusters/qa-eu-1/components", &token, None);
        assert!(
            !components.to_string().contains("v1.1.0-rc1"),
            "the canary stays collapsed: {components}"
        );
        assert!(!second.log().contains("seeded"), "{}", second.log());
    }
);

both!(
    a_start_with_edited_files_refuses_listing_what_would_change_until_apply_files,
    |b: Backend| {
        let dir = Scratch::new();
        let (_db, url) = database(b);
        let first = Served::start_with(&url, dir.path(), "first", &FILES);
        let token = first.first_token();
        drop(first);

        let catalog = edited_catalog(&dir, "v1.0.0");
        let (code, log) = Served::refused(&url, dir.path(), "refused", &with_catalog(&catalog, &[]));
        assert_eq!(code, 1, "{log}");
        assert!(
            log.contains("  catalog.artifacts[platform].oci_tag: stored \"v1.1.0\", file \"v1.0.0\"\n"),
            "{log}"
        );
        assert!(log.contains("--apply-files"), "{log}");

        let unchanged = Served::start_with(&url, dir.path(), "unchanged", &[]);
        assert_eq!(artifact_default(&unchanged, &token), "v1.1.0");
        drop(unchanged);

        let applied = Served::start_with(&url, dir.path(), "applied", &with_catalog(&catalog, &["--apply-files"]));
        assert_eq!(artifact_default(&applied, &token), "v1.0.0");
        let (_, audit) = applied.send("GET", "/api/v1/audit?target=catalog", &token, None);
        assert_eq!(audit["items"][0]["action"], "catalog.import", "{audit}");
        assert_eq!(audit["items"][0]["actor"], "files", "{audit}");
    }
);

both!(
    apply_files_that_move_what_an_active_rollout_moves_is_refused_naming_it,
    |b: Backend| {
        let dir = Scratch::new();
        let (_db, url) = database(b);
        let first = Served::start_with(&url, dir.path(), "first", &FILES);
        let token = first.first_token();
        let rollout = json!({"component": "grafana", "oci_tag": "v1.1.0-1"});
        let (status, body) = first.send("POST", "/api/v1/rollouts", &token, Some(&rollout));
        assert_eq!(status, 201, "{body}");
        let id = body["id"].clone();
        drop(first);

        let catalog = edited_catalog(&dir, "v1.0.0");
        let args = with_catalog(&catalog, &["--apply-files"]);
        let (code, log) = Served::refused(&url, dir.path(), "refused", &args);
        assert_eq!(code, 1, "{log}");
        assert!(
            log.contains(&format!(
                "error: rollout {id} (planned) is moving grafana to v1.1.0-1: complete or abort it before changing its default"
            )),
            "{log}"
        );
        let after = Served::start_with(&url, dir.path(), "after", &[]);
        assert_eq!(artifact_default(&after, &token), "v1.1.0");
    }
);

/// Waits until some connection holds the write lock (a write transaction is open); false when
/// none did within 20 s.
fn wait_for_a_write(url: &str) -> bool {
    use diesel::connection::SimpleConnection;
    let mut probe = platform_catalog::db::connect(url).expect("a second connection");
    let (take, release) = match platform_catalog::db::Backend::of(url) {
        platform_catalog::db::Backend::Sqlite => ("PRAGMA busy_timeout = 0; BEGIN IMMEDIATE;", "ROLLBACK"),
        platform_catalog::db::Backend::Postgres => (
            "BEGIN; SELECT generation FROM write_lock FOR UPDATE NOWAIT;",
            "ROLLBACK",
        ),
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        let free = probe.batch_execute(take).is_ok();
        let _ = probe.batch_execute(release);
        if !free {
            return true;
        }
    }
    false
}

/// Every cluster's current revision and the tag its grafana runs, as the API shows them.
fn fleet_state(s: &Served, token: &str) -> Vec<(String, i64, String)> {
    let (_, list) = s.send("GET", "/api/v1/clusters?limit=500", token, None);
    let mut out = Vec::new();
    for c in list["items"].as_array().expect("clusters") {
        let name = c["name"].as_str().unwrap_or_default().to_owned();
        let (_, eff) = s.send("GET", &format!("/api/v1/clusters/{name}/effective"), token, None);
        let grafana = eff["components"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["id"] == "grafana"))
            .map(|x| x["oci_tag"]["value"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        out.push((name, c["revision"].as_i64().unwrap_or_default(), grafana));
    }
    out
}

both!(
    kill_9_in_the_middle_of_a_write_leaves_all_of_it_or_none,
    |b: Backend| {
        let dir = Scratch::new();
        let (_db, url) = database(b);
        let clusters = dir.path().join("clusters.yaml");
        let mut text = String::from("clusters:\n");
        for i in 0..600 {
            text.push_str(&format!(
                "  - {{name: c-{i:03}, tier: {}}}\n",
                ["dev", "qa", "prod"][i % 3]
            ));
        }
        std::fs::write(&clusters, text).expect("the clusters file");
        let clusters = clusters.display().to_string();
        let args = [
            "--catalog",
            "COMPONENTS.yaml",
            "--tags",
            "examples/tags.yaml",
            "--clusters",
            &clusters,
        ];
        let first = Served::start_with(&url, dir.path(), "first", &args);
        let token = first.first_token();
        register_v120(&first, &token);
        let before = fleet_state(&first, &token);

        // The release rewrites all 600 clusters in one transaction; the kill lands while it runs.
        let base = first.base.clone();
        let request_token = token.clone();
        let release = std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
            agent
                .post(&format!("{base}/api/v1/releases"))
                .header("authorization", &format!("Bearer {request_token}"))
                .header("content-type", "application/json")
                .send(json!({"artifact": "platform", "oci_tag": "v1.2.0"}).to_string())
                .map(|r| r.status().as_u16())
                .ok()
        });
        assert!(wait_for_a_write(&url), "the release never took the write lock");
        first.kill();
        let answered = release.join().expect("the request thread ends");

        let second = Served::start_with(&url, dir.path(), "second", &[]);
        let after = fleet_state(&second, &token);
        let moved = after.iter().filter(|(_, _, tag)| tag == "v1.2.0").count();
        let default = artifact_default(&second, &token);
        let (_, audit) = second.send("GET", "/api/v1/audit?target=catalog", &token, None);
        let released = audit["items"]
            .as_array()
            .is_some_and(|l| l.iter().any(|e| e["action"] == "release"));
        if default == "v1.2.0" {
            assert_eq!(moved, after.len(), "a committed release moved every cluster");
            assert!(released, "a committed release is audited: {audit}");
        } else {
            assert_eq!(
                after, before,
                "a release cut off leaves no trace (answered: {answered:?})"
            );
            assert_eq!(moved, 0);
            assert!(!released, "{audit}");
            assert_ne!(answered, Some(200), "a 200 means committed");
        }
        // Either way the database takes writes again at once.
        let started = Instant::now();
        let (status, body) = second.send(
            "POST",
            "/api/v1/releases",
            &token,
            Some(&json!({"artifact": "platform", "oci_tag": "v1.2.0"})),
        );
        assert!(status == 200, "{body}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
);
