//! Request extractors whose refusals name the field: JSON bodies, write parameters, the caller.

use std::future::Future;

use futures_core::Stream as _;
use std::pin::Pin;
use std::sync::atomic::Ordering;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{Error, FieldError};
use crate::service::tokens::Principal;
use crate::service::{Caller, Expected};

/// The largest JSON body accepted by default (`--max-body-bytes`).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The body limit in force, as app data, so refusals can name it.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// How deeply a JSON body may nest arrays and objects; deeper bodies are refused before
/// deserializing, so no request can make the parser recurse without bound.
pub const MAX_JSON_DEPTH: usize = 32;

/// The smallest body limit of the event routes: notification-controller sends events up to
/// 3 MiB and takes any 4xx but 429 as final, so a smaller limit would lose events.
pub const EVENT_BODY_LIMIT: usize = 3 * 1024 * 1024;

/// A Flux event's raw body (its HMAC is over these bytes), up to `--max-body-bytes` or
/// [`EVENT_BODY_LIMIT`], whichever is larger; over it, 413.
pub struct EventBody(pub web::Bytes);

impl FromRequest for EventBody {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<BodyLimit>()
            .map_or(BODY_LIMIT, |l| l.0)
            .max(EVENT_BODY_LIMIT);
        let mut stream = payload.take();
        Box::pin(async move {
            let mut body = web::BytesMut::new();
            while let Some(chunk) = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
                let chunk = chunk.map_err(|e| Error::BadRequest(format!("cannot read the request body: {e}")))?;
                if body.len().saturating_add(chunk.len()) > limit {
                    return Err(Error::PayloadTooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(EventBody(body.freeze()))
        })
    }
}

/// A JSON body. Malformed JSON is 400; a body of the wrong shape is 422 naming the field.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bytes = web::Bytes::from_request(req, payload);
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let limit = req.app_data::<BodyLimit>().map_or(BODY_LIMIT, |l| l.0);
        Box::pin(async move {
            if let Some(ct) = content_type {
                if !ct.starts_with("application/json") && !ct.starts_with("application/merge-patch+json") {
                    return Err(Error::BadRequest(format!(
                        "Content-Type must be application/json, not {ct}"
                    )));
                }
            }
            let bytes = bytes.await.map_err(|e| match e.as_error::<PayloadError>() {
                Some(PayloadError::Overflow) => Error::PayloadTooLarge { limit },
                _ => match e.as_response_error().status_code().as_u16() {
                    413 => Error::PayloadTooLarge { limit },
                    _ => Error::BadRequest(format!("cannot read the request body: {e}")),
                },
            })?;
            if !starts_an_object(&bytes) && is_json(&bytes) {
                return Err(Error::field(
                    "$",
                    "the body must be a JSON object ({...}) [body-object]; arrays, strings, numbers and null are refused",
                ));
            }
            parse_json(&bytes).map(Body)
        })
    }
}

/// Whether the body's first non-blank byte opens an object. Every body this API takes is one;
/// serde would otherwise read an array positionally into a struct's fields.
fn starts_an_object(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Whether the bytes are well-formed JSON of any shape (malformed JSON is a 400, not a 422).
fn is_json(bytes: &[u8]) -> bool {
    check_depth(bytes).is_ok() && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

/// Parses JSON with the path of the first field that does not fit.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    check_depth(bytes)?;
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| Error::BadRequest(format!("the body is not valid JSON: {e}")))?;
    integral_numbers_as_integers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = match e.path().to_string().as_str() {
            "." => "$".to_owned(),
            p => format!("$.{p}"),
        };
        let message = strip_position(&e.inner().to_string());
        Error::Validation {
            detail: format!("{path}: {message}"),
            errors: vec![FieldError { path, message }],
        }
    })
}

/// JSON has one number type: `3.0` is the integer 3 (JSON Schema's `integer` takes it too), so
/// a number without a fraction is read as an integer wherever one is expected. `3.5` stays a
/// float and is refused where an integer is expected.
fn integral_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            // i64::MAX as f64 rounds up to 2^63, so `<` keeps the conversion exact.
            let integral = n
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= i64::MIN as f64 && *f < i64::MAX as f64);
            if let Some(f) = integral {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(integral_numbers_as_integers),
        _ => {}
    }
}

/// Refuses JSON that nests deeper than [`MAX_JSON_DEPTH`], counting brackets outside strings.
fn check_depth(bytes: &[u8]) -> Result<(), Error> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(Error::BadRequest(format!(
                        "the body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels [max-json-depth]"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// serde_json appends "at line 1 column 42"; the path says where more usefully.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Parameters every write accepts.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WriteParams {
    /// Plan the change and show it, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Delete even what is still in use (components assigned to clusters).
    #[serde(default)]
    pub force: bool,
}

/// Query strings whose refusals name the parameter.
pub fn query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, Error> {
    parse_query(req.query_string())
}

fn parse_query<T: DeserializeOwned>(qs: &str) -> Result<T, Error> {
    let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(qs.as_bytes()));
    serde_path_to_error::deserialize(pairs).map_err(|e| {
        let message = e.inner().to_string();
        // Unknown and missing parameters name themselves in the message; others via the path.
        let path = match e.path().to_string().as_str() {
            "." => backticked(&message).unwrap_or("query").to_owned(),
            p => p.to_owned(),
        };
        Error::Validation {
            detail: format!("{path}: {message}"),
            errors: vec![FieldError { path, message }],
        }
    })
}

/// A refusal of a command built from the query string: its field is a parameter, and is named
/// as one (`cluster`, not `$.cluster`).
pub fn in_query(e: Error) -> Error {
    match e {
        Error::Refused { field, message } => Error::field(field.to_string(), message),
        other => other,
    }
}

/// The first `name` in a serde message like "unknown field `colour`, expected …".
fn backticked(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// The `If-Match` header, when given.
pub fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
}

/// The version a write expects its resource at: the one `If-Match` names, any without it.
pub fn expected(req: &HttpRequest) -> Expected {
    Expected::from_if_match(if_match(req).as_deref())
}

/// A request's id: the caller's `X-Request-Id` when it sends a usable one, else one made here.
/// It is in the audit entries the request writes, its log line, and every response's
/// `X-Request-Id` (and a 5xx problem document), so a failure can be found in the log.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The header carrying a request's id, named once rather than parsed on every request.
pub const REQUEST_ID: actix_web::http::header::HeaderName =
    actix_web::http::header::HeaderName::from_static("x-request-id");

/// Gives the request its id (see [`RequestId`]) before anything else runs.
pub fn assign_request_id(req: &actix_web::dev::ServiceRequest) -> RequestId {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let n = req
                .app_data::<web::Data<crate::service::AppState>>()
                .map_or(0, |state| state.requests.fetch_add(1, Ordering::Relaxed));
            format!("{:x}-{n}", chrono::Utc::now().timestamp_millis())
        });
    let id = RequestId(id);
    req.extensions_mut().insert(id.clone());
    id
}

/// Who made the request: the authenticated token's name (`anonymous` under `--auth none`), and
/// the request's id.
pub fn caller(req: &HttpRequest) -> Caller {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map_or_else(|| "unassigned".to_owned(), |id| id.0.clone());
    let (actor, role) = req
        .extensions()
        .get::<Principal>()
        .map_or_else(|| ("anonymous".to_owned(), None), |p| (p.name.clone(), Some(p.role)));
    Caller {
        actor,
        request_id,
        role,
        break_glass: None,
    }
}

/// The longest break-glass reason taken, as the document's `maxLength` says.
const BREAK_GLASS_REASON_MAX: usize = 500;

/// The caller of a write that may carry `break_glass`: admins only (403 for any other role,
/// naming it), with a reason. Every handler of a write that changes what clusters run takes
/// its caller through here, so break-glass is refused and recorded the same way everywhere.
pub fn caller_breaking_glass(
    req: &HttpRequest,
    break_glass: Option<super::dto::BreakGlassInput>,
) -> Result<Caller, Error> {
    let mut who = caller(req);
    let Some(input) = break_glass else {
        return Ok(who);
    };
    if who.role != Some(crate::service::tokens::Role::Admin) {
        let role = who.role.map_or("no".to_owned(), |r| format!("the {}", r.as_str()));
        return Err(Error::Forbidden(format!(
            "break_glass needs the admin role; {} has {role} role",
            who.actor
        )));
    }
    let reason = input.reason.trim();
    let refusal = if reason.is_empty() {
        Some("must say why the rules are skipped")
    } else if input.reason.chars().count() > BREAK_GLASS_REASON_MAX {
        Some("must be at most 500 characters")
    } else {
        None
    };
    if let Some(message) = refusal {
        let path = "$.break_glass.reason".to_owned();
        let message = message.to_owned();
        return Err(Error::Validation {
            detail: format!("{path}: {message}"),
            errors: vec![FieldError { path, message }],
        });
    }
    who.break_glass = Some(reason.to_owned());
    Ok(who)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Q {
        limit: Option<u32>,
        #[serde(default)]
        dry_run: bool,
    }

    fn path_of(qs: &str) -> String {
        match parse_query::<Q>(qs) {
            Err(Error::Validation { errors, .. }) => errors[0].path.clone(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn query_refusals_name_the_parameter() {
        assert_eq!(path_of("limit=ten"), "limit");
        assert_eq!(path_of("dry_run=maybe"), "dry_run");
        assert_eq!(path_of("colour=red"), "colour");
        assert!(parse_query::<Q>("limit=5&dry_run=true").is_ok());
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Rollback {
        revision: i64,
    }

    #[test]
    fn a_number_without_a_fraction_is_an_integer_and_one_with_a_fraction_is_refused_by_path() {
        assert_eq!(
            parse_json::<Rollback>(br#"{"revision": 3.0}"#).map(|r| r.revision).ok(),
            Some(3)
        );
        assert_eq!(
            parse_json::<Rollback>(br#"{"revision": 3e0}"#).map(|r| r.revision).ok(),
            Some(3)
        );
        match parse_json::<Rollback>(br#"{"revision": 3.5}"#) {
            Err(Error::Validation { errors, .. }) => {
                assert_eq!(errors[0].path, "$.revision");
                assert_eq!(errors[0].message, "invalid type: floating point `3.5`, expected i64");
            }
            other => panic!("expected a refusal naming $.revision, got {other:?}"),
        }
        assert!(matches!(
            parse_json::<Rollback>(br#"{"revision": 3} x"#),
            Err(Error::BadRequest(_))
        ));
    }

    #[test]
    fn bodies_nested_too_deeply_are_refused_before_parsing() {
        let deep = format!("{}{}", "[".repeat(MAX_JSON_DEPTH + 1), "]".repeat(MAX_JSON_DEPTH + 1));
        match parse_json::<serde_json::Value>(deep.as_bytes()) {
            Err(Error::BadRequest(m)) => assert!(m.contains("max-json-depth"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        let fine = format!("{}{}", "[".repeat(MAX_JSON_DEPTH), "]".repeat(MAX_JSON_DEPTH));
        assert!(parse_json::<serde_json::Value>(fine.as_bytes()).is_ok());
        assert!(parse_json::<serde_json::Value>(br#"{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"["}"#).is_ok());
    }
}
