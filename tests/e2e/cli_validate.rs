//! `platform-catalog validate`.

use serde_json::Value;

use crate::support::{kubectl_installed, run, run_in, Scratch};

#[test]
fn validate_accepts_the_example_catalog_from_the_current_directory() {
    let out = run(&["validate"], None);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.stdout,
        "COMPONENTS.yaml: valid (5 components, 1 artifact, 3 tiers)\n"
    );
}

#[test]
fn validate_reports_every_error_with_file_line_path_and_rule_and_exits_1() {
    let out = run(&["validate", "tests/fixtures/broken-components.yaml"], None);
    assert_eq!(out.code, 1);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 20, "{}", out.stdout);
    assert_eq!(
        lines[0],
        "tests/fixtures/broken-components.yaml:7: error: $.artifacts[1].url: invalid url \
         \"https://registry.example.com/legacy\": must start with oci:// [oci-url]"
    );
    assert!(out.stdout.contains(
        "tests/fixtures/broken-components.yaml:31: error: $.components[2].intervall: unknown field \"intervall\" [unknown-field]"
    ));
    assert_eq!(
        lines[19],
        "tests/fixtures/broken-components.yaml: 19 error(s), 0 warning(s)"
    );
}

#[test]
fn validate_json_output_lists_diagnostics_for_scripts() {
    let out = run(
        &["validate", "tests/fixtures/broken-components.yaml", "--output", "json"],
        None,
    );
    assert_eq!(out.code, 1);
    let doc: Value = serde_json::from_str(&out.stdout).expect("JSON output");
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["errors"], 19);
    assert_eq!(
        doc["diagnostics"][2],
        serde_json::json!({
            "severity": "error",
            "file": "tests/fixtures/broken-components.yaml",
            "line": 14,
            "path": "$.tiers[2].policy.pattern",
            "rule": "regex",
            "message": "invalid pattern \"(unclosed\": not a valid regular expression: unclosed group"
        })
    );
}

#[test]
fn validate_a_missing_file_is_an_io_error_with_exit_2() {
    let dir = Scratch::new();
    let out = run_in(dir.path(), &["validate"], None);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: cannot read COMPONENTS.yaml: No such file or directory (os error 2)\n"
    );
}

#[test]
fn validate_tree_accepts_the_example_platform_repo() {
    let out = run(&["validate", "--tree", "examples/platform-repo"], None);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(
        out.stdout,
        "COMPONENTS.yaml: valid (5 components, 1 artifact, 3 tiers; tree examples/platform-repo: 15 overlays present)\n"
    );
}

#[test]
fn validate_tree_names_a_missing_overlay_and_a_missing_version_directory() {
    let tree = Scratch::with_example_tree();
    std::fs::remove_file(tree.path().join("core/ingress-nginx/4.10.0/qa/kustomization.yaml")).unwrap();
    std::fs::remove_dir_all(tree.path().join("observability/grafana")).unwrap();
    let tree_arg = tree.path().display().to_string();
    let out = run(&["validate", "--tree", &tree_arg], None);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!(
            "COMPONENTS.yaml:39: error: $.components[2].component_path: {tree_arg}: the qa overlay \
         core/ingress-nginx/4.10.0/qa/kustomization.yaml does not exist [tree-overlay]"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "COMPONENTS.yaml:53: error: $.components[4].component_path: {tree_arg}: component_path \
         observability/grafana/7.3.9/ does not exist in the tree [tree-path]"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.ends_with("COMPONENTS.yaml: 2 error(s), 0 warning(s)\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn validate_build_runs_kustomize_on_every_overlay() {
    let out = run(&["validate", "--tree", "examples/platform-repo", "--build"], None);
    if kubectl_installed() {
        assert_eq!(out.code, 0, "{}", out.stdout);
        assert!(
            out.stdout.contains("15 built with `kubectl kustomize`"),
            "{}",
            out.stdout
        );
    } else {
        assert_eq!(out.code, 0, "{}", out.stdout);
        assert!(
            out.stdout
                .contains("--build skipped: neither `kubectl` nor `kustomize` is installed"),
            "{}",
            out.stdout
        );
    }
}

#[test]
fn validate_build_reports_an_overlay_kustomize_cannot_build() {
    if !kubectl_installed() {
        eprintln!("skipping: kubectl is not installed");
        return;
    }
    let tree = Scratch::with_example_tree();
    std::fs::write(
        tree.path().join("core/external-dns/1.14.3/prod/kustomization.yaml"),
        "resources: [../missing]\n",
    )
    .unwrap();
    let tree_arg = tree.path().display().to_string();
    let out = run(&["validate", "--tree", &tree_arg, "--build"], None);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("[kustomize-build]"))
        .expect("a build finding");
    assert!(
        line.starts_with(
            "COMPONENTS.yaml:33: error: $.components[1].component_path: `kubectl kustomize core/external-dns/1.14.3/prod` failed:"
        ),
        "{line}"
    );
}

#[test]
fn validate_build_without_tree_is_a_usage_error() {
    let out = run(&["validate", "--build"], None);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--tree"), "{}", out.stderr);
}

#[test]
fn validate_tree_lists_old_unused_version_directories_as_information_and_stays_valid() {
    let tree = Scratch::with_example_tree();
    for old in ["1.12.0", "1.13.0", "1.13.1"] {
        std::fs::create_dir_all(tree.path().join("core/cert-manager").join(old).join("base")).unwrap();
    }
    let tree_arg = tree.path().display().to_string();
    let out = run(&["validate", "--tree", &tree_arg], None);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let infos: Vec<&str> = out.stdout.lines().filter(|l| l.contains(": info: ")).collect();
    assert_eq!(
        infos,
        ["1.13.0", "1.12.0"].map(|v| format!(
            "COMPONENTS.yaml:24: info: $.components[0].component_path: {tree_arg}: core/cert-manager/{v}/ is older \
             than the newest 3 versions and the catalog does not use it; `prune` would remove it unless a cluster does \
             [prune-candidate]"
        ))
    );
    assert!(
        out.stdout
            .ends_with("15 overlays present; 2 old version directories to prune)\n"),
        "{}",
        out.stdout
    );
}
