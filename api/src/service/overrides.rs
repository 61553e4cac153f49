//! Stale overrides: per-cluster tags a release has caught up with, and collapsing them.

use catalog::resolve::{stale_overrides, Assignment, Cluster};
use catalog::Catalog;
use serde_json::json;

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

/// An override whose tag is not newer than the default it overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleOverride {
    pub cluster: String,
    pub component: String,
    pub override_tag: String,
    pub default_tag: String,
    /// Why the override was made (hotfix, canary, …), as its author said.
    pub reason: Option<String>,
}

/// Every stale override the filter selects, by cluster then component.
pub fn stale(state: &AppState, filter: &OverrideFilter) -> Result<Vec<StaleOverride>, Error> {
    let mut conn = state.conn()?;
    let (_, catalog) = state.catalog(&mut conn)?;
    check_filter(&mut conn, &catalog, filter, "")?;
    Ok(find(&mut conn, &catalog, filter)?.into_iter().map(|(s, _)| s).collect())
}

/// Removes the tag and path override of every stale assignment the filter selects, in one
/// write; the assignments stay, so their clusters follow the default again.
pub fn collapse(
    state: &AppState,
    caller: &Caller,
    filter: &OverrideFilter,
    dry_run: bool,
) -> Result<Outcome<Vec<StaleOverride>>, Error> {
    state.write(caller, dry_run, "stale overrides collapsed", |ctx| {
        collapse_in(ctx, filter)
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
    {
        let catalog = ctx.catalog().clone();
        check_filter(ctx.conn, &catalog, filter, "$.")?;
        let mut found = find(ctx.conn, &catalog, filter)?;
        found.retain(|(s, _)| !keep(&s.cluster, &s.component));
        for (item, before) in &found {
            let after = AssignmentRow {
                oci_tag: None,
                component_path: None,
                // Reason and expiry describe the override, which is gone.
                reason: None,
                expires_at: None,
                author: ctx.caller().actor.clone(),
                created_at: ctx.now,
                ..before.clone()
            };
            store::put_assignment(ctx.conn, &after)?;
            ctx.touch(&item.cluster);
            ctx.audit(
                "override.collapse",
                &format!("cluster/{}/components/{}", item.cluster, item.component),
                Some(&json!({
                    "oci_tag": before.oci_tag, "component_path": before.component_path, "reason": before.reason,
                    "default_tag": item.default_tag,
                })),
                Some(&json!({"oci_tag": null, "component_path": null, "reason": null})),
            );
        }
        Ok(found.into_iter().map(|(s, _)| s).collect())
    }
}

/// A filter naming a cluster or component that does not exist is refused: a typo would
/// otherwise look like "nothing is stale".
fn check_filter(
    conn: &mut DbConnection,
    catalog: &Catalog,
    filter: &OverrideFilter,
    prefix: &str,
) -> Result<(), Error> {
    if let Some(name) = &filter.cluster {
        if store::cluster(conn, name)?.is_none() {
            return Err(Error::field(
                format!("{prefix}cluster"),
                format!("unknown cluster {name:?}"),
            ));
        }
    }
    if let Some(id) = &filter.component {
        if catalog.component(id).is_none() {
            return Err(Error::field(
                format!("{prefix}component"),
                format!("unknown component {id:?}"),
            ));
        }
    }
    Ok(())
}

fn find(
    conn: &mut DbConnection,
    catalog: &Catalog,
    filter: &OverrideFilter,
) -> Result<Vec<(StaleOverride, AssignmentRow)>, Error> {
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
            out.push((
                StaleOverride {
                    cluster: row.name.clone(),
                    component: s.component.to_string(),
                    override_tag: s.override_tag.to_string(),
                    default_tag: s.default_tag.to_string(),
                    reason: assignment.reason.clone(),
                },
                assignment.clone(),
            ));
        }
    }
    Ok(out)
}
