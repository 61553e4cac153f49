//! Flux reports back: the event receiver, a cluster's event secret, its event history.

use actix_web::{delete, get, post, web, HttpMessage, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::Page;
use super::extract::{caller, parse_json, query, EventBody};
use super::observed_dto::{EventAcceptedDto, EventSecretDto, FluxEventDto, FluxEventInput};
use super::problem::Problem;
use super::{blocking, paging, Shared};
use crate::error::Error;
use crate::service::observed::{self, FluxEvent};
use crate::service::tokens::Principal;

const CURSOR_KIND: &str = "events";

/// Take in a Flux event from the cluster the (cluster) token belongs to. Point a
/// notification-controller `generic` or `generic-hmac` Provider here. When the cluster has an
/// event secret, the post must carry `X-Signature: sha256=<hex HMAC-SHA256 of the body>`,
/// checked before the body is read; a retried event is taken in once.
#[utoipa::path(tag = "observed", request_body = FluxEventInput,
    params(("X-Signature" = Option<String>, Header, description = "sha256=<hex HMAC-SHA256 of the raw body>, under the cluster's event secret")),
    responses((status = 202, description = "Taken in (or a duplicate, taken in before)", body = EventAcceptedDto),
        (status = 400, description = "Not a Flux event: the field and rule are named", body = Problem),
        (status = 404, description = "The token's cluster no longer exists", body = Problem),
        (status = 413, description = "Over the event body limit (at least 3 MiB)", body = Problem)), extensions(("x-required-role" = json!("cluster-token"))))]
#[post("/events/flux")]
pub async fn post_flux_event(state: Shared, req: HttpRequest, body: EventBody) -> Result<HttpResponse, Error> {
    let cluster = req
        .extensions()
        .get::<Principal>()
        .and_then(|p| p.cluster.clone())
        .ok_or_else(|| {
            Error::BadRequest(
                "only a cluster token names its cluster; post to /api/v1/clusters/{name}/events/flux".into(),
            )
        })?;
    take_in(state, &req, cluster, body).await
}

/// Take in a Flux event for the named cluster: for the cluster's own token, or an operator.
/// Otherwise as `POST /api/v1/events/flux`.
#[utoipa::path(tag = "observed", request_body = FluxEventInput,
    params(("name" = String, Path), ("X-Signature" = Option<String>, Header, description = "sha256=<hex HMAC-SHA256 of the raw body>, under the cluster's event secret")),
    responses((status = 202, description = "Taken in (or a duplicate, taken in before)", body = EventAcceptedDto),
        (status = 400, description = "Not a Flux event: the field and rule are named", body = Problem),
        (status = 404, body = Problem),
        (status = 413, description = "Over the event body limit (at least 3 MiB)", body = Problem)), extensions(("x-required-role" = json!("cluster-or-operator"))))]
#[post("/clusters/{name}/events/flux")]
pub async fn post_cluster_flux_event(
    state: Shared,
    req: HttpRequest,
    name: web::Path<String>,
    body: EventBody,
) -> Result<HttpResponse, Error> {
    take_in(state, &req, name.into_inner(), body).await
}

async fn take_in(state: Shared, req: &HttpRequest, cluster: String, body: EventBody) -> Result<HttpResponse, Error> {
    let body = body.0;
    let signature = req
        .headers()
        .get("x-signature")
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let ingested = observed::receive(state.into_inner(), cluster, &body, signature.as_deref(), |body| {
        let input: FluxEventInput = parse_json(body).map_err(|e| match e {
            Error::Validation { detail, .. } => Error::BadRequest(detail),
            other => other,
        })?;
        FluxEvent::try_from(input)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(EventAcceptedDto {
        duplicate: ingested.duplicate,
        unmanaged: ingested.component.is_none(),
        component: ingested.component,
    }))
}

/// Issue a new event secret for a cluster (replacing any it had), shown this once. From now on
/// its posts must be signed with it: configure it as the `token` of its Flux `generic-hmac`
/// Provider's secret.
#[utoipa::path(tag = "observed", params(("name" = String, Path)),
    responses((status = 201, body = EventSecretDto), (status = 404, body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[post("/clusters/{name}/event-secret")]
pub async fn rotate_event_secret(
    state: Shared,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let caller = caller(&req);
    let cluster = name.into_inner();
    let c = cluster.clone();
    let secret = blocking(move || observed::rotate_event_secret(&state, &caller, &c)).await?;
    Ok(HttpResponse::Created().json(EventSecretDto {
        cluster,
        secret,
        header: "X-Signature: sha256=<hex HMAC-SHA256 of the body>".into(),
    }))
}

/// Remove a cluster's event secret: its posts are then checked by token alone.
#[utoipa::path(tag = "observed", params(("name" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, description = "No such cluster, or it has no secret", body = Problem)), extensions(("x-required-role" = json!("operator"))))]
#[delete("/clusters/{name}/event-secret")]
pub async fn delete_event_secret(
    state: Shared,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let caller = caller(&req);
    blocking(move || observed::delete_event_secret(&state, &caller, &name)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventListQuery {
    /// 1 to 500, default 50.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A cluster's latest Flux events, newest first (the last 100 are kept).
#[utoipa::path(tag = "observed", params(("name" = String, Path), EventListQuery),
    responses((status = 200, body = Page<FluxEventDto>), (status = 404, body = Problem), (status = 422, body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/clusters/{name}/events")]
pub async fn list_cluster_events(
    state: Shared,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let q: EventListQuery = query(&req)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let before = paging::decode_cursor(CURSOR_KIND, q.cursor.as_deref())?;
    let rows = blocking(move || observed::events(&state, &name, before, limit + 1)).await?;
    Ok(HttpResponse::Ok().json(paging::page(
        rows,
        limit,
        CURSOR_KIND,
        |r| r.id,
        |r| FluxEventDto::from(r),
    )))
}

/// The event routes. The receivers read their bodies through [`EventBody`], which allows at
/// least [`super::extract::EVENT_BODY_LIMIT`], while the rest of the API keeps `--max-body-bytes`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(post_flux_event)
        .service(post_cluster_flux_event)
        .service(rotate_event_secret)
        .service(delete_event_secret)
        .service(list_cluster_events);
}
