//! Promotion retag: each promoted build gets the target tier's tag in the registry (the same
//! manifest under a second tag: same digest, no rebuild), and the catalog registers that tag
//! at that digest, so the target clusters get it pinned by the digest the source ran.
//!
//! The registry is written before the database transaction (a registry call inside it would
//! hold the write lock for as long as the registry takes); the transaction then checks that
//! the set it promotes is the one that was tagged.

use std::collections::BTreeMap;

use catalog::{Digest, OciTag};

use super::artifacts::register_tag_in;
use super::promotions::{checked_set, PromotedComponent, PromotionSpec};
use super::{AppState, Caller, Ctx};
use crate::error::Error;
use crate::registry::Target;

/// Swap a tag's prefix: with `staging-` → `production-`, `staging-v1.2.3` is promoted as
/// `production-v1.2.3`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retag {
    pub from_prefix: String,
    pub to_prefix: String,
}

/// Per component, the target tag and the digest the registry now holds under it.
pub type Tagged = BTreeMap<String, (String, String)>;

impl Retag {
    pub fn parse(from_prefix: &str, to_prefix: &str) -> Result<Retag, Error> {
        if from_prefix.is_empty() {
            return Err(Error::refused("retag.from_prefix", "must not be empty"));
        }
        if from_prefix == to_prefix {
            return Err(Error::refused("retag.to_prefix", "must differ from from_prefix"));
        }
        Ok(Retag {
            from_prefix: from_prefix.to_owned(),
            to_prefix: to_prefix.to_owned(),
        })
    }

    /// The target tag of `tag`, when `tag` starts with the source prefix.
    pub fn target(&self, tag: &str) -> Result<Option<OciTag>, Error> {
        let Some(rest) = tag.strip_prefix(&self.from_prefix) else {
            return Ok(None);
        };
        let to = format!("{}{rest}", self.to_prefix);
        OciTag::parse(&to)
            .map(Some)
            .map_err(|e| Error::refused("retag.to_prefix", format!("{tag} would become {to}: {e}")))
    }

    fn none_matched(&self) -> Error {
        Error::refused(
            "retag.from_prefix",
            format!("no promoted build has a tag starting with {:?}", self.from_prefix),
        )
    }
}

/// Adds each promoted build's target tag in its registry; refused (409) when the tag is held
/// (in the registry or the catalog) at another digest, 503 naming registry and tag when the
/// registry fails.
pub(super) fn in_registry(
    state: &AppState,
    caller: &Caller,
    spec: &PromotionSpec,
    retag: &Retag,
) -> Result<Tagged, Error> {
    let mut conn = state.conn()?;
    let (_, catalog) = state.catalog(&mut conn)?;
    let tier = catalog
        .tier(spec.to_tier.as_str())
        .map_err(|e| Error::refused("to.tier", e.to_string()))?;
    let set = checked_set(&mut conn, tier, spec, caller.break_glass.is_some(), state.clock.now())?;
    let registry = state.registry()?;
    let mut tagged = Tagged::new();
    for p in &set {
        let Some(to) = retag.target(&p.oci_tag)? else {
            continue;
        };
        let artifact = (catalog.artifacts().iter())
            .find(|a| a.id.as_str() == p.artifact)
            .ok_or_else(|| Error::NotFound {
                kind: "artifact",
                name: p.artifact.clone(),
            })?;
        let target = super::sync::target_of(artifact)?;
        if let Some(known) = super::evidence::digest_of(&mut conn, &p.artifact, to.as_str())? {
            held_elsewhere(&to, &known, &p.digest, "the catalog registers")?;
        }
        let failed = |e: Error| registry_failed(&target, &p.digest, &to, e);
        match registry.digest(&target, to.as_str()).map_err(failed)? {
            Some(held) => held_elsewhere(&to, &held, &p.digest, &format!("the registry {target} holds"))?,
            None => {
                let put = registry.retag(&target, &p.digest, to.as_str()).map_err(failed)?;
                held_elsewhere(&to, &put, &p.digest, &format!("the registry {target} stored"))?;
            }
        }
        tagged.insert(p.component.clone(), (to.to_string(), p.digest.clone()));
    }
    match tagged.is_empty() {
        true => Err(retag.none_matched()),
        false => Ok(tagged),
    }
}

fn held_elsewhere(tag: &OciTag, held: &str, promoted: &str, whose: &str) -> Result<(), Error> {
    match held == promoted {
        true => Ok(()),
        false => Err(Error::Conflict(format!(
            "{whose} {tag} at {held}, not at the promoted {promoted}; tags are immutable, so choose another prefix"
        ))),
    }
}

fn registry_failed(target: &Target, digest: &str, tag: &OciTag, e: Error) -> Error {
    Error::Unavailable(format!("the registry {target} did not tag {digest} as {tag}: {e}"))
}

/// Registers each promoted build's target tag at its digest and promotes that tag. `tagged`
/// is what the registry was given (`None` on a dry run, which touches no registry): the set
/// must still be that one.
pub(super) fn in_catalog(
    ctx: &mut Ctx<'_>,
    retag: &Retag,
    set: &mut [PromotedComponent],
    tagged: Option<&Tagged>,
) -> Result<(), Error> {
    let mut any = false;
    for p in set.iter_mut() {
        let Some(to) = retag.target(&p.oci_tag)? else {
            continue;
        };
        let pair = (to.to_string(), p.digest.clone());
        if tagged.is_some_and(|t| t.get(&p.component) != Some(&pair)) {
            return Err(Error::Conflict(format!(
                "{}: the source's build changed while {to} was added in the registry; promote again",
                p.component
            )));
        }
        let digest = Digest::parse(&p.digest)?;
        register_tag_in(ctx, &p.artifact, &to, Some(&digest))?;
        p.target_tag = Some(to.to_string());
        any = true;
    }
    match any {
        true => Ok(()),
        false => Err(retag.none_matched()),
    }
}
