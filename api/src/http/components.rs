//! `/api/v1/components`: the catalog's components.

use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use catalog::Component;
use serde_json::Value;
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{ComponentDto, ComponentInput, Page, PlanDto};
use super::extract::{check_if_match, if_match, query, Body, WriteParams};
use super::paging::{self, PageQuery};
use super::problem::Problem;
use super::{blocking, etag_of, respond_write, Shared};
use crate::error::Error;
use crate::service::components;

impl From<&Component> for ComponentDto {
    fn from(c: &Component) -> Self {
        let k = &c.kustomization;
        ComponentDto {
            id: c.id.to_string(),
            category: c.category.clone(),
            artifact: c.artifact.to_string(),
            component_path: c.component_path.to_string(),
            oci_tag: c.oci_tag.as_ref().map(ToString::to_string),
            target_namespace: k.target_namespace.as_ref().map(ToString::to_string),
            depends_on: c.depends_on.iter().map(ToString::to_string).collect(),
            interval: k.interval.to_string(),
            timeout: k.timeout.to_string(),
            prune: k.prune,
            wait: k.wait,
            enabled: c.enabled,
        }
    }
}

fn input_document(input: &ComponentInput) -> Value {
    serde_json::to_value(input).unwrap_or(Value::Null)
}

fn matches(req: &HttpRequest) -> impl Fn(&Component) -> Result<(), Error> {
    let expected = if_match(req);
    move |current| check_if_match(expected.as_deref(), &etag_of(&ComponentDto::from(current)))
}

/// List the catalog's components, in id order.
#[utoipa::path(tag = "components", params(PageQuery),
    responses((status = 200, description = "A page of components", body = Page<ComponentDto>), (status = 409, description = "No catalog loaded", body = Problem),
        (status = 422, description = "A bad `limit` or `cursor`", body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/components")]
pub async fn list_components(state: Shared, req: HttpRequest) -> Result<HttpResponse, Error> {
    let q: PageQuery = query(&req)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let (_, list) = blocking(move || components::list(&state)).await?;
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
    let c = blocking(move || components::get(&state, &id)).await?;
    let dto = ComponentDto::from(&c);
    Ok(HttpResponse::Ok().insert_header(("ETag", etag_of(&dto))).json(dto))
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
    let (caller, check, doc) = (super::extract::caller(&req), matches(&req), input_document(&body.0));
    let outcome = blocking(move || components::replace(&state, &caller, &id, doc, check, params.dry_run)).await?;
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
    let (caller, check) = (super::extract::caller(&req), matches(&req));
    let outcome = blocking(move || components::patch(&state, &caller, &id, body.0, check, params.dry_run)).await?;
    respond_write(outcome, actix_web::http::StatusCode::OK, |c| ComponentDto::from(c))
}

/// Remove a component; 409 while clusters use it unless `?force=true`.
#[utoipa::path(tag = "components", params(("id" = String, Path), WriteParams),
    responses((status = 204), (status = 200, description = "Dry run: the plan", body = PlanDto), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, description = "A query parameter is invalid, or with `?force=true` the catalog would be invalid without the component (another depends on it): named in `errors`", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[delete("/components/{id}")]
pub async fn delete_component(state: Shared, req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let (caller, check) = (super::extract::caller(&req), matches(&req));
    let outcome =
        blocking(move || components::delete(&state, &caller, &id, check, params.force, params.dry_run)).await?;
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
