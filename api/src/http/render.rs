//! What a cluster runs: its effective config with provenance, and its render for Flux.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::extract::query;
use super::problem::Problem;
use super::{blocking, Shared};
use crate::error::Error;
use crate::service;
use crate::store::effective::{ComponentRecord, EffectiveRecord, SourceRecord};

#[derive(Debug, Default, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RenderFormat {
    /// Multi-document YAML: an OCIRepository and a Kustomization per component.
    #[default]
    Yaml,
    /// The same objects as a Kubernetes `v1` `List`.
    Json,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RenderQuery {
    /// `yaml` (default) or `json`.
    #[serde(default)]
    #[param(inline)]
    format: RenderFormat,
}

/// Where a value came from: `rollout`, `override`, `cluster_pin`, `component_default` or `artifact_default`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SourceDto {
    pub kind: String,
    /// The rollout id, or the override's reason.
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SourcedDto {
    pub value: String,
    pub source: SourceDto,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EffectiveComponentDto {
    pub id: String,
    pub artifact: String,
    pub url: String,
    pub oci_tag: SourcedDto,
    pub component_path: SourcedDto,
    /// The Kustomization path, `./<component_path>/<tier>`.
    pub path: String,
    pub depends_on: Vec<String>,
    pub interval: String,
    pub timeout: String,
    pub prune: bool,
    pub wait: bool,
    pub target_namespace: Option<String>,
}

/// A cluster's effective config at one revision: every value with its provenance.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EffectiveDto {
    pub cluster: String,
    pub tier: String,
    pub revision: i64,
    pub pin_digest: bool,
    pub flux_namespace: String,
    pub components: Vec<EffectiveComponentDto>,
}

fn sourced(value: &str, s: &SourceRecord) -> SourcedDto {
    SourcedDto {
        value: value.to_owned(),
        source: SourceDto {
            kind: s.kind.clone(),
            detail: s.detail.clone(),
        },
    }
}

impl From<&ComponentRecord> for EffectiveComponentDto {
    fn from(c: &ComponentRecord) -> Self {
        EffectiveComponentDto {
            id: c.id.clone(),
            artifact: c.artifact.clone(),
            url: c.url.clone(),
            oci_tag: sourced(&c.oci_tag, &c.oci_tag_source),
            component_path: sourced(&c.component_path, &c.component_path_source),
            path: c.overlay.clone(),
            depends_on: c.depends_on.clone(),
            interval: c.interval.clone(),
            timeout: c.timeout.clone(),
            prune: c.prune,
            wait: c.wait,
            target_namespace: c.target_namespace.clone(),
        }
    }
}

impl EffectiveDto {
    pub fn new(revision: i64, r: &EffectiveRecord) -> Self {
        EffectiveDto {
            cluster: r.cluster.clone(),
            tier: r.tier.clone(),
            revision,
            pin_digest: r.pin_digest,
            flux_namespace: r.namespace.clone(),
            components: r.components.iter().map(Into::into).collect(),
        }
    }
}

/// What the cluster should run, each value with where it came from.
#[utoipa::path(tag = "render", params(("name" = String, Path)),
    responses((status = 200, body = EffectiveDto), (status = 404, body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/clusters/{name}/effective")]
pub async fn get_cluster_effective(state: Shared, name: web::Path<String>) -> Result<HttpResponse, Error> {
    let (revision, record) = blocking(move || service::effective(&state, &name, None)).await?;
    Ok(HttpResponse::Ok().json(EffectiveDto::new(revision, &record)))
}

/// The cluster's current render: from memory when fresh, else from the database.
async fn current_render(state: Shared, name: String) -> Result<std::sync::Arc<service::Rendered>, Error> {
    match state.renders.current(&name) {
        Some(hit) => Ok(hit),
        None => blocking(move || service::current_render(&state, &name)).await,
    }
}

/// Answers with `body` unless the caller already has it (`If-None-Match`).
fn conditional(
    req: &HttpRequest,
    etag: &str,
    revision: i64,
    content_type: &'static str,
    body: &bytes::Bytes,
) -> HttpResponse {
    let seen = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let fresh = seen.split(',').any(|t| t.trim() == etag || t.trim() == "*");
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    // Names and media types known when compiled: nothing parsed or formatted per request.
    response
        .insert_header((header::ETAG, etag))
        .insert_header((REVISION_HEADER, revision));
    if fresh {
        response.finish()
    } else {
        response
            .insert_header((header::CONTENT_TYPE, header::HeaderValue::from_static(content_type)))
            .body(body.clone())
    }
}

/// The revision a render or an inputs document was made from.
const REVISION_HEADER: header::HeaderName = header::HeaderName::from_static("x-platform-catalog-revision");

/// A render as JSON (`?format=json`): a Kubernetes `v1` `List` of the Flux objects. Only
/// describes the answer, which is served as rendered.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct RenderList {
    #[serde(rename = "apiVersion")]
    #[schema(pattern = "^v1$")]
    api_version: String,
    #[schema(pattern = "^List$")]
    kind: String,
    /// An OCIRepository and a Kustomization per component.
    #[schema(value_type = Vec<Object>)]
    items: Vec<serde_json::Value>,
}

/// The Flux objects the cluster applies: an OCIRepository and a Kustomization per component.
#[utoipa::path(tag = "render", params(("name" = String, Path), RenderQuery),
    responses(
        (status = 200, description = "The render: multi-document YAML, or with `?format=json` the same objects as a `v1` `List`",
            content((String = "application/yaml"), (RenderList = "application/json")),
            headers(("ETag" = String), ("X-Platform-Catalog-Revision" = i64))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 404, body = Problem),
        (status = 409, description = "The tier pins digests and a tag has none", body = Problem),
        (status = 422, body = Problem)), extensions(("x-required-role" = json!("cluster"))))]
#[get("/clusters/{name}/render")]
pub async fn get_cluster_render(
    state: Shared,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let q: RenderQuery = query(&req)?;
    state.metrics.render_served();
    let rendered = current_render(state, name.into_inner()).await?;
    Ok(match q.format {
        RenderFormat::Yaml => conditional(
            &req,
            &rendered.yaml_etag,
            rendered.revision,
            "application/yaml",
            &rendered.yaml,
        ),
        RenderFormat::Json => conditional(
            &req,
            &rendered.json_etag,
            rendered.revision,
            "application/json",
            &rendered.json,
        ),
    })
}

/// The inputs document a cluster's Flux Operator `ResourceSetInputProvider` (`type:
/// ExternalService`) fetches: one input per component, every key always present, never `null`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InputsDocument {
    pub inputs: Vec<InputDto>,
}

/// One component's input. The schema of what `catalog::render::InputEntry` serializes (a test
/// holds the two together); absent strings are `""`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InputDto {
    /// The component id; unique; names its Flux objects.
    pub id: String,
    pub cluster: String,
    pub tier: String,
    /// The cluster revision the document was rendered from, as a string.
    pub revision: String,
    /// The components artifact, `oci://…`.
    pub url: String,
    pub oci_tag: String,
    /// `sha256:<hex>` on tiers that pin digests, else `""`.
    pub digest: String,
    pub component_path: String,
    /// The Kustomization path, `./<component_path>/<tier>`.
    pub path: String,
    /// A Flux duration, e.g. `10m`.
    pub interval: String,
    /// A Flux duration, e.g. `5m`.
    pub timeout: String,
    pub prune: bool,
    pub wait: bool,
    /// `""` when unset.
    pub target_namespace: String,
    /// Ids of components enabled on the cluster this one depends on; may be empty.
    pub depends_on: Vec<String>,
}

/// The Flux Operator ResourceSetInputProvider `ExternalService` document: `{"inputs": [...]}`,
/// every key of every input always present and never `null`. A provider keeps the first
/// `spec.filter.limit` inputs (default 100): over 100, the response says so in
/// `X-Platform-Catalog-Warning`.
#[utoipa::path(tag = "render", params(("name" = String, Path)),
    responses(
        (status = 200, description = "One input per component", content_type = "application/json", body = InputsDocument,
            headers(("ETag" = String), ("X-Platform-Catalog-Input-Count" = i64),
                ("X-Platform-Catalog-Warning" = String, description = "Set when there are more than 100 inputs: raise the provider's spec.filter.limit"))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 404, body = Problem),
        (status = 409, body = Problem)), extensions(("x-required-role" = json!("cluster"))))]
#[get("/clusters/{name}/inputs")]
pub async fn get_cluster_inputs(
    state: Shared,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let rendered = blocking(move || service::current_render(&state, &name)).await?;
    let mut response = conditional(
        &req,
        &rendered.inputs_etag,
        rendered.revision,
        "application/json",
        &rendered.inputs,
    );
    let count = rendered.input_count;
    let headers = response.headers_mut();
    headers.insert(
        header::HeaderName::from_static("x-platform-catalog-input-count"),
        header::HeaderValue::from(count),
    );
    if let Some(value) = input_limit_warning(count).and_then(|w| header::HeaderValue::from_str(&w).ok()) {
        headers.insert(header::HeaderName::from_static("x-platform-catalog-warning"), value);
    }
    Ok(response)
}

/// What the inputs response warns of when a `ResourceSetInputProvider` with the default
/// `spec.filter.limit` would cut the document.
fn input_limit_warning(count: usize) -> Option<String> {
    let limit = catalog::render::RSIP_DEFAULT_LIMIT;
    (count > limit).then(|| {
        format!("{count} inputs: a ResourceSetInputProvider keeps the first {limit} unless spec.filter.limit is raised")
    })
}

/// The render first: the router tries routes in order, and it is the one called most.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_cluster_render)
        .service(get_cluster_inputs)
        .service(get_cluster_effective);
}

#[cfg(test)]
mod tests {
    use super::input_limit_warning;

    #[test]
    fn more_inputs_than_a_provider_keeps_by_default_are_warned_of() {
        assert_eq!(input_limit_warning(100), None);
        assert_eq!(
            input_limit_warning(101).as_deref(),
            Some("101 inputs: a ResourceSetInputProvider keeps the first 100 unless spec.filter.limit is raised")
        );
    }
}
