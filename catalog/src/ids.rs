//! Identifier and value newtypes: built once from input, trusted everywhere after.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::error::Error;

const DNS_LABEL_MAX: usize = 63;

/// Checks an RFC 1123 label as Kubernetes uses it for names and namespaces.
fn check_dns_label(field: &'static str, value: &str) -> Result<(), Error> {
    let fail = |reason: &str| Err(Error::invalid(field, value, reason));
    if value.is_empty() {
        return fail("must not be empty");
    }
    if value.len() > DNS_LABEL_MAX {
        return fail("must be at most 63 characters (DNS-1123 label)");
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return fail("must consist of lower case letters, digits and '-' (DNS-1123 label)");
    }
    if value.starts_with('-') || value.ends_with('-') {
        return fail("must start and end with a letter or digit (DNS-1123 label)");
    }
    Ok(())
}

macro_rules! dns_label {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub const FIELD: &'static str = $field;

            pub fn parse(value: &str) -> Result<Self, Error> {
                check_dns_label($field, value)?;
                Ok(Self(value.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

dns_label!(
    /// A catalog component's id; also the name of its Flux objects.
    ComponentId,
    "component id"
);
dns_label!(
    /// A cluster's name.
    ClusterName,
    "cluster name"
);
dns_label!(
    /// An artifact's id in the catalog.
    ArtifactId,
    "artifact id"
);
dns_label!(
    /// A tier's name; also the name of the overlay directory.
    TierName,
    "tier name"
);
dns_label!(
    /// A Kubernetes namespace (the Flux namespace or a Kustomization's target).
    Namespace,
    "namespace"
);

/// A path inside the artifact: relative, normalised, no `..`, no leading `/`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentPath(String);

impl ComponentPath {
    pub const FIELD: &'static str = "component_path";

    pub fn parse(value: &str) -> Result<Self, Error> {
        let fail = |reason: &str| Err(Error::invalid(Self::FIELD, value, reason));
        if value.is_empty() {
            return fail("must not be empty");
        }
        if value.starts_with('/') {
            return fail("must be relative to the artifact root (no leading '/')");
        }
        if value.contains('\\') {
            return fail("must use '/' as the separator");
        }
        if value.len() > 512 {
            return fail("must be at most 512 characters");
        }
        for segment in value.split('/') {
            match segment {
                "" => return fail("must not hold empty segments ('//' or a trailing '/')"),
                "." | ".." => return fail("must not hold '.' or '..' segments"),
                s if !s
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) =>
                {
                    return fail("segments may hold only letters, digits, '.', '_' and '-'")
                }
                _ => {}
            }
        }
        Ok(ComponentPath(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The overlay a cluster of `tier` applies: `./<component_path>/<tier>`.
    pub fn overlay(&self, tier: &TierName) -> String {
        format!("./{}/{}", self.0, tier)
    }
}

impl fmt::Display for ComponentPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Flux duration such as `10m` or `1h30m` (`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FluxDuration(String);

impl FluxDuration {
    /// The longest duration accepted: ten years, as for every other duration the service takes.
    pub const MAX_SECONDS: f64 = 3650.0 * 86_400.0;

    pub fn parse(field: &'static str, value: &str) -> Result<Self, Error> {
        if !is_flux_duration(value) {
            return Err(Error::invalid(
                field,
                value,
                "must be a duration like 30s, 10m or 1h30m (units ms, s, m, h)",
            ));
        }
        let parsed = FluxDuration(value.to_owned());
        let seconds = parsed.seconds();
        if seconds.is_nan() || seconds > Self::MAX_SECONDS {
            return Err(Error::invalid(field, value, "must be at most 87600h (ten years)"));
        }
        Ok(parsed)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The length of time it names (`1h30m` is 5,400 s).
    pub fn to_duration(&self) -> std::time::Duration {
        // Bounded by `parse`; a value past what a Duration holds saturates instead of panicking.
        std::time::Duration::try_from_secs_f64(self.seconds()).unwrap_or(std::time::Duration::MAX)
    }

    /// Its length in seconds; too many digits read as infinity, which `parse` refuses.
    fn seconds(&self) -> f64 {
        let mut total = 0.0_f64;
        let mut number = String::new();
        let mut chars = self.0.chars().peekable();
        while let Some(c) = chars.next() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let unit = match (c, chars.peek()) {
                ('m', Some('s')) => {
                    chars.next();
                    0.001
                }
                ('s', _) => 1.0,
                ('m', _) => 60.0,
                _ => 3600.0,
            };
            total += number.parse::<f64>().unwrap_or(f64::INFINITY) * unit;
            number.clear();
        }
        total
    }
}

fn is_flux_duration(value: &str) -> bool {
    let mut rest = value.as_bytes();
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let int = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if int == 0 {
            return false;
        }
        rest = &rest[int..];
        if let Some(after_dot) = rest.strip_prefix(b".") {
            let frac = after_dot.iter().take_while(|b| b.is_ascii_digit()).count();
            if frac == 0 {
                return false;
            }
            rest = &after_dot[frac..];
        }
        rest = if let Some(r) = rest.strip_prefix(b"ms") {
            r
        } else if let Some(r) = rest
            .strip_prefix(b"s")
            .or(rest.strip_prefix(b"m"))
            .or(rest.strip_prefix(b"h"))
        {
            r
        } else {
            return false;
        };
    }
    true
}

impl fmt::Display for FluxDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a Kubernetes label: the key an optional DNS-subdomain prefix and `/`, then a name of
/// 1-63 characters; the value empty or such a name. Clusters' labels select them in rollouts,
/// holds and hotfixes, and end up on Kubernetes objects, so they follow the same syntax.
pub fn check_label(key: &str, value: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let ok = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix.split('.').all(|part| {
                !part.is_empty()
                    && part.len() <= 63
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            });
        if !ok {
            return Err(format!(
                "the key's prefix {prefix:?} must be a DNS subdomain (lowercase letters, digits, '-' and '.', \
                 at most 253 characters)"
            ));
        }
    }
    if name.is_empty() || !label_name_ok(name) {
        return Err(format!(
            "the key's name {name:?} must be 1-63 letters, digits, '-', '_' or '.', starting and ending \
             with a letter or digit (Kubernetes label syntax)"
        ));
    }
    if !value.is_empty() && !label_name_ok(value) {
        return Err(format!(
            "the value {value:?} must be empty or 1-63 letters, digits, '-', '_' or '.', starting and \
             ending with a letter or digit (Kubernetes label syntax)"
        ));
    }
    Ok(())
}

fn label_name_ok(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() <= 63
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// An OCI repository address, `oci://host[:port]/path`, as Flux's `OCIRepository.spec.url`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ArtifactUrl(String);

impl ArtifactUrl {
    pub const FIELD: &'static str = "url";

    pub fn parse(value: &str) -> Result<Self, Error> {
        let fail = |reason: &str| Err(Error::invalid(Self::FIELD, value, reason));
        let Some(rest) = value.strip_prefix("oci://") else {
            return fail("must start with oci://");
        };
        let Some((host, path)) = rest.split_once('/') else {
            return fail("must name a repository after the host (oci://HOST/PATH)");
        };
        let host_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
        if !host_ok {
            return fail("has an invalid registry host");
        }
        let path_ok = !path.is_empty()
            && path.split('/').all(|seg| {
                !seg.is_empty()
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
            });
        if !path_ok {
            return fail("the repository path must be lower case letters, digits, '.', '_', '-' and '/'");
        }
        if value.contains(['@']) || path.contains(':') {
            return fail("must not carry a tag or digest (the catalog chooses those)");
        }
        Ok(ArtifactUrl(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ArtifactUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A content digest, `sha256:<64 hex>` (or sha384/sha512).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(String);

impl Digest {
    pub const FIELD: &'static str = "digest";

    pub fn parse(value: &str) -> Result<Self, Error> {
        let valid = match value.split_once(':') {
            Some(("sha256", hex)) => is_lower_hex(hex, 64),
            Some(("sha384", hex)) => is_lower_hex(hex, 96),
            Some(("sha512", hex)) => is_lower_hex(hex, 128),
            _ => false,
        };
        if valid {
            Ok(Digest(value.to_owned()))
        } else {
            Err(Error::invalid(
                Self::FIELD,
                value,
                "must be sha256:<64 lower-case hex digits> (or sha384/sha512)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flux_duration_converts_every_unit() {
        let d = |s: &str| FluxDuration::parse("interval", s).unwrap().to_duration();
        assert_eq!(d("1h30m"), std::time::Duration::from_secs(5400));
        assert_eq!(d("90s"), std::time::Duration::from_secs(90));
        assert_eq!(d("1.5m"), std::time::Duration::from_secs(90));
        assert_eq!(d("250ms"), std::time::Duration::from_millis(250));
    }

    #[test]
    fn a_flux_duration_past_ten_years_is_refused_not_a_panic() {
        assert!(FluxDuration::parse("interval", "87600h").is_ok());
        let err = FluxDuration::parse("interval", "87601h").unwrap_err();
        assert!(err.to_string().contains("must be at most 87600h (ten years)"), "{err}");
        let huge = format!("{}h", "9".repeat(400));
        assert!(FluxDuration::parse("interval", &huge).is_err());
    }

    #[test]
    fn cluster_labels_follow_kubernetes_label_syntax() {
        assert_eq!(check_label("region", "eu-west-1"), Ok(()));
        assert_eq!(check_label("topology.kubernetes.io/zone", "a"), Ok(()));
        assert_eq!(check_label("team", ""), Ok(()));
        assert!(check_label("Bad Key!", "x").is_err());
        assert!(check_label("", "x").is_err());
        assert!(check_label("/name", "x").is_err());
        assert!(check_label("Example.com/name", "x").is_err());
        assert!(check_label("region", "-eu").is_err());
        assert!(check_label("region", &"a".repeat(64)).is_err());
        assert!(check_label(&"a".repeat(64), "x").is_err());
    }

    #[test]
    fn dns_labels_accept_kubernetes_names_and_refuse_the_rest() {
        assert!(ComponentId::parse("cert-manager").is_ok());
        assert!(ComponentId::parse("a1").is_ok());
        for bad in ["", "Cert", "-a", "a-", "a_b", "a.b", &"a".repeat(64)] {
            assert!(ComponentId::parse(bad).is_err(), "{bad:?}");
        }
        let err = ClusterName::parse("Prod_1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid cluster name \"Prod_1\": must consist of lower case letters, digits and '-' (DNS-1123 label)"
        );
    }

    #[test]
    fn component_paths_must_stay_inside_the_artifact() {
        assert!(ComponentPath::parse("core/cert-manager/1.14.5").is_ok());
        for bad in ["", "/abs", "a/../b", "..", "a//b", "a/", "./a", "a\\b", "a b"] {
            assert!(ComponentPath::parse(bad).is_err(), "{bad:?}");
        }
        let tier = TierName::parse("prod").unwrap();
        assert_eq!(
            ComponentPath::parse("core/x/1.0").unwrap().overlay(&tier),
            "./core/x/1.0/prod"
        );
    }

    #[test]
    fn durations_follow_the_flux_pattern() {
        for good in ["10m", "1h30m", "500ms", "1.5h", "30s"] {
            assert!(FluxDuration::parse("interval", good).is_ok(), "{good}");
        }
        for bad in ["", "10", "m", "10d", "1.h", "-1m", "10 m"] {
            assert!(FluxDuration::parse("interval", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn artifact_urls_are_oci_repositories_without_tag_or_digest() {
        assert!(ArtifactUrl::parse("oci://registry.example.com/platform/components").is_ok());
        assert!(ArtifactUrl::parse("oci://127.0.0.1:5000/platform").is_ok());
        for bad in [
            "https://x/y",
            "oci://host",
            "oci:///p",
            "oci://h/p:v1",
            "oci://h/p@sha256:00",
            "oci://h/P",
        ] {
            assert!(ArtifactUrl::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn digests_must_be_full_lower_case_hex() {
        assert!(Digest::parse(&format!("sha256:{}", "a".repeat(64))).is_ok());
        assert!(Digest::parse(&format!("sha256:{}", "A".repeat(64))).is_err());
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse("md5:abc").is_err());
    }
}
