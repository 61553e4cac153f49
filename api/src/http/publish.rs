//! `/api/v1/clusters/{name}/publications`: whether each revision reached the registry.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::artifacts::rfc3339;
use super::problem::Problem;
use super::{blocking, Shared};
use crate::db::registry_rows::PublishJobRow;
use crate::error::Error;
use crate::service::publish;

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

impl From<&PublishJobRow> for PublicationDto {
    fn from(r: &PublishJobRow) -> Self {
        PublicationDto {
            revision: r.revision,
            repository: format!("{}/{}", r.target, r.cluster),
            tag: publish::revision_tag(r.revision),
            channel: r.channel.clone(),
            state: r.state.clone(),
            attempts: r.attempts,
            last_error: r.last_error.clone(),
            next_attempt_at: (r.state == "pending").then(|| rfc3339(r.next_attempt_at)),
            digest: r.digest.clone(),
            created_at: rfc3339(r.created_at),
            done_at: r.done_at.map(rfc3339),
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
