//! Rows to domain types. Stored values were checked when written; if one no longer parses it
//! is our fault and reported as such.

use std::collections::BTreeMap;

use catalog::ids::{ComponentPath, Namespace};
use catalog::resolve::{Assignment, Cluster, RolloutPin};
use catalog::{ClusterName, ComponentId, OciTag, TierName};
use chrono::{DateTime, Utc};

use crate::db::models::{AssignmentInput, AssignmentRow, ClusterRow, RolloutPinRow};
use crate::error::Error;

fn stored<T>(what: &str, r: Result<T, catalog::Error>) -> Result<T, Error> {
    r.map_err(|e| Error::Internal(format!("stored {what} no longer parses: {e}")))
}

pub fn labels_of(row: &ClusterRow) -> Result<BTreeMap<String, String>, Error> {
    serde_json::from_str(&row.labels).map_err(|e| Error::Internal(format!("stored labels of {}: {e}", row.name)))
}

impl TryFrom<&ClusterRow> for Cluster {
    type Error = Error;
    fn try_from(row: &ClusterRow) -> Result<Self, Error> {
        Ok(Cluster {
            name: stored("cluster name", ClusterName::parse(&row.name))?,
            tier: stored("cluster tier", TierName::parse(&row.tier))?,
            labels: labels_of(row)?,
            enabled: row.enabled,
            flux_namespace: stored("Flux namespace", Namespace::parse(&row.flux_namespace))?,
            oci_tag: row
                .oci_tag
                .as_deref()
                .map(|t| stored("cluster pin", OciTag::parse(t)))
                .transpose()?,
        })
    }
}

impl TryFrom<&AssignmentRow> for Assignment {
    type Error = Error;
    fn try_from(row: &AssignmentRow) -> Result<Self, Error> {
        assignment(AssignmentInput {
            cluster: String::new(),
            component: row.component.clone(),
            enabled: row.enabled,
            oci_tag: row.oci_tag.clone(),
            component_path: row.component_path.clone(),
            reason: row.reason.clone(),
            expires_at: row.expires_at,
        })
    }
}

/// An assignment as stored, from the columns resolution reads.
pub fn assignment(row: AssignmentInput) -> Result<Assignment, Error> {
    Ok(Assignment {
        component: stored("assignment component", ComponentId::parse(&row.component))?,
        enabled: row.enabled,
        oci_tag: row
            .oci_tag
            .as_deref()
            .map(|t| stored("override tag", OciTag::parse(t)))
            .transpose()?,
        component_path: row
            .component_path
            .as_deref()
            .map(|p| stored("override path", ComponentPath::parse(p)))
            .transpose()?,
        reason: row.reason,
        expires_at: row
            .expires_at
            .map(|t| DateTime::<Utc>::from_naive_utc_and_offset(t, Utc)),
    })
}

impl TryFrom<&RolloutPinRow> for RolloutPin {
    type Error = Error;
    fn try_from(row: &RolloutPinRow) -> Result<Self, Error> {
        Ok(RolloutPin {
            rollout: row.rollout.to_string(),
            component: stored("rollout pin component", ComponentId::parse(&row.component))?,
            oci_tag: row
                .oci_tag
                .as_deref()
                .map(|t| stored("rollout pin tag", OciTag::parse(t)))
                .transpose()?,
            component_path: row
                .component_path
                .as_deref()
                .map(|p| stored("rollout pin path", ComponentPath::parse(p)))
                .transpose()?,
        })
    }
}
