//! `/api/v1/holds`: what no rollout, release or hotfix may move for now.

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use catalog::{ClusterName, ComponentId};
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::Page;
use super::extract::{caller, query, Body};
use super::hold_dto::HoldDto;
use super::hold_dto::HoldInput;
use super::paging::{self, PageQuery};
use super::problem::Problem;
use super::{blocking, Shared};
use crate::error::{Error, Field};
use crate::service::clusters::parse_expiry;
use crate::service::holds::{self, CreateHold};

impl TryFrom<HoldInput> for CreateHold {
    type Error = Error;
    fn try_from(i: HoldInput) -> Result<Self, Error> {
        Ok(CreateHold {
            cluster: (i.cluster.as_deref())
                .map(|c| Field::new("cluster").parsed(ClusterName::parse(c)))
                .transpose()?,
            component: (i.component.as_deref())
                .map(|c| Field::new("component").parsed(ComponentId::parse(c)))
                .transpose()?,
            reason: i.reason,
            expires_at: i.expires_at.as_deref().map(parse_expiry).transpose()?,
        })
    }
}

/// Place a hold on a cluster, a component, or a component on a cluster. Rollouts planned from
/// now on skip it, steps skip it, releases and hotfixes leave it where it is, until it is
/// deleted or its `expires_at` passes.
#[utoipa::path(tag = "holds", request_body = HoldInput,
    responses((status = 201, body = HoldDto), (status = 400, body = Problem), (status = 413, body = Problem),
        (status = 422, description = "Neither a cluster nor a component named (name one or both), an unknown one, no reason, or an expiry not in the future", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/holds")]
pub async fn create_hold(state: Shared, req: HttpRequest, body: Body<HoldInput>) -> Result<HttpResponse, Error> {
    let caller = caller(&req);
    let spec = CreateHold::try_from(body.0)?;
    let at = state.clock.now();
    let outcome = blocking(move || holds::create(&state, &caller, spec)).await?;
    Ok(HttpResponse::Created().json(HoldDto::new(&outcome.value, at)))
}

/// List every hold, ended ones included (`active: false`), oldest first.
#[utoipa::path(tag = "holds", params(PageQuery),
    responses((status = 200, description = "A page of holds", body = Page<HoldDto>), (status = 422, description = "A bad `limit` or `cursor`", body = Problem)),
    extensions(("x-required-role" = json!("viewer"))))]
#[get("/holds")]
pub async fn list_holds(state: Shared, req: HttpRequest) -> Result<HttpResponse, Error> {
    let q: PageQuery = query(&req)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let at = state.clock.now();
    let list = blocking(move || holds::list(&state)).await?;
    let items = list.iter().map(|h| HoldDto::new(h, at)).collect();
    let page = paging::page_sorted(items, limit, "holds", q.cursor.as_deref(), |h: &HoldDto| {
        paging::ascending(h.id)
    })?;
    Ok(HttpResponse::Ok().json(page))
}

/// Show one hold.
#[utoipa::path(tag = "holds", params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = HoldDto), (status = 404, body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/holds/{id}")]
pub async fn get_hold(state: Shared, id: web::Path<String>) -> Result<HttpResponse, Error> {
    let id = hold_id(&id)?;
    let at = state.clock.now();
    let hold = blocking(move || holds::get(&state, id)).await?;
    Ok(HttpResponse::Ok().json(HoldDto::new(&hold, at)))
}

/// End a hold. What it kept during a release stays as an override (reason `hold <id>`) that
/// shows as stale until collapsed.
#[utoipa::path(tag = "holds", params(("id" = i64, Path, minimum = 1)),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[delete("/holds/{id}")]
pub async fn delete_hold(state: Shared, req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, Error> {
    let caller = caller(&req);
    let id = hold_id(&id)?;
    blocking(move || holds::delete(&state, &caller, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A hold id that is not a number names no hold: 404.
fn hold_id(raw: &str) -> Result<i64, Error> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Error::NotFound {
            kind: "hold",
            name: raw.to_owned(),
        })
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_hold)
        .service(list_holds)
        .service(get_hold)
        .service(delete_hold);
}
