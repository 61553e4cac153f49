//! Rolling a cluster back to an earlier revision by rewriting its assignments.
//!
//! A rollback is an ordinary write: it makes a new revision instead of rewinding history, so the
//! history keeps showing what ran when, and rolling back a rollback works the same way. Only
//! what assignments control is restored (which components run, and each one's tag and path);
//! Kustomization settings, the Flux namespace and the tier's digest pinning come from the
//! catalog and cluster as they are now.

use std::collections::BTreeMap;

use catalog::resolve::{resolve, Assignment, Cluster};
use catalog::{ClusterName, ComponentId};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::clusters::audit_assignment;
use super::{AppState, Caller, Ctx, Outcome};
use crate::db::models::{AssignmentRow, ClusterRow};
use crate::error::Error;
use crate::store::{self, effective::EffectiveRecord};

/// What a rollback did, besides the revision the write machinery reports.
#[derive(Debug)]
pub struct RolledBack {
    /// The revision whose tags and paths were restored.
    pub restored: i64,
    /// The cluster's revision before the rollback: still current when nothing changed.
    pub previous: i64,
}

/// Roll a cluster back to one of its revisions.
#[derive(Debug, Clone)]
pub struct Rollback {
    pub cluster: ClusterName,
    /// The revision whose tags and paths to restore.
    pub revision: i64,
    /// The person's reason, added to the overrides' and the new revision's reason.
    pub reason: Option<String>,
}

/// Rolls a cluster back: see the module documentation.
pub fn rollback(
    state: &AppState,
    caller: &Caller,
    command: Rollback,
    dry_run: bool,
) -> Result<Outcome<RolledBack>, Error> {
    let (cluster, n) = (command.cluster.as_str(), command.revision);
    // The override reason starts `rollback` whatever the person adds: that is what marks the
    // pins deliberate (see `overrides`).
    let reason = match command.reason.as_deref().map(str::trim) {
        Some(w) if w.len() > 170 => return Err(Error::refused("reason", "must be at most 170 characters")),
        Some(w) if !w.is_empty() => format!("rollback to revision {n}: {w}"),
        _ => format!("rollback to revision {n}"),
    };
    state.write(caller, dry_run, &reason, |ctx| {
        let row = store::cluster(ctx.conn, cluster)?.ok_or_else(|| Error::NotFound {
            kind: "cluster",
            name: cluster.to_owned(),
        })?;
        let target = store::revision(ctx.conn, cluster, n)?.ok_or_else(|| Error::NotFound {
            kind: "revision",
            name: format!("{cluster}@{n}"),
        })?;
        let record = EffectiveRecord::decode(&target.effective)?;
        let base = plain_resolution(ctx, &row, &record, n)?;
        let current = store::assignments(ctx.conn, cluster)?;
        let (mut before, mut after) = (BTreeMap::new(), BTreeMap::new());
        let mut rewrite = |ctx: &mut Ctx<'_>, old: Option<&AssignmentRow>, new: AssignmentRow| {
            let unchanged = old.is_some_and(|o| {
                (o.enabled, &o.oci_tag, &o.component_path, &o.reason, o.expires_at)
                    == (
                        new.enabled,
                        &new.oci_tag,
                        &new.component_path,
                        &new.reason,
                        new.expires_at,
                    )
            });
            if unchanged {
                return Ok::<_, Error>(());
            }
            before.insert(new.component.clone(), old.map(audit_assignment).unwrap_or(Value::Null));
            after.insert(new.component.clone(), audit_assignment(&new));
            store::put_assignment(ctx.conn, &new)?;
            Ok(())
        };
        for old in current.iter().filter(|a| a.enabled) {
            if !record.components.iter().any(|c| c.id == old.component) {
                let new = AssignmentRow {
                    enabled: false,
                    author: ctx.caller().actor.clone(),
                    created_at: ctx.now,
                    ..old.clone()
                };
                rewrite(ctx, Some(old), new)?;
            }
        }
        for c in &record.components {
            // Overrides only where the plain resolution differs, so a component that was on
            // its defaults at revision n follows its defaults again afterwards.
            let (tag, path) = base.get(c.id.as_str()).cloned().unwrap_or_default();
            let oci_tag = (c.oci_tag != tag).then(|| c.oci_tag.clone());
            let component_path = (c.component_path != path).then(|| c.component_path.clone());
            let overridden = oci_tag.is_some() || component_path.is_some();
            // The tier's tag policy is deliberately not checked again: a rollback restores what
            // this cluster already ran, and refusing it because a policy tightened since would
            // leave no way back from a bad release.
            let new = AssignmentRow {
                cluster: cluster.to_owned(),
                component: c.id.clone(),
                enabled: true,
                oci_tag,
                component_path,
                reason: overridden.then(|| reason.clone()),
                author: ctx.caller().actor.clone(),
                created_at: ctx.now,
                expires_at: None,
            };
            let old = current.iter().find(|a| a.component == c.id);
            rewrite(ctx, old, new)?;
        }
        ctx.touch(cluster);
        ctx.audit(
            "cluster.rollback",
            &format!("cluster/{cluster}"),
            Some(&json!({"revision": row.revision, "assignments": before})),
            Some(&json!({"rollback_to": n, "assignments": after})),
        );
        Ok(RolledBack {
            restored: n,
            previous: row.revision,
        })
    })
}

/// Each component of revision `n` as the cluster would run it now without any override:
/// (tag, path) by component id. Refuses when the catalog or cluster can no longer run them.
fn plain_resolution(
    ctx: &mut Ctx<'_>,
    row: &ClusterRow,
    record: &EffectiveRecord,
    n: i64,
) -> Result<BTreeMap<String, (String, String)>, Error> {
    let catalog = ctx.catalog();
    let gone: Vec<&str> = record
        .components
        .iter()
        .filter(|c| catalog.component(&c.id).is_none_or(|k| !k.enabled))
        .map(|c| c.id.as_str())
        .collect();
    if !gone.is_empty() {
        return Err(Error::Conflict(format!(
            "revision {n} of {} ran components the catalog no longer has (or has disabled): {}; \
             restore them in the catalog first",
            row.name,
            gone.join(", ")
        )));
    }
    if !row.enabled && !record.components.is_empty() {
        return Err(Error::Conflict(format!(
            "cluster {} is disabled, so revision {n}'s components cannot run on it; enable it first",
            row.name
        )));
    }
    let cluster = Cluster::try_from(row)?;
    let plain = record
        .components
        .iter()
        .map(|c| {
            ComponentId::parse(&c.id)
                .map(Assignment::plain)
                .map_err(|e| Error::Internal(format!("a stored revision no longer parses: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let now = DateTime::<Utc>::from_naive_utc_and_offset(ctx.now, Utc);
    let config = resolve(ctx.catalog(), &cluster, &plain, &[], now)?;
    Ok(config
        .components
        .iter()
        .map(|e| {
            (
                e.id.to_string(),
                (e.oci_tag.value.to_string(), e.component_path.value.to_string()),
            )
        })
        .collect())
}
