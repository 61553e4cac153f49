//! Access control: every operation against every kind of caller, tokens issued, revoked and
//! expired, the first-start admin token, request hardening, and no secret ever shown back.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use platform_catalog::http::access::{AccessSettings, AuthMode};
use platform_catalog::server::Settings;
use platform_catalog::service::tokens::{self, NewToken, Role, TokenName};
use platform_catalog::service::Caller;
use platform_catalog::store::effective::sha256_hex;
use serde_json::{json, Value};

use crate::both;
use crate::support::app::{Backend, Reply, TestApp};
use crate::support::{run, Scratch};

/// Who the walk calls as, and what it expects of a route needing `required`.
struct Who {
    label: &'static str,
    token: Option<String>,
    /// `Some(true)` allowed, `Some(false)` 403; `None` 401.
    may: fn(&str) -> Option<bool>,
}

fn assert_unauthorized(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 401, "{what}: {}", reply.body);
    assert!(
        reply
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer")),
        "{what}: 401 without WWW-Authenticate: Bearer"
    );
    assert_eq!(reply.header("content-type"), Some("application/problem+json"), "{what}");
}

fn path_for(path: &str) -> String {
    let name = if path.starts_with("/api/v1/tokens/") {
        "no-such-token"
    } else if path.starts_with("/api/v1/tiers/") {
        "dev"
    } else {
        "dev-eu-1"
    };
    path.replace("{name}", name)
        .replace("{id}", "no-such-id")
        .replace("{n}", "1")
}

both!(
    every_operation_answers_each_caller_as_its_required_role_says,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let walkers = [
            Who {
                label: "no token",
                token: None,
                may: |r| (r == "public").then_some(true),
            },
            Who {
                label: "a bad token",
                token: Some("pcat_0123456789ab_00ff".into()),
                may: |r| (r == "public").then_some(true),
            },
            Who {
                label: "the viewer",
                token: Some(app.issue("viewer", Role::Viewer, None)),
                may: |r| Some(matches!(r, "public" | "viewer" | "cluster")),
            },
            Who {
                label: "another cluster's token",
                token: Some(app.issue("qa-agent", Role::Cluster, Some("qa-eu-1"))),
                // It posts its own cluster's events; nothing of dev-eu-1.
                may: |r| Some(matches!(r, "public" | "cluster-token")),
            },
            Who {
                label: "the cluster's own token",
                token: Some(app.issue("dev-agent", Role::Cluster, Some("dev-eu-1"))),
                may: |r| {
                    Some(matches!(
                        r,
                        "public" | "cluster" | "cluster-token" | "cluster-or-operator"
                    ))
                },
            },
            Who {
                label: "the operator",
                token: Some(app.issue("operator", Role::Operator, None)),
                // Only a cluster token names the cluster whose events it posts.
                may: |r| Some(r != "admin" && r != "cluster-token"),
            },
            Who {
                label: "the admin",
                token: Some(app.token.clone()),
                may: |r| Some(r != "cluster-token"),
            },
        ];
        let doc: Value = serde_json::from_str(&platform_catalog::http::openapi().to_pretty_json().unwrap()).unwrap();
        assert!(doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");
        let mut operations = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let role = op["x-required-role"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} has no x-required-role: add it to http::access::TABLE"));
                assert_eq!(op.get("security").is_some(), role != "public", "{method} {path}");
                operations.push((method.to_uppercase(), path.clone(), role.to_owned()));
            }
        }
        assert!(operations.len() >= 39, "{operations:?}");
        for who in &walkers {
            for (method, path, role) in &operations {
                let body = matches!(method.as_str(), "POST" | "PUT" | "PATCH").then_some("{}");
                let reply = app.request_as(who.token.as_deref(), method, &path_for(path), body);
                let what = format!("{} {method} {path} (needs {role})", who.label);
                match (who.may)(role) {
                    None => assert_unauthorized(&reply, &what),
                    Some(false) => {
                        assert_eq!(reply.status, 403, "{what}: {}", reply.body);
                        assert_eq!(reply.header("content-type"), Some("application/problem+json"), "{what}");
                    }
                    Some(true) => assert!(
                        ![401, 403].contains(&reply.status),
                        "{what}: {} {}",
                        reply.status,
                        reply.body
                    ),
                }
            }
        }
    }
);

both!(
    tokens_are_issued_listed_and_revoked_on_the_next_request,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let created = app.post(
            "/api/v1/tokens",
            &json!({"name": "ci", "role": "operator", "expires": "30d"}),
        );
        assert_eq!(created.status, 201, "{}", created.body);
        let token = created.json()["token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("pcat_"), "{token}");
        assert_eq!(created.json()["role"], "operator");
        assert!(created.json()["expires_at"].is_string());

        assert_eq!(
            app.request_as(Some(&token), "GET", "/api/v1/clusters", None).status,
            200
        );
        let write = app.request_as(
            Some(&token),
            "POST",
            "/api/v1/clusters",
            Some(r#"{"name": "dev-eu-9", "tier": "dev"}"#),
        );
        assert_eq!(write.status, 201, "{}", write.body);
        let entry = &app.get("/api/v1/audit?target=cluster/dev-eu-9").json()["items"][0];
        assert_eq!(entry["actor"], "ci", "the audit log names the token");

        let list = app.get("/api/v1/tokens");
        assert_eq!(list.status, 200);
        let ci = list.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "ci")
            .cloned()
            .unwrap();
        assert_eq!(ci["role"], "operator");
        assert!(ci["last_used_at"].is_string(), "last use is recorded: {ci}");
        let keys: Vec<&str> = ci.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["name", "role", "created_by", "created_at", "expires_at", "last_used_at"]
        );

        assert_eq!(
            app.post("/api/v1/tokens", &json!({"name": "ci", "role": "viewer"}))
                .status,
            409
        );
        assert_eq!(
            app.post("/api/v1/tokens", &json!({"name": "x", "role": "cluster"}))
                .status,
            422
        );
        assert_eq!(
            app.post("/api/v1/tokens", &json!({"name": "x", "role": "root"})).status,
            422
        );

        assert_eq!(app.delete("/api/v1/tokens/ci").status, 204);
        assert_unauthorized(
            &app.request_as(Some(&token), "GET", "/api/v1/clusters", None),
            "a revoked token",
        );
        assert_eq!(app.delete("/api/v1/tokens/ci").status, 404);
    }
);

both!(
    a_token_lifetime_runs_from_the_service_clock_not_the_system_one,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        app.state.clock.advance(chrono::Duration::days(400));
        let created = app.post(
            "/api/v1/tokens",
            &json!({"name": "later", "role": "viewer", "expires": "2h"}),
        );
        assert_eq!(created.status, 201, "{}", created.body);
        let expires_at = created.json()["expires_at"].as_str().unwrap().to_owned();
        let expires_at = chrono::DateTime::parse_from_rfc3339(&expires_at).unwrap().naive_utc();
        let ahead = expires_at - app.state.clock.now();
        assert!(
            ahead > chrono::Duration::minutes(119) && ahead <= chrono::Duration::hours(2),
            "{ahead}"
        );
    }
);

both!(expired_tokens_are_refused, |b: Backend| {
    let app = TestApp::empty(b);
    let caller = Caller::internal("test", "test");
    let issue = |name: &str, lifetime| {
        let new = NewToken {
            name: TokenName::parse(name).unwrap(),
            role: Role::Viewer,
            cluster: None,
            lifetime: Some(lifetime),
        };
        tokens::create(&app.state, &caller, new).unwrap().1
    };
    let expired = issue("old", chrono::Duration::seconds(1));
    let valid = issue("new", chrono::Duration::hours(1));
    app.state.clock.advance(chrono::Duration::seconds(2));
    assert_unauthorized(
        &app.request_as(Some(&expired), "GET", "/api/v1/audit", None),
        "an expired token",
    );
    assert_eq!(app.request_as(Some(&valid), "GET", "/api/v1/audit", None).status, 200);
    // A right id with a wrong secret is refused too.
    let (id, _) = valid.rsplit_once('_').unwrap();
    let forged = format!("{id}_{}", "0".repeat(64));
    assert_unauthorized(
        &app.request_as(Some(&forged), "GET", "/api/v1/audit", None),
        "a forged secret",
    );
});

both!(no_secret_appears_in_responses_or_the_audit_log, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let created = app.post(
        "/api/v1/tokens",
        &json!({"name": "agent", "role": "cluster", "cluster": "dev-eu-1"}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let token = created.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.request_as(Some(&token), "GET", "/api/v1/clusters/dev-eu-1/render", None)
            .status,
        200
    );
    assert_eq!(app.delete("/api/v1/tokens/agent").status, 204);
    let secrets = secrets_of(&[&token, &app.token]);
    for path in [
        "/api/v1/tokens",
        "/api/v1/audit?limit=500",
        "/api/v1/audit?target=token/agent",
    ] {
        let body = app.get(path).body;
        for s in &secrets {
            assert!(!body.contains(s.as_str()), "{path} shows a secret or its hash");
        }
    }
    let audit = app.get("/api/v1/audit?target=token/agent").json();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["token.revoke", "token.create"]);
});

/// A token, its secret part and the secret's hash: none may be shown back.
fn secrets_of(tokens: &[&str]) -> Vec<String> {
    tokens
        .iter()
        .flat_map(|t| {
            let secret = t.rsplit_once('_').unwrap().1;
            [t.to_string(), secret.to_owned(), sha256_hex(secret.as_bytes())]
        })
        .collect()
}

both!(oversized_and_deeply_nested_bodies_are_refused, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let big = format!(
        r#"{{"name": "dev-eu-9", "tier": "dev", "pad": "{}"}}"#,
        "x".repeat(1024 * 1024)
    );
    let reply = app.request("POST", "/api/v1/clusters", Some(&big), &[]);
    assert_eq!(reply.status, 413, "{}", &reply.body[..reply.body.len().min(300)]);
    assert_eq!(reply.header("content-type"), Some("application/problem+json"));

    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let reply = app.request("POST", "/api/v1/clusters", Some(&deep), &[]);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("max-json-depth"), "{}", reply.body);

    let small = TestApp::with_settings(
        b,
        Settings {
            max_body_bytes: 512,
            ..Settings::default()
        },
    );
    let body = format!(r#"{{"name": "dev-eu-9", "tier": "dev", "pad": "{}"}}"#, "x".repeat(600));
    let reply = small.request("POST", "/api/v1/clusters", Some(&body), &[]);
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(reply.body.contains("512-byte"), "{}", reply.body);
});

both!(
    health_docs_and_metrics_are_public_and_the_docs_page_is_hardened,
    |b: Backend| {
        let app = TestApp::empty(b);
        for path in ["/healthz", "/readyz", "/metrics", "/api-docs/openapi.json", "/docs/"] {
            assert_eq!(app.request_as(None, "GET", path, None).status, 200, "{path}");
        }
        let page = app.request_as(None, "GET", "/docs/", None);
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
        assert!(page
            .header("content-security-policy")
            .is_some_and(|v| v.contains("script-src 'self'")));
        assert!(
            page.headers
                .iter()
                .all(|(k, _)| !k.to_ascii_lowercase().starts_with("access-control-")),
            "no CORS headers"
        );
        assert_unauthorized(&app.request_as(None, "GET", "/nowhere", None), "an unknown path");
        assert_eq!(app.get("/nowhere").status, 404);

        let guarded = TestApp::with_settings(
            b,
            Settings {
                access: AccessSettings {
                    mode: AuthMode::Token,
                    metrics_auth: true,
                },
                ..Settings::default()
            },
        )
        .load_catalog()
        .load_fleet();
        assert_unauthorized(
            &guarded.request_as(None, "GET", "/metrics", None),
            "metrics with --metrics-auth",
        );
        let viewer = guarded.issue("viewer", Role::Viewer, None);
        assert_eq!(guarded.request_as(Some(&viewer), "GET", "/metrics", None).status, 200);
        let agent = guarded.issue("agent", Role::Cluster, Some("dev-eu-1"));
        assert_eq!(guarded.request_as(Some(&agent), "GET", "/metrics", None).status, 403);
    }
);

both!(auth_none_treats_every_caller_as_an_anonymous_admin, |b: Backend| {
    let app = TestApp::with_settings(
        b,
        Settings {
            access: AccessSettings {
                mode: AuthMode::None,
                metrics_auth: false,
            },
            ..Settings::default()
        },
    );
    assert_eq!(app.request_as(None, "GET", "/api/v1/tokens", None).status, 200);
    let created = app.request_as(
        None,
        "POST",
        "/api/v1/tokens",
        Some(r#"{"name": "ci", "role": "viewer"}"#),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let audit = app
        .request_as(None, "GET", "/api/v1/audit?target=token/ci", None)
        .json();
    assert_eq!(audit["items"][0]["actor"], "anonymous");
});

#[test]
fn auth_none_refuses_a_bind_that_is_not_loopback() {
    let dir = Scratch::new();
    let db = dir.path().join("c.db").display().to_string();
    let out = run(
        &["serve", "--auth", "none", "--bind", "0.0.0.0:0", "--database-url", &db],
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("loopback"), "{}", out.stderr);
}

#[test]
fn serve_refuses_zero_workers_naming_the_flag() {
    let dir = Scratch::new();
    let db = dir.path().join("c.db").display().to_string();
    let out = run(&["serve", "--workers", "0", "--database-url", &db], None);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--workers"), "{}", out.stderr);
    assert!(!std::path::Path::new(&db).exists(), "nothing was started");
}

#[test]
fn token_create_prints_the_token_once_on_stdout() {
    let dir = Scratch::new();
    let db = dir.path().join("c.db").display().to_string();
    let args = [
        "token",
        "create",
        "--database-url",
        &db,
        "--name",
        "agent",
        "--role",
        "cluster",
    ];
    // A cluster token is issued for an existing cluster: load the example fleet first.
    let files = ["--catalog", "COMPONENTS.yaml", "--tags", "examples/tags.yaml"];
    let import = run(
        &[
            &["import", "--database-url", &db][..],
            &files,
            &["--clusters", "examples/clusters.yaml"],
        ]
        .concat(),
        None,
    );
    assert_eq!(import.code, 0, "{}", import.stderr);
    let out = run(
        &[&args[..], &["--cluster", "dev-eu-1", "--expires", "30d"]].concat(),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let token = out.stdout.trim();
    assert!(
        token.starts_with("pcat_") && out.stdout.lines().count() == 1,
        "{}",
        out.stdout
    );
    assert!(!out.stderr.contains(token));
    let refused = run(&args, None);
    assert_eq!(refused.code, 1, "a cluster token names its cluster: {}", refused.stderr);
    let listed = run(&["token", "list", "--database-url", &db], None);
    assert!(
        listed.stdout.starts_with("agent\tcluster\tdev-eu-1\t"),
        "{}",
        listed.stdout
    );
    assert!(!listed.stdout.contains(token.rsplit_once('_').unwrap().1));
}

/// A `serve` process; its stderr lines arrive on `lines`.
struct Served {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    stderr: Vec<String>,
}

impl Served {
    fn start(db: &str) -> (Served, String) {
        Served::start_with(db, &[])
    }

    fn start_with(db: &str, extra: &[&str]) -> (Served, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_platform-catalog"))
            .args(["serve", "--bind", "127.0.0.1:0", "--database-url", db])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut served = Served {
            child,
            lines,
            stderr: Vec::new(),
        };
        loop {
            let line = served
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("serve did not start: {:?}", served.stderr));
            served.stderr.push(line.clone());
            if let Some(at) = line.find("docs at http://") {
                let rest = &line[at + "docs at ".len()..];
                let base = rest[..rest.find("/docs/").unwrap()].to_owned();
                return (served, base);
            }
        }
    }

    /// Stops the process and returns everything it wrote to stderr.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.stderr.push(line);
        }
        self.stderr.join("\n")
    }
}

fn get(base: &str, path: &str, token: Option<&str>) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = agent.get(format!("{base}{path}"));
    if let Some(t) = token {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    req.call().expect("the service answers").status().as_u16()
}

#[test]
fn the_first_start_prints_an_admin_token_once_and_stores_only_its_hash() {
    let dir = Scratch::new();
    let db = dir.path().join("catalog.db").display().to_string();
    let (served, base) = Served::start(&db);
    let token = served
        .stderr
        .iter()
        .find_map(|l| l.trim().strip_prefix("TOKEN="))
        .unwrap_or_else(|| panic!("no admin token on stderr: {:?}", served.stderr))
        .to_owned();
    assert!(served.stderr.iter().any(|l| l.contains("Authorization: Bearer $TOKEN")));
    assert_eq!(get(&base, "/api/v1/clusters", Some(&token)), 200);
    assert_eq!(get(&base, "/api/v1/tokens", Some(&token)), 200);
    assert_eq!(get(&base, "/api/v1/clusters", None), 401);
    // The same token with its last secret character changed.
    let last = if token.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &token[..token.len() - 1]);
    assert_eq!(get(&base, "/api/v1/clusters", Some(&wrong)), 401);
    let log = served.stop();
    assert_eq!(
        log.matches(&token).count(),
        1,
        "the token is printed exactly once:\n{log}"
    );
    assert!(!log.contains(&wrong), "a presented token is never logged");
    assert!(log.matches("401").count() >= 2, "refusals are still logged:\n{log}");

    // Only the hash is stored: not the token, not its secret, in the database or its WAL.
    let secret = token.rsplit_once('_').unwrap().1;
    for file in ["catalog.db", "catalog.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(file)) {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret),
                "{file} holds the secret"
            );
        }
    }
    let mut conn = platform_catalog::db::connect(&db).unwrap();
    let rows = platform_catalog::store::tokens(&mut conn).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].name.as_str(), rows[0].role.as_str()), ("admin", "admin"));
    assert_eq!(rows[0].secret_sha256, sha256_hex(secret.as_bytes()));
    assert!(rows[0].last_used_at.is_some());

    // A second start finds the token and prints none.
    let (served, base) = Served::start(&db);
    assert_eq!(get(&base, "/api/v1/clusters", Some(&token)), 200);
    let log = served.stop();
    assert!(!log.contains("TOKEN="), "{log}");
}

#[test]
fn auth_none_warns_at_every_start_and_issues_no_token() {
    let dir = Scratch::new();
    let db = dir.path().join("catalog.db").display().to_string();
    for _ in 0..2 {
        let (served, base) = Served::start_with(&db, &["--auth", "none"]);
        assert_eq!(get(&base, "/api/v1/tokens", None), 200);
        let log = served.stop();
        assert!(log.contains("authentication is OFF"), "{log}");
        assert!(!log.contains("TOKEN="), "{log}");
    }
}
