//! Drift: where what clusters report differs from what they should run, fleet-wide, from a
//! few whole-table reads compared in memory.
//!
//! Observed rows come from the in-memory [`super::snapshot`], so a report over a large fleet
//! reads only what changed since the last one.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use super::fnv::FnvMap;
use super::{AppState, ClusterView, Desired, DesiredComponent, KUSTOMIZATION, OCI_REPOSITORY};
use crate::db::models::ClusterRow;
use crate::db::models_observed::ObservedRow;
use crate::error::Error;
use crate::store;

/// Silence allowed beyond two intervals before a component counts as `silent`.
const SILENCE_GRACE_SECONDS: f64 = 300.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DriftKind {
    VersionMismatch,
    DigestMismatch,
    Failed,
    Silent,
    MixedVersions,
    Unmanaged,
}

impl DriftKind {
    pub const ALL: [DriftKind; 6] = [
        DriftKind::VersionMismatch,
        DriftKind::DigestMismatch,
        DriftKind::Failed,
        DriftKind::Silent,
        DriftKind::MixedVersions,
        DriftKind::Unmanaged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::VersionMismatch => "version_mismatch",
            DriftKind::DigestMismatch => "digest_mismatch",
            DriftKind::Failed => "failed",
            DriftKind::Silent => "silent",
            DriftKind::MixedVersions => "mixed_versions",
            DriftKind::Unmanaged => "unmanaged",
        }
    }

    pub fn parse(s: &str) -> Option<DriftKind> {
        DriftKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A Flux object on a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// One difference between desired and observed.
#[derive(Clone, Debug)]
pub struct Finding {
    pub kind: DriftKind,
    pub tier: String,
    /// `None` for fleet findings (`mixed_versions`).
    pub cluster: Option<String>,
    pub component: Option<String>,
    pub object: Option<ObjectRef>,
    pub desired_tag: Option<String>,
    pub desired_digest: Option<String>,
    pub applied_revision: Option<String>,
    pub last_event_at: Option<NaiveDateTime>,
    pub detail: String,
    /// `mixed_versions`: each applied digest and the clusters applying it.
    pub digests: BTreeMap<String, Vec<String>>,
}

impl Finding {
    /// The order findings are listed (and paged) in.
    pub fn sort_key(&self) -> String {
        let scope = self.cluster.clone().unwrap_or_else(|| format!("~tier/{}", self.tier));
        let name = self
            .component
            .as_deref()
            .or(self.object.as_ref().map(|o| o.name.as_str()))
            .unwrap_or("");
        let object = self
            .object
            .as_ref()
            .map_or(String::new(), |o| format!("{}/{}", o.kind, o.namespace));
        format!("{scope}\n{name}\n{}\n{object}", self.kind.as_str())
    }
}

/// Which findings a report lists.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub tier: Option<String>,
    pub cluster: Option<String>,
    pub component: Option<String>,
    pub kind: Option<DriftKind>,
    /// Overrides the silence threshold (default: twice the interval plus five minutes).
    pub silent_after: Option<chrono::Duration>,
}

impl Filter {
    fn keeps(&self, f: &Finding) -> bool {
        let cluster_ok = match (&self.cluster, &f.cluster) {
            (None, _) => true,
            (Some(want), Some(c)) => want == c,
            (Some(want), None) => f.digests.values().any(|cs| cs.contains(want)),
        };
        cluster_ok
            && self.tier.as_ref().is_none_or(|t| *t == f.tier)
            && self.component.as_ref().is_none_or(|c| f.component.as_ref() == Some(c))
            && self.kind.is_none_or(|k| k == f.kind)
    }
}

/// A cluster's objects for one component: its Kustomization and OCIRepository, if reported.
#[derive(Default, Clone, Copy)]
pub struct Pair<'a> {
    pub kustomization: Option<&'a ObservedRow>,
    pub oci_repository: Option<&'a ObservedRow>,
}

impl Pair<'_> {
    /// When anything was last heard of the component (our clock).
    pub fn last_heard(&self) -> Option<NaiveDateTime> {
        [self.kustomization, self.oci_repository]
            .into_iter()
            .flatten()
            .map(|r| r.received_at)
            .max()
    }
}

/// Splits a cluster's rows into its components' pairs (in the order of
/// `desired.components`) and the objects we did not render. No hashing: a fleet report does
/// this for every cluster.
pub fn pair_up<'a>(view: &ClusterSide<'_>, rows: &'a [ObservedRow]) -> (Vec<Pair<'a>>, Vec<&'a ObservedRow>) {
    let components = &view.desired.components;
    let mut pairs = vec![Pair::default(); components.len()];
    let mut unmanaged = Vec::new();
    for row in rows {
        let at = match row.namespace == view.namespace {
            true => components.binary_search_by(|c| c.id.as_str().cmp(&row.name)).ok(),
            false => None,
        };
        match (row.kind.as_str(), at) {
            (KUSTOMIZATION, Some(i)) => pairs[i].kustomization = Some(row),
            (OCI_REPOSITORY, Some(i)) => pairs[i].oci_repository = Some(row),
            _ => unmanaged.push(row),
        }
    }
    (pairs, unmanaged)
}

/// What drift needs of a cluster.
pub struct ClusterSide<'a> {
    pub name: &'a str,
    pub tier: &'a str,
    pub namespace: &'a str,
    pub created_at: NaiveDateTime,
    pub desired: &'a Desired,
}

impl<'a> From<&'a ClusterView> for ClusterSide<'a> {
    fn from(v: &'a ClusterView) -> Self {
        ClusterSide {
            name: &v.name,
            tier: &v.tier,
            namespace: &v.namespace,
            created_at: v.created_at,
            desired: &v.desired,
        }
    }
}

/// The registry digest stored for each tag, by artifact: looked up by `&str`, without building
/// a key per component.
#[derive(Default)]
pub struct Digests(FnvMap<String, FnvMap<String, String>>);

impl Digests {
    pub fn get(&self, artifact: &str, tag: &str) -> Option<&String> {
        self.0.get(artifact)?.get(tag)
    }
}

pub fn digests(conn: &mut crate::db::DbConnection) -> Result<Digests, Error> {
    let mut map: FnvMap<String, FnvMap<String, String>> = FnvMap::default();
    for t in store::all_tags(conn)? {
        if let Some(d) = t.digest {
            map.entry(t.artifact_id).or_default().insert(t.tag, d);
        }
    }
    Ok(Digests(map))
}

/// Which digest each cluster applies for each desired (tier, component, tag), for
/// `mixed_versions`: borrowed, so a fleet costs no allocation per component.
pub type Applied<'a> = FnvMap<(&'a str, &'a str, &'a str), Vec<(&'a str, &'a str)>>;

/// The findings of one cluster (all but the fleet-wide `mixed_versions`); what each component
/// applies goes to `applied` when given.
pub fn cluster_findings<'a>(
    cluster: &ClusterSide<'a>,
    rows: &'a [ObservedRow],
    digests: &Digests,
    silent_after: Option<chrono::Duration>,
    now: NaiveDateTime,
    out: &mut Vec<Finding>,
    mut applied: Option<&mut Applied<'a>>,
) {
    let (pairs, unmanaged) = pair_up(cluster, rows);
    for (c, pair) in cluster.desired.components.iter().zip(pairs) {
        component_findings(cluster, c, pair, digests, silent_after, now, out);
        if let (Some(applied), Some(k)) = (applied.as_deref_mut(), pair.kustomization) {
            let same_tag = k.applied_tag.as_deref().is_none_or(|t| t == c.oci_tag);
            if let (true, Some(d)) = (same_tag, k.applied_digest.as_deref()) {
                applied
                    .entry((cluster.tier, c.id.as_str(), c.oci_tag.as_str()))
                    .or_default()
                    .push((d, cluster.name));
            }
        }
    }
    for row in unmanaged {
        let mut f = finding(cluster, DriftKind::Unmanaged, None, Some(row));
        f.detail = format!(
            "{} {}/{} reports to this cluster but is not rendered for it",
            row.kind, row.namespace, row.name
        );
        out.push(f);
    }
}

fn finding(
    cluster: &ClusterSide<'_>,
    kind: DriftKind,
    c: Option<&DesiredComponent>,
    row: Option<&ObservedRow>,
) -> Finding {
    Finding {
        kind,
        tier: cluster.tier.to_owned(),
        cluster: Some(cluster.name.to_owned()),
        component: c.map(|c| c.id.clone()),
        object: row.map(|r| ObjectRef {
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        }),
        desired_tag: c.map(|c| c.oci_tag.clone()),
        desired_digest: None,
        applied_revision: row.and_then(|r| r.applied_revision.clone()),
        last_event_at: row.map(|r| r.event_at),
        detail: String::new(),
        digests: BTreeMap::new(),
    }
}

fn component_findings(
    cluster: &ClusterSide<'_>,
    c: &DesiredComponent,
    pair: Pair<'_>,
    digests: &Digests,
    silent_after: Option<chrono::Duration>,
    now: NaiveDateTime,
    out: &mut Vec<Finding>,
) {
    let stored = digests.get(&c.artifact, &c.oci_tag);
    for row in [pair.kustomization, pair.oci_repository].into_iter().flatten() {
        if super::readiness::ObservedState::from_stored(&row.state) == super::readiness::ObservedState::Failed {
            let mut f = finding(cluster, DriftKind::Failed, Some(c), Some(row));
            f.desired_digest = stored.cloned();
            f.detail = format!("{} {}: {}", row.kind, row.reason, row.message);
            out.push(f);
        }
    }
    if let Some(k) = pair.kustomization {
        // The revision was split into tag and digest when the event came in.
        let (tag, digest) = (k.applied_tag.as_deref(), k.applied_digest.as_deref());
        let kind = match (tag, digest, stored) {
            (Some(t), _, _) if t != c.oci_tag => Some((DriftKind::VersionMismatch, "applies another tag")),
            (Some(_), Some(d), Some(s)) if d != s => Some((
                DriftKind::DigestMismatch,
                "applies the desired tag at another digest than the registry's: the tag moved",
            )),
            (None, Some(d), Some(s)) if d != s => Some((
                DriftKind::VersionMismatch,
                "applies another digest than the desired tag's",
            )),
            _ => None,
        };
        if let (Some((kind, why)), Some(applied)) = (kind, &k.applied_revision) {
            let mut f = finding(cluster, kind, Some(c), Some(k));
            f.desired_digest = stored.cloned();
            f.detail = format!(
                "{why}: applied {applied}, desired {}{}",
                c.oci_tag,
                stored.map(|s| format!("@{s}")).unwrap_or_default()
            );
            out.push(f);
        }
    }
    let threshold = silent_after.unwrap_or_else(|| {
        chrono::Duration::milliseconds(((2.0 * c.interval_seconds + SILENCE_GRACE_SECONDS) * 1000.0) as i64)
    });
    let heard = pair.last_heard();
    if now - heard.unwrap_or(cluster.created_at) > threshold {
        let mut f = finding(
            cluster,
            DriftKind::Silent,
            Some(c),
            pair.kustomization.or(pair.oci_repository),
        );
        f.desired_digest = stored.cloned();
        f.detail = match heard {
            Some(at) => format!(
                "no event since {} (allowed: {}s)",
                crate::service::time::rfc3339(at),
                threshold.num_seconds()
            ),
            None => format!("no event ever received (allowed: {}s)", threshold.num_seconds()),
        };
        out.push(f);
    }
}

/// A drift report: the findings kept by the filter, in order, and how many there are of each
/// kind in each tier over the whole fleet.
pub struct Report {
    pub findings: Vec<Finding>,
    pub counts: BTreeMap<(DriftKind, String), u64>,
}

/// The fleet's drift; see the module documentation.
pub fn report(state: &AppState, filter: &Filter) -> Result<Report, Error> {
    let mut conn = state.conn()?;
    let clusters: Vec<ClusterRow> = match &filter.cluster {
        // One cluster still needs its tier's peers for `mixed_versions`.
        Some(name) => {
            let tier = store::cluster(&mut conn, name)?.map(|c| c.tier);
            store::clusters(&mut conn)?
                .into_iter()
                .filter(|c| Some(&c.tier) == tier.as_ref())
                .collect()
        }
        None => store::clusters(&mut conn)?,
    };
    let desired = state.observed.views.desired_all(&mut conn, &clusters)?;
    let digests = digests(&mut conn)?;
    let now = state.clock.now();
    let empty = Vec::new();
    let all = state.observed.snapshot.with_rows(&mut conn, |rows| {
        let mut out = Vec::new();
        let mut applied = Applied::default();
        for c in &clusters {
            let Some(d) = desired.get(&c.name) else { continue };
            let side = ClusterSide {
                name: &c.name,
                tier: &c.tier,
                namespace: &c.flux_namespace,
                created_at: c.created_at,
                desired: d,
            };
            let cluster_rows = rows.get(&c.name).map_or(&empty[..], |r| &r[..]);
            cluster_findings(
                &side,
                cluster_rows,
                &digests,
                filter.silent_after,
                now,
                &mut out,
                Some(&mut applied),
            );
        }
        for ((tier, component, tag), list) in applied {
            if list.iter().any(|(d, _)| *d != list[0].0) {
                let mut by_digest: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for (d, cluster) in list {
                    by_digest.entry(d.to_owned()).or_default().push(cluster.to_owned());
                }
                out.push(mixed_finding(tier, component, tag, by_digest));
            }
        }
        out
    })?;
    let mut counts = BTreeMap::new();
    for f in &all {
        *counts.entry((f.kind, f.tier.clone())).or_insert(0) += 1;
    }
    let mut findings: Vec<Finding> = all.into_iter().filter(|f| filter.keeps(f)).collect();
    findings.sort_by_cached_key(Finding::sort_key);
    Ok(Report { findings, counts })
}

fn mixed_finding(tier: &str, component: &str, tag: &str, digests: BTreeMap<String, Vec<String>>) -> Finding {
    let detail = format!(
        "clusters of tier {tier} wanting {component} {tag} apply {} different digests",
        digests.len()
    );
    Finding {
        kind: DriftKind::MixedVersions,
        tier: tier.to_owned(),
        cluster: None,
        component: Some(component.to_owned()),
        object: None,
        desired_tag: Some(tag.to_owned()),
        desired_digest: None,
        applied_revision: None,
        last_event_at: None,
        detail,
        digests,
    }
}
