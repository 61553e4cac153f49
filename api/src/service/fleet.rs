//! The clusters file: a fleet's clusters and their overrides as YAML, for `import` and `export`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use catalog::{ClusterName, ComponentId};

use super::clusters::{self, AssignmentKey, AssignmentSettings, ClusterSettings, PutAssignment, UpdateCluster};
use super::{AppState, Caller, Ctx, Expected};
use crate::db::models::{AssignmentRow, ClusterRow};
use crate::db::DbConnection;
use crate::error::{Error, Field};
use crate::store;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClustersDocument {
    pub clusters: Vec<ClusterEntry>,
}

/// One cluster. It runs every enabled catalog component; `components` overrides some of them
/// (or disables them with `enabled: false`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterEntry {
    pub name: String,
    pub tier: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flux_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_tag: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<String, AssignmentEntry>,
    /// The cluster's current revision, as a full export records it: a cluster this creates
    /// goes on from there, so its first revision here has this number and renders the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentEntry {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

fn yes() -> bool {
    true
}

impl TryFrom<&ClusterEntry> for ClusterSettings {
    type Error = Error;
    fn try_from(e: &ClusterEntry) -> Result<Self, Error> {
        ClusterSettings::parse(
            &e.name,
            &e.tier,
            e.labels.clone(),
            e.enabled,
            e.flux_namespace.as_deref(),
            e.oci_tag.as_deref(),
        )
    }
}

impl TryFrom<&AssignmentEntry> for AssignmentSettings {
    type Error = Error;
    fn try_from(a: &AssignmentEntry) -> Result<Self, Error> {
        AssignmentSettings::parse(
            a.enabled,
            a.oci_tag.as_deref(),
            a.component_path.as_deref(),
            a.reason.clone(),
            a.expires_at.as_deref(),
        )
    }
}

/// Creates or updates each cluster of the document in one write; returns how many were
/// created and updated.
pub fn import(state: &AppState, caller: &Caller, doc: ClustersDocument) -> Result<(usize, usize), Error> {
    Ok(state
        .write(caller, false, "clusters imported", |ctx| import_in(ctx, &doc))?
        .value)
}

/// Creates each cluster of the document that does not exist and brings the others to what it
/// says, inside a write; what already matches is left alone (no audit entry, no new revision).
/// Clusters and overrides the document does not name are never removed.
pub(super) fn import_in(ctx: &mut Ctx<'_>, doc: &ClustersDocument) -> Result<(usize, usize), Error> {
    let at = |i: usize, e: Error| {
        let name = doc.clusters.get(i).map_or("", |c| c.name.as_str());
        match e {
            Error::Refused { field, message } => Error::Refused {
                field: field.within(Field::new("clusters").index(i)),
                message: format!("{message} (cluster {name})"),
            },
            other => other,
        }
    };
    // New clusters (the first entry of each name the store does not hold) are created together:
    // a seeded fleet is a few bulk statements, not a few per cluster.
    let stored: std::collections::HashSet<String> = store::clusters(ctx.conn)?.into_iter().map(|r| r.name).collect();
    let mut seen = std::collections::HashSet::new();
    let new: Vec<(usize, ClusterSettings, i64)> = doc
        .clusters
        .iter()
        .enumerate()
        .filter(|(_, e)| !stored.contains(&e.name) && seen.insert(e.name.as_str()))
        .map(|(i, e)| {
            let settings = ClusterSettings::try_from(e).map_err(|e| at(i, e))?;
            Ok((i, settings, revisions_before(e).map_err(|e| at(i, e))?))
        })
        .collect::<Result<_, Error>>()?;
    clusters::create_many_in(ctx, &new, at)?;
    let created = new.len();
    let mut new = new.iter().map(|(i, _, _)| *i).peekable();
    let mut updated = 0;
    for (i, entry) in doc.clusters.iter().enumerate() {
        let just_created = new.next_if_eq(&i).is_some();
        if !just_created {
            if let Some(row) = store::cluster(ctx.conn, &entry.name)? {
                if !settings_differ(&row, entry)?.is_empty() {
                    let command = UpdateCluster {
                        settings: ClusterSettings::try_from(entry).map_err(|e| at(i, e))?,
                        expected: Expected::Any,
                    };
                    clusters::update_in(ctx, &command).map_err(|e| at(i, e))?;
                    updated += 1;
                }
            }
        }
        for (component, a) in &entry.components {
            let stored = store::assignment(ctx.conn, &entry.name, component)?;
            if stored.as_ref().is_some_and(|s| assignment_differs(s, a).is_empty()) {
                continue;
            }
            let command = put_command(entry, component, a).map_err(|e| at(i, e))?;
            clusters::put_assignment_in(ctx, &command).map_err(|e| at(i, e))?;
        }
    }
    Ok((created, updated))
}

/// The command an entry's assignment is; a name or id that does not parse names nothing stored.
fn put_command(entry: &ClusterEntry, component: &str, a: &AssignmentEntry) -> Result<PutAssignment, Error> {
    let key = AssignmentKey {
        cluster: ClusterName::parse(&entry.name).map_err(|_| clusters::not_found(&entry.name))?,
        component: ComponentId::parse(component).map_err(|_| Error::NotFound {
            kind: "component",
            name: component.to_owned(),
        })?,
        expected: Expected::Any,
    };
    Ok(PutAssignment {
        key,
        settings: AssignmentSettings::try_from(a).map_err(|e| match e {
            Error::Refused { field, message } => {
                Error::refused(field.within(Field::new("components").named(component)), message)
            }
            other => other,
        })?,
    })
}

/// How many revisions a new cluster is taken to have had: one less than the `revision` it
/// should start at.
fn revisions_before(entry: &ClusterEntry) -> Result<i64, Error> {
    match entry.revision {
        None => Ok(0),
        Some(r) if r >= 1 => Ok(r - 1),
        Some(r) => Err(Error::refused("revision", format!("must be at least 1, not {r}"))),
    }
}

/// What applying the document would change in the store, one line each (empty: nothing).
pub(super) fn differences(conn: &mut DbConnection, doc: &ClustersDocument) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for entry in &doc.clusters {
        let Some(row) = store::cluster(conn, &entry.name)? else {
            out.push(format!("cluster {}: new (tier {})", entry.name, entry.tier));
            continue;
        };
        for d in settings_differ(&row, entry)? {
            out.push(format!("cluster {}: {d}", entry.name));
        }
        for (component, a) in &entry.components {
            match store::assignment(conn, &entry.name, component)? {
                None => out.push(format!("cluster {}: component {component}: not assigned", entry.name)),
                Some(stored) => {
                    for d in assignment_differs(&stored, a) {
                        out.push(format!("cluster {}: components.{component}.{d}", entry.name));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `field: stored X, file Y` for each cluster setting the entry would change.
fn settings_differ(row: &ClusterRow, entry: &ClusterEntry) -> Result<Vec<String>, Error> {
    let namespace = entry
        .flux_namespace
        .as_deref()
        .unwrap_or(catalog::resolve::Cluster::DEFAULT_FLUX_NAMESPACE);
    let labels = super::domain::labels_of(row)?;
    let mut out = Vec::new();
    differ(&mut out, "tier", &row.tier, &entry.tier);
    differ(&mut out, "labels", &labels, &entry.labels);
    differ(&mut out, "enabled", &row.enabled, &entry.enabled);
    differ(&mut out, "flux_namespace", row.flux_namespace.as_str(), namespace);
    differ(&mut out, "oci_tag", &row.oci_tag, &entry.oci_tag);
    Ok(out)
}

/// `field: stored X, file Y` for each assignment field the entry would change.
fn assignment_differs(stored: &AssignmentRow, a: &AssignmentEntry) -> Vec<String> {
    let expires = |t: Option<chrono::NaiveDateTime>| t.map(|t| t.and_utc().timestamp_millis());
    let wanted_expiry = a.expires_at.as_deref().map(|t| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| d.timestamp_millis())
            .map_err(|_| t.to_owned())
    });
    let mut out = Vec::new();
    differ(&mut out, "enabled", &stored.enabled, &a.enabled);
    differ(&mut out, "oci_tag", &stored.oci_tag, &a.oci_tag);
    differ(&mut out, "component_path", &stored.component_path, &a.component_path);
    differ(&mut out, "reason", &stored.reason, &a.reason);
    if wanted_expiry.map(|w| w.ok()) != expires(stored.expires_at).map(Some) {
        differ(
            &mut out,
            "expires_at",
            &stored.expires_at.map(|t| t.to_string()),
            &a.expires_at,
        );
    }
    out
}

fn differ<T: PartialEq + Serialize + ?Sized>(out: &mut Vec<String>, field: &str, stored: &T, file: &T) {
    if stored != file {
        let show = |v: &T| serde_json::to_string(v).unwrap_or_default();
        out.push(format!("{field}: stored {}, file {}", show(stored), show(file)));
    }
}

/// Every cluster with the assignments that differ from what a new cluster gets (every enabled
/// catalog component, following its default): overrides, disabled components, components the
/// catalog disables but the cluster runs, and catalog components the cluster no longer has
/// (written `enabled: false`, which renders the same). With `revisions`, each cluster's
/// current revision number too.
pub fn export(state: &AppState, revisions: bool) -> Result<ClustersDocument, Error> {
    let mut conn = state.conn()?;
    let (_, catalog) = state.catalog(&mut conn)?;
    let mut out = Vec::new();
    for row in store::clusters(&mut conn)? {
        let mut components = BTreeMap::new();
        for c in catalog.components().iter().filter(|c| c.enabled) {
            components.insert(c.id.to_string(), absent());
        }
        for a in store::assignments(&mut conn, &row.name)? {
            let by_default = catalog.component(&a.component).is_some_and(|c| c.enabled);
            let plain = a.enabled && a.oci_tag.is_none() && a.component_path.is_none() && a.reason.is_none();
            if plain && by_default {
                components.remove(&a.component);
                continue;
            }
            components.insert(
                a.component.clone(),
                AssignmentEntry {
                    enabled: a.enabled,
                    oci_tag: a.oci_tag,
                    component_path: a.component_path,
                    reason: a.reason,
                    expires_at: a
                        .expires_at
                        .map(|t| t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                },
            );
        }
        out.push(ClusterEntry {
            labels: super::domain::labels_of(&row)?,
            name: row.name,
            tier: row.tier,
            enabled: row.enabled,
            flux_namespace: Some(row.flux_namespace),
            oci_tag: row.oci_tag,
            components,
            revision: (revisions && row.revision > 0).then_some(row.revision),
        });
    }
    Ok(ClustersDocument { clusters: out })
}

/// A catalog component the cluster does not have: written as disabled.
fn absent() -> AssignmentEntry {
    AssignmentEntry {
        enabled: false,
        oci_tag: None,
        component_path: None,
        reason: None,
        expires_at: None,
    }
}
