//! Hotfixes: one component pinned to a hotfix build on selected clusters, as
//! overrides with reason `hotfix`, in one write. A later release to a newer tag makes them
//! stale, and they collapse like any stale override.

use std::collections::{BTreeMap, BTreeSet};

use catalog::{ComponentPath, OciTag};

use super::holds::Holds;
use super::rollouts::Skipped;
use super::{AppState, Caller, Ctx, Outcome};
use crate::db::models::AssignmentRow;
use crate::error::{Error, Field};
use crate::store::{self, rollouts as pins};

/// A hotfix as a caller asks for it, before checks.
#[derive(Clone, Debug, Default)]
pub struct HotfixSpec {
    pub component: String,
    pub oci_tag: String,
    pub component_path: Option<String>,
    pub tiers: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub clusters: Vec<String>,
    pub reason: Option<String>,
}

/// What a hotfix pinned, and what it left alone.
#[derive(Clone, Debug, Default)]
pub struct Hotfix {
    pub clusters: Vec<String>,
    pub skipped: Vec<Skipped>,
}

pub fn hotfix(state: &AppState, caller: &Caller, spec: HotfixSpec, dry_run: bool) -> Result<Outcome<Hotfix>, Error> {
    let tag = OciTag::parse(&spec.oci_tag).map_err(|e| Error::refused("oci_tag", e.to_string()))?;
    let path = spec
        .component_path
        .as_deref()
        .map(|p| ComponentPath::parse(p).map_err(|e| Error::refused("component_path", e.to_string())))
        .transpose()?;
    if spec.tiers.is_empty() && spec.labels.is_empty() && spec.clusters.is_empty() {
        return Err(Error::refused(
            "selector",
            "select clusters by `tiers`, `labels` or `clusters`; a hotfix everywhere is a release",
        ));
    }
    let reason = match spec.reason.as_deref().map(str::trim) {
        Some(r) if r.len() > 190 => return Err(Error::refused("reason", "must be at most 190 characters")),
        Some(r) if !r.is_empty() => format!("hotfix: {r}"),
        _ => "hotfix".to_owned(),
    };
    let revision_reason = match spec.reason.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => reason.clone(),
        _ => format!("hotfix {tag} of {}", spec.component),
    };
    state.write(caller, dry_run, &revision_reason, |ctx| {
        let component = ctx
            .catalog()
            .component(&spec.component)
            .cloned()
            .ok_or_else(|| Error::refused("component", format!("unknown component {:?}", spec.component)))?;
        let selected = select(ctx, &spec)?;
        let holds = Holds::load(ctx.conn, ctx.now)?;
        let mut done = Hotfix::default();
        let mut tiers = BTreeSet::new();
        for (name, tier) in selected {
            if let Some(hold) = holds.covering(&name, &spec.component) {
                done.skipped.push(skipped(&name, &spec.component, "held", hold.label()));
                continue;
            }
            if let Some(pin) = pins::pin(ctx.conn, &name, &spec.component)? {
                let why = format!("rollout {} moves it; complete or abort that first", pin.rollout);
                done.skipped.push(skipped(&name, &spec.component, "rollout", why));
                continue;
            }
            let Some(before) = store::assignment(ctx.conn, &name, &spec.component)? else {
                continue;
            };
            tiers.insert(tier);
            let after = AssignmentRow {
                oci_tag: Some(tag.to_string()),
                component_path: path
                    .as_ref()
                    .map(ComponentPath::to_string)
                    .or(before.component_path.clone()),
                reason: Some(reason.clone()),
                expires_at: None,
                author: ctx.caller().actor.clone(),
                created_at: ctx.now,
                ..before.clone()
            };
            store::put_assignment(ctx.conn, &after)?;
            ctx.touch(&name);
            ctx.audit(
                "hotfix",
                &format!("cluster/{name}/components/{}", spec.component),
                Some(&super::clusters::audit_assignment(&before)),
                Some(&super::clusters::audit_assignment(&after)),
            );
            done.clusters.push(name);
        }
        if done.clusters.is_empty() {
            let why = done
                .skipped
                .first()
                .map(|s| format!(" ({} on {}: {})", s.reason, s.cluster, s.detail));
            return Err(Error::refused(
                "selector",
                format!("selects no cluster the hotfix can pin{}", why.unwrap_or_default()),
            ));
        }
        super::releases::check_tag_in_tiers(ctx, component.artifact.as_str(), &tag, |t| tiers.contains(t))?;
        Ok(done)
    })
}

fn skipped(cluster: &str, component: &str, reason: &str, detail: String) -> Skipped {
    Skipped {
        cluster: cluster.into(),
        component: component.into(),
        reason: reason.into(),
        detail,
    }
}

/// Clusters running the component that every given selector matches, with their tier; a
/// named cluster that does not exist or does not run it is refused.
fn select(ctx: &mut Ctx<'_>, spec: &HotfixSpec) -> Result<Vec<(String, String)>, Error> {
    for (i, tier) in spec.tiers.iter().enumerate() {
        if ctx.catalog().tier(tier).is_err() {
            return Err(Error::refused(
                Field::new("selector").field("tiers").index(i),
                format!("unknown tier {tier:?}"),
            ));
        }
    }
    let running: BTreeSet<String> = store::clusters_using(ctx.conn, &spec.component)?.into_iter().collect();
    let all = store::clusters(ctx.conn)?;
    for (i, name) in spec.clusters.iter().enumerate() {
        let at = Field::new("selector").field("clusters").index(i);
        if !all.iter().any(|c| &c.name == name) {
            return Err(Error::refused(at, format!("unknown cluster {name:?}")));
        }
        if !running.contains(name) {
            return Err(Error::refused(
                at,
                format!("cluster {name} does not run {}", spec.component),
            ));
        }
    }
    let mut out = Vec::new();
    for row in all.into_iter().filter(|c| c.enabled && running.contains(&c.name)) {
        let labels = super::domain::labels_of(&row)?;
        let selected = (spec.tiers.is_empty() || spec.tiers.contains(&row.tier))
            && spec.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && (spec.clusters.is_empty() || spec.clusters.contains(&row.name));
        if selected {
            out.push((row.name, row.tier));
        }
    }
    Ok(out)
}
