//! `/api/v1/clusters` and their component assignments.

use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{AssignmentDto, AssignmentInput, ClusterDto, ClusterInput, Page, PlanDto};
use super::extract::{caller, check_if_match, if_match, query, Body, WriteParams};
use super::paging;
use super::problem::Problem;
use super::{blocking, etag_of, respond_write, Shared};
use crate::db::models::{AssignmentRow, ClusterRow};
use crate::error::Error;
use crate::service::clusters::{self, AssignmentSpec, ClusterFilter, ClusterSpec};

impl TryFrom<&ClusterRow> for ClusterDto {
    type Error = Error;
    fn try_from(r: &ClusterRow) -> Result<Self, Error> {
        Ok(ClusterDto {
            name: r.name.clone(),
            tier: r.tier.clone(),
            labels: crate::service::domain::labels_of(r)?,
            enabled: r.enabled,
            flux_namespace: r.flux_namespace.clone(),
            oci_tag: r.oci_tag.clone(),
            revision: r.revision,
            updated_at: r
                .updated_at
                .and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })
    }
}

impl From<&AssignmentRow> for AssignmentDto {
    fn from(r: &AssignmentRow) -> Self {
        AssignmentDto {
            cluster: r.cluster.clone(),
            component: r.component.clone(),
            enabled: r.enabled,
            oci_tag: r.oci_tag.clone(),
            component_path: r.component_path.clone(),
            reason: r.reason.clone(),
            author: r.author.clone(),
            created_at: r
                .created_at
                .and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            expires_at: r
                .expires_at
                .map(|t| t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        }
    }
}

fn spec(name: String, input: ClusterInput) -> ClusterSpec {
    ClusterSpec {
        name,
        tier: input.tier,
        labels: input.labels,
        enabled: input.enabled,
        flux_namespace: input.flux_namespace,
        oci_tag: input.oci_tag,
    }
}

/// The `If-Match` guard for a cluster: its ETag is that of the cluster as shown.
fn cluster_matches(req: &HttpRequest) -> impl Fn(&ClusterRow) -> Result<(), Error> {
    let expected = if_match(req);
    move |row| check_if_match(expected.as_deref(), &etag_of(&ClusterDto::try_from(row)?))
}

pub(super) fn assignment_matches(req: &HttpRequest) -> impl Fn(Option<&AssignmentRow>) -> Result<(), Error> {
    let expected = if_match(req);
    move |row| match (row, expected.as_deref()) {
        (Some(row), e) => check_if_match(e, &etag_of(&AssignmentDto::from(row))),
        (None, None | Some("*")) => Ok(()),
        (None, Some(e)) => Err(Error::PreconditionFailed(format!(
            "If-Match {e}: the assignment does not exist"
        ))),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ClusterQuery {
    /// Only clusters of this tier.
    tier: Option<String>,
    /// Only clusters with this label, as `key=value`.
    #[param(pattern = r"^[^=]+=.*$")]
    label: Option<String>,
    /// Only clusters that run this component.
    component: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `?label=key=value`, refused by name when it has no `=`.
pub fn label_filter(raw: Option<String>) -> Result<Option<(String, String)>, Error> {
    raw.map(|l| {
        l.split_once('=')
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .ok_or_else(|| Error::field("label", "must be key=value"))
    })
    .transpose()
}

/// List clusters, in name order, a page at a time.
#[utoipa::path(tag = "clusters", params(ClusterQuery),
    responses((status = 200, body = Page<ClusterDto>), (status = 422, body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/clusters")]
pub async fn list_clusters(state: Shared, req: HttpRequest) -> Result<HttpResponse, Error> {
    let q: ClusterQuery = query(&req)?;
    let label = label_filter(q.label)?;
    let limit = paging::limit(q.limit.as_deref())? as usize;
    let after = paging::decode_name_cursor("clusters", q.cursor.as_deref())?;
    let filter = ClusterFilter {
        tier: q.tier,
        label,
        component: q.component,
    };
    let rows = blocking(move || clusters::list(&state, &filter)).await?;
    let mut rest = rows
        .iter()
        .filter(|r| after.as_ref().is_none_or(|a| r.name.as_str() > a.as_str()));
    let items = rest
        .by_ref()
        .take(limit)
        .map(ClusterDto::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = match (rest.next(), items.last()) {
        (Some(_), Some(last)) => Some(paging::encode_name_cursor("clusters", &last.name)),
        _ => None,
    };
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

/// Register a cluster; it gets every enabled catalog component unless `components` says otherwise.
#[utoipa::path(tag = "clusters", params(WriteParams), request_body = ClusterInput,
    responses((status = 201, body = ClusterDto), (status = 200, description = "Dry run: the plan", body = PlanDto),
        (status = 400, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/clusters")]
pub async fn create_cluster(state: Shared, req: HttpRequest, body: Body<ClusterInput>) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let mut input = body.0;
    let name = input.name.take().ok_or_else(|| Error::field("$.name", "is required"))?;
    let components = input.components.take();
    let caller = caller(&req);
    let outcome =
        blocking(move || clusters::create(&state, &caller, spec(name, input), components, params.dry_run)).await?;
    let dto = if outcome.dry_run {
        None
    } else {
        Some(ClusterDto::try_from(&outcome.value)?)
    };
    respond_write(outcome, StatusCode::CREATED, |_| dto)
}

/// Show one cluster.
#[utoipa::path(tag = "clusters", params(("name" = String, Path)),
    responses((status = 200, body = ClusterDto, headers(("ETag" = String))), (status = 404, body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/clusters/{name}")]
pub async fn get_cluster(state: Shared, name: web::Path<String>) -> Result<HttpResponse, Error> {
    let row = blocking(move || clusters::get(&state, &name)).await?;
    let dto = ClusterDto::try_from(&row)?;
    Ok(HttpResponse::Ok().insert_header(("ETag", etag_of(&dto))).json(dto))
}

async fn write_cluster(
    state: Shared,
    req: HttpRequest,
    name: String,
    input: ClusterInput,
) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    if input.name.as_deref().is_some_and(|n| n != name) {
        return Err(Error::field(
            "$.name",
            format!("must be {name:?}, the name in the path"),
        ));
    }
    if input.components.is_some() {
        return Err(Error::field(
            "$.components",
            "set assignments with PUT /api/v1/clusters/{name}/components/{id}",
        ));
    }
    let (caller, check) = (caller(&req), cluster_matches(&req));
    let outcome = blocking(move || clusters::update(&state, &caller, spec(name, input), check, params.dry_run)).await?;
    let dto = if outcome.dry_run {
        None
    } else {
        Some(ClusterDto::try_from(&outcome.value)?)
    };
    respond_write(outcome, StatusCode::OK, |_| dto)
}

/// Replace a cluster's settings.
#[utoipa::path(tag = "clusters", params(("name" = String, Path), WriteParams),
    request_body = ClusterInput,
    responses((status = 200, body = ClusterDto), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[put("/clusters/{name}")]
pub async fn replace_cluster(
    state: Shared,
    req: HttpRequest,
    name: web::Path<String>,
    body: Body<ClusterInput>,
) -> Result<HttpResponse, Error> {
    write_cluster(state, req, name.into_inner(), body.0).await
}

/// Change some of a cluster's settings (JSON merge patch).
#[utoipa::path(tag = "clusters", params(("name" = String, Path), WriteParams),
    request_body(content = Object, content_type = "application/merge-patch+json"),
    responses((status = 200, body = ClusterDto), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[patch("/clusters/{name}")]
pub async fn patch_cluster(
    state: Shared,
    req: HttpRequest,
    name: web::Path<String>,
    body: Body<Value>,
) -> Result<HttpResponse, Error> {
    if !body.0.is_object() {
        return Err(Error::field("$", "a merge patch must be a JSON object"));
    }
    let name = name.into_inner();
    let current = {
        let (state, name) = (state.clone(), name.clone());
        blocking(move || clusters::get(&state, &name)).await?
    };
    let mut doc = serde_json::to_value(ClusterDto::try_from(&current)?).map_err(|e| Error::Internal(e.to_string()))?;
    for read_only in ["revision", "updated_at"] {
        if body.0.get(read_only).is_some() {
            return Err(Error::field(format!("$.{read_only}"), "is read-only"));
        }
        doc.as_object_mut().map(|m| m.remove(read_only));
    }
    crate::service::merge_patch(&mut doc, &body.0);
    let input: ClusterInput = super::extract::parse_json(doc.to_string().as_bytes())?;
    write_cluster(state, req, name, input).await
}

/// Remove a cluster. Its revisions stay in the history.
#[utoipa::path(tag = "clusters", params(("name" = String, Path), WriteParams),
    responses((status = 204), (status = 200, description = "Dry run: the plan", body = PlanDto), (status = 404, body = Problem), (status = 412, body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[delete("/clusters/{name}")]
pub async fn delete_cluster(state: Shared, req: HttpRequest, name: web::Path<String>) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let (caller, check) = (caller(&req), cluster_matches(&req));
    let outcome = blocking(move || clusters::delete(&state, &caller, &name, check, params.dry_run)).await?;
    respond_write(outcome, StatusCode::NO_CONTENT, |_| ())
}

/// List a cluster's component assignments and overrides.
#[utoipa::path(tag = "clusters", params(("name" = String, Path)),
    responses((status = 200, body = [AssignmentDto]), (status = 404, body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/clusters/{name}/components")]
pub async fn list_cluster_components(state: Shared, name: web::Path<String>) -> Result<HttpResponse, Error> {
    let rows = blocking(move || clusters::assignments(&state, &name)).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(AssignmentDto::from).collect::<Vec<_>>()))
}

/// Assign a component to a cluster, with optional overrides of tag and path. PUT replaces the
/// whole assignment: a field left out takes its default (`enabled: true`, no override), so
/// pinning a tag on a disabled component this way enables it. To change only some fields, use
/// PATCH; to remove only the override, `DELETE …/override`. The `reason` given becomes the
/// reason of the cluster's new revision.
#[utoipa::path(tag = "clusters",
    params(("name" = String, Path), ("id" = String, Path, description = "Component id"), WriteParams), request_body = AssignmentInput,
    responses((status = 200, body = AssignmentDto), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[put("/clusters/{name}/components/{id}")]
pub async fn put_cluster_component(
    state: Shared,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: Body<AssignmentInput>,
) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let (cluster, component) = path.into_inner();
    let i = body.0;
    let spec = AssignmentSpec {
        enabled: i.enabled,
        oci_tag: i.oci_tag,
        component_path: i.component_path,
        reason: i.reason,
        expires_at: i.expires_at,
    };
    let (caller, check) = (caller(&req), assignment_matches(&req));
    let outcome =
        blocking(move || clusters::put_assignment(&state, &caller, &cluster, &component, spec, check, params.dry_run))
            .await?;
    respond_write(outcome, StatusCode::OK, |a| AssignmentDto::from(a))
}

/// Remove a component from a cluster.
#[utoipa::path(tag = "clusters",
    params(("name" = String, Path), ("id" = String, Path, description = "Component id"), WriteParams),
    responses((status = 204), (status = 200, description = "Dry run: the plan", body = PlanDto), (status = 404, body = Problem), (status = 412, body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[delete("/clusters/{name}/components/{id}")]
pub async fn delete_cluster_component(
    state: Shared,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let (cluster, component) = path.into_inner();
    let (caller, check) = (caller(&req), assignment_matches(&req));
    let outcome =
        blocking(move || clusters::delete_assignment(&state, &caller, &cluster, &component, check, params.dry_run))
            .await?;
    respond_write(outcome, StatusCode::NO_CONTENT, |_| ())
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_clusters)
        .service(create_cluster)
        .service(get_cluster)
        .service(replace_cluster)
        .service(patch_cluster)
        .service(delete_cluster)
        .service(list_cluster_components)
        .service(put_cluster_component)
        .service(delete_cluster_component);
}
