//! `/api/v1/components`: the catalog's components.

use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use catalog::ComponentId;
use serde_json::Value;
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{ComponentDto, ComponentInput, Page, PlanDto};
use super::extract::{expected, query, Body, WriteParams};
use super::paging::{self, PageQuery};
use super::problem::Problem;
use super::{blocking, respond_write, Shared};
use crate::error::Error;
use crate::service::components::{self, ComponentView, DeleteComponent, PatchComponent, ReplaceComponent};

impl From<&ComponentView> for ComponentDto {
    fn from(v: &ComponentView) -> Self {
        ComponentDto {
            id: v.id.clone(),
            category: v.category.clone(),
            artifact: v.artifact.clone(),
            component_path: v.component_path.clone(),
            oci_tag: v.oci_tag.clone(),
            target_namespace: v.target_namespace.clone(),
            depends_on: v.depends_on.clone(),
            interval: v.interval.clone(),
            timeout: v.timeout.clone(),
            prune: v.prune,
            wait: v.wait,
            enabled: v.enabled,
        }
    }
}

fn input_document(input: &ComponentInput) -> Value {
    serde_json::to_value(input).unwrap_or(Value::Null)
}

/// The component a path names. An id that does not parse names no component: 404 like any other.
fn component_in_path(id: &str) -> Result<ComponentId, Error> {
    ComponentId::parse(id).map_err(|_| components::not_found(id))
}

/// List the catalog's components, in id order.
#[utoipa::path(tag = "components", params(PageQuery),
    responses((status = 200, description = "A page of components", body = Page<ComponentDto>), (status = 409, description = "No catalog loaded", body = Problem),
        (status = 422, description = "A bad `limit` or `cursor`", body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/components")]
pub async fn list_components(state: Shared, req: HttpRequest) -> Result<HttpResponse, Error> {
    let q: PageQuery = query(&req)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let list = blocking(move || components::list(&state)).await?;
    let mut items: Vec<ComponentDto> = list.iter().map(ComponentDto::from).collect();
    items.sort_by(|a, b| a.id.cmp(&b.id));
    let page = paging::page_sorted(items, limit, "components", q.cursor.as_deref(), |c| c.id.clone())?;
    Ok(HttpResponse::Ok().json(page))
}

/// Show one component.
#[utoipa::path(tag = "components",
    params(("id" = String, Path, description = "Component id")),
    responses((status = 200, body = ComponentDto, headers(("ETag" = String))), (status = 404, body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/components/{id}")]
pub async fn get_component(state: Shared, id: web::Path<String>) -> Result<HttpResponse, Error> {
    let view = blocking(move || components::get(&state, &id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", view.version()))
        .json(ComponentDto::from(&view)))
}

/// Add a component to the catalog (a new catalog revision; every cluster re-resolves).
#[utoipa::path(tag = "components", params(WriteParams), request_body = ComponentInput,
    responses((status = 201, body = ComponentDto), (status = 200, description = "Dry run: the plan", body = PlanDto),
        (status = 400, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem), (status = 422, description = "A field breaks a rule, the catalog would be invalid (an unknown artifact or dependency, a cycle), or a tier's policy refuses the tag: each named in `errors`", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/components")]
pub async fn create_component(
    state: Shared,
    req: HttpRequest,
    body: Body<ComponentInput>,
) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let caller = super::extract::caller(&req);
    let doc = input_document(&body.0);
    let outcome = blocking(move || components::create(&state, &caller, doc, params.dry_run)).await?;
    respond_write(outcome, actix_web::http::StatusCode::CREATED, |c| ComponentDto::from(c))
}

/// Replace a component (`If-Match` guards against lost updates).
#[utoipa::path(tag = "components", params(("id" = String, Path), WriteParams), request_body = ComponentInput,
    responses((status = 200, body = ComponentDto), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "A rollout is moving the component", body = Problem),
        (status = 412, body = Problem), (status = 413, body = Problem), (status = 422, description = "A field breaks a rule, `id` is not the one in the path, the catalog would be invalid (an unknown artifact or dependency, a cycle), or a tier's policy refuses the tag: each named in `errors`", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[put("/components/{id}")]
pub async fn replace_component(
    state: Shared,
    req: HttpRequest,
    id: web::Path<String>,
    body: Body<ComponentInput>,
) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    if body.0.id != *id {
        return Err(Error::field(
            "$.id",
            format!("must be {:?}, the id in the path", id.as_str()),
        ));
    }
    let command = ReplaceComponent {
        id: component_in_path(&id)?,
        document: input_document(&body.0),
        expected: expected(&req),
    };
    let caller = super::extract::caller(&req);
    let outcome = blocking(move || components::replace(&state, &caller, command, params.dry_run)).await?;
    respond_write(outcome, actix_web::http::StatusCode::OK, |c| ComponentDto::from(c))
}

/// Change some fields of a component (JSON merge patch; `null` resets a field to its default).
#[utoipa::path(tag = "components", params(("id" = String, Path), WriteParams),
    request_body(content = super::patch_dto::ComponentPatchInput, content_type = "application/merge-patch+json"),
    responses((status = 200, body = ComponentDto), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "A rollout is moving the component", body = Problem),
        (status = 412, body = Problem), (status = 413, body = Problem), (status = 422, description = "A field breaks a rule, the patch changes `id`, the catalog would be invalid (an unknown artifact or dependency, a cycle), or a tier's policy refuses the tag: each named in `errors`", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[patch("/components/{id}")]
pub async fn patch_component(
    state: Shared,
    req: HttpRequest,
    id: web::Path<String>,
    body: Body<Value>,
) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let Value::Object(patch) = body.0 else {
        return Err(Error::field("$", "a merge patch must be a JSON object"));
    };
    let command = PatchComponent {
        id: component_in_path(&id)?,
        patch,
        expected: expected(&req),
    };
    let caller = super::extract::caller(&req);
    let outcome = blocking(move || components::patch(&state, &caller, command, params.dry_run)).await?;
    respond_write(outcome, actix_web::http::StatusCode::OK, |c| ComponentDto::from(c))
}

/// Remove a component; 409 while clusters use it unless `?force=true`.
#[utoipa::path(tag = "components", params(("id" = String, Path), WriteParams),
    responses((status = 204), (status = 200, description = "Dry run: the plan", body = PlanDto), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, description = "A query parameter is invalid, or with `?force=true` the catalog would be invalid without the component (another depends on it): named in `errors`", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[delete("/components/{id}")]
pub async fn delete_component(state: Shared, req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let command = DeleteComponent {
        id: component_in_path(&id)?,
        expected: expected(&req),
        force: params.force,
    };
    let caller = super::extract::caller(&req);
    let outcome = blocking(move || components::delete(&state, &caller, command, params.dry_run)).await?;
    respond_write(outcome, actix_web::http::StatusCode::NO_CONTENT, |_| ())
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_components)
        .service(create_component)
        .service(get_component)
        .service(replace_component)
        .service(patch_component)
        .service(delete_component);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::etag_of;

    #[test]
    fn a_component_version_is_the_etag_of_the_component_as_shown() {
        let view = ComponentView {
            id: "grafana".into(),
            category: "observability".into(),
            artifact: "platform".into(),
            component_path: "observability/grafana/7.3.9".into(),
            oci_tag: None,
            target_namespace: Some("monitoring".into()),
            depends_on: vec!["loki".into()],
            interval: "10m".into(),
            timeout: "5m".into(),
            prune: true,
            wait: false,
            enabled: true,
        };
        assert_eq!(view.version(), etag_of(&ComponentDto::from(&view)));
    }
}
