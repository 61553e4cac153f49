//! Versions of what a write changes, and the version a caller expects it to be at.
//!
//! A resource's version is a hash of its view as the API shows it (its ETag, quoted). A write
//! that names the version it read (`If-Match`) is refused with 412 when the resource has
//! moved on since, so two people cannot overwrite each other's changes unknowingly.

use serde::Serialize;

use crate::error::Error;

/// The version of a resource: a hash of `view` as serialized, quoted like an ETag.
pub fn version_of(view: &impl Serialize) -> String {
    let json = serde_json::to_vec(view).unwrap_or_default();
    format!("\"{}\"", &crate::store::effective::sha256_hex(&json)[..32])
}

/// Which version of a resource a write expects to find.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Expected {
    /// Whatever is there (no `If-Match`, or `If-Match: *`).
    #[default]
    Any,
    /// One of these versions, as the caller sent them (`"a1…"`, or a list `"a1…", W/"b2…"`).
    Version(String),
}

impl Expected {
    /// The expectation an `If-Match` value states; `*` is any version.
    pub fn from_if_match(value: Option<&str>) -> Expected {
        match value.map(str::trim) {
            None | Some("*") => Expected::Any,
            Some(tags) => Expected::Version(tags.to_owned()),
        }
    }

    /// Refuses the write when the resource is at another version than expected.
    pub fn check(&self, current: &str) -> Result<(), Error> {
        match self {
            Expected::Any => Ok(()),
            Expected::Version(tags) if tags.split(',').any(|t| t.trim().trim_start_matches("W/") == current) => Ok(()),
            Expected::Version(tags) => Err(Error::PreconditionFailed(format!(
                "If-Match {tags} does not match the current version {current}; read it again and retry"
            ))),
        }
    }

    /// Like [`check`](Self::check) for a resource that may not exist yet: `what` names it when
    /// a version was expected and there is none.
    pub fn check_optional(&self, current: Option<&str>, what: &str) -> Result<(), Error> {
        match (current, self) {
            (Some(current), _) => self.check(current),
            (None, Expected::Any) => Ok(()),
            (None, Expected::Version(e)) => Err(Error::PreconditionFailed(format!(
                "If-Match {e}: the {what} does not exist"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_version_is_expected_without_if_match_or_with_a_star() {
        assert_eq!(Expected::from_if_match(None), Expected::Any);
        assert_eq!(Expected::from_if_match(Some(" * ")), Expected::Any);
        assert!(Expected::Any.check("\"a\"").is_ok());
        assert!(Expected::Any.check_optional(None, "assignment").is_ok());
    }

    #[test]
    fn a_list_of_versions_admits_any_of_them_weak_or_strong() {
        let expected = Expected::from_if_match(Some("\"a\", W/\"b\""));
        assert!(expected.check("\"a\"").is_ok());
        assert!(expected.check("\"b\"").is_ok());
        match expected.check("\"c\"") {
            Err(Error::PreconditionFailed(m)) => assert_eq!(
                m,
                "If-Match \"a\", W/\"b\" does not match the current version \"c\"; read it again and retry"
            ),
            other => panic!("expected a 412, got {other:?}"),
        }
    }

    #[test]
    fn a_version_of_what_does_not_exist_is_refused_naming_it() {
        match Expected::Version("\"a\"".into()).check_optional(None, "assignment") {
            Err(Error::PreconditionFailed(m)) => assert_eq!(m, "If-Match \"a\": the assignment does not exist"),
            other => panic!("expected a 412, got {other:?}"),
        }
    }
}
