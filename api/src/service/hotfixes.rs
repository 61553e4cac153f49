//! Hotfixes: one component pinned to a hotfix build on selected clusters, as
//! overrides with reason `hotfix`, in one write. A later release to a newer tag makes them
//! stale, and they collapse like any stale override.

use std::collections::{BTreeMap, BTreeSet};

use catalog::{ClusterName, ComponentId, ComponentPath, OciTag, TierName};

use super::holds::Holds;
use super::rollouts::Skipped;
use super::{AppState, Caller, Ctx, Outcome};
use crate::db::models::AssignmentRow;
use crate::error::{Error, Field};
use crate::store::{self, rollouts as pins};

/// Pin a component to a hotfix build on the clusters `selector` picks, every value parsed.
#[derive(Clone, Debug)]
pub struct CreateHotfix {
    pub component: ComponentId,
    pub oci_tag: OciTag,
    pub component_path: Option<ComponentPath>,
    pub selector: Selector,
    pub reason: Option<String>,
}

/// Clusters every given part matches: one of `tiers`, all of `labels`, one of `clusters`.
#[derive(Clone, Debug, Default)]
pub struct Selector {
    pub tiers: Vec<TierName>,
    pub labels: BTreeMap<String, String>,
    pub clusters: Vec<ClusterName>,
}

/// What a hotfix pinned, and what it left alone.
#[derive(Clone, Debug, Default)]
pub struct Hotfix {
    pub clusters: Vec<String>,
    pub skipped: Vec<Skipped>,
}

pub fn hotfix(state: &AppState, caller: &Caller, spec: CreateHotfix, dry_run: bool) -> Result<Outcome<Hotfix>, Error> {
    let (tag, path) = (&spec.oci_tag, &spec.component_path);
    let selector = &spec.selector;
    if selector.tiers.is_empty() && selector.labels.is_empty() && selector.clusters.is_empty() {
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
            .component(spec.component.as_str())
            .cloned()
            .ok_or_else(|| Error::refused("component", format!("unknown component {:?}", spec.component.as_str())))?;
        let component_id = spec.component.as_str();
        let selected = select(ctx, component_id, selector)?;
        let holds = Holds::load(ctx.conn, ctx.now)?;
        let mut done = Hotfix::default();
        let mut tiers = BTreeSet::new();
        for (name, tier) in selected {
            if let Some(hold) = holds.covering(&name, component_id) {
                done.skipped.push(skipped(&name, component_id, "held", hold.label()));
                continue;
            }
            if let Some(pin) = pins::pin(ctx.conn, &name, component_id)? {
                let why = format!("rollout {} moves it; complete or abort that first", pin.rollout);
                done.skipped.push(skipped(&name, component_id, "rollout", why));
                continue;
            }
            let Some(before) = store::assignment(ctx.conn, &name, component_id)? else {
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
                &format!("cluster/{name}/components/{component_id}"),
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
        super::releases::check_tag_in_tiers(ctx, component.artifact.as_str(), tag, |t| tiers.contains(t))?;
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
fn select(ctx: &mut Ctx<'_>, component: &str, selector: &Selector) -> Result<Vec<(String, String)>, Error> {
    for (i, tier) in selector.tiers.iter().enumerate() {
        if ctx.catalog().tier(tier.as_str()).is_err() {
            return Err(Error::refused(
                Field::new("selector").field("tiers").index(i),
                format!("unknown tier {:?}", tier.as_str()),
            ));
        }
    }
    let running: BTreeSet<String> = store::clusters_using(ctx.conn, component)?.into_iter().collect();
    let all = store::clusters(ctx.conn)?;
    for (i, name) in selector.clusters.iter().enumerate() {
        let at = Field::new("selector").field("clusters").index(i);
        if !all.iter().any(|c| c.name == name.as_str()) {
            return Err(Error::refused(at, format!("unknown cluster {:?}", name.as_str())));
        }
        if !running.contains(name.as_str()) {
            return Err(Error::refused(at, format!("cluster {name} does not run {component}")));
        }
    }
    let mut out = Vec::new();
    for row in all.into_iter().filter(|c| c.enabled && running.contains(&c.name)) {
        let labels = super::domain::labels_of(&row)?;
        let selected = (selector.tiers.is_empty() || selector.tiers.iter().any(|t| t.as_str() == row.tier))
            && selector.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && (selector.clusters.is_empty() || selector.clusters.iter().any(|c| c.as_str() == row.name));
        if selected {
            out.push((row.name, row.tier));
        }
    }
    Ok(out)
}
