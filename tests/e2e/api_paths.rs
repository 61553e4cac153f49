//! Paths in use and `prune`: the service names every version directory something uses, and
//! `prune` keeps each of them whatever its age, removing only unused ones beyond `--keep`.

use std::path::Path;

use platform_catalog::service::tokens::Role;
use serde_json::{json, Value};

use crate::api_catalog::register_v120;
use crate::both;
use crate::support::app::{Backend, TestApp};
use crate::support::{run, Scratch};

/// Makes each version directory with a base kustomization, as a platform repo has them.
fn make_tree(root: &Path, paths: &[&str]) {
    for p in paths {
        let base = root.join(p).join("base");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(base.join("kustomization.yaml"), "resources: []\n").unwrap();
    }
}

/// The version directories present under `root`, as `category/component/version`.
fn versions_in(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let dirs = |p: &Path| {
        std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect::<Vec<_>>()
    };
    for category in dirs(root) {
        for component in dirs(&category) {
            for path in dirs(&component) {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Each version directory of a JSON plan with its decision, in plan order.
fn decisions(plan_json: &str) -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(plan_json).unwrap_or_else(|e| panic!("{e}: {plan_json}"));
    doc["plan"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["versions"].as_array().unwrap().iter())
        .map(|v| {
            (
                v["path"].as_str().unwrap().to_owned(),
                v["decision"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn ok(reply: crate::support::app::Reply) -> Value {
    assert!(reply.status < 300, "{}: {}", reply.status, reply.body);
    reply.json()
}

/// The example fleet with a version in use through every kind of use: an override (qa-eu-1's
/// grafana on 7.3.1), a hotfix and a hold (prod-eu-1's external-dns on 1.14.2), a cluster
/// pin (prod-us-1), a running rollout (ingress-nginx 4.10.0 → 4.11.0 on dev-eu-1) and a
/// recent revision (prometheus on 25.8.0 before its default moved to 25.9.0).
fn fleet_using_every_kind(app: &TestApp) {
    register_v120(app);
    ok(app.patch(
        "/api/v1/clusters/qa-eu-1/components/grafana",
        &json!({"component_path": "observability/grafana/7.3.1"}),
    ));
    ok(app.post(
        "/api/v1/hotfixes",
        &json!({"component": "external-dns", "oci_tag": "v1.1.0-1", "component_path": "core/external-dns/1.14.2",
                "selector": {"clusters": ["prod-eu-1"]}, "reason": "CVE-2026-7"}),
    ));
    ok(app.post(
        "/api/v1/holds",
        &json!({"cluster": "prod-eu-1", "component": "external-dns", "reason": "customer freeze"}),
    ));
    ok(app.patch("/api/v1/clusters/prod-us-1", &json!({"oci_tag": "v1.1.0"})));
    ok(app.patch(
        "/api/v1/components/prometheus",
        &json!({"component_path": "observability/prometheus/25.9.0"}),
    ));
    let rollout = ok(app.post(
        "/api/v1/rollouts",
        &json!({"component": "ingress-nginx", "oci_tag": "v1.2.0",
                "component_paths": {"ingress-nginx": "core/ingress-nginx/4.11.0"}}),
    ));
    ok(app.post(&format!("/api/v1/rollouts/{}/advance", rollout["id"]), &json!({})));
}

/// Every directory something uses, the unused `1.14.4` of cert-manager, and in each
/// component an unused old `0.0.1`, an unused newest `99.0.0` and a `notes` directory.
fn generated_tree(root: &Path) {
    let mut paths = vec![
        "core/cert-manager/1.14.5",
        "core/cert-manager/1.14.4",
        "core/external-dns/1.14.3",
        "core/external-dns/1.14.2",
        "core/ingress-nginx/4.10.0",
        "core/ingress-nginx/4.11.0",
        "observability/grafana/7.3.9",
        "observability/grafana/7.3.1",
        "observability/prometheus/25.9.0",
        "observability/prometheus/25.8.0",
    ];
    let extra: Vec<String> = paths
        .iter()
        .step_by(2)
        .map(|p| p.rsplit_once('/').unwrap().0)
        .flat_map(|dir| [format!("{dir}/0.0.1"), format!("{dir}/99.0.0"), format!("{dir}/notes")])
        .collect();
    paths.extend(extra.iter().map(String::as_str));
    make_tree(root, &paths);
}

both!(
    prune_keeps_every_version_in_use_through_each_kind_of_use_and_removes_the_rest,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        fleet_using_every_kind(&app);
        let viewer = app.issue("ci", Role::Viewer, None);
        let tree = Scratch::new();
        generated_tree(tree.path());
        let dir = tree.path().display().to_string();
        let args = [
            "prune", "--tree", &dir, "--keep", "1", "--server", &app.base, "--token", &viewer,
        ];

        let dry = run(&args, None);
        assert_eq!(
            dry.code, 1,
            "in-use versions beyond --keep make it exit 1: {}{}",
            dry.stdout, dry.stderr
        );
        insta::assert_snapshot!("prune_plan_every_kind_of_use", dry.stdout);

        let plan = run(&[&args[..], &["--output", "json"]].concat(), None);
        let decided = decisions(&plan.stdout);
        let of = |d: &str| -> Vec<&str> {
            decided
                .iter()
                .filter(|(_, x)| x == d)
                .map(|(p, _)| p.as_str())
                .collect()
        };
        assert_eq!(
            of("protect"),
            [
                "core/cert-manager/1.14.5",
                "core/external-dns/1.14.3",
                "core/external-dns/1.14.2",
                "core/ingress-nginx/4.11.0",
                "core/ingress-nginx/4.10.0",
                "observability/grafana/7.3.9",
                "observability/grafana/7.3.1",
                "observability/prometheus/25.9.0",
                "observability/prometheus/25.8.0",
            ]
        );
        let removed: Vec<String> = of("remove").into_iter().map(str::to_owned).collect();
        assert_eq!(
            removed,
            [
                "core/cert-manager/1.14.4",
                "core/cert-manager/0.0.1",
                "core/external-dns/0.0.1",
                "core/ingress-nginx/0.0.1",
                "observability/grafana/0.0.1",
                "observability/prometheus/0.0.1",
            ]
        );
        assert_eq!(versions_in(tree.path()).len(), 25, "a dry run removes nothing");

        let applied = run(&[&args[..], &["--apply"]].concat(), None);
        assert_eq!(applied.code, 1, "{}{}", applied.stdout, applied.stderr);
        let said_removed: Vec<&str> = applied
            .stdout
            .lines()
            .filter_map(|l| l.trim().strip_prefix("removed   "))
            .collect();
        assert_eq!(said_removed.len(), removed.len(), "{}", applied.stdout);
        let left = versions_in(tree.path());
        let mut expected: Vec<String> = decided
            .iter()
            .filter(|(_, d)| d != "remove")
            .map(|(p, _)| p.clone())
            .chain(
                [
                    "core/cert-manager",
                    "core/external-dns",
                    "core/ingress-nginx",
                    "observability/grafana",
                    "observability/prometheus",
                ]
                .iter()
                .map(|d| format!("{d}/notes")),
            )
            .collect();
        expected.sort();
        assert_eq!(left, expected, "exactly what the plan removed is gone");
    }
);

both!(
    a_revision_outside_the_rollback_window_no_longer_protects_its_path,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        ok(app.patch(
            "/api/v1/components/prometheus",
            &json!({"component_path": "observability/prometheus/25.9.0"}),
        ));
        let tree = Scratch::new();
        make_tree(
            tree.path(),
            &["observability/prometheus/25.9.0", "observability/prometheus/25.8.0"],
        );
        let dir = tree.path().display().to_string();
        let prune = |window: &str| {
            let out = run(
                &[
                    "prune",
                    "--tree",
                    &dir,
                    "--keep",
                    "1",
                    "--server",
                    &app.base,
                    "--token",
                    &app.token,
                    "--rollback-window",
                    window,
                    "--output",
                    "json",
                ],
                None,
            );
            decisions(&out.stdout)
        };
        let d = |path: &str, decision: &str| (path.to_owned(), decision.to_owned());
        assert_eq!(prune("30d")[1], d("observability/prometheus/25.8.0", "protect"));
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert_eq!(prune("1s")[1], d("observability/prometheus/25.8.0", "remove"));
    }
);

both!(
    prune_with_the_server_and_offline_agree_on_the_example_fleet,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let tree = Scratch::with_example_tree();
        make_tree(
            tree.path(),
            &[
                "core/cert-manager/1.13.0",
                "core/cert-manager/1.14.5-1",
                "observability/grafana/7.0.0",
                "core/external-dns/2.0.0",
            ],
        );
        let dir = tree.path().display().to_string();
        let server = run(
            &[
                "prune", "--tree", &dir, "--keep", "1", "--server", &app.base, "--token", &app.token, "--output",
                "json",
            ],
            None,
        );
        let offline = run(
            &[
                "prune",
                "--tree",
                &dir,
                "--keep",
                "1",
                "--catalog",
                "COMPONENTS.yaml",
                "--clusters",
                "examples/clusters.yaml",
                "--output",
                "json",
            ],
            None,
        );
        assert_eq!(server.code, offline.code, "{}{}", server.stderr, offline.stderr);
        let decided = decisions(&server.stdout);
        assert_eq!(decided, decisions(&offline.stdout));
        let d = |path: &str, decision: &str| (path.to_owned(), decision.to_owned());
        assert!(
            decided.contains(&d("core/cert-manager/1.14.5", "protect")),
            "{decided:?}"
        );
        assert!(
            decided.contains(&d("core/cert-manager/1.13.0", "remove")),
            "{decided:?}"
        );
        assert!(decided.contains(&d("core/external-dns/2.0.0", "keep")), "{decided:?}");
    }
);

both!(paths_in_use_name_each_use_and_refuse_a_bad_window, |b: Backend| {
    let app = TestApp::with_fleet(b);
    ok(app.patch(
        "/api/v1/clusters/qa-eu-1/components/grafana",
        &json!({"component_path": "observability/grafana/7.3.1"}),
    ));
    let viewer = app.issue("ci", Role::Viewer, None);
    let reply = app.request_as(Some(&viewer), "GET", "/api/v1/paths/in-use?limit=2", None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let page = reply.json();
    let paths: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["core/cert-manager/1.14.5", "core/external-dns/1.14.3"]);
    let uses = &page["items"][1]["uses"];
    assert_eq!(uses[0], json!({"kind": "default", "component": "external-dns"}));
    let revisions: Vec<(&str, i64)> = uses
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["kind"] == "revision")
        .map(|u| (u["cluster"].as_str().unwrap(), u["revision"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        revisions,
        [("dev-eu-1", 1), ("prod-eu-1", 1), ("qa-eu-1", 1), ("qa-eu-1", 2)],
        "every revision within the window, but none of prod-us-1, which disables it"
    );
    let next = app.get(&format!(
        "/api/v1/paths/in-use?limit=500&cursor={}",
        page["next_cursor"].as_str().unwrap()
    ));
    let grafana = next.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"] == "observability/grafana/7.3.1")
        .cloned()
        .unwrap();
    assert_eq!(
        grafana["uses"],
        json!([
            {"kind": "override", "component": "grafana", "cluster": "qa-eu-1"},
            {"kind": "revision", "component": "grafana", "cluster": "qa-eu-1", "revision": 2}
        ])
    );
    let bad = app.get("/api/v1/paths/in-use?rollback_window=forever");
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.json()["errors"][0]["path"], "rollback_window");
});

both!(
    prune_fails_with_2_never_1_on_a_refused_token_or_a_path_leaving_the_tree,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let tree = Scratch::with_example_tree();
        let dir = tree.path().display().to_string();
        let refused = run(
            &["prune", "--tree", &dir, "--server", &app.base, "--token", "pcat_wrong"],
            None,
        );
        assert_eq!(refused.code, 2, "{}", refused.stderr);
        assert!(refused.stderr.contains("401 Unauthorized"), "{}", refused.stderr);

        let scratch = Scratch::new();
        let clusters = scratch.path().join("clusters.yaml");
        std::fs::write(
        &clusters,
        "clusters:\n  - name: dev-eu-1\n    tier: dev\n    components:\n      grafana: {component_path: ../../x/1.0.0}\n",
    )
    .unwrap();
        let escaping = run(
            &[
                "prune",
                "--tree",
                &dir,
                "--keep",
                "0",
                "--clusters",
                clusters.to_str().unwrap(),
                "--apply",
            ],
            None,
        );
        assert_eq!(escaping.code, 2, "{}", escaping.stderr);
        assert!(
            escaping
                .stderr
                .contains("\"../../x/1.0.0\" is in use but not a component path"),
            "{}",
            escaping.stderr
        );
        assert_eq!(versions_in(tree.path()).len(), 6, "nothing was removed");
    }
);
