//! The fleet console: server-rendered HTML pages under `/ui/` over the same service layer as
//! the API, behind the same access guard (each route's role is in [`ROUTES`]).

pub mod changes;
pub mod cluster;
pub mod html;
pub mod login;
pub mod matrix;
pub mod reports;
pub mod rollouts;
pub mod session;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};

use crate::error::Error;
use crate::http::access::Access;
use crate::service::tokens::{Principal, Role};
use html::Html;
use session::Current;

/// Every console route and the role it needs. The access guard reads this table beside the
/// OpenAPI document's, so a console page is checked exactly like an API operation; a console
/// route missing here is refused by the guard (fail closed), never served unchecked.
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/ui", Access::Public),
    ("GET", "/ui/login", Access::Public),
    ("POST", "/ui/login", Access::Public),
    ("GET", "/ui/assets/console.css", Access::Public),
    ("GET", "/ui/assets/console.js", Access::Public),
    ("POST", "/ui/logout", Access::Viewer),
    ("GET", "/ui/", Access::Viewer),
    ("GET", "/ui/fleet.csv", Access::Viewer),
    ("GET", "/ui/clusters/{name}", Access::Viewer),
    ("POST", "/ui/clusters/{name}/pin", Access::Operator),
    ("POST", "/ui/clusters/{name}/unpin", Access::Operator),
    ("POST", "/ui/clusters/{name}/rollback", Access::Operator),
    ("GET", "/ui/rollouts", Access::Viewer),
    ("GET", "/ui/rollouts/{id}", Access::Viewer),
    ("GET", "/ui/rollouts/{id}/status", Access::Viewer),
    ("POST", "/ui/rollouts/{id}/advance", Access::Operator),
    ("POST", "/ui/rollouts/{id}/pause", Access::Operator),
    ("POST", "/ui/rollouts/{id}/resume", Access::Operator),
    ("POST", "/ui/rollouts/{id}/abort", Access::Operator),
    ("POST", "/ui/rollouts/{id}/approve", Access::Operator),
    ("GET", "/ui/drift", Access::Viewer),
    ("GET", "/ui/audit", Access::Viewer),
];

/// Whether a path is the console's.
pub fn is_console(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// The console's pages may load only their own script and stylesheet: no inline script or
/// style, no frames, forms post only here.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The browser hardening headers of every console answer.
pub fn harden(headers: &mut actix_web::http::header::HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Registers the console's routes (outside the OpenAPI document: they answer HTML).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui", web::get().to(|| async { redirect("/ui/") }))
        .route("/ui/assets/console.css", web::get().to(css))
        .route("/ui/assets/console.js", web::get().to(js))
        .route("/ui/login", web::get().to(login::get_login))
        .route("/ui/login", web::post().to(login::post_login))
        .route("/ui/logout", web::post().to(login::post_logout))
        .route("/ui/", web::get().to(matrix::get_matrix))
        .route("/ui/fleet.csv", web::get().to(matrix::get_fleet_csv))
        .route("/ui/clusters/{name}", web::get().to(cluster::get_cluster))
        .route("/ui/clusters/{name}/pin", web::post().to(changes::post_pin))
        .route("/ui/clusters/{name}/unpin", web::post().to(changes::post_unpin))
        .route("/ui/clusters/{name}/rollback", web::post().to(changes::post_rollback))
        .route("/ui/rollouts", web::get().to(rollouts::get_rollouts))
        .route("/ui/rollouts/{id}", web::get().to(rollouts::get_rollout))
        .route("/ui/rollouts/{id}/status", web::get().to(rollouts::get_rollout_status))
        .route("/ui/rollouts/{id}/advance", web::post().to(rollouts::post_advance))
        .route("/ui/rollouts/{id}/pause", web::post().to(rollouts::post_pause))
        .route("/ui/rollouts/{id}/resume", web::post().to(rollouts::post_resume))
        .route("/ui/rollouts/{id}/abort", web::post().to(rollouts::post_abort))
        .route("/ui/rollouts/{id}/approve", web::post().to(rollouts::post_approve))
        .route("/ui/drift", web::get().to(reports::get_drift))
        .route("/ui/audit", web::get().to(reports::get_audit));
}

async fn css() -> HttpResponse {
    asset("text/css; charset=utf-8", include_str!("assets/console.css"))
}

async fn js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", include_str!("assets/console.js"))
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "max-age=300"))
        .body(body)
}

/// A 303 to `to`.
pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish()
}

/// Who is signed in, and their session, as the access guard recorded them.
pub struct Viewer {
    pub principal: Principal,
    pub session: Current,
}

impl Viewer {
    pub fn of(req: &HttpRequest) -> Viewer {
        let ext = req.extensions();
        Viewer {
            principal: ext.get::<Principal>().cloned().unwrap_or(Principal {
                name: "anonymous".into(),
                role: Role::Viewer,
                cluster: None,
            }),
            session: ext.get::<Current>().cloned().unwrap_or(Current {
                id: String::new(),
                csrf: String::new(),
            }),
        }
    }

    /// Whether the page offers writes: operators and admins.
    pub fn operates(&self) -> bool {
        self.principal.role >= Role::Operator
    }

    /// Opens a POST form to `action` with this session's CSRF token.
    pub fn form(&self, h: &mut Html, action: &str) {
        h.open("form", &[("method", Some("post")), ("action", Some(action))]);
        h.hidden("csrf", &self.session.csrf);
    }
}

/// The pages the navigation links to.
const NAV: &[(&str, &str)] = &[
    ("/ui/", "Fleet"),
    ("/ui/rollouts", "Rollouts"),
    ("/ui/drift", "Drift"),
    ("/ui/audit", "Audit"),
];

/// A whole page: head, navigation (with who is signed in and sign-out), then `body`.
pub fn page(status: StatusCode, title: &str, viewer: Option<&Viewer>, body: impl FnOnce(&mut Html)) -> HttpResponse {
    let mut h = Html::new();
    h.open("!DOCTYPE html", &[]);
    h.open("html", &[("lang", Some("en"))]).open("head", &[]);
    h.open("meta", &[("charset", Some("utf-8"))]);
    h.open(
        "meta",
        &[
            ("name", Some("viewport")),
            ("content", Some("width=device-width, initial-scale=1")),
        ],
    );
    h.el("title", &[], &format!("{title} · Platform Catalog"));
    h.open(
        "link",
        &[("rel", Some("stylesheet")), ("href", Some("/ui/assets/console.css"))],
    );
    h.open("script", &[("src", Some("/ui/assets/console.js")), ("defer", Some(""))])
        .close("script");
    h.close("head").open("body", &[]);
    if let Some(v) = viewer {
        h.open("header", &[]).open("nav", &[("aria-label", Some("Console"))]);
        for (href, text) in NAV {
            h.link(href, text).text(" ");
        }
        h.close("nav").open("p", &[("class", Some("who"))]);
        h.text(&format!(
            "Signed in as {} ({})",
            v.principal.name,
            v.principal.role.as_str()
        ));
        h.close("p");
        v.form(&mut h, "/ui/logout");
        h.el("button", &[("type", Some("submit"))], "Sign out").close("form");
        h.close("header");
    }
    h.open("main", &[]).el("h1", &[], title);
    body(&mut h);
    h.close("main").close("body").close("html");
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(h.into_string())
}

/// A console page that says what went wrong, with its status.
pub fn error_page(req: &HttpRequest, status: StatusCode, message: &str) -> HttpResponse {
    let viewer = req.extensions().get::<Principal>().is_some().then(|| Viewer::of(req));
    page(
        status,
        status.canonical_reason().unwrap_or("Error"),
        viewer.as_ref(),
        |h| refusal_body(h, message),
    )
}

fn refusal_body(h: &mut Html, message: &str) {
    h.el("p", &[("class", Some("error")), ("role", Some("alert"))], message);
    h.open("p", &[]).link("/ui/", "Back to the fleet").close("p");
}

/// A console handler's error: the service's error, answered as an HTML page with its status
/// (the API answers the same error as problem+json).
#[derive(Debug)]
pub struct Refusal(pub Error);

impl From<Error> for Refusal {
    fn from(e: Error) -> Refusal {
        Refusal(e)
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl actix_web::ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        page(status, status.canonical_reason().unwrap_or("Error"), None, |h| {
            refusal_body(h, &self.0.to_string())
        })
    }
}
