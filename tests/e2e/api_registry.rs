//! The catalog against a real registry: tag sync, moved tags, a registry that is down.

use std::collections::BTreeMap;

use platform_catalog::service::{self, Caller};
use serde_json::Value;

use crate::both;
use crate::support::app::{yaml_file, Backend, TestApp};
use crate::support::registry::TestRegistry;
use crate::support::{repo_root, run, Scratch};

pub const REPO: &str = "platform/components";
/// The builds CI pushed, oldest first; v1.1.0-1 is the hotfix the example catalog names.
pub const TAGS: [&str; 5] = ["v1.0.0", "v1.0.0-1", "v1.1.0-rc1", "v1.1.0", "v1.1.0-1"];

/// A registry holding the example tree under every tag of [`TAGS`], and a service whose
/// catalog points at it.
pub struct Fixture {
    pub registry: TestRegistry,
    pub app: TestApp,
    pub tree: Scratch,
    /// The digest `push` printed for each tag.
    pub pushed: BTreeMap<String, String>,
}

pub fn caller() -> Caller {
    Caller::internal("test", "test")
}

/// The example COMPONENTS.yaml with its artifact in `registry` (plain http).
pub fn catalog_text(registry: &TestRegistry, extra: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join("COMPONENTS.yaml")).expect("the example catalog");
    let url = registry.url(REPO);
    let replaced = text.replace(
        "    url: oci://registry.example.com/platform/components\n",
        &format!("    url: {url}\n    insecure: true\n{extra}"),
    );
    assert_ne!(replaced, text, "the example catalog names its artifact url as expected");
    replaced
}

pub fn push(registry: &TestRegistry, tree: &Scratch, tag: &str, extra: &[&str]) -> String {
    let (dir, url) = (tree.path().display().to_string(), registry.url(REPO));
    let revision = format!("main@sha1:{tag}");
    let mut args = vec![
        "push",
        "--insecure",
        "--tree",
        &dir,
        "--artifact",
        &url,
        "--tag",
        tag,
        "--revision",
        &revision,
    ];
    args.extend_from_slice(extra);
    let out = run(&args, None);
    assert_eq!(out.code, 0, "push {tag}: {}", out.stderr);
    out.stdout.trim().to_owned()
}

impl Fixture {
    pub fn new(b: Backend) -> Option<Fixture> {
        Fixture::with_catalog_extra(b, "")
    }

    /// `extra` is YAML added to the artifact entry (e.g. `    sync_interval: 1s\n`).
    pub fn with_catalog_extra(b: Backend, extra: &str) -> Option<Fixture> {
        let registry = TestRegistry::start()?;
        let tree = Scratch::with_example_tree();
        let mut pushed = BTreeMap::new();
        for tag in TAGS {
            pushed.insert(tag.to_owned(), push(&registry, &tree, tag, &[]));
        }
        let app = TestApp::driven_by_hand(b);
        let text = catalog_text(&registry, extra);
        let loaded = catalog::validate::load("COMPONENTS.yaml", &text).expect("the test catalog is valid");
        service::import_catalog(&app.state, &caller(), loaded.catalog.to_document(), "test").expect("import");
        Some(Fixture {
            registry,
            app,
            tree,
            pushed,
        })
    }

    pub fn sync(&self) -> Value {
        let reply = self.app.post("/api/v1/artifacts/platform/sync", &serde_json::json!({}));
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }

    /// The example clusters (after a sync, so the tags they name are known).
    pub fn import_clusters(&self) {
        let clusters: service::fleet::ClustersDocument = yaml_file("examples/clusters.yaml");
        service::fleet::import(&self.app.state, &caller(), clusters).expect("clusters import");
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

both!(
    a_sync_stores_every_tag_with_the_registry_digest_in_release_order,
    |b: Backend| {
        let Some(f) = Fixture::new(b) else { return };
        let report = f.sync();
        assert_eq!(report["registry_tags"], 5);
        let mut expected: Vec<String> = TAGS.iter().map(|t| t.to_string()).collect();
        expected.sort();
        assert_eq!(strings(&report["new_tags"]), expected);
        assert_eq!(report["moved_tags"], serde_json::json!([]));

        let tags = f.app.get("/api/v1/artifacts/platform/tags").json()["items"].clone();
        let order: Vec<&str> = tags
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["tag"].as_str().unwrap())
            .collect();
        assert_eq!(order, ["v1.1.0-1", "v1.1.0", "v1.1.0-rc1", "v1.0.0-1", "v1.0.0"]);
        for t in tags.as_array().unwrap() {
            let tag = t["tag"].as_str().unwrap();
            let registry_digest = f.registry.digest(REPO, tag).expect("the registry knows the tag");
            assert_eq!(t["digest"].as_str(), Some(registry_digest.as_str()), "{tag}");
            assert_eq!(t["digest"].as_str(), Some(f.pushed[tag].as_str()), "{tag}");
            assert!(t["first_seen_at"].as_str().is_some_and(|s| s.ends_with('Z')), "{t}");
            assert!(t.get("moved").is_none(), "{t}");
        }
        let distinct: std::collections::BTreeSet<&String> = f.pushed.values().collect();
        assert_eq!(distinct.len(), 5, "each tag's build has its own digest");

        let again = f.sync();
        assert_eq!(again["new_tags"], serde_json::json!([]));
        assert_eq!(again["registry_tags"], 5);
        let artifact = f.app.get("/api/v1/artifacts/platform").json();
        assert_eq!(artifact["tag_count"], 5);
        assert_eq!(artifact["insecure"], true);
        assert_eq!(artifact["last_sync"]["registry_tags"], 5);
        assert!(artifact["last_sync"].get("last_error").is_none(), "{artifact}");
    }
);

both!(
    a_tag_moved_in_the_registry_keeps_its_pinned_digest_and_is_reported_once,
    |b: Backend| {
        let Some(f) = Fixture::new(b) else { return };
        f.sync();
        let old = f.pushed["v1.1.0"].clone();
        std::fs::write(f.tree.path().join("README.md"), "rebuilt over the same tag\n").expect("writable");
        let new = push(&f.registry, &f.tree, "v1.1.0", &["--force"]);
        assert_ne!(new, old);
        assert_eq!(f.registry.digest(REPO, "v1.1.0"), Some(new.clone()));

        let report = f.sync();
        let moved = report["moved_tags"].as_array().expect("moved_tags");
        assert_eq!(moved.len(), 1, "{report}");
        assert_eq!(
            (
                moved[0]["tag"].as_str(),
                moved[0]["pinned_digest"].as_str(),
                moved[0]["registry_digest"].as_str()
            ),
            (Some("v1.1.0"), Some(old.as_str()), Some(new.as_str()))
        );
        let tags = f.app.get("/api/v1/artifacts/platform/tags").json()["items"].clone();
        let v110 = tags
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["tag"] == "v1.1.0")
            .expect("v1.1.0");
        assert_eq!(v110["digest"].as_str(), Some(old.as_str()), "the pinned digest is kept");
        assert_eq!(v110["moved"]["registry_digest"].as_str(), Some(new.as_str()));
        let others_moved = tags
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t.get("moved").is_some())
            .count();
        assert_eq!(others_moved, 1);

        let audit = f.app.get("/api/v1/audit?target=artifact/platform/tags/v1.1.0").json();
        let actions: Vec<&str> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions.iter().filter(|a| **a == "tag.moved").count(), 1, "{audit}");

        let again = f.sync();
        assert_eq!(
            again["moved_tags"],
            serde_json::json!([]),
            "a known move is not reported again"
        );
    }
);

both!(
    a_stopped_registry_fails_the_sync_with_503_but_reads_and_renders_still_work,
    |b: Backend| {
        let Some(mut f) = Fixture::new(b) else { return };
        f.sync();
        f.import_clusters();
        let before = f.app.get("/api/v1/clusters/prod-eu-1/render");
        assert_eq!(before.status, 200, "{}", before.body);
        f.registry.stop();

        let started = std::time::Instant::now();
        let failed = f.app.post("/api/v1/artifacts/platform/sync", &serde_json::json!({}));
        assert_eq!(failed.status, 503, "{}", failed.body);
        let problem = failed.json();
        assert_eq!(problem["type"], "urn:platform-catalog:problem:registry-unavailable");
        assert!(
            problem["detail"].as_str().unwrap().contains(&f.registry.addr),
            "{problem}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "retries are bounded"
        );

        let render = f.app.get("/api/v1/clusters/prod-eu-1/render");
        assert_eq!((render.status, render.body.as_str()), (200, before.body.as_str()));
        assert_eq!(f.app.get("/api/v1/artifacts/platform/tags").status, 200);
        let artifact = f.app.get("/api/v1/artifacts/platform").json();
        let status = &artifact["last_sync"];
        assert!(
            status["last_error"].as_str().is_some_and(|e| e.contains("unavailable")),
            "{artifact}"
        );
        assert!(
            status["last_success_at"].as_str().is_some(),
            "the earlier success is kept: {artifact}"
        );

        f.registry.restart();
        assert_eq!(f.sync()["registry_tags"], 5);
    }
);

both!(a_sync_follows_the_registry_pages, |b: Backend| {
    let Some(f) = Fixture::new(b) else { return };
    f.app
        .state
        .set_registry_settings(platform_catalog::registry::RegistrySettings {
            tag_page: 2,
            ..Default::default()
        })
        .unwrap();
    let report = f.sync();
    assert_eq!(
        report["registry_tags"], 5,
        "each tag once, whether or not the registry honours `n`"
    );
    assert_eq!(report["new_tags"].as_array().unwrap().len(), 5);
    let tags = f.app.get("/api/v1/artifacts/platform/tags").json()["items"].clone();
    assert_eq!(tags.as_array().unwrap().len(), 5);
});

both!(
    the_periodic_sync_runs_for_artifacts_with_a_sync_interval,
    |b: Backend| {
        let Some(f) = Fixture::with_catalog_extra(b, "    sync_interval: 1h\n") else {
            return;
        };
        let first = service::sync::sync_due(&f.app.state).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].1.as_ref().unwrap().new_tags.len(), 5);
        let second = service::sync::sync_due(&f.app.state).unwrap();
        assert!(second.is_empty(), "not due again within the hour");
        let artifact = f.app.get("/api/v1/artifacts/platform").json();
        assert_eq!(artifact["sync_interval"], "1h");
    }
);
