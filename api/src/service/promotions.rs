//! Promotions: the set of builds a source (a tier, or one cluster) runs and reports ready,
//! moved to a target tier as one rollout, with the evidence it was taken on kept.
//!
//! The set is exact: per component, the (tag, digest, path) every source cluster running it
//! reports applied and ready now. A component whose sources disagree, have not reported it
//! ready, or whose build lacks the target tier's evidence is refused, all of them at once.

use std::collections::{BTreeMap, BTreeSet};

use catalog::{ClusterName, ComponentId, ComponentPath, OciTag, Tier, TierName};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

pub use super::promotion_retag::Retag;
use super::rollouts::promotion::{plan_in, Promoted};
use super::rollouts::{self, ApprovalGiven, CreateWave};
use super::time::rfc3339;
use super::{AppState, Caller, Outcome, TagPath};
use crate::db::models_observed::{NewPromotionRow, PromotionRow};
use crate::db::DbConnection;
use crate::error::{Error, Field};
use crate::store::{self, effective::EffectiveRecord};

/// Where a promotion takes its builds from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Tier(String),
    Cluster(String),
}

/// Where a promotion takes its builds from, as a command names it.
#[derive(Clone, Debug)]
pub enum PromoteFrom {
    Tier(TierName),
    Cluster(ClusterName),
}

impl PromoteFrom {
    /// As the promotion's record keeps it.
    fn stored(&self) -> Source {
        match self {
            PromoteFrom::Tier(t) => Source::Tier(t.to_string()),
            PromoteFrom::Cluster(c) => Source::Cluster(c.to_string()),
        }
    }
}

/// A promotion as a caller asks for it, every name parsed.
#[derive(Clone, Debug)]
pub struct PromotionSpec {
    pub from: PromoteFrom,
    pub to_tier: TierName,
    /// The components to promote; `None`: every component the source runs.
    pub components: Option<Vec<ComponentId>>,
    pub waves: Option<Vec<CreateWave>>,
    pub reason: Option<String>,
    /// Add a target tag to each promoted build in the registry and promote that tag.
    pub retag: Option<Retag>,
}

/// One source cluster's evidence for a promoted build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEvidence {
    pub cluster: String,
    /// `tag@digest`, as Flux reported it applied.
    pub applied_revision: String,
    pub ready_since: String,
}

/// A component the promotion moves, with the build and the evidence it was taken on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotedComponent {
    pub component: String,
    pub artifact: String,
    pub oci_tag: String,
    pub digest: String,
    pub component_path: String,
    pub sources: Vec<SourceEvidence>,
    /// The tag the targets get when the promotion retagged the build (same digest); `None`:
    /// they get `oci_tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_tag: Option<String>,
}

/// A target cluster of one component: what it reports now, and what a rollback returns it to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetReport {
    pub cluster: String,
    pub state: Option<String>,
    pub applied_revision: Option<String>,
    pub applied_digest: Option<String>,
    pub returns_to: Option<TagPath>,
}

/// The evidence record of a promotion.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PromotionView {
    pub id: i64,
    pub from: Source,
    pub to_tier: String,
    pub components: Vec<(PromotedComponent, Vec<TargetReport>)>,
    pub rollout: Option<i64>,
    pub rollout_state: Option<String>,
    /// Who approved the rollout's waves, and when (not in the audit: none exist at creation).
    #[serde(skip)]
    pub approvals: Vec<ApprovalGiven>,
    pub requested_by: String,
    pub created_at: String,
    pub reason: Option<String>,
    pub break_glass: Option<String>,
}

/// Takes the source's ready set, checks each build's evidence for the target tier, and plans
/// its rollout; refused (422) listing every component whose evidence is missing. With `retag`,
/// the target tags are added in the registry first, outside the transaction (never on a dry
/// run), so a registry that refuses leaves nothing written.
pub fn promote(
    state: &AppState,
    caller: &Caller,
    spec: PromotionSpec,
    dry_run: bool,
) -> Result<Outcome<PromotionView>, Error> {
    let tagged = match (&spec.retag, dry_run) {
        (Some(retag), false) => super::promotion_retag::in_registry(state, caller, &spec, retag)?,
        _ => BTreeMap::new(),
    };
    let reason = format!("promotion to {}", spec.to_tier);
    state.write(caller, dry_run, &reason, |ctx| {
        let tier = ctx
            .catalog()
            .tier(spec.to_tier.as_str())
            .map_err(|e| Error::refused("to.tier", e.to_string()))?
            .clone();
        let breaking = ctx.caller().break_glass.is_some();
        let mut set = checked_set(ctx.conn, &tier, &spec, breaking, ctx.now)?;
        if let Some(retag) = &spec.retag {
            super::promotion_retag::in_catalog(ctx, retag, &mut set, (!dry_run).then_some(&tagged))?;
        }
        let promoted = set.iter().map(promoted).collect::<Result<Vec<_>, _>>()?;
        let rollout = plan_in(
            ctx,
            &promoted,
            spec.to_tier.as_str(),
            spec.waves.as_deref(),
            spec.reason.clone(),
        )?;
        let row = NewPromotionRow {
            source: crate::service::json_text(&spec.from.stored()),
            target_tier: spec.to_tier.to_string(),
            components: crate::service::json_text(&set),
            rollout: Some(rollout.id),
            created_by: ctx.caller().actor.clone(),
            created_at: ctx.now,
            reason: spec.reason.clone(),
            break_glass: ctx.caller().break_glass.clone(),
        };
        let id = store::evidence::insert_promotion(ctx.conn, &row)?;
        let stored = load_row(ctx.conn, id)?;
        let view = view_of(ctx.conn, stored)?;
        ctx.audit("promotion.create", &format!("promotion/{id}"), None::<&()>, Some(&view));
        Ok(view)
    })
}

/// The source's ready set, each build checked for the target tier's evidence (unless the
/// caller breaks glass); refused (422) listing every component left out.
pub(super) fn checked_set(
    conn: &mut DbConnection,
    tier: &Tier,
    spec: &PromotionSpec,
    breaking_glass: bool,
    now: NaiveDateTime,
) -> Result<Vec<PromotedComponent>, Error> {
    let sources = source_clusters(conn, &spec.from, spec.to_tier.as_str())?;
    let (set, mut missing) = ready_set(conn, &sources, spec.components.as_deref())?;
    if !breaking_glass {
        for p in &set {
            let short = super::evidence::shortfall(conn, tier, &p.component, &p.artifact, &p.oci_tag, now)?;
            if let Some(why) = short {
                missing.insert(p.component.clone(), why);
            }
        }
    }
    if !missing.is_empty() {
        return Err(refusal(&missing));
    }
    Ok(set)
}

fn promoted(p: &PromotedComponent) -> Result<Promoted, Error> {
    let stored = |e: catalog::Error| Error::Internal(format!("a source cluster runs an unreadable build: {e}"));
    Ok(Promoted {
        component: p.component.clone(),
        artifact: p.artifact.clone(),
        oci_tag: OciTag::parse(p.target_tag.as_deref().unwrap_or(&p.oci_tag)).map_err(stored)?,
        component_path: ComponentPath::parse(&p.component_path).map_err(stored)?,
    })
}

fn refusal(missing: &BTreeMap<String, String>) -> Error {
    let names: Vec<&str> = missing.keys().map(String::as_str).collect();
    // Always the summary, even for one component: the answer says what a promotion lacks.
    Error::RefusedFields {
        summary: format!("evidence is missing for {}", names.join(", ")),
        refusals: missing
            .iter()
            .map(|(c, why)| (Field::new("components"), format!("{c}: {why}")))
            .collect(),
    }
}

/// The source's clusters and their current configs.
fn source_clusters(
    conn: &mut DbConnection,
    from: &PromoteFrom,
    to_tier: &str,
) -> Result<Vec<(String, EffectiveRecord)>, Error> {
    let rows: Vec<_> = store::clusters(conn)?
        .into_iter()
        .filter(|r| r.enabled)
        .filter(|r| match from {
            PromoteFrom::Tier(t) => r.tier == t.as_str(),
            PromoteFrom::Cluster(c) => r.name == c.as_str(),
        })
        .collect();
    let (field, name) = match from {
        PromoteFrom::Tier(t) => ("from.tier", t.as_str()),
        PromoteFrom::Cluster(c) => ("from.cluster", c.as_str()),
    };
    if rows.is_empty() {
        return Err(Error::refused(field, format!("no enabled cluster is in {name:?}")));
    }
    if rows.iter().any(|r| r.tier == to_tier) {
        return Err(Error::refused(
            field,
            format!("{name} is in tier {to_tier}, the target"),
        ));
    }
    let mut out = Vec::new();
    for r in rows {
        if let Some(latest) = store::latest_revision(conn, &r.name)? {
            out.push((r.name, EffectiveRecord::decode(&latest.effective)?));
        }
    }
    Ok(out)
}

/// Per component, the build every source cluster running it reports applied and ready now;
/// and why each other component is left out.
fn ready_set(
    conn: &mut DbConnection,
    sources: &[(String, EffectiveRecord)],
    asked: Option<&[ComponentId]>,
) -> Result<(Vec<PromotedComponent>, BTreeMap<String, String>), Error> {
    let run: BTreeSet<&str> = sources
        .iter()
        .flat_map(|(_, r)| r.components.iter().map(|c| c.id.as_str()))
        .collect();
    let wanted: Vec<String> = match asked {
        None => run.iter().map(|c| c.to_string()).collect(),
        Some(list) => {
            for (i, c) in list.iter().enumerate() {
                if !run.contains(c.as_str()) {
                    let field = Field::new("components").index(i);
                    return Err(Error::refused(field, format!("no source cluster runs {c:?}")));
                }
            }
            list.iter().map(ComponentId::to_string).collect()
        }
    };
    let (mut set, mut missing) = (Vec::new(), BTreeMap::new());
    for component in wanted {
        match component_build(conn, sources, &component)? {
            Ok(p) => set.push(p),
            Err(why) => {
                missing.insert(component, why);
            }
        }
    }
    Ok((set, missing))
}

/// The one build of `component` the sources run ready, or why there is none.
fn component_build(
    conn: &mut DbConnection,
    sources: &[(String, EffectiveRecord)],
    component: &str,
) -> Result<Result<PromotedComponent, String>, Error> {
    let mut found: Option<PromotedComponent> = None;
    for (cluster, record) in sources {
        let Some(c) = record.components.iter().find(|c| c.id == component) else {
            continue;
        };
        let rows = store::evidence::of_cluster(conn, cluster, component)?;
        let ready = rows
            .iter()
            .find(|r| r.ready_until.is_none() && r.failed_at.is_none() && r.tag.as_deref() == Some(&c.oci_tag));
        let Some(ready) = ready else {
            return Ok(Err(format!("{cluster} has not reported {} ready", c.oci_tag)));
        };
        let registered = super::evidence::digest_of(conn, &c.artifact, &c.oci_tag)?;
        if registered.as_deref() != Some(ready.digest.as_str()) {
            return Ok(Err(format!(
                "{cluster} runs {} at {}, but the tag is registered at {}",
                c.oci_tag,
                ready.digest,
                registered.as_deref().unwrap_or("no digest")
            )));
        }
        let evidence = SourceEvidence {
            cluster: cluster.clone(),
            applied_revision: format!("{}@{}", c.oci_tag, ready.digest),
            ready_since: rfc3339(ready.ready_since),
        };
        match &mut found {
            None => {
                found = Some(PromotedComponent {
                    component: component.to_owned(),
                    artifact: c.artifact.clone(),
                    oci_tag: c.oci_tag.clone(),
                    digest: ready.digest.clone(),
                    component_path: c.component_path.clone(),
                    sources: vec![evidence],
                    target_tag: None,
                })
            }
            Some(p) if p.digest == ready.digest && p.component_path == c.component_path => p.sources.push(evidence),
            Some(p) => {
                return Ok(Err(format!(
                    "the source clusters run different builds: {} {}@{} at {}, {cluster} {}@{} at {}",
                    p.sources[0].cluster,
                    p.oci_tag,
                    p.digest,
                    p.component_path,
                    c.oci_tag,
                    ready.digest,
                    c.component_path
                )))
            }
        }
    }
    Ok(found.ok_or_else(|| "no source cluster runs it".to_owned()))
}

fn load_row(conn: &mut crate::db::DbConnection, id: i64) -> Result<PromotionRow, Error> {
    store::evidence::promotion(conn, id)?.ok_or(Error::NotFound {
        kind: "promotion",
        name: id.to_string(),
    })
}

/// A promotion's record: what it was taken on, and what its targets report now.
fn view_of(conn: &mut crate::db::DbConnection, row: PromotionRow) -> Result<PromotionView, Error> {
    let unreadable = |e: serde_json::Error| Error::Internal(format!("promotion {} is not readable: {e}", row.id));
    let set: Vec<PromotedComponent> = serde_json::from_str(&row.components).map_err(unreadable)?;
    let from: Source = serde_json::from_str(&row.source).map_err(unreadable)?;
    let rollout = row.rollout.map(|id| rollouts::load(conn, id)).transpose()?;
    let mut components = Vec::new();
    for p in set {
        let mut targets = Vec::new();
        for cluster in rollout.iter().flat_map(|r| &r.steps).flat_map(|s| &s.clusters) {
            let Some(step) = cluster.components.iter().find(|c| c.component == p.component) else {
                continue;
            };
            let observed = store::observed::observed_of(conn, &cluster.cluster)?
                .into_iter()
                .find(|o| o.kind == super::observed::KUSTOMIZATION && o.component.as_deref() == Some(&p.component));
            targets.push(TargetReport {
                cluster: cluster.cluster.clone(),
                state: observed.as_ref().map(|o| o.state.clone()),
                applied_revision: observed.as_ref().and_then(|o| o.applied_revision.clone()),
                applied_digest: observed.and_then(|o| o.applied_digest),
                returns_to: step.from.clone(),
            });
        }
        components.push((p, targets));
    }
    Ok(PromotionView {
        id: row.id,
        from,
        to_tier: row.target_tier,
        components,
        rollout: row.rollout,
        rollout_state: rollout.as_ref().map(|r| r.state.as_str().to_owned()),
        approvals: rollout.map(|r| r.approvals).unwrap_or_default(),
        requested_by: row.created_by,
        created_at: rfc3339(row.created_at),
        reason: row.reason,
        break_glass: row.break_glass,
    })
}

pub fn get(state: &AppState, id: i64) -> Result<PromotionView, Error> {
    let mut conn = state.conn()?;
    let row = load_row(&mut conn, id)?;
    view_of(&mut conn, row)
}

/// Promotions older than the one `before` names (newest first), at most `limit`.
pub fn page(state: &AppState, before: Option<i64>, limit: i64) -> Result<Vec<PromotionView>, Error> {
    let mut conn = state.conn()?;
    let rows = store::evidence::promotions_page(&mut conn, before, limit)?;
    rows.into_iter().map(|r| view_of(&mut conn, r)).collect()
}
