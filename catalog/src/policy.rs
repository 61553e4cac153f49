//! Tag policy per tier: which tags a tier's clusters may run.

use std::fmt;

use chrono::{DateTime, Utc};
use regex::Regex;

use crate::error::Error;
pub use crate::evidence::RequireVerified;
use crate::ids::TierName;
use crate::tag::OciTag;
use crate::windows::{ChangeWindow, Freeze};

/// The policy rule that refused a tag; its text is the policy field's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyRule {
    AllowMutable,
    AllowPrerelease,
    Pattern,
    RequireKnownTag,
    PinDigest,
    RequireVerified,
}

impl PolicyRule {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyRule::AllowMutable => "allow_mutable",
            PolicyRule::AllowPrerelease => "allow_prerelease",
            PolicyRule::Pattern => "pattern",
            PolicyRule::RequireKnownTag => "require_known_tag",
            PolicyRule::PinDigest => "pin_digest",
            PolicyRule::RequireVerified => "require_verified",
        }
    }
}

impl fmt::Display for PolicyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compiled tag pattern that remembers its source text.
#[derive(Clone, Debug)]
pub struct TagRegex(Regex);

impl TagRegex {
    pub fn new(field: &'static str, pattern: &str) -> Result<Self, Error> {
        Regex::new(pattern).map(TagRegex).map_err(|e| {
            Error::invalid(
                field,
                pattern,
                format!("not a valid regular expression: {}", regex_reason(&e)),
            )
        })
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

/// The regex crate's message spans lines (pattern, caret, reason); findings want one line.
pub(crate) fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(&text);
    last.trim().trim_start_matches("error: ").to_owned()
}

impl PartialEq for TagRegex {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for TagRegex {}

/// A tier's tag policy. Defaults depend on the tier's name (see [`TierPolicy::default_for`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierPolicy {
    pub allow_mutable: bool,
    pub allow_prerelease: bool,
    pub pattern: Option<TagRegex>,
    pub pin_digest: bool,
    pub require_known_tag: bool,
    // Promotion safety: when the tier's clusters may change, and who must agree first.
    /// Weekly windows in which changes may happen; none means any time.
    pub windows: Vec<ChangeWindow>,
    /// Stretches in which nothing changes, windows or not.
    pub freezes: Vec<Freeze>,
    /// Distinct operators (not the rollout's creator) who approve a rollout step into the tier.
    pub approvals: u32,
    /// Evidence a build must have from other tiers before it reaches this one (empty: none).
    pub require_verified: Vec<RequireVerified>,
}

impl TierPolicy {
    /// `dev` may run anything; `qa`/`test`/`staging` may run pre-releases but no moving tags;
    /// every other tier (prod and any unknown name) gets the strict production policy, since
    /// guessing lenient for an unknown tier is how a moving tag reaches production.
    pub fn default_for(tier: &TierName) -> TierPolicy {
        let (allow_mutable, allow_prerelease, pin_digest) = match tier.as_str() {
            "dev" | "development" => (true, true, false),
            "qa" | "test" | "staging" => (false, true, false),
            _ => (false, false, true),
        };
        TierPolicy {
            allow_mutable,
            allow_prerelease,
            pattern: None,
            pin_digest,
            require_known_tag: true,
            windows: Vec::new(),
            freezes: Vec::new(),
            approvals: 0,
            require_verified: Vec::new(),
        }
    }

    /// Whether the tier is closed for changes at `now` (outside every window, or frozen):
    /// a refusal naming the tier, the window or freeze, and the next opening.
    pub fn check_open(&self, tier: &TierName, now: DateTime<Utc>) -> Result<(), Error> {
        match crate::windows::closed_at(&self.windows, &self.freezes, now) {
            None => Ok(()),
            Some(closed) => Err(Error::ChangeClosed {
                tier: tier.to_string(),
                next_opening: closed.next_opening,
                detail: closed.to_string(),
            }),
        }
    }

    /// Checks the rules that need only the tag. `require_known_tag` needs the registry: see
    /// [`TierPolicy::check_known`].
    pub fn check(&self, tier: &TierName, tag: &OciTag) -> Result<(), Error> {
        let refuse = |rule: PolicyRule, detail: String| Error::PolicyRefused {
            rule,
            tier: tier.to_string(),
            tag: tag.to_string(),
            detail,
        };
        if !self.allow_mutable {
            if let Some(why) = tag.mutable_reason() {
                return Err(refuse(
                    PolicyRule::AllowMutable,
                    format!("{why}; mutable tags can change what runs without any change here"),
                ));
            }
        }
        if !self.allow_prerelease && tag.is_prerelease() {
            return Err(refuse(
                PolicyRule::AllowPrerelease,
                "pre-release tags (like -rc1 or -beta) are not allowed; hotfix tags (-1, -2) are".into(),
            ));
        }
        if let Some(pattern) = &self.pattern {
            if !pattern.is_match(tag.as_str()) {
                return Err(refuse(
                    PolicyRule::Pattern,
                    format!("the tag does not match {:?}", pattern.as_str()),
                ));
            }
        }
        Ok(())
    }

    /// Everything [`check`](Self::check) does, plus `require_known_tag` given whether the tag is
    /// registered for the artifact.
    pub fn check_known(&self, tier: &TierName, tag: &OciTag, known: bool) -> Result<(), Error> {
        self.check(tier, tag)?;
        if self.require_known_tag && !known {
            return Err(Error::PolicyRefused {
                rule: PolicyRule::RequireKnownTag,
                tier: tier.to_string(),
                tag: tag.to_string(),
                detail: "the tag is not registered for the artifact; register or sync it first".into(),
            });
        }
        Ok(())
    }
}

/// What the catalog knows of a build (an artifact's tag): the input of [`TierPolicy::admit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registration {
    /// The tag is not registered for the artifact.
    Unknown,
    /// Registered, but no digest is known for it.
    WithoutDigest,
    /// Registered with its digest.
    WithDigest,
}

impl TierPolicy {
    /// The one rule for whether a cluster of `tier` may run `tag`: the tag rules
    /// ([`check`](Self::check)), a registered build where the tier requires known tags, and a
    /// known digest where the tier pins digests (a pinned cluster whose digest is unknown
    /// could not be served). `artifact` only names the build in the refusal.
    pub fn admit(&self, tier: &TierName, tag: &OciTag, artifact: &str, build: Registration) -> Result<(), Error> {
        self.check_known(tier, tag, build != Registration::Unknown)?;
        self.servable(tier, tag, artifact, build)
    }

    /// The part of [`admit`](Self::admit) that a cluster already running `tag` must keep
    /// meeting: where the tier pins digests, the build's digest is known.
    pub fn servable(&self, tier: &TierName, tag: &OciTag, artifact: &str, build: Registration) -> Result<(), Error> {
        if self.pin_digest && build != Registration::WithDigest {
            return Err(Error::PolicyRefused {
                rule: PolicyRule::PinDigest,
                tier: tier.to_string(),
                tag: tag.to_string(),
                detail: format!(
                    "the tier pins digests and no digest is registered for {tag} of artifact {artifact}; \
                     register it with its digest, or sync the artifact, first"
                ),
            });
        }
        Ok(())
    }
}

/// An environment class with its policy; tiers are ordered lowest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tier {
    pub name: TierName,
    pub policy: TierPolicy,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(name: &str) -> TierName {
        TierName::parse(name).unwrap()
    }
    fn tag(raw: &str) -> OciTag {
        OciTag::parse(raw).unwrap()
    }

    #[test]
    fn a_pinned_tier_admits_only_builds_with_a_known_digest() {
        let prod = TierPolicy::default_for(&tier("prod"));
        let refused = prod
            .admit(&tier("prod"), &tag("v1.2.0"), "platform", Registration::WithoutDigest)
            .unwrap_err();
        assert!(matches!(
            refused,
            Error::PolicyRefused {
                rule: PolicyRule::PinDigest,
                ..
            }
        ));
        let unknown = prod
            .admit(&tier("prod"), &tag("v1.2.0"), "platform", Registration::Unknown)
            .unwrap_err();
        assert!(matches!(
            unknown,
            Error::PolicyRefused {
                rule: PolicyRule::RequireKnownTag,
                ..
            }
        ));
        assert!(prod
            .admit(&tier("prod"), &tag("v1.2.0"), "platform", Registration::WithDigest)
            .is_ok());
        let dev = TierPolicy::default_for(&tier("dev"));
        assert!(dev
            .admit(&tier("dev"), &tag("v1.2.0"), "platform", Registration::WithoutDigest)
            .is_ok());
    }

    #[test]
    fn latest_tag_is_refused_in_prod_naming_rule_tier_and_tag() {
        let prod = tier("prod");
        let err = TierPolicy::default_for(&prod).check(&prod, &tag("latest")).unwrap_err();
        assert_eq!(
            err,
            Error::PolicyRefused {
                rule: PolicyRule::AllowMutable,
                tier: "prod".into(),
                tag: "latest".into(),
                detail: "\"latest\" is a moving tag (deny list); mutable tags can change what runs without any \
                         change here"
                    .into(),
            }
        );
    }

    #[test]
    fn dev_accepts_mutable_and_prerelease_tags() {
        let dev = tier("dev");
        let policy = TierPolicy::default_for(&dev);
        assert!(policy.check(&dev, &tag("latest")).is_ok());
        assert!(policy.check(&dev, &tag("v1.1.0-rc1")).is_ok());
        assert!(!policy.pin_digest);
    }

    #[test]
    fn prerelease_is_refused_in_prod_but_hotfix_is_allowed() {
        let prod = tier("prod");
        let policy = TierPolicy::default_for(&prod);
        let err = policy.check(&prod, &tag("v1.1.0-rc1")).unwrap_err();
        assert!(matches!(
            err,
            Error::PolicyRefused {
                rule: PolicyRule::AllowPrerelease,
                ..
            }
        ));
        assert!(policy.check(&prod, &tag("v1.1.0-1")).is_ok());
        assert!(policy.pin_digest);
    }

    #[test]
    fn pattern_refusal_quotes_the_pattern() {
        let prod = tier("prod");
        let mut policy = TierPolicy::default_for(&prod);
        policy.pattern = Some(TagRegex::new("pattern", r"^v[0-9]+\.[0-9]+\.[0-9]+$").unwrap());
        let err = policy.check(&prod, &tag("1.0.0")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tier prod refuses tag \"1.0.0\" (rule pattern): the tag does not match \"^v[0-9]+\\\\.[0-9]+\\\\.[0-9]+$\""
        );
    }

    #[test]
    fn unknown_tag_is_refused_when_the_policy_requires_known_tags() {
        let qa = tier("qa");
        let policy = TierPolicy::default_for(&qa);
        let err = policy.check_known(&qa, &tag("v9.9.9"), false).unwrap_err();
        assert!(matches!(
            err,
            Error::PolicyRefused {
                rule: PolicyRule::RequireKnownTag,
                ..
            }
        ));
        assert!(policy.check_known(&qa, &tag("v9.9.9"), true).is_ok());
    }

    #[test]
    fn unknown_tier_names_get_the_strict_policy() {
        let p = TierPolicy::default_for(&tier("edge-eu"));
        assert!(!p.allow_mutable && !p.allow_prerelease && p.pin_digest && p.require_known_tag);
    }
}
