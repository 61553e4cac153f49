//! The fleet view: one row per cluster with what each component runs, why, and what the
//! cluster reports, read from the stored current revisions and the observed snapshot (a few
//! queries per page, however large the fleet).

use std::collections::BTreeMap;

use super::clusters::{self, ClusterFilter};
use super::observed::drift::{self, ClusterSide, DriftKind, Finding};
use super::observed::readiness::ObservedState;
use super::observed::Desired;
use super::AppState;
use crate::db::models::ClusterRow;
use crate::error::Error;
use crate::store::{self, effective::EffectiveRecord, effective::SourceRecord};

/// Why a component runs the tag it runs, as the fleet view names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provenance {
    /// The catalog: the component's or its artifact's default.
    Default,
    /// An override on the cluster (canary, rollback, …).
    Override,
    /// The cluster's own tag for every component.
    Pin,
    /// A rollout step moved it.
    Rollout,
    /// An override with reason `hotfix…`.
    Hotfix,
}

impl Provenance {
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::Default => "default",
            Provenance::Override => "override",
            Provenance::Pin => "pin",
            Provenance::Rollout => "rollout",
            Provenance::Hotfix => "hotfix",
        }
    }

    fn of(source: &SourceRecord) -> Provenance {
        match source.kind.as_str() {
            "rollout" => Provenance::Rollout,
            "override" if source.detail.as_deref().is_some_and(|r| r.starts_with("hotfix")) => Provenance::Hotfix,
            "override" => Provenance::Override,
            "cluster_pin" => Provenance::Pin,
            _ => Provenance::Default,
        }
    }
}

/// One component on one cluster.
#[derive(Clone, Debug)]
pub struct Cell {
    pub component: String,
    pub oci_tag: String,
    pub component_path: String,
    pub provenance: Provenance,
    /// The rollout id or the override's reason.
    pub detail: Option<String>,
    /// What Flux last reported (the worse of its two objects); `None` before any report.
    pub state: Option<ObservedState>,
    pub drift: Vec<DriftKind>,
}

/// One cluster of the fleet view.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub tier: String,
    pub labels: BTreeMap<String, String>,
    pub revision: i64,
    pub components: Vec<Cell>,
}

/// A page of the fleet view and whether another follows.
pub struct FleetPage {
    pub rows: Vec<Row>,
    pub more: bool,
}

/// What Flux last reported of each desired component: the worse of its two objects (a failed
/// source fails the component), else its Kustomization's state.
fn observed_states<'a>(
    side: &ClusterSide<'a>,
    reported: &[crate::db::models_observed::ObservedRow],
) -> BTreeMap<&'a str, ObservedState> {
    let (pairs, _) = drift::pair_up(side, reported);
    side.desired
        .components
        .iter()
        .zip(&pairs)
        .filter_map(|(d, p)| {
            let objects = [p.kustomization, p.oci_repository];
            let failed = objects
                .into_iter()
                .flatten()
                .any(|r| ObservedState::from_stored(&r.state) == ObservedState::Failed);
            let state = match failed {
                true => Some(ObservedState::Failed),
                false => p
                    .kustomization
                    .or(p.oci_repository)
                    .map(|r| ObservedState::from_stored(&r.state)),
            };
            state.map(|s| (d.id.as_str(), s))
        })
        .collect()
}

/// The clusters the filter keeps after `after` (by name), at most `limit`; with a component
/// filter each row shows only that component.
pub fn page(state: &AppState, filter: &ClusterFilter, after: Option<&str>, limit: usize) -> Result<FleetPage, Error> {
    page_named(state, filter, None, after, limit)
}

/// [`page`], keeping only clusters whose name contains `name_part` when one is given.
pub fn page_named(
    state: &AppState,
    filter: &ClusterFilter,
    name_part: Option<&str>,
    after: Option<&str>,
    limit: usize,
) -> Result<FleetPage, Error> {
    let all = clusters::rows(state, filter)?;
    let mut rest = all
        .into_iter()
        .filter(|r| name_part.is_none_or(|n| r.name.contains(n)))
        .filter(|r| after.is_none_or(|a| r.name.as_str() > a));
    let chosen: Vec<ClusterRow> = rest.by_ref().take(limit).collect();
    let more = rest.next().is_some();
    let mut conn = state.conn()?;
    let names: Vec<&str> = chosen.iter().map(|c| c.name.as_str()).collect();
    let mut records: BTreeMap<String, EffectiveRecord> = BTreeMap::new();
    for (name, json) in store::bulk::current_configs_of(&mut conn, &names)? {
        records.insert(name, EffectiveRecord::decode(&json)?);
    }
    let digests = drift::digests(&mut conn)?;
    let now = state.clock.now();
    let rows = state.observed.snapshot.with_rows(&mut conn, |observed| {
        chosen
            .iter()
            .map(|c| {
                let empty = EffectiveRecord {
                    cluster: c.name.clone(),
                    tier: c.tier.clone(),
                    pin_digest: false,
                    namespace: c.flux_namespace.clone(),
                    components: Vec::new(),
                };
                let record = records.get(&c.name).unwrap_or(&empty);
                let reported = observed.get(&c.name).map_or(&[][..], |r| &r[..]);
                row(c, record, reported, &digests, now, filter.component.as_deref())
            })
            .collect::<Result<Vec<Row>, Error>>()
    })??;
    Ok(FleetPage { rows, more })
}

fn row(
    c: &ClusterRow,
    record: &EffectiveRecord,
    reported: &[crate::db::models_observed::ObservedRow],
    digests: &drift::Digests,
    now: chrono::NaiveDateTime,
    only: Option<&str>,
) -> Result<Row, Error> {
    let desired = Desired::from_record(record);
    let side = ClusterSide {
        name: &c.name,
        tier: &c.tier,
        namespace: &c.flux_namespace,
        created_at: c.created_at,
        desired: &desired,
    };
    let mut findings: Vec<Finding> = Vec::new();
    drift::cluster_findings(&side, reported, digests, None, now, &mut findings, None);
    let states = observed_states(&side, reported);
    let mut cells: Vec<Cell> = record
        .components
        .iter()
        .filter(|rc| only.is_none_or(|o| o == rc.id))
        .map(|rc| {
            // A path override alone still makes the component differ from the catalog.
            let source = match rc.oci_tag_source.kind.as_str() {
                "component_default" | "artifact_default" => &rc.component_path_source,
                _ => &rc.oci_tag_source,
            };
            let mut drift: Vec<DriftKind> = findings
                .iter()
                .filter(|f| f.component.as_deref() == Some(rc.id.as_str()))
                .map(|f| f.kind)
                .collect();
            drift.sort();
            drift.dedup();
            Cell {
                component: rc.id.clone(),
                oci_tag: rc.oci_tag.clone(),
                component_path: rc.component_path.clone(),
                provenance: Provenance::of(source),
                detail: source.detail.clone(),
                state: states.get(rc.id.as_str()).copied(),
                drift,
            }
        })
        .collect();
    cells.sort_by(|a, b| a.component.cmp(&b.component));
    Ok(Row {
        name: c.name.clone(),
        tier: c.tier.clone(),
        labels: super::domain::labels_of(c)?,
        revision: c.revision,
        components: cells,
    })
}
