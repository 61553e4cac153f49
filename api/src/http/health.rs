//! Liveness, readiness and metrics.

use actix_web::{get, web, HttpResponse};
use diesel::connection::SimpleConnection;

use super::problem::Problem;
use super::{blocking, Shared};
use crate::error::Error;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "Up")))]
#[get("/healthz")]
pub async fn get_healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "Ready"), (status = 503, description = "The database does not answer", body = Problem)))]
#[get("/readyz")]
pub async fn get_readyz(state: Shared) -> Result<HttpResponse, Error> {
    blocking(move || {
        let mut conn = state.conn()?;
        conn.batch_execute("SELECT 1").map_err(|e| Error::Pool(e.to_string()))
    })
    .await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("ready\n"))
}

/// Prometheus metrics: requests by route and status, latency, renders served, pool use, drift
/// findings by kind and tier, and the age of clusters' last Flux events by tier.
///
/// Public unless the service runs with `--metrics-auth`; then it needs a viewer token, and
/// answers 401 without one and 403 to a cluster token.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String),
        (status = 401, description = "Only with `--metrics-auth`: no valid bearer token", body = Problem),
        (status = 403, description = "Only with `--metrics-auth`: a cluster token", body = Problem)))]
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

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(get_healthz).service(get_readyz).service(get_metrics);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(get_healthz, get_readyz, get_metrics))]
pub struct Doc;
