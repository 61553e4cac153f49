//! `/api/v1/clusters/{name}/publications`: whether each revision reached the registry.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::artifacts::rfc3339;
use super::problem::Problem;
use super::{blocking, Shared};
use crate::error::Error;
use crate::service::publish::{self, Publication};

/// One cluster revision's publication as a Flux artifact.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicationDto {
    pub revision: i64,
    /// `oci://HOST/PREFIX/<cluster>`
    pub repository: String,
    /// `rev-<n>`
    pub tag: String,
    /// The tag that follows the cluster's newest revision.
    pub channel: String,
    /// `pending` (not yet pushed, or failed and waiting for its retry) or `done`.
    pub state: String,
    pub attempts: i32,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the next attempt runs (RFC 3339 UTC), while pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// The pushed manifest's digest, once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done_at: Option<String>,
}

impl From<&Publication> for PublicationDto {
    fn from(p: &Publication) -> Self {
        PublicationDto {
            revision: p.revision,
            repository: p.repository.clone(),
            tag: p.tag.clone(),
            channel: p.channel.clone(),
            state: p.state.clone(),
            attempts: p.attempts,
            last_error: p.last_error.clone(),
            next_attempt_at: p.next_attempt_at.map(rfc3339),
            digest: p.digest.clone(),
            created_at: rfc3339(p.created_at),
            done_at: p.done_at.map(rfc3339),
        }
    }
}

/// List a cluster's publications to the registry, newest first: each revision's push, its
/// attempts and last error (publishing failures are retried, never dropped).
#[utoipa::path(tag = "clusters",
    params(("name" = String, Path, description = "Cluster name")),
    responses((status = 200, body = [PublicationDto]), (status = 404, body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/clusters/{name}/publications")]
pub async fn list_publications(state: Shared, name: web::Path<String>) -> Result<HttpResponse, Error> {
    let rows = blocking(move || publish::jobs(&state, &name)).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(PublicationDto::from).collect::<Vec<_>>()))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_publications);
}
