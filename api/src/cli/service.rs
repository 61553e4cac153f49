//! The service commands: `serve`, `migrate`, `openapi`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::files::{read_files, FilePaths};
use crate::app::{AppSettings, Application};
use crate::error::Error;
use crate::http::access::{AccessSettings, AuthMode};
use crate::service::rollouts::gate::{HealthGate, SoakGate, StepGate};
use crate::service::{self, seed};
use crate::{http, server};

/// Where the data lives; shared by every command that opens the database.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// SQLite file path (the default, embedded) or a postgres:// URL.
    #[arg(long, env = "PLATFORM_CATALOG_DATABASE_URL", default_value = "platform-catalog.db")]
    database_url: String,

    /// Database connections kept open.
    #[arg(long, env = "PLATFORM_CATALOG_POOL_SIZE", default_value_t = 8)]
    pool_size: u32,
}

impl DatabaseArgs {
    pub fn url(&self) -> &str {
        &self.database_url
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PLATFORM_CATALOG_BIND", default_value = "127.0.0.1:8080")]
    bind: String,

    #[command(flatten)]
    db: DatabaseArgs,

    /// Seed an empty database with this COMPONENTS.yaml. On a database that holds data, the
    /// start refuses if the file would change it (unless --apply-files).
    #[arg(long, env = "PLATFORM_CATALOG_CATALOG", value_name = "FILE")]
    catalog: Option<PathBuf>,

    /// Seed an empty database with this clusters file (see --catalog for a database with data).
    #[arg(long, env = "PLATFORM_CATALOG_CLUSTERS", value_name = "FILE")]
    clusters: Option<PathBuf>,

    /// Seed an empty database with the builds in this tags file (`tags: [{artifact, tag, digest}]`).
    #[arg(long, env = "PLATFORM_CATALOG_TAGS", value_name = "FILE")]
    tags: Option<PathBuf>,

    /// Apply --catalog/--tags/--clusters to a database that holds data and differs from them:
    /// one write through the API's checks, audited as `files`. Without it such a start refuses
    /// and lists what would change.
    #[arg(long, env = "PLATFORM_CATALOG_APPLY_FILES")]
    apply_files: bool,

    /// `token` (default): every request but health, docs and metrics needs a bearer token.
    /// `none`: local development only; allowed on a loopback --bind, every caller is an admin.
    #[arg(long, env = "PLATFORM_CATALOG_AUTH", value_enum, default_value_t = AuthMode::Token)]
    auth: AuthMode,

    /// Require a viewer token for /metrics (public by default).
    #[arg(long, env = "PLATFORM_CATALOG_METRICS_AUTH")]
    metrics_auth: bool,

    /// Bytes of rendered configs kept in memory; past it the oldest renders are dropped and
    /// rendered again when asked for.
    #[arg(long, env = "PLATFORM_CATALOG_RENDER_CACHE_BYTES", default_value_t = service::DEFAULT_CACHE_BYTES)]
    render_cache_bytes: usize,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "PLATFORM_CATALOG_WORKERS", value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,

    /// Refuse request bodies over this many bytes with 413.
    #[arg(long, env = "PLATFORM_CATALOG_MAX_BODY_BYTES", default_value_t = http::extract::BODY_LIMIT)]
    max_body_bytes: usize,

    /// How often the rollout runner looks for `auto` waves to move on (`500ms`, `5s`, `1m`).
    #[arg(long, env = "PLATFORM_CATALOG_ROLLOUT_RUNNER_EVERY", default_value = "5s", value_parser = runner_every)]
    rollout_runner_every: std::time::Duration,

    /// What lets an `auto` wave move on: `health` waits until every cluster of the last step
    /// reported its new revision ready through Flux events (and the soak passed); `soak` waits
    /// for the soak alone, for fleets that do not send events.
    #[arg(long, env = "PLATFORM_CATALOG_ROLLOUT_GATE", value_enum, default_value_t = RolloutGate::Health)]
    rollout_gate: RolloutGate,

    #[command(flatten)]
    registry: super::registry::RegistryArgs,

    /// Publish every new cluster revision as a Flux artifact to oci://HOST/PREFIX/<cluster>,
    /// tagged rev-<n>, and move the channel tag to it.
    #[arg(long, env = "PLATFORM_CATALOG_PUBLISH_TO", value_name = "URL")]
    publish_to: Option<String>,

    /// The tag that follows each cluster's newest published revision.
    #[arg(long, env = "PLATFORM_CATALOG_PUBLISH_CHANNEL", default_value = service::publish::DEFAULT_CHANNEL)]
    publish_channel: String,

    /// Talk plain http to the --publish-to registry (local or test registries only).
    #[arg(long, env = "PLATFORM_CATALOG_PUBLISH_INSECURE")]
    publish_insecure: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum RolloutGate {
    Health,
    Soak,
}

/// A runner interval: milliseconds, or any duration `parse_duration` reads; at least 10ms.
fn runner_every(text: &str) -> Result<std::time::Duration, String> {
    let every = match text.strip_suffix("ms") {
        Some(ms) => std::time::Duration::from_millis(
            ms.parse()
                .map_err(|_| format!("{text:?} is not a duration like 500ms or 5s"))?,
        ),
        None => service::time::parse_duration(text)?
            .to_std()
            .map_err(|_| format!("{text:?} must not be negative"))?,
    };
    if every < std::time::Duration::from_millis(10) {
        return Err(format!("{text:?} is too short; give at least 10ms"));
    }
    Ok(every)
}

/// Whether every address `bind` names is a loopback one.
fn is_loopback(bind: &str) -> bool {
    use std::net::ToSocketAddrs;
    bind.to_socket_addrs()
        .map(|addrs| {
            let addrs: Vec<_> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
        })
        .unwrap_or(false)
}

pub fn serve(args: ServeArgs) -> Result<ExitCode, Error> {
    server::init_tracing();
    if args.auth == AuthMode::None {
        if !is_loopback(&args.bind) {
            return Err(Error::Usage(format!(
                "--auth none is for local development and needs a loopback --bind (like 127.0.0.1:8080), not {}",
                args.bind
            )));
        }
        tracing::warn!("--auth none: authentication is OFF; every request acts as `anonymous` with admin rights");
    }
    let settings = args.settings()?;
    let database = crate::db::redact(&settings.database_url);
    let auth = settings.http.access.mode;
    let app = Application::build(settings)?;
    match &app.started {
        seed::Started::Seeded { clusters, tags } => {
            eprintln!("seeded the empty database from the files: {clusters} cluster(s), {tags} build(s)")
        }
        seed::Started::Applied { differences } => {
            eprintln!("--apply-files: applied {} change(s) from the files", differences.len())
        }
        seed::Started::Unchanged => {}
    }
    let addr = app.addr();
    if let Some(token) = &app.first_admin {
        // Shown once, here, and never again: only its hash is stored.
        eprintln!(
            "\nFirst start: created the admin token \"admin\". It is shown only this once; keep it safe:\n\n    \
             TOKEN={token}\n\nUse it as a bearer token:\n\n    \
             curl -H \"Authorization: Bearer $TOKEN\" http://{addr}/api/v1/clusters\n\n\
             Issue more with POST /api/v1/tokens or `platform-catalog token create`.\n"
        );
    } else if auth == AuthMode::Token && !service::tokens::has_active_admin(&app.state())? {
        tracing::warn!(
            "no admin token works (none left, or all expired): make one with \
             `platform-catalog token create --role admin --name NAME` against this database"
        );
    }
    tracing::info!(%addr, %database, "serving; docs at http://{addr}/docs/");
    actix_web::rt::System::new()
        .block_on(async move { app.start()?.await })
        .map_err(|e| Error::Internal(format!("the server stopped: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

impl ServeArgs {
    /// The application's settings from the flags and their `PLATFORM_CATALOG_*` variables.
    fn settings(&self) -> Result<AppSettings, Error> {
        let publish = match &self.publish_to {
            None => None,
            Some(url) => {
                let target = crate::registry::Target::parse(url, self.publish_insecure)
                    .map_err(|e| Error::Usage(format!("--publish-to {url}: {e}")))?;
                let channel = catalog::OciTag::parse(&self.publish_channel)
                    .map_err(|e| Error::Usage(format!("--publish-channel: {e}")))?;
                Some(service::publish::PublishSettings {
                    target,
                    channel: channel.to_string(),
                })
            }
        };
        let gate: Arc<dyn StepGate> = match self.rollout_gate {
            RolloutGate::Health => Arc::new(HealthGate),
            RolloutGate::Soak => Arc::new(SoakGate),
        };
        Ok(AppSettings {
            database_url: self.db.database_url.clone(),
            pool_size: self.db.pool_size,
            render_cache_bytes: self.render_cache_bytes,
            bind: self.bind.clone(),
            http: server::Settings {
                access: AccessSettings {
                    mode: self.auth,
                    metrics_auth: self.metrics_auth,
                },
                max_body_bytes: self.max_body_bytes,
                workers: self.workers.map(usize::from),
                ..server::Settings::default()
            },
            registry: self.registry.settings(),
            publish,
            files: read_files(FilePaths {
                catalog: self.catalog.as_deref(),
                tags: self.tags.as_deref(),
                clusters: self.clusters.as_deref(),
            })?,
            apply_files: self.apply_files,
            gate,
            tasks: crate::app::Tasks {
                runner: self.rollout_runner_every,
                ..crate::app::Tasks::default()
            },
        })
    }
}

pub fn migrate(db: DatabaseArgs) -> Result<ExitCode, Error> {
    let mut conn = crate::db::connect(&db.database_url)?;
    let applied = crate::db::migrate(&mut conn)?;
    eprintln!("{} migration(s) applied", applied.len());
    Ok(ExitCode::SUCCESS)
}

pub fn openapi() -> Result<ExitCode, Error> {
    let doc = http::openapi()
        .to_pretty_json()
        .map_err(|e| Error::Internal(e.to_string()))?;
    crate::sayln!("{doc}");
    Ok(ExitCode::SUCCESS)
}
