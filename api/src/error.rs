//! The crate's one error type. The CLI maps it to exit codes (1 invalid input or refused by
//! a rule, 2 usage or I/O, 3 our fault or the service's, 4 not found on the service); the API maps it to `application/problem+json` in `http::problem`.

use std::path::PathBuf;

use catalog::Report;

/// One problem with one field of a request, for problem+json `errors[]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// JSONPath-style location in the request body (`$.oci_tag`) or a parameter name.
    pub path: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asks for something that cannot be done as asked.
    #[error("{0}")]
    Usage(String),

    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },

    /// The input was checked and found invalid; the findings were already shown.
    #[error("{0}")]
    Invalid(String),

    /// A value the domain refused (tag, id, path, policy, …).
    #[error(transparent)]
    Catalog(#[from] catalog::Error),

    /// A catalog document with validation findings.
    #[error("the catalog is invalid:\n{0}")]
    InvalidCatalog(Report),

    /// A request body or parameter that is malformed or breaks a rule.
    #[error("{detail}")]
    Validation { detail: String, errors: Vec<FieldError> },

    /// A request body that is not JSON at all.
    #[error("{0}")]
    BadRequest(String),

    #[error("{kind} {name:?} does not exist")]
    NotFound { kind: &'static str, name: String },

    /// The request conflicts with stored state (exists already, still in use, tag moved, …).
    #[error("{0}")]
    Conflict(String),

    /// The request body is over the configured limit.
    #[error("the request body is over the {limit}-byte limit")]
    PayloadTooLarge { limit: usize },

    /// No valid bearer token: missing, malformed, unknown, expired or revoked.
    #[error("{0}")]
    Unauthorized(String),

    /// A valid token whose role may not do this.
    #[error("{0}")]
    Forbidden(String),

    /// The path exists, but not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),

    /// `If-Match` named a version that is no longer current.
    #[error("{0}")]
    PreconditionFailed(String),

    #[error("cannot connect to the database {0}: {1}")]
    Connect(String, String),

    #[error("database migration failed: {0}")]
    Migration(String),

    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),

    #[error("no database connection available: {0}")]
    Pool(String),

    /// An outside service (an OCI registry) cannot answer now; the message names it and is shown.
    #[error("{0}")]
    Unavailable(String),

    /// A dry run's deliberate rollback; never leaves the service layer.
    #[error("the dry run was rolled back")]
    RolledBack,

    /// The service the CLI spoke to refused or failed a request: its problem document, and
    /// what the CLI knows that the service did not say (which context and token it used).
    #[error("{}", remote_message(detail, errors, hint))]
    Remote {
        status: u16,
        detail: String,
        errors: Vec<FieldError>,
        hint: Option<String>,
    },

    /// Our fault; the message is for the log, not the caller.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Read { .. } | Error::Connect(..) | Error::MethodNotAllowed(_) => 2,
            Error::Catalog(catalog::Error::Unknown { .. } | catalog::Error::InvalidPattern { .. }) => 2,
            Error::Invalid(_)
            | Error::Catalog(_)
            | Error::InvalidCatalog(_)
            | Error::Validation { .. }
            | Error::BadRequest(_)
            | Error::NotFound { .. }
            | Error::Conflict(_)
            | Error::PreconditionFailed(_)
            | Error::PayloadTooLarge { .. }
            | Error::Unauthorized(_)
            | Error::Forbidden(_) => 1,
            Error::Migration(_)
            | Error::Database(_)
            | Error::Pool(_)
            | Error::Unavailable(_)
            | Error::RolledBack
            | Error::Internal(_) => 3,
            Error::Remote { status: 404, .. } => 4,
            Error::Remote { status, .. } if *status >= 500 => 3,
            Error::Remote { .. } => 1,
        }
    }

    /// A validation error about one field.
    pub fn field(path: impl Into<String>, message: impl Into<String>) -> Error {
        let (path, message) = (path.into(), message.into());
        Error::Validation {
            detail: format!("{path}: {message}"),
            errors: vec![FieldError { path, message }],
        }
    }
}

/// The detail, each field error on a line of its own, and the hint.
fn remote_message(detail: &str, errors: &[FieldError], hint: &Option<String>) -> String {
    let mut out = detail.to_owned();
    for e in errors {
        out.push_str(&format!("\n  {}: {}", e.path, e.message));
    }
    if let Some(h) = hint {
        out.push_str(&format!("\n{h}"));
    }
    out
}

impl From<diesel::r2d2::PoolError> for Error {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        Error::Pool(e.to_string())
    }
}
