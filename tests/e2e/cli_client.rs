//! The client commands of the binary against a running service, on SQLite and PostgreSQL where
//! the service's side differs: the fleet matrix, get and describe, pins with their mark, dry
//! runs that write nothing, releases, hotfixes, rollbacks, holds, rollouts stepped by hand and
//! watched to their end, contexts, shell completion and exit codes.

use std::path::Path;

use serde_json::Value;

use crate::api_catalog::{effective_tag, register_v120};
use crate::both;
use crate::support::app::{Backend, TestApp};
use crate::support::{repo_root, run_with, Run, Scratch};

/// Runs the binary against `app` with its admin token, contexts kept in `config` (so a
/// developer's own are never read).
fn cli_in(app: &TestApp, config: &Path, args: &[&str]) -> Run {
    let config = config.display().to_string();
    run_with(
        &repo_root(),
        args,
        None,
        &[
            ("PLATFORM_CATALOG_SERVER", &app.base),
            ("PLATFORM_CATALOG_TOKEN", &app.token),
            ("XDG_CONFIG_HOME", &config),
            ("NO_COLOR", "1"),
        ],
    )
}

fn cli(app: &TestApp, args: &[&str]) -> Run {
    let config = Scratch::new();
    cli_in(app, config.path(), args)
}

/// A command that must succeed; its standard output.
fn ok(app: &TestApp, args: &[&str]) -> String {
    let run = cli(app, args);
    assert_eq!(run.code, 0, "{args:?}: {}{}", run.stdout, run.stderr);
    run.stdout
}

fn audit_count(app: &TestApp) -> usize {
    app.get("/api/v1/audit?limit=500").json()["items"]
        .as_array()
        .unwrap()
        .len()
}

/// The row of `cluster` in the fleet matrix.
fn fleet_row(out: &str, cluster: &str) -> String {
    out.lines()
        .find(|l| l.starts_with(cluster))
        .unwrap_or_else(|| panic!("no row {cluster} in\n{out}"))
        .to_owned()
}

both!(
    get_fleet_prints_the_example_fleet_as_a_matrix_with_its_legend,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        insta::assert_snapshot!("cli_get_fleet", ok(&app, &["get", "fleet"]));
        let csv = ok(&app, &["get", "fleet", "-o", "csv", "--tier", "prod"]);
        assert_eq!(
            csv.lines().count(),
            1 + 5 + 4,
            "a header, then prod-eu-1's five and prod-us-1's four:\n{csv}"
        );
        let json: Value = serde_json::from_str(&ok(&app, &["get", "fleet", "-o", "json"])).unwrap();
        assert_eq!(json, app.get("/api/v1/fleet").json()["items"]);
    }
);

both!(a_pin_shows_its_mark_in_the_fleet_until_it_is_unpinned, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let pinned = ok(
        &app,
        &[
            "pin",
            "dev-eu-1",
            "grafana",
            "--tag",
            "v1.0.0",
            "--expires",
            "7d",
            "--reason",
            "rollback",
        ],
    );
    assert!(
        pinned.starts_with("pinned grafana on dev-eu-1 to v1.0.0 until "),
        "{pinned}"
    );
    let wide = ok(&app, &["get", "fleet", "-o", "wide", "--component", "grafana"]);
    assert!(
        fleet_row(&wide, "dev-eu-1").ends_with("v1.0.0* (override,unreported)"),
        "{wide}"
    );
    assert_eq!(
        effective_tag(&app, "dev-eu-1", "grafana"),
        ("v1.0.0".into(), "override".into())
    );
    assert_eq!(
        ok(&app, &["unpin", "dev-eu-1", "grafana"]),
        "unpinned grafana on dev-eu-1: it follows the catalog again\n"
    );
    let table = ok(&app, &["get", "fleet", "--component", "grafana"]);
    assert!(fleet_row(&table, "dev-eu-1").ends_with("  v1.1.0"), "{table}");
});

both!(
    a_dry_run_shows_the_move_and_the_rendered_diff_and_writes_nothing,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let before = audit_count(&app);
        let out = ok(
            &app,
            &[
                "pin",
                "prod-eu-1",
                "grafana",
                "--tag",
                "v1.1.0-1",
                "--dry-run",
                "--reason",
                "try",
            ],
        );
        let head: Vec<&str> = out.lines().take(3).collect();
        assert_eq!(
            head,
            [
                "would change 1 cluster(s)",
                "  prod-eu-1: revision 1 → 2",
                "    grafana: v1.1.0 observability/grafana/7.3.9 → v1.1.0-1 observability/grafana/7.3.9",
            ]
        );
        assert!(
            out.contains("\n    -    platform-catalog.io/oci-tag: v1.1.0\n"),
            "{out}"
        );
        assert!(
            out.contains("\n    +    platform-catalog.io/oci-tag: v1.1.0-1\n"),
            "{out}"
        );
        let release = ok(&app, &["release", "platform", "v1.1.0-1", "--dry-run"]);
        assert!(release.starts_with("would change 4 cluster(s)\n"), "{release}");
        assert_eq!(audit_count(&app), before, "a dry run is not audited");
        assert_eq!(
            effective_tag(&app, "prod-eu-1", "grafana"),
            ("v1.1.0".into(), "artifact_default".into())
        );
    }
);

#[test]
fn a_release_moves_the_default_and_says_what_it_changed() {
    let app = TestApp::with_fleet(Backend::Sqlite);
    register_v120(&app);
    let out = ok(&app, &["release", "platform", "v1.2.0", "--reason", "monthly release"]);
    assert!(
        out.starts_with("released platform v1.2.0\nchanged 4 cluster(s)\n"),
        "{out}"
    );
    assert!(
        out.contains("  left grafana on qa-eu-1: "),
        "the canary keeps its override:\n{out}"
    );
    assert_eq!(
        effective_tag(&app, "prod-eu-1", "grafana"),
        ("v1.2.0".into(), "artifact_default".into())
    );
    let artifacts = ok(&app, &["get", "artifacts"]);
    assert!(artifacts.contains("platform   v1.2.0"), "{artifacts}");
}

#[test]
fn get_and_describe_show_what_the_api_holds() {
    let app = TestApp::with_fleet(Backend::Sqlite);
    let clusters: Value =
        serde_json::from_str(&ok(&app, &["get", "clusters", "-o", "json", "--tier", "prod"])).unwrap();
    assert_eq!(clusters, app.get("/api/v1/clusters?tier=prod").json()["items"]);
    let table = ok(&app, &["get", "clusters", "-l", "region=us-east-1"]);
    assert_eq!(
        table,
        "NAME        TIER   LABELS             REVISION\nprod-us-1   prod   region=us-east-1   1\n"
    );
    let yaml = ok(&app, &["get", "tiers", "-o", "yaml"]);
    assert!(yaml.contains("- name: dev\n"), "{yaml}");
    let tags = ok(&app, &["get", "tags", "platform", "--tier", "prod"]);
    assert!(!tags.contains("v1.1.0-rc1"), "prod may not run pre-releases:\n{tags}");
    let refused = cli(&app, &["get", "holds", "--tier", "prod"]);
    assert_eq!(
        (refused.code, refused.stderr.as_str()),
        (2, "error: get holds takes no --tier filter\n")
    );
    let qa = ok(&app, &["describe", "cluster", "qa-eu-1"]);
    assert!(
        qa.starts_with("Name:        qa-eu-1\nTier:        qa\nLabels:      region=eu-west-1\n"),
        "{qa}"
    );
    let grafana = qa.lines().find(|l| l.trim_start().starts_with("grafana")).unwrap();
    let cells: Vec<&str> = grafana.split("   ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(
        cells,
        [
            "grafana",
            "v1.1.0-rc1",
            "override (canary)",
            "observability/grafana/7.3.9",
            "component_default",
            "unreported",
            "-"
        ]
    );
    assert!(
        qa.contains("  1          "),
        "the revision list shows revision 1:\n{qa}"
    );
    assert!(qa.ends_with("   test   clusters imported\n"), "{qa}");
    let component = ok(&app, &["describe", "component", "grafana"]);
    assert!(
        component.ends_with(
            "  v1.1.0       3          dev-eu-1, prod-eu-1, prod-us-1\n  v1.1.0-rc1   1          qa-eu-1 (override)\n"
        ),
        "{component}"
    );
}

#[test]
fn a_hold_is_placed_listed_and_deleted() {
    let app = TestApp::with_fleet(Backend::Sqlite);
    assert_eq!(
        ok(
            &app,
            &[
                "hold",
                "create",
                "--cluster",
                "prod-us-1",
                "--reason",
                "customer demo",
                "--expires",
                "2d"
            ]
        ),
        "hold 1 placed on cluster prod-us-1\n"
    );
    let holds = ok(&app, &["get", "holds"]);
    let row = holds.lines().nth(1).unwrap();
    assert!(row.starts_with("1    prod-us-1   -           true     "), "{holds}");
    assert!(row.ends_with("   customer demo"), "{holds}");
    assert_eq!(ok(&app, &["hold", "delete", "1"]), "hold 1 deleted\n");
    assert_eq!(ok(&app, &["get", "holds"]).lines().count(), 1);
    let gone = cli(&app, &["hold", "delete", "1"]);
    assert_eq!(gone.code, 4, "{}", gone.stderr);
}

both!(rollout_status_watches_an_auto_rollout_to_completion, |b: Backend| {
    let app = TestApp::with_fleet(b);
    register_v120(&app);
    let dir = Scratch::new();
    let waves = dir.path().join("waves.yaml");
    std::fs::write(
        &waves,
        "- {tiers: [dev, qa], approval: auto, soak: 1s}\n- {tiers: [prod], approval: auto}\n",
    )
    .unwrap();
    let waves = waves.display().to_string();
    let created = ok(
        &app,
        &[
            "rollout",
            "create",
            "--component",
            "grafana",
            "--tag",
            "v1.2.0",
            "--waves",
            &waves,
        ],
    );
    assert_eq!(created, "rollout 1 created: grafana to v1.2.0 in 2 step(s)\n");
    let watched = cli(&app, &["rollout", "status", "1", "--watch", "--every", "1s"]);
    assert_eq!(watched.code, 0, "{}{}", watched.stdout, watched.stderr);
    let last = watched.stdout.lines().last().unwrap();
    assert_eq!(last, "rollout 1: completed 2/2 steps; completed");
    assert_eq!(
        effective_tag(&app, "prod-us-1", "grafana"),
        ("v1.2.0".into(), "component_default".into())
    );
    let listed = ok(&app, &["get", "rollouts"]);
    assert!(listed.contains("1    grafana   v1.2.0   completed   2/2"), "{listed}");
});

#[test]
fn an_aborted_rollout_ends_its_status_with_exit_code_1() {
    let app = TestApp::with_fleet(Backend::Sqlite);
    register_v120(&app);
    ok(
        &app,
        &["rollout", "create", "--component", "grafana", "--tag", "v1.2.0"],
    );
    let dry = ok(&app, &["rollout", "abort", "1", "--dry-run"]);
    assert!(dry.starts_with("would change 0 cluster(s)"), "{dry}");
    let aborted = ok(&app, &["rollout", "abort", "1"]);
    assert!(aborted.starts_with("rollout 1: abort done, now aborted"), "{aborted}");
    let status = cli(&app, &["rollout", "status", "1", "--watch"]);
    assert_eq!(status.code, 1, "{}{}", status.stdout, status.stderr);
    let described = ok(&app, &["describe", "rollout", "1"]);
    assert!(described.contains("\nState:     aborted\n"), "{described}");
}

#[test]
fn contexts_are_kept_owner_only_and_never_print_a_token() {
    let app = TestApp::with_fleet(Backend::Sqlite);
    let config = Scratch::new();
    let token_file = config.path().join("token");
    std::fs::write(&token_file, format!("{}\n", app.token)).unwrap();
    let token_file = token_file.display().to_string();
    let no_env = |args: &[&str]| {
        let xdg = config.path().display().to_string();
        run_with(&repo_root(), args, None, &[("XDG_CONFIG_HOME", &xdg)])
    };
    let set = no_env(&[
        "config",
        "set-context",
        "local",
        "--server",
        &app.base,
        "--token-file",
        &token_file,
    ]);
    assert_eq!(set.code, 0, "{}", set.stderr);
    let other = no_env(&[
        "config",
        "set-context",
        "other",
        "--server",
        "http://127.0.0.1:9",
        "--token-command",
        "echo nope",
    ]);
    assert_eq!(other.code, 0, "{}", other.stderr);
    let file = config.path().join("platform-catalog/config.yaml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let listed = no_env(&["config", "get-contexts"]);
    let expected = format!(
        "CURRENT   NAME    SERVER                   TOKEN\n*         local   {:<22}   the token in {token_file}\n          other   http://127.0.0.1:9       the token printed by `echo nope`\n",
        app.base
    );
    assert_eq!(listed.stdout, expected);
    assert!(!listed.stdout.contains(&app.token));
    let through_context = no_env(&["get", "clusters"]);
    assert_eq!(through_context.code, 0, "{}", through_context.stderr);
    assert_eq!(through_context.stdout.lines().count(), 5);
    assert_eq!(no_env(&["config", "use-context", "other"]).code, 0);
    let unreachable = no_env(&["get", "clusters"]);
    assert_eq!(unreachable.code, 3, "{}", unreachable.stderr);
    let chosen = no_env(&["--context", "local", "get", "tiers"]);
    assert_eq!(chosen.code, 0, "{}", chosen.stderr);
    let unknown = no_env(&["config", "use-context", "nowhere"]);
    assert_eq!(unknown.code, 2);
}

#[test]
fn exit_codes_say_not_found_refused_unauthorized_and_no_server() {
    let app = TestApp::with_fleet(Backend::Sqlite);
    let missing = cli(&app, &["describe", "cluster", "nope"]);
    assert_eq!(
        (missing.code, missing.stderr.as_str()),
        (4, "error: cluster \"nope\" does not exist\n")
    );
    let refused = cli(&app, &["pin", "prod-eu-1", "grafana", "--tag", "v9.9.9"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let lines: Vec<&str> = refused.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", refused.stderr);
    assert!(
        lines[0].starts_with("error: tier prod refuses tag \"v9.9.9\""),
        "{}",
        refused.stderr
    );
    assert!(lines[1].starts_with("  $.oci_tag: "), "{}", refused.stderr);
    let viewer = app.issue("reader", platform_catalog::service::tokens::Role::Viewer, None);
    let config = Scratch::new();
    let xdg = config.path().display().to_string();
    let env = [
        ("PLATFORM_CATALOG_SERVER", app.base.as_str()),
        ("PLATFORM_CATALOG_TOKEN", viewer.as_str()),
        ("XDG_CONFIG_HOME", xdg.as_str()),
    ];
    let forbidden = run_with(&repo_root(), &["hold", "delete", "1"], None, &env);
    assert_eq!(forbidden.code, 1, "{}", forbidden.stderr);
    assert!(forbidden.stderr.contains("(it needs operator)"), "{}", forbidden.stderr);
    assert!(
        forbidden.stderr.ends_with(&format!(
            "used the token from --token or PLATFORM_CATALOG_TOKEN against {}; DELETE /api/v1/holds/1 needs the operator role\n",
            app.base
        )),
        "{}",
        forbidden.stderr
    );
    let unknown = cli(&app, &["--token", "pcat_nope", "get", "clusters"]);
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("GET /api/v1/clusters needs the viewer role"),
        "{}",
        unknown.stderr
    );
    assert!(!unknown.stderr.contains(&app.token));
    let nowhere = run_with(&repo_root(), &["get", "clusters"], None, &[("XDG_CONFIG_HOME", &xdg)]);
    assert_eq!(nowhere.code, 2, "{}", nowhere.stderr);
    assert!(nowhere.stderr.starts_with("error: no server: "), "{}", nowhere.stderr);
}

#[test]
fn completion_scripts_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let run = run_with(&repo_root(), &["completion", shell], None, &[]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(run.stdout.contains("rollout"), "{shell} completes the rollout command");
    }
}

#[test]
fn every_client_command_shows_an_example_in_its_help() {
    let commands: [&[&str]; 24] = [
        &["config"],
        &["config", "set-context"],
        &["config", "use-context"],
        &["config", "get-contexts"],
        &["get"],
        &["get", "fleet"],
        &["get", "clusters"],
        &["get", "drift"],
        &["describe"],
        &["describe", "cluster"],
        &["describe", "rollout"],
        &["describe", "component"],
        &["pin"],
        &["unpin"],
        &["release"],
        &["hotfix"],
        &["rollback"],
        &["hold"],
        &["hold", "create"],
        &["hold", "delete"],
        &["rollout"],
        &["rollout", "create"],
        &["rollout", "status"],
        &["completion"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let run = run_with(&repo_root(), &args, None, &[]);
        assert_eq!(run.code, 0, "{command:?}");
        assert!(
            run.stdout.contains("\nExample"),
            "{command:?} has no example:\n{}",
            run.stdout
        );
    }
    let top = run_with(&repo_root(), &["--help"], None, &[]);
    assert!(top.stdout.contains("\nExit codes:\n"), "{}", top.stdout);
}

#[test]
fn a_hotfix_a_rollback_and_a_rollout_stepped_by_hand_are_driven_from_the_terminal() {
    let app = TestApp::with_fleet(Backend::Sqlite);
    register_v120(&app);
    let fixed = ok(
        &app,
        &[
            "hotfix",
            "grafana",
            "--tag",
            "v1.2.0",
            "--path",
            "observability/grafana/7.3.9",
            "--cluster",
            "dev-eu-1",
            "--reason",
            "CVE-2026-1",
        ],
    );
    assert!(fixed.contains("dev-eu-1"), "{fixed}");
    assert_eq!(
        effective_tag(&app, "dev-eu-1", "grafana"),
        ("v1.2.0".into(), "override".into())
    );

    let rolled = ok(
        &app,
        &[
            "rollback",
            "dev-eu-1",
            "--to-revision",
            "1",
            "--reason",
            "back to the start",
        ],
    );
    assert!(rolled.contains("dev-eu-1"), "{rolled}");
    assert_eq!(effective_tag(&app, "dev-eu-1", "grafana").0, "v1.1.0");

    ok(
        &app,
        &["rollout", "create", "--component", "grafana", "--tag", "v1.2.0"],
    );
    let advanced = ok(&app, &["rollout", "advance", "1"]);
    assert!(
        advanced.starts_with("rollout 1: advance done, now running (1/"),
        "{advanced}"
    );
    let paused = ok(&app, &["rollout", "pause", "1"]);
    assert!(paused.starts_with("rollout 1: pause done, now paused (1/"), "{paused}");
    let resumed = ok(&app, &["rollout", "resume", "1"]);
    assert!(
        resumed.starts_with("rollout 1: resume done, now running (1/"),
        "{resumed}"
    );
    let described = ok(&app, &["describe", "rollout", "1"]);
    assert!(described.contains("\nState:     running\n"), "{described}");
}

#[test]
fn rollout_approve_lets_another_operator_release_a_rollout_awaiting_approval() {
    let app = TestApp::with_fleet(Backend::Sqlite);
    register_v120(&app);
    let tier = app.put(
        "/api/v1/tiers/prod",
        &serde_json::json!({"allow_mutable": false, "allow_prerelease": false,
            "pin_digest": true, "require_known_tag": true, "approvals": 1}),
    );
    assert_eq!(tier.status, 200, "{}", tier.body);
    ok(
        &app,
        &["rollout", "create", "--component", "grafana", "--tag", "v1.2.0"],
    );
    // The default waves: canary dev-eu-1, then qa, then prod, which asks for an approval.
    ok(&app, &["rollout", "advance", "1"]);
    ok(&app, &["rollout", "advance", "1"]);
    let described = ok(&app, &["describe", "rollout", "1"]);
    assert!(described.contains("awaiting_approval"), "{described}");
    let own = cli(&app, &["rollout", "approve", "1"]);
    assert_eq!(own.code, 1, "{}{}", own.stdout, own.stderr);
    assert!(own.stderr.contains("rule approvals"), "{}", own.stderr);

    let bob = app.issue("bob", platform_catalog::service::tokens::Role::Operator, None);
    let config = Scratch::new();
    let run = run_with(
        &repo_root(),
        &["rollout", "approve", "1"],
        None,
        &[
            ("PLATFORM_CATALOG_SERVER", &app.base),
            ("PLATFORM_CATALOG_TOKEN", &bob),
            ("XDG_CONFIG_HOME", &config.path().display().to_string()),
            ("NO_COLOR", "1"),
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.starts_with("rollout 1: approve done, now running (2/"),
        "{}",
        run.stdout
    );
}
