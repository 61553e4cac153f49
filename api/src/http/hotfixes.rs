//! `/api/v1/hotfixes`: one component pinned to a hotfix build on selected clusters.

use actix_web::{post, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use super::extract::{caller_breaking_glass, query, Body, WriteParams};
use super::hold_dto::{HotfixDto, HotfixInput, SkippedDto};
use super::problem::Problem;
use super::{blocking, Shared};
use crate::error::Error;
use crate::service::hotfixes::{self, HotfixSpec};

/// Pin `component` to the hotfix `oci_tag` (and `component_path`) on the clusters the
/// selector picks, as overrides with reason `hotfix`, in one write. Held clusters and clusters
/// a rollout moves are skipped and listed. After a release to a newer tag the overrides show
/// as stale (`GET /overrides/stale`) and collapse.
#[utoipa::path(tag = "hotfixes", params(WriteParams), request_body = HotfixInput,
    responses((status = 200, description = "What changed (on a dry run, what would)", body = HotfixDto),
        (status = 400, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem),
        (status = 422, description = "The selector names no tiers, labels or clusters (a hotfix everywhere is a release) or picks no cluster, the component is unknown, a tier's policy refuses the tag, or a field is invalid", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/hotfixes")]
pub async fn create_hotfix(state: Shared, req: HttpRequest, body: Body<HotfixInput>) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let mut input = body.0;
    let caller = caller_breaking_glass(&req, input.break_glass.take())?;
    let spec = HotfixSpec {
        component: input.component,
        oci_tag: input.oci_tag,
        component_path: input.component_path,
        tiers: input.selector.tiers,
        labels: input.selector.labels,
        clusters: input.selector.clusters,
        reason: input.reason,
    };
    let (component, oci_tag) = (spec.component.clone(), spec.oci_tag.clone());
    let outcome = blocking(move || hotfixes::hotfix(&state, &caller, spec, params.dry_run)).await?;
    Ok(HttpResponse::Ok().json(HotfixDto {
        dry_run: outcome.dry_run,
        component,
        oci_tag,
        clusters: outcome.value.clusters.clone(),
        skipped: outcome.value.skipped.iter().map(SkippedDto::from).collect(),
        changes: outcome.changes.iter().map(Into::into).collect(),
    }))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_hotfix);
}
