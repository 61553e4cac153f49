//! Liveness and readiness.

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

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(get_healthz).service(get_readyz);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(get_healthz, get_readyz))]
pub struct Doc;
