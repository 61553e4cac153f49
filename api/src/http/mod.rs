//! The HTTP API: routes, the OpenAPI document generated from them, and the server.

pub mod access;
pub mod artifacts;
pub mod assignments;
pub mod audit;
pub mod catalog;
pub mod clusters;
pub mod components;
pub mod drift;
pub mod dto;
pub mod events;
pub mod examples;
pub mod extract;
pub mod fleet;
pub mod guide;
pub mod health;
pub mod hold_dto;
pub mod holds;
pub mod hotfixes;
pub mod observed_dto;
pub mod overrides;
pub mod paging;
pub mod patch_dto;
pub mod paths;
pub mod plan_dto;
pub mod problem;
pub mod promotions;
pub mod publish;
pub mod registry_dto;
pub mod releases;
pub mod render;
pub mod revisions;
pub mod rollout_dto;
pub mod rollouts;
pub mod safety_dto;
pub mod sync;
pub mod tiers;
pub mod tokens;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::OpenApi;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::{scope, AppExt};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::error::Error;
use crate::service::{AppState, Outcome};
use dto::PlanDto;

/// The state every handler shares.
pub type Shared = web::Data<AppState>;

/// Runs blocking work (diesel is synchronous) off the async executor.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, Error> + Send + 'static) -> Result<T, Error> {
    web::block(f)
        .await
        .map_err(|e| Error::Internal(format!("a blocking task failed: {e}")))?
}

/// A resource's ETag: a hash of how the API shows it.
pub fn etag_of(value: &impl Serialize) -> String {
    crate::service::version_of(value)
}

/// The response to a write: the plan on a dry run, else the resource (with its ETag).
pub fn respond_write<T, D: Serialize>(
    outcome: Outcome<T>,
    status: StatusCode,
    dto: impl FnOnce(&T) -> D,
) -> Result<HttpResponse, Error> {
    if outcome.dry_run {
        return Ok(HttpResponse::Ok().json(PlanDto::new(true, outcome.catalog_revision, &outcome.changes)));
    }
    if status == StatusCode::NO_CONTENT {
        return Ok(HttpResponse::NoContent().finish());
    }
    let body = dto(&outcome.value);
    Ok(HttpResponse::build(status)
        .insert_header(("ETag", etag_of(&body)))
        .json(body))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Platform Catalog",
        description = "Which build of each platform component every Kubernetes cluster runs, rendered for Flux.\n\n\
            The common jobs, each with its call and its answer (pin, unpin, rollout, hotfix, rollback, read drift): \
            [the guide](/docs/guide)."
    ),
    components(schemas(problem::Problem, problem::ProblemField, PlanDto))
)]
struct BaseDoc;

/// Every route of the API. Each is declared once, next to its handler: method and path in its
/// actix attribute, the operation and the role it needs (`x-required-role`) in its
/// `#[utoipa::path]`. Registering them here builds the router; [`openapi`] builds the document
/// from this same registration, and the access table is read from the document, so none of
/// the three can drift from the others.
pub fn routes(cfg: &mut ServiceConfig) {
    // actix tries routes in order, a regular expression for each templated one, until one
    // matches: what every cluster's Flux calls goes first, its render, then the receiver.
    cfg.service(
        scope("/api/v1")
            .configure(render::routes)
            .configure(events::routes)
            .configure(catalog::routes)
            .configure(components::routes)
            .configure(clusters::routes)
            .configure(assignments::routes)
            .configure(artifacts::routes)
            .configure(sync::routes)
            .configure(publish::routes)
            .configure(tiers::routes)
            .configure(releases::routes)
            .configure(overrides::routes)
            .configure(revisions::routes)
            .configure(rollouts::routes)
            .configure(promotions::routes)
            .configure(holds::routes)
            .configure(hotfixes::routes)
            .configure(audit::routes)
            .configure(tokens::routes)
            .configure(drift::routes)
            .configure(paths::routes)
            .configure(fleet::routes),
    )
    .configure(health::routes);
}

/// The OpenAPI document, generated from [`routes`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(BaseDoc::openapi())
        .configure(routes)
        .split_for_parts();
    access::document(&mut doc);
    problems_as_problem_json(&mut doc);
    describe_statuses(&mut doc);
    paging::document(&mut doc);
    dry_runs_may_answer_a_plan(&mut doc);
    examples::document(&mut doc);
    doc
}

/// A write that takes `?dry_run=true` answers its plan (`PlanDto`) instead of the resource on a
/// dry run: its 200 says "the resource or the plan". An operation whose 200 is the answer of its
/// dry run alone (described `Dry run: …`, as a rollout's plan) says what that is itself.
fn dry_runs_may_answer_a_plan(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{AnyOfBuilder, Schema};
    use utoipa::openapi::{path::ParameterIn, Ref, RefOr};
    let plan = Ref::from_schema_name("PlanDto");
    for item in doc.paths.paths.values_mut() {
        let ops = [&mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for op in ops.into_iter().flatten() {
            let takes_dry_run = op.parameters.iter().flatten().any(
                |p| matches!(p, RefOr::T(p) if p.name == "dry_run" && matches!(p.parameter_in, ParameterIn::Query)),
            );
            if !takes_dry_run {
                continue;
            }
            let Some(RefOr::T(ok)) = op.responses.responses.get_mut("200") else {
                continue;
            };
            if ok.description.starts_with("Dry run:") {
                continue;
            }
            let Some(RefOr::T(content)) = ok.content.get_mut("application/json") else {
                continue;
            };
            let Some(RefOr::Ref(own)) = content.schema.clone() else {
                continue;
            };
            if own.ref_location == plan.ref_location {
                continue;
            }
            let either = AnyOfBuilder::new().item(own).item(plan.clone()).build();
            content.schema = Some(RefOr::T(Schema::AnyOf(either)));
        }
    }
}

/// What each status means across the API, for responses whose operation says no more.
fn status_meaning(status: &str) -> Option<&'static str> {
    Some(match status {
        "200" => "OK: the resource as it is now (on `?dry_run=true`, the plan of what would change)",
        "201" => "Created: the new resource",
        "202" => "Accepted and stored",
        "204" => "Done; no body",
        "304" => "Unchanged since the `If-None-Match` ETag",
        "400" => "Malformed: not JSON, or a query parameter the operation does not take",
        "404" => "Not found: the problem names what does not exist",
        "409" => "Conflicts with stored state: the problem says with what (exists already, in use, an active rollout)",
        "412" => "`If-Match` names a version that is no longer current: read it again",
        "413" => "The body is over the size limit",
        "422" => "A field breaks a rule: each is named in `errors` with the rule",
        "503" => "A service this call needs (the database, a registry) is unavailable: the problem names it",
        _ => return None,
    })
}

/// Calls `f` with the status and the response of every operation's inline responses.
fn each_response(doc: &mut utoipa::openapi::OpenApi, mut f: impl FnMut(&str, &mut utoipa::openapi::Response)) {
    use utoipa::openapi::RefOr;
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            for (status, response) in op.responses.responses.iter_mut() {
                if let RefOr::T(response) = response {
                    f(status, response);
                }
            }
        }
    }
}

/// Gives every response without a description the API-wide meaning of its status.
fn describe_statuses(doc: &mut utoipa::openapi::OpenApi) {
    each_response(doc, |status, response| {
        if response.description.is_empty() {
            if let Some(meaning) = status_meaning(status) {
                response.description = meaning.to_owned();
            }
        }
    });
}

/// Error bodies are `application/problem+json`; utoipa writes every body as JSON, so move
/// each response whose schema is `Problem` to the right media type.
fn problems_as_problem_json(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    each_response(doc, |_, response| {
        let is_problem = response.content.get("application/json").is_some_and(|c| {
            matches!(c, RefOr::T(c) if matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem")))
        });
        if is_problem {
            if let Some(content) = response.content.shift_remove("application/json") {
                response.content.insert(problem::PROBLEM_JSON.to_owned(), content);
            }
        }
    });
}

/// Registers every route on an app, with the shared state, the body limit (bodies over
/// `max_body_bytes` are refused with 413), the docs page serving `doc`, the guide to the common
/// jobs (`/docs/guide`), and the answer to requests no route takes (404, or 405 with `Allow` for
/// a known path).
///
/// There is deliberately no CORS configuration: no `Access-Control-*` header is ever sent, so
/// browsers keep other origins from reading the API with a user's token.
pub fn configure(
    state: Arc<AppState>,
    max_body_bytes: usize,
    doc_json: web::Bytes,
    table: Arc<access::AccessTable>,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        // The docs page reads the document from its route; the document itself is served from
        // one serialized copy that every worker shares, not a tree of it per worker.
        let swagger = SwaggerUi::new("/docs/{_:.*}").config(Config::new([OPENAPI_JSON]).validator_url("none"));
        cfg.app_data(web::Data::from(state))
            .app_data(web::PayloadConfig::new(max_body_bytes))
            .app_data(extract::BodyLimit(max_body_bytes))
            .app_data(web::Data::from(table));
        routes(&mut ServiceConfig::new(cfg));
        crate::console::routes(cfg);
        let document = web::get().to(move || {
            let body = doc_json.clone();
            async move { HttpResponse::Ok().content_type("application/json").body(body) }
        });
        cfg.route(OPENAPI_JSON, document)
            .service(web::redirect("/docs", "/docs/"))
            .route("/docs/guide", web::get().to(guide::guide_page))
            .service(swagger)
            .default_service(web::to(unrouted));
    }
}

/// Where the OpenAPI document is served.
pub const OPENAPI_JSON: &str = "/api-docs/openapi.json";

/// No route takes the request: 405 with the methods the path has when it is known, else 404.
async fn unrouted(req: actix_web::HttpRequest, table: web::Data<access::AccessTable>) -> Result<HttpResponse, Error> {
    let allowed = table.methods_of(req.path());
    if allowed.is_empty() {
        return Err(Error::NotFound {
            kind: "route",
            name: req.path().to_owned(),
        });
    }
    let allow = allowed.join(", ");
    let problem = Error::MethodNotAllowed(format!("{} {} is not supported; use {allow}", req.method(), req.path()));
    let mut response = actix_web::ResponseError::error_response(&problem);
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
        response.headers_mut().insert(actix_web::http::header::ALLOW, value);
    }
    Ok(response)
}

/// The docs page may run only its own vendored scripts and styles, never inside a frame.
/// Swagger UI sets inline styles and draws icons as `data:` images, hence those two allowances.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Adds the browser hardening headers to the docs page and the console.
pub async fn docs_headers(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<actix_web::body::BoxBody>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::http::header::{self, HeaderValue};
    let docs = req.path() == "/docs" || req.path().starts_with("/docs/");
    let console = crate::console::is_console(req.path());
    let mut res = next.call(req).await?;
    if console {
        crate::console::harden(res.headers_mut());
    } else if docs {
        let headers = res.headers_mut();
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP));
    }
    Ok(res)
}
