//! Starting the service: settings, the database, the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Server, Service};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer};

use crate::db;
use crate::error::Error;
use crate::http;
use crate::http::access::{self, AccessSettings};
use crate::service::AppState;

/// Opens the database, runs pending migrations, and builds the shared state.
pub fn open(database_url: &str, pool_size: u32) -> Result<Arc<AppState>, Error> {
    let pool = db::pool(database_url, pool_size)?;
    let mut conn = pool.get()?;
    let applied = db::migrate(&mut conn)?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied database migrations");
    }
    drop(conn);
    Ok(Arc::new(AppState::new(pool)))
}

/// How the HTTP server treats requests.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub access: AccessSettings,
    /// Bodies over this are refused with 413.
    pub max_body_bytes: usize,
    /// A client must send its request head within this, or it gets 408.
    pub client_request_timeout: Duration,
    /// How long an idle keep-alive connection stays open.
    pub keep_alive: Duration,
    /// HTTP worker threads; `None`: one per core.
    pub workers: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            access: AccessSettings::default(),
            max_body_bytes: http::extract::BODY_LIMIT,
            client_request_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(30),
            workers: None,
        }
    }
}

/// Serves the API on `listener` until SIGINT/SIGTERM, then drains in-flight requests.
pub fn run(listener: TcpListener, state: Arc<AppState>, settings: Settings) -> std::io::Result<Server> {
    // One document for the docs page and the access table, built from the same registration
    // as the router.
    let doc = http::openapi();
    let table = Arc::new(access::AccessTable::from_doc(&doc).map_err(std::io::Error::other)?);
    let doc_json = actix_web::web::Bytes::from(serde_json::to_vec(&doc).map_err(std::io::Error::other)?);
    drop(doc);
    // Console sessions live in this process, shared by every worker.
    let sessions = actix_web::web::Data::new(crate::console::session::Sessions::default());
    let server = HttpServer::new(move || {
        let state = state.clone();
        let metrics_state = state.clone();
        let guard_state = state.clone();
        let guard_table = table.clone();
        let access_settings = settings.access;
        // Each worker builds its own App: its memory of routes is its own, without a lock.
        let routes = std::rc::Rc::new(access::RouteMemory::default());
        let guard_routes = routes.clone();
        // Middleware runs outside in: logging and metrics see every answer, including the
        // guard's 401 and 403; the guard runs before any handler.
        // The browser headers wrap the guard, so its refusals carry them too.
        App::new()
            .app_data(sessions.clone())
            .wrap(from_fn(move |req, next| {
                let (state, table) = (guard_state.clone(), guard_table.clone());
                access::guard(access_settings, state, table, guard_routes.clone(), req, next)
            }))
            .wrap(from_fn(http::docs_headers))
            .wrap_fn(move |req, srv| {
                let (method, path) = (req.method().clone(), req.path().to_owned());
                let route = routes.route(&req);
                let request_id = http::extract::assign_request_id(&req);
                let started = Instant::now();
                let fut = srv.call(req);
                let state = metrics_state.clone();
                async move {
                    let res = fut.await.map(|r| http::problem::with_request_id(r, &request_id));
                    let status = res.as_ref().map(|r| r.status().as_u16()).unwrap_or(500);
                    let elapsed = started.elapsed();
                    let route = route.as_deref().unwrap_or("unmatched");
                    state
                        .metrics
                        .record(method.as_str(), route, status, elapsed.as_secs_f64());
                    tracing::info!(%method, %path, status, request_id = %request_id.0,
                        micros = elapsed.as_micros() as u64, "request");
                    res
                }
            })
            .configure(http::configure(
                state.clone(),
                settings.max_body_bytes,
                doc_json.clone(),
                table.clone(),
            ))
    })
    .client_request_timeout(settings.client_request_timeout)
    .client_disconnect_timeout(Duration::from_secs(5))
    .keep_alive(settings.keep_alive)
    .shutdown_timeout(30);
    let server = match settings.workers {
        Some(n) => server.workers(n),
        None => server,
    };
    let server = server.listen(listener)?.run();
    Ok(server)
}

/// A background task's clock: the first tick one period after the start (the state is fresh
/// then, and a test that drives a task by hand is not raced at once), and a late tick delays
/// the next ones instead of bunching them.
pub fn ticks(every: Duration) -> tokio::time::Interval {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks
}

/// The periodic registry sync, looking every `every` for artifacts whose own `sync_interval`
/// is due. It runs on a blocking thread, so a slow registry holds up only the next sync, never
/// a request; failures are recorded in the artifact's sync status.
pub async fn sync_registries(state: Arc<AppState>, every: Duration) {
    let mut ticks = ticks(every);
    loop {
        ticks.tick().await;
        let state = state.clone();
        match actix_web::web::block(move || crate::service::sync::sync_due(&state)).await {
            Ok(Ok(results)) => {
                for (artifact, result) in results {
                    match result {
                        Ok(r) if !r.new_tags.is_empty() || !r.moved.is_empty() => tracing::info!(
                            %artifact, new = r.new_tags.len(), moved = r.moved.len(), "registry sync"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(%artifact, error = %e, "registry sync failed; the next one retries"),
                    }
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "registry sync: could not read the catalog"),
            Err(e) => tracing::warn!(error = %e, "registry sync did not run"),
        }
    }
}

/// Pushes queued cluster revisions to the registry every `every`; failures stay queued with
/// their error.
pub async fn publish_revisions(state: Arc<AppState>, every: Duration) {
    let mut ticks = ticks(every);
    loop {
        ticks.tick().await;
        let state = state.clone();
        let now = state.clock.now();
        match actix_web::web::block(move || crate::service::publish::run_due(&state, now)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(revisions = n, "published cluster revisions"),
            Ok(Err(e)) => tracing::warn!(error = %e, "publishing: could not read the outbox; retrying"),
            Err(e) => tracing::warn!(error = %e, "publishing did not run"),
        }
    }
}

/// Logs to stderr; `RUST_LOG` tunes it (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal; files and log collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}
