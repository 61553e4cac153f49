//! Environment-prefixed tag schemes (`production-v1.2.3-a1b2c3d-1738861000`), ordered through
//! a pattern's named groups like Flux's `filterTags.extract`.

use std::cmp::Ordering;

use regex::Regex;

use super::{is_digits, reason_text, OciTag, Version};
use crate::error::Error;

/// A tag scheme with named groups, like Flux's `filterTags`: `(?P<version>…)` orders by the
/// version rules, `(?P<ts>…)` numerically; tags that do not match are left out.
#[derive(Clone, Debug)]
pub struct TagPattern {
    regex: Regex,
    has_version: bool,
    has_ts: bool,
}

/// A tag that matched a [`TagPattern`], with its extracted sort keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternedTag {
    version: Option<Version>,
    /// Digits with leading zeros stripped, so comparing length then text is numeric order.
    ts: Option<String>,
    tag: OciTag,
}

impl TagPattern {
    pub fn new(pattern: &str) -> Result<Self, Error> {
        let invalid = |reason: String| Error::InvalidPattern {
            pattern: pattern.to_owned(),
            reason,
        };
        let regex = Regex::new(pattern).map_err(|e| invalid(crate::policy::regex_reason(&e)))?;
        let has = |name: &str| regex.capture_names().flatten().any(|n| n == name);
        let (has_version, has_ts) = (has("version"), has("ts"));
        if !has_version && !has_ts {
            return Err(invalid(
                "it needs a named group (?P<version>…) and/or (?P<ts>…) to order tags by".into(),
            ));
        }
        Ok(TagPattern {
            regex,
            has_version,
            has_ts,
        })
    }

    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }

    /// `None` when the tag does not match (left out); an error when it matches but a group does
    /// not hold a version or a number.
    pub fn extract(&self, tag: &OciTag) -> Option<Result<PatternedTag, Error>> {
        let caps = self.regex.captures(tag.as_str())?;
        let group = |name: &str| caps.name(name).map(|m| m.as_str());
        let result = (|| {
            let version = match (self.has_version, group("version")) {
                (false, _) => None,
                (true, Some(text)) => Some(Version::parse_str(text).map_err(|why| Error::UnorderableTag {
                    tag: tag.as_str().to_owned(),
                    reason: format!("its version group {text:?} is not orderable: {}", reason_text(&why)),
                })?),
                (true, None) => return Err(missing_group(tag, "version")),
            };
            let ts = match (self.has_ts, group("ts")) {
                (false, _) => None,
                (true, Some(text)) if is_digits(text) => Some(text.trim_start_matches('0').to_owned()),
                (true, Some(text)) => {
                    return Err(Error::UnorderableTag {
                        tag: tag.as_str().to_owned(),
                        reason: format!("its ts group {text:?} is not a number"),
                    })
                }
                (true, None) => return Err(missing_group(tag, "ts")),
            };
            Ok(PatternedTag {
                version,
                ts,
                tag: tag.clone(),
            })
        })();
        Some(result)
    }
}

fn missing_group(tag: &OciTag, group: &str) -> Error {
    Error::UnorderableTag {
        tag: tag.as_str().to_owned(),
        reason: format!("the pattern matched but its {group} group took no part in the match"),
    }
}

impl PatternedTag {
    pub fn tag(&self) -> &OciTag {
        &self.tag
    }
}

impl Ord for PatternedTag {
    fn cmp(&self, other: &Self) -> Ordering {
        self.version
            .cmp(&other.version)
            .then_with(|| cmp_numeric(self.ts.as_deref(), other.ts.as_deref()))
            .then_with(|| self.tag.raw.cmp(&other.tag.raw))
    }
}

impl PartialOrd for PatternedTag {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn cmp_numeric(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
        (a, b) => a.is_some().cmp(&b.is_some()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::sort_tags;
    use super::*;

    #[test]
    fn patterns_order_by_version_then_timestamp_and_leave_out_the_rest() {
        let p = TagPattern::new(r"^production-(?P<version>v[0-9.]+)-[a-f0-9]+-(?P<ts>[0-9]+)$").unwrap();
        let out = sort_tags(
            [
                "production-v1.2.3-a1b2c3d-1738861000",
                "production-v1.2.3-ffffff0-999",
                "staging-v9.9.9-a1b2c3d-1",
                "production-v1.10.0-a1b2c3d-5",
            ],
            Some(&p),
        );
        let got = out.sorted;
        assert_eq!(
            got,
            [
                "production-v1.2.3-ffffff0-999",
                "production-v1.2.3-a1b2c3d-1738861000",
                "production-v1.10.0-a1b2c3d-5"
            ]
        );
        assert_eq!(out.unmatched, ["staging-v9.9.9-a1b2c3d-1"]);
    }

    #[test]
    fn a_pattern_without_named_groups_is_refused() {
        let err = TagPattern::new("^v.*$").unwrap_err();
        assert!(err.to_string().contains("(?P<version>…)"), "{err}");
    }
}
