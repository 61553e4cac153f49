//! One cluster's desired versus observed state, component by component.

use chrono::NaiveDateTime;

use super::drift::{self, ClusterSide, DriftKind, Finding};
use super::{AppState, DesiredComponent};
use crate::db::models_observed::ObservedRow;
use crate::error::Error;
use crate::store::{self, observed as q};

/// The latest state Flux reported for one object, as the service shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedView {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `ready`, `applied`, `failed` or `progressing` (see `readiness`).
    pub state: String,
    pub reason: String,
    pub message: String,
    /// The revision of the latest event: what Flux last tried.
    pub last_revision: Option<String>,
    /// The revision last applied, and its tag and digest.
    pub applied_revision: Option<String>,
    pub applied_tag: Option<String>,
    pub applied_digest: Option<String>,
    /// The applied revision's success event's own time.
    pub applied_at: Option<NaiveDateTime>,
    /// The latest event's own time.
    pub event_at: NaiveDateTime,
    /// When the object's state or applied revision last changed here (our clock).
    pub received_at: NaiveDateTime,
}

impl From<&ObservedRow> for ObservedView {
    fn from(r: &ObservedRow) -> Self {
        ObservedView {
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            state: r.state.clone(),
            reason: r.reason.clone(),
            message: r.message.clone(),
            last_revision: r.last_revision.clone(),
            applied_revision: r.applied_revision.clone(),
            applied_tag: r.applied_tag.clone(),
            applied_digest: r.applied_digest.clone(),
            applied_at: r.applied_at,
            event_at: r.event_at,
            received_at: r.received_at,
        }
    }
}

pub struct ComponentStatus {
    pub desired: DesiredComponent,
    /// The registry digest stored for the desired tag.
    pub desired_digest: Option<String>,
    pub kustomization: Option<ObservedView>,
    pub oci_repository: Option<ObservedView>,
    /// What is wrong with it, if anything (`mixed_versions` is a fleet finding, not listed here).
    pub drift: Vec<DriftKind>,
}

pub struct ClusterStatus {
    pub cluster: String,
    pub tier: String,
    pub revision: i64,
    pub last_event_at: Option<NaiveDateTime>,
    pub components: Vec<ComponentStatus>,
    /// Objects reporting to this cluster that we did not render.
    pub unmanaged: Vec<ObservedView>,
    pub findings: Vec<Finding>,
}

pub fn cluster_status(state: &AppState, cluster: &str) -> Result<ClusterStatus, Error> {
    let mut conn = state.conn()?;
    let row = store::cluster(&mut conn, cluster)?.ok_or_else(|| Error::NotFound {
        kind: "cluster",
        name: cluster.to_owned(),
    })?;
    let desired = state
        .observed
        .views
        .desired_all(&mut conn, std::slice::from_ref(&row))?
        .remove(&row.name)
        .unwrap_or_default();
    let rows = q::observed_of(&mut conn, cluster)?;
    let digests = drift::digests(&mut conn)?;
    let side = ClusterSide {
        name: &row.name,
        tier: &row.tier,
        namespace: &row.flux_namespace,
        created_at: row.created_at,
        desired: &desired,
    };
    let mut findings = Vec::new();
    drift::cluster_findings(&side, &rows, &digests, None, state.clock.now(), &mut findings, None);
    findings.sort_by_cached_key(Finding::sort_key);
    let (pairs, unmanaged) = drift::pair_up(&side, &rows);
    let components = desired
        .components
        .iter()
        .zip(pairs)
        .map(|(c, pair)| ComponentStatus {
            desired: c.clone(),
            desired_digest: digests.get(&c.artifact, &c.oci_tag).cloned(),
            kustomization: pair.kustomization.map(ObservedView::from),
            oci_repository: pair.oci_repository.map(ObservedView::from),
            drift: findings
                .iter()
                .filter(|f| f.component.as_ref() == Some(&c.id))
                .map(|f| f.kind)
                .collect(),
        })
        .collect();
    Ok(ClusterStatus {
        cluster: row.name.clone(),
        tier: row.tier.clone(),
        revision: row.revision,
        last_event_at: rows.iter().map(|r| r.event_at).max(),
        unmanaged: unmanaged.into_iter().map(ObservedView::from).collect(),
        components,
        findings,
    })
}
