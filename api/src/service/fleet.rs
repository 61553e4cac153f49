//! The clusters file: a fleet's clusters and their overrides as YAML, for `import` and `export`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::clusters::{self, AssignmentSpec, ClusterSpec};
use super::{AppState, Caller};
use crate::error::Error;
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

/// Creates or updates each cluster of the document; returns how many were created and updated.
pub fn import(state: &AppState, caller: &Caller, doc: ClustersDocument) -> Result<(usize, usize), Error> {
    let (mut created, mut updated) = (0, 0);
    for (i, entry) in doc.clusters.into_iter().enumerate() {
        let at = |e: Error| match e {
            Error::Validation { detail, errors } => Error::Validation {
                detail: format!("clusters[{i}] ({}): {detail}", entry.name),
                errors: errors
                    .into_iter()
                    .map(|mut f| {
                        f.path = f.path.replacen('$', &format!("$.clusters[{i}]"), 1);
                        f
                    })
                    .collect(),
            },
            other => other,
        };
        let spec = ClusterSpec {
            name: entry.name.clone(),
            tier: entry.tier.clone(),
            labels: entry.labels.clone(),
            enabled: entry.enabled,
            flux_namespace: entry.flux_namespace.clone(),
            oci_tag: entry.oci_tag.clone(),
        };
        let exists = store::cluster(&mut *state.conn()?, &entry.name)?.is_some();
        if exists {
            clusters::update(state, caller, spec, |_| Ok(()), false).map_err(at)?;
            updated += 1;
        } else {
            clusters::create(state, caller, spec, None, false).map_err(at)?;
            created += 1;
        }
        for (component, a) in &entry.components {
            let spec = AssignmentSpec {
                enabled: a.enabled,
                oci_tag: a.oci_tag.clone(),
                component_path: a.component_path.clone(),
                reason: a.reason.clone(),
                expires_at: a.expires_at.clone(),
            };
            clusters::put_assignment(state, caller, &entry.name, component, spec, |_| Ok(()), false).map_err(at)?;
        }
    }
    Ok((created, updated))
}

/// Every cluster with the assignments that differ from the plain default.
pub fn export(state: &AppState) -> Result<ClustersDocument, Error> {
    let mut conn = state.conn()?;
    let mut out = Vec::new();
    for row in store::clusters(&mut conn)? {
        let mut components = BTreeMap::new();
        for a in store::assignments(&mut conn, &row.name)? {
            let plain = a.enabled && a.oci_tag.is_none() && a.component_path.is_none() && a.reason.is_none();
            if !plain {
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
        }
        out.push(ClusterEntry {
            labels: super::domain::labels_of(&row)?,
            name: row.name,
            tier: row.tier,
            enabled: row.enabled,
            flux_namespace: Some(row.flux_namespace),
            oci_tag: row.oci_tag,
            components,
        });
    }
    Ok(ClustersDocument { clusters: out })
}
