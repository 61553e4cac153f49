//! `/api/v1/clusters` and their component assignments.

use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use catalog::{ClusterName, ComponentId};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{AssignmentDto, AssignmentInput, ClusterDto, ClusterInput, Page, PlanDto};
use super::extract::{caller, caller_breaking_glass, expected, query, Body, WriteParams};
use super::paging;
use super::problem::Problem;
use super::{blocking, respond_write, Shared};
use crate::error::{Error, Field};
use crate::service::clusters::{
    self, AssignmentKey, AssignmentSettings, AssignmentView, ClusterFilter, ClusterSettings, ClusterView,
    CreateCluster, DeleteCluster, PutAssignment, UpdateCluster,
};

impl From<&ClusterView> for ClusterDto {
    fn from(v: &ClusterView) -> Self {
        ClusterDto {
            name: v.name.clone(),
            tier: v.tier.clone(),
            labels: v.labels.clone(),
            enabled: v.enabled,
            flux_namespace: v.flux_namespace.clone(),
            oci_tag: v.oci_tag.clone(),
            revision: v.revision,
            updated_at: crate::service::time::rfc3339(v.updated_at),
        }
    }
}

impl From<&AssignmentView> for AssignmentDto {
    fn from(v: &AssignmentView) -> Self {
        AssignmentDto {
            cluster: v.cluster.clone(),
            component: v.component.clone(),
            enabled: v.enabled,
            oci_tag: v.oci_tag.clone(),
            component_path: v.component_path.clone(),
            reason: v.reason.clone(),
            author: v.author.clone(),
            created_at: crate::service::time::rfc3339(v.created_at),
            expires_at: v.expires_at.map(crate::service::time::rfc3339),
        }
    }
}

impl TryFrom<(String, &ClusterInput)> for ClusterSettings {
    type Error = Error;
    fn try_from((name, i): (String, &ClusterInput)) -> Result<Self, Error> {
        ClusterSettings::parse(
            &name,
            &i.tier,
            i.labels.clone(),
            i.enabled,
            i.flux_namespace.as_deref(),
            i.oci_tag.as_deref(),
        )
    }
}

impl TryFrom<AssignmentInput> for AssignmentSettings {
    type Error = Error;
    fn try_from(i: AssignmentInput) -> Result<Self, Error> {
        AssignmentSettings::parse(
            i.enabled,
            i.oci_tag.as_deref(),
            i.component_path.as_deref(),
            i.reason,
            i.expires_at.as_deref(),
        )
    }
}

/// The cluster a path names. A name that does not parse names no cluster: 404 like any other.
pub(super) fn cluster_in_path(name: &str) -> Result<ClusterName, Error> {
    ClusterName::parse(name).map_err(|_| clusters::not_found(name))
}

/// The assignment a path names, at the version `If-Match` expects. An id that does not parse
/// names nothing stored: 404 as for any other, naming the `missing` kind (the component when
/// the write may create the assignment, else the assignment).
pub(super) fn assignment_in_path(
    req: &HttpRequest,
    cluster: &str,
    component: &str,
    missing: &'static str,
) -> Result<AssignmentKey, Error> {
    let name = match missing {
        "component" => component.to_owned(),
        _ => format!("{cluster}/{component}"),
    };
    Ok(AssignmentKey {
        cluster: cluster_in_path(cluster)?,
        component: ComponentId::parse(component).map_err(|_| Error::NotFound { kind: missing, name })?,
        expected: expected(req),
    })
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
    let views = blocking(move || clusters::list(&state, &filter)).await?;
    let mut rest = views
        .iter()
        .filter(|v| after.as_ref().is_none_or(|a| v.name.as_str() > a.as_str()));
    let items: Vec<ClusterDto> = rest.by_ref().take(limit).map(ClusterDto::from).collect();
    let next_cursor = match (rest.next(), items.last()) {
        (Some(_), Some(last)) => Some(paging::encode_name_cursor("clusters", &last.name)),
        _ => None,
    };
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

/// Register a cluster; it gets every enabled catalog component unless `components` says otherwise.
#[utoipa::path(tag = "clusters", params(WriteParams), request_body = ClusterInput,
    responses((status = 201, body = ClusterDto), (status = 200, description = "Dry run: the plan", body = PlanDto),
        (status = 400, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem), (status = 422, description = "A field breaks a rule, the tier does not exist, or the tier's policy refuses the cluster-wide tag: each named in `errors`", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/clusters")]
pub async fn create_cluster(state: Shared, req: HttpRequest, body: Body<ClusterInput>) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let mut input = body.0;
    let caller = caller_breaking_glass(&req, input.break_glass.take())?;
    let name = input.name.take().ok_or_else(|| Error::field("$.name", "is required"))?;
    let command = CreateCluster {
        settings: ClusterSettings::try_from((name, &input))?,
        components: input.components.as_deref().map(component_ids).transpose()?,
    };
    let outcome = blocking(move || clusters::create(&state, &caller, command, params.dry_run)).await?;
    respond_write(outcome, StatusCode::CREATED, |v| ClusterDto::from(v))
}

/// The components a new cluster is to run; an id that does not parse is no catalog component.
fn component_ids(ids: &[String]) -> Result<Vec<ComponentId>, Error> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            ComponentId::parse(id).map_err(|_| clusters::unknown_component(Field::new("components").index(i), id))
        })
        .collect()
}

/// Show one cluster.
#[utoipa::path(tag = "clusters", params(("name" = String, Path)),
    responses((status = 200, body = ClusterDto, headers(("ETag" = String))), (status = 404, body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/clusters/{name}")]
pub async fn get_cluster(state: Shared, name: web::Path<String>) -> Result<HttpResponse, Error> {
    let view = blocking(move || clusters::get(&state, &name)).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", view.version()))
        .json(ClusterDto::from(&view)))
}

async fn write_cluster(
    state: Shared,
    req: HttpRequest,
    name: String,
    mut input: ClusterInput,
) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let caller = caller_breaking_glass(&req, input.break_glass.take())?;
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
    let command = UpdateCluster {
        settings: ClusterSettings::try_from((name, &input))?,
        expected: expected(&req),
    };
    let outcome = blocking(move || clusters::update(&state, &caller, command, params.dry_run)).await?;
    respond_write(outcome, StatusCode::OK, |v| ClusterDto::from(v))
}

/// Replace a cluster's settings.
#[utoipa::path(tag = "clusters", params(("name" = String, Path), WriteParams),
    request_body = ClusterInput,
    responses((status = 200, body = ClusterDto), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 413, body = Problem), (status = 422, description = "A field breaks a rule, the tier does not exist, the tier's policy refuses the cluster-wide tag, `name` is not the one in the path, or `components` is sent (assignments are set under `…/components/{id}`)", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
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
    request_body(content = super::patch_dto::ClusterPatchInput, content_type = "application/merge-patch+json"),
    responses((status = 200, body = ClusterDto), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 413, body = Problem), (status = 422, description = "A field breaks a rule, the tier does not exist, the tier's policy refuses the cluster-wide tag, or the patch sets `name`, `revision` or `updated_at`", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
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
    let mut doc = serde_json::to_value(ClusterDto::from(&current)).map_err(|e| Error::Internal(e.to_string()))?;
    for read_only in ["revision", "updated_at"] {
        if body.0.get(read_only).is_some() {
            return Err(Error::field(format!("$.{read_only}"), "is read-only"));
        }
        doc.as_object_mut().map(|m| m.remove(read_only));
    }
    // A `null` for a member the cluster does not have would merge to nothing; kept, reading the
    // result refuses it as the unknown field it is, as for any other value.
    let unknown_nulls: Vec<String> = (body.0.as_object().into_iter().flatten())
        .filter(|(key, value)| value.is_null() && doc.get(key.as_str()).is_none())
        .map(|(key, _)| key.clone())
        .collect();
    crate::service::merge_patch(&mut doc, &body.0);
    if let Some(m) = doc.as_object_mut() {
        m.extend(unknown_nulls.into_iter().map(|key| (key, Value::Null)));
    }
    let input: ClusterInput = super::extract::parse_json(doc.to_string().as_bytes())?;
    write_cluster(state, req, name, input).await
}

/// Remove a cluster. Its revisions stay in the history.
#[utoipa::path(tag = "clusters", params(("name" = String, Path), WriteParams),
    responses((status = 204), (status = 200, description = "Dry run: the plan", body = PlanDto), (status = 404, body = Problem), (status = 412, body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[delete("/clusters/{name}")]
pub async fn delete_cluster(state: Shared, req: HttpRequest, name: web::Path<String>) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let command = DeleteCluster {
        name: cluster_in_path(&name)?,
        expected: expected(&req),
    };
    let caller = caller(&req);
    let outcome = blocking(move || clusters::delete(&state, &caller, command, params.dry_run)).await?;
    respond_write(outcome, StatusCode::NO_CONTENT, |_| ())
}

/// List a cluster's component assignments and overrides.
#[utoipa::path(tag = "clusters", params(("name" = String, Path)),
    responses((status = 200, body = [AssignmentDto]), (status = 404, body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/clusters/{name}/components")]
pub async fn list_cluster_components(state: Shared, name: web::Path<String>) -> Result<HttpResponse, Error> {
    let views = blocking(move || clusters::assignments(&state, &name)).await?;
    Ok(HttpResponse::Ok().json(views.iter().map(AssignmentDto::from).collect::<Vec<_>>()))
}

/// Assign a component to a cluster, with optional overrides of tag and path. PUT replaces the
/// whole assignment: a field left out takes its default (`enabled: true`, no override), so
/// pinning a tag on a disabled component this way enables it. To change only some fields, use
/// PATCH; to remove only the override, `DELETE …/override`. The `reason` given becomes the
/// reason of the cluster's new revision.
#[utoipa::path(tag = "clusters",
    params(("name" = String, Path), ("id" = String, Path, description = "Component id"), WriteParams), request_body = AssignmentInput,
    responses((status = 200, body = AssignmentDto), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 413, body = Problem), (status = 403, description = "`break_glass` asked for by a caller who is not an admin", body = Problem),
        (status = 422, description = "A field breaks a rule, the tier's policy refuses the tag (rule named), `expires_at` is not in the future, or the tier is outside its change windows or frozen (named, with the next opening)", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[put("/clusters/{name}/components/{id}")]
pub async fn put_cluster_component(
    state: Shared,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: Body<AssignmentInput>,
) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let (cluster, component) = path.into_inner();
    let mut input = body.0;
    let caller = caller_breaking_glass(&req, input.break_glass.take())?;
    let command = PutAssignment {
        key: assignment_in_path(&req, &cluster, &component, "component")?,
        settings: AssignmentSettings::try_from(input)?,
    };
    let outcome = blocking(move || clusters::put_assignment(&state, &caller, command, params.dry_run)).await?;
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
    let (caller, command) = (
        caller(&req),
        assignment_in_path(&req, &cluster, &component, "assignment")?,
    );
    let outcome = blocking(move || clusters::delete_assignment(&state, &caller, command, params.dry_run)).await?;
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

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::http::etag_of;

    fn at(ms: u32) -> chrono::NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 2)
            .and_then(|d| d.and_hms_milli_opt(3, 20, 45, ms))
            .unwrap()
    }

    #[test]
    fn a_cluster_version_is_the_etag_of_the_cluster_as_shown() {
        let view = ClusterView {
            name: "prod-eu-1".into(),
            tier: "prod".into(),
            labels: [("region".to_owned(), "eu-west-1".to_owned())].into(),
            enabled: true,
            flux_namespace: "flux-system".into(),
            oci_tag: Some("v1.2.0".into()),
            revision: 7,
            updated_at: at(123),
        };
        assert_eq!(view.version(), etag_of(&ClusterDto::from(&view)));
    }

    #[test]
    fn an_assignment_version_is_the_etag_of_the_assignment_as_shown() {
        let mut view = AssignmentView {
            cluster: "prod-eu-1".into(),
            component: "grafana".into(),
            enabled: false,
            oci_tag: None,
            component_path: Some("observability/grafana/7.3.9".into()),
            reason: Some("canary".into()),
            author: "alice".into(),
            created_at: at(5),
            expires_at: Some(at(999)),
        };
        assert_eq!(view.version(), etag_of(&AssignmentDto::from(&view)));
        view.expires_at = None;
        assert_eq!(view.version(), etag_of(&AssignmentDto::from(&view)));
    }
}
