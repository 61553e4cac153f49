//! OCI tags and their hotfix-aware total order.
//!
//! Plain semver puts `v1.0.0-1` before `v1.0.0`; platform teams use all-numeric suffixes for
//! hotfix builds of a release, so here such a suffix sorts after its release and before the
//! next patch, while every other pre-release (`-rc1`, `-beta`) sorts before its release.

use std::cmp::Ordering;
use std::fmt;

use semver::Prerelease;

use crate::error::Error;

mod pattern;
mod sort;

pub use pattern::{PatternedTag, TagPattern};
pub use sort::{sort_tags, SortedTags};

const MAX_TAG_LEN: usize = 128;

/// Tags that name a moving target even though they look like ordinary words.
const DENY_LIST: &[&str] = &["latest", "stable", "main", "master", "edge", "nightly"];

/// A syntactically valid OCI tag, parsed once; knows whether (and as what) it orders.
#[derive(Clone, Debug)]
pub struct OciTag {
    raw: String,
    version: Result<Version, NotVersion>,
}

/// Why a valid tag is not a version. Kept so refusals can say exactly what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
enum NotVersion {
    /// A well-known moving name, or a major-only / major.minor tag (`v2`, `v2.1`).
    Floating,
    /// Not shaped like a version at all (`sha-abc123`).
    NotAVersion,
    /// Shaped like a version but breaking a rule (leading zero, bad suffix).
    Malformed(String),
}

const NOT_A_VERSION: &str = "it is not a version (v?MAJOR.MINOR.PATCH[-PRE]); moving tags never sort";

/// `v?MAJOR.MINOR.PATCH(-PRE)?`, ordered with hotfix awareness. Equality and order ignore the
/// `v` prefix: `v1.0.0` and `1.0.0` are the same version.
#[derive(Clone, Debug)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Suffix,
    v_prefix: bool,
}

/// Variant order is the sort order: pre-releases, then the release, then its hotfixes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Suffix {
    PreRelease(Prerelease),
    Release,
    /// The first number, then the rest: one-number hotfixes (the common case) need no heap.
    Hotfix(u64, Vec<u64>),
}

/// What kind of build a version tag names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagKind {
    Release,
    Hotfix,
    PreRelease,
}

impl OciTag {
    /// Parses an OCI tag; fails only when the string cannot be an OCI tag at all.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        check_oci_syntax(raw)?;
        Ok(OciTag {
            raw: raw.to_owned(),
            version: Version::parse_str(raw),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The version this tag names, when it is orderable.
    pub fn version(&self) -> Option<&Version> {
        self.version.as_ref().ok()
    }

    /// The version, or an error naming the tag and why it cannot be ordered.
    pub fn require_version(&self) -> Result<&Version, Error> {
        self.version.as_ref().map_err(|why| unorderable(&self.raw, why))
    }

    /// Mutable for policy purposes: not orderable, or a well-known moving name.
    pub fn is_mutable(&self) -> bool {
        self.version.is_err()
    }

    /// Why the tag is mutable, for refusals; `None` when it is an immutable version tag.
    pub fn mutable_reason(&self) -> Option<String> {
        match &self.version {
            Ok(_) => None,
            Err(NotVersion::Floating) => Some(format!("{:?} is a moving tag (deny list)", self.raw)),
            Err(why) => Some(format!("{:?} is not a version tag: {}", self.raw, reason_text(why))),
        }
    }

    pub fn is_prerelease(&self) -> bool {
        self.version().is_some_and(|v| v.kind() == TagKind::PreRelease)
    }

    /// Whether the tag carries the leading `v`; `None` when it is not a version.
    pub fn has_v_prefix(&self) -> Option<bool> {
        self.version().map(|v| v.v_prefix)
    }
}

impl PartialEq for OciTag {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}
impl Eq for OciTag {}

impl std::hash::Hash for OciTag {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}

impl fmt::Display for OciTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl std::str::FromStr for OciTag {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        OciTag::parse(s)
    }
}

fn check_oci_syntax(raw: &str) -> Result<(), Error> {
    let invalid = |reason: String| Error::InvalidTag {
        tag: raw.to_owned(),
        reason,
    };
    if raw.is_empty() {
        return Err(invalid("a tag cannot be empty".into()));
    }
    if raw.contains('+') {
        return Err(invalid(
            "OCI tags cannot hold '+' (semver build metadata); use '-N' for a hotfix build, e.g. v1.0.0-1".into(),
        ));
    }
    if raw.len() > MAX_TAG_LEN {
        return Err(invalid(format!("longer than {MAX_TAG_LEN} characters")));
    }
    let first_ok = raw.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
    if !first_ok {
        return Err(invalid("must start with a letter, a digit or '_'".into()));
    }
    if let Some(bad) = raw
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(invalid(format!(
            "character {bad:?} is not allowed (OCI tags match [A-Za-z0-9_][A-Za-z0-9._-]{{0,127}})"
        )));
    }
    Ok(())
}

fn reason_text(why: &NotVersion) -> String {
    match why {
        NotVersion::Floating | NotVersion::NotAVersion => NOT_A_VERSION.to_owned(),
        NotVersion::Malformed(why) => why.clone(),
    }
}

fn unorderable(tag: &str, why: &NotVersion) -> Error {
    Error::UnorderableTag {
        tag: tag.to_owned(),
        reason: reason_text(why),
    }
}

impl Version {
    /// Parses `v?MAJOR.MINOR.PATCH(-PRE)?`; the error says why the text is not orderable.
    pub fn parse(text: &str) -> Result<Version, Error> {
        Version::parse_str(text).map_err(|why| unorderable(text, &why))
    }

    fn parse_str(text: &str) -> Result<Version, NotVersion> {
        if DENY_LIST.contains(&text) {
            return Err(NotVersion::Floating);
        }
        let (v_prefix, body) = match text.strip_prefix('v') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (core, pre) = match body.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (body, None),
        };
        let mut parts = core.split('.');
        let (Some(major), Some(minor), Some(patch), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            let floating = pre.is_none() && core.split('.').count() <= 2 && core.split('.').all(is_digits);
            return Err(if floating {
                NotVersion::Floating
            } else {
                NotVersion::NotAVersion
            });
        };
        let version = Version {
            major: numeric_part(major, "major")?,
            minor: numeric_part(minor, "minor")?,
            patch: numeric_part(patch, "patch")?,
            pre: match pre {
                None => Suffix::Release,
                Some(pre) => parse_pre(pre)?,
            },
            v_prefix,
        };
        Ok(version)
    }

    pub fn kind(&self) -> TagKind {
        match self.pre {
            Suffix::PreRelease(_) => TagKind::PreRelease,
            Suffix::Release => TagKind::Release,
            Suffix::Hotfix(..) => TagKind::Hotfix,
        }
    }

    /// A compact key that agrees with `Ord` wherever it differs: `a.sort_key() < b.sort_key()`
    /// implies `a < b`. Equal keys need the full comparison. Sorting by it first keeps
    /// comparisons to integer compares for nearly all pairs.
    pub fn sort_key(&self) -> u128 {
        let class: u64 = match self.pre {
            Suffix::PreRelease(_) => 0,
            Suffix::Release => 1,
            Suffix::Hotfix(..) => 2,
        };
        let hotfix = match &self.pre {
            Suffix::Hotfix(first, _) => *first,
            _ => 0,
        };
        // Fields in order with their widths; the first that does not fit saturates and zeroes
        // the rest, so the key never contradicts the order.
        let fields = [
            (self.major, 24),
            (self.minor, 24),
            (self.patch, 24),
            (class, 2),
            (hotfix, 32),
        ];
        let mut key: u128 = 0;
        let mut saturated = false;
        for (value, bits) in fields {
            let max = (1u64 << bits) - 1;
            let v = if saturated {
                0
            } else if value > max {
                max
            } else {
                value
            };
            saturated |= value > max;
            key = (key << bits) | u128::from(v);
        }
        key
    }

    /// The release this version belongs to (`v1.0.0-2` → `1.0.0`), without prefix.
    pub fn base(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn numeric_part(s: &str, name: &str) -> Result<u64, NotVersion> {
    if !is_digits(s) {
        return Err(NotVersion::Malformed(format!("the {name} part {s:?} is not a number")));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(NotVersion::Malformed(format!(
            "the {name} part {s:?} has a leading zero"
        )));
    }
    s.parse()
        .map_err(|_| NotVersion::Malformed(format!("the {name} part {s:?} is too large")))
}

fn parse_pre(pre: &str) -> Result<Suffix, NotVersion> {
    if pre.split('.').all(is_digits) {
        let mut numbers = pre.split('.').map(|n| numeric_part(n, "hotfix"));
        let first = numbers.next().unwrap_or(Ok(0))?;
        let rest = numbers.collect::<Result<Vec<_>, _>>()?;
        return Ok(Suffix::Hotfix(first, rest));
    }
    Prerelease::new(pre)
        .map(Suffix::PreRelease)
        .map_err(|e| NotVersion::Malformed(format!("the suffix {pre:?} is not a valid pre-release: {e}")))
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| self.pre.cmp(&other.pre))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Version {}

impl std::hash::Hash for Version {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.major, self.minor, self.patch, &self.pre).hash(state);
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = if self.v_prefix { "v" } else { "" };
        write!(f, "{v}{}.{}.{}", self.major, self.minor, self.patch)?;
        match &self.pre {
            Suffix::Release => Ok(()),
            Suffix::PreRelease(p) => write!(f, "-{p}"),
            Suffix::Hotfix(first, rest) => {
                write!(f, "-{first}")?;
                rest.iter().try_for_each(|n| write!(f, ".{n}"))
            }
        }
    }
}

/// A tag known to be orderable; `Ord` is the catalog's total order over tags.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrderedTag(OciTag);

impl OrderedTag {
    pub fn version(&self) -> &Version {
        match &self.0.version {
            Ok(v) => v,
            // The constructor only admits tags whose version parsed.
            Err(_) => unreachable!("OrderedTag holds only version tags"),
        }
    }

    pub fn tag(&self) -> &OciTag {
        &self.0
    }

    pub fn into_tag(self) -> OciTag {
        self.0
    }
}

impl TryFrom<OciTag> for OrderedTag {
    type Error = Error;
    fn try_from(tag: OciTag) -> Result<Self, Error> {
        tag.require_version()?;
        Ok(OrderedTag(tag))
    }
}

impl Ord for OrderedTag {
    /// Version first; equal versions (`v1.0.0`, `1.0.0`) fall back to the tag text.
    fn cmp(&self, other: &Self) -> Ordering {
        self.version()
            .cmp(other.version())
            .then_with(|| self.0.raw.cmp(&other.0.raw))
    }
}

impl PartialOrd for OrderedTag {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for OrderedTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(tags: &[&str]) -> Vec<String> {
        let out = sort_tags(tags.iter().copied(), None);
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        out.sorted.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn hotfixes_sort_after_their_release_and_before_the_next_patch() {
        assert_eq!(
            sorted(&["v1.0.1", "v1.0.0-10", "v1.0.0-2", "v1.0.0", "v1.0.0-1", "v1.1.0"]),
            ["v1.0.0", "v1.0.0-1", "v1.0.0-2", "v1.0.0-10", "v1.0.1", "v1.1.0"]
        );
    }

    #[test]
    fn prereleases_sort_before_their_release_by_semver_precedence() {
        assert_eq!(
            sorted(&[
                "v1.1.0-1",
                "v1.1.0",
                "v1.1.0-rc1",
                "v1.1.0-beta",
                "v1.1.0-rc.2",
                "v1.0.9"
            ]),
            [
                "v1.0.9",
                "v1.1.0-beta",
                "v1.1.0-rc.2",
                "v1.1.0-rc1",
                "v1.1.0",
                "v1.1.0-1"
            ]
        );
    }

    #[test]
    fn dotted_hotfix_numbers_compare_field_by_field() {
        assert_eq!(
            sorted(&["v1.0.0-2.1", "v1.0.0-10", "v1.0.0-2"]),
            ["v1.0.0-2", "v1.0.0-2.1", "v1.0.0-10"]
        );
    }

    #[test]
    fn v_prefix_and_bare_versions_are_equal_and_tie_break_on_the_text() {
        let a = OciTag::parse("v1.0.0").unwrap();
        let b = OciTag::parse("1.0.0").unwrap();
        assert_eq!(a.version(), b.version());
        assert_eq!(sorted(&["v1.0.0", "1.0.0", "0.9.0"]), ["0.9.0", "1.0.0", "v1.0.0"]);
    }

    #[test]
    fn plus_is_refused_with_a_message_about_oci_tags() {
        let err = OciTag::parse("v1.0.0+build.5").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid tag \"v1.0.0+build.5\": OCI tags cannot hold '+' (semver build metadata); \
             use '-N' for a hotfix build, e.g. v1.0.0-1"
        );
    }

    #[test]
    fn mutable_tags_are_valid_but_not_orderable() {
        for raw in ["latest", "main", "sha-abc123", "stable", "v2", "v2.1"] {
            let tag = OciTag::parse(raw).unwrap();
            assert!(tag.is_mutable(), "{raw}");
            assert!(
                matches!(tag.require_version(), Err(Error::UnorderableTag { .. })),
                "{raw}"
            );
        }
        assert!(!OciTag::parse("v1.2.3-1").unwrap().is_mutable());
    }

    #[test]
    fn leading_zeros_make_a_tag_unorderable_with_the_reason() {
        let err = OciTag::parse("v1.02.0").unwrap().require_version().unwrap_err();
        assert_eq!(
            err.to_string(),
            "tag \"v1.02.0\" is not orderable: the minor part \"02\" has a leading zero"
        );
        let err = OciTag::parse("v1.0.0-01").unwrap().require_version().unwrap_err();
        assert!(err.to_string().contains("leading zero"), "{err}");
    }

    #[test]
    fn invalid_oci_characters_and_lengths_are_refused() {
        assert!(OciTag::parse("").is_err());
        assert!(OciTag::parse("-v1").is_err());
        assert!(OciTag::parse("v1/0").is_err());
        assert!(OciTag::parse(&"a".repeat(129)).is_err());
        assert!(OciTag::parse(&"a".repeat(128)).is_ok());
    }
}
