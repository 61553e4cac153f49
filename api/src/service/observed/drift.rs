//! Drift: where what clusters report differs from what they should run, fleet-wide, from a
//! few whole-table reads compared in memory.
//!
//! Observed rows are kept in memory and refreshed from the rows taken in since the last read
//! (with an overlap, since another replica's commit can land a little after its timestamp), so
//! a report over a large fleet reads only what changed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};

use super::{parse_revision, AppState, ClusterView, Desired, DesiredComponent, KUSTOMIZATION, OCI_REPOSITORY};
use crate::db::models::ClusterRow;
use crate::db::models_observed::ObservedRow;
use crate::error::Error;
use crate::store::{self, observed as q};

/// How far back each refresh reaches before the previous one began.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(10);
/// How often the snapshot is read whole, dropping the rows of deleted clusters.
const FULL_EVERY: Duration = Duration::from_secs(600);
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

/// Observed rows in memory, by cluster.
#[derive(Default)]
pub struct Snapshot {
    inner: Mutex<SnapshotInner>,
}

#[derive(Default)]
struct SnapshotInner {
    rows: HashMap<String, Vec<ObservedRow>>,
    /// When the last refresh began (our clock), and when the last full read was.
    read_from: Option<NaiveDateTime>,
    full_at: Option<Instant>,
}

impl Snapshot {
    /// Brings the snapshot up to date and hands `f` the rows.
    fn with_rows<T>(
        &self,
        conn: &mut crate::db::DbConnection,
        f: impl FnOnce(&HashMap<String, Vec<ObservedRow>>) -> T,
    ) -> Result<T, Error> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| Error::Internal("the observed snapshot lock was poisoned by a panic".into()))?;
        let started = Utc::now().naive_utc();
        let full = inner.full_at.is_none_or(|at| at.elapsed() >= FULL_EVERY);
        let since = if full {
            None
        } else {
            inner.read_from.map(|t| t - OVERLAP)
        };
        let rows = q::observed_since(conn, since)?;
        if full {
            inner.rows.clear();
            inner.full_at = Some(Instant::now());
        }
        for row in rows {
            let list = inner.rows.entry(row.cluster.clone()).or_default();
            match list
                .iter_mut()
                .find(|r| r.kind == row.kind && r.namespace == row.namespace && r.name == row.name)
            {
                Some(slot) => *slot = row,
                None => list.push(row),
            }
        }
        inner.read_from = Some(started);
        Ok(f(&inner.rows))
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

/// Splits a cluster's rows into its components' pairs and the objects we did not render.
pub fn pair_up<'a>(
    view: &ClusterSide<'_>,
    rows: &'a [ObservedRow],
) -> (HashMap<&'a str, Pair<'a>>, Vec<&'a ObservedRow>) {
    let mut pairs: HashMap<&str, Pair> = HashMap::new();
    let mut unmanaged = Vec::new();
    for row in rows {
        let ours = row.namespace == view.namespace && view.desired.get(&row.name).is_some();
        match (row.kind.as_str(), ours) {
            (KUSTOMIZATION, true) => pairs.entry(&row.name).or_default().kustomization = Some(row),
            (OCI_REPOSITORY, true) => pairs.entry(&row.name).or_default().oci_repository = Some(row),
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

/// The registry digest stored for each (artifact, tag).
pub type Digests = HashMap<(String, String), String>;

pub fn digests(conn: &mut crate::db::DbConnection) -> Result<Digests, Error> {
    Ok(store::all_tags(conn)?
        .into_iter()
        .filter_map(|t| t.digest.map(|d| ((t.artifact_id, t.tag), d)))
        .collect())
}

/// The findings of one cluster (all but the fleet-wide `mixed_versions`).
pub fn cluster_findings(
    cluster: &ClusterSide<'_>,
    rows: &[ObservedRow],
    digests: &Digests,
    silent_after: Option<chrono::Duration>,
    now: NaiveDateTime,
    out: &mut Vec<Finding>,
) {
    let (pairs, unmanaged) = pair_up(cluster, rows);
    for c in &cluster.desired.components {
        let pair = pairs.get(c.id.as_str()).copied().unwrap_or_default();
        component_findings(cluster, c, pair, digests, silent_after, now, out);
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
    let stored = digests.get(&(c.artifact.clone(), c.oci_tag.clone()));
    for row in [pair.kustomization, pair.oci_repository].into_iter().flatten() {
        if row.state == "failed" {
            let mut f = finding(cluster, DriftKind::Failed, Some(c), Some(row));
            f.desired_digest = stored.cloned();
            f.detail = format!("{} {}: {}", row.kind, row.reason, row.message);
            out.push(f);
        }
    }
    if let Some(k) = pair.kustomization {
        if let Some(applied) = &k.applied_revision {
            let rev = parse_revision(applied);
            let kind = match (&rev.tag, &rev.digest, stored) {
                (Some(t), _, _) if *t != c.oci_tag => Some((DriftKind::VersionMismatch, "applies another tag")),
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
            if let Some((kind, why)) = kind {
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
                at.and_utc().to_rfc3339(),
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
    let now = Utc::now().naive_utc();
    let empty = Vec::new();
    let all = state.observed.snapshot.with_rows(&mut conn, |rows| {
        let mut out = Vec::new();
        let mut mixed: BTreeMap<(&str, &str, &str), BTreeMap<String, Vec<String>>> = BTreeMap::new();
        for c in &clusters {
            let Some(d) = desired.get(&c.name) else { continue };
            let side = ClusterSide {
                name: &c.name,
                tier: &c.tier,
                namespace: &c.flux_namespace,
                created_at: c.created_at,
                desired: d,
            };
            let cluster_rows = rows.get(&c.name).unwrap_or(&empty);
            cluster_findings(&side, cluster_rows, &digests, filter.silent_after, now, &mut out);
            collect_applied(&side, cluster_rows, &mut mixed);
        }
        for ((tier, component, tag), by_digest) in mixed {
            if by_digest.len() > 1 {
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

/// Records which digest each cluster applies for each desired tag, for `mixed_versions`.
fn collect_applied<'a>(
    side: &ClusterSide<'a>,
    rows: &[ObservedRow],
    mixed: &mut BTreeMap<(&'a str, &'a str, &'a str), BTreeMap<String, Vec<String>>>,
) {
    let (pairs, _) = pair_up(side, rows);
    for c in &side.desired.components {
        let Some(k) = pairs.get(c.id.as_str()).and_then(|p| p.kustomization) else {
            continue;
        };
        let Some(applied) = &k.applied_revision else { continue };
        let rev = parse_revision(applied);
        if rev.tag.as_ref().is_some_and(|t| *t != c.oci_tag) {
            continue;
        }
        if let Some(d) = rev.digest {
            mixed
                .entry((side.tier, c.id.as_str(), c.oci_tag.as_str()))
                .or_default()
                .entry(d)
                .or_default()
                .push(side.name.to_owned());
        }
    }
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

/// Drift counts and event ages for `/metrics`, computed at most every few seconds.
#[derive(Default)]
pub struct MetricsCache {
    last: Mutex<Option<(Instant, Arc<String>)>>,
}

const METRICS_FOR: Duration = Duration::from_secs(10);

/// The observed-state metrics text: findings by kind and tier, and per tier the age of the
/// clusters' last events (median, 90th percentile and oldest), not one series per cluster.
pub fn metrics_text(state: &AppState) -> Result<Arc<String>, Error> {
    let cache = &state.observed.metrics;
    if let Some((at, text)) = cache.last.lock().map_err(|_| poisoned())?.as_ref() {
        if at.elapsed() < METRICS_FOR {
            return Ok(text.clone());
        }
    }
    let report = report(state, &Filter::default())?;
    let mut conn = state.conn()?;
    let tiers: HashMap<String, String> = store::clusters(&mut conn)?
        .into_iter()
        .map(|c| (c.name, c.tier))
        .collect();
    let now = Utc::now().naive_utc();
    let mut ages: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    state.observed.snapshot.with_rows(&mut conn, |rows| {
        for (cluster, list) in rows {
            let (Some(tier), Some(last)) = (tiers.get(cluster), list.iter().map(|r| r.received_at).max()) else {
                continue;
            };
            ages.entry(tier.clone())
                .or_default()
                .push((now - last).num_milliseconds() as f64 / 1000.0);
        }
    })?;
    let text = Arc::new(render_metrics(&report.counts, &mut ages));
    *cache.last.lock().map_err(|_| poisoned())? = Some((Instant::now(), text.clone()));
    Ok(text)
}

fn poisoned() -> Error {
    Error::Internal("the drift metrics lock was poisoned by a panic".into())
}

fn render_metrics(counts: &BTreeMap<(DriftKind, String), u64>, ages: &mut BTreeMap<String, Vec<f64>>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    out.push_str("# HELP platform_catalog_drift_findings Drift findings by kind and tier.\n");
    out.push_str("# TYPE platform_catalog_drift_findings gauge\n");
    for ((kind, tier), n) in counts {
        let _ = writeln!(
            out,
            "platform_catalog_drift_findings{{kind=\"{}\",tier=\"{tier}\"}} {n}",
            kind.as_str()
        );
    }
    out.push_str(
        "# HELP platform_catalog_observed_last_event_age_seconds Age of each cluster's last Flux event, by tier.\n",
    );
    out.push_str("# TYPE platform_catalog_observed_last_event_age_seconds summary\n");
    for (tier, list) in ages.iter_mut() {
        list.sort_by(f64::total_cmp);
        for (q, label) in [(0.5, "0.5"), (0.9, "0.9"), (1.0, "1")] {
            let i = ((list.len() as f64 * q).ceil() as usize).clamp(1, list.len()) - 1;
            let _ = writeln!(
                out,
                "platform_catalog_observed_last_event_age_seconds{{tier=\"{tier}\",quantile=\"{label}\"}} {:.3}",
                list[i]
            );
        }
        let _ = writeln!(
            out,
            "platform_catalog_observed_last_event_age_seconds_count{{tier=\"{tier}\"}} {}",
            list.len()
        );
        let _ = writeln!(
            out,
            "platform_catalog_observed_last_event_age_seconds_sum{{tier=\"{tier}\"}} {:.3}",
            list.iter().sum::<f64>()
        );
    }
    out
}
