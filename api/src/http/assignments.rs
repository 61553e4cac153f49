//! `/api/v1/clusters/{name}/components/{id}`: changing part of an assignment (merge patch)
//! and removing its override (unpin) without removing the component from the cluster.

use actix_web::{delete, patch, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::clusters::assignment_in_path;
use super::dto::AssignmentDto;
use super::extract::{caller, caller_breaking_glass, query, Body, WriteParams};
use super::problem::Problem;
use super::{blocking, respond_write, Shared};
use crate::error::Error;
use crate::service::assignments::{self, AssignmentPatch, PatchAssignment};
use crate::service::clusters::{parse_expiry, parse_reason};

/// A JSON merge patch (RFC 7396) of an assignment: only the fields sent change, `null` clears
/// one (but `enabled`, which has no "unset").
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentPatchInput {
    /// Whether the component runs on the cluster; `null` is refused.
    #[serde(default, deserialize_with = "sent")]
    #[schema(value_type = bool, required = false)]
    pub enabled: Option<Option<bool>>,
    /// Override of the tag (canary, hotfix, rollback, …); `null` removes it.
    #[serde(default, deserialize_with = "sent")]
    #[schema(value_type = Option<String>, nullable = true, pattern = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$", max_length = 128)]
    pub oci_tag: Option<Option<String>>,
    /// Override of the path inside the artifact; `null` removes it.
    #[serde(default, deserialize_with = "sent")]
    #[schema(value_type = Option<String>, nullable = true, pattern = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", max_length = 512)]
    pub component_path: Option<Option<String>>,
    /// Why the override exists; it also becomes the reason of the cluster's new revision.
    #[serde(default, deserialize_with = "sent")]
    #[schema(value_type = Option<String>, nullable = true, max_length = 200)]
    pub reason: Option<Option<String>>,
    /// RFC 3339; after it the override is ignored. `null` removes the expiry.
    #[serde(default, deserialize_with = "sent")]
    #[schema(value_type = Option<String>, nullable = true, format = DateTime)]
    pub expires_at: Option<Option<String>>,
    /// Admin only: skip the evidence and change-window rules for this write, saying why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<super::dto::BreakGlassInput>,
}

/// A field that is present, `null` or not: absent fields keep their `default` (`None`).
fn sent<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Parses a value a merge patch sets, leaving "not sent" and "cleared" as they are.
fn sent_map<T, U>(
    sent: Option<Option<T>>,
    parse: impl FnOnce(T) -> Result<U, Error>,
) -> Result<Option<Option<U>>, Error> {
    Ok(match sent {
        Some(Some(v)) => Some(Some(parse(v)?)),
        Some(None) => Some(None),
        None => None,
    })
}

impl TryFrom<AssignmentPatchInput> for AssignmentPatch {
    type Error = Error;
    fn try_from(i: AssignmentPatchInput) -> Result<Self, Error> {
        let enabled = match i.enabled {
            Some(None) => return Err(Error::field("$.enabled", "must be true or false; it cannot be cleared")),
            other => other.flatten(),
        };
        let refused = |field: &'static str, e: catalog::Error| Error::refused(field, e.to_string());
        Ok(AssignmentPatch {
            enabled,
            oci_tag: sent_map(i.oci_tag, |t| {
                catalog::OciTag::parse(&t).map_err(|e| refused("oci_tag", e))
            })?,
            component_path: sent_map(i.component_path, |p| {
                catalog::ComponentPath::parse(&p).map_err(|e| refused("component_path", e))
            })?,
            expires_at: sent_map(i.expires_at, |t| parse_expiry(&t))?,
            reason: sent_map(i.reason, parse_reason)?,
        })
    }
}

/// Change only the fields sent of a component's assignment (JSON merge patch, RFC 7396): e.g.
/// `{"oci_tag": "v1.1.0-1", "reason": "hotfix"}` pins a tag and leaves `enabled` as it is;
/// `{"oci_tag": null}` removes the tag override. Accepts `application/merge-patch+json` or
/// `application/json`. The cluster's new revision carries the `reason` sent.
#[utoipa::path(tag = "clusters",
    params(("name" = String, Path), ("id" = String, Path, description = "Component id"), WriteParams),
    request_body(content = AssignmentPatchInput, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The assignment after the patch (on a dry run, the plan: a `PlanDto`)", body = AssignmentDto),
        (status = 400, description = "Not JSON, or a content type other than JSON or merge patch", body = Problem),
        (status = 404, description = "No such cluster or assignment", body = Problem),
        (status = 412, description = "If-Match does not match the assignment", body = Problem),
        (status = 413, description = "The body is too large", body = Problem),
        (status = 422, description = "A field is invalid or the tier's policy refuses the tag (field named)", body = Problem)),
    extensions(("x-required-role" = json!("operator"))))]
#[patch("/clusters/{name}/components/{id}")]
pub async fn patch_cluster_component(
    state: Shared,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: Body<AssignmentPatchInput>,
) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let (cluster, component) = path.into_inner();
    let mut input = body.0;
    let caller = caller_breaking_glass(&req, input.break_glass.take())?;
    let command = PatchAssignment {
        key: assignment_in_path(&req, &cluster, &component, "assignment")?,
        patch: AssignmentPatch::try_from(input)?,
    };
    let outcome = blocking(move || assignments::patch_assignment(&state, &caller, command, params.dry_run)).await?;
    respond_write(outcome, actix_web::http::StatusCode::OK, |a| AssignmentDto::from(a))
}

/// Unpin: remove the component's per-cluster override (tag, path, its reason and expiry). The
/// component stays assigned, enabled or not as it was, and follows the cluster pin or the
/// catalog default again. (`DELETE /clusters/{name}/components/{id}` removes the component
/// from the cluster instead.)
#[utoipa::path(tag = "clusters",
    params(("name" = String, Path), ("id" = String, Path, description = "Component id"), WriteParams),
    responses((status = 200, description = "The assignment without its override (on a dry run, the plan: a `PlanDto`)", body = AssignmentDto),
        (status = 404, description = "No such cluster, assignment, or override on it", body = Problem),
        (status = 412, description = "If-Match does not match the assignment", body = Problem),
        (status = 422, description = "A query parameter is invalid", body = Problem)),
    extensions(("x-required-role" = json!("operator"))))]
#[delete("/clusters/{name}/components/{id}/override")]
pub async fn delete_cluster_component_override(
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
    let outcome = blocking(move || assignments::remove_override(&state, &caller, command, params.dry_run)).await?;
    respond_write(outcome, actix_web::http::StatusCode::OK, |a| AssignmentDto::from(a))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(patch_cluster_component)
        .service(delete_cluster_component_override);
}
