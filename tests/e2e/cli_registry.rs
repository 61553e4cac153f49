//! `platform-catalog push` and `retag` against a real registry: Flux's artifact format,
//! deterministic digests, immutable tags.

use serde_json::Value;

use crate::support::registry::TestRegistry;
use crate::support::{repo_root, run, Scratch};

const REPO: &str = "platform/components";

fn push(registry: &TestRegistry, tree: &str, tag: &str, extra: &[&str]) -> crate::support::Run {
    let url = registry.url(REPO);
    let mut args = vec!["push", "--insecure", "--tree", tree, "--artifact", &url, "--tag", tag];
    args.extend_from_slice(extra);
    run(&args, None)
}

fn example_tree() -> String {
    repo_root().join("examples/platform-repo").display().to_string()
}

fn manifest(registry: &TestRegistry, tag: &str) -> Value {
    let body = registry.get(
        &format!("{REPO}/manifests/{tag}"),
        "application/vnd.oci.image.manifest.v1+json",
    );
    serde_json::from_slice(&body).expect("a JSON manifest")
}

#[test]
fn a_pushed_tree_is_a_flux_artifact_with_relative_paths_and_the_registry_digest() {
    let Some(registry) = TestRegistry::start() else { return };
    let out = push(
        &registry,
        &example_tree(),
        "v1.0.0",
        &[
            "--source",
            "https://git.example.com/platform",
            "--revision",
            "main@sha1:0123abcd",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let digest = out.stdout.trim();
    assert_eq!(Some(digest.to_owned()), registry.digest(REPO, "v1.0.0"));

    let m = manifest(&registry, "v1.0.0");
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(m["schemaVersion"], 2);
    assert_eq!(m["config"]["mediaType"], "application/vnd.cncf.flux.config.v1+json");
    let layers = m["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], "application/vnd.cncf.flux.content.v1.tar+gzip");
    assert_eq!(
        m["annotations"]["org.opencontainers.image.source"],
        "https://git.example.com/platform"
    );
    assert_eq!(
        m["annotations"]["org.opencontainers.image.revision"],
        "main@sha1:0123abcd"
    );
    assert_eq!(
        m["annotations"]["org.opencontainers.image.created"],
        "1970-01-01T00:00:00Z"
    );

    let blob = registry.get(
        &format!("{REPO}/blobs/{}", layers[0]["digest"].as_str().expect("a layer digest")),
        "*/*",
    );
    assert_eq!(&blob[..2], &[0x1f, 0x8b], "the layer is gzip");
    let entries = platform_catalog::registry::artifact::entries(&blob).expect("a gzip tar");
    for e in &entries {
        assert!(
            !e.path.starts_with('/') && !e.path.split('/').any(|s| s == ".."),
            "{e:?}"
        );
        assert!(
            matches!(e.kind, tar::EntryType::Regular | tar::EntryType::Directory),
            "only files and directories: {e:?}"
        );
        assert_eq!((e.mtime, e.uid, e.gid), (0, 0, 0), "{e:?}");
    }
    let mut paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    let sorted = {
        let mut s = paths.clone();
        s.sort();
        s
    };
    assert_eq!(paths, sorted, "entries are in sorted order");
    paths.retain(|p| p.ends_with("kustomization.yaml"));
    assert!(
        paths.contains(&"observability/prometheus/25.8.0/prod/kustomization.yaml"),
        "{paths:?}"
    );
}

#[test]
fn the_same_tree_pushed_under_another_tag_gets_the_same_digest() {
    let Some(registry) = TestRegistry::start() else { return };
    let first = push(&registry, &example_tree(), "v1.0.0", &[]);
    let copy = Scratch::with_example_tree();
    let second = push(&registry, &copy.path().display().to_string(), "v1.0.0-1", &[]);
    assert_eq!((first.code, second.code), (0, 0), "{}{}", first.stderr, second.stderr);
    assert_eq!(first.stdout, second.stdout);
    let again = push(&registry, &example_tree(), "v1.0.0", &[]);
    assert_eq!((again.code, again.stdout.as_str()), (0, first.stdout.as_str()));
    assert!(again.stderr.contains("already holds this build"), "{}", again.stderr);
}

#[test]
fn pushing_other_content_to_an_existing_tag_is_refused_unless_forced() {
    let Some(registry) = TestRegistry::start() else { return };
    let tree = Scratch::with_example_tree();
    let dir = tree.path().display().to_string();
    let first = push(&registry, &dir, "v1.1.0", &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    std::fs::write(tree.path().join("README.md"), "changed\n").expect("writable");

    let refused = push(&registry, &dir, "v1.1.0", &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("tags are immutable"), "{}", refused.stderr);
    assert_eq!(registry.digest(REPO, "v1.1.0").as_deref(), Some(first.stdout.trim()));

    let forced = push(&registry, &dir, "v1.1.0", &["--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(forced.stderr.contains("WARNING: --force"), "{}", forced.stderr);
    assert_ne!(forced.stdout, first.stdout);
    assert_eq!(registry.digest(REPO, "v1.1.0").as_deref(), Some(forced.stdout.trim()));
}

#[test]
fn retag_keeps_the_digest_and_refuses_to_move_an_existing_tag() {
    let Some(registry) = TestRegistry::start() else { return };
    let url = registry.url(REPO);
    let rc = push(&registry, &example_tree(), "v1.1.0-rc1", &[]);
    assert_eq!(rc.code, 0, "{}", rc.stderr);
    let retag = |from: &str, to: &str| {
        run(
            &["retag", "--insecure", "--artifact", &url, "--from", from, "--to", to],
            None,
        )
    };
    let promoted = retag("v1.1.0-rc1", "v1.1.0");
    assert_eq!(promoted.code, 0, "{}", promoted.stderr);
    assert_eq!(promoted.stdout, rc.stdout);
    assert_eq!(registry.digest(REPO, "v1.1.0").as_deref(), Some(rc.stdout.trim()));

    let tree = Scratch::with_example_tree();
    std::fs::write(tree.path().join("README.md"), "other build\n").expect("writable");
    let other = push(&registry, &tree.path().display().to_string(), "v1.2.0", &[]);
    assert_eq!(other.code, 0, "{}", other.stderr);
    let refused = retag("v1.1.0-rc1", "v1.2.0");
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("already points at"), "{}", refused.stderr);
    assert_eq!(registry.digest(REPO, "v1.2.0").as_deref(), Some(other.stdout.trim()));

    let missing = retag("v9.9.9", "v9.9.10");
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(missing.stderr.contains("v9.9.9 does not exist"), "{}", missing.stderr);
}

#[test]
fn a_tree_with_a_symlink_is_refused() {
    let Some(registry) = TestRegistry::start() else { return };
    let tree = Scratch::with_example_tree();
    std::os::unix::fs::symlink("README.md", tree.path().join("link.md")).expect("a symlink");
    let out = push(&registry, &tree.path().display().to_string(), "v1.0.0", &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("symlinks cannot go into a Flux artifact"),
        "{}",
        out.stderr
    );
    assert_eq!(registry.digest(REPO, "v1.0.0"), None);
}
