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

/// Which field of a command a refusal is about, in the command's own terms: its field names
/// (which are the request's), list positions and map keys, e.g. `components[2]` or
/// `labels["team"]`. The service names fields this way; the HTTP layer shows them as JSONPath
/// into the request body (`$.components[2]`), the CLI as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field(Vec<Step>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Name(std::borrow::Cow<'static, str>),
    Index(usize),
    Key(String),
}

impl Field {
    /// The command as a whole (a refusal of no one field).
    pub fn whole() -> Field {
        Field(Vec::new())
    }

    /// A field of the command.
    pub fn new(name: &'static str) -> Field {
        Field(vec![Step::Name(name.into())])
    }

    /// A field inside this one.
    pub fn field(mut self, name: &'static str) -> Field {
        self.0.push(Step::Name(name.into()));
        self
    }

    /// A field inside this one whose name is data (a map keyed by ids, shown as `.id`).
    pub fn named(mut self, name: impl Into<String>) -> Field {
        self.0.push(Step::Name(name.into().into()));
        self
    }

    /// An entry of this list.
    pub fn index(mut self, i: usize) -> Field {
        self.0.push(Step::Index(i));
        self
    }

    /// An entry of this map, shown as `["key"]`.
    pub fn key(mut self, key: &str) -> Field {
        self.0.push(Step::Key(key.to_owned()));
        self
    }

    /// This field as part of `outer` (an entry of a document that holds many commands).
    pub fn within(self, outer: Field) -> Field {
        Field(outer.0.into_iter().chain(self.0).collect())
    }

    pub fn is_whole(&self) -> bool {
        self.0.is_empty()
    }

    /// A value parsed for this field, or the parser's refusal naming it.
    pub fn parsed<T, E: std::fmt::Display>(&self, r: Result<T, E>) -> Result<T, Error> {
        r.map_err(|e| Error::refused(self.clone(), e.to_string()))
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Name(n) if i == 0 => write!(f, "{n}")?,
                Step::Name(n) => write!(f, ".{n}")?,
                Step::Index(n) => write!(f, "[{n}]")?,
                Step::Key(k) => write!(f, "[{k:?}]")?,
            }
        }
        Ok(())
    }
}

impl From<&'static str> for Field {
    fn from(name: &'static str) -> Field {
        Field::new(name)
    }
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

    /// The service refused the value of one field of a command (unknown tier, a tag the policy
    /// refuses to compare with, …); the field is named in the command's terms (see [`Field`]).
    #[error("{field}: {message}")]
    Refused { field: Field, message: String },

    /// The service refused several fields of a command at once (a change that breaks catalog
    /// rules in more than one place): each field with why; `summary` says how many.
    #[error("{}", refusals_message(summary, refusals))]
    RefusedFields {
        summary: String,
        refusals: Vec<(Field, String)>,
    },

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
            | Error::Refused { .. }
            | Error::RefusedFields { .. }
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

    /// The service's refusal of one field of a command.
    pub fn refused(field: impl Into<Field>, message: impl Into<String>) -> Error {
        Error::Refused {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The service's refusal of the fields of a command: one refusal names its field, several
    /// are summarised by `summary`.
    pub fn refused_fields(summary: impl Into<String>, mut refusals: Vec<(Field, String)>) -> Error {
        match refusals.len() {
            1 => {
                let (field, message) = refusals.remove(0);
                Error::Refused { field, message }
            }
            _ => Error::RefusedFields {
                summary: summary.into(),
                refusals,
            },
        }
    }

    /// A validation error about one field, at a place in the request (`$.oci_tag`, `limit`).
    pub fn field(path: impl Into<String>, message: impl Into<String>) -> Error {
        let (path, message) = (path.into(), message.into());
        Error::Validation {
            detail: format!("{path}: {message}"),
            errors: vec![FieldError { path, message }],
        }
    }
}

/// The summary, then each refused field on a line of its own.
fn refusals_message(summary: &str, refusals: &[(Field, String)]) -> String {
    let mut out = summary.to_owned();
    for (field, message) in refusals {
        out.push_str(&format!("\n  {field}: {message}"));
    }
    out
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
