//! The real binary's `serve` as a child process, for what only a process shows: restarts,
//! `kill -9`, several replicas on one database.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::repo_root;

/// The README's start-up files: the example catalog, its builds and its fleet.
pub const FILES: [&str; 6] = [
    "--catalog",
    "COMPONENTS.yaml",
    "--tags",
    "examples/tags.yaml",
    "--clusters",
    "examples/clusters.yaml",
];

/// A running `platform-catalog serve`.
pub struct Served {
    child: Child,
    pub base: String,
    stderr: PathBuf,
    agent: ureq::Agent,
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("a bound address")
        .port()
}

impl Served {
    /// Starts `serve` on `database_url` with the runner every 100ms, logging to `dir`, and
    /// waits until it answers `/healthz`. `load` seeds the example catalog, tags and fleet.
    pub fn start(database_url: &str, dir: &Path, name: &str, load: bool) -> Served {
        let files: &[&str] = match load {
            true => &FILES,
            false => &[],
        };
        Served::start_with(database_url, dir, name, files)
    }

    /// Starts `serve` with `args` added and waits until it answers `/healthz`.
    pub fn start_with(database_url: &str, dir: &Path, name: &str, args: &[&str]) -> Served {
        let served = Served::spawn(database_url, dir, name, args);
        let started = Instant::now();
        while served.status("GET", "/healthz", None, None) != Some(200) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "serve did not come up: {}",
                served.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        served
    }

    /// Starts `serve` with `args` added when it is expected to refuse: waits for it to exit and
    /// returns its exit code and log.
    pub fn refused(database_url: &str, dir: &Path, name: &str, args: &[&str]) -> (i32, String) {
        let mut served = Served::spawn(database_url, dir, name, args);
        let started = Instant::now();
        loop {
            if let Some(status) = served.child.try_wait().expect("the child can be waited for") {
                return (status.code().unwrap_or(-1), served.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "serve did not refuse: {}",
                served.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn spawn(database_url: &str, dir: &Path, name: &str, args: &[&str]) -> Served {
        let port = free_port();
        let stderr = dir.join(format!("{name}.log"));
        let root = repo_root();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_platform-catalog"));
        cmd.args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            database_url,
        ])
        .args(["--rollout-runner-every", "100ms", "--rollout-gate", "soak"])
        .args(args)
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&stderr).expect("a log file"));
        let child = cmd.spawn().expect("the binary starts");
        let config = ureq::Agent::config_builder().http_status_as_error(false).build();
        Served {
            child,
            base: format!("http://127.0.0.1:{port}"),
            stderr,
            agent: ureq::Agent::new_with_config(config),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The admin token a first start prints.
    pub fn first_token(&self) -> String {
        let log = self.log();
        let line = log
            .lines()
            .find_map(|l| l.trim().strip_prefix("TOKEN="))
            .unwrap_or_else(|| panic!("no first token in the log: {log}"));
        line.trim().to_owned()
    }

    fn status(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Option<u16> {
        self.try_send(method, path, token, body).map(|(s, _)| s)
    }

    fn try_send(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Option<(u16, String)> {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(t) = token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        let request = builder
            .body(body.map(Value::to_string).unwrap_or_default())
            .expect("a valid request");
        let mut response = self.agent.run(request).ok()?;
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Some((response.status().as_u16(), text))
    }

    /// A request that must get an answer; returns status and JSON body.
    pub fn send(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
        let (status, text) = self
            .try_send(method, path, Some(token), body)
            .unwrap_or_else(|| panic!("{method} {path}: no answer"));
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `kill -9`: no shutdown, no draining, whatever transaction is open is cut off.
    pub fn kill(mut self) {
        self.child.kill().expect("the child can be killed");
        self.child.wait().expect("the child is reaped");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
