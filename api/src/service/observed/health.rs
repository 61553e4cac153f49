//! Whether the clusters of a rollout step run what the step gave them: the rollout gate's
//! question, answered from the observed state.

use chrono::NaiveDateTime;

use super::readiness::{self, ObservedState};
use super::{parse_revision, KUSTOMIZATION, OCI_REPOSITORY};
use crate::db::models_observed::ObservedRow;
use crate::db::DbConnection;
use crate::error::Error;
use crate::store::observed as q;

/// What one component on one cluster should run after a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthQuery {
    pub cluster: String,
    pub component: String,
    pub oci_tag: String,
    /// The digest the tag should resolve to (the registry's, as stored), when known.
    pub digest: Option<String>,
    /// The component's Kustomization `wait`: with it, only a health verdict passes (see
    /// [`super::readiness`]); without it, the change set of the revision applied does.
    pub wait: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// The component's Kustomization reported the desired revision ready after the step (or,
    /// without `wait`, applied).
    Ready,
    /// Its last reconcile after the step failed (the Kustomization, or the OCIRepository
    /// fetching the artifact).
    Failed { reason: String, message: String },
    /// Nothing conclusive since the step: no event yet, still progressing, or ready at
    /// another revision.
    Pending,
}

/// The health of each `(cluster, component)` after a step applied at `since`, in the order
/// asked. Only events the cluster sent at or after `since` (their own timestamps) count, so a
/// report from before the step never passes it. A failure of the desired revision, or of any
/// reconcile after `since`, is `Failed`; a later success clears it (the row keeps the latest).
pub fn step_health(
    conn: &mut DbConnection,
    items: &[HealthQuery],
    since: NaiveDateTime,
) -> Result<Vec<(String, String, Health)>, Error> {
    let mut clusters: Vec<&str> = items.iter().map(|i| i.cluster.as_str()).collect();
    clusters.sort_unstable();
    clusters.dedup();
    let mut rows: Vec<ObservedRow> = Vec::new();
    // Bounded IN lists: SQLite caps the parameters of one statement.
    for chunk in clusters.chunks(400) {
        rows.extend(q::observed_on(conn, chunk, KUSTOMIZATION)?);
        rows.extend(q::observed_on(conn, chunk, OCI_REPOSITORY)?);
    }
    let find = |kind: &str, cluster: &str, name: &str| {
        rows.iter()
            .find(|r| r.kind == kind && r.cluster == cluster && r.name == name)
    };
    Ok(items
        .iter()
        .map(|item| {
            let k = find(KUSTOMIZATION, &item.cluster, &item.component);
            let o = find(OCI_REPOSITORY, &item.cluster, &item.component);
            let health = judge(item, k, o, since);
            (item.cluster.clone(), item.component.clone(), health)
        })
        .collect())
}

fn judge(item: &HealthQuery, k: Option<&ObservedRow>, o: Option<&ObservedRow>, since: NaiveDateTime) -> Health {
    let failed = |r: &ObservedRow| Health::Failed {
        reason: r.reason.clone(),
        message: r.message.clone(),
    };
    let fresh = |r: &&ObservedRow| r.event_at >= since;
    if let Some(k) = k.filter(fresh) {
        match ObservedState::from_stored(&k.state) {
            ObservedState::Failed => return failed(k),
            state
                if readiness::gate_accepts(state, item.wait)
                    && k.applied_revision
                        .as_deref()
                        .is_some_and(|a| parse_revision(a).matches(&item.oci_tag, item.digest.as_deref())) =>
            {
                return Health::Ready
            }
            _ => {}
        }
    }
    match o.filter(fresh) {
        Some(o) if ObservedState::from_stored(&o.state) == ObservedState::Failed => failed(o),
        _ => Health::Pending,
    }
}
