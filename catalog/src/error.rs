//! The crate's one error type: every refusal names the value, the field or tier, and the rule.

use crate::diagnostics::Report;
use crate::policy::PolicyRule;

/// Why a value was refused. Callers map these to exit codes or HTTP statuses in one place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not a valid OCI tag at all (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`).
    #[error("invalid tag {tag:?}: {reason}")]
    InvalidTag { tag: String, reason: String },

    /// A valid OCI tag that is not a version (`latest`, `main`, `sha-abc`): it cannot be ordered.
    #[error("tag {tag:?} is not orderable: {reason}")]
    UnorderableTag { tag: String, reason: String },

    /// A tag pattern that does not compile or lacks the `version`/`ts` groups.
    #[error("invalid tag pattern {pattern:?}: {reason}")]
    InvalidPattern { pattern: String, reason: String },

    /// A tier's policy refuses a tag.
    #[error("tier {tier} refuses tag {tag:?} (rule {rule}): {detail}")]
    PolicyRefused {
        rule: PolicyRule,
        tier: String,
        tag: String,
        detail: String,
    },

    /// A tier is closed for changes now: outside its change windows, or frozen.
    #[error("{tier}: {detail}")]
    ChangeClosed {
        tier: String,
        detail: String,
        next_opening: Option<chrono::DateTime<chrono::Utc>>,
    },

    /// A tier pins digests but no digest is known for the tag.
    #[error("tier {tier} pins digests, but no digest is known for tag {tag:?} of component {component}")]
    DigestUnresolved {
        tier: String,
        component: String,
        tag: String,
    },

    /// A malformed identifier, path, duration, URL or digest.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidValue {
        field: &'static str,
        value: String,
        reason: String,
    },

    /// A name that does not exist in the catalog (tier, component, artifact).
    #[error("unknown {kind} {name:?}{known}", known = known_list(.known))]
    Unknown {
        kind: &'static str,
        name: String,
        known: Vec<String>,
    },

    /// The rendered inputs document would exceed what Flux Operator accepts.
    #[error("the inputs document is {size} bytes, over the {limit}-byte limit of Flux Operator's ExternalService")]
    InputsTooLarge { size: usize, limit: usize },

    /// A catalog file with validation errors; the report lists every one.
    #[error("{0}")]
    InvalidCatalog(Report),
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!(" (known: {})", known.join(", "))
    }
}

impl Error {
    pub(crate) fn invalid(field: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Error::InvalidValue {
            field,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}
