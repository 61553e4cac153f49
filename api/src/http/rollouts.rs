//! `/api/v1/rollouts`: a tag moved across the fleet in waves, step by step.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::Page;
use super::extract::{caller, caller_breaking_glass, query, Body, WriteParams};
use super::paging::{self, PageQuery};
use super::problem::Problem;
use super::rollout_dto::{RolloutActionDto, RolloutDto, RolloutInput};
use super::{blocking, Shared};
use crate::error::Error;
use crate::service::rollouts::{self, Rollout};
use crate::service::{AppState, Caller, Outcome};

/// Plan a rollout of one component (`component`) or of a release (`release`: an artifact) to
/// `oci_tag`, in waves. Nothing changes on any cluster until it is advanced. On a dry run the
/// same plan is answered (200) and nothing is stored.
#[utoipa::path(tag = "rollouts", params(WriteParams), request_body = RolloutInput,
    responses((status = 201, description = "The planned rollout", body = RolloutDto),
        (status = 200, description = "Dry run: the rollout as it would be planned, with `dry_run: true` and no `id` or `state` (nothing is stored)", body = RolloutDto),
        (status = 400, body = Problem), (status = 409, description = "Another active rollout moves a component on a cluster (named)", body = Problem),
        (status = 413, body = Problem),
        (status = 422, description = "Not exactly one of `component` and `release` named, an unknown one, a tier's policy refuses the tag, or a field is invalid", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/rollouts")]
pub async fn create_rollout(state: Shared, req: HttpRequest, body: Body<RolloutInput>) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let mut input = body.0;
    let caller = caller_breaking_glass(&req, input.break_glass.take())?;
    let spec = rollouts::CreateRollout::try_from(input)?;
    let outcome = blocking(move || rollouts::create(&state, &caller, spec, params.dry_run)).await?;
    Ok(match outcome.dry_run {
        true => HttpResponse::Ok().json(RolloutDto::planned_only(&outcome.value)),
        false => HttpResponse::Created().json(RolloutDto::from(&outcome.value)),
    })
}

/// List every rollout, newest first, a page at a time.
#[utoipa::path(tag = "rollouts", params(PageQuery),
    responses((status = 200, description = "A page of rollouts", body = Page<RolloutDto>), (status = 422, description = "A bad `limit` or `cursor`", body = Problem)),
    extensions(("x-required-role" = json!("viewer"))))]
#[get("/rollouts")]
pub async fn list_rollouts(state: Shared, req: HttpRequest) -> Result<HttpResponse, Error> {
    let q: PageQuery = query(&req)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let list = blocking(move || rollouts::list(&state)).await?;
    let mut items: Vec<RolloutDto> = list.iter().map(RolloutDto::from).collect();
    items.sort_by_key(|r| std::cmp::Reverse(r.id));
    let key = |r: &RolloutDto| paging::descending(r.id.unwrap_or_default());
    let page = paging::page_sorted(items, limit, "rollouts", q.cursor.as_deref(), key)?;
    Ok(HttpResponse::Ok().json(page))
}

/// Show a rollout's progress: state, and per wave and step the clusters, from/to and when the
/// step was applied.
#[utoipa::path(tag = "rollouts", params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = RolloutDto), (status = 404, body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/rollouts/{id}")]
pub async fn get_rollout(state: Shared, id: web::Path<String>) -> Result<HttpResponse, Error> {
    let id = rollout_id(&id)?;
    let rollout = blocking(move || rollouts::get(&state, id)).await?;
    Ok(HttpResponse::Ok().json(RolloutDto::from(&rollout)))
}

/// A rollout id that is not a number names no rollout: 404, like any unknown path.
pub fn rollout_id(raw: &str) -> Result<i64, Error> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Error::NotFound {
            kind: "rollout",
            name: raw.to_owned(),
        })
}

type Action = fn(&AppState, &Caller, i64, bool) -> Result<Outcome<Rollout>, Error>;

async fn act(state: Shared, req: HttpRequest, id: i64, action: Action) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let caller = caller(&req);
    let outcome = blocking(move || action(&state, &caller, id, params.dry_run)).await?;
    Ok(HttpResponse::Ok().json(RolloutActionDto::new(outcome.dry_run, &outcome.value, &outcome.changes)))
}

/// Apply the next step: its clusters take the rollout's tag (and paths) with provenance
/// `rollout <id>`, as new revisions. Once every step is applied, the next advance completes
/// the rollout: the catalog default moves, stale overrides of the moved components collapse
/// and the rollout's pins go.
#[utoipa::path(tag = "rollouts", params(("id" = i64, Path, minimum = 1), WriteParams),
    responses((status = 200, description = "What changed (on a dry run, what would)", body = RolloutActionDto),
        (status = 404, body = Problem),
        (status = 409, description = "The rollout is paused, completed or aborted, still soaking, or awaits approval", body = Problem),
        (status = 422, body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/rollouts/{id}/advance")]
pub async fn advance_rollout(state: Shared, req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, Error> {
    act(state, req, rollout_id(&id)?, rollouts::advance).await
}

/// Pause a running rollout: no step applies until it is resumed.
#[utoipa::path(tag = "rollouts", params(("id" = i64, Path, minimum = 1), WriteParams),
    responses((status = 200, body = RolloutActionDto), (status = 404, body = Problem),
        (status = 409, description = "The rollout is not running", body = Problem), (status = 422, body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/rollouts/{id}/pause")]
pub async fn pause_rollout(state: Shared, req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, Error> {
    act(state, req, rollout_id(&id)?, rollouts::pause).await
}

/// Resume a paused rollout.
#[utoipa::path(tag = "rollouts", params(("id" = i64, Path, minimum = 1), WriteParams),
    responses((status = 200, body = RolloutActionDto), (status = 404, body = Problem),
        (status = 409, description = "The rollout is not paused", body = Problem), (status = 422, body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/rollouts/{id}/resume")]
pub async fn resume_rollout(state: Shared, req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, Error> {
    act(state, req, rollout_id(&id)?, rollouts::resume).await
}

/// Abort a planned, running or paused rollout: every cluster it changed returns to what it ran
/// before (new revisions, audited).
#[utoipa::path(tag = "rollouts", params(("id" = i64, Path, minimum = 1), WriteParams),
    responses((status = 200, description = "What changed (on a dry run, what would)", body = RolloutActionDto),
        (status = 404, body = Problem),
        (status = 409, description = "The rollout is completed or aborted already", body = Problem),
        (status = 422, body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/rollouts/{id}/abort")]
pub async fn abort_rollout(state: Shared, req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, Error> {
    act(state, req, rollout_id(&id)?, rollouts::abort).await
}

/// Approve the wave a rollout awaits approval for (its next step reaches a tier whose policy
/// asks for `approvals`). The creator may not approve their own rollout; each operator counts
/// once. With enough approvals it moves on as before: the runner takes automatic waves, a
/// person advances manual ones.
#[utoipa::path(tag = "rollouts", params(("id" = i64, Path, minimum = 1), WriteParams),
    responses((status = 200, description = "The rollout with the approval (on a dry run, as it would be)", body = RolloutActionDto),
        (status = 403, description = "The caller created the rollout (rule `approvals`)", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "The rollout awaits no approval, or the caller approved already", body = Problem),
        (status = 422, body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/rollouts/{id}/approve")]
pub async fn approve_rollout(state: Shared, req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, Error> {
    act(state, req, rollout_id(&id)?, rollouts::approve).await
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_rollout)
        .service(list_rollouts)
        .service(get_rollout)
        .service(advance_rollout)
        .service(pause_rollout)
        .service(resume_rollout)
        .service(abort_rollout)
        .service(approve_rollout);
}
