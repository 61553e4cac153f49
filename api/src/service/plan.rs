//! Re-resolving clusters after a write, storing new revisions, and describing what changed.
//!
//! A write that reaches the whole fleet (a release, a catalog change, the start-up seed) goes
//! through here in chunks: each chunk is resolved, encoded, compared with the stored
//! fingerprint, checked and stored before the next one, so the write holds a chunk's configs
//! in memory rather than the fleet's. Clusters whose config did not change cost a resolution
//! and a hash, nothing more.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use catalog::resolve::{resolve, Assignment, Cluster, RolloutPin};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::engine::Touched;
use super::observed::Desired;
use super::phases::Phases;
use super::shapes::{head_of, Shape, ShapeKey, Shapes};
use super::Ctx;
use crate::db::models::{ClusterRevisionRow, ClusterRow};
use crate::error::Error;
use crate::store::{
    self,
    effective::{EffectiveRecord, PreviousRecord},
};

/// The build and path a component runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub struct TagPath {
    pub oci_tag: String,
    pub component_path: String,
}

/// One component's change on one cluster; `None` means absent on that side.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ComponentChange {
    pub component: String,
    pub from: Option<TagPath>,
    pub to: Option<TagPath>,
    /// The artifact and Kustomization path the cluster now runs it from (empty when it went):
    /// what path verification checks.
    #[serde(skip)]
    pub artifact: String,
    #[serde(skip)]
    pub overlay: String,
}

/// A cluster whose effective config a write changed.
#[derive(Clone, Debug)]
pub struct ClusterChange {
    pub cluster: String,
    pub from_revision: Option<i64>,
    pub to_revision: i64,
    /// Components whose tag or path changed, or that appeared or went. Shared between clusters
    /// whose changes are the same: a release moves thousands of clusters alike.
    pub components: Arc<Vec<ComponentChange>>,
    /// On a dry run, the rendered diff of the components that change.
    pub diff: Option<String>,
    /// What the cluster now runs, as drift compares it (shared like `components`).
    pub desired: Arc<Desired>,
}

fn tag_path(oci_tag: &str, component_path: &str) -> TagPath {
    TagPath {
        oci_tag: oci_tag.to_owned(),
        component_path: component_path.to_owned(),
    }
}

fn component_changes(before: Option<&PreviousRecord<'_>>, after: &EffectiveRecord) -> Vec<ComponentChange> {
    let old: BTreeMap<&str, (&str, &str)> = before
        .map(|b| {
            b.components
                .iter()
                .map(|c| (&*c.id, (&*c.oci_tag, &*c.component_path)))
                .collect()
        })
        .unwrap_or_default();
    let new: BTreeMap<&str, (&str, &str, &str, &str)> = after
        .components
        .iter()
        .map(|c| {
            let v = (&*c.oci_tag, &*c.component_path, &*c.artifact, &*c.overlay);
            (c.id.as_str(), v)
        })
        .collect();
    let mut ids: Vec<&str> = old.keys().chain(new.keys()).copied().collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .filter(|id| old.get(id).copied() != new.get(id).map(|n| (n.0, n.1)))
        .map(|id| {
            let to = new.get(id);
            ComponentChange {
                component: id.to_owned(),
                from: old.get(id).map(|o| tag_path(o.0, o.1)),
                to: to.map(|n| tag_path(n.0, n.1)),
                artifact: to.map(|n| n.2.to_owned()).unwrap_or_default(),
                overlay: to.map(|n| n.3.to_owned()).unwrap_or_default(),
            }
        })
        .collect()
}

/// Above this many touched clusters, `recompute` reads whole tables instead of cluster by cluster.
const BATCH_FROM: usize = 32;
/// Clusters resolved, checked and stored together: bounds the configs held at once.
const CHUNK: usize = 500;

/// A cluster's current stored revision, and its config when already read.
struct Head {
    revision: i64,
    sha256: String,
    effective: Option<String>,
}

/// A cluster's assignments, rollout pins and current revision.
type Taken = (Vec<Assignment>, Vec<RolloutPin>, Option<Head>);

/// What re-resolving needs besides the catalog: read whole in batch mode, else per cluster.
struct Inputs {
    batch: bool,
    rows: Vec<ClusterRow>,
    assignments: HashMap<String, Vec<Assignment>>,
    pins: HashMap<String, Vec<RolloutPin>>,
    heads: HashMap<String, Head>,
}

impl Inputs {
    fn load(ctx: &mut Ctx<'_>) -> Result<Inputs, Error> {
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
        let mut inputs = Inputs {
            batch,
            rows,
            assignments: HashMap::new(),
            pins: HashMap::new(),
            heads: HashMap::new(),
        };
        // Assignments (a row per cluster and component) are read chunk by chunk, in
        // `load_chunk`: the fleet's would be the largest thing a write holds.
        if batch {
            for row in store::rollouts::all_pins(ctx.conn)? {
                let p = (&row).try_into()?;
                inputs.pins.entry(row.cluster).or_default().push(p);
            }
            for (cluster, revision, sha256) in store::bulk::current_heads(ctx.conn)? {
                let head = Head {
                    revision,
                    sha256,
                    effective: None,
                };
                inputs.heads.insert(cluster, head);
            }
        }
        Ok(inputs)
    }

    /// Reads the assignments of a chunk's clusters, in batch mode.
    fn load_chunk(&mut self, ctx: &mut Ctx<'_>, chunk: &[ClusterRow]) -> Result<(), Error> {
        if !self.batch {
            return Ok(());
        }
        let names: Vec<&str> = chunk.iter().map(|r| r.name.as_str()).collect();
        for mut row in store::bulk::assignments_of(ctx.conn, &names)? {
            let cluster = std::mem::take(&mut row.cluster);
            let a = super::domain::assignment(row)?;
            self.assignments.entry(cluster).or_default().push(a);
        }
        Ok(())
    }

    /// The cluster's assignments, pins and current revision (taken: each is asked for once).
    fn take(&mut self, ctx: &mut Ctx<'_>, name: &str) -> Result<Taken, Error> {
        if self.batch {
            return Ok((
                self.assignments.remove(name).unwrap_or_default(),
                self.pins.remove(name).unwrap_or_default(),
                self.heads.remove(name),
            ));
        }
        let mine = store::assignments(ctx.conn, name)?
            .iter()
            .map(Assignment::try_from)
            .collect::<Result<_, _>>()?;
        let pins = store::rollouts::pins_of_cluster(ctx.conn, name)?
            .iter()
            .map(RolloutPin::try_from)
            .collect::<Result<_, _>>()?;
        let head = store::latest_revision(ctx.conn, name)?.map(|l| Head {
            revision: l.revision,
            sha256: l.sha256,
            effective: Some(l.effective),
        });
        Ok((mine, pins, head))
    }
}

/// A cluster whose config changed, before it is checked and stored.
struct Changed {
    row: ClusterRow,
    /// Its new config, shared with the clusters that resolve alike.
    shape: Arc<Shape>,
    json: String,
    hash: String,
    head: Option<Head>,
}

/// Re-resolves every touched cluster; stores a revision for each whose effective config
/// changed when `store_revisions` (not on a dry run, whose transaction rolls back anyway but
/// whose plan must still say which revision would come next).
pub(super) fn recompute(
    ctx: &mut Ctx<'_>,
    reason: &str,
    store_revisions: bool,
    phases: &mut Phases,
) -> Result<Vec<ClusterChange>, Error> {
    let mut inputs = Inputs::load(ctx)?;
    phases.mark("read inputs");
    let rows = std::mem::take(&mut inputs.rows);
    let mut planner = Planner {
        shapes: Shapes::default(),
        reason,
        store_revisions,
        digests: match store_revisions {
            true => Default::default(),
            false => super::render::digest_map(ctx.conn)?,
        },
        admission: super::admission::Admission::new(ctx.now, ctx.break_glass().is_some(), ctx.caller().role.is_none()),
        windows: (super::windows::holds(ctx.caller()) && ctx.break_glass().is_none())
            .then(super::windows::OpenTiers::default),
        tiers: BTreeMap::new(),
        shared_components: HashMap::new(),
        shared_desired: HashMap::new(),
        changes: Vec::new(),
    };
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<ClusterRow> = rows.by_ref().take(CHUNK).collect();
        let changed = resolve_chunk(ctx, &mut inputs, &mut planner.shapes, chunk, phases)?;
        planner.store_chunk(ctx, changed, phases)?;
    }
    audit_break_glass(ctx, &planner.admission.skipped);
    Ok(planner.changes)
}

/// A break-glass write gets an audit entry of its own: the reason, and each change a rule
/// would have refused with the evidence it lacked (none when the write needed no skipping).
fn audit_break_glass(ctx: &mut Ctx<'_>, skipped: &[super::admission::Skipped]) {
    let Some(reason) = ctx.break_glass().map(str::to_owned) else {
        return;
    };
    let rules: std::collections::BTreeSet<&str> = skipped.iter().map(|s| s.rule).collect();
    let entry = serde_json::json!({"reason": reason, "rules_skipped": rules, "skipped": skipped});
    ctx.audit("break_glass", "break-glass", None::<&()>, Some(&entry));
}

/// Resolves a chunk of clusters (once per shape); keeps those whose config's fingerprint changed.
fn resolve_chunk(
    ctx: &mut Ctx<'_>,
    inputs: &mut Inputs,
    shapes: &mut Shapes,
    chunk: Vec<ClusterRow>,
    phases: &mut Phases,
) -> Result<Vec<Changed>, Error> {
    let now = DateTime::<Utc>::from_naive_utc_and_offset(ctx.now, Utc);
    let mut changed = Vec::new();
    inputs.load_chunk(ctx, &chunk)?;
    phases.mark("read inputs");
    for row in chunk {
        let cluster: Cluster = (&row).try_into()?;
        let (mine, pins, head) = inputs.take(ctx, &row.name)?;
        let (key, name) = ShapeKey::new(cluster, mine, pins);
        // Rollout pins sit on top of everything else and change nothing underneath, so deleting
        // a rollout's pins (its abort) resolves each cluster exactly as before the rollout —
        // the same record, hence a byte-equal render but for the revision — unless something
        // else changed meanwhile, which then shows as it would have without the rollout.
        let shape = shapes.shape(key, |key| {
            let config = resolve(ctx.catalog(), &key.cluster(&name), key.assignments(), key.pins(), now).map_err(
                |e| match e {
                    catalog::Error::Unknown { kind: "tier", name, .. } => Error::Conflict(format!(
                        "cluster {} is in tier {name:?}, which the catalog would no longer have",
                        row.name
                    )),
                    other => Error::Catalog(other),
                },
            )?;
            Ok(EffectiveRecord::from(&config))
        })?;
        phases.mark("resolve");
        let json_head = head_of(&row.name);
        let hash = shape.hash(&json_head);
        if head.as_ref().is_some_and(|h| h.sha256 == hash) {
            phases.mark("encode and hash");
            continue;
        }
        let json = shape.json(&json_head);
        phases.mark("encode and hash");
        changed.push(Changed {
            row,
            shape,
            json,
            hash,
            head,
        });
    }
    // The configs the changed clusters ran until now, read only for them.
    let missing: Vec<&str> = changed
        .iter()
        .filter(|c| c.head.as_ref().is_some_and(|h| h.effective.is_none()))
        .map(|c| c.row.name.as_str())
        .collect();
    if !missing.is_empty() {
        let mut configs: HashMap<String, String> = store::bulk::current_configs_of(ctx.conn, &missing)?
            .into_iter()
            .collect();
        for c in &mut changed {
            if let Some(head) = &mut c.head {
                if head.effective.is_none() {
                    head.effective = configs.remove(&c.row.name);
                }
            }
        }
    }
    phases.mark("read previous configs");
    Ok(changed)
}

/// What a recompute carries from chunk to chunk.
struct Planner<'r> {
    shapes: Shapes,
    reason: &'r str,
    store_revisions: bool,
    digests: HashMap<(catalog::ids::ArtifactId, catalog::OciTag), catalog::ids::Digest>,
    admission: super::admission::Admission,
    /// Set when the write is held to change windows and freezes.
    windows: Option<super::windows::OpenTiers>,
    tiers: BTreeMap<String, catalog::Tier>,
    shared_components: HashMap<Vec<ComponentChange>, Arc<Vec<ComponentChange>>>,
    shared_desired: HashMap<String, Arc<Desired>>,
    changes: Vec<ClusterChange>,
}

impl Planner<'_> {
    /// Checks each changed cluster of a chunk, stores its revisions, and describes the changes.
    fn store_chunk(&mut self, ctx: &mut Ctx<'_>, changed: Vec<Changed>, phases: &mut Phases) -> Result<(), Error> {
        let mut revisions = Vec::with_capacity(changed.len());
        for c in changed {
            let stored = c.head.as_ref().and_then(|h| h.effective.as_deref());
            let before = stored.map(|json| self.shapes.previous(&c.row.name, json)).transpose()?;
            phases.mark("decode previous configs");
            let tier = self.tier(ctx, &c.shape.record.tier)?;
            if let Some(open) = &mut self.windows {
                open.check(&tier, ctx.now)?;
            }
            let previous = before.as_ref().map(|b| &b.record);
            self.admission
                .check(ctx.conn, &tier, previous, &c.shape.record, &c.row.name)?;
            phases.mark("admission");
            let next = c.head.as_ref().map(|h| h.revision).unwrap_or(0).max(c.row.revision) + 1;
            let diff = match self.store_revisions {
                true => None,
                // A dry run shows the rendered diff: the whole previous config is needed.
                false => {
                    let full = stored.map(EffectiveRecord::decode).transpose()?;
                    let record = c.shape.named(&c.row.name);
                    Some(super::diff::rendered_diff(full.as_ref(), &record, &self.digests)?)
                }
            };
            let shared = &mut self.shared_components;
            let components = self.shapes.changes(before.as_deref(), &c.shape, || {
                let components = component_changes(previous, &c.shape.record);
                match shared.get(&components) {
                    Some(known) => known.clone(),
                    None => {
                        let known = Arc::new(components.clone());
                        shared.insert(components, known.clone());
                        known
                    }
                }
            });
            let desired = match c.shape.desired.get() {
                Some(known) => known.clone(),
                None => c.shape.desired.get_or_init(|| self.desired(&c.shape.record)).clone(),
            };
            self.changes.push(ClusterChange {
                cluster: c.row.name.clone(),
                from_revision: c.head.as_ref().map(|h| h.revision),
                to_revision: next,
                components,
                diff,
                desired,
            });
            phases.mark("describe changes");
            revisions.push(ClusterRevisionRow {
                cluster: c.row.name,
                revision: next,
                effective: c.json,
                sha256: c.hash,
                catalog_revision: ctx.catalog_revision,
                actor: ctx.caller().actor.clone(),
                reason: self.reason.to_owned(),
                created_at: ctx.now,
            });
        }
        if self.store_revisions {
            store::bulk::insert_revisions(ctx.conn, &revisions, ctx.now)?;
        }
        phases.mark("insert revisions");
        Ok(())
    }

    fn tier(&mut self, ctx: &Ctx<'_>, name: &str) -> Result<catalog::Tier, Error> {
        if let Some(t) = self.tiers.get(name) {
            return Ok(t.clone());
        }
        let t = ctx.catalog().tier(name)?.clone();
        self.tiers.insert(name.to_owned(), t.clone());
        Ok(t)
    }

    /// The cluster's desired components, shared with every cluster that wants the same.
    fn desired(&mut self, record: &EffectiveRecord) -> Arc<Desired> {
        // Equal keys mean equal components (in the record's order): built without formatting,
        // since a release computes one per cluster.
        let mut key = String::with_capacity(record.components.len() * 48);
        for c in &record.components {
            for part in [&c.id, &c.artifact, &c.oci_tag, &c.interval] {
                key.push_str(part);
                key.push('\0');
            }
            key.push('\n');
        }
        if let Some(shared) = self.shared_desired.get(&key) {
            return shared.clone();
        }
        let shared = Arc::new(Desired::from_record(record));
        self.shared_desired.insert(key, shared.clone());
        shared
    }
}
