//! Reading the revision Flux reports: `v1.1.0@sha256:<hex>` (tag and digest),
//! `sha256:<hex>` (a digest ref), the older `v1.1.0/<hex>`, or a bare tag.

/// A reported revision, split.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Revision {
    pub tag: Option<String>,
    /// `sha256:<hex>`.
    pub digest: Option<String>,
}

fn is_hex_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn parse_revision(raw: &str) -> Revision {
    let raw = raw.trim();
    let digest_of = |d: &str| {
        d.strip_prefix("sha256:")
            .filter(|h| is_hex_digest(h))
            .map(|h| format!("sha256:{}", h.to_ascii_lowercase()))
    };
    if let Some(d) = digest_of(raw) {
        return Revision {
            tag: None,
            digest: Some(d),
        };
    }
    if let Some((tag, d)) = raw.rsplit_once('@') {
        return Revision {
            tag: (!tag.is_empty()).then(|| tag.to_owned()),
            digest: digest_of(d),
        };
    }
    if let Some((tag, hex)) = raw.rsplit_once('/') {
        if is_hex_digest(hex) {
            return Revision {
                tag: (!tag.is_empty()).then(|| tag.to_owned()),
                digest: Some(format!("sha256:{}", hex.to_ascii_lowercase())),
            };
        }
    }
    Revision {
        tag: (!raw.is_empty()).then(|| raw.to_owned()),
        digest: None,
    }
}

impl Revision {
    /// Whether this is the desired tag (and digest, where one is known on both sides). A bare
    /// digest matches only a known desired digest.
    pub fn matches(&self, tag: &str, digest: Option<&str>) -> bool {
        if self.tag.as_deref().is_some_and(|t| t != tag) {
            return false;
        }
        match (self.digest.as_deref(), digest) {
            (Some(have), Some(want)) => have == want,
            (None, _) => self.tag.is_some(),
            (Some(_), None) => self.tag.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4";

    #[test]
    fn every_revision_form_splits() {
        let d = format!("sha256:{HEX}");
        assert_eq!(
            parse_revision(&format!("v1.1.0@{d}")),
            Revision {
                tag: Some("v1.1.0".into()),
                digest: Some(d.clone())
            }
        );
        assert_eq!(
            parse_revision(&d),
            Revision {
                tag: None,
                digest: Some(d.clone())
            }
        );
        assert_eq!(
            parse_revision(&format!("v1.1.0/{HEX}")),
            Revision {
                tag: Some("v1.1.0".into()),
                digest: Some(d.clone())
            }
        );
        assert_eq!(
            parse_revision("v1.1.0"),
            Revision {
                tag: Some("v1.1.0".into()),
                digest: None
            }
        );
        assert_eq!(parse_revision(""), Revision::default());
    }

    #[test]
    fn matching_needs_the_tag_and_a_known_digest_to_agree() {
        let d = format!("sha256:{HEX}");
        let full = parse_revision(&format!("v1.1.0@{d}"));
        assert!(full.matches("v1.1.0", Some(&d)));
        assert!(full.matches("v1.1.0", None));
        assert!(!full.matches("v1.2.0", Some(&d)));
        assert!(!full.matches("v1.1.0", Some("sha256:00")));
        let bare = parse_revision(&d);
        assert!(bare.matches("anything", Some(&d)));
        assert!(!bare.matches("v1.1.0", None));
    }
}
