//! `/api/v1/artifacts/{id}/sync`: read what the registry really holds.

use actix_web::{post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use super::extract::caller;
use super::problem::Problem;
use super::registry_dto::SyncReportDto;
use super::{blocking, Shared};
use crate::error::Error;
use crate::service::sync;

/// Sync an artifact's tags from its registry: every tag (all pages), each new tag's digest and
/// first-seen time. A tag whose digest changed in the registry is reported as moved, audited,
/// and keeps its pinned digest. An unreachable registry is 503 and recorded in the artifact's
/// `last_sync`.
#[utoipa::path(tag = "artifacts",
    params(("id" = String, Path, description = "Artifact id")),
    responses((status = 200, description = "Synced", body = SyncReportDto), (status = 404, body = Problem),
        (status = 409, description = "No catalog loaded", body = Problem),
        (status = 422, description = "The registry refused the credentials or holds unusable content", body = Problem),
        (status = 503, description = "The registry cannot be reached", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/artifacts/{id}/sync")]
pub async fn sync_artifact(state: Shared, req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, Error> {
    let caller = caller(&req);
    let report = blocking(move || sync::sync(&state, &caller, &id)).await?;
    Ok(HttpResponse::Ok().json(SyncReportDto::from(&report)))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(sync_artifact);
}
