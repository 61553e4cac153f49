//! The runner in the real binary: a `kill -9` mid-rollout loses nothing and repeats nothing,
//! and two replicas on one PostgreSQL apply each step exactly once.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use serde_json::{json, Value};

use crate::support::app::postgres_server;
use crate::support::serve::Served;
use crate::support::Scratch;

fn auto_rollout(s: &Served, token: &str, component: &str, soak: Option<&str>) -> Value {
    let mut wave = json!({"tiers": ["dev", "qa", "prod"], "batch_size": 1, "approval": "auto"});
    if let Some(soak) = soak {
        wave["soak"] = json!(soak);
    }
    let body = json!({"component": component, "oci_tag": "v1.1.0-1", "waves": [wave]});
    let (status, r) = s.send("POST", "/api/v1/rollouts", token, Some(&body));
    assert_eq!(status, 201, "{r}");
    r["id"].clone()
}

fn wait(s: &Served, token: &str, id: &Value, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let (_, r) = s.send("GET", &format!("/api/v1/rollouts/{id}"), token, None);
        if done(&r) {
            return r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "gave up waiting: {r}\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The steps of every `rollout.advance` entry, sorted, and how many `rollout.complete` there are.
fn advances(s: &Served, token: &str, id: &Value) -> (Vec<i64>, usize) {
    let (_, audit) = s.send(
        "GET",
        &format!("/api/v1/audit?target=rollout/{id}&limit=100"),
        token,
        None,
    );
    let items = audit["items"].as_array().unwrap();
    let mut steps: Vec<i64> = items
        .iter()
        .filter(|e| e["action"] == "rollout.advance")
        .map(|e| e["after"]["step"].as_i64().unwrap())
        .collect();
    steps.sort();
    let completes = items.iter().filter(|e| e["action"] == "rollout.complete").count();
    (steps, completes)
}

#[test]
fn a_rollout_survives_kill_9_and_applies_every_step_exactly_once() {
    let dir = Scratch::new();
    let url = dir.path().join("catalog.db").display().to_string();
    let first = Served::start(&url, dir.path(), "first", true);
    let token = first.first_token();
    let id = auto_rollout(&first, &token, "grafana", Some("1s"));
    wait(&first, &token, &id, |r| r["steps_applied"].as_i64() >= Some(2));
    first.kill();
    let second = Served::start(&url, dir.path(), "second", false);
    let r = wait(&second, &token, &id, |r| r["state"] == "completed");
    let steps = r["waves"][0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4);
    assert!(steps.iter().all(|s| s["applied_at"].is_string()), "{r}");
    assert_eq!(advances(&second, &token, &id), (vec![0, 1, 2, 3], 1));
}

/// A PostgreSQL database of its own, dropped afterwards.
struct PgDatabase {
    admin: String,
    name: String,
}

impl PgDatabase {
    fn create() -> (PgDatabase, String) {
        let admin = postgres_server();
        let name = format!("pc_test_serve_{}", std::process::id());
        let mut conn = platform_catalog::db::connect(&admin).expect("PostgreSQL is running");
        conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap();
        conn.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .unwrap_or(admin.clone());
        let url = format!("{base}/{name}");
        (PgDatabase { admin, name }, url)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = platform_catalog::db::connect(&self.admin) {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

#[test]
fn two_replicas_on_one_postgres_apply_each_step_exactly_once() {
    let dir = Scratch::new();
    let (_db, url) = PgDatabase::create();
    let a = Served::start(&url, dir.path(), "a", true);
    let token = a.first_token();
    let b = Served::start(&url, dir.path(), "b", false);
    let ids: Vec<Value> = ["grafana", "prometheus", "ingress-nginx"]
        .iter()
        .map(|c| auto_rollout(&a, &token, c, None))
        .collect();
    for id in &ids {
        wait(&b, &token, id, |r| r["state"] == "completed");
        assert_eq!(advances(&b, &token, id), (vec![0, 1, 2, 3], 1), "rollout {id}");
    }
    let (_, audit) = a.send("GET", "/api/v1/audit?actor=runner&limit=100", &token, None);
    let moves = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("rollout."))
        .count();
    assert_eq!(moves, 15, "three rollouts of four steps and a completion each: {audit}");
}

#[test]
fn a_sqlite_connection_syncs_the_log_at_every_commit_so_an_answered_write_survives_power_loss() {
    use diesel::sql_types::Integer;
    use diesel::{QueryableByName, RunQueryDsl};
    #[derive(QueryableByName)]
    struct Pragma {
        #[diesel(sql_type = Integer)]
        synchronous: i32,
    }
    let dir = Scratch::new();
    let url = dir.path().join("catalog.db").display().to_string();
    let conn = platform_catalog::db::connect(&url).expect("the file opens");
    let platform_catalog::db::DbConnection::Sqlite(mut conn) = conn else {
        panic!("a file path opens SQLite");
    };
    let rows: Vec<Pragma> = diesel::sql_query("PRAGMA synchronous")
        .load(&mut conn)
        .expect("the pragma reads");
    // 2 is FULL; NORMAL (1) may lose the last commits of a WAL database on power loss.
    assert_eq!(rows.iter().map(|r| r.synchronous).collect::<Vec<_>>(), [2]);
}

#[test]
fn a_sqlite_service_copies_its_log_into_the_database_file_between_writes() {
    use crate::support::app::{Backend, TestApp};
    let app = TestApp::with_catalog(Backend::Sqlite);
    let name = "checkpointed-7f3a91";
    let reply = app.post("/api/v1/clusters", &json!({"name": name, "tier": "dev"}));
    assert_eq!(reply.status, 201, "{}", reply.body);
    // A commit appends to the write-ahead log only; the service's checkpoint task copies it
    // into the database file within about a second.
    let in_file = || {
        let bytes = std::fs::read(&app.database_url).expect("the database file reads");
        bytes.windows(name.len()).any(|w| w == name.as_bytes())
    };
    let started = Instant::now();
    while !in_file() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the new cluster is still only in the log after 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
