//! A real OCI registry for tests: Debian's `docker-registry` (CNCF distribution) on a free
//! loopback port with its own storage, stopped when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Scratch;

const BINARY: &str = "docker-registry";

pub struct TestRegistry {
    child: Option<Child>,
    /// `127.0.0.1:PORT`
    pub addr: String,
    dir: Scratch,
}

/// Whether a missing registry fails the test (CI) or skips it (a developer machine).
fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn installed() -> bool {
    Command::new(BINARY)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl TestRegistry {
    /// A started registry, or `None` (with a message) when `docker-registry` is not installed
    /// outside CI. In CI a missing registry fails the test.
    pub fn start() -> Option<TestRegistry> {
        if !installed() {
            assert!(
                !required(),
                "{BINARY} is not installed; CI must install it (apt-get install -y docker-registry)"
            );
            eprintln!("SKIPPED: {BINARY} is not installed (apt-get install -y docker-registry)");
            return None;
        }
        let dir = Scratch::new();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut registry = TestRegistry {
            child: None,
            addr: format!("127.0.0.1:{port}"),
            dir,
        };
        registry.run();
        Some(registry)
    }

    fn run(&mut self) {
        let config = self.dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\nhttp: {{addr: {}}}\n",
                self.dir.path().join("data").display(),
                self.addr
            ),
        )
        .expect("the registry config is writable");
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry starts");
        self.child = Some(child);
        let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).build());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(r) = agent.get(format!("http://{}/v2/", self.addr)).call() {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the registry at {} did not answer /v2/",
                self.addr
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `oci://127.0.0.1:PORT/<repository>`
    pub fn url(&self, repository: &str) -> String {
        format!("oci://{}/{repository}", self.addr)
    }

    /// Stops the registry; its storage stays for [`TestRegistry::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and storage.
    #[allow(dead_code)]
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// The registry's own `Docker-Content-Digest` for a tag, or `None` when the tag is unknown.
    pub fn digest(&self, repository: &str, tag: &str) -> Option<String> {
        let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).build());
        let reply = agent
            .head(format!("http://{}/v2/{repository}/manifests/{tag}", self.addr))
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .call()
            .expect("the registry answers");
        if reply.status() == 404 {
            return None;
        }
        assert_eq!(reply.status(), 200, "HEAD {repository}:{tag}");
        Some(
            reply
                .headers()
                .get("docker-content-digest")
                .expect("a Docker-Content-Digest header")
                .to_str()
                .expect("an ASCII digest")
                .to_owned(),
        )
    }

    /// GET `/v2/<path>` as bytes.
    pub fn get(&self, path: &str, accept: &str) -> Vec<u8> {
        let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).build());
        let mut reply = agent
            .get(format!("http://{}/v2/{path}", self.addr))
            .header("accept", accept)
            .call()
            .expect("the registry answers");
        assert_eq!(reply.status(), 200, "GET /v2/{path}");
        reply
            .body_mut()
            .with_config()
            .limit(512 * 1024 * 1024)
            .read_to_vec()
            .expect("a body")
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}
