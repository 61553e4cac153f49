//! Holds: a cluster, a component, or one component on one cluster that no rollout, release or
//! hotfix moves until the hold ends (deleted, or past its `expires_at`, compared at use).
//!
//! A change that moves a catalog default keeps what a hold covers where it is by giving the
//! held assignment an override at what it runs now (reason `hold <id>`); when the hold ends
//! that override shows as stale and collapses like any other.

use std::collections::BTreeSet;

use catalog::{ClusterName, ComponentId};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{AppState, Caller, Ctx, Outcome};
use crate::db::models::{AssignmentRow, HoldRow, NewHoldRow};
use crate::db::DbConnection;
use crate::error::{Error, Field};
use crate::store::{self, effective::EffectiveRecord, holds as db};

/// A hold as the service sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub id: i64,
    pub cluster: Option<String>,
    pub component: Option<String>,
    pub reason: String,
    pub expires_at: Option<NaiveDateTime>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

impl From<HoldRow> for Hold {
    fn from(r: HoldRow) -> Self {
        Hold {
            id: r.id,
            cluster: r.cluster,
            component: r.component,
            reason: r.reason,
            expires_at: r.expires_at,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

impl Hold {
    pub fn active_at(&self, now: NaiveDateTime) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }

    pub fn covers(&self, cluster: &str, component: &str) -> bool {
        self.cluster.as_deref().is_none_or(|c| c == cluster) && self.component.as_deref().is_none_or(|c| c == component)
    }

    /// How a skipped or kept item names the hold.
    pub fn label(&self) -> String {
        format!("hold {}: {}", self.id, self.reason)
    }
}

/// Place a hold, every value parsed; whether what it names exists, the reason says why and
/// the expiry lies ahead is for the service to say.
#[derive(Clone, Debug, Default)]
pub struct CreateHold {
    pub cluster: Option<ClusterName>,
    pub component: Option<ComponentId>,
    pub reason: String,
    pub expires_at: Option<NaiveDateTime>,
}

impl TryFrom<&HoldEntry> for CreateHold {
    type Error = Error;
    /// A hold as a holds file states it.
    fn try_from(entry: &HoldEntry) -> Result<CreateHold, Error> {
        Ok(CreateHold {
            cluster: (entry.cluster.as_deref())
                .map(|c| Field::new("cluster").parsed(ClusterName::parse(c)))
                .transpose()?,
            component: (entry.component.as_deref())
                .map(|c| Field::new("component").parsed(ComponentId::parse(c)))
                .transpose()?,
            reason: entry.reason.clone(),
            expires_at: (entry.expires_at.as_deref())
                .map(|t| {
                    DateTime::parse_from_rfc3339(t)
                        .map(|d| d.with_timezone(&Utc).naive_utc())
                        .map_err(|_| Error::refused("expires_at", format!("{t:?} is not an RFC 3339 time")))
                })
                .transpose()?,
        })
    }
}

/// The holds in force at `now`.
pub struct Holds(Vec<Hold>);

impl Holds {
    pub fn load(conn: &mut DbConnection, now: NaiveDateTime) -> Result<Holds, Error> {
        Ok(Holds(db::active(conn, now)?.into_iter().map(Hold::from).collect()))
    }

    /// The first hold covering `component` on `cluster`.
    pub fn covering(&self, cluster: &str, component: &str) -> Option<&Hold> {
        self.0.iter().find(|h| h.covers(cluster, component))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub fn list(state: &AppState) -> Result<Vec<Hold>, Error> {
    let mut conn = state.conn()?;
    Ok(db::all(&mut conn)?.into_iter().map(Hold::from).collect())
}

pub fn get(state: &AppState, id: i64) -> Result<Hold, Error> {
    let mut conn = state.conn()?;
    db::get(&mut conn, id)?.map(Hold::from).ok_or(Error::NotFound {
        kind: "hold",
        name: id.to_string(),
    })
}

/// Stores a hold; the cluster and component it names must exist.
pub fn create(state: &AppState, caller: &Caller, spec: CreateHold) -> Result<Outcome<Hold>, Error> {
    state.write(caller, false, "hold created", |ctx| create_in(ctx, &spec))
}

/// Checks and stores a hold inside a write.
fn create_in(ctx: &mut Ctx<'_>, spec: &CreateHold) -> Result<Hold, Error> {
    if spec.cluster.is_none() && spec.component.is_none() {
        return Err(Error::refused(
            Field::whole(),
            "name a `cluster`, a `component`, or both",
        ));
    }
    if spec.reason.trim().is_empty() {
        return Err(Error::refused("reason", "must say why the hold is needed"));
    }
    if spec.reason.len() > 200 {
        return Err(Error::refused("reason", "must be at most 200 characters"));
    }
    if let Some(at) = spec.expires_at {
        super::time::check_expiry("expires_at", at, ctx.now)?;
    }
    if let Some(name) = &spec.cluster {
        if store::cluster(ctx.conn, name.as_str())?.is_none() {
            return Err(Error::refused(
                "cluster",
                format!("unknown cluster {:?}", name.as_str()),
            ));
        }
    }
    if let Some(id) = &spec.component {
        if ctx.catalog().component(id.as_str()).is_none() {
            return Err(Error::refused(
                "component",
                format!("unknown component {:?}", id.as_str()),
            ));
        }
    }
    let row = NewHoldRow {
        cluster: spec.cluster.as_ref().map(ClusterName::to_string),
        component: spec.component.as_ref().map(ComponentId::to_string),
        reason: spec.reason.clone(),
        expires_at: spec.expires_at,
        created_by: ctx.caller().actor.clone(),
        created_at: ctx.now,
    };
    let id = db::insert(ctx.conn, &row)?;
    let hold = db::get(ctx.conn, id)?
        .map(Hold::from)
        .ok_or_else(|| Error::Internal("a new hold vanished".into()))?;
    ctx.audit("hold.create", &format!("hold/{id}"), None::<&()>, Some(&view(&hold)));
    Ok(hold)
}

/// The holds file of a full export: `holds: [{cluster, component, reason, expires_at}]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldsDocument {
    pub holds: Vec<HoldEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl HoldEntry {
    fn of(h: &Hold) -> Self {
        HoldEntry {
            cluster: h.cluster.clone(),
            component: h.component.clone(),
            reason: h.reason.clone(),
            expires_at: h.expires_at.map(super::time::rfc3339),
        }
    }
}

/// The holds in force now, oldest first.
pub fn export(state: &AppState) -> Result<HoldsDocument, Error> {
    let now = state.clock.now();
    let mut conn = state.conn()?;
    let holds = db::active(&mut conn, now)?.into_iter().map(Hold::from);
    Ok(HoldsDocument {
        holds: holds.map(|h| HoldEntry::of(&h)).collect(),
    })
}

/// Inside a write: creates each hold of the document that is not in force already (same
/// cluster, component, reason and end); returns how many were created.
pub(super) fn import_in(ctx: &mut Ctx<'_>, doc: &HoldsDocument) -> Result<usize, Error> {
    let active: Vec<HoldEntry> = db::active(ctx.conn, ctx.now)?
        .into_iter()
        .map(|r| HoldEntry::of(&Hold::from(r)))
        .collect();
    let mut created = 0;
    for (i, entry) in doc.holds.iter().enumerate() {
        if active.contains(entry) {
            continue;
        }
        let at = |e: Error| Error::Invalid(format!("holds[{i}]: {e}"));
        let spec = CreateHold::try_from(entry).map_err(at)?;
        create_in(ctx, &spec).map_err(at)?;
        created += 1;
    }
    Ok(created)
}

/// Ends a hold; what it kept stays where it is until released again or collapsed.
pub fn delete(state: &AppState, caller: &Caller, id: i64) -> Result<Outcome<Hold>, Error> {
    state.write(caller, false, "hold deleted", |ctx| {
        let hold = db::get(ctx.conn, id)?.map(Hold::from).ok_or(Error::NotFound {
            kind: "hold",
            name: id.to_string(),
        })?;
        db::delete(ctx.conn, id)?;
        ctx.audit("hold.delete", &format!("hold/{id}"), Some(&view(&hold)), None::<&()>);
        Ok(hold)
    })
}

fn view(h: &Hold) -> serde_json::Value {
    json!({"id": h.id, "cluster": h.cluster, "component": h.component, "reason": h.reason,
        "expires_at": h.expires_at.map(super::time::rfc3339)})
}

/// A component a hold kept where it was while a default moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    pub cluster: String,
    pub component: String,
    pub oci_tag: String,
    pub hold: i64,
}

/// Inside a write that moves the defaults of `components` (and, for those in `paths`, their
/// default path): every held cluster running one of them from the default gets an override at
/// what it runs now, so the move passes it by. Clusters not following the default (cluster
/// pin, override, rollout pin) are not moved by a default and need nothing.
pub fn keep_held(
    ctx: &mut Ctx<'_>,
    components: &BTreeSet<String>,
    paths: &BTreeSet<String>,
) -> Result<Vec<Kept>, Error> {
    let holds = Holds::load(ctx.conn, ctx.now)?;
    if holds.is_empty() {
        return Ok(Vec::new());
    }
    let mut kept = Vec::new();
    for cluster in store::clusters(ctx.conn)? {
        let Some(latest) = store::latest_revision(ctx.conn, &cluster.name)? else {
            continue;
        };
        let record = EffectiveRecord::decode(&latest.effective)?;
        for c in record.components.iter().filter(|c| components.contains(&c.id)) {
            let Some(hold) = holds.covering(&cluster.name, &c.id) else {
                continue;
            };
            let Some(before) = store::assignment(ctx.conn, &cluster.name, &c.id)? else {
                continue;
            };
            let from_default = |kind: &str| kind == "component_default" || kind == "artifact_default";
            let mut after = AssignmentRow {
                author: ctx.caller().actor.clone(),
                created_at: ctx.now,
                ..before.clone()
            };
            if before.oci_tag.is_none() && from_default(&c.oci_tag_source.kind) {
                after.oci_tag = Some(c.oci_tag.clone());
            }
            if before.component_path.is_none() && paths.contains(&c.id) && from_default(&c.component_path_source.kind) {
                after.component_path = Some(c.component_path.clone());
            }
            if after.oci_tag == before.oci_tag && after.component_path == before.component_path {
                continue;
            }
            if before.oci_tag.is_none() && before.component_path.is_none() {
                after.reason = Some(format!("hold {}", hold.id));
                after.expires_at = None;
            }
            store::put_assignment(ctx.conn, &after)?;
            ctx.touch(&cluster.name);
            ctx.audit(
                "hold.keep",
                &format!("cluster/{}/components/{}", cluster.name, c.id),
                Some(&json!({"oci_tag": before.oci_tag, "component_path": before.component_path, "reason": before.reason})),
                Some(&json!({"oci_tag": after.oci_tag, "component_path": after.component_path, "reason": after.reason, "hold": hold.id})),
            );
            kept.push(Kept {
                cluster: cluster.name.clone(),
                component: c.id.clone(),
                oci_tag: c.oci_tag.clone(),
                hold: hold.id,
            });
        }
    }
    Ok(kept)
}

/// Inside a write that ends rollout `rollout` (completion or abort): each of its pins a hold
/// covers becomes an override at the pinned tag and path, so dropping the pins does not move
/// the held cluster back (abort) or onto an older override (completion).
pub fn keep_held_pins(ctx: &mut Ctx<'_>, rollout: i64) -> Result<Vec<Kept>, Error> {
    let holds = Holds::load(ctx.conn, ctx.now)?;
    if holds.is_empty() {
        return Ok(Vec::new());
    }
    let mut kept = Vec::new();
    for pin in store::rollouts::pins_of_rollout(ctx.conn, rollout)? {
        let Some(hold) = holds.covering(&pin.cluster, &pin.component) else {
            continue;
        };
        let Some(before) = store::assignment(ctx.conn, &pin.cluster, &pin.component)? else {
            continue;
        };
        let after = AssignmentRow {
            oci_tag: pin.oci_tag.clone().or(before.oci_tag.clone()),
            component_path: pin.component_path.clone().or(before.component_path.clone()),
            reason: Some(format!("hold {}", hold.id)),
            expires_at: None,
            author: ctx.caller().actor.clone(),
            created_at: ctx.now,
            ..before.clone()
        };
        store::put_assignment(ctx.conn, &after)?;
        ctx.touch(&pin.cluster);
        ctx.audit(
            "hold.keep",
            &format!("cluster/{}/components/{}", pin.cluster, pin.component),
            Some(&json!({"oci_tag": before.oci_tag, "component_path": before.component_path, "reason": before.reason})),
            Some(&json!({"oci_tag": after.oci_tag, "component_path": after.component_path, "reason": after.reason, "hold": hold.id, "rollout": rollout})),
        );
        kept.push(Kept {
            cluster: pin.cluster.clone(),
            component: pin.component.clone(),
            oci_tag: after.oci_tag.clone().unwrap_or_default(),
            hold: hold.id,
        });
    }
    Ok(kept)
}
