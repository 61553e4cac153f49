//! What the receiver and the drift report know of each cluster, kept in memory: its desired
//! components per stored revision (immutable, so kept while the revision is current), and for
//! the receiver its tier, namespace and event secret, trusted for a second like tokens are.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::fnv::FnvMap;
use super::{flux_seconds, KUSTOMIZATION, OCI_REPOSITORY};
use crate::db::models::ClusterRow;
use crate::db::DbConnection;
use crate::error::Error;
use crate::store::{self, effective::EffectiveRecord, observed as q};

/// How long the receiver trusts what it read of a cluster: a new revision or a rotated secret
/// made through another replica takes effect within this long.
const TRUST_FOR: Duration = Duration::from_secs(1);
/// Above this many entries a cache starts over rather than grow without bound.
const MAX_ENTRIES: usize = 100_000;

/// One component a cluster should run.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredComponent {
    pub id: String,
    pub artifact: String,
    pub oci_tag: String,
    /// The Kustomization's interval, in seconds.
    pub interval_seconds: f64,
}

/// A cluster's desired components at one revision, by component id.
#[derive(Clone, Debug, Default)]
pub struct Desired {
    pub components: Vec<DesiredComponent>,
}

impl Desired {
    pub(crate) fn from_record(record: &EffectiveRecord) -> Desired {
        let mut components: Vec<DesiredComponent> = record
            .components
            .iter()
            .map(|c| DesiredComponent {
                id: c.id.clone(),
                artifact: c.artifact.clone(),
                oci_tag: c.oci_tag.clone(),
                interval_seconds: flux_seconds(&c.interval).unwrap_or(600.0),
            })
            .collect();
        components.sort_by(|a, b| a.id.cmp(&b.id));
        Desired { components }
    }

    pub fn get(&self, id: &str) -> Option<&DesiredComponent> {
        self.components
            .binary_search_by(|c| c.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.components[i])
    }
}

/// A cluster as the receiver sees it.
#[derive(Clone, Debug)]
pub struct ClusterView {
    pub name: String,
    pub tier: String,
    pub namespace: String,
    pub revision: i64,
    pub created_at: NaiveDateTime,
    pub secret: Option<String>,
    pub desired: Arc<Desired>,
}

impl ClusterView {
    /// The component a Flux object renders on this cluster: an `OCIRepository` or
    /// `Kustomization` named after an enabled component, in the cluster's Flux namespace.
    pub fn component_of(&self, kind: &str, namespace: &str, name: &str) -> Option<String> {
        let ours = (kind == KUSTOMIZATION || kind == OCI_REPOSITORY) && namespace == self.namespace;
        ours.then(|| self.desired.get(name).map(|c| c.id.clone())).flatten()
    }
}

#[derive(Default)]
pub struct Views {
    clusters: Mutex<HashMap<String, (Instant, Arc<ClusterView>)>>,
    desired: Mutex<HashMap<String, (i64, Arc<Desired>)>>,
}

fn poisoned<T>(_: T) -> Error {
    Error::Internal("an observed-state cache lock was poisoned by a panic".into())
}

impl Views {
    /// The receiver's view of a cluster; 404 for a cluster that does not exist.
    pub fn get(&self, conn: &mut DbConnection, cluster: &str) -> Result<Arc<ClusterView>, Error> {
        if let Some(view) = self.cached(cluster)? {
            return Ok(view);
        }
        let row = store::cluster(conn, cluster)?.ok_or_else(|| Error::NotFound {
            kind: "cluster",
            name: cluster.to_owned(),
        })?;
        let secret = q::event_secret(conn, cluster)?;
        let desired = self.desired_at(conn, &row)?;
        let view = Arc::new(ClusterView {
            name: row.name,
            tier: row.tier,
            namespace: row.flux_namespace,
            revision: row.revision,
            created_at: row.created_at,
            secret,
            desired,
        });
        let mut clusters = self.clusters.lock().map_err(poisoned)?;
        if clusters.len() >= MAX_ENTRIES {
            clusters.clear();
        }
        clusters.insert(cluster.to_owned(), (Instant::now(), view.clone()));
        Ok(view)
    }

    /// The view of a cluster read in the last [`TRUST_FOR`], if there is one: no database needed.
    pub fn cached(&self, cluster: &str) -> Result<Option<Arc<ClusterView>>, Error> {
        let clusters = self.clusters.lock().map_err(poisoned)?;
        Ok(clusters
            .get(cluster)
            .filter(|(at, _)| at.elapsed() < TRUST_FOR)
            .map(|(_, view)| view.clone()))
    }

    /// Forgets what is known of a cluster: after its secret changed here.
    pub fn forget(&self, cluster: &str) {
        if let Ok(mut clusters) = self.clusters.lock() {
            clusters.remove(cluster);
        }
    }

    fn desired_at(&self, conn: &mut DbConnection, row: &ClusterRow) -> Result<Arc<Desired>, Error> {
        if let Some((rev, d)) = self.desired.lock().map_err(poisoned)?.get(&row.name) {
            if *rev == row.revision {
                return Ok(d.clone());
            }
        }
        let stored = store::revision(conn, &row.name, row.revision)?;
        let desired = match stored {
            Some(r) => Arc::new(Desired::from_record(&EffectiveRecord::decode(&r.effective)?)),
            // A cluster with no revision yet wants nothing.
            None => Arc::new(Desired::default()),
        };
        self.remember(&row.name, row.revision, desired.clone())?;
        Ok(desired)
    }

    fn remember(&self, cluster: &str, revision: i64, desired: Arc<Desired>) -> Result<(), Error> {
        let mut map = self.desired.lock().map_err(poisoned)?;
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(cluster.to_owned(), (revision, desired));
        Ok(())
    }

    /// Takes in what a committed write made each cluster want, so the next drift report (and
    /// the receiver) need not read it back.
    pub(crate) fn remember_all<'a>(
        &self,
        wanted: impl Iterator<Item = (&'a str, i64, Arc<Desired>)>,
    ) -> Result<(), Error> {
        let mut map = self.desired.lock().map_err(poisoned)?;
        for (cluster, revision, desired) in wanted {
            if map.len() >= MAX_ENTRIES && !map.contains_key(cluster) {
                map.clear();
            }
            map.insert(cluster.to_owned(), (revision, desired));
        }
        Ok(())
    }

    /// Every cluster's desired components at its current revision: from memory where the
    /// revision is known, else read (all current revisions in one query when many are missing).
    pub fn desired_all(
        &self,
        conn: &mut DbConnection,
        clusters: &[ClusterRow],
    ) -> Result<FnvMap<String, Arc<Desired>>, Error> {
        let mut out = FnvMap::with_capacity_and_hasher(clusters.len(), Default::default());
        let mut missing = Vec::new();
        {
            let map = self.desired.lock().map_err(poisoned)?;
            for c in clusters {
                match map.get(&c.name) {
                    Some((rev, d)) if *rev == c.revision => {
                        out.insert(c.name.clone(), d.clone());
                    }
                    _ => missing.push(c),
                }
            }
        }
        if missing.len() > 32 {
            for r in store::current_revisions(conn)? {
                if out.contains_key(&r.cluster) {
                    continue;
                }
                let d = Arc::new(Desired::from_record(&EffectiveRecord::decode(&r.effective)?));
                self.remember(&r.cluster, r.revision, d.clone())?;
                out.insert(r.cluster, d);
            }
        } else {
            for c in missing {
                let d = self.desired_at(conn, c)?;
                out.insert(c.name.clone(), d);
            }
        }
        Ok(out)
    }
}
