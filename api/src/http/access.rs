//! Who may call what: the access table, read from the OpenAPI document (each operation's
//! `x-required-role`, declared on its handler), the middleware that enforces it, and the pass
//! that documents the bearer scheme and the 401/403 answers. A route without a role cannot be
//! served: the table refuses to build.

use std::rc::Rc;
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

    /// The access an `x-required-role` names.
    pub fn from_role_name(name: &str) -> Option<Access> {
        use Access::*;
        [
            Public,
            Viewer,
            Operator,
            Admin,
            ClusterSelf,
            ClusterToken,
            ClusterSelfOrOperator,
        ]
        .into_iter()
        .find(|a| a.role_name() == name)
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

/// Routes outside the document (the docs pages and the document itself): always public.
const UNDOCUMENTED_PUBLIC: [&str; 4] = [super::OPENAPI_JSON, "/docs", "/docs/guide", "/docs/{_:.*}"];

/// The operations of the document and what each needs; also which methods a path has.
#[derive(Debug, Default)]
pub struct AccessTable {
    routes: Vec<(String, String, Access)>,
    /// The query parameters each (method, pattern) documents; others are refused with 400.
    queries: std::collections::HashMap<(String, String), Vec<String>>,
}

/// The operations of a path item, by method.
fn operations(item: &utoipa::openapi::PathItem) -> [(&'static str, Option<&utoipa::openapi::path::Operation>); 5] {
    [
        ("GET", item.get.as_ref()),
        ("PUT", item.put.as_ref()),
        ("POST", item.post.as_ref()),
        ("DELETE", item.delete.as_ref()),
        ("PATCH", item.patch.as_ref()),
    ]
}

impl AccessTable {
    /// Reads every operation's `x-required-role`; an operation without one (or with an
    /// unknown one) is an error, so a route nobody may call is never served by accident.
    pub fn from_doc(doc: &utoipa::openapi::OpenApi) -> Result<AccessTable, Error> {
        let mut routes = Vec::new();
        let mut queries = std::collections::HashMap::new();
        for (path, item) in &doc.paths.paths {
            for (method, op) in operations(item) {
                let Some(op) = op else { continue };
                let names: Vec<String> = op
                    .parameters
                    .iter()
                    .flatten()
                    .filter_map(|p| match p {
                        utoipa::openapi::RefOr::T(p) => Some(p),
                        utoipa::openapi::RefOr::Ref(_) => None,
                    })
                    .filter(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query))
                    .map(|p| p.name.clone())
                    .collect();
                queries.insert((method.to_owned(), path.clone()), names);
                let role = op
                    .extensions
                    .as_ref()
                    .and_then(|e| e.get("x-required-role"))
                    .and_then(|v| v.as_str());
                let access = role.and_then(Access::from_role_name).ok_or_else(|| {
                    Error::Internal(format!("{method} {path} declares no known x-required-role ({role:?})"))
                })?;
                routes.push((method.to_owned(), path.clone(), access));
            }
        }
        for path in UNDOCUMENTED_PUBLIC {
            routes.push(("GET".to_owned(), path.to_owned(), Access::Public));
        }
        // The console's HTML pages are not in the document; their roles are in its own table.
        for (method, path, access) in crate::console::ROUTES {
            routes.push(((*method).to_owned(), (*path).to_owned(), *access));
        }
        Ok(AccessTable { routes, queries })
    }

    /// Refuses a query parameter the operation does not document (400 naming it), so a
    /// misspelt filter is never silently ignored.
    pub fn check_query(&self, method: &str, pattern: &str, query: &str) -> Result<(), Error> {
        // Most requests (Flux polling its render) carry none: no key to build.
        if query.is_empty() {
            return Ok(());
        }
        let Some(known) = self.queries.get(&(method.to_ascii_uppercase(), pattern.to_owned())) else {
            return Ok(());
        };
        for (key, _) in form_urlencoded::parse(query.as_bytes()) {
            if !known.iter().any(|k| *k == key) {
                let takes = match known.is_empty() {
                    true => "no query parameters".to_owned(),
                    false => format!("only {}", known.join(", ")),
                };
                return Err(Error::BadRequest(format!(
                    "unknown query parameter {key:?}: {method} {pattern} takes {takes}"
                )));
            }
        }
        Ok(())
    }

    /// What `method pattern` needs, when the table names it.
    pub fn required(&self, method: &str, pattern: &str) -> Option<Access> {
        self.routes
            .iter()
            .find(|(m, p, _)| m.eq_ignore_ascii_case(method) && p == pattern)
            .map(|(_, _, a)| *a)
    }

    /// Whether any method serves `pattern`.
    pub fn knows(&self, pattern: &str) -> bool {
        self.routes.iter().any(|(_, p, _)| p == pattern)
    }

    /// The methods whose route template matches the concrete `path`, for `Allow`.
    pub fn methods_of(&self, path: &str) -> Vec<&str> {
        let mut methods: Vec<&str> = self
            .routes
            .iter()
            .filter(|(_, p, _)| template_matches(p, path))
            .map(|(m, _, _)| m.as_str())
            .collect();
        methods.sort_unstable();
        methods.dedup();
        methods
    }

    /// Every (method, pattern, access), for tests and the document pass.
    pub fn routes(&self) -> impl Iterator<Item = (&str, &str, Access)> {
        self.routes.iter().map(|(m, p, a)| (m.as_str(), p.as_str(), *a))
    }
}

/// Whether a concrete path fits a route template whose `{…}` segments match one segment each.
fn template_matches(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
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

/// The route patterns of the paths requests came for, one memory per worker.
#[derive(Default)]
pub struct RouteMemory(std::cell::RefCell<std::collections::HashMap<Box<str>, Option<Rc<str>>>>);

/// Paths remembered at most per worker; past it the memory starts again.
const ROUTE_MEMORY_LIMIT: usize = 4096;

impl RouteMemory {
    /// The route pattern `req` matches (`/api/v1/clusters/{name}/render`), or `None` when no
    /// route takes it. actix finds it by trying each route in turn (a regular expression per
    /// templated route) on every call, the most expensive part of answering a cached render;
    /// the answer depends only on the path and the routes, which do not change while the
    /// server runs, so a path seen before is answered from here.
    pub fn route(&self, req: &ServiceRequest) -> Option<Rc<str>> {
        if let Some(known) = self.0.borrow().get(req.path()) {
            return known.clone();
        }
        let found: Option<Rc<str>> = req.match_pattern().map(Rc::from);
        let mut memory = self.0.borrow_mut();
        if memory.len() >= ROUTE_MEMORY_LIMIT {
            memory.clear();
        }
        memory.insert(req.path().into(), found.clone());
        found
    }
}

/// The `{name}` segment of `path` where `pattern` has it (patterns here are plain segments).
fn name_segment<'a>(pattern: &str, path: &'a str) -> Option<&'a str> {
    let at = pattern.split('/').position(|s| s == "{name}")?;
    path.split('/').nth(at)
}

/// The bearer token of a request, if it carries one.
fn bearer(req: &ServiceRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The middleware: authenticates the bearer token, records the principal for `caller()`, and
/// enforces the [`AccessTable`].
pub async fn guard(
    settings: AccessSettings,
    state: Arc<AppState>,
    table: Arc<AccessTable>,
    routes: Rc<RouteMemory>,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let method = req.method().clone();
    let pattern = routes.route(&req);
    let need = match pattern.as_deref() {
        Some("/metrics") if settings.metrics_auth => Some(Access::Viewer),
        Some(p) => match table.required(method.as_str(), p) {
            Some(access) => Some(access),
            // Another method on a known route: authenticate, then let the router refuse it.
            None if table.knows(p) => None,
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
        if let Some(p) = pattern.as_deref() {
            if let Err(e) = table.check_query(method.as_str(), p, req.query_string()) {
                return Ok(req.error_response(e));
            }
        }
        return next.call(req).await;
    }
    let console = crate::console::is_console(req.path());
    let principal = match settings.mode {
        // The console always signs in (its forms need a session for their CSRF token).
        _ if console => match session_principal(&state, &req).await {
            Ok(p) => p,
            Err(e) => return Ok(console_refusal(req, e)),
        },
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
            if console {
                return Ok(console_refusal(req, e));
            }
            return Ok(req.error_response(e));
        }
    }
    if let Some(p) = pattern.as_deref() {
        if let Err(e) = table.check_query(method.as_str(), p, req.query_string()) {
            return Ok(req.error_response(e));
        }
    }
    req.extensions_mut().insert(principal);
    next.call(req).await
}

/// The principal of a console request: its session cookie names a live session whose token
/// verifies now (a revoked token ends the session). Records the session for the page.
async fn session_principal(state: &Arc<AppState>, req: &ServiceRequest) -> Result<Principal, Error> {
    use crate::console::session::{cookie_id, Current, Sessions};
    let signed_out = || Error::Unauthorized("sign in to the console first".into());
    let sessions = req.app_data::<web::Data<Sessions>>().ok_or_else(signed_out)?;
    let id = cookie_id(req).ok_or_else(signed_out)?;
    let session = sessions.get(&id).ok_or_else(signed_out)?;
    let principal = match state.verified.get(&session.token) {
        Some(p) => Some(p),
        None => {
            let (state, token) = (state.clone(), session.token.clone());
            web::block(move || tokens::authenticate(&state, &token))
                .await
                .map_err(|e| Error::Internal(format!("a blocking task failed: {e}")))??
        }
    };
    let Some(principal) = principal else {
        sessions.end(&id);
        return Err(Error::Unauthorized(
            "the session's token is expired or revoked: sign in again".into(),
        ));
    };
    req.extensions_mut().insert(Current { id, csrf: session.csrf });
    Ok(principal)
}

/// A console request refused: a signed-out page read goes to the sign-in page, anything else
/// gets an HTML page with the refusal's status.
fn console_refusal(req: ServiceRequest, e: Error) -> ServiceResponse<BoxBody> {
    let status = actix_web::ResponseError::status_code(&e);
    let page = match (status, req.method() == actix_web::http::Method::GET) {
        (actix_web::http::StatusCode::UNAUTHORIZED, true) => crate::console::redirect("/ui/login"),
        _ => crate::console::error_page(req.request(), status, &e.to_string()),
    };
    req.into_response(page)
}

async fn authenticate(state: &Arc<AppState>, req: &ServiceRequest) -> Result<Principal, Error> {
    let Some(token) = bearer(req) else {
        return Err(Error::Unauthorized(
            "this request needs an `Authorization: Bearer <token>` header".into(),
        ));
    };
    // A token verified in the last second needs no database: stay on this thread.
    if let Some(principal) = state.verified.get(token) {
        return Ok(principal);
    }
    let (state, token) = (state.clone(), token.to_owned());
    let found = web::block(move || tokens::authenticate(&state, &token))
        .await
        .map_err(|e| Error::Internal(format!("a blocking task failed: {e}")))??;
    found.ok_or_else(|| Error::Unauthorized("the bearer token is unknown, expired or revoked".into()))
}

/// Declares the bearer scheme and, on every operation that needs a token (its
/// `x-required-role`), the `security` requirement and its 401/403 answers.
pub fn document(doc: &mut utoipa::openapi::OpenApi) {
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
    for item in doc.paths.paths.values_mut() {
        let ops = [
            ("GET", &mut item.get),
            ("PUT", &mut item.put),
            ("POST", &mut item.post),
            ("DELETE", &mut item.delete),
            ("PATCH", &mut item.patch),
        ];
        for (_, op) in ops {
            let Some(op) = op else { continue };
            op.responses.responses.entry("400".into()).or_insert_with(|| {
                problem("Malformed: a query parameter the operation does not take, or a body that is not JSON")
            });
            let takes_query = op.parameters.iter().flatten().any(
                |p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query)),
            );
            if takes_query {
                op.responses
                    .responses
                    .entry("422".into())
                    .or_insert_with(|| problem("A query parameter's value breaks its rule: the problem names it"));
            }
            let role = op
                .extensions
                .as_ref()
                .and_then(|e| e.get("x-required-role"))
                .and_then(|v| v.as_str());
            // No role (a declaration error `AccessTable::from_doc` refuses) or public: no token.
            if role.is_none_or(|r| Access::from_role_name(r) == Some(Access::Public)) {
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

    /// Every documented operation declares a known role, so the table builds, and the table
    /// holds exactly the documented operations plus the docs page.
    #[test]
    fn every_documented_operation_declares_its_role() {
        let doc = crate::http::openapi();
        let table = AccessTable::from_doc(&doc).expect("every operation declares a known role");
        let documented: usize = doc
            .paths
            .paths
            .values()
            .map(|item| operations(item).iter().filter(|(_, op)| op.is_some()).count())
            .sum();
        assert_eq!(
            table.routes().count(),
            documented + UNDOCUMENTED_PUBLIC.len() + crate::console::ROUTES.len()
        );
        assert_eq!(table.required("PUT", "/api/v1/tiers/{name}"), Some(Access::Admin));
        assert_eq!(
            table.required("GET", "/api/v1/clusters/{name}/render"),
            Some(Access::ClusterSelf)
        );
        assert_eq!(
            table.methods_of("/api/v1/clusters/dev-eu-1"),
            vec!["DELETE", "GET", "PATCH", "PUT"]
        );
        assert!(table.methods_of("/api/v1/nowhere").is_empty());
    }
}
