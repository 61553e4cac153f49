//! Stale overrides: per-cluster tags the default has caught up with, and collapsing them.
//!
//! Not every such override is a leftover. A hotfix the next release superseded is (kind
//! `superseded`); a rollback pin, a canary, or an override a hold keeps is a decision someone
//! made (kind `deliberate`), and undoing it by tidying up would undo that decision. So a
//! collapse takes the superseded ones, and a deliberate one only when it is named by cluster
//! and component.

use catalog::resolve::{stale_overrides, Assignment, Cluster};
use catalog::Catalog;
use serde_json::json;

use super::holds::Holds;
use super::{AppState, Caller, Ctx, Outcome};
use crate::db::models::AssignmentRow;
use crate::db::DbConnection;
use crate::error::Error;
use crate::store;

/// Which overrides to look at; `None` means all.
#[derive(Debug, Clone, Default)]
pub struct OverrideFilter {
    pub cluster: Option<String>,
    pub component: Option<String>,
}

/// Whether a stale override is a leftover or a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaleKind {
    /// The default caught up with it (a hotfix a release superseded, a pin nobody needs).
    Superseded,
    /// A rollback pin, a canary, or kept by an active hold: collapsed only when named.
    Deliberate,
}

impl StaleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StaleKind::Superseded => "superseded",
            StaleKind::Deliberate => "deliberate",
        }
    }
}

/// An override whose tag is not newer than the default it overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleOverride {
    pub cluster: String,
    pub component: String,
    pub override_tag: String,
    pub default_tag: String,
    /// Why the override was made (hotfix, canary, …), as its author said.
    pub reason: Option<String>,
    pub kind: StaleKind,
    /// Why it is of its kind, in a sentence.
    pub why: String,
}

/// Reads an override's kind from its reason and the holds in force: `rollback…` and
/// `canary…` are deliberate, as is `hold <id>` while that hold (or any hold covering the
/// assignment) is in force.
fn classify(holds: &Holds, cluster: &str, component: &str, reason: Option<&str>, default: &str) -> (StaleKind, String) {
    let reason = reason.map(str::trim).unwrap_or_default();
    let lower = reason.to_ascii_lowercase();
    if let Some(hold) = holds.covering(cluster, component) {
        return (StaleKind::Deliberate, format!("kept by {}", hold.label()));
    }
    if lower.starts_with("rollback") {
        return (
            StaleKind::Deliberate,
            format!("a rollback pin ({reason:?}); name cluster and component to collapse it"),
        );
    }
    if lower.starts_with("canary") {
        return (
            StaleKind::Deliberate,
            format!("a canary ({reason:?}); name cluster and component to collapse it"),
        );
    }
    let why = match lower.as_str() {
        r if r.starts_with("hold ") => format!("kept by {reason}, which has ended; the default {default} runs it"),
        r if r.starts_with("hotfix") => format!("a hotfix the default {default} supersedes"),
        _ => format!("the default {default} caught up with it"),
    };
    (StaleKind::Superseded, why)
}

/// Every stale override the filter selects, by cluster then component.
pub fn stale(state: &AppState, filter: &OverrideFilter) -> Result<Vec<StaleOverride>, Error> {
    let mut conn = state.conn()?;
    let (_, catalog) = state.catalog(&mut conn)?;
    check_filter(&mut conn, &catalog, filter)?;
    let now = state.clock.now();
    Ok(find(&mut conn, &catalog, filter, now)?
        .into_iter()
        .map(|(s, _)| s)
        .collect())
}

/// What a collapse did: the overrides it removed, and the deliberate ones it left.
#[derive(Debug, Clone, Default)]
pub struct Collapsed {
    pub collapsed: Vec<StaleOverride>,
    pub kept: Vec<StaleOverride>,
}

/// Removes the tag and path override of every superseded assignment the filter selects (a
/// deliberate one too when the filter names both its cluster and component), in one write;
/// the assignments stay, so their clusters follow the default again. `reason` becomes the
/// reason of the new revisions.
pub fn collapse(
    state: &AppState,
    caller: &Caller,
    filter: &OverrideFilter,
    reason: Option<&str>,
    dry_run: bool,
) -> Result<Outcome<Collapsed>, Error> {
    let named = filter.cluster.is_some() && filter.component.is_some();
    let reason = super::clusters::revision_reason(reason, || "stale overrides collapsed".to_owned());
    state.write(caller, dry_run, &reason, |ctx| {
        let collapsed = collapse_matching(ctx, filter, &|s| named || s.kind == StaleKind::Superseded)?;
        let catalog = ctx.catalog().clone();
        let kept = find(ctx.conn, &catalog, filter, ctx.now)?
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        Ok(Collapsed { collapsed, kept })
    })
}

/// Collapses, inside a write, every stale override the filter selects against the catalog as
/// the write sees it (so a write that moved a default collapses what that made stale).
pub fn collapse_in(ctx: &mut Ctx<'_>, filter: &OverrideFilter) -> Result<Vec<StaleOverride>, Error> {
    collapse_in_except(ctx, filter, &|_, _| false)
}

/// [`collapse_in`], leaving alone the (cluster, component) pairs `keep` names.
pub fn collapse_in_except(
    ctx: &mut Ctx<'_>,
    filter: &OverrideFilter,
    keep: &dyn Fn(&str, &str) -> bool,
) -> Result<Vec<StaleOverride>, Error> {
    collapse_matching(ctx, filter, &|s| !keep(&s.cluster, &s.component))
}

/// Collapses every stale override the filter selects and `take` accepts.
fn collapse_matching(
    ctx: &mut Ctx<'_>,
    filter: &OverrideFilter,
    take: &dyn Fn(&StaleOverride) -> bool,
) -> Result<Vec<StaleOverride>, Error> {
    let catalog = ctx.catalog().clone();
    check_filter(ctx.conn, &catalog, filter)?;
    let mut found = find(ctx.conn, &catalog, filter, ctx.now)?;
    found.retain(|(s, _)| take(s));
    for (item, before) in &found {
        let after = super::assignments::without_override(ctx, before);
        store::put_assignment(ctx.conn, &after)?;
        ctx.touch(&item.cluster);
        ctx.audit(
            "override.collapse",
            &format!("cluster/{}/components/{}", item.cluster, item.component),
            Some(&json!({
                "oci_tag": before.oci_tag, "component_path": before.component_path, "reason": before.reason,
                "default_tag": item.default_tag, "kind": item.kind.as_str(),
            })),
            Some(&json!({"oci_tag": null, "component_path": null, "reason": null})),
        );
    }
    Ok(found.into_iter().map(|(s, _)| s).collect())
}

/// A filter naming a cluster or component that does not exist is refused: a typo would
/// otherwise look like "nothing is stale".
/// Refuses a filter naming a cluster or component that does not exist, naming the filter's field.
fn check_filter(conn: &mut DbConnection, catalog: &Catalog, filter: &OverrideFilter) -> Result<(), Error> {
    if let Some(name) = &filter.cluster {
        if store::cluster(conn, name)?.is_none() {
            return Err(Error::refused("cluster", format!("unknown cluster {name:?}")));
        }
    }
    if let Some(id) = &filter.component {
        if catalog.component(id).is_none() {
            return Err(Error::refused("component", format!("unknown component {id:?}")));
        }
    }
    Ok(())
}

fn find(
    conn: &mut DbConnection,
    catalog: &Catalog,
    filter: &OverrideFilter,
    now: chrono::NaiveDateTime,
) -> Result<Vec<(StaleOverride, AssignmentRow)>, Error> {
    let holds = Holds::load(conn, now)?;
    let mut out = Vec::new();
    for row in store::clusters(conn)? {
        if filter.cluster.as_ref().is_some_and(|c| c != &row.name) {
            continue;
        }
        let cluster = Cluster::try_from(&row)?;
        let rows: Vec<AssignmentRow> = store::assignments(conn, &row.name)?
            .into_iter()
            .filter(|a| filter.component.as_ref().is_none_or(|c| c == &a.component))
            .collect();
        let assignments = rows.iter().map(Assignment::try_from).collect::<Result<Vec<_>, _>>()?;
        for s in stale_overrides(catalog, &cluster, &assignments) {
            let Some(assignment) = rows.iter().find(|a| a.component == s.component.as_str()) else {
                continue;
            };
            let default_tag = s.default_tag.to_string();
            let (kind, why) = classify(
                &holds,
                &row.name,
                s.component.as_str(),
                assignment.reason.as_deref(),
                &default_tag,
            );
            out.push((
                StaleOverride {
                    cluster: row.name.clone(),
                    component: s.component.to_string(),
                    override_tag: s.override_tag.to_string(),
                    default_tag,
                    reason: assignment.reason.clone(),
                    kind,
                    why,
                },
                assignment.clone(),
            ));
        }
    }
    Ok(out)
}
