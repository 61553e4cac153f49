//! Liveness, readiness and metrics.

use actix_web::{get, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use super::problem::Problem;
use super::{blocking, Shared};
use crate::error::Error;

/// The process is up.
#[utoipa::path(tag = "health", responses((status = 200, description = "Up", content_type = "text/plain", body = String)), extensions(("x-required-role" = json!("public"))))]
#[get("/healthz")]
pub async fn get_healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// How long `/readyz` waits for the database's write lock before it says not ready.
const READY_WRITE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The database takes a write: the probe takes the write lock within two seconds and rolls
/// back, so a database that answers reads but is stuck locked (or read-only) is not ready.
#[utoipa::path(tag = "health",
    responses((status = 200, description = "Ready", content_type = "text/plain", body = String),
        (status = 503, description = "The database does not answer, or cannot take a write within 2 s", body = Problem)), extensions(("x-required-role" = json!("public"))))]
#[get("/readyz")]
pub async fn get_readyz(state: Shared) -> Result<HttpResponse, Error> {
    blocking(move || {
        let mut conn = state.conn()?;
        crate::db::probe_write(&mut conn, READY_WRITE_WAIT)
            .map_err(|e| Error::Pool(format!("the database cannot take a write: {e}")))
    })
    .await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("ready\n"))
}

/// Prometheus metrics: requests by route and status, latency, renders served, pool use, drift
/// findings by kind and tier, and the age of clusters' last Flux events by tier.
///
/// Public unless the service runs with `--metrics-auth`; then it needs a viewer token, and
/// answers 401 without one and 403 to a cluster token.
#[utoipa::path(tag = "health",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String),
        (status = 401, description = "Only with `--metrics-auth`: no valid bearer token", body = Problem),
        (status = 403, description = "Only with `--metrics-auth`: a cluster token", body = Problem)), extensions(("x-required-role" = json!("public"))))]
#[get("/metrics")]
pub async fn get_metrics(state: Shared) -> HttpResponse {
    let pool = state.pool.state();
    let mut body = state
        .metrics
        .exposition(pool.connections, pool.idle_connections, state.pool.max_size());
    // Drift is computed from the database: a failure there leaves the other metrics standing.
    let observed_state = state.clone();
    match blocking(move || crate::service::observed::metrics::metrics_text(&observed_state)).await {
        Ok(text) => body.push_str(&text),
        Err(e) => tracing::warn!(error = %e, "drift metrics are not available"),
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(body)
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_healthz).service(get_readyz).service(get_metrics);
}
