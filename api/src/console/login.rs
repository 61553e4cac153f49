//! Signing in with an API token and signing out.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::session::{self, CsrfForm, Sessions};
use super::{page, redirect, Refusal, Viewer};
use crate::http::{blocking, Shared};
use crate::service::tokens::{self, Role};

/// The sign-in form, with an optional message above it.
fn form(status: StatusCode, message: Option<&str>) -> HttpResponse {
    page(status, "Sign in", None, |h| {
        if let Some(m) = message {
            h.el("p", &[("class", Some("error")), ("role", Some("alert"))], m);
        }
        h.el(
            "p",
            &[],
            "Sign in with an API token (viewer, operator or admin): `platform-catalog token create`.",
        );
        h.open("form", &[("method", Some("post")), ("action", Some("/ui/login"))]);
        h.el("label", &[("for", Some("token"))], "API token");
        h.open(
            "input",
            &[
                ("id", Some("token")),
                ("name", Some("token")),
                ("type", Some("password")),
                ("autocomplete", Some("off")),
                ("required", Some("")),
            ],
        );
        h.el("button", &[("type", Some("submit"))], "Sign in").close("form");
    })
}

pub async fn get_login() -> HttpResponse {
    form(StatusCode::OK, None)
}

/// Checks the token as the API would and starts a session for it. Cluster tokens are refused:
/// they read only their own cluster's render.
pub async fn post_login(
    state: Shared,
    sessions: web::Data<Sessions>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    let token: String = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    if token.is_empty() {
        return Ok(form(StatusCode::UNPROCESSABLE_ENTITY, Some("Enter an API token.")));
    }
    let presented = token.clone();
    let found = blocking(move || tokens::authenticate(&state, &presented)).await?;
    match found {
        None => Ok(form(
            StatusCode::UNAUTHORIZED,
            Some("That token is unknown, expired or revoked."),
        )),
        Some(p) if p.role == Role::Cluster => Ok(form(
            StatusCode::FORBIDDEN,
            Some("A cluster token cannot sign in to the console."),
        )),
        Some(_) => {
            let (id, _) = sessions.start(token)?;
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/ui/"))
                .insert_header((header::SET_COOKIE, session::set_cookie(&req, &id)))
                .finish())
        }
    }
}

pub async fn post_logout(sessions: web::Data<Sessions>, req: HttpRequest, _form: CsrfForm) -> HttpResponse {
    sessions.end(&Viewer::of(&req).session.id);
    let mut res = redirect("/ui/login");
    if let Ok(v) = header::HeaderValue::from_str(&session::set_cookie(&req, "")) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}
