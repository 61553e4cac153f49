//! A headless Chromium driven over the W3C WebDriver protocol (JSON over HTTP to chromedriver):
//! enough to sign in, click, type, read text and take screenshots. Without chromium or
//! chromedriver the browser tests skip with a line saying so, or fail when `CI=true`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The key W3C WebDriver names an element reference by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A program on `PATH`, or the file an environment variable names.
fn program(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
}

/// An element on the page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    /// A fresh headless browser, or `None` (after a skip line) when none is installed and
    /// `CI` is not `true`.
    pub fn start(test: &str) -> Option<Browser> {
        let chromium = program("CHROME_BIN", &["chromium", "chromium-browser", "google-chrome"]);
        let driver = program("CHROMEDRIVER", &["chromedriver"]);
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: chromium and chromedriver are needed (CI=true): install chromium and chromium-driver"
            );
            eprintln!("skipped {test}: chromium or chromedriver is not installed");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let config = ureq::Agent::config_builder().http_status_as_error(false).build();
        let mut browser = Browser {
            driver: child,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            agent: ureq::Agent::new_with_config(config),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while browser.call("GET", "/status", None).get("ready") != Some(&json!(true)) {
            assert!(Instant::now() < deadline, "chromedriver did not get ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,900", "--lang=en-US"]
            }
        }}});
        let created = browser.call("POST", "/session", Some(caps));
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        Some(browser)
    }

    /// One WebDriver command; its `value`.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("content-type", "application/json")
            .body(body.map(|b| b.to_string()).unwrap_or_default())
            .expect("a valid request");
        let Ok(mut response) = self.agent.run(request) else {
            return Value::Null;
        };
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        value.get("value").cloned().unwrap_or(Value::Null)
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn url(&self) -> String {
        self.session_call("GET", "/url", None).as_str().unwrap_or("").to_owned()
    }

    /// The elements `css` selects now.
    pub fn all(&self, css: &str) -> Vec<Element> {
        let found = self.session_call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        found
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str())
                    .map(|id| Element(id.to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element `css` selects, waiting up to five seconds for it.
    pub fn find(&self, css: &str) -> Element {
        self.wait(&format!("an element {css}"), || self.all(css).into_iter().next())
    }

    /// Polls `f` every 50 ms until it answers, for up to five seconds.
    pub fn wait<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(Instant::now() < deadline, "waited 5 s for {what} on {}", self.url());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn click(&self, e: &Element) {
        self.session_call("POST", &format!("/element/{}/click", e.0), Some(json!({})));
    }

    /// Clicks the button whose text is `label`.
    pub fn press(&self, label: &str) {
        let button = self
            .all("button")
            .into_iter()
            .find(|b| self.text(b) == label)
            .unwrap_or_else(|| panic!("no button {label:?} on {}", self.url()));
        self.click(&button);
    }

    pub fn type_into(&self, e: &Element, text: &str) {
        self.session_call(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        );
    }

    pub fn text(&self, e: &Element) -> String {
        let v = self.session_call("GET", &format!("/element/{}/text", e.0), None);
        v.as_str().unwrap_or("").to_owned()
    }

    /// The text of the first element `css` selects.
    pub fn text_of(&self, css: &str) -> String {
        self.text(&self.find(css))
    }

    /// Runs `script` in the page and returns what it returns.
    pub fn eval(&self, script: &str) -> Value {
        self.session_call("POST", "/execute/sync", Some(json!({"script": script, "args": []})))
    }

    /// Signs in to the console at `base` with `token` and waits for the fleet page.
    pub fn sign_in(&self, base: &str, token: &str) {
        self.goto(&format!("{base}/ui/login"));
        self.type_into(&self.find("#token"), token);
        self.click(&self.find("form button[type=submit]"));
        self.wait("the fleet page", || self.url().ends_with("/ui/").then_some(()));
    }

    /// Saves a PNG of the window to `path` (relative to the repository root).
    pub fn screenshot(&self, path: &str) {
        use base64::Engine;
        let data = self.session_call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().expect("a screenshot"))
            .expect("a base64 PNG");
        let to = super::repo_root().join(path);
        std::fs::create_dir_all(to.parent().expect("a directory")).expect("the directory is creatable");
        std::fs::write(&to, png).expect("the screenshot is writable");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            self.session_call("DELETE", "", None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
