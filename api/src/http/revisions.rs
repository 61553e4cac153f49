//! `/api/v1/clusters/{name}/revisions` and rollback: a cluster's history, and the way back.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{ComponentChangeDto, Page, PlanDto};
use super::extract::{caller_breaking_glass, query, Body};
use super::paging;
use super::problem::Problem;
use super::render::EffectiveDto;
use super::{blocking, etag_of, Shared};
use catalog::ClusterName;

use crate::error::Error;
use crate::service::history::{self, Revision};
use crate::service::rollback::{self, Rollback};

const CURSOR_KIND: &str = "revision";

/// The tag and path one component ran at a revision.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevisionComponentDto {
    pub id: String,
    pub oci_tag: String,
    pub component_path: String,
}

/// One revision of a cluster's desired state, in brief.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevisionSummaryDto {
    pub revision: i64,
    pub created_at: String,
    pub actor: String,
    /// Why the cluster's effective config changed.
    pub reason: String,
    /// The catalog revision it was resolved against.
    pub catalog_revision: i64,
    pub components: Vec<RevisionComponentDto>,
}

/// A revision's render, as the cluster was served it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevisionRenderDto {
    /// Multi-document YAML, byte for byte what `/render` answered at that revision.
    pub yaml: String,
    /// The ETag `/render` gave that YAML.
    pub etag: String,
}

/// One revision in full: its effective config with provenance, and its render.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevisionDto {
    pub cluster: String,
    pub revision: i64,
    pub created_at: String,
    pub actor: String,
    pub reason: String,
    pub catalog_revision: i64,
    pub effective: EffectiveDto,
    pub render: RevisionRenderDto,
}

/// Roll back to this revision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackInput {
    /// An earlier revision of the cluster (a positive integer).
    #[serde(default)]
    #[schema(required = true, value_type = i64, minimum = 1)]
    pub revision: Option<i64>,
    /// Why; added after `rollback to revision n: ` in the overrides' and the new revision's reason.
    #[serde(default)]
    #[schema(max_length = 170)]
    pub reason: Option<String>,
    /// Admin only: skip the evidence and change-window rules for this write, saying why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<super::dto::BreakGlassInput>,
}

impl TryFrom<(ClusterName, RollbackInput)> for Rollback {
    type Error = Error;
    fn try_from((cluster, i): (ClusterName, RollbackInput)) -> Result<Self, Error> {
        let revision = match i.revision {
            Some(n) if n > 0 => n,
            Some(n) => {
                return Err(Error::refused(
                    "revision",
                    format!("must be a positive integer, not {n}"),
                ))
            }
            None => return Err(Error::refused("revision", "is required")),
        };
        Ok(Rollback {
            cluster,
            revision,
            reason: i.reason,
        })
    }
}

/// What a rollback did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RollbackDto {
    pub cluster: String,
    /// The revision whose tags and paths were restored.
    pub rolled_back_to: i64,
    /// The cluster's revision now: a new one, unless it already ran what `rolled_back_to` ran.
    pub revision: i64,
    /// Components whose tag or path changed, or that appeared or went.
    pub components: Vec<ComponentChangeDto>,
}

/// A rollback's answer: what it did, or on `?dry_run=true` the plan.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RollbackReplyDto {
    Done(RollbackDto),
    Plan(PlanDto),
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RevisionsQuery {
    /// Items per page, 1 to 500; default 50.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// `next_cursor` from the previous page.
    cursor: Option<String>,
}

/// A rollback deletes nothing, so `force` (which every other write accepts) would mean nothing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RollbackParams {
    /// Plan the rollback and show it, writing nothing.
    #[serde(default)]
    dry_run: bool,
}

fn rfc3339(t: chrono::NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl From<&Revision> for RevisionSummaryDto {
    fn from(r: &Revision) -> Self {
        RevisionSummaryDto {
            revision: r.revision,
            created_at: rfc3339(r.created_at),
            actor: r.actor.clone(),
            reason: r.reason.clone(),
            catalog_revision: r.catalog_revision,
            components: r
                .record
                .components
                .iter()
                .map(|c| RevisionComponentDto {
                    id: c.id.clone(),
                    oci_tag: c.oci_tag.clone(),
                    component_path: c.component_path.clone(),
                })
                .collect(),
        }
    }
}

/// List a cluster's revisions, newest first.
#[utoipa::path(tag = "history",
    params(("name" = String, Path), RevisionsQuery),
    responses((status = 200, body = Page<RevisionSummaryDto>), (status = 404, body = Problem), (status = 422, body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/clusters/{name}/revisions")]
pub async fn list_cluster_revisions(
    state: Shared,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let q: RevisionsQuery = query(&req)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let before = paging::decode_cursor(CURSOR_KIND, q.cursor.as_deref())?;
    let rows = blocking(move || history::revisions(&state, &name, before, limit + 1)).await?;
    let page = paging::page(
        rows,
        limit,
        CURSOR_KIND,
        |r| r.revision,
        |r| RevisionSummaryDto::from(r),
    );
    Ok(HttpResponse::Ok().json(page))
}

/// Show one revision: its effective config with provenance, and its render.
#[utoipa::path(tag = "history",
    params(("name" = String, Path), ("n" = i64, Path, description = "Revision number", minimum = 1)),
    responses((status = 200, body = RevisionDto, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 409, description = "The tier pins digests and a tag has none", body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/clusters/{name}/revisions/{n}")]
pub async fn get_cluster_revision(state: Shared, path: web::Path<(String, String)>) -> Result<HttpResponse, Error> {
    let (name, n) = path.into_inner();
    // A revision number that is not one names no revision: 404, like any unknown path.
    let n = n
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Error::NotFound {
            kind: "revision",
            name: format!("{name}@{n}"),
        })?;
    let detail = blocking(move || history::revision(&state, &name, n)).await?;
    let (r, rendered) = (&detail.revision, &detail.rendered);
    let dto = RevisionDto {
        cluster: r.cluster.clone(),
        revision: r.revision,
        created_at: rfc3339(r.created_at),
        actor: r.actor.clone(),
        reason: r.reason.clone(),
        catalog_revision: r.catalog_revision,
        effective: EffectiveDto::new(r.revision, &r.record),
        render: RevisionRenderDto {
            yaml: String::from_utf8_lossy(&rendered.yaml).into_owned(),
            etag: rendered.yaml_etag.clone(),
        },
    };
    Ok(HttpResponse::Ok().insert_header(("ETag", etag_of(&dto))).json(dto))
}

/// Roll a cluster back: a new revision that runs what revision `n` ran.
///
/// Rewrites the cluster's assignments so each component of revision `n` resolves to its tag
/// and path then (overrides with reason `rollback to revision n`), and disables the others.
/// The tier's tag policy is not checked again: the rollback restores what already ran.
#[utoipa::path(tag = "history",
    params(("name" = String, Path), RollbackParams), request_body = RollbackInput,
    responses((status = 200, description = "What the rollback did, or on a dry run the plan", body = RollbackReplyDto),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Revision n ran components the catalog no longer has", body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/clusters/{name}/rollback")]
pub async fn rollback_cluster(
    state: Shared,
    req: HttpRequest,
    name: web::Path<String>,
    body: Body<RollbackInput>,
) -> Result<HttpResponse, Error> {
    let params: RollbackParams = query(&req)?;
    let cluster = name.into_inner();
    let mut input = body.0;
    let caller = caller_breaking_glass(&req, input.break_glass.take())?;
    let command = Rollback::try_from((super::clusters::cluster_in_path(&cluster)?, input))?;
    let outcome = blocking(move || rollback::rollback(&state, &caller, command, params.dry_run)).await?;
    let change = outcome.changes.iter().find(|c| c.cluster == cluster);
    let reply = match outcome.dry_run {
        true => RollbackReplyDto::Plan(PlanDto::new(true, outcome.catalog_revision, &outcome.changes)),
        false => RollbackReplyDto::Done(RollbackDto {
            rolled_back_to: outcome.value.restored,
            revision: change.map_or(outcome.value.previous, |c| c.to_revision),
            components: change
                .map(|c| c.components.iter().map(Into::into).collect())
                .unwrap_or_default(),
            cluster,
        }),
    };
    Ok(HttpResponse::Ok().json(reply))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_cluster_revisions)
        .service(get_cluster_revision)
        .service(rollback_cluster);
}
