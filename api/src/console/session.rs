//! Console sessions: a random id in an `HttpOnly`, `SameSite=Strict` cookie names a session
//! kept in this process's memory, which holds the API token it signed in with and its CSRF
//! token. Every request re-verifies the token (as a bearer token is), so a revoked or expired
//! token ends its sessions within a second; the token itself never reaches the browser's
//! cookie jar.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::dev::ServiceRequest;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::error::Error;
use crate::service::tokens::constant_time_eq;

/// The session cookie's name.
pub const COOKIE: &str = "pc_session";
/// How long a session lasts after sign-in, whatever the token's own expiry (which also ends it).
pub const LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// Sessions kept at most; beyond it expired ones are dropped, then the oldest.
const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Clone)]
pub struct Session {
    /// The API token signed in with, verified again on each request.
    pub token: String,
    /// The per-session CSRF token every form carries.
    pub csrf: String,
    pub expires: Instant,
}

/// The session a console request runs in: its id and CSRF token (set by the access guard).
#[derive(Clone, Debug)]
pub struct Current {
    pub id: String,
    pub csrf: String,
}

/// The sessions of this process. A restart signs everyone out, which is the safe default.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes as hex.
pub fn random_id() -> Result<String, Error> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).map_err(|e| Error::Internal(format!("no randomness for a session: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

impl Sessions {
    /// Starts a session for `token`; returns its id.
    pub fn start(&self, token: String) -> Result<(String, Session), Error> {
        let id = random_id()?;
        let session = Session {
            token,
            csrf: random_id()?,
            expires: Instant::now() + LIFETIME,
        };
        let mut map = self
            .map
            .lock()
            .map_err(|_| Error::Internal("the session store is poisoned".into()))?;
        if map.len() >= MAX_SESSIONS {
            let now = Instant::now();
            map.retain(|_, s| s.expires > now);
            if map.len() >= MAX_SESSIONS {
                let oldest = map.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    map.remove(&k);
                }
            }
        }
        map.insert(id.clone(), session.clone());
        Ok((id, session))
    }

    /// The live session with this id; an expired one is removed.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.map.lock().ok()?;
        let session = map.get(id)?.clone();
        if session.expires <= Instant::now() {
            map.remove(id);
            return None;
        }
        Some(session)
    }

    pub fn end(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }
}

/// The session id a request's cookie carries.
pub fn cookie_id(req: &ServiceRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_owned())
}

/// Whether the request reached us over TLS, directly or through a proxy that says so.
fn over_tls(req: &HttpRequest) -> bool {
    let forwarded = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    forwarded || req.connection_info().scheme() == "https"
}

/// The `Set-Cookie` value that carries a new session (or, with `id` empty, removes it). The id
/// is hex, so it needs no quoting.
pub fn set_cookie(req: &HttpRequest, id: &str) -> String {
    let max_age = match id.is_empty() {
        true => 0,
        false => LIFETIME.as_secs(),
    };
    let secure = match over_tls(req) {
        true => "; Secure",
        false => "",
    };
    format!("{COOKIE}={id}; Path=/ui; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// A console form, read only once its `csrf` field matches the session's CSRF token: every
/// console handler that takes a form takes it through this, so no write skips the check.
pub struct CsrfForm(pub Vec<(String, String)>);

impl CsrfForm {
    /// The first value of a field, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.trim())
    }

    /// Whether a checkbox-like field says yes.
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), "true" | "on" | "1")
    }
}

/// Compares the form's CSRF field with the session's.
fn check(req: &HttpRequest, fields: &[(String, String)]) -> Result<(), Error> {
    let current = req.extensions().get::<Current>().cloned();
    let sent = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
    match (current, sent) {
        (Some(c), Some(s)) if constant_time_eq(c.csrf.as_bytes(), s.as_bytes()) => Ok(()),
        (_, None) => Err(Error::Forbidden("the form carries no CSRF token (field `csrf`)".into())),
        _ => Err(Error::Forbidden(
            "the form's CSRF token (field `csrf`) is not this session's".into(),
        )),
    }
}

impl FromRequest for CsrfForm {
    type Error = super::Refusal;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<CsrfForm, super::Refusal>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let body = actix_web::web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let is_form = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            if !is_form {
                return Err(Error::BadRequest("a console form is application/x-www-form-urlencoded".into()).into());
            }
            let body = body
                .await
                .map_err(|e| Error::BadRequest(format!("the form body cannot be read: {e}")))?;
            let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
            check(&req, &fields)?;
            Ok(CsrfForm(fields))
        })
    }
}
