//! `/api/v1/artifacts`: the catalog's artifacts and their registered builds (tags).

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use catalog::tag::TagKind;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{ArtifactDto, Page, TagDto, TagInput, TagKindDto};
use super::extract::{caller, query, Body, WriteParams};
use super::paging::{self, PageQuery};
use super::problem::Problem;
use super::{blocking, etag_of, respond_write, Shared};
use crate::error::Error;
use crate::service::artifacts::{self, ArtifactSummary, ArtifactTagView, RegisterTag, Registered};
use crate::service::sync;

impl From<&ArtifactSummary> for ArtifactDto {
    fn from(s: &ArtifactSummary) -> Self {
        ArtifactDto {
            id: s.artifact.id.to_string(),
            url: s.artifact.url.to_string(),
            oci_tag: s.artifact.oci_tag.to_string(),
            tag_count: s.tag_count,
            insecure: s.artifact.insecure,
            sync_interval: s.artifact.sync_interval.as_ref().map(ToString::to_string),
            last_sync: s.sync.as_ref().map(Into::into),
        }
    }
}

impl From<&ArtifactTagView> for TagDto {
    fn from(v: &ArtifactTagView) -> Self {
        let kind = match v.kind {
            Some(TagKind::Release) => TagKindDto::Release,
            Some(TagKind::Hotfix) => TagKindDto::Hotfix,
            Some(TagKind::PreRelease) => TagKindDto::Prerelease,
            None => TagKindDto::Mutable,
        };
        TagDto {
            tag: v.tag.clone(),
            digest: v.digest.clone(),
            registered_at: rfc3339(v.registered_at),
            kind,
            first_seen_at: v.first_seen_at.map(rfc3339),
            moved: None,
        }
    }
}

pub(super) fn rfc3339(t: chrono::NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TagQuery {
    /// Only tags this tier's policy allows.
    tier: Option<String>,
    /// Items per page, 1 to 500; default 50.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// `next_cursor` from the previous page.
    cursor: Option<String>,
}

/// List the catalog's artifacts, in declared order.
#[utoipa::path(tag = "artifacts", params(PageQuery),
    responses((status = 200, description = "A page of artifacts", body = Page<ArtifactDto>), (status = 409, description = "No catalog loaded", body = Problem),
        (status = 422, description = "A bad `limit` or `cursor`", body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/artifacts")]
pub async fn list_artifacts(state: Shared, req: HttpRequest) -> Result<HttpResponse, Error> {
    let q: PageQuery = query(&req)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let list = blocking(move || artifacts::list(&state)).await?;
    let items = list.iter().map(ArtifactDto::from).collect();
    let page = paging::page_positional(items, limit, "artifacts", q.cursor.as_deref(), |a: &ArtifactDto| {
        a.id.clone()
    })?;
    Ok(HttpResponse::Ok().json(page))
}

/// Show one artifact with how many builds are registered for it.
#[utoipa::path(tag = "artifacts",
    params(("id" = String, Path, description = "Artifact id")),
    responses((status = 200, body = ArtifactDto, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 409, description = "No catalog loaded", body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/artifacts/{id}")]
pub async fn get_artifact(state: Shared, id: web::Path<String>) -> Result<HttpResponse, Error> {
    let summary = blocking(move || artifacts::get(&state, &id)).await?;
    let dto = ArtifactDto::from(&summary);
    Ok(HttpResponse::Ok().insert_header(("ETag", etag_of(&dto))).json(dto))
}

/// Register a build: 201 when new, 200 when the same tag and digest are known already. Tags
/// are immutable: the same tag with another digest is 409.
#[utoipa::path(tag = "artifacts",
    params(("id" = String, Path, description = "Artifact id"), WriteParams), request_body = TagInput,
    responses((status = 201, description = "Registered", body = TagDto),
        (status = 200, description = "Known already (or its digest was added); on a dry run, the plan", body = TagDto),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "The tag is registered with another digest", body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/artifacts/{id}/tags")]
pub async fn register_artifact_tag(
    state: Shared,
    req: HttpRequest,
    id: web::Path<String>,
    body: Body<TagInput>,
) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let caller = caller(&req);
    let command = RegisterTag::parse(&id, &body.0.tag, body.0.digest.as_deref())?;
    let outcome = blocking(move || artifacts::register_tag(&state, &caller, command, params.dry_run)).await?;
    let status = match outcome.value.0 {
        Registered::Created => StatusCode::CREATED,
        Registered::DigestAdded | Registered::Unchanged => StatusCode::OK,
    };
    respond_write(outcome, status, |(_, row)| TagDto::from(row))
}

/// List an artifact's registered builds, newest first in the hotfix-aware order; moving tags
/// come last. A tag that moved in the registry after its digest was pinned carries `moved`. `?tier=` keeps only the tags that tier's policy allows.
#[utoipa::path(tag = "artifacts",
    params(("id" = String, Path, description = "Artifact id"), TagQuery),
    responses((status = 200, description = "A page of tags", body = Page<TagDto>), (status = 404, description = "No such artifact", body = Problem),
        (status = 409, description = "No catalog loaded", body = Problem),
        (status = 422, description = "Unknown tier, or a bad `limit` or `cursor`", body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/artifacts/{id}/tags")]
pub async fn list_artifact_tags(state: Shared, req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, Error> {
    let q: TagQuery = query(&req)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let cursor = q.cursor.clone();
    let (rows, moves) = blocking(move || {
        let rows = artifacts::tags(&state, &id, q.tier.as_deref()).map_err(super::extract::in_query)?;
        Ok((rows, sync::moves(&state, &id)?))
    })
    .await?;
    let dtos: Vec<TagDto> = rows
        .iter()
        .map(|r| TagDto {
            // The latest move of the tag away from its pinned digest, if it moved.
            moved: moves.get(&r.tag).and_then(|m| m.last()).map(Into::into),
            ..TagDto::from(r)
        })
        .collect();
    let page = paging::page_positional(dtos, limit, "tags", cursor.as_deref(), |t| t.tag.clone())?;
    Ok(HttpResponse::Ok().json(page))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_artifacts)
        .service(get_artifact)
        .service(register_artifact_tag)
        .service(list_artifact_tags);
}
