//! The one place errors become HTTP: `application/problem+json` (RFC 9457) with `errors[]`.
//! 4xx for the caller's fault; 5xx only for ours, with the cause logged and not shown.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{Error, Field, FieldError};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// One entry per field that broke a rule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// On a 5xx: the request's id, which the service's log names beside the cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// JSONPath into the request body (`$.oci_tag`), or the parameter's name.
    pub path: String,
    pub message: String,
}

impl From<&FieldError> for ProblemField {
    fn from(e: &FieldError) -> Self {
        ProblemField {
            path: e.path.clone(),
            message: e.message.clone(),
        }
    }
}

/// Where a field of a command is in the request body, as JSONPath: a command's fields are
/// named as the request's, so `components[2]` is `$.components[2]`.
pub fn json_path(field: &Field) -> String {
    if field.is_whole() {
        "$".to_owned()
    } else {
        format!("$.{field}")
    }
}

impl Error {
    fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) | Error::Usage(_) => StatusCode::BAD_REQUEST,
            Error::Validation { .. }
            | Error::Refused { .. }
            | Error::RefusedFields { .. }
            | Error::InvalidCatalog(_)
            | Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Catalog(e) => match e {
                catalog::Error::Unknown { .. } => StatusCode::NOT_FOUND,
                catalog::Error::DigestUnresolved { .. } => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            },
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Read { .. } => StatusCode::BAD_REQUEST,
            Error::Pool(_) | Error::Connect(..) | Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Migration(_) | Error::Database(_) | Error::RolledBack | Error::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            // Only the CLI's client meets another service's answer; the service never does.
            Error::Remote { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            Error::BadRequest(_) | Error::Usage(_) | Error::Read { .. } => "malformed-request",
            Error::Validation { .. } | Error::Refused { .. } | Error::RefusedFields { .. } | Error::Invalid(_) => {
                "invalid-request"
            }
            Error::InvalidCatalog(_) => "invalid-catalog",
            Error::Catalog(catalog::Error::PolicyRefused { .. }) => "tag-policy",
            Error::Catalog(catalog::Error::ChangeClosed { .. }) => "change-window",
            Error::Catalog(catalog::Error::DigestUnresolved { .. }) => "digest-unresolved",
            Error::Catalog(catalog::Error::Unknown { .. }) | Error::NotFound { .. } => "not-found",
            Error::Catalog(_) => "invalid-value",
            Error::Conflict(_) => "conflict",
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::PreconditionFailed(_) => "precondition-failed",
            Error::MethodNotAllowed(_) => "method-not-allowed",
            Error::PayloadTooLarge { .. } => "payload-too-large",
            Error::Pool(_) | Error::Connect(..) => "unavailable",
            Error::Unavailable(_) => "registry-unavailable",
            Error::Migration(_)
            | Error::Database(_)
            | Error::RolledBack
            | Error::Internal(_)
            | Error::Remote { .. } => "internal",
        }
    }

    fn fields(&self) -> Vec<ProblemField> {
        match self {
            Error::Validation { errors, .. } => errors.iter().map(ProblemField::from).collect(),
            Error::Refused { field, message } => vec![ProblemField {
                path: json_path(field),
                message: message.clone(),
            }],
            Error::RefusedFields { refusals, .. } => refusals
                .iter()
                .map(|(field, message)| ProblemField {
                    path: json_path(field),
                    message: message.clone(),
                })
                .collect(),
            Error::InvalidCatalog(report) => report
                .errors()
                .map(|d| ProblemField {
                    path: d.path.clone(),
                    message: format!("{} [{}]", d.message, d.rule),
                })
                .collect(),
            Error::Catalog(catalog::Error::PolicyRefused { rule, detail, .. }) => {
                vec![ProblemField {
                    path: "$.oci_tag".into(),
                    message: format!("{detail} [{rule}]"),
                }]
            }
            _ => Vec::new(),
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        // A registry being down is not our fault and not a secret: say which one.
        let detail = if status.is_server_error() && !matches!(self, Error::Unavailable(_)) {
            "the service failed to handle this request; the cause is in its log".to_owned()
        } else {
            match self {
                Error::InvalidCatalog(report) => {
                    format!(
                        "the change would make the catalog invalid ({} error(s))",
                        report.errors().count()
                    )
                }
                Error::Refused { field, message } => format!("{}: {message}", json_path(field)),
                Error::RefusedFields { summary, .. } => summary.clone(),
                other => other.to_string(),
            }
        };
        Problem {
            kind: format!("urn:platform-catalog:problem:{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors: self.fields(),
            request_id: None,
        }
    }
}

/// Sets `X-Request-Id` on every response, and puts the id in the problem document of a 5xx
/// this crate's error made, so the caller can quote it and an operator find the cause.
pub fn with_request_id<B>(
    mut res: actix_web::dev::ServiceResponse<B>,
    id: &super::extract::RequestId,
) -> actix_web::dev::ServiceResponse<actix_web::body::EitherBody<B>> {
    use actix_web::http::header::HeaderValue;
    if let Ok(value) = HeaderValue::from_str(&id.0) {
        res.headers_mut().insert(super::extract::REQUEST_ID, value);
    }
    let server_error = res.status().is_server_error();
    let problem = res
        .response()
        .error()
        .and_then(|e| e.as_error::<Error>())
        .filter(|_| server_error)
        .map(|e| {
            tracing::error!(request_id = %id.0, error = %e, "request failed");
            Problem {
                request_id: Some(id.0.clone()),
                ..e.problem()
            }
        });
    match problem {
        None => res.map_into_left_body(),
        Some(problem) => res.map_body(|head, _| {
            head.headers.insert(
                actix_web::http::header::CONTENT_TYPE,
                actix_web::http::header::HeaderValue::from_static(PROBLEM_JSON),
            );
            actix_web::body::EitherBody::right(actix_web::body::BoxBody::new(
                serde_json::to_vec(&problem).unwrap_or_default(),
            ))
        }),
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status();
        let mut response = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750: tell the client which scheme to authenticate with.
            response.insert_header((
                actix_web::http::header::WWW_AUTHENTICATE,
                "Bearer realm=\"platform-catalog\"",
            ));
        }
        response.content_type(PROBLEM_JSON).json(self.problem())
    }
}
