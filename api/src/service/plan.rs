//! Re-resolving clusters after a write, storing new revisions, and describing what changed.

use std::collections::BTreeMap;

use catalog::resolve::{resolve, Assignment, Cluster, RolloutPin};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::engine::Touched;
use super::Ctx;
use crate::db::models::ClusterRevisionRow;
use crate::error::Error;
use crate::store::{self, effective::EffectiveRecord};

/// The build and path a component runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TagPath {
    pub oci_tag: String,
    pub component_path: String,
}

/// One component's change on one cluster; `None` means absent on that side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ComponentChange {
    pub component: String,
    pub from: Option<TagPath>,
    pub to: Option<TagPath>,
}

/// A cluster whose effective config a write changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterChange {
    pub cluster: String,
    pub from_revision: Option<i64>,
    pub to_revision: i64,
    /// Components whose tag or path changed, or that appeared or went.
    pub components: Vec<ComponentChange>,
    /// On a dry run, the rendered diff of the components that change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    #[serde(skip)]
    pub before: Option<EffectiveRecord>,
    #[serde(skip)]
    pub after: EffectiveRecord,
}

fn tag_paths(record: Option<&EffectiveRecord>) -> BTreeMap<&str, TagPath> {
    record
        .map(|r| {
            r.components
                .iter()
                .map(|c| {
                    (
                        c.id.as_str(),
                        TagPath {
                            oci_tag: c.oci_tag.clone(),
                            component_path: c.component_path.clone(),
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn component_changes(before: Option<&EffectiveRecord>, after: &EffectiveRecord) -> Vec<ComponentChange> {
    let (old, new) = (tag_paths(before), tag_paths(Some(after)));
    let mut ids: Vec<&str> = old.keys().chain(new.keys()).copied().collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .filter(|id| old.get(id) != new.get(id))
        .map(|id| ComponentChange {
            component: id.to_owned(),
            from: old.get(id).cloned(),
            to: new.get(id).cloned(),
        })
        .collect()
}

/// Above this many touched clusters, `recompute` reads whole tables instead of cluster by cluster.
const BATCH_FROM: usize = 32;

/// Re-resolves every touched cluster; stores a revision for each whose effective config
/// changed when `store_revisions` (not on a dry run, whose transaction rolls back anyway but
/// whose plan must still say which revision would come next).
pub(super) fn recompute(ctx: &mut Ctx<'_>, reason: &str, store_revisions: bool) -> Result<Vec<ClusterChange>, Error> {
    // Many clusters are cheaper read in a few whole-table queries than one by one.
    let batch = match &ctx.touched {
        Touched::All => true,
        Touched::Some(names) => names.len() > BATCH_FROM,
    };
    let rows = match &ctx.touched {
        Touched::All => store::clusters(ctx.conn)?,
        Touched::Some(names) if batch => {
            let mut rows = store::clusters(ctx.conn)?;
            rows.retain(|r| names.contains(&r.name));
            rows
        }
        Touched::Some(names) => {
            let mut rows = Vec::with_capacity(names.len());
            for name in names {
                rows.extend(store::cluster(ctx.conn, name)?);
            }
            rows
        }
    };
    let mut assignments: BTreeMap<String, Vec<Assignment>> = BTreeMap::new();
    let mut pins: BTreeMap<String, Vec<RolloutPin>> = BTreeMap::new();
    let mut latest_of: BTreeMap<String, ClusterRevisionRow> = BTreeMap::new();
    if batch {
        for row in store::all_assignments(ctx.conn)? {
            assignments
                .entry(row.cluster.clone())
                .or_default()
                .push((&row).try_into()?);
        }
        for row in store::rollouts::all_pins(ctx.conn)? {
            pins.entry(row.cluster.clone()).or_default().push((&row).try_into()?);
        }
        for row in store::current_revisions(ctx.conn)? {
            latest_of.insert(row.cluster.clone(), row);
        }
    }
    let now = DateTime::<Utc>::from_naive_utc_and_offset(ctx.now, Utc);
    let digests = if store_revisions {
        Default::default()
    } else {
        super::render::digest_map(ctx.conn)?
    };
    let mut changes = Vec::new();
    let mut admission = super::admission::Admission::default();
    let mut tiers: BTreeMap<String, catalog::Tier> = BTreeMap::new();
    for row in rows {
        let cluster: Cluster = (&row).try_into()?;
        let mine = match batch {
            true => assignments.remove(&row.name).unwrap_or_default(),
            false => store::assignments(ctx.conn, &row.name)?
                .iter()
                .map(Assignment::try_from)
                .collect::<Result<_, _>>()?,
        };
        // Rollout pins sit on top of everything else and change nothing underneath, so deleting
        // a rollout's pins (its abort) resolves each cluster exactly as before the rollout —
        // the same record, hence a byte-equal render but for the revision — unless something
        // else changed meanwhile, which then shows as it would have without the rollout.
        let my_pins = match batch {
            true => pins.remove(&row.name).unwrap_or_default(),
            false => store::rollouts::pins_of_cluster(ctx.conn, &row.name)?
                .iter()
                .map(RolloutPin::try_from)
                .collect::<Result<_, _>>()?,
        };
        let config = resolve(ctx.catalog(), &cluster, &mine, &my_pins, now).map_err(|e| match e {
            catalog::Error::Unknown { kind: "tier", name, .. } => Error::Conflict(format!(
                "cluster {} is in tier {name:?}, which the catalog would no longer have",
                row.name
            )),
            other => Error::Catalog(other),
        })?;
        let record = EffectiveRecord::from(&config);
        let (json, hash) = record.encode();
        let latest = match batch {
            true => latest_of.remove(&row.name),
            false => store::latest_revision(ctx.conn, &row.name)?,
        };
        if latest.as_ref().is_some_and(|l| l.sha256 == hash) {
            continue;
        }
        let before = latest
            .as_ref()
            .map(|l| EffectiveRecord::decode(&l.effective))
            .transpose()?;
        let tier = match tiers.get(&record.tier) {
            Some(t) => t.clone(),
            None => {
                let t = ctx.catalog().tier(&record.tier)?.clone();
                tiers.insert(record.tier.clone(), t.clone());
                t
            }
        };
        admission.check(ctx.conn, &tier, before.as_ref(), &record)?;
        let next = latest.as_ref().map(|l| l.revision).unwrap_or(0).max(row.revision) + 1;
        if store_revisions {
            store::insert_revision(
                ctx.conn,
                &ClusterRevisionRow {
                    cluster: row.name.clone(),
                    revision: next,
                    effective: json,
                    sha256: hash,
                    catalog_revision: ctx.catalog_revision,
                    actor: ctx.caller().actor.clone(),
                    reason: reason.to_owned(),
                    created_at: ctx.now,
                },
            )?;
            store::set_cluster_revision(ctx.conn, &row.name, next, ctx.now)?;
        }
        let diff = match store_revisions {
            true => None,
            false => Some(super::diff::rendered_diff(before.as_ref(), &record, &digests)?),
        };
        changes.push(ClusterChange {
            cluster: row.name.clone(),
            from_revision: latest.map(|l| l.revision),
            to_revision: next,
            components: component_changes(before.as_ref(), &record),
            diff,
            before,
            after: record,
        });
    }
    Ok(changes)
}
