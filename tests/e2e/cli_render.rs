//! `platform-catalog render`.

use serde_json::Value;

use crate::support::run;

#[test]
fn render_prints_one_source_and_one_kustomization_per_component() {
    let out = run(
        &[
            "render",
            "--catalog",
            "COMPONENTS.yaml",
            "--tier",
            "dev",
            "--cluster",
            "dev-1",
        ],
        None,
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    assert_eq!(out.stdout.matches("\nkind: OCIRepository\n").count(), 5);
    assert_eq!(out.stdout.matches("\nkind: Kustomization\n").count(), 5);
    assert!(
        out.stdout.contains("  path: ./core/cert-manager/1.14.5/dev\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("  dependsOn:\n    - name: prometheus\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn render_of_a_digest_pinning_tier_warns_that_it_rendered_tags() {
    let out = run(&["render", "--tier", "prod", "--cluster", "prod-eu-1"], None);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("    tag: v1.1.0-1\n"), "{}", out.stdout);
    assert_eq!(
        out.stderr,
        "warning: tier prod pins digests, but no digest is known here: rendered tags instead for cert-manager \
         (v1.1.0-1), external-dns (v1.1.0), grafana (v1.1.0), ingress-nginx (v1.1.0), prometheus (v1.1.0)\n"
    );
}

#[test]
fn render_json_is_a_kubernetes_list_and_inputs_is_the_external_service_shape() {
    let out = run(
        &["render", "--tier", "qa", "--cluster", "qa-1", "--output", "json"],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (list["apiVersion"].as_str(), list["kind"].as_str()),
        (Some("v1"), Some("List"))
    );
    assert_eq!(list["items"].as_array().map(Vec::len), Some(10));

    let out = run(
        &["render", "--tier", "qa", "--cluster", "qa-1", "--output", "inputs"],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let inputs: Value = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&str> = inputs["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["cert-manager", "external-dns", "grafana", "ingress-nginx", "prometheus"]
    );
    assert_eq!(inputs["inputs"][2]["path"], "./observability/grafana/7.3.9/qa");
}

#[test]
fn render_is_identical_run_after_run() {
    let args = ["render", "--tier", "qa", "--cluster", "qa-1"];
    assert_eq!(run(&args, None).stdout, run(&args, None).stdout);
}

#[test]
fn render_an_unknown_tier_is_a_usage_error_listing_the_known_ones() {
    let out = run(&["render", "--tier", "staging", "--cluster", "s-1"], None);
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr, "error: unknown tier \"staging\" (known: dev, qa, prod)\n");
}

#[test]
fn render_refuses_a_cluster_name_that_is_not_a_dns_label() {
    let out = run(&["render", "--tier", "dev", "--cluster", "Dev_1"], None);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: --cluster: invalid cluster name \"Dev_1\": must consist of lower case letters, digits and '-' (DNS-1123 label)\n"
    );
}

#[test]
fn render_of_an_invalid_catalog_prints_the_findings_and_exits_1() {
    let out = run(
        &[
            "render",
            "--catalog",
            "tests/fixtures/broken-components.yaml",
            "--tier",
            "dev",
            "--cluster",
            "d",
        ],
        None,
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("[unknown-field]"), "{}", out.stderr);
    assert!(out.stderr.ends_with(
        "error: tests/fixtures/broken-components.yaml is not a valid catalog; run `platform-catalog validate tests/fixtures/broken-components.yaml`\n"
    ), "{}", out.stderr);
}

#[test]
fn render_into_a_pipe_closed_early_ends_quietly_instead_of_panicking() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_platform-catalog"))
        .args([
            "render",
            "--catalog",
            "COMPONENTS.yaml",
            "--tier",
            "dev",
            "--cluster",
            "dev-1",
        ])
        .current_dir(crate::support::repo_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // What `… | head -0` does: the reader goes away before the first write.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("the binary ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
