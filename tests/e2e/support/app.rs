//! The service under test: spawned in-process on port 0 over a fresh SQLite file or a fresh
//! PostgreSQL database, and spoken to over HTTP.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use platform_catalog::service::tokens::{NewToken, Role, TokenName};
use platform_catalog::service::{self, AppState, Caller};
use serde_json::Value;

use super::{repo_root, Scratch};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests create their databases on.
pub fn postgres_server() -> String {
    std::env::var("PLATFORM_CATALOG_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of its own for one test, removed afterwards.
pub enum Database {
    Sqlite(#[allow(dead_code)] Scratch),
    Postgres { admin: String, name: String },
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres { admin, name } = self {
            if let Ok(mut conn) = platform_catalog::db::connect(admin) {
                use diesel::connection::SimpleConnection;
                let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// A fresh database for one test and its URL.
pub fn database(backend: Backend) -> (Database, String) {
    static N: AtomicUsize = AtomicUsize::new(0);
    match backend {
        Backend::Sqlite => {
            let dir = Scratch::new();
            let url = dir.path().join("catalog.db").display().to_string();
            (Database::Sqlite(dir), url)
        }
        Backend::Postgres => {
            use diesel::connection::SimpleConnection;
            let admin = postgres_server();
            let name = format!("pc_test_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
            let mut conn = platform_catalog::db::connect(&admin).unwrap_or_else(|e| {
                panic!("PostgreSQL must be running for the tests ({e}); set PLATFORM_CATALOG_TEST_POSTGRES to its URL")
            });
            conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .expect("a stale test database can be dropped");
            conn.batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("a test database can be created");
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_owned())
                .unwrap_or(admin.clone());
            let url = format!("{base}/{name}");
            (Database::Postgres { admin, name }, url)
        }
    }
}

/// A running service with the example catalog, tags and (optionally) clusters loaded.
pub struct TestApp {
    pub base: String,
    pub state: Arc<AppState>,
    /// The admin token every request carries unless it says otherwise.
    pub token: String,
    /// The database the service runs on, for a second connection or a restart.
    pub database_url: String,
    agent: ureq::Agent,
    handle: actix_web::dev::ServerHandle,
    _db: Database,
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Issues a token through the service layer, as `platform-catalog token create` does.
pub fn issue(state: &AppState, name: &str, role: Role, cluster: Option<&str>) -> String {
    let new = NewToken {
        name: TokenName::parse(name).expect("a test token's name parses"),
        role,
        cluster: cluster.map(|c| catalog::ClusterName::parse(c).expect("a test token's cluster parses")),
        lifetime: None,
    };
    service::tokens::create(state, &system(), new)
        .expect("a test token can be issued")
        .1
}

fn system() -> Caller {
    Caller::internal("test", "test")
}

impl TestApp {
    /// A service over an empty database.
    pub fn empty(backend: Backend) -> TestApp {
        TestApp::with_settings(backend, platform_catalog::server::Settings::default())
    }

    /// A service over an empty database, with these server settings.
    pub fn with_settings(backend: Backend, settings: platform_catalog::server::Settings) -> TestApp {
        TestApp::with_gate(
            backend,
            settings,
            Arc::new(platform_catalog::service::rollouts::gate::SoakGate),
        )
    }

    /// A service over an empty database whose rollout runner asks `gate`.
    pub fn with_gate(
        backend: Backend,
        settings: platform_catalog::server::Settings,
        gate: Arc<dyn platform_catalog::service::rollouts::gate::StepGate>,
    ) -> TestApp {
        let tasks = platform_catalog::app::Tasks {
            runner: std::time::Duration::from_millis(100),
            ..platform_catalog::app::Tasks::default()
        };
        TestApp::build(backend, settings, gate, tasks)
    }

    /// A service over an empty database whose registry syncs and publishing run only when a
    /// test calls them (with its own clock): their background tasks wait an hour.
    pub fn driven_by_hand(backend: Backend) -> TestApp {
        let hour = std::time::Duration::from_secs(3600);
        let tasks = platform_catalog::app::Tasks {
            sync: hour,
            publish: hour,
            ..platform_catalog::app::Tasks::default()
        };
        let gate = Arc::new(platform_catalog::service::rollouts::gate::SoakGate);
        TestApp::build(backend, platform_catalog::server::Settings::default(), gate, tasks)
    }

    fn build(
        backend: Backend,
        settings: platform_catalog::server::Settings,
        gate: Arc<dyn platform_catalog::service::rollouts::gate::StepGate>,
        tasks: platform_catalog::app::Tasks,
    ) -> TestApp {
        let (db, url) = database(backend);
        // The same `Application::build` as `serve`: every route and every background task.
        let app = platform_catalog::app::Application::build(platform_catalog::app::AppSettings {
            pool_size: 4,
            http: settings,
            gate,
            tasks,
            ..platform_catalog::app::AppSettings::new(&url)
        })
        .expect("the application builds");
        let base = format!("http://{}", app.addr());
        let state = app.state();
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = app.start().expect("the server starts");
                tx.send(server.handle()).expect("the test waits for the handle");
                server.await
            })
        });
        let handle = rx.recv().expect("the server reports its handle");
        let config = ureq::Agent::config_builder().http_status_as_error(false).build();
        let token = issue(&state, "test-admin", Role::Admin, None);
        TestApp {
            base,
            state,
            token,
            database_url: url,
            agent: ureq::Agent::new_with_config(config),
            handle,
            _db: db,
        }
    }

    /// A service with the example catalog and tags loaded, and no clusters.
    pub fn with_catalog(backend: Backend) -> TestApp {
        TestApp::empty(backend).load_catalog()
    }

    /// The example catalog, tags and clusters.
    pub fn with_fleet(backend: Backend) -> TestApp {
        TestApp::with_catalog(backend).load_fleet()
    }

    /// The example catalog, tags and clusters, with a rollout runner asking `gate`.
    pub fn with_fleet_and_gate(
        backend: Backend,
        gate: Arc<dyn platform_catalog::service::rollouts::gate::StepGate>,
    ) -> TestApp {
        TestApp::with_gate(backend, platform_catalog::server::Settings::default(), gate)
            .load_catalog()
            .load_fleet()
    }

    /// Loads the example catalog and its builds.
    pub fn load_catalog(self) -> TestApp {
        let text = std::fs::read_to_string(repo_root().join("COMPONENTS.yaml")).expect("the example catalog");
        let loaded = catalog::validate::load("COMPONENTS.yaml", &text).expect("the example catalog is valid");
        service::import_catalog(&self.state, &system(), loaded.catalog.to_document(), "test").expect("import");
        let tags: service::artifacts::TagsDocument = yaml_file("examples/tags.yaml");
        service::artifacts::import_tags(&self.state, &system(), &tags).expect("tags import");
        self
    }

    /// Loads the example fleet.
    pub fn load_fleet(self) -> TestApp {
        let clusters: service::fleet::ClustersDocument = yaml_file("examples/clusters.yaml");
        service::fleet::import(&self.state, &system(), clusters).expect("clusters import");
        self
    }

    /// Issues a token through the service layer and returns its text.
    pub fn issue(&self, name: &str, role: Role, cluster: Option<&str>) -> String {
        issue(&self.state, name, role, cluster)
    }

    /// A request carrying the admin token (unless `headers` sets `Authorization`).
    pub fn request(&self, method: &str, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Reply {
        let bearer = format!("Bearer {}", self.token);
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("authorization")) {
            all.push(("authorization", &bearer));
        }
        self.send(method, path, body, &all)
    }

    /// A request carrying `token`, or no token at all.
    pub fn request_as(&self, token: Option<&str>, method: &str, path: &str, body: Option<&str>) -> Reply {
        match token {
            Some(t) => self.send(method, path, body, &[("authorization", &format!("Bearer {t}"))]),
            None => self.send(method, path, body, &[]),
        }
    }

    /// Exactly these headers, no token added; a body is JSON unless they say otherwise.
    pub fn send(&self, method: &str, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut builder = ureq::http::Request::builder().method(method).uri(&url);
        let typed = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if body.is_some() && !typed {
            builder = builder.header("content-type", "application/json");
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = builder.body(body.unwrap_or("").to_owned()).expect("a valid request");
        let mut response = self
            .agent
            .run(request)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        Reply {
            status: response.status().as_u16(),
            headers,
            body: response.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, None, &[])
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.request("POST", path, Some(&body.to_string()), &[])
    }

    pub fn put(&self, path: &str, body: &Value) -> Reply {
        self.request("PUT", path, Some(&body.to_string()), &[])
    }

    pub fn patch(&self, path: &str, body: &Value) -> Reply {
        self.request("PATCH", path, Some(&body.to_string()), &[])
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.request("DELETE", path, None, &[])
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop the server before the database goes away.
        drop(self.handle.stop(false));
    }
}

pub fn yaml_file<T: serde::de::DeserializeOwned>(path: &str) -> T {
    let text = std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_value(catalog::yaml::parse(&text).expect("valid YAML").value)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Defines a test for each backend: `both!(name, |app_backend| { ... })`.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn sqlite() {
                ($body)($crate::support::app::Backend::Sqlite)
            }
            #[test]
            fn postgres() {
                ($body)($crate::support::app::Backend::Postgres)
            }
        }
    };
}
