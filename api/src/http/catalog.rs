//! `/api/v1/catalog`: which catalog revision the service runs.

use actix_web::{get, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::problem::Problem;
use super::{blocking, Shared};
use crate::error::Error;
use crate::store;

/// The loaded catalog revision: where it came from and what it holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogDto {
    /// Increases with every catalog change (import, component write, tier policy, release).
    pub revision: i64,
    /// SHA-256 of the stored catalog document.
    pub sha256: String,
    /// `import <file>` or `api`.
    pub source: String,
    pub actor: String,
    pub created_at: String,
    pub artifacts: usize,
    pub tiers: Vec<String>,
    pub components: usize,
}

/// Show the catalog revision in force.
#[utoipa::path(tag = "catalog",
    responses((status = 200, body = CatalogDto), (status = 409, description = "No catalog loaded yet", body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/catalog")]
pub async fn get_catalog(state: Shared) -> Result<HttpResponse, Error> {
    let dto = blocking(move || {
        let mut conn = state.conn()?;
        let (_, catalog) = state.catalog(&mut conn)?;
        let row = store::current_catalog(&mut conn)?.ok_or_else(|| Error::Internal("the catalog vanished".into()))?;
        Ok(CatalogDto {
            revision: row.revision,
            sha256: row.sha256,
            source: row.source,
            actor: row.actor,
            created_at: row
                .created_at
                .and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            artifacts: catalog.artifacts().len(),
            tiers: catalog.tier_names().map(ToString::to_string).collect(),
            components: catalog.components().len(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(dto))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_catalog);
}
