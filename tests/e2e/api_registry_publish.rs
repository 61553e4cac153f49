//! Publishing cluster revisions as Flux artifacts to a real registry, and reading them back.

use chrono::Utc;
use platform_catalog::registry::{artifact, RegistrySettings, Target};
use platform_catalog::service::publish::{self, PublishSettings};
use serde_json::json;

use crate::api_registry::Fixture;
use crate::both;
use crate::support::app::Backend;

fn publish_to(f: &Fixture) {
    let target = Target::parse(&f.registry.url("clusters"), true).unwrap();
    f.app
        .state
        .set_publish_settings(Some(PublishSettings {
            target,
            channel: "live".into(),
        }))
        .unwrap();
}

const CLUSTERS: [&str; 4] = ["dev-eu-1", "qa-eu-1", "prod-eu-1", "prod-us-1"];

/// Every publication of every example cluster.
fn publication_count(f: &Fixture) -> usize {
    CLUSTERS
        .iter()
        .map(|c| {
            f.app
                .get(&format!("/api/v1/clusters/{c}/publications"))
                .json()
                .as_array()
                .unwrap()
                .len()
        })
        .sum()
}

/// The published files of a cluster at `reference` (a tag), with the manifest digest.
fn pulled(f: &Fixture, cluster: &str, reference: &str) -> (String, String) {
    let target = Target::parse(&f.registry.url(&format!("clusters/{cluster}")), true).unwrap();
    let (digest, data) = f
        .app
        .state
        .registry()
        .unwrap()
        .pull_content(&target, reference)
        .unwrap();
    let files = artifact::read_files(&data).unwrap();
    assert_eq!(files.keys().collect::<Vec<_>>(), [&format!("{cluster}.yaml")]);
    let yaml = String::from_utf8(files[&format!("{cluster}.yaml")].clone()).unwrap();
    (digest, yaml)
}

both!(
    every_cluster_revision_is_published_and_the_channel_follows_the_newest,
    |b: Backend| {
        let Some(f) = Fixture::new(b) else { return };
        f.sync();
        publish_to(&f);
        f.import_clusters();
        let queued = publication_count(&f);
        assert!(queued >= CLUSTERS.len(), "a publication per stored revision: {queued}");
        assert_eq!(publish::run_due(&f.app.state, Utc::now().naive_utc()).unwrap(), queued);
        for c in CLUSTERS {
            let current = f.app.get(&format!("/api/v1/clusters/{c}")).json()["revision"]
                .as_i64()
                .unwrap();
            let rev = f.registry.digest(&format!("clusters/{c}"), &format!("rev-{current}"));
            assert!(rev.is_some(), "{c} rev-{current}");
            assert_eq!(
                f.registry.digest(&format!("clusters/{c}"), "live"),
                rev,
                "{c}: live is the newest revision"
            );
        }

        let render = f.app.get("/api/v1/clusters/prod-eu-1/render");
        let (digest, yaml) = pulled(&f, "prod-eu-1", "live");
        assert_eq!(yaml, render.body, "the published artifact is the render");
        let publications = f.app.get("/api/v1/clusters/prod-eu-1/publications").json();
        assert_eq!(publications[0]["state"], "done", "{publications}");
        assert_eq!(publications[0]["digest"].as_str(), Some(digest.as_str()));
        let before = f.app.get("/api/v1/clusters/dev-eu-1").json()["revision"]
            .as_i64()
            .unwrap();

        let changed = f.app.put(
            "/api/v1/clusters/dev-eu-1/components/grafana",
            &json!({"oci_tag": "v1.1.0-rc1", "reason": "canary"}),
        );
        assert_eq!(changed.status, 200, "{}", changed.body);
        assert_eq!(publish::run_due(&f.app.state, Utc::now().naive_utc()).unwrap(), 1);
        let (live, yaml) = pulled(&f, "dev-eu-1", "live");
        assert_eq!(yaml, f.app.get("/api/v1/clusters/dev-eu-1/render").body);
        assert!(yaml.contains("v1.1.0-rc1"), "{yaml}");
        let rev = |n: i64| f.registry.digest("clusters/dev-eu-1", &format!("rev-{n}"));
        assert_eq!(rev(before + 1), Some(live.clone()));
        assert_ne!(rev(before), Some(live));
    }
);

both!(
    a_publication_that_fails_is_kept_with_its_error_and_retried_later,
    |b: Backend| {
        let Some(mut f) = Fixture::new(b) else { return };
        f.sync();
        f.app
            .state
            .set_registry_settings(RegistrySettings {
                retries: 1,
                ..Default::default()
            })
            .unwrap();
        publish_to(&f);
        f.import_clusters();
        let queued = publication_count(&f);
        f.registry.stop();
        let now = Utc::now().naive_utc();
        assert_eq!(publish::run_due(&f.app.state, now).unwrap(), 0);
        let failed = f.app.get("/api/v1/clusters/qa-eu-1/publications").json();
        assert_eq!(
            (&failed[0]["state"], &failed[0]["attempts"]),
            (&json!("pending"), &json!(1)),
            "{failed}"
        );
        assert!(
            failed[0]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("unavailable")),
            "{failed}"
        );
        assert_eq!(
            f.app.get("/api/v1/clusters/qa-eu-1/render").status,
            200,
            "renders do not wait for publishing"
        );

        f.registry.restart();
        assert_eq!(
            publish::run_due(&f.app.state, now).unwrap(),
            0,
            "not before its retry time"
        );
        let later = now + chrono::Duration::minutes(10);
        assert_eq!(publish::run_due(&f.app.state, later).unwrap(), queued);
        let done = f.app.get("/api/v1/clusters/qa-eu-1/publications").json();
        assert_eq!(
            (&done[0]["state"], &done[0]["attempts"]),
            (&json!("done"), &json!(2)),
            "{done}"
        );
        assert!(done[0].get("last_error").is_none(), "{done}");
        let (_, yaml) = pulled(&f, "qa-eu-1", "live");
        assert_eq!(yaml, f.app.get("/api/v1/clusters/qa-eu-1/render").body);
    }
);
