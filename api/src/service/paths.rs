//! Which component paths (version directories of the platform repo tree) something still
//! uses, and who: what `prune` must never remove.
//!
//! A path is in use when the catalog defaults to it, an override, hotfix or cluster pin runs
//! it, an active or halted rollout moves from or to it, a hold keeps a cluster on it, or a
//! cluster ran it within the rollback window (so a rollback to that revision still builds).
//! The same answer comes from the service's store or, offline, from the catalog and clusters
//! files (which know no rollouts, holds or revisions).

use std::collections::{BTreeMap, BTreeSet};

use catalog::Catalog;
use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::fleet::ClustersDocument;
use super::rollouts::{self, RolloutState, ACTIVE};
use super::AppState;
use crate::db::DbConnection;
use crate::error::Error;
use crate::store::{self, effective::PreviousRecord, holds, rollouts as rollout_rows};

/// What kind of thing uses a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UseKind {
    Default,
    Override,
    Pin,
    Rollout,
    Hold,
    Hotfix,
    Revision,
}

impl UseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UseKind::Default => "default",
            UseKind::Override => "override",
            UseKind::Pin => "pin",
            UseKind::Rollout => "rollout",
            UseKind::Hold => "hold",
            UseKind::Hotfix => "hotfix",
            UseKind::Revision => "revision",
        }
    }
}

/// One use of a path; the ids name who (a cluster, a component, a rollout, a hold, a revision).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PathUse {
    pub kind: UseKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

impl PathUse {
    fn new(kind: UseKind, cluster: Option<&str>, component: &str) -> Self {
        PathUse {
            kind,
            component: Some(component.to_owned()),
            cluster: cluster.map(str::to_owned),
            rollout: None,
            hold: None,
            revision: None,
        }
    }

    /// One short line: `default cert-manager`, `rollout #3 prod-eu-1/grafana`, `revision prod-eu-1@4 grafana`.
    pub fn label(&self) -> String {
        let mut out = self.kind.as_str().to_owned();
        if let Some(id) = self.rollout {
            out.push_str(&format!(" #{id}"));
        }
        if let Some(id) = self.hold {
            out.push_str(&format!(" #{id}"));
        }
        match (&self.cluster, self.revision, &self.component) {
            (Some(cluster), Some(rev), Some(component)) => out.push_str(&format!(" {cluster}@{rev} {component}")),
            (Some(cluster), _, Some(component)) => out.push_str(&format!(" {cluster}/{component}")),
            (Some(cluster), _, None) => out.push_str(&format!(" {cluster}")),
            (None, _, Some(component)) => out.push_str(&format!(" {component}")),
            (None, _, None) => {}
        }
        out
    }
}

/// Each used path with its uses, in path order.
pub type InUse = BTreeMap<String, BTreeSet<PathUse>>;

fn add(out: &mut InUse, path: &str, u: PathUse) {
    out.entry(path.to_owned()).or_default().insert(u);
}

/// The default rollback window: revisions a cluster ran within it stay buildable.
pub const DEFAULT_ROLLBACK_WINDOW: &str = "30d";

/// Every path in use now, from the store; revisions count when a cluster ran them within
/// `window` before `now`.
pub fn in_use(state: &AppState, window: Duration, now: NaiveDateTime) -> Result<InUse, Error> {
    let mut conn = state.conn()?;
    let (_, catalog) = state.catalog(&mut conn)?;
    let mut out = InUse::new();
    defaults(&catalog, &mut out);
    for a in store::all_assignments(&mut conn)? {
        if let Some(path) = &a.component_path {
            add(
                &mut out,
                path,
                PathUse::new(override_kind(a.reason.as_deref()), Some(&a.cluster), &a.component),
            );
        }
    }
    current(&mut conn, now, &mut out)?;
    rollouts_in_use(&mut conn, &mut out)?;
    let since = now.checked_sub_signed(window).unwrap_or(NaiveDateTime::MIN);
    for (cluster, revision, effective) in store::bulk::revisions_live_since(&mut conn, since)? {
        for c in PreviousRecord::decode(&effective)?.components {
            let mut u = PathUse::new(UseKind::Revision, Some(&cluster), &c.id);
            u.revision = Some(revision);
            add(&mut out, &c.component_path, u);
        }
    }
    Ok(out)
}

fn defaults(catalog: &Catalog, out: &mut InUse) {
    for c in catalog.components() {
        add(
            out,
            c.component_path.as_str(),
            PathUse::new(UseKind::Default, None, c.id.as_str()),
        );
    }
}

/// An override made by a hotfix carries the reason `hotfix` (or `hotfix: why`).
fn override_kind(reason: Option<&str>) -> UseKind {
    match reason {
        Some(r) if r == "hotfix" || r.starts_with("hotfix:") => UseKind::Hotfix,
        _ => UseKind::Override,
    }
}

/// What clusters run now, for those a cluster-wide pin or a hold keeps where they are.
fn current(conn: &mut DbConnection, now: NaiveDateTime, out: &mut InUse) -> Result<(), Error> {
    let pinned: BTreeSet<String> = store::clusters(conn)?
        .into_iter()
        .filter(|c| c.oci_tag.is_some())
        .map(|c| c.name)
        .collect();
    let holds: Vec<super::holds::Hold> = holds::active(conn, now)?.into_iter().map(Into::into).collect();
    for row in store::current_revisions(conn)? {
        let record = PreviousRecord::decode(&row.effective)?;
        for c in &record.components {
            if pinned.contains(&row.cluster) {
                add(
                    out,
                    &c.component_path,
                    PathUse::new(UseKind::Pin, Some(&row.cluster), &c.id),
                );
            }
            for h in holds.iter().filter(|h| h.covers(&row.cluster, &c.id)) {
                let mut u = PathUse::new(UseKind::Hold, Some(&row.cluster), &c.id);
                u.hold = Some(h.id);
                add(out, &c.component_path, u);
            }
        }
    }
    Ok(())
}

/// Both ends of every step of every active or halted rollout, and the paths it moves to.
fn rollouts_in_use(conn: &mut DbConnection, out: &mut InUse) -> Result<(), Error> {
    for row in rollout_rows::in_states(conn, &RolloutState::names(&ACTIVE))? {
        let rollout = rollouts::load(conn, row.id)?;
        let mut mark = |path: &str, cluster: Option<&str>, component: &str| {
            let mut u = PathUse::new(UseKind::Rollout, cluster, component);
            u.rollout = Some(rollout.id);
            add(out, path, u);
        };
        for (component, path) in &rollout.component_paths {
            if let Some(path) = path {
                mark(path, None, component);
            }
        }
        for step in &rollout.steps {
            for sc in &step.clusters {
                for c in &sc.components {
                    for tp in c.from.iter().chain(std::iter::once(&c.to)) {
                        mark(&tp.component_path, Some(&sc.cluster), &c.component);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Every path in use according to the catalog and clusters files alone: defaults, overrides
/// and hotfixes, and what each pinned cluster runs.
pub fn in_use_offline(catalog: &Catalog, clusters: Option<&ClustersDocument>) -> InUse {
    let mut out = InUse::new();
    defaults(catalog, &mut out);
    for cluster in clusters.map(|d| d.clusters.as_slice()).unwrap_or_default() {
        for (component, a) in &cluster.components {
            if let Some(path) = &a.component_path {
                add(
                    &mut out,
                    path,
                    PathUse::new(override_kind(a.reason.as_deref()), Some(&cluster.name), component),
                );
            }
        }
        if cluster.oci_tag.is_none() {
            continue;
        }
        for c in catalog.components() {
            let a = cluster.components.get(c.id.as_str());
            if !a.map_or(c.enabled, |a| a.enabled) {
                continue;
            }
            let path = a
                .and_then(|a| a.component_path.as_deref())
                .unwrap_or(c.component_path.as_str());
            add(
                &mut out,
                path,
                PathUse::new(UseKind::Pin, Some(&cluster.name), c.id.as_str()),
            );
        }
    }
    out
}
