//! `/api/v1/overrides`: per-cluster overrides a release has made stale, and collapsing them.

use actix_web::{get, post, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::dto::{CollapseInput, PlanDto, StaleOverrideDto};
use super::extract::{caller, query, Body, WriteParams};
use super::problem::Problem;
use super::{blocking, Shared};
use crate::error::Error;
use crate::service::overrides::{self, OverrideFilter, StaleOverride};

impl From<&StaleOverride> for StaleOverrideDto {
    fn from(s: &StaleOverride) -> Self {
        StaleOverrideDto {
            cluster: s.cluster.clone(),
            component: s.component.clone(),
            override_tag: s.override_tag.clone(),
            default_tag: s.default_tag.clone(),
            reason: s.reason.clone(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StaleQuery {
    /// Only this cluster's overrides.
    cluster: Option<String>,
    /// Only overrides of this component.
    component: Option<String>,
}

/// List every override whose tag is not newer than the default it overrides, by cluster then
/// component.
#[utoipa::path(tag = "overrides", params(StaleQuery),
    responses((status = 200, body = [StaleOverrideDto]), (status = 409, description = "No catalog loaded", body = Problem),
        (status = 422, description = "Unknown cluster or component", body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/overrides/stale")]
pub async fn list_stale_overrides(state: Shared, req: HttpRequest) -> Result<HttpResponse, Error> {
    let q: StaleQuery = query(&req)?;
    let filter = OverrideFilter {
        cluster: q.cluster,
        component: q.component,
    };
    let list = blocking(move || overrides::stale(&state, &filter)).await?;
    Ok(HttpResponse::Ok().json(list.iter().map(StaleOverrideDto::from).collect::<Vec<_>>()))
}

/// Remove the tag and path override of every stale assignment selected (`{}`: all), in one
/// write; the assignments stay, so their clusters follow the default again.
#[utoipa::path(tag = "overrides", params(WriteParams), request_body = CollapseInput,
    responses((status = 200, description = "What changed (on a dry run, what would)", body = PlanDto),
        (status = 400, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem),
        (status = 422, description = "Unknown cluster or component", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/overrides/collapse")]
pub async fn collapse_overrides(
    state: Shared,
    req: HttpRequest,
    body: Body<CollapseInput>,
) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let caller = caller(&req);
    let filter = OverrideFilter {
        cluster: body.0.cluster,
        component: body.0.component,
    };
    let outcome = blocking(move || overrides::collapse(&state, &caller, &filter, params.dry_run)).await?;
    Ok(HttpResponse::Ok().json(PlanDto::new(
        outcome.dry_run,
        outcome.catalog_revision,
        &outcome.changes,
    )))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_stale_overrides).service(collapse_overrides);
}
