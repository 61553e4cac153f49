//! The application, built one way for `serve` and for the tests: the database, start-up
//! files, the bound listener, the first admin token, the HTTP server and every background task.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;

use crate::error::Error;
use crate::registry::RegistrySettings;
use crate::server::{self, Settings};
use crate::service::publish::PublishSettings;
use crate::service::rollouts::gate::{HealthGate, StepGate};
use crate::service::{expiry, rollouts, seed, tokens, AppState};

/// Everything the application is built from; `serve` fills it from its flags and
/// `PLATFORM_CATALOG_*` variables, tests from their own choices.
pub struct AppSettings {
    /// A SQLite file path or a `postgres://` URL.
    pub database_url: String,
    pub pool_size: u32,
    /// Bytes of rendered configs kept in memory.
    pub render_cache_bytes: usize,
    /// Where to listen; port 0 picks a free one.
    pub bind: String,
    pub http: Settings,
    pub registry: RegistrySettings,
    pub publish: Option<PublishSettings>,
    /// Start-up files, already read and checked.
    pub files: seed::Files,
    /// Apply start-up files to a database that holds data and differs from them.
    pub apply_files: bool,
    pub gate: Arc<dyn StepGate>,
    pub tasks: Tasks,
}

/// How often each background task runs (each first runs one period after the start).
#[derive(Clone, Copy, Debug)]
pub struct Tasks {
    /// The rollout runner: `auto` waves move on.
    pub runner: Duration,
    /// Overrides past their expiry get a new revision.
    pub expiry: Duration,
    /// Artifacts whose `sync_interval` is due are synced.
    pub sync: Duration,
    /// New cluster revisions are published.
    pub publish: Duration,
    /// SQLite's write-ahead log is copied into the database file.
    pub checkpoint: Duration,
}

impl Default for Tasks {
    fn default() -> Self {
        Tasks {
            runner: Duration::from_secs(5),
            expiry: Duration::from_secs(15),
            sync: Duration::from_secs(5),
            publish: Duration::from_secs(2),
            checkpoint: Duration::from_secs(1),
        }
    }
}

impl AppSettings {
    /// The defaults `serve` has, on `database_url`, listening on a free loopback port.
    pub fn new(database_url: &str) -> AppSettings {
        AppSettings {
            database_url: database_url.to_owned(),
            pool_size: 8,
            render_cache_bytes: crate::service::DEFAULT_CACHE_BYTES,
            bind: "127.0.0.1:0".into(),
            http: Settings::default(),
            registry: RegistrySettings::default(),
            publish: None,
            files: seed::Files::default(),
            apply_files: false,
            gate: Arc::new(HealthGate),
            tasks: Tasks::default(),
        }
    }
}

/// A built application: the database is open and seeded, the listener bound. Nothing runs
/// until [`Application::start`].
pub struct Application {
    state: Arc<AppState>,
    listener: TcpListener,
    addr: SocketAddr,
    http: Settings,
    tasks: Tasks,
    gate: Arc<dyn StepGate>,
    /// What start-up did with the files.
    pub started: seed::Started,
    /// The admin token a first start issued, to show once.
    pub first_admin: Option<String>,
}

impl Application {
    /// Opens the database (running migrations), seeds it from the start-up files, binds the
    /// listener and, on a first start with token auth, issues the admin token — in that order,
    /// so a start that fails never issues a token nobody saw.
    pub fn build(settings: AppSettings) -> Result<Application, Error> {
        let state = server::open(&settings.database_url, settings.pool_size)?;
        state.renders.set_budget(settings.render_cache_bytes);
        state.set_registry_settings(settings.registry)?;
        state.set_publish_settings(settings.publish)?;
        let started = seed::on_start(&state, &settings.files, settings.apply_files)?;
        let listener =
            TcpListener::bind(&settings.bind).map_err(|e| Error::Usage(format!("--bind {}: {e}", settings.bind)))?;
        let addr = listener.local_addr().map_err(|e| Error::Internal(e.to_string()))?;
        let first_admin = match settings.http.access.mode {
            crate::http::access::AuthMode::Token => tokens::first_admin(&state)?,
            crate::http::access::AuthMode::None => None,
        };
        Ok(Application {
            state,
            listener,
            addr,
            http: settings.http,
            tasks: settings.tasks,
            gate: settings.gate,
            started,
            first_admin,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Starts the background tasks (rollout runner, override expiry, registry sync,
    /// publisher, log checkpoint) and the HTTP server; call it inside an actix system and await the server.
    pub fn start(self) -> std::io::Result<Server> {
        let (state, tasks) = (self.state, self.tasks);
        actix_web::rt::spawn(sweep_expired_overrides(state.clone(), tasks.expiry));
        actix_web::rt::spawn(rollouts::runner::run_forever(state.clone(), self.gate, tasks.runner));
        actix_web::rt::spawn(server::sync_registries(state.clone(), tasks.sync));
        actix_web::rt::spawn(server::publish_revisions(state.clone(), tasks.publish));
        actix_web::rt::spawn(checkpoint_log(state.clone(), tasks.checkpoint));
        server::run(self.listener, state, self.http)
    }
}

/// Records a new revision for each cluster whose override expired since the last sweep.
async fn sweep_expired_overrides(state: Arc<AppState>, every: Duration) {
    let sweeper = Arc::new(expiry::Sweeper::default());
    let mut ticks = server::ticks(every);
    loop {
        ticks.tick().await;
        let (state, sweeper) = (state.clone(), sweeper.clone());
        match actix_web::web::block(move || sweeper.sweep(&state)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(clusters = n, "expired overrides: new revisions"),
            Ok(Err(e)) => tracing::warn!(error = %e, "expired overrides: sweep failed; retrying"),
            Err(e) => tracing::warn!(error = %e, "expired overrides: sweep did not run"),
        }
    }
}

/// Keeps SQLite's write-ahead log short: commits only append to it (see `db::connect`).
async fn checkpoint_log(state: Arc<AppState>, every: Duration) {
    let mut ticks = server::ticks(every);
    loop {
        ticks.tick().await;
        let state = state.clone();
        let done = actix_web::web::block(move || state.conn().and_then(|mut c| crate::db::checkpoint(&mut c)));
        match done.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "log checkpoint failed; retrying"),
            Err(e) => tracing::warn!(error = %e, "log checkpoint did not run"),
        }
    }
}
