//! `/api/v1/overrides`: per-cluster overrides the default has caught up with, told apart as
//! superseded or deliberate, and collapsing them.

use actix_web::{get, post, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::dto::{CollapseDto, CollapseInput, Page, PlanDto, StaleKindDto, StaleOverrideDto};
use super::extract::{caller, query, Body, WriteParams};
use super::paging;
use super::problem::Problem;
use super::{blocking, Shared};
use crate::error::Error;
use crate::service::overrides::{self, OverrideFilter, StaleKind, StaleOverride};

impl From<&StaleOverride> for StaleOverrideDto {
    fn from(s: &StaleOverride) -> Self {
        StaleOverrideDto {
            cluster: s.cluster.clone(),
            component: s.component.clone(),
            override_tag: s.override_tag.clone(),
            default_tag: s.default_tag.clone(),
            reason: s.reason.clone(),
            kind: match s.kind {
                StaleKind::Superseded => StaleKindDto::Superseded,
                StaleKind::Deliberate => StaleKindDto::Deliberate,
            },
            why: s.why.clone(),
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
    /// Items per page, 1 to 500; default 50.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// `next_cursor` from the previous page.
    cursor: Option<String>,
}

/// The key stale overrides are listed in: cluster, then component (a space sorts before any
/// character a name may hold).
fn key(s: &StaleOverrideDto) -> String {
    format!("{} {}", s.cluster, s.component)
}

/// List every override whose tag is not newer than the default it overrides, by cluster then
/// component, each with its `kind`: `superseded` (a collapse removes it) or `deliberate` (a
/// rollback pin, a canary, or kept by a hold: collapsed only when named), and `why`.
#[utoipa::path(tag = "overrides", params(StaleQuery),
    responses((status = 200, description = "A page of stale overrides", body = Page<StaleOverrideDto>),
        (status = 409, description = "No catalog loaded", body = Problem),
        (status = 422, description = "Unknown cluster or component, or a bad `limit` or `cursor`", body = Problem)),
    extensions(("x-required-role" = json!("viewer"))))]
#[get("/overrides/stale")]
pub async fn list_stale_overrides(state: Shared, req: HttpRequest) -> Result<HttpResponse, Error> {
    let q: StaleQuery = query(&req)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let filter = OverrideFilter {
        cluster: q.cluster,
        component: q.component,
    };
    let list = blocking(move || overrides::stale(&state, &filter))
        .await
        .map_err(super::extract::in_query)?;
    let items = list.iter().map(StaleOverrideDto::from).collect();
    let page = paging::page_sorted(items, limit, "stale", q.cursor.as_deref(), key)?;
    Ok(HttpResponse::Ok().json(page))
}

/// Remove the tag and path override of the stale assignments selected, in one write; the
/// assignments stay, so their clusters follow the default again. `{}` collapses every
/// superseded override; a deliberate one (rollback, canary, hold) only when `cluster` and
/// `component` both name it. The answer lists what was collapsed and what was kept.
#[utoipa::path(tag = "overrides", params(WriteParams), request_body = CollapseInput,
    responses((status = 200, description = "What changed (on a dry run, what would), what was collapsed and what was kept", body = CollapseDto),
        (status = 400, description = "The body is not a JSON object", body = Problem),
        (status = 409, description = "No catalog loaded", body = Problem),
        (status = 413, description = "The body is too large", body = Problem),
        (status = 422, description = "Unknown cluster or component", body = Problem)),
    extensions(("x-required-role" = json!("operator"))))]
#[post("/overrides/collapse")]
pub async fn collapse_overrides(
    state: Shared,
    req: HttpRequest,
    body: Body<CollapseInput>,
) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let caller = caller(&req);
    let input = body.0;
    let filter = OverrideFilter {
        cluster: input.cluster,
        component: input.component,
    };
    if input.reason.as_ref().is_some_and(|r| r.len() > 200) {
        return Err(Error::field("$.reason", "must be at most 200 characters"));
    }
    let outcome =
        blocking(move || overrides::collapse(&state, &caller, &filter, input.reason.as_deref(), params.dry_run))
            .await?;
    Ok(HttpResponse::Ok().json(CollapseDto {
        plan: PlanDto::new(outcome.dry_run, outcome.catalog_revision, &outcome.changes),
        collapsed: outcome.value.collapsed.iter().map(StaleOverrideDto::from).collect(),
        kept: outcome.value.kept.iter().map(StaleOverrideDto::from).collect(),
    }))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_stale_overrides).service(collapse_overrides);
}
