//! Who may call what: the one access table, the middleware that enforces it, and the OpenAPI
//! pass that documents it, so the document, the tests and the server cannot disagree.

use std::sync::Arc;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

use crate::error::Error;
use crate::service::tokens::{self, Principal, Role};
use crate::service::AppState;

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No token at all.
    Public,
    /// Any token but a cluster token.
    Viewer,
    Operator,
    Admin,
    /// Viewer and above, or the cluster token of the cluster named by the `{name}` segment.
    ClusterSelf,
    /// A cluster token: the route acts for the token's own cluster.
    ClusterToken,
    /// Operator and above, or the cluster token of the cluster named by the `{name}` segment.
    ClusterSelfOrOperator,
}

impl Access {
    /// The `x-required-role` the OpenAPI document shows.
    pub fn role_name(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Viewer => "viewer",
            Access::Operator => "operator",
            Access::Admin => "admin",
            Access::ClusterSelf => "cluster",
            Access::ClusterToken => "cluster-token",
            Access::ClusterSelfOrOperator => "cluster-or-operator",
        }
    }

    /// Whether `who` may call a route needing this, where `name` is the route's `{name}` segment.
    pub fn allows(self, who: &Principal, name: Option<&str>) -> bool {
        match self {
            Access::Public => true,
            Access::Viewer => who.role >= Role::Viewer,
            Access::Operator => who.role >= Role::Operator,
            Access::Admin => who.role == Role::Admin,
            Access::ClusterSelf => who.role >= Role::Viewer || (name.is_some() && who.cluster.as_deref() == name),
            Access::ClusterToken => who.role == Role::Cluster && who.cluster.is_some(),
            Access::ClusterSelfOrOperator => {
                who.role >= Role::Operator || (name.is_some() && who.cluster.as_deref() == name)
            }
        }
    }
}

/// Every route, as actix matches it, and what it needs. A route missing here is refused.
pub const TABLE: &[(&str, &str, Access)] = {
    use Access::*;
    &[
        ("GET", "/healthz", Public),
        ("GET", "/readyz", Public),
        // Public unless `--metrics-auth`, which the middleware applies.
        ("GET", "/metrics", Public),
        ("GET", "/api-docs/openapi.json", Public),
        ("GET", "/docs", Public),
        ("GET", "/docs/{_:.*}", Public),
        ("GET", "/api/v1/catalog", Viewer),
        ("GET", "/api/v1/components", Viewer),
        ("POST", "/api/v1/components", Operator),
        ("GET", "/api/v1/components/{id}", Viewer),
        ("PUT", "/api/v1/components/{id}", Operator),
        ("PATCH", "/api/v1/components/{id}", Operator),
        ("DELETE", "/api/v1/components/{id}", Operator),
        ("GET", "/api/v1/clusters", Viewer),
        ("POST", "/api/v1/clusters", Operator),
        ("GET", "/api/v1/clusters/{name}", Viewer),
        ("PUT", "/api/v1/clusters/{name}", Operator),
        ("PATCH", "/api/v1/clusters/{name}", Operator),
        ("DELETE", "/api/v1/clusters/{name}", Operator),
        ("GET", "/api/v1/clusters/{name}/components", Viewer),
        ("PUT", "/api/v1/clusters/{name}/components/{id}", Operator),
        ("DELETE", "/api/v1/clusters/{name}/components/{id}", Operator),
        ("GET", "/api/v1/clusters/{name}/effective", Viewer),
        ("GET", "/api/v1/clusters/{name}/render", ClusterSelf),
        ("GET", "/api/v1/clusters/{name}/inputs", ClusterSelf),
        ("GET", "/api/v1/clusters/{name}/revisions", Viewer),
        ("GET", "/api/v1/clusters/{name}/publications", Viewer),
        ("GET", "/api/v1/clusters/{name}/revisions/{n}", Viewer),
        ("POST", "/api/v1/clusters/{name}/rollback", Operator),
        ("GET", "/api/v1/artifacts", Viewer),
        ("GET", "/api/v1/artifacts/{id}", Viewer),
        ("GET", "/api/v1/artifacts/{id}/tags", Viewer),
        ("POST", "/api/v1/artifacts/{id}/tags", Operator),
        ("POST", "/api/v1/artifacts/{id}/sync", Operator),
        ("GET", "/api/v1/tiers", Viewer),
        ("GET", "/api/v1/tiers/{name}", Viewer),
        ("PUT", "/api/v1/tiers/{name}", Admin),
        ("POST", "/api/v1/releases", Operator),
        ("GET", "/api/v1/overrides/stale", Viewer),
        ("POST", "/api/v1/overrides/collapse", Operator),
        ("GET", "/api/v1/rollouts", Viewer),
        ("POST", "/api/v1/rollouts", Operator),
        ("GET", "/api/v1/rollouts/{id}", Viewer),
        ("POST", "/api/v1/rollouts/{id}/advance", Operator),
        ("POST", "/api/v1/rollouts/{id}/pause", Operator),
        ("POST", "/api/v1/rollouts/{id}/resume", Operator),
        ("POST", "/api/v1/rollouts/{id}/abort", Operator),
        ("GET", "/api/v1/holds", Viewer),
        ("POST", "/api/v1/holds", Operator),
        ("GET", "/api/v1/holds/{id}", Viewer),
        ("DELETE", "/api/v1/holds/{id}", Operator),
        ("POST", "/api/v1/hotfixes", Operator),
        ("GET", "/api/v1/audit", Viewer),
        ("GET", "/api/v1/tokens", Admin),
        ("POST", "/api/v1/tokens", Admin),
        ("DELETE", "/api/v1/tokens/{name}", Admin),
        // Flux reports back: a cluster posts its own events; drift is read like the rest.
        ("POST", "/api/v1/events/flux", ClusterToken),
        ("POST", "/api/v1/clusters/{name}/events/flux", ClusterSelfOrOperator),
        ("POST", "/api/v1/clusters/{name}/event-secret", Operator),
        ("DELETE", "/api/v1/clusters/{name}/event-secret", Operator),
        ("GET", "/api/v1/clusters/{name}/events", Viewer),
        ("GET", "/api/v1/clusters/{name}/status", Viewer),
        ("GET", "/api/v1/drift", Viewer),
    ]
};

/// What `method pattern` needs, when the table names it.
pub fn required(method: &str, pattern: &str) -> Option<Access> {
    TABLE
        .iter()
        .find(|(m, p, _)| m.eq_ignore_ascii_case(method) && *p == pattern)
        .map(|(_, _, a)| *a)
}

/// How requests are authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// Every request but the public ones carries a bearer token.
    Token,
    /// Local development only: every request acts as `anonymous` with admin rights.
    None,
}

/// The access settings the middleware enforces.
#[derive(Clone, Copy, Debug)]
pub struct AccessSettings {
    pub mode: AuthMode,
    /// `/metrics` needs a viewer token.
    pub metrics_auth: bool,
}

impl Default for AccessSettings {
    fn default() -> Self {
        AccessSettings {
            mode: AuthMode::Token,
            metrics_auth: false,
        }
    }
}

/// The `{name}` segment of `path` where `pattern` has it (patterns here are plain segments).
fn name_segment<'a>(pattern: &str, path: &'a str) -> Option<&'a str> {
    let at = pattern.split('/').position(|s| s == "{name}")?;
    path.split('/').nth(at)
}

/// The bearer token of a request, if it carries one.
fn bearer(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}

/// The middleware: authenticates the bearer token, records the principal for `caller()`, and
/// enforces [`TABLE`].
pub async fn guard(
    settings: AccessSettings,
    state: Arc<AppState>,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let method = req.method().clone();
    let pattern = req.match_pattern();
    let need = match pattern.as_deref() {
        Some("/metrics") if settings.metrics_auth => Some(Access::Viewer),
        Some(p) => match required(method.as_str(), p) {
            Some(access) => Some(access),
            // Another method on a known route: authenticate, then let the router refuse it.
            None if TABLE.iter().any(|(_, known, _)| *known == p) => None,
            None => {
                tracing::error!(%method, route = p, "the route is missing from the access table; refused");
                let e = Error::Forbidden(format!("{method} {p} is not open to any role"));
                return Ok(req.error_response(e));
            }
        },
        // No route: authenticate, then let the router answer 404.
        None => None,
    };
    if need == Some(Access::Public) {
        return next.call(req).await;
    }
    let principal = match settings.mode {
        AuthMode::None => Principal {
            name: "anonymous".into(),
            role: Role::Admin,
            cluster: None,
        },
        AuthMode::Token => match authenticate(&state, &req).await {
            Ok(p) => p,
            Err(e) => return Ok(req.error_response(e)),
        },
    };
    if let (Some(access), Some(p)) = (need, pattern.as_deref()) {
        if !access.allows(&principal, name_segment(p, req.path())) {
            let e = Error::Forbidden(format!(
                "the {} token {:?} may not {method} {p} (it needs {})",
                principal.role.as_str(),
                principal.name,
                access.role_name()
            ));
            return Ok(req.error_response(e));
        }
    }
    req.extensions_mut().insert(principal);
    next.call(req).await
}

async fn authenticate(state: &Arc<AppState>, req: &ServiceRequest) -> Result<Principal, Error> {
    let Some(token) = bearer(req) else {
        return Err(Error::Unauthorized(
            "this request needs an `Authorization: Bearer <token>` header".into(),
        ));
    };
    // A token verified in the last second needs no database: stay on this thread.
    if let Some(principal) = state.verified.get(&token) {
        return Ok(principal);
    }
    let state = state.clone();
    let found = web::block(move || tokens::authenticate(&state, &token))
        .await
        .map_err(|e| Error::Internal(format!("a blocking task failed: {e}")))??;
    found.ok_or_else(|| Error::Unauthorized("the bearer token is unknown, expired or revoked".into()))
}

/// Declares the bearer scheme and, on every operation, the role it needs (`security` and
/// `x-required-role`) and its 401/403 answers, from [`TABLE`].
pub fn document(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::extensions::Extensions;
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
    use utoipa::openapi::{Ref, RefOr, ResponseBuilder};

    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("pcat_<id>_<secret>")
                .description(Some(
                    "An API token: `platform-catalog token create` or POST /api/v1/tokens",
                ))
                .build(),
        ),
    );
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            ("GET", &mut item.get),
            ("PUT", &mut item.put),
            ("POST", &mut item.post),
            ("DELETE", &mut item.delete),
            ("PATCH", &mut item.patch),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            // An operation missing from the table gets no role; the access test then fails on it.
            let Some(access) = required(method, path) else { continue };
            let extensions = op.extensions.get_or_insert_with(Extensions::default);
            extensions.insert("x-required-role".into(), access.role_name().into());
            if access == Access::Public {
                continue;
            }
            op.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
            let responses = &mut op.responses.responses;
            responses
                .entry("401".into())
                .or_insert_with(|| problem("No valid bearer token (missing, unknown, expired or revoked)"));
            responses
                .entry("403".into())
                .or_insert_with(|| problem("The token's role may not do this"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role, cluster: Option<&str>) -> Principal {
        Principal {
            name: "t".into(),
            role,
            cluster: cluster.map(str::to_owned),
        }
    }

    #[test]
    fn cluster_tokens_reach_only_their_own_cluster() {
        let mine = who(Role::Cluster, Some("dev-eu-1"));
        assert!(Access::ClusterSelf.allows(&mine, Some("dev-eu-1")));
        assert!(!Access::ClusterSelf.allows(&mine, Some("qa-eu-1")));
        assert!(!Access::ClusterSelf.allows(&mine, None));
        assert!(!Access::Viewer.allows(&mine, Some("dev-eu-1")));
        assert!(Access::ClusterSelf.allows(&who(Role::Viewer, None), Some("qa-eu-1")));
        assert_eq!(
            name_segment("/api/v1/clusters/{name}/render", "/api/v1/clusters/dev-eu-1/render"),
            Some("dev-eu-1")
        );
    }

    #[test]
    fn clusters_post_only_their_own_events_and_operators_any() {
        let mine = who(Role::Cluster, Some("dev-eu-1"));
        assert!(Access::ClusterToken.allows(&mine, None));
        assert!(!Access::ClusterToken.allows(&who(Role::Admin, None), None));
        assert!(Access::ClusterSelfOrOperator.allows(&mine, Some("dev-eu-1")));
        assert!(!Access::ClusterSelfOrOperator.allows(&mine, Some("qa-eu-1")));
        assert!(Access::ClusterSelfOrOperator.allows(&who(Role::Operator, None), Some("qa-eu-1")));
        assert!(!Access::ClusterSelfOrOperator.allows(&who(Role::Viewer, None), Some("qa-eu-1")));
    }

    #[test]
    fn roles_nest() {
        assert!(Access::Operator.allows(&who(Role::Admin, None), None));
        assert!(!Access::Operator.allows(&who(Role::Viewer, None), None));
        assert!(!Access::Admin.allows(&who(Role::Operator, None), None));
    }
}

#[cfg(test)]
mod table_tests {
    use super::*;

    /// The table and the document name the same operations (the docs page aside), so neither
    /// can gain a route the other does not know.
    #[test]
    fn the_table_and_the_openapi_document_agree() {
        let doc = crate::http::openapi();
        let mut documented = Vec::new();
        for (path, item) in &doc.paths.paths {
            for (method, op) in [
                ("GET", &item.get),
                ("PUT", &item.put),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("PATCH", &item.patch),
            ] {
                if op.is_some() {
                    assert!(
                        required(method, path).is_some(),
                        "{method} {path} is not in the access table"
                    );
                    documented.push((method, path.as_str()));
                }
            }
        }
        for (method, path, _) in TABLE {
            let docs_page = path.starts_with("/docs") || path.starts_with("/api-docs");
            assert!(
                docs_page || documented.contains(&(*method, *path)),
                "{method} {path} is in the access table but not in the document"
            );
        }
    }
}
