//! Tiers and their tag policies: a policy change is a new catalog revision, validated as a whole.

use catalog::resolve::Assignment;
use catalog::yaml::PathSeg;
use catalog::{Catalog, OciTag, Tier};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::{findings, AppState, Caller, Ctx, Expected, Outcome};
use crate::error::{Error, Field};
use crate::store;

/// A tier and its policy as the service shows it. It serializes as the API shows it, field for
/// field, so its [`version`](Self::version) is the ETag clients hold.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TierView {
    pub name: String,
    pub policy: PolicyView,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PolicyView {
    pub allow_mutable: bool,
    pub allow_prerelease: bool,
    pub pin_digest: bool,
    pub require_known_tag: bool,
    pub pattern: Option<String>,
    #[serde(flatten)]
    pub safety: SafetySpec,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub require_verified: Vec<VerifiedSpec>,
}

/// A tier's change windows, freezes and approvals, as shown and as asked for (the catalog
/// parses them). Empty parts are left out, so a tier without them shows (and versions) as before.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct SafetySpec {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowSpec>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub freezes: Vec<FreezeSpec>,
    #[serde(skip_serializing_if = "is_zero")]
    pub approvals: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct WindowSpec {
    pub days: Vec<String>,
    pub from: String,
    pub to: String,
    pub tz: String,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FreezeSpec {
    pub from: String,
    pub to: String,
    pub reason: String,
}

impl From<&catalog::TierPolicy> for SafetySpec {
    fn from(p: &catalog::TierPolicy) -> Self {
        let mut doc = Map::new();
        catalog::document::safety_document(p, &mut doc);
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let list = |k: &str| doc.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
        SafetySpec {
            windows: list("windows")
                .iter()
                .map(|w| WindowSpec {
                    days: w["days"]
                        .as_array()
                        .map(|d| d.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                        .unwrap_or_default(),
                    from: text(w, "from"),
                    to: text(w, "to"),
                    tz: text(w, "tz"),
                })
                .collect(),
            freezes: list("freezes")
                .iter()
                .map(|f| FreezeSpec {
                    from: text(f, "from"),
                    to: text(f, "to"),
                    reason: text(f, "reason"),
                })
                .collect(),
            approvals: p.approvals,
        }
    }
}

impl SafetySpec {
    /// Adds the set parts to a policy document, as the catalog reads them.
    fn write(&self, policy: &mut Map<String, Value>) {
        if !self.windows.is_empty() {
            policy.insert("windows".into(), json!(self.windows));
        }
        if !self.freezes.is_empty() {
            policy.insert("freezes".into(), json!(self.freezes));
        }
        if self.approvals > 0 {
            policy.insert("approvals".into(), self.approvals.into());
        }
    }
}

/// One `require_verified` entry, as callers give it and the API shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VerifiedSpec {
    pub tier: String,
    pub clusters: u64,
    pub ready_for: String,
}

impl TierView {
    /// The tier's version, which `If-Match` names.
    pub fn version(&self) -> String {
        super::version_of(self)
    }
}

impl From<&Tier> for TierView {
    fn from(t: &Tier) -> Self {
        let p = &t.policy;
        TierView {
            name: t.name.to_string(),
            policy: PolicyView {
                allow_mutable: p.allow_mutable,
                allow_prerelease: p.allow_prerelease,
                pin_digest: p.pin_digest,
                require_known_tag: p.require_known_tag,
                pattern: p.pattern.as_ref().map(|r| r.as_str().to_owned()),
                safety: SafetySpec::from(p),
                require_verified: p
                    .require_verified
                    .iter()
                    .map(|r| VerifiedSpec {
                        tier: r.tier.to_string(),
                        clusters: r.clusters.into(),
                        ready_for: r.ready_for.to_string(),
                    })
                    .collect(),
            },
        }
    }
}

/// A tier policy as a caller asks for it, before checks.
#[derive(Debug, Clone)]
pub struct PolicySpec {
    pub allow_mutable: bool,
    pub allow_prerelease: bool,
    pub pin_digest: bool,
    pub require_known_tag: bool,
    pub pattern: Option<String>,
    pub safety: SafetySpec,
    pub require_verified: Vec<VerifiedSpec>,
}

/// Tiers in their order, lowest first.
pub fn list(state: &AppState) -> Result<Vec<TierView>, Error> {
    let mut conn = state.conn()?;
    let (_, catalog) = state.catalog(&mut conn)?;
    Ok(catalog.tiers().iter().map(TierView::from).collect())
}

pub fn get(state: &AppState, name: &str) -> Result<TierView, Error> {
    let mut conn = state.conn()?;
    let (_, catalog) = state.catalog(&mut conn)?;
    Ok(TierView::from(catalog.tier(name)?))
}

/// Replaces a tier's policy. Refused (422, naming the policy field) when the catalog's default
/// tags, or the pins and overrides of the tier's clusters, would break it, and when the tier is
/// not at the version `expected`.
pub fn put_policy(
    state: &AppState,
    caller: &Caller,
    name: &str,
    spec: PolicySpec,
    expected: Expected,
    dry_run: bool,
) -> Result<Outcome<TierView>, Error> {
    state.write(caller, dry_run, &format!("tier {name} policy changed"), |ctx| {
        let before = ctx.catalog().tier(name)?.clone();
        expected.check(&TierView::from(&before).version())?;
        let current = ctx.catalog().to_document();
        let mut doc = current.clone();
        let index = ctx
            .catalog()
            .tiers()
            .iter()
            .position(|t| t.name == before.name)
            .ok_or_else(|| Error::Internal(format!("tier {name} vanished from its catalog")))?;
        let slot = doc
            .get_mut("tiers")
            .and_then(|t| t.get_mut(index))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| Error::Internal("a catalog document without its tiers".into()))?;
        slot.insert("policy".into(), policy_document(&spec));
        // The same policy again is no change: no catalog revision, no audit entry.
        if doc == current {
            return Ok(TierView::from(&before));
        }
        if let Err(e) = ctx.set_catalog(doc.clone(), "api").map(drop) {
            return Err(rebase(e, index, &doc));
        }
        let after = ctx.catalog().tier(name)?.clone();
        check_store(ctx, &before, &after)?;
        ctx.audit(
            "tier.update",
            &format!("tier/{name}"),
            Some(&tier_view(&before)),
            Some(&tier_view(&after)),
        );
        Ok(TierView::from(&after))
    })
}

fn policy_document(spec: &PolicySpec) -> Value {
    let mut policy = Map::new();
    policy.insert("allow_mutable".into(), spec.allow_mutable.into());
    policy.insert("allow_prerelease".into(), spec.allow_prerelease.into());
    policy.insert("pin_digest".into(), spec.pin_digest.into());
    policy.insert("require_known_tag".into(), spec.require_known_tag.into());
    if let Some(pattern) = &spec.pattern {
        policy.insert("pattern".into(), pattern.clone().into());
    }
    spec.safety.write(&mut policy);
    if !spec.require_verified.is_empty() {
        policy.insert("require_verified".into(), json!(spec.require_verified));
    }
    Value::Object(policy)
}

fn tier_view(tier: &Tier) -> Value {
    let p = &tier.policy;
    json!({
        "name": tier.name.as_str(), "allow_mutable": p.allow_mutable, "allow_prerelease": p.allow_prerelease,
        "pin_digest": p.pin_digest, "require_known_tag": p.require_known_tag,
        "pattern": p.pattern.as_ref().map(|r| r.as_str()), "safety": SafetySpec::from(p),
        "require_verified": catalog::document::require_verified_document(&p.require_verified),
    })
}

/// The rules catalog validation cannot see, since they need the store: registered tags and
/// digests for the defaults (checked only when the rule is switched on, so an unrelated change
/// is not blocked by an old gap), and the pins and live overrides of the tier's clusters.
fn check_store(ctx: &mut Ctx<'_>, before: &Tier, after: &Tier) -> Result<(), Error> {
    let catalog = ctx.catalog().clone();
    let mut errors: Vec<(Field, String)> = Vec::new();
    let (new_known, new_digest) = (
        after.policy.require_known_tag && !before.policy.require_known_tag,
        after.policy.pin_digest && !before.policy.pin_digest,
    );
    if new_known || new_digest {
        for (who, artifact, tag) in defaults(&catalog) {
            let row = store::tag(ctx.conn, &artifact, tag.as_str())?;
            if new_known && row.is_none() {
                errors.push((
                    Field::new("require_known_tag"),
                    format!("{who} is \"{tag}\", which is not registered for artifact {artifact}"),
                ));
            } else if new_digest && row.as_ref().is_none_or(|r| r.digest.is_none()) {
                errors.push((
                    Field::new("pin_digest"),
                    format!("{who} is \"{tag}\", for which no digest of artifact {artifact} is registered"),
                ));
            }
        }
    }
    let now = DateTime::<Utc>::from_naive_utc_and_offset(ctx.now, Utc);
    for row in store::clusters(ctx.conn)?
        .into_iter()
        .filter(|r| r.tier == after.name.as_str())
    {
        let mut tags: Vec<(String, OciTag)> = Vec::new();
        if let Some(pin) = &row.oci_tag {
            tags.push((format!("cluster {} pins", row.name), stored_tag(pin)?));
        }
        for a in store::assignments(ctx.conn, &row.name)? {
            let a = Assignment::try_from(&a)?;
            let live = a.expires_at.is_none_or(|at| at > now);
            if let (Some(tag), true) = (a.oci_tag, live) {
                tags.push((format!("cluster {} overrides {} with", row.name, a.component), tag));
            }
        }
        for (who, tag) in tags {
            if let Err(catalog::Error::PolicyRefused { rule, detail, .. }) = after.policy.check(&after.name, &tag) {
                errors.push((
                    Field::new(rule.as_str()),
                    format!("{who} \"{tag}\": {detail}; change or collapse it first"),
                ));
            }
        }
    }
    match errors.len() {
        0 => Ok(()),
        n => Err(Error::refused_fields(
            format!("the policy is broken by {n} tag(s) in use"),
            errors,
        )),
    }
}

fn stored_tag(raw: &str) -> Result<OciTag, Error> {
    OciTag::parse(raw).map_err(|e| Error::Internal(format!("a stored tag no longer parses: {e}")))
}

/// Every default tag of the catalog: each artifact's, and each component's own.
fn defaults(catalog: &Catalog) -> Vec<(String, String, OciTag)> {
    let artifacts = catalog.artifacts().iter().map(|a| {
        let who = format!("the default tag of artifact {}", a.id);
        (who, a.id.to_string(), a.oci_tag.clone())
    });
    let components = catalog.components().iter().filter_map(|c| {
        let who = format!("the own tag of component {}", c.id);
        Some((who, c.artifact.to_string(), c.oci_tag.clone()?))
    });
    artifacts.chain(components).collect()
}

/// Findings about the tier's policy (or the tier) in the catalog are findings about the
/// command, whose fields are the policy's; a default tag the new policy refuses is a finding
/// about the policy field (the rule) that refuses it, naming the tag's owner.
fn rebase(e: Error, index: usize, doc: &Value) -> Error {
    let Error::InvalidCatalog(report) = e else { return e };
    let tier = findings::entry("tiers", index);
    let policy = [tier[0].clone(), tier[1].clone(), PathSeg::Key("policy".into())];
    let refusals: Vec<(Field, String)> = report
        .errors()
        .map(|d| {
            let message = findings::message(d);
            if let Some(rest) = findings::inside(d, &policy).or_else(|| findings::inside(d, &tier)) {
                return (findings::field_of(&rest), message);
            }
            match owner(doc, d.location().segments()) {
                Some(who) if ["allow_mutable", "allow_prerelease", "pattern"].contains(&d.rule.as_str()) => (
                    Field::whole().named(d.rule.clone()),
                    format!("{who} ({}): {message}", d.path),
                ),
                _ => (findings::catalog_field(d), message),
            }
        })
        .collect();
    let summary = format!("the policy breaks {} catalog rule(s)", refusals.len());
    Error::refused_fields(summary, refusals)
}

/// Who owns the default tag at `steps` (`artifacts[0].oci_tag`, `components[2].oci_tag`).
fn owner(doc: &Value, steps: &[PathSeg]) -> Option<String> {
    let [PathSeg::Key(list), PathSeg::Index(index), PathSeg::Key(field)] = steps else {
        return None;
    };
    let id = doc.get(list)?.get(index)?.get("id")?.as_str()?;
    match (list.as_str(), field.as_str()) {
        ("artifacts", "oci_tag") => Some(format!("the default tag of artifact {id}")),
        ("components", "oci_tag") => Some(format!("the own tag of component {id}")),
        _ => None,
    }
}
