//! Starting the service: settings, the database, the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::{Server, Service};
use actix_web::{App, HttpServer};

use crate::db;
use crate::error::Error;
use crate::http;
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

/// Serves the API on `listener` until SIGINT/SIGTERM, then drains in-flight requests.
pub fn run(listener: TcpListener, state: Arc<AppState>) -> std::io::Result<Server> {
    let server = HttpServer::new(move || {
        let state = state.clone();
        let metrics_state = state.clone();
        App::new()
            .wrap_fn(move |req, srv| {
                let (method, path) = (req.method().clone(), req.path().to_owned());
                let route = req.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
                let started = Instant::now();
                let fut = srv.call(req);
                let state = metrics_state.clone();
                async move {
                    let res = fut.await;
                    let status = res.as_ref().map(|r| r.status().as_u16()).unwrap_or(500);
                    let elapsed = started.elapsed();
                    state
                        .metrics
                        .record(method.as_str(), &route, status, elapsed.as_secs_f64());
                    tracing::info!(%method, %path, status, micros = elapsed.as_micros() as u64, "request");
                    res
                }
            })
            .configure(http::configure(state.clone()))
    })
    .shutdown_timeout(30)
    .listen(listener)?
    .run();
    Ok(server)
}

/// Logs to stderr; `RUST_LOG` tunes it (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
